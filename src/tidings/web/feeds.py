"""Outgoing feeds: RSS 2.0, Atom and JSON Feed 1.1 for every list the reader shows.

Feeds exist for the home page (``/feed.rss``), each category
(``/category/{topic}/feed.atom``), publisher, entity, country, story and any
search (``/search/feed.json?q=...``). RSS and Atom are written by feedgen,
which knows both formats' required elements; JSON Feed is a plain JSON
document, written here. Every item links to the original article and carries
the attribution line. Responses carry a strong ETag and Last-Modified (the
newest item's time, so a feed that did not change keeps its validators) and
answer conditional GETs with 304.

``render_feed`` is pure: it takes the feed's description and articles and
returns bytes; the routes below only gather the articles and do HTTP.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from feedgen.feed import FeedGenerator
from markupsafe import escape
from starlette.responses import Response

from tidings.model import Article, attribution
from tidings.store.search import SearchFilters
from tidings.web.api import no_story

router = APIRouter(include_in_schema=False)

FORMATS = {
    "rss": "application/rss+xml; charset=utf-8",
    "atom": "application/atom+xml; charset=utf-8",
    "json": "application/feed+json; charset=utf-8",
}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# characters XML 1.0 cannot carry (hostile feeds do send them)
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


@dataclass(frozen=True, slots=True)
class FeedMeta:
    title: str
    page_url: str  # the reader page this feed mirrors (absolute)
    feed_url: str  # this feed's own URL (absolute)
    description: str
    language: str | None = None


def _clean(value: str | None) -> str:
    return _NOT_XML.sub("", value or "")


def _excerpt(article: Article, limit: int = 600) -> str:
    text = _clean(article.text or article.summary or "")
    return text[:limit] + ("…" if len(text) > limit else "")


def _item_html(article: Article, site_name: str) -> str:
    paras = "".join(f"<p>{escape(p)}</p>" for p in _excerpt(article).split("\n\n") if p.strip())
    return (
        f'{paras}<p><a href="{escape(_clean(article.url))}">Read the original at '
        f"{escape(_clean(article.publisher))}</a></p>"
        f"<p><small>{escape(_clean(attribution(site_name, article.publisher)))}</small></p>"
    )


def _updated(article: Article) -> datetime:
    return article.updated_at or article.fetched_at or article.published_at or EPOCH


def last_modified(items: list[Article]) -> datetime:
    return max((_updated(a) for a in items), default=EPOCH).replace(microsecond=0)


def render_feed(fmt: str, meta: FeedMeta, items: list[Article], site_name: str, reader_url: str) -> bytes:
    """One feed document. ``reader_url`` is the site's base URL, for item ids."""
    newest = last_modified(items)
    if fmt == "json":
        doc: dict[str, Any] = {
            "version": "https://jsonfeed.org/version/1.1",
            "title": _clean(meta.title),
            "home_page_url": meta.page_url,
            "feed_url": meta.feed_url,
            "description": _clean(meta.description),
            "items": [],
        }
        if meta.language:
            doc["language"] = meta.language
        for a in items:
            item: dict[str, Any] = {
                "id": f"{reader_url}article/{a.id}",
                "url": _clean(a.url),
                "external_url": _clean(a.url),
                "title": _clean(a.title),
                "content_html": _item_html(a, site_name),
                "summary": _excerpt(a, 280),
                "authors": [{"name": _clean(a.author or a.publisher)}],
                "_tidings": {
                    "publisher": _clean(a.publisher),
                    "attribution": attribution(site_name, a.publisher),
                },
            }
            if a.published_at:
                item["date_published"] = a.published_at.isoformat()
            item["date_modified"] = _updated(a).isoformat()
            if a.image and a.image.startswith(("https://", "http://")):
                item["image"] = _clean(a.image)
            if a.language:
                item["language"] = a.language
            doc["items"].append(item)
        return json.dumps(doc, ensure_ascii=False, indent=1).encode("utf-8")

    fg = FeedGenerator()
    fg.id(meta.page_url)
    fg.title(_clean(meta.title) or site_name)
    fg.subtitle(_clean(meta.description) or site_name)
    fg.link(href=meta.page_url, rel="alternate")
    fg.link(href=meta.feed_url, rel="self")
    fg.generator("tidings")
    fg.updated(newest)
    fg.lastBuildDate(newest)
    if meta.language:
        fg.language(meta.language)
    for a in items:
        fe = fg.add_entry(order="append")
        fe.id(f"{reader_url}article/{a.id}")
        fe.guid(f"{reader_url}article/{a.id}", permalink=False)
        fe.title(_clean(a.title) or "(untitled)")
        fe.link(href=_clean(a.url), rel="alternate")
        fe.description(_item_html(a, site_name))
        if fmt == "atom":
            fe.content(_item_html(a, site_name), type="html")
        fe.author({"name": _clean(a.author or a.publisher) or site_name})
        if a.published_at:
            fe.published(a.published_at)
        fe.updated(_updated(a))
    return bytes(fg.atom_str(pretty=True) if fmt == "atom" else fg.rss_str(pretty=True))


