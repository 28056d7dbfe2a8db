"""Articles: stored once per canonical URL, listed newest first with keyset cursors."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Row, func, insert, or_, select
from sqlalchemy.exc import IntegrityError

from tidings.model import Article
from tidings.store.schema import articles


def _article(row: Row[Any]) -> Article:
    m = row._mapping
    return Article(
        id=m["id"],
        url=m["url"],
        canonical_url=m["canonical_url"],
        title=m["title"],
        text=m["text"],
        html=m["html"],
        publisher=m["publisher"],
        source_id=m["source_id"],
        feed_id=m["feed_id"],
        feed_url=m["feed_url"],
        author=m["author"],
        published_at=m["published_at"],
        updated_at=m["updated_at"],
        fetched_at=m["fetched_at"],
        language=m["language"],
        image=m["image"],
        summary=m["summary"],
        extraction=m["extraction"],
        extraction_reason=m["extraction_reason"],
        content_hash=m["content_hash"],
        story_id=m["story_id"],
        duplicate_of=m["duplicate_of"],
        categories=tuple(m["categories"] or ()),
    )


class ArticleStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def known_urls(self, urls: Iterable[str]) -> set[str]:
        """Which of these URLs are already stored, as page URL or canonical URL."""
        wanted = list(dict.fromkeys(u for u in urls if u))
        found: set[str] = set()
        with self.engine.connect() as conn:
            for i in range(0, len(wanted), 400):
                chunk = wanted[i : i + 400]
                rows = conn.execute(
                    select(articles.c.url, articles.c.canonical_url).where(
                        or_(articles.c.url.in_(chunk), articles.c.canonical_url.in_(chunk))
                    )
                ).all()
                for url, canonical in rows:
                    found.update({url, canonical})
        return found & set(wanted)

    def insert(self, article: Article) -> int | None:
        """Store an article; returns its id, or None when its canonical URL is stored already."""
        fetched = article.fetched_at
        assert fetched is not None, "fetched_at is required"
        sort_at = min(article.published_at or fetched, fetched)
        values = dict(
            url=article.url,
            canonical_url=article.canonical_url,
            title=article.title,
            text=article.text,
            html=article.html,
            summary=article.summary,
            author=article.author,
            published_at=article.published_at,
            updated_at=article.updated_at,
            fetched_at=fetched,
            sort_at=sort_at,
            language=article.language,
            image=article.image,
            source_id=article.source_id,
            feed_id=article.feed_id,
            publisher=article.publisher,
            feed_url=article.feed_url,
            extraction=article.extraction,
            extraction_reason=article.extraction_reason,
            content_hash=article.content_hash,
            categories=list(article.categories) or None,
        )
        try:
            with self.engine.begin() as conn:
                return int(conn.execute(insert(articles).values(**values)).inserted_primary_key[0])
        except IntegrityError:
            return None

    def get(self, article_id: int) -> Article | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(articles).where(articles.c.id == article_id)).first()
        return _article(row) if row else None

    def get_by_url(self, url: str) -> Article | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(articles).where(or_(articles.c.canonical_url == url, articles.c.url == url)).limit(1)
            ).first()
        return _article(row) if row else None

    def latest(
        self, limit: int, *, before: tuple[datetime, int] | None = None, source_id: int | None = None
    ) -> list[Article]:
        """Newest first; ``before`` is the (sort_at, id) of the last article already shown."""
        q = select(articles).order_by(articles.c.sort_at.desc(), articles.c.id.desc()).limit(limit)
        if source_id is not None:
            q = q.where(articles.c.source_id == source_id)
        if before is not None:
            at, aid = before
            # the first term is the index range (ix_articles_sort_at); an OR alone is a scan
            q = q.where(articles.c.sort_at <= at, or_(articles.c.sort_at < at, articles.c.id < aid))
        with self.engine.connect() as conn:
            return [_article(r) for r in conn.execute(q).all()]

    def count(self, source_id: int | None = None) -> int:
        q = select(func.count()).select_from(articles)
        if source_id is not None:
            q = q.where(articles.c.source_id == source_id)
        with self.engine.connect() as conn:
            return int(conn.execute(q).scalar_one())

    def iter_all(self, batch: int = 500) -> Iterator[Article]:
        """Every article, oldest id first, read in batches (constant memory)."""
        last = 0
        while True:
            with self.engine.connect() as conn:
                rows = conn.execute(
                    select(articles).where(articles.c.id > last).order_by(articles.c.id).limit(batch)
                ).all()
            if not rows:
                return
            for r in rows:
                yield _article(r)
            last = rows[-1].id
