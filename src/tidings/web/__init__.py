"""The web reader, JSON API and outgoing feeds: a thin shell over the store.

``create_app(settings, store)`` builds a FastAPI application. HTML pages are
server-rendered with Jinja2 and work without JavaScript; every page carries a
strict Content-Security-Policy and no third-party requests (images too are
served from here, see ``pages.lead_image``; the interactive API docs too,
see ``apidocs.py``). Routes live in ``pages.py`` (HTML), ``api.py`` (JSON)
and ``feeds.py`` (RSS, Atom, JSON Feed).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tidings.config import Settings, load_settings
from tidings.store import Store
from tidings.web import api, apidocs, browse, feeds, ops, pages
from tidings.web.gate import AdmissionGate, default_slots

HERE = Path(__file__).parent

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'"
)


_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
]


class SecurityHeaders:
    """Adds the CSP and friends to every response (plain ASGI: no per-request task overhead)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                headers += [(k, v) for k, v in _HEADERS if k not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(settings: Settings, store: Store) -> FastAPI:
    app = FastAPI(
        title=f"{settings.site_name} API",
        version="0.1.0",
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.settings = settings
    app.state.store = store
    app.state.templates = pages.make_templates(settings)
    app.state.image_cache = {}
    app.add_middleware(SecurityHeaders)
    slots = settings.request_slots or default_slots(store.engine.dialect.name)
    app.add_middleware(AdmissionGate, slots=slots)  # outermost: a waiting request costs nothing
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.include_router(ops.router)
    app.include_router(api.router)
    apidocs.install(app)  # /api/docs: Swagger UI from the swagger-ui-bundle package
    browse.install(app)  # entity, country, country-pair and topic pages (web/browse.py)
    app.include_router(feeds.router)
    app.include_router(pages.router)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        location = (exc.headers or {}).get("Location")
        if 300 <= exc.status_code < 400 and location:  # a moved story (api.no_story)
            return RedirectResponse(location, status_code=exc.status_code)
        if request.url.path.startswith("/api/"):
            return JSONResponse(
                {"error": {"status": exc.status_code, "message": exc.detail}}, status_code=exc.status_code
            )
        return pages.error_page(request, exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}" for e in exc.errors()
        )
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": {"status": 422, "message": problems}}, status_code=422)
        return pages.error_page(request, 400, f"Bad request: {problems}")

    return app


def app_from_environment() -> FastAPI:
    """The app of one ``tidings serve --workers N`` process (uvicorn's factory): settings from
    the ``TIDINGS_*`` environment and the settings file, as ``load_settings`` finds them."""
    settings = load_settings()
    return create_app(settings, Store(settings.database_url, migrate=False))
