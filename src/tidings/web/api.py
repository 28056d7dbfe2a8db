"""JSON API: articles, stories, publishers, sources, entities and search.

Lists use cursor pagination (keyset on indexed columns; search pages by a
bounded offset since they are ordered by rank). Errors are JSON
(``{"error": {"status", "message"}}``) with proper status codes; the OpenAPI
document is at ``/openapi.json`` and interactive docs at ``/api/docs``.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request

from tidings.model import Article, Feed, Source, Story, attribution
from tidings.store.search import MAX_OFFSET, SearchFilters

router = APIRouter(prefix="/api", tags=["api"])


def encode_cursor(article: Article) -> str:
    from tidings.store.schema import now_utc

    at = min(article.published_at or article.fetched_at or now_utc(), article.fetched_at or now_utc())
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
        "id": article.id,
        "url": article.url,
        "canonical_url": article.canonical_url,
        "title": article.title,
        "publisher": article.publisher,
        "source_id": article.source_id,
        "author": article.author,
        "published_at": article.published_at,
        "updated_at": article.updated_at,
        "fetched_at": article.fetched_at,
        "language": article.language,
        "image": article.image,
        "story_id": article.story_id,
        "duplicate_of": article.duplicate_of,
        "attribution": attribution(site_name, article.publisher),
    }
    if full:
        data.update(
            text=article.text,
            html=article.html,
            extraction=article.extraction,
            extraction_reason=article.extraction_reason,
        )
    else:
        data["excerpt"] = article.text[:300]
    return data


@router.get("/articles")
def list_articles(
    request: Request,
    cursor: str | None = None,
    limit: int = Query(30, ge=1, le=200),
    source_id: int | None = None,
    topic: str | None = None,
    language: str | None = None,
    country: str | None = Query(None, pattern="^[A-Za-z]{2}$"),
    entity_id: int | None = None,
    story_id: int | None = None,
) -> dict[str, Any]:
    """Articles newest first, optionally filtered. Pass `next_cursor` back as `cursor`."""
    store = request.app.state.store
    site = request.app.state.settings.site_name
    before = decode_cursor(cursor)
    if topic or language or country or entity_id is not None or story_id is not None:
        items = store.search.articles_where(
            limit + 1,
            before=before,
            topic=topic,
            language=language,
            country=country,
            entity_id=entity_id,
            story_id=story_id,
            source_id=source_id,
        )
    else:
        items = store.articles.latest(limit + 1, before=before, source_id=source_id)
    more = len(items) > limit
    items = items[:limit]
    return {
        "items": [article_json(a, site) for a in items],
        "next_cursor": encode_cursor(items[-1]) if more and items else None,
    }


@router.get("/articles/{article_id}")
def get_article(request: Request, article_id: int) -> dict[str, Any]:
    article = request.app.state.store.articles.get(article_id)
    if article is None:
        raise HTTPException(404, f"no article {article_id}")
    return article_json(article, request.app.state.settings.site_name, full=True)


def publisher_json(source: Source, feeds: list[Feed]) -> dict[str, Any]:
    """A publisher with its feeds' health, as /api/sources and /api/publishers give it."""
    return {
        "id": source.id,
        "name": source.name,
        "home_url": source.home_url,
        "country": source.country,
        "language": source.language,
        "feeds": [
            {
                "url": f.url,
                "status": f.status,
                "last_success_at": f.last_success_at,
                "last_error": f.last_error,
                "error_count": f.error_count,
                "next_poll_at": f.next_poll_at,
            }
            for f in feeds
        ],
    }


@router.get("/sources")
def list_sources(request: Request) -> dict[str, Any]:
    store = request.app.state.store
    srcs = store.sources.list_sources()
    feeds = store.sources.feeds_for_sources([s.id for s in srcs])
    return {"items": [publisher_json(s, feeds[s.id]) for s in srcs]}


@router.get("/publishers/{source_id}")
def get_publisher(request: Request, source_id: int) -> dict[str, Any]:
    """One publisher with its feeds' health."""
    store = request.app.state.store
    source = store.sources.get_source(source_id)
    if source is None:
        raise HTTPException(404, f"no publisher {source_id}")
    return publisher_json(source, store.sources.list_feeds(source_id))


@router.get("/publishers")
def list_publishers(request: Request) -> dict[str, Any]:
    """Every publisher with its feeds' health (the same list as `/api/sources`)."""
    return list_sources(request)


def _story_cursor(hotness: float, story_id: int) -> str:
    return base64.urlsafe_b64encode(f"{hotness!r}:{story_id}".encode()).decode().rstrip("=")


def _decode_story_cursor(cursor: str | None) -> tuple[float, int] | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        hot, sid = raw.split(":")
        return float(hot), int(sid)
    except (ValueError, UnicodeDecodeError) as e:
        raise HTTPException(400, "invalid cursor") from e


