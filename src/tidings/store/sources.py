"""Publishers and their feeds: adding, listing, scheduling and health."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Row, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from tidings.model import Feed, Source
from tidings.store.schema import feeds, now_utc, sources


def _source(row: Row[Any]) -> Source:
    return Source(row.id, row.name, row.home_url, row.country, row.language)


def _feed(row: Row[Any]) -> Feed:
    m = row._mapping
    return Feed(
        id=m["id"],
        source_id=m["source_id"],
        url=m["url"],
        title=m["title"],
        format=m["format"],
        etag=m["etag"],
        last_modified=m["last_modified"],
        body_hash=m["body_hash"],
        status=m["status"],
        last_polled_at=m["last_polled_at"],
        last_success_at=m["last_success_at"],
        last_error=m["last_error"],
        last_error_at=m["last_error_at"],
        error_count=m["error_count"],
        next_poll_at=m["next_poll_at"],
        poll_interval_s=m["poll_interval_s"],
        source_name=m.get("source_name"),
    )


_FEED_COLUMNS = [*feeds.c, sources.c.name.label("source_name")]


class SourceStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # sources ---------------------------------------------------------------
    def add_source(self, source: Source) -> Source:
        """Insert a publisher, or return the existing one with the same name."""
        with self.engine.begin() as conn:
            row = conn.execute(select(sources).where(sources.c.name == source.name)).first()
            if row is not None:
                changes = {
                    k: v
                    for k, v in (
                        ("home_url", source.home_url),
                        ("country", source.country),
                        ("language", source.language),
                    )
                    if v and getattr(row, k) is None
                }
                if changes:
                    conn.execute(update(sources).where(sources.c.id == row.id).values(**changes))
                    row = conn.execute(select(sources).where(sources.c.id == row.id)).one()
                return _source(row)
            new_id = conn.execute(
                insert(sources).values(
                    name=source.name,
                    home_url=source.home_url,
                    country=source.country,
                    language=source.language,
                    created_at=now_utc(),
                )
            ).inserted_primary_key[0]
            return Source(new_id, source.name, source.home_url, source.country, source.language)

    def get_source(self, source_id: int) -> Source | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(sources).where(sources.c.id == source_id)).first()
        return _source(row) if row else None

    def list_sources(self) -> list[Source]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(sources).order_by(sources.c.name)).all()
        return [_source(r) for r in rows]

    def count_sources(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(sources)).scalar_one())

    # feeds -----------------------------------------------------------------
    def add_feed(
        self,
        source_id: int,
        url: str,
        *,
        title: str | None = None,
        format: str | None = None,
        poll_interval_s: int = 900,
    ) -> tuple[Feed, bool]:
        """Add a feed; returns (feed, created). An existing URL is returned unchanged."""
        existing = self.get_feed_by_url(url)
        if existing is not None:
            return existing, False
        now = now_utc()
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(feeds).values(
                        source_id=source_id,
                        url=url,
                        title=title,
                        format=format,
                        status="active",
                        poll_interval_s=poll_interval_s,
                        next_poll_at=now,
                        error_count=0,
                        entries_seen=0,
                        created_at=now,
                    )
                )
        except IntegrityError:  # added concurrently by another process
            pass
        feed = self.get_feed_by_url(url)
        assert feed is not None
        return feed, True

    def get_feed(self, feed_id: int) -> Feed | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(*_FEED_COLUMNS).join(sources).where(feeds.c.id == feed_id)).first()
        return _feed(row) if row else None

    def get_feed_by_url(self, url: str) -> Feed | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(*_FEED_COLUMNS).join(sources).where(feeds.c.url == url)).first()
        return _feed(row) if row else None

    def list_feeds(self, source_id: int | None = None) -> list[Feed]:
        q = select(*_FEED_COLUMNS).join(sources).order_by(sources.c.name, feeds.c.url)
        if source_id is not None:
            q = q.where(feeds.c.source_id == source_id)
        with self.engine.connect() as conn:
            return [_feed(r) for r in conn.execute(q).all()]

    def due_feeds(self, now: datetime | None = None, limit: int | None = None) -> list[Feed]:
        """Feeds whose next poll is due, soonest first (retired feeds never)."""
        now = now or now_utc()
        q = (
            select(*_FEED_COLUMNS)
            .join(sources)
            .where(feeds.c.status != "retired")
            .where((feeds.c.next_poll_at.is_(None)) | (feeds.c.next_poll_at <= now))
            .order_by(feeds.c.next_poll_at)
        )
        if limit:
            q = q.limit(limit)
        with self.engine.connect() as conn:
            return [_feed(r) for r in conn.execute(q).all()]

    def claim_due_feeds(self, lease: timedelta, limit: int = 500) -> list[Feed]:
        """Take due feeds for polling: their next poll moves ``lease`` ahead in the same
        transaction, so no other scheduler takes them, and a feed whose poll is lost
        (its worker killed) is due again when the lease runs out: never stuck.
        PostgreSQL skips rows another scheduler is claiming (``SKIP LOCKED``)."""
        now = now_utc()
        q = (
            select(feeds.c.id)
            .where(feeds.c.status != "retired")
            .where((feeds.c.next_poll_at.is_(None)) | (feeds.c.next_poll_at <= now))
            .order_by(feeds.c.next_poll_at)
            .limit(limit)
        )
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                q = q.with_for_update(skip_locked=True)
            ids = list(conn.execute(q).scalars())
            if ids:
                conn.execute(update(feeds).where(feeds.c.id.in_(ids)).values(next_poll_at=now + lease))
            rows = (
                conn.execute(select(*_FEED_COLUMNS).join(sources).where(feeds.c.id.in_(ids))).all()
                if ids
                else []
            )
        return [_feed(r) for r in rows]

    def next_due_at(self) -> datetime | None:
        with self.engine.connect() as conn:
            return conn.execute(
                select(func.min(feeds.c.next_poll_at)).where(feeds.c.status != "retired")
            ).scalar_one_or_none()

    def record_success(
        self,
        feed_id: int,
        *,
        next_poll_at: datetime,
        poll_interval_s: int,
        etag: str | None,
        last_modified: str | None,
        body_hash: str | None,
        title: str | None = None,
        format: str | None = None,
        new_entries: int = 0,
        url: str | None = None,
    ) -> None:
        now = now_utc()
        values: dict[str, Any] = dict(
            last_polled_at=now,
            last_success_at=now,
            error_count=0,
            status="active",
            next_poll_at=next_poll_at,
            poll_interval_s=poll_interval_s,
            etag=etag,
            last_modified=last_modified,
            body_hash=body_hash,
            entries_seen=feeds.c.entries_seen + new_entries,
        )
        if title:
            values["title"] = title
        if format:
            values["format"] = format
        if url:
            values["url"] = url
        with self.engine.begin() as conn:
            conn.execute(update(feeds).where(feeds.c.id == feed_id).values(**values))

    def record_error(
        self, feed_id: int, error: str, *, next_poll_at: datetime, status: str | None = None
    ) -> None:
        now = now_utc()
        values: dict[str, Any] = dict(
            last_polled_at=now,
            last_error=error[:2000],
            last_error_at=now,
            error_count=feeds.c.error_count + 1,
            next_poll_at=next_poll_at,
        )
        if status:
            values["status"] = status
        with self.engine.begin() as conn:
            conn.execute(update(feeds).where(feeds.c.id == feed_id).values(**values))

    def record_polls(self, successes: Sequence[dict[str, Any]], errors: Sequence[dict[str, Any]]) -> None:
        """Many polls' outcomes in one transaction (the poller batches its health writes).

        ``successes`` rows: feed_id, now, next_poll_at, poll_interval_s, etag,
        last_modified, body_hash, new_entries, title, format (None keeps the old
        title/format). ``errors`` rows: feed_id, now, error, next_poll_at, status
        (None keeps the old status). URL moves are not batched (see ``record_success``).
        """
        if not successes and not errors:
            return
        with self.engine.begin() as conn:
            if successes:
                conn.execute(_BATCH_SUCCESS, [{f"b_{k}": v for k, v in row.items()} for row in successes])
            if errors:
                conn.execute(
                    _BATCH_ERROR,
                    [{f"b_{k}": (v[:2000] if k == "error" else v) for k, v in row.items()} for row in errors],
                )

    def set_feed_status(self, feed_id: int, status: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(feeds).where(feeds.c.id == feed_id).values(status=status))

    def delete_feed(self, feed_id: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(feeds.delete().where(feeds.c.id == feed_id))

    def reschedule_all(self, when: datetime | None = None) -> None:
        """Make every non-retired feed due (used by `tidings fetch --all`)."""
        with self.engine.begin() as conn:
            conn.execute(
                update(feeds)
                .where(feeds.c.status != "retired")
                .values(next_poll_at=when or now_utc() - timedelta(seconds=1))
            )

    def feeds_for_sources(self, source_ids: Sequence[int]) -> dict[int, list[Feed]]:
        out: dict[int, list[Feed]] = {i: [] for i in source_ids}
        if not source_ids:
            return out
        with self.engine.connect() as conn:
            for row in conn.execute(
                select(*_FEED_COLUMNS).join(sources).where(feeds.c.source_id.in_(source_ids))
            ):
                out[row.source_id].append(_feed(row))
        return out


# compiled once: executemany statements for ``record_polls``
_BATCH_SUCCESS = (
    update(feeds)
    .where(feeds.c.id == bindparam("b_feed_id"))
    .values(
        last_polled_at=bindparam("b_now"),
        last_success_at=bindparam("b_now"),
        error_count=0,
        status="active",
        next_poll_at=bindparam("b_next_poll_at"),
        poll_interval_s=bindparam("b_poll_interval_s"),
        etag=bindparam("b_etag"),
        last_modified=bindparam("b_last_modified"),
        body_hash=bindparam("b_body_hash"),
        entries_seen=feeds.c.entries_seen + bindparam("b_new_entries"),
        title=func.coalesce(bindparam("b_title"), feeds.c.title),
        format=func.coalesce(bindparam("b_format"), feeds.c.format),
    )
)
_BATCH_ERROR = (
    update(feeds)
    .where(feeds.c.id == bindparam("b_feed_id"))
    .values(
        last_polled_at=bindparam("b_now"),
        last_error=bindparam("b_error"),
        last_error_at=bindparam("b_now"),
        error_count=feeds.c.error_count + 1,
        next_poll_at=bindparam("b_next_poll_at"),
        status=func.coalesce(bindparam("b_status"), feeds.c.status),
    )
)
