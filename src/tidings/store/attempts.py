"""Fetch attempts: one row per HTTP fetch of a feed or article, for health and debugging."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, delete, insert, select

from tidings.store.schema import fetch_attempts


class AttemptStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def record(
        self,
        *,
        kind: str,
        url: str,
        started_at: datetime,
        ok: bool,
        feed_id: int | None = None,
        article_id: int | None = None,
        elapsed_ms: int | None = None,
        status_code: int | None = None,
        error: str | None = None,
        size: int | None = None,
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                insert(fetch_attempts).values(
                    kind=kind,
                    url=url,
                    started_at=started_at,
                    ok=ok,
                    feed_id=feed_id,
                    article_id=article_id,
                    elapsed_ms=elapsed_ms,
                    status_code=status_code,
                    error=(error or None) and error[:2000],
                    bytes=size,
                )
            )

    def record_many(self, rows: list[dict[str, Any]]) -> None:
        """Many attempts in one transaction; rows carry ``record``'s keyword arguments."""
        if not rows:
            return
        with self.engine.begin() as conn:
            conn.execute(
                insert(fetch_attempts),
                [
                    dict(
                        kind=r["kind"],
                        url=r["url"],
                        started_at=r["started_at"],
                        ok=r["ok"],
                        feed_id=r.get("feed_id"),
                        article_id=r.get("article_id"),
                        elapsed_ms=r.get("elapsed_ms"),
                        status_code=r.get("status_code"),
                        error=(r.get("error") or None) and r["error"][:2000],
                        bytes=r.get("size"),
                    )
                    for r in rows
                ],
            )

    def for_feed(self, feed_id: int, limit: int = 20) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(fetch_attempts)
                .where(fetch_attempts.c.feed_id == feed_id)
                .order_by(fetch_attempts.c.started_at.desc())
                .limit(limit)
            ).all()
        return [dict(r._mapping) for r in rows]

    def recent(self, kind: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        q = select(fetch_attempts).order_by(fetch_attempts.c.id.desc()).limit(limit)
        if kind:
            q = q.where(fetch_attempts.c.kind == kind)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q).all()]

    def prune(self, older_than: datetime) -> int:
        with self.engine.begin() as conn:
            return conn.execute(
                delete(fetch_attempts).where(fetch_attempts.c.started_at < older_than)
            ).rowcount
