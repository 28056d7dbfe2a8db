"""Server-rendered HTML pages: home, categories, stories, articles, publishers, search, admin.

Pages work without JavaScript. Lists use keyset cursors (never OFFSET or a
COUNT over the articles table); search pages use a bounded offset because
results are ordered by rank. Lead images are fetched by the server
(``/img/{id}``) so a reader's browser never contacts a third party.

The admin area is off unless ``admin_token`` is set. It is stateless: a
random nonce cookie, a session cookie that is an HMAC of the nonce under the
token, and a CSRF token (another HMAC of the nonce) in every form; cookies are
HttpOnly and SameSite=Strict, and a foreign Origin header is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape
from starlette.responses import Response

from tidings.config import Settings
from tidings.errors import TidingsError
from tidings.extract import sanitize_html
from tidings.fetch import Fetcher, check_url
from tidings.model import Article, Source, attribution
from tidings.store.search import SearchFilters, StoryCard
from tidings.web.api import decode_cursor, encode_cursor, no_story

router = APIRouter(include_in_schema=False)
TEMPLATES = Path(__file__).parent / "templates"


def _when(dt: datetime | None) -> str:
    return dt.strftime("%d %b %Y, %H:%M UTC") if dt else ""


def make_templates(settings: Settings) -> Jinja2Templates:
    templates = Jinja2Templates(directory=TEMPLATES)
    env = templates.env
    env.globals["site_name"] = settings.site_name
    env.globals["attribution"] = lambda publisher: attribution(settings.site_name, publisher)
    env.filters["when"] = _when
    env.filters["iso"] = lambda dt: dt.isoformat() if dt else ""
    env.filters["clean"] = lambda html: Markup(sanitize_html(html or ""))
    return templates


def render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    return request.app.state.templates.TemplateResponse(request, name, context, status_code=status)


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    return render(request, "error.html", status=status, status_code=status, message=message)


@router.get("/article/{article_id}", response_class=HTMLResponse)
def article_page(request: Request, article_id: int) -> HTMLResponse:
    article = request.app.state.store.articles.get(article_id)
    if article is None:
        raise HTTPException(404, "No such article.")
    return render(request, "article.html", article=article)


@router.get("/publisher/{source_id}", response_class=HTMLResponse)
def publisher_page(request: Request, source_id: int, cursor: str | None = None) -> HTMLResponse:
    store = request.app.state.store
    source = store.sources.get_source(source_id)
    if source is None:
        raise HTTPException(404, "No such publisher.")
    size = request.app.state.settings.page_size
    items = store.articles.latest(size + 1, before=decode_cursor(cursor), source_id=source_id)
    more = len(items) > size
    items = items[:size]
    return render(
        request,
        "publisher.html",
        source=source,
        feeds=store.sources.list_feeds(source_id),
        articles=items,
        next_cursor=encode_cursor(items[-1]) if more and items else None,
        feed_base=f"/publisher/{source_id}",
    )


# -- home, categories, stories ------------------------------------------------
def _latest_page(items: list[Article], size: int) -> tuple[list[Article], str | None]:
    more = len(items) > size
    items = items[:size]
    return items, (encode_cursor(items[-1]) if more and items else None)


FRONT_PAGE_SECONDS = 5.0  # the front page is the same for everyone: rendered at most this often


def _front_page(request: Request) -> tuple[list[StoryCard], list[tuple[str, list[StoryCard]]]]:
    return request.app.state.store.search.front_page()  # type: ignore[no-any-return]


@router.get("/", response_class=HTMLResponse)
def home(request: Request, cursor: str | None = None) -> Response:
    """Top stories, category sections and the latest articles; older pages by keyset cursor.

    The first page carries nothing personal, so its HTML is kept for
    FRONT_PAGE_SECONDS (a micro-cache: new articles appear within seconds, and
    a burst of readers costs one render). Cursor pages are rendered per request.
    """
    if not cursor:
        cached = getattr(request.app.state, "front_page_html", None)
        if cached is not None and time.monotonic() - cached[0] < FRONT_PAGE_SECONDS:
            return HTMLResponse(cached[1])
    store = request.app.state.store
    size = request.app.state.settings.page_size
    items, next_cursor = _latest_page(store.articles.latest(size + 1, before=decode_cursor(cursor)), size)
    top: list[StoryCard] = []
    sections: list[tuple[str, list[StoryCard]]] = []
    if not cursor:  # the first page leads with stories; older pages are plain lists
        top, sections = _front_page(request)
    response = render(
        request,
        "home.html",
        articles=items,
        top=top,
        sections=sections,
        next_cursor=next_cursor,
        feed_base="",
    )
    if not cursor:
        request.app.state.front_page_html = (time.monotonic(), bytes(response.body))
    return response


@router.get("/category/{topic}", response_class=HTMLResponse)
def category_page(request: Request, topic: str, cursor: str | None = None) -> HTMLResponse:
    store = request.app.state.store
    size = request.app.state.settings.page_size
    items, next_cursor = _latest_page(
        store.search.articles_where(size + 1, before=decode_cursor(cursor), topic=topic), size
    )
    top = [] if cursor else store.search.top_stories(6, category=topic)
    if not items and not top:
        raise HTTPException(404, "Nothing in this category yet.")
    return render(
        request,
        "category.html",
        topic=topic,
        top=top,
        articles=items,
        next_cursor=next_cursor,
        feed_base=f"/category/{topic}",
    )


def fold_wire_copies(items: list[Article]) -> list[tuple[Article, list[Article]]]:
    """Each original with the copies of it (``duplicate_of``) folded underneath (pure)."""
    ids = {a.id for a in items}
    copies: dict[int | None, list[Article]] = {}
    for a in items:
        if a.duplicate_of is not None and a.duplicate_of in ids:
            copies.setdefault(a.duplicate_of, []).append(a)
    return [(a, copies.get(a.id, [])) for a in items if a.duplicate_of is None or a.duplicate_of not in ids]


@router.get("/story/{story_id}", response_class=HTMLResponse)
def story_page(request: Request, story_id: int) -> HTMLResponse:
    store = request.app.state.store
    story = store.search.story(story_id)
    if story is None:
        raise no_story(request, story_id, "/story/{}")
    items = store.search.story_articles(story_id)
    first = next((a for a in items if a.id == story.first_article_id), items[0] if items else None)
    timeline = store.search.storyline_stories(story.storyline_id) if story.storyline_id else []
    return render(
        request,
        "story.html",
        story=story,
        coverage=fold_wire_copies(items),
        first=first,
        publishers=sorted({a.publisher for a in items}),
        timeline=timeline,
        feed_base=f"/story/{story_id}",
    )


# -- search ----------------------------------------------------------------------
def _date(value: str | None, field: str) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    except ValueError as e:
        raise HTTPException(400, f"{field} must be a date like 2026-11-27") from e


def search_filters(
    source_id: str | None,
    language: str | None,
    country: str | None,
    topic: str | None,
    since: str | None,
    until: str | None,
) -> SearchFilters:
    """Filters from query parameters; empty form fields mean no filter."""
    try:
        sid = int(source_id) if source_id else None
    except ValueError as e:
        raise HTTPException(400, "source_id must be a number") from e
    end = _date(until, "until")
    return SearchFilters(
        source_id=sid,
        language=(language or "").strip().lower() or None,
        country=(country or "").strip().upper() or None,
        topic=(topic or "").strip() or None,
        since=_date(since, "since"),
        until=end + timedelta(days=1) if end else None,
    )


PUBLISHER_LIST_SECONDS = 60.0


def _publisher_options(request: Request, selected: str | None) -> Markup:
    """The publisher ``<option>`` list of the search form, built at most once a minute.

    Built as one string rather than looped in the template: with hundreds of
    publishers the loop and its escapes were a quarter of a search page's time.
    """
    cached = getattr(request.app.state, "publisher_options", None)
    if cached is None or time.monotonic() - cached[0] > PUBLISHER_LIST_SECONDS:
        sources = request.app.state.store.sources.list_sources()
        html = "".join(f'<option value="{s.id}">{escape(s.name or "")}</option>' for s in sources)
        cached = (time.monotonic(), html)
        request.app.state.publisher_options = cached
    html = cached[1]
    if selected and selected.isdigit():
        html = html.replace(f'<option value="{selected}">', f'<option value="{selected}" selected>', 1)
    return Markup(html)


@router.get("/search", response_class=HTMLResponse)
def search_page(
    request: Request,
    q: str = "",
    source_id: str | None = None,
    language: str | None = None,
    country: str | None = None,
    topic: str | None = None,
    since: str | None = None,
    until: str | None = None,
    sort: str = "relevance",
    offset: int = 0,
) -> HTMLResponse:
    store = request.app.state.store
    filters = search_filters(source_id, language, country, topic, since, until)
    page = store.search.search(
        q,
        filters=filters,
        limit=request.app.state.settings.page_size,
        offset=max(0, offset),
        sort="date" if sort == "date" else "relevance",
    )
    params = {k: v for k, v in request.query_params.items() if k != "offset"}
    return render(
        request,
        "search.html",
        q=q,
        page=page,
        params=params,
        publisher_options=_publisher_options(request, source_id),
        sort=sort,
        next_url=("?" + urlencode({**params, "offset": page.next_offset})) if page.next_offset else None,
        feed_base="/search",
        feed_query=urlencode(params),
    )


# -- images ------------------------------------------------------------------------
IMAGE_TYPES = {"image/jpeg", "image/png", "image/gif", "image/webp", "image/avif"}
PLACEHOLDER = (
    b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 4 3">'
    b'<rect width="4" height="3" fill="#8884"/></svg>'
)


@router.get("/img/{article_id}")
async def lead_image(request: Request, article_id: int) -> Response:
    """An article's lead image, fetched by the server so readers never contact a third party.

    Only the stored image of a stored article is fetched (no open proxy), through
    the same guarded fetcher as feeds; only raster image types are passed on. When
    the publisher's image cannot be used, a neutral placeholder is served (200,
    ``X-Tidings-Image: unavailable``) so the page shows no broken image.
    """
    cache: dict[int, tuple[bytes, str]] = request.app.state.image_cache
    if article_id not in cache:
        article = request.app.state.store.articles.get(article_id)
        if article is None or not (article.image or "").startswith(("https://", "http://")):
            raise HTTPException(404, "No image.")
        try:
            async with Fetcher(request.app.state.settings) as fetcher:
                got = await fetcher.get(article.image or "", accept="image/*", max_bytes=5_000_000)
            usable = got.status == 200 and got.content_type in IMAGE_TYPES
        except TidingsError:
            usable = False
        if not usable:  # a neutral placeholder, not a broken-image icon; retried later
            return Response(
                PLACEHOLDER,
                media_type="image/svg+xml",
                headers={"Cache-Control": "public, max-age=600", "X-Tidings-Image": "unavailable"},
            )
        if len(cache) > 256:
            cache.pop(next(iter(cache)))
        cache[article_id] = (got.body, got.content_type)
    body, ctype = cache[article_id]
    return Response(body, media_type=ctype, headers={"Cache-Control": "public, max-age=86400"})


# -- admin -------------------------------------------------------------------------
NONCE_COOKIE = "tidings_nonce"
SESSION_COOKIE = "tidings_admin"


def _sign(token: str, purpose: str, nonce: str) -> str:
    return hmac.new(token.encode(), f"{purpose}:{nonce}".encode(), hashlib.sha256).hexdigest()


def _admin_state(request: Request) -> tuple[str, str, bool]:
    """(admin token, nonce, logged in); 404 when the admin area is disabled."""
    token = request.app.state.settings.admin_token
    if not token:
        raise HTTPException(404, "The admin area is disabled (set admin_token to enable it).")
    nonce = request.cookies.get(NONCE_COOKIE) or ""
    session = request.cookies.get(SESSION_COOKIE) or ""
    ok = bool(nonce) and hmac.compare_digest(session, _sign(token, "session", nonce))
    return token, nonce, ok


def _check_csrf(request: Request, form: Any, token: str, nonce: str) -> None:
    origin = request.headers.get("origin")
    # browsers send "null" under Referrer-Policy: no-referrer; the token still decides
    if origin and origin != "null" and origin.rstrip("/") != str(request.base_url).rstrip("/"):
        raise HTTPException(403, "Cross-site form submission refused.")
    sent = str(form.get("csrf") or "")
    if not nonce or not hmac.compare_digest(sent, _sign(token, "csrf", nonce)):
        raise HTTPException(403, "The form expired or did not come from this site; reload it.")


def _set_cookie(response: Response, name: str, value: str, request: Request) -> None:
    response.set_cookie(
        name,
        value,
        httponly=True,
        samesite="strict",
        path="/admin",
        secure=request.url.scheme == "https",
        max_age=8 * 3600,
    )


@router.get("/admin", response_class=HTMLResponse)
def admin_page(request: Request, m: str = "") -> Response:
    token, nonce, ok = _admin_state(request)
    fresh = not nonce
    nonce = nonce or secrets.token_urlsafe(24)
    store = request.app.state.store
    srcs = store.sources.list_sources() if ok else []
    response = render(
        request,
        "admin.html",
        logged_in=ok,
        csrf=_sign(token, "csrf", nonce),
        message=ADMIN_MESSAGES.get(m, ""),
        sources=srcs,
        feeds=store.sources.feeds_for_sources([s.id for s in srcs]) if ok else {},
    )
    response.headers["Cache-Control"] = "no-store"
    if fresh:
        _set_cookie(response, NONCE_COOKIE, nonce, request)
    return response


ADMIN_MESSAGES = {
    "added": "Source added; its feed will be polled on the next run.",
    "removed": "Feed removed.",
    "bye": "Signed out.",
    "exists": "That feed is already subscribed.",
}


def _back(m: str) -> RedirectResponse:
    return RedirectResponse(f"/admin?m={m}", status_code=303)


@router.post("/admin/login")
async def admin_login(request: Request) -> Response:
    token, nonce, _ = _admin_state(request)
    form = await request.form()
    _check_csrf(request, form, token, nonce)
    if not hmac.compare_digest(str(form.get("token") or "").encode(), token.encode()):
        return render(
            request,
            "admin.html",
            status=401,
            logged_in=False,
            csrf=_sign(token, "csrf", nonce),
            message="Wrong token.",
            sources=[],
            feeds={},
        )
    response = _back("")
    _set_cookie(response, SESSION_COOKIE, _sign(token, "session", nonce), request)
    return response


@router.post("/admin/logout")
async def admin_logout(request: Request) -> Response:
    token, nonce, _ = _admin_state(request)
    _check_csrf(request, await request.form(), token, nonce)
    response = _back("bye")
    response.delete_cookie(SESSION_COOKIE, path="/admin")
    response.delete_cookie(NONCE_COOKIE, path="/admin")
    return response


@router.post("/admin/sources")
async def admin_add_source(request: Request) -> Response:
    token, nonce, ok = _admin_state(request)
    form = await request.form()
    _check_csrf(request, form, token, nonce)
    if not ok:
        raise HTTPException(401, "Sign in first.")
    settings = request.app.state.settings
    name = str(form.get("name") or "").strip()[:200]
    feed_url = str(form.get("feed_url") or "").strip()
    country = str(form.get("country") or "").strip().upper()[:2] or None
    language = str(form.get("language") or "").strip().lower()[:8] or None
    if not name or not feed_url:
        raise HTTPException(400, "A name and a feed URL are required.")
    try:
        check_url(feed_url, allow_private=settings.allow_private_addresses)
    except TidingsError as e:
        raise HTTPException(400, f"Feed URL refused: {e}") from e
    store = request.app.state.store
    source = store.sources.add_source(Source(None, name, country=country, language=language))
    _, created = store.sources.add_feed(source.id, feed_url)
    return _back("added" if created else "exists")


@router.post("/admin/feeds/{feed_id}/delete")
async def admin_delete_feed(request: Request, feed_id: int) -> Response:
    token, nonce, ok = _admin_state(request)
    _check_csrf(request, await request.form(), token, nonce)
    if not ok:
        raise HTTPException(401, "Sign in first.")
    request.app.state.store.sources.delete_feed(feed_id)
    return _back("removed")