def feed_response(request: Request, fmt: str, meta: FeedMeta, items: list[Article]) -> Response:
    """The feed, or 304 when the client's validators still match."""
    if fmt not in FORMATS:
        raise HTTPException(404, "Unknown feed format: use rss, atom or json.")
    body = render_feed(fmt, meta, items, request.app.state.settings.site_name, str(request.base_url))
    etag = '"' + hashlib.sha256(body).hexdigest()[:24] + '"'
    modified = last_modified(items)
    headers = {
        "ETag": etag,
        "Last-Modified": format_datetime(modified, usegmt=True),
        "Cache-Control": "public, max-age=300",
    }
    inm = request.headers.get("if-none-match")
    if inm is not None:
        if etag in [t.strip().removeprefix("W/") for t in inm.split(",")] or inm.strip() == "*":
            return Response(status_code=304, headers=headers)
    elif (ims := request.headers.get("if-modified-since")) is not None:
        try:
            since = parsedate_to_datetime(ims)
        except (TypeError, ValueError):
            since = None
        if since is not None and since.tzinfo is not None and modified <= since:
            return Response(status_code=304, headers=headers)
    return Response(body, media_type=FORMATS[fmt], headers=headers)


def _meta(request: Request, title: str, page_path: str, description: str) -> FeedMeta:
    base = str(request.base_url).rstrip("/")
    site = request.app.state.settings.site_name
    return FeedMeta(
        title=f"{title} · {site}" if title else site,
        page_url=base + page_path,
        feed_url=str(request.url),
        description=description,
    )


def _size(request: Request) -> int:
    return int(request.app.state.settings.page_size)


@router.get("/feed.{fmt}")
def home_feed(request: Request, fmt: str) -> Response:
    items = request.app.state.store.articles.latest(_size(request))
    return feed_response(request, fmt, _meta(request, "", "/", "The latest news"), items)


@router.get("/category/{topic}/feed.{fmt}")
def category_feed(request: Request, topic: str, fmt: str) -> Response:
    items = request.app.state.store.search.articles_where(_size(request), topic=topic)
    meta = _meta(request, topic.title(), f"/category/{topic}", f"Latest {topic} news")
    return feed_response(request, fmt, meta, items)


@router.get("/topic/{topic}/feed.{fmt}")
def topic_feed(request: Request, topic: str, fmt: str) -> Response:
    """The feed of a topic page (web/browse.py); the same articles as the category feed."""
    items = request.app.state.store.search.articles_where(_size(request), topic=topic)
    meta = _meta(request, topic.title(), f"/topic/{topic}", f"Latest {topic} news")
    return feed_response(request, fmt, meta, items)


@router.get("/publisher/{source_id}/feed.{fmt}")
def publisher_feed(request: Request, source_id: int, fmt: str) -> Response:
    store = request.app.state.store
    source = store.sources.get_source(source_id)
    if source is None:
        raise HTTPException(404, "No such publisher.")
    items = store.articles.latest(_size(request), source_id=source_id)
    meta = _meta(request, source.name, f"/publisher/{source_id}", f"Articles from {source.name}")
    return feed_response(request, fmt, meta, items)


@router.get("/entity/{entity_id}/feed.{fmt}")
def entity_feed(request: Request, entity_id: int, fmt: str) -> Response:
    store = request.app.state.store
    entity = store.search.entity(entity_id)
    if entity is None:
        raise HTTPException(404, "No such entity.")
    items = store.search.articles_where(_size(request), entity_id=entity_id)
    meta = _meta(request, entity.name, f"/entity/{entity_id}", f"News mentioning {entity.name}")
    return feed_response(request, fmt, meta, items)


@router.get("/country/{code}/feed.{fmt}")
def country_feed(request: Request, code: str, fmt: str) -> Response:
    if not re.fullmatch(r"[A-Za-z]{2}", code):
        raise HTTPException(404, "Countries are ISO 3166-1 alpha-2 codes.")
    items = request.app.state.store.search.articles_where(_size(request), country=code)
    meta = _meta(request, code.upper(), f"/country/{code.lower()}", f"News about {code.upper()}")
    return feed_response(request, fmt, meta, items)


@router.get("/story/{story_id}/feed.{fmt}")
def story_feed(request: Request, story_id: int, fmt: str) -> Response:
    store = request.app.state.store
    story = store.search.story(story_id)
    if story is None:
        raise no_story(request, story_id, "/story/{}/feed." + fmt)
    items = store.search.articles_where(_size(request), story_id=story_id)
    meta = _meta(request, story.title, f"/story/{story_id}", "Full coverage of this story")
    return feed_response(request, fmt, meta, items)


@router.get("/search/feed.{fmt}")
def search_feed(
    request: Request,
    fmt: str,
    q: str = "",
    source_id: int | None = None,
    language: str | None = None,
    country: str | None = None,
    topic: str | None = None,
) -> Response:
    filters = SearchFilters(
        source_id=source_id, language=language or None, country=country or None, topic=topic or None
    )
    page = request.app.state.store.search.search(q, filters=filters, limit=_size(request), sort="date")
    meta = _meta(request, f"Search: {q}", "/search?" + str(request.url.query), f"Articles matching {q}")
    return feed_response(request, fmt, meta, [h.article for h in page.hits])
