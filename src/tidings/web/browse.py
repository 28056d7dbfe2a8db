"""Browse by what the news is about: entity, country, country-pair and topic pages, and their API.

HTML: ``/entities`` (the most mentioned people, organisations, places and
countries), ``/entity/{id}``, ``/country/{code}``, ``/countries/{a}-{b}`` and
``/topic/{name}``. Each lists stories newest first (each story's newest article,
with a link to its full coverage; keyset cursor, as on the other pages) under a
small server-rendered SVG chart of stories per day over the last 30 days: no
JavaScript, nothing but SVG presentation attributes, so the strict CSP holds.
JSON: ``/api/countries``, ``/api/countries/{a}-{b}``, ``/api/topics`` and
``/api/entities/{id}`` (aliases and counts per day).

``install(app)`` adds the routes and a template helper, ``enrichment_tags``,
that the article page uses to link its people, places, countries, country
pairs and topic here.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup, escape

from tidings.model import Entity
from tidings.store import Store
from tidings.web.api import article_json, decode_cursor, encode_cursor

router = APIRouter(include_in_schema=False)
api_router = APIRouter(prefix="/api", tags=["api"])

CHART_DAYS = 30
KIND_LABELS = {"person": "People", "org": "Organisations", "place": "Places", "country": "Countries"}


def chart_svg(counts: list[tuple[date, int]], *, label: str, width: int = 600, height: int = 120) -> Markup:
    """A bar chart of counts per day as inline SVG (accessible: a title and one <title> per bar)."""
    n = max(1, len(counts))
    top = max((c for _, c in counts), default=0)
    plot_h = height - 22
    bar_w = width / n
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" height="{height}" '
        f'role="img" aria-labelledby="chart-title" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="chart-title">{escape(label)}: stories per day, last {n} days, '
        f"at most {top} a day</title>",
        f'<line x1="0" y1="{plot_h}" x2="{width}" y2="{plot_h}" stroke="currentColor" stroke-opacity="0.3"/>',
    ]
    for k, (day, count) in enumerate(counts):
        h = 0 if top == 0 else max(2.0, plot_h * count / top) if count else 0
        x = k * bar_w + 1
        parts.append(
            f'<rect x="{x:.1f}" y="{plot_h - h:.1f}" width="{max(1.0, bar_w - 2):.1f}" '
            f'height="{h:.1f}" fill="currentColor" fill-opacity="0.75">'
            f"<title>{day.isoformat()}: {count}</title></rect>"
        )
    if counts:
        parts.append(
            f'<text x="0" y="{height - 4}" font-size="11" fill="currentColor">'
            f"{counts[0][0].strftime('%d %b')}</text>"
        )
        parts.append(
            f'<text x="{width}" y="{height - 4}" font-size="11" fill="currentColor" '
            f'text-anchor="end">{counts[-1][0].strftime("%d %b")}</text>'
        )
        parts.append(
            f'<text x="{width}" y="11" font-size="11" fill="currentColor" text-anchor="end">max {top}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def _store(request: Request) -> Store:
    return request.app.state.store  # type: ignore[no-any-return]


def _render(request: Request, **context: Any) -> HTMLResponse:
    return request.app.state.templates.TemplateResponse(request, "browse.html", context)  # type: ignore[no-any-return]


def _page(request: Request, cursor: str | None, **where: Any) -> tuple[list[Any], str | None]:
    """One page of stories, newest first: each story's newest article (a lone article is its own).

    Reads up to three pages of articles to fill one page of stories; the cursor is the last
    article read, so the next page goes on from there.
    """
    size = request.app.state.settings.page_size
    limit = 3 * size
    items = _store(request).entities.articles(limit, before=decode_cursor(cursor), **where)
    seen: set[int] = set()
    out: list[Any] = []
    last = None
    for a in items:
        if len(out) == size:
            break
        last = a
        key = a.story_id if a.story_id is not None else -(a.id or 0)
        if key not in seen:
            seen.add(key)
            out.append(a)
    more = last is not None and (last is not items[-1] or len(items) == limit)
    return out, (encode_cursor(last) if more and last is not None else None)


def _pair_codes(pair: str) -> tuple[str, str]:
    a, sep, b = pair.upper().partition("-")
    if not sep or len(a) != 2 or len(b) != 2 or not (a + b).isalpha() or a == b:
        raise HTTPException(404, "A country pair looks like /countries/CA-IN.")
    return (a, b) if a < b else (b, a)


def _pair_entities(store: Store, pair: str) -> tuple[Entity, Entity]:
    a, b = _pair_codes(pair)
    found = store.entities.countries_by_code([a, b])
    if a not in found or b not in found:
        raise HTTPException(404, "Nothing about this pair of countries yet.")
    return found[a], found[b]


# -- HTML ------------------------------------------------------------------------


@router.get("/entities", response_class=HTMLResponse)
def entities_page(request: Request) -> HTMLResponse:
    store = _store(request)
    groups = [(KIND_LABELS[k], store.entities.top(30, kind=k)) for k in KIND_LABELS]
    return _render(
        request,
        heading="People, places and organisations in the news",
        groups=groups,
        pairs=store.entities.top_pairs(20),
        topics=store.entities.topics(),
        articles=[],
        chart=None,
    )


@router.get("/entity/{entity_id}", response_class=HTMLResponse)
def entity_page(request: Request, entity_id: int, cursor: str | None = None) -> HTMLResponse:
    store = _store(request)
    entity = store.entities.get(entity_id)
    if entity is None:
        raise HTTPException(404, "No such person, organisation or place.")
    if entity.kind == "country" and entity.code:
        return country_page(request, entity.code, cursor)
    items, next_cursor = _page(request, cursor, entity_id=entity_id)
    chart = chart_svg(store.entities.daily_counts(CHART_DAYS, entity_id=entity_id), label=entity.name)
    return _render(
        request,
        heading=entity.name,
        entity=entity,
        kind=entity.kind,
        aliases=entity.aliases,
        chart=chart,
        articles=items,
        next_cursor=next_cursor,
    )


@router.get("/country/{code}", response_class=HTMLResponse)
def country_page(request: Request, code: str, cursor: str | None = None) -> HTMLResponse:
    store = _store(request)
    country = store.entities.country(code) if len(code) == 2 and code.isalpha() else None
    if country is None or country.id is None:
        raise HTTPException(404, "Nothing about this country yet.")
    items, next_cursor = _page(request, cursor, entity_id=country.id)
    chart = chart_svg(store.entities.daily_counts(CHART_DAYS, entity_id=country.id), label=country.name)
    return _render(
        request,
        heading=country.name,
        entity=country,
        kind="country",
        chart=chart,
        pairs=store.entities.top_pairs(12, code=country.code),
        articles=items,
        next_cursor=next_cursor,
    )


@router.get("/countries/{pair}", response_class=HTMLResponse)
def pair_page(request: Request, pair: str, cursor: str | None = None) -> HTMLResponse:
    store = _store(request)
    a, b = _pair_entities(store, pair)
    assert a.id is not None and b.id is not None
    items, next_cursor = _page(request, cursor, pair=(a.id, b.id))
    title = f"{a.name}–{b.name}"
    chart = chart_svg(store.entities.daily_counts(CHART_DAYS, pair=(a.id, b.id)), label=title)
    return _render(
        request, heading=title, pair=(a, b), kind="pair", chart=chart, articles=items, next_cursor=next_cursor
    )


@router.get("/topic/{name}", response_class=HTMLResponse)
def topic_page(request: Request, name: str, cursor: str | None = None) -> HTMLResponse:
    store = _store(request)
    items, next_cursor = _page(request, cursor, topic=name)
    if not items and not cursor:
        raise HTTPException(404, "Nothing on this topic yet.")
    chart = chart_svg(store.entities.daily_counts(CHART_DAYS, topic=name), label=name.capitalize())
    return _render(
        request,
        heading=name.capitalize(),
        kind="topic",
        topic=name,
        chart=chart,
        articles=items,
        next_cursor=next_cursor,
    )


# -- JSON ------------------------------------------------------------------------


def _entity_json(e: Entity) -> dict[str, Any]:
    return {"id": e.id, "kind": e.kind, "name": e.name, "code": e.code}


def _counts_json(counts: list[tuple[date, int]]) -> list[dict[str, Any]]:
    return [{"date": d.isoformat(), "stories": c} for d, c in counts]


@api_router.get("/countries")
def list_countries(request: Request, limit: int = Query(100, ge=1, le=500)) -> dict[str, Any]:
    """Countries by the number of articles about them, and the commonest country pairs."""
    store = _store(request)
    return {
        "items": [
            {**_entity_json(r.entity), "articles": r.articles}
            for r in store.entities.top(limit, kind="country")
        ],
        "pairs": [
            {"a": p.a.code, "b": p.b.code, "name": f"{p.a.name}–{p.b.name}", "articles": p.articles}
            for p in store.entities.top_pairs(limit)
        ],
    }


@api_router.get("/countries/{pair}")
def get_pair(
    request: Request, pair: str, cursor: str | None = None, limit: int = Query(30, ge=1, le=200)
) -> dict[str, Any]:
    """One country pair ("CA-IN"): stories per day over 30 days and the articles, newest first."""
    store = _store(request)
    a, b = _pair_entities(store, pair)
    assert a.id is not None and b.id is not None
    items = store.entities.articles(limit + 1, before=decode_cursor(cursor), pair=(a.id, b.id))
    more = len(items) > limit
    items = items[:limit]
    site = request.app.state.settings.site_name
    return {
        "a": _entity_json(a),
        "b": _entity_json(b),
        "per_day": _counts_json(store.entities.daily_counts(CHART_DAYS, pair=(a.id, b.id))),
        "items": [article_json(x, site) for x in items],
        "next_cursor": encode_cursor(items[-1]) if more and items else None,
    }


@api_router.get("/topics")
def list_topics(request: Request) -> dict[str, Any]:
    """Topics with their article counts, commonest first."""
    return {"items": [{"topic": t, "articles": n} for t, n in _store(request).entities.topics()]}


@api_router.get("/entities/{entity_id}")
def get_entity(request: Request, entity_id: int) -> dict[str, Any]:
    """One entity with its aliases and stories per day over the last 30 days."""
    store = _store(request)
    entity = store.entities.get(entity_id)
    if entity is None:
        raise HTTPException(404, f"no entity {entity_id}")
    return {
        **_entity_json(entity),
        "aliases": list(entity.aliases),
        "per_day": _counts_json(store.entities.daily_counts(CHART_DAYS, entity_id=entity_id)),
    }


def enrichment_tags(store: Store, article_id: int | None) -> dict[str, Any]:
    """What an article page links to: its entities by kind, country pairs and topic."""
    if article_id is None:
        return {}
    found = store.entities.of_article(article_id)
    countries = [e for e, _ in found if e.kind == "country" and e.code][:4]
    pairs = [(a, b) for i, a in enumerate(countries) for b in countries[i + 1 :]]
    pairs = [(a, b) if (a.code or "") < (b.code or "") else (b, a) for a, b in pairs]
    info = store.entities.enrichment_of(article_id)
    return {
        "people": [e for e, _ in found if e.kind == "person"][:12],
        "orgs": [e for e, _ in found if e.kind == "org"][:12],
        "places": [e for e, _ in found if e.kind == "place"][:12],
        "countries": countries,
        "pairs": pairs,
        "topic": (info["topics"] or [None])[0],
        "summary": info["summary"],
        "keywords": info["keywords"],
    }


def install(app: FastAPI) -> None:
    """Add the browse routes and the article page's ``enrichment_tags`` helper."""
    app.include_router(api_router)
    app.include_router(router)
    store = app.state.store
    app.state.templates.env.globals["enrichment_tags"] = lambda aid: enrichment_tags(store, aid)
    app.state.templates.env.globals["chart_days"] = CHART_DAYS
