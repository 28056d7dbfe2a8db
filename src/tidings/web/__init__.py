"""The web reader, JSON API and outgoing feeds: a thin shell over the store.

``create_app(settings, store)`` builds a FastAPI application. HTML pages are
server-rendered with Jinja2 and work without JavaScript; every page carries a
strict Content-Security-Policy and no third-party requests. Routes live in
``pages.py`` (HTML) and ``api.py`` (JSON).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.responses import Response

from tidings.config import Settings
from tidings.store import Store
from tidings.web import api, pages

HERE = Path(__file__).parent

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' https: http:; "
       "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
       "base-uri 'none'")


class SecurityHeaders(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        if request.url.path not in ("/api/docs", "/api/redoc"):
            response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        return response


def create_app(settings: Settings, store: Store) -> FastAPI:
    app = FastAPI(title=f"{settings.site_name} API", version="0.1.0",
                  docs_url="/api/docs", redoc_url=None, openapi_url="/openapi.json")
    app.state.settings = settings
    app.state.store = store
    app.state.templates = pages.make_templates(settings)
    app.add_middleware(SecurityHeaders)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.include_router(api.router)
    app.include_router(pages.router)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": {"status": exc.status_code, "message": exc.detail}},
                                status_code=exc.status_code)
        return pages.error_page(request, exc.status_code, str(exc.detail))

    return app
