"""JSON API: articles with cursor pagination. Errors are JSON with proper status codes."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request

from tidings.model import Article, attribution

router = APIRouter(prefix="/api", tags=["api"])


def encode_cursor(article: Article) -> str:
    from tidings.store.schema import now_utc

    at = min(article.published_at or article.fetched_at or now_utc(),
             article.fetched_at or now_utc())
    raw = f"{at.timestamp():.6f}:{article.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple[datetime, int] | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        ts, aid = raw.split(":")
        return datetime.fromtimestamp(float(ts), tz=UTC), int(aid)
    except (ValueError, UnicodeDecodeError) as e:
        raise HTTPException(400, "invalid cursor") from e


def article_json(article: Article, site_name: str, *, full: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": article.id, "url": article.url, "canonical_url": article.canonical_url,
        "title": article.title, "publisher": article.publisher, "source_id": article.source_id,
        "author": article.author, "published_at": article.published_at,
        "updated_at": article.updated_at, "fetched_at": article.fetched_at,
        "language": article.language, "image": article.image, "story_id": article.story_id,
        "duplicate_of": article.duplicate_of,
        "attribution": attribution(site_name, article.publisher),
    }
    if full:
        data.update(text=article.text, html=article.html, extraction=article.extraction,
                    extraction_reason=article.extraction_reason)
    else:
        data["excerpt"] = article.text[:300]
    return data


@router.get("/articles")
def list_articles(request: Request, cursor: str | None = None,
                  limit: int = Query(30, ge=1, le=200),
                  source_id: int | None = None) -> dict[str, Any]:
    """Articles newest first. Pass `next_cursor` back as `cursor` for the next page."""
    store = request.app.state.store
    site = request.app.state.settings.site_name
    items = store.articles.latest(limit + 1, before=decode_cursor(cursor), source_id=source_id)
    more = len(items) > limit
    items = items[:limit]
    return {"items": [article_json(a, site) for a in items],
            "next_cursor": encode_cursor(items[-1]) if more and items else None}


@router.get("/articles/{article_id}")
def get_article(request: Request, article_id: int) -> dict[str, Any]:
    article = request.app.state.store.articles.get(article_id)
    if article is None:
        raise HTTPException(404, f"no article {article_id}")
    return article_json(article, request.app.state.settings.site_name, full=True)


@router.get("/sources")
def list_sources(request: Request) -> dict[str, Any]:
    store = request.app.state.store
    srcs = store.sources.list_sources()
    feeds = store.sources.feeds_for_sources([s.id for s in srcs])
    return {"items": [{
        "id": s.id, "name": s.name, "home_url": s.home_url, "country": s.country,
        "language": s.language,
        "feeds": [{"url": f.url, "status": f.status, "last_success_at": f.last_success_at,
                   "last_error": f.last_error, "error_count": f.error_count,
                   "next_poll_at": f.next_poll_at} for f in feeds[s.id]],
    } for s in srcs]}
