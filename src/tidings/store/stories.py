"""Stories, storylines and duplicate groups: what the dedup and cluster stages write.

The stages decide (``tidings.dedup``, ``tidings.cluster``); this sub-store
only records their decisions and recomputes the derived columns of a story
(counts, first reporter, times, hotness) from its articles. ``reset`` clears
every story, storyline and duplicate group and the articles' links to them
(for ``tidings recluster``) without touching the articles themselves.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, delete, func, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from tidings.errors import StorageError
from tidings.model import Article
from tidings.store.articles import _article
from tidings.store.schema import articles, duplicate_groups, stories, storylines

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


class StoryStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- stories -------------------------------------------------------------------
    def create(self, title: str, at: datetime) -> int:
        """A new, empty story; ``refresh`` fills it once its first article is assigned."""
        with self.engine.begin() as conn:
            return int(conn.execute(insert(stories).values(
                title=title[:1000] or "(untitled)", first_seen_at=at, last_updated_at=at,
                article_count=0, publisher_count=0, hotness=0.0)).inserted_primary_key[0])

    def assign(self, article_id: int, story_id: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(articles).where(articles.c.id == article_id)
                         .values(story_id=story_id))

    def members(self, story_id: int, limit: int = 500) -> list[Article]:
        """A story's articles, oldest first (by time, then id)."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(articles).where(articles.c.story_id == story_id)
                                .order_by(articles.c.sort_at, articles.c.id).limit(limit)).all()
        return [_article(r) for r in rows]

    def refresh(self, story_id: int, *, representative_id: int | None, hotness: float,
                centroid: dict[str, float] | None = None) -> None:
        """Recompute a story's derived columns from its articles."""
        with self.engine.begin() as conn:
            rows = conn.execute(
                select(articles.c.id, articles.c.title, articles.c.text, articles.c.summary,
                       articles.c.abstract, articles.c.publisher, articles.c.sort_at,
                       articles.c.fetched_at, articles.c.topic, articles.c.language)
                .where(articles.c.story_id == story_id)
                .order_by(articles.c.sort_at, articles.c.id)).all()
            if not rows:
                conn.execute(delete(stories).where(stories.c.id == story_id))
                return
            first = rows[0]
            rep = next((r for r in rows if r.id == representative_id), first)
            topics = Counter(r.topic for r in rows if r.topic)
            langs = Counter(r.language for r in rows if r.language)
            rep_article = Article(id=rep.id, url="", canonical_url="", title=rep.title,
                                  text=rep.text or "", html="", publisher=rep.publisher,
                                  source_id=None, feed_id=None, summary=rep.summary)
            values: dict[str, Any] = dict(
                title=rep.title, summary=_summary(rep_article, rep.abstract),
                representative_article_id=rep.id, first_article_id=first.id,
                first_seen_at=first.sort_at,
                last_updated_at=max(r.fetched_at for r in rows),
                article_count=len(rows), publisher_count=len({r.publisher for r in rows}),
                hotness=hotness,
                category=topics.most_common(1)[0][0] if topics else None,
                language=langs.most_common(1)[0][0] if langs else None,
            )
            if centroid is not None:
                values["features"] = {"centroid": centroid}
            conn.execute(update(stories).where(stories.c.id == story_id).values(**values))

    def recent(self, since: datetime, *, exclude: int | None = None,
               limit: int = 5000) -> list[tuple[int, int | None, dict[str, float]]]:
        """(story id, storyline id, centroid) of stories updated since ``since``, newest first."""
        q = (select(stories.c.id, stories.c.storyline_id, stories.c.features)
             .where(stories.c.last_updated_at >= since)
             .order_by(stories.c.last_updated_at.desc()).limit(limit))
        if exclude is not None:
            q = q.where(stories.c.id != exclude)
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        return [(r.id, r.storyline_id, dict((r.features or {}).get("centroid") or {}))
                for r in rows]

    def link_storyline(self, story_id: int, earlier_story_id: int) -> int:
        """Put ``story_id`` on the storyline of ``earlier_story_id`` (made when it has none)."""
        with self.engine.begin() as conn:
            earlier = conn.execute(select(stories).where(stories.c.id == earlier_story_id)).one()
            now = conn.execute(select(stories).where(stories.c.id == story_id)).one()
            line_id = earlier.storyline_id
            if line_id is None:
                line_id = int(conn.execute(insert(storylines).values(
                    title=earlier.title, first_seen_at=earlier.first_seen_at,
                    last_updated_at=now.last_updated_at)).inserted_primary_key[0])
                conn.execute(update(stories).where(stories.c.id == earlier_story_id)
                             .values(storyline_id=line_id))
            else:
                conn.execute(update(storylines).where(storylines.c.id == line_id)
                             .values(last_updated_at=now.last_updated_at))
            conn.execute(update(stories).where(stories.c.id == story_id)
                         .values(storyline_id=line_id))
            return int(line_id)

    # -- duplicate groups ------------------------------------------------------------
    def add_duplicate(self, article_id: int, original_id: int, agency: str | None) -> int:
        """Group ``article_id`` with ``original_id``; returns the group id.

        The group's earliest article (by time, then id) is its original: every
        other member's ``duplicate_of`` points at it.
        """
        with self.engine.begin() as conn:
            group_id = conn.execute(select(articles.c.duplicate_group_id)
                                    .where(articles.c.id == original_id)).scalar_one_or_none()
            if group_id is None:
                group_id = int(conn.execute(insert(duplicate_groups).values(
                    earliest_article_id=original_id, agency=agency, member_count=0))
                    .inserted_primary_key[0])
                conn.execute(update(articles).where(articles.c.id == original_id)
                             .values(duplicate_group_id=group_id))
            conn.execute(update(articles).where(articles.c.id == article_id)
                         .values(duplicate_group_id=group_id))
            rows = conn.execute(select(articles.c.id, articles.c.sort_at)
                                .where(articles.c.duplicate_group_id == group_id)
                                .order_by(articles.c.sort_at, articles.c.id)).all()
            earliest = rows[0].id
            conn.execute(update(articles).where(articles.c.duplicate_group_id == group_id)
                         .values(duplicate_of=earliest))
            conn.execute(update(articles).where(articles.c.id == earliest).values(duplicate_of=None))
            group = conn.execute(select(duplicate_groups.c.agency)
                                 .where(duplicate_groups.c.id == group_id)).one()
            conn.execute(update(duplicate_groups).where(duplicate_groups.c.id == group_id).values(
                earliest_article_id=earliest, member_count=len(rows),
                agency=group.agency or agency))
            return int(group_id)

    def group(self, group_id: int) -> tuple[tuple[int, ...], int | None, str | None] | None:
        """(member ids, earliest article id, agency) of a duplicate group."""
        with self.engine.connect() as conn:
            g = conn.execute(select(duplicate_groups)
                             .where(duplicate_groups.c.id == group_id)).first()
            if g is None:
                return None
            ids = conn.execute(select(articles.c.id).where(articles.c.duplicate_group_id == group_id)
                               .order_by(articles.c.id)).scalars().all()
        return tuple(ids), g.earliest_article_id, g.agency

    def group_of(self, article_id: int) -> int | None:
        with self.engine.connect() as conn:
            return conn.execute(select(articles.c.duplicate_group_id)
                                .where(articles.c.id == article_id)).scalar_one_or_none()

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
            return [(r.id, r.sort_at) for r in conn.execute(
                select(articles.c.id, articles.c.sort_at).order_by(articles.c.sort_at,
                                                                    articles.c.id))]

    def get_many(self, ids: Sequence[int]) -> list[Article]:
        out: dict[int, Article] = {}
        with self.engine.connect() as conn:
            for i in range(0, len(ids), 400):
                for r in conn.execute(select(articles).where(articles.c.id.in_(ids[i:i + 400]))):
                    out[r.id] = _article(r)
        return [out[i] for i in ids if i in out]

    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(stories)).scalar_one())

    def reset(self) -> None:
        """Forget every story, storyline and duplicate group; the articles stay."""
        try:
            with self.engine.begin() as conn:
                conn.execute(update(articles).values(story_id=None, duplicate_group_id=None,
                                                     duplicate_of=None))
                conn.execute(delete(stories))
                conn.execute(delete(storylines))
                conn.execute(delete(duplicate_groups))
        except SQLAlchemyError as e:
            raise StorageError(f"cannot reset stories: {e}") from e
