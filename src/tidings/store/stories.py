"""Stories, storylines and duplicate groups: what the dedup and cluster stages write.

The stages decide (``tidings.dedup``, ``tidings.cluster``); this sub-store
only records their decisions and recomputes the derived columns of a story
(counts, first reporter, times, hotness) from its articles. ``reset`` clears
every story, storyline and duplicate group and the articles' links to them
(for ``tidings recluster``) without touching the articles themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, delete, func, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from tidings.errors import StorageError
from tidings.model import Article
from tidings.store.articles import _article
from tidings.store.schema import articles, duplicate_groups, stories, story_redirects, storylines

SUMMARY_CHARS = 320


def _summary(article: Article, abstract: str | None) -> str | None:
    text = abstract or article.summary or article.text
    if not text:
        return None
    text = " ".join(text.split())
    if len(text) <= SUMMARY_CHARS:
        return text
    cut = text[:SUMMARY_CHARS].rsplit(" ", 1)[0]
    return cut + "…"


# an article as clustering and the story columns read it: everything but its HTML
_LIGHT_COLUMNS = [
    articles.c[name]
    for name in (
        "id",
        "url",
        "canonical_url",
        "title",
        "text",
        "summary",
        "publisher",
        "source_id",
        "feed_id",
        "published_at",
        "fetched_at",
        "duplicate_of",
    )
]


def _light_article(r: Any, story_id: int) -> Article:
    return Article(
        id=r.id,
        url=r.url,
        canonical_url=r.canonical_url,
        title=r.title,
        text=r.text or "",
        html="",
        publisher=r.publisher,
        source_id=r.source_id,
        feed_id=r.feed_id,
        published_at=r.published_at,
        fetched_at=r.fetched_at,
        summary=r.summary,
        story_id=story_id,
        duplicate_of=r.duplicate_of,
    )


class StoryStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- stories -------------------------------------------------------------------
    def create_for(
        self,
        article: Article,
        *,
        first_seen_at: datetime,
        hotness: float,
        centroid: dict[str, float] | None = None,
    ) -> int:
        """A new story of one article, filled and assigned in one transaction."""
        assert article.id is not None
        fetched = article.fetched_at or first_seen_at
        with self.engine.begin() as conn:
            extra = conn.execute(
                select(articles.c.topic, articles.c.language, articles.c.abstract).where(
                    articles.c.id == article.id
                )
            ).first()
            fresh: dict[str, int] = {}
            if conn.dialect.name == "sqlite":
                # SQLite hands out max(id) + 1, so the id of a story merged away at the top
                # would come back for an unrelated story; its redirect remembers it
                top = (
                    select(func.max(stories.c.id).label("m"))
                    .union_all(select(func.max(story_redirects.c.id)))
                    .subquery()
                )
                fresh["id"] = int(conn.execute(select(func.max(top.c.m))).scalar() or 0) + 1
            story_id = int(
                conn.execute(
                    insert(stories).values(
                        **fresh,
                        title=article.title[:1000] or "(untitled)",
                        summary=_summary(article, extra.abstract if extra else None),
                        representative_article_id=article.id,
                        first_article_id=article.id,
                        first_seen_at=first_seen_at,
                        last_updated_at=fetched,
                        article_count=1,
                        publisher_count=1,
                        hotness=hotness,
                        category=extra.topic if extra else None,
                        language=(extra.language if extra else None) or article.language,
                        features={"centroid": centroid} if centroid else None,
                    )
                ).inserted_primary_key[0]
            )
            conn.execute(update(articles).where(articles.c.id == article.id).values(story_id=story_id))
        return story_id

    def assign(self, article_id: int, story_id: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(articles).where(articles.c.id == article_id).values(story_id=story_id))

    def members(self, story_id: int, limit: int = 500) -> list[Article]:
        """A story's articles, oldest first (by time, then id), without their HTML."""
        c = articles.c
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(*_LIGHT_COLUMNS).where(c.story_id == story_id).order_by(c.sort_at, c.id).limit(limit)
            ).all()
        return [_light_article(r, story_id) for r in rows]

    def refresh(
        self,
        story_id: int,
        *,
        choose: Callable[[list[Article]], int | None],
        hotness: Callable[[int, int, datetime], float],
        centroid: dict[str, float] | None = None,
        assign: int | None = None,
        pool: int = 200,
    ) -> list[Article]:
        """Recompute a story's derived columns from its articles, in one transaction.

        ``assign`` first puts that article in the story. ``choose`` picks the
        representative among the newest ``pool`` articles; ``hotness`` turns
        (articles, publishers, newest fetch time) into the stored hotness.
        Returns the articles looked at (oldest first, without HTML).
        """
        c = articles.c
        with self.engine.begin() as conn:
            if assign is not None:
                conn.execute(update(articles).where(c.id == assign).values(story_id=story_id))
            mine = c.story_id == story_id
            count, publishers, newest = conn.execute(
                select(func.count(), func.count(func.distinct(c.publisher)), func.max(c.fetched_at)).where(
                    mine
                )
            ).one()
            if not count:
                conn.execute(delete(stories).where(stories.c.id == story_id))
                return []
            first = conn.execute(select(c.id, c.sort_at).where(mine).order_by(c.sort_at, c.id).limit(1)).one()
            rows = conn.execute(
                select(*_LIGHT_COLUMNS, c.abstract)
                .where(mine)
                .order_by(c.sort_at.desc(), c.id.desc())
                .limit(pool)
            ).all()[::-1]
            recent = [_light_article(r, story_id) for r in rows]
            rep_id = choose(recent)
            rep = next((r for r in rows if r.id == rep_id), rows[-1])
            rep_article = next(a for a in recent if a.id == rep.id)
            topic = conn.execute(
                select(c.topic)
                .where(mine, c.topic.is_not(None))
                .group_by(c.topic)
                .order_by(func.count().desc(), c.topic)
                .limit(1)
            ).scalar()
            language = conn.execute(
                select(c.language)
                .where(mine, c.language.is_not(None))
                .group_by(c.language)
                .order_by(func.count().desc(), c.language)
                .limit(1)
            ).scalar()
            values: dict[str, Any] = dict(
                title=rep.title,
                summary=_summary(rep_article, rep.abstract),
                representative_article_id=rep.id,
                first_article_id=first.id,
                first_seen_at=first.sort_at,
                last_updated_at=newest,
                article_count=count,
                publisher_count=publishers,
                hotness=hotness(count, publishers, newest),
                category=topic,
                language=language,
            )
            if centroid is not None:
                values["features"] = {"centroid": centroid}
            conn.execute(update(stories).where(stories.c.id == story_id).values(**values))
        return recent

    def merge(self, gone: int, into: int) -> None:
        """Move every article of story ``gone`` into story ``into`` and delete ``gone``.

        ``into`` takes ``gone``'s storyline when it has none of its own; a
        storyline left with one story (its stories were fragments of one) is
        dissolved. The caller then recomputes ``into``'s derived columns
        (``refresh``).
        """
        s = stories.c
        with self.engine.begin() as conn:
            conn.execute(update(articles).where(articles.c.story_id == gone).values(story_id=into))
            lines = dict(
                conn.execute(select(s.id, s.storyline_id).where(s.id.in_((gone, into)))).tuples().all()
            )
            conn.execute(delete(stories).where(s.id == gone))
            # old links to ``gone`` (and to stories merged into it before) now lead to ``into``
            r = story_redirects.c
            conn.execute(update(story_redirects).where(r.story_id == gone).values(story_id=into))
            conn.execute(delete(story_redirects).where(r.id.in_((gone, into))))
            conn.execute(insert(story_redirects).values(id=gone, story_id=into))
            line = lines.get(into) or lines.get(gone)
            if line is not None:
                conn.execute(update(stories).where(s.id == into).values(storyline_id=line))
            for old in {lines.get(into), lines.get(gone)} - {None}:
                left = conn.execute(
                    select(func.count()).select_from(stories).where(s.storyline_id == old)
                ).scalar_one()
                if left <= 1:
                    conn.execute(update(stories).where(s.storyline_id == old).values(storyline_id=None))
                    conn.execute(delete(storylines).where(storylines.c.id == old))

    def recent(
        self, since: datetime, *, exclude: int | None = None, limit: int = 50_000
    ) -> list[tuple[int, int | None, dict[str, float], datetime | None]]:
        """(id, storyline id, centroid, last updated) of stories updated since ``since``, newest first."""
        q = (
            select(stories.c.id, stories.c.storyline_id, stories.c.features, stories.c.last_updated_at)
            .where(stories.c.last_updated_at >= since)
            .order_by(stories.c.last_updated_at.desc())
            .limit(limit)
        )
        if exclude is not None:
            q = q.where(stories.c.id != exclude)
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        return [
            (r.id, r.storyline_id, dict((r.features or {}).get("centroid") or {}), r.last_updated_at)
            for r in rows
        ]

    def link_storyline(self, story_id: int, earlier_story_id: int) -> int:
        """Put ``story_id`` on the storyline of ``earlier_story_id`` (made when it has none)."""
        with self.engine.begin() as conn:
            earlier = conn.execute(select(stories).where(stories.c.id == earlier_story_id)).one()
            now = conn.execute(select(stories).where(stories.c.id == story_id)).one()
            line_id = earlier.storyline_id
            if line_id is None:
                line_id = int(
                    conn.execute(
                        insert(storylines).values(
                            title=earlier.title,
                            first_seen_at=earlier.first_seen_at,
                            last_updated_at=now.last_updated_at,
                        )
                    ).inserted_primary_key[0]
                )
                conn.execute(
                    update(stories).where(stories.c.id == earlier_story_id).values(storyline_id=line_id)
                )
            else:
                conn.execute(
                    update(storylines)
                    .where(storylines.c.id == line_id)
                    .values(last_updated_at=now.last_updated_at)
                )
            conn.execute(update(stories).where(stories.c.id == story_id).values(storyline_id=line_id))
            return int(line_id)

    # -- duplicate groups ------------------------------------------------------------
    def add_duplicate(self, article_id: int, original_id: int, agency: str | None) -> int:
        """Group ``article_id`` with ``original_id``; returns the group id.

        The group's earliest article (by time, then id) is its original: every
        other member's ``duplicate_of`` points at it.
        """
        with self.engine.begin() as conn:
            group_id = conn.execute(
                select(articles.c.duplicate_group_id).where(articles.c.id == original_id)
            ).scalar_one_or_none()
            if group_id is None:
                group_id = int(
                    conn.execute(
                        insert(duplicate_groups).values(
                            earliest_article_id=original_id, agency=agency, member_count=0
                        )
                    ).inserted_primary_key[0]
                )
                conn.execute(
                    update(articles).where(articles.c.id == original_id).values(duplicate_group_id=group_id)
                )
            conn.execute(
                update(articles).where(articles.c.id == article_id).values(duplicate_group_id=group_id)
            )
            rows = conn.execute(
                select(articles.c.id, articles.c.sort_at)
                .where(articles.c.duplicate_group_id == group_id)
                .order_by(articles.c.sort_at, articles.c.id)
            ).all()
            earliest = rows[0].id
            conn.execute(
                update(articles)
                .where(articles.c.duplicate_group_id == group_id)
                .values(duplicate_of=earliest)
            )
            conn.execute(update(articles).where(articles.c.id == earliest).values(duplicate_of=None))
            group = conn.execute(
                select(duplicate_groups.c.agency).where(duplicate_groups.c.id == group_id)
            ).one()
            conn.execute(
                update(duplicate_groups)
                .where(duplicate_groups.c.id == group_id)
                .values(earliest_article_id=earliest, member_count=len(rows), agency=group.agency or agency)
            )
            return int(group_id)

    def group(self, group_id: int) -> tuple[tuple[int, ...], int | None, str | None] | None:
        """(member ids, earliest article id, agency) of a duplicate group."""
        with self.engine.connect() as conn:
            g = conn.execute(select(duplicate_groups).where(duplicate_groups.c.id == group_id)).first()
            if g is None:
                return None
            ids = (
                conn.execute(
                    select(articles.c.id)
                    .where(articles.c.duplicate_group_id == group_id)
                    .order_by(articles.c.id)
                )
                .scalars()
                .all()
            )
        return tuple(ids), g.earliest_article_id, g.agency

    def group_of(self, article_id: int) -> int | None:
        with self.engine.connect() as conn:
            return conn.execute(
                select(articles.c.duplicate_group_id).where(articles.c.id == article_id)
            ).scalar_one_or_none()

    # -- whole-table operations ---------------------------------------------------------
    def articles_since(self, since: datetime | None, batch: int = 500) -> Iterator[Article]:
        """Articles with ``sort_at`` >= ``since`` (all when None), in id order, read in batches."""
        last = 0
        while True:
            q = select(articles).where(articles.c.id > last).order_by(articles.c.id).limit(batch)
            if since is not None:
                q = q.where(articles.c.sort_at >= since)
            with self.engine.connect() as conn:
                rows = conn.execute(q).all()
            if not rows:
                return
            for r in rows:
                yield _article(r)
            last = rows[-1].id

    def ordered_ids(self) -> list[tuple[int, datetime]]:
        """(id, sort_at) of every article in stream order (time, then id), for re-clustering."""
        with self.engine.connect() as conn:
            return [
                (r.id, r.sort_at)
                for r in conn.execute(
                    select(articles.c.id, articles.c.sort_at).order_by(articles.c.sort_at, articles.c.id)
                )
            ]

    def get_many(self, ids: Sequence[int]) -> list[Article]:
        out: dict[int, Article] = {}
        with self.engine.connect() as conn:
            for i in range(0, len(ids), 400):
                for r in conn.execute(select(articles).where(articles.c.id.in_(ids[i : i + 400]))):
                    out[r.id] = _article(r)
        return [out[i] for i in ids if i in out]

    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(stories)).scalar_one())

    def moved_to(self, story_id: int) -> int | None:
        """The story that took the articles of ``story_id`` when it was merged away, if it
        still exists (``None`` for an id that never was a story, or after a recluster)."""
        r = story_redirects.c
        q = select(r.story_id).join(stories, stories.c.id == r.story_id).where(r.id == story_id)
        with self.engine.connect() as conn:
            return conn.execute(q).scalar()

    def reset(self) -> None:
        """Forget every story, storyline and duplicate group; the articles stay."""
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    update(articles).values(story_id=None, duplicate_group_id=None, duplicate_of=None)
                )
                conn.execute(delete(stories))
                conn.execute(delete(story_redirects))
                conn.execute(delete(storylines))
                conn.execute(delete(duplicate_groups))
        except SQLAlchemyError as e:
            raise StorageError(f"cannot reset stories: {e}") from e