def story_json(
    story: Story, article_count: int | None = None, publisher_count: int | None = None
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": story.id,
        "title": story.title,
        "summary": story.summary,
        "category": story.category,
        "hotness": story.hotness,
        "first_article_id": story.first_article_id,
        "first_seen_at": story.first_seen_at,
        "last_updated_at": story.last_updated_at,
        "storyline_id": story.storyline_id,
    }
    if article_count is not None:
        data.update(article_count=article_count, publisher_count=publisher_count)
    return data


@router.get("/stories")
def list_stories(
    request: Request,
    cursor: str | None = None,
    limit: int = Query(30, ge=1, le=200),
    category: str | None = None,
) -> dict[str, Any]:
    """Stories, hottest first. Pass `next_cursor` back as `cursor` for the next page."""
    cards = request.app.state.store.search.stories_list(
        limit + 1, before=_decode_story_cursor(cursor), category=category
    )
    more = len(cards) > limit
    cards = cards[:limit]
    return {
        "items": [story_json(c.story, c.article_count, c.publisher_count) for c in cards],
        "next_cursor": _story_cursor(cards[-1].story.hotness, cards[-1].story.id or 0)
        if more and cards
        else None,
    }


def no_story(request: Request, story_id: int, path: str) -> HTTPException:
    """404 for a story id, or a 301 to ``path`` with the id of the story it was merged into."""
    moved = request.app.state.store.stories.moved_to(story_id)
    if moved is None:
        return HTTPException(404, f"No story {story_id}.")
    return HTTPException(
        301, f"Story {story_id} is now story {moved}.", headers={"Location": path.format(moved)}
    )


@router.get("/stories/{story_id}")
def get_story(request: Request, story_id: int) -> dict[str, Any]:
    """A story with every article in it, oldest first."""
    store = request.app.state.store
    story = store.search.story(story_id)
    if story is None:
        raise no_story(request, story_id, "/api/stories/{}")
    site = request.app.state.settings.site_name
    items = store.search.story_articles(story_id)
    return {
        **story_json(story, len(items), len({a.publisher for a in items})),
        "articles": [article_json(a, site) for a in items],
    }


@router.get("/entities")
def list_entities(
    request: Request, cursor: int = 0, limit: int = Query(100, ge=1, le=500), kind: str | None = None
) -> dict[str, Any]:
    """People, organisations, places and countries, by id. `cursor` is the last id seen."""
    items = request.app.state.store.search.entities_list(limit + 1, kind=kind, after_id=cursor)
    more = len(items) > limit
    items = items[:limit]
    return {
        "items": [{"id": e.id, "kind": e.kind, "name": e.name, "code": e.code} for e in items],
        "next_cursor": items[-1].id if more and items else None,
    }


@router.get("/entities/{entity_id}/articles")
def entity_articles(
    request: Request, entity_id: int, cursor: str | None = None, limit: int = Query(30, ge=1, le=200)
) -> dict[str, Any]:
    """Articles mentioning one entity, newest first."""
    store = request.app.state.store
    entity = store.search.entity(entity_id)
    if entity is None:
        raise HTTPException(404, f"no entity {entity_id}")
    items = store.search.articles_where(limit + 1, before=decode_cursor(cursor), entity_id=entity_id)
    more = len(items) > limit
    items = items[:limit]
    site = request.app.state.settings.site_name
    return {
        "entity": {"id": entity.id, "kind": entity.kind, "name": entity.name, "code": entity.code},
        "items": [article_json(a, site) for a in items],
        "next_cursor": encode_cursor(items[-1]) if more and items else None,
    }


@router.get("/search")
def search(
    request: Request,
    q: str = Query(..., min_length=1, max_length=300),
    source_id: int | None = None,
    language: str | None = None,
    country: str | None = None,
    topic: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    sort: str = Query("relevance", pattern="^(relevance|date)$"),
    cursor: int = Query(0, ge=0, le=MAX_OFFSET),
    limit: int = Query(20, ge=1, le=100),
) -> dict[str, Any]:
    """Full-text search over headlines and bodies: words, "phrases", -exclusions.

    Results are ranked (or newest first with `sort=date`) and carry a snippet
    with matches between `<mark>` tags (the rest is HTML-escaped).
    """
    filters = SearchFilters(
        source_id=source_id,
        language=language,
        country=country,
        topic=topic,
        since=since.replace(tzinfo=since.tzinfo or UTC) if since else None,
        until=until.replace(tzinfo=until.tzinfo or UTC) if until else None,
    )
    page = request.app.state.store.search.search(q, filters=filters, limit=limit, offset=cursor, sort=sort)
    site = request.app.state.settings.site_name
    return {
        "query": {"terms": page.query.terms, "phrases": page.query.phrases, "excluded": page.query.excluded},
        "items": [
            {
                **article_json(h.article, site),
                "score": h.score,
                "title_html": str(h.title_html),
                "snippet_html": str(h.snippet_html),
            }
            for h in page.hits
        ],
        "next_cursor": page.next_offset,
    }
