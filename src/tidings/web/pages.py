"""Server-rendered HTML pages: home, article, publisher."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from tidings.config import Settings
from tidings.extract import sanitize_html
from tidings.model import attribution
from tidings.web.api import decode_cursor, encode_cursor

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
    return request.app.state.templates.TemplateResponse(request, name, context,
                                                        status_code=status)


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    return render(request, "error.html", status=status, status_code=status, message=message)


@router.get("/", response_class=HTMLResponse)
def home(request: Request, cursor: str | None = None) -> HTMLResponse:
    store = request.app.state.store
    size = request.app.state.settings.page_size
    items = store.articles.latest(size + 1, before=decode_cursor(cursor))
    more = len(items) > size
    items = items[:size]
    return render(request, "home.html", articles=items,
                  next_cursor=encode_cursor(items[-1]) if more and items else None)


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
    return render(request, "publisher.html", source=source,
                  feeds=store.sources.list_feeds(source_id), articles=items,
                  next_cursor=encode_cursor(items[-1]) if more and items else None)
