"""Interactive API docs at ``/api/docs``: Swagger UI served from here, under the strict CSP.

FastAPI's built-in docs page loads Swagger UI from a CDN and starts it with
an inline script, which the reader's Content-Security-Policy forbids. This
page instead takes the assets from the ``swagger-ui-bundle`` package (the
upstream Swagger UI distribution, pinned by the package version) and starts
them with ``static/api-docs.js``, so no third party is contacted and no
inline script runs.

Swagger UI draws a few small images as ``data:`` URLs (a select arrow, a
checkbox tick, a copy button and a model toggle in its stylesheet, the
"loading" spinner in its script), which ``img-src 'self'`` refuses.
``move_images`` takes them out of the stylesheet and the script when the app
is built, and ``/api/docs/img/N`` serves them from here: the CSP stays as
strict as on every other page. These lines are hand-written because Swagger
UI offers no build without inline images.

The newest Swagger UI that ``swagger-ui-bundle`` ships (4.15) renders
OpenAPI 3.0 only, while FastAPI writes 3.1. The page therefore reads
``/api/docs/openapi.json``: the same document, written down to 3.0 by
``openapi_30`` (``"type": "null"`` alternatives become ``nullable``, the
only 3.1 construct our API uses, plus the rest of the JSON-Schema-2020
spellings for safety). ``/openapi.json`` itself stays 3.1.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from fastapi import FastAPI, HTTPException
from fastapi.responses import HTMLResponse, JSONResponse, Response
from markupsafe import escape

# in CSS: url("data:image/svg+xml;charset=utf-8,<svg ...>") and url(data:image/png;base64,...)
_CSS_DATA_URL = re.compile(
    r'url\((?P<q>"?)data:(?P<type>image/[\w.+-]+)(?:;charset=[\w-]+)?(?P<b64>;base64)?,'
    r'(?P<data>(?:[^"\\)]|\\.)*)(?P=q)\)'
)
# in JavaScript: "data:image/svg+xml;base64,..." string literals
_JS_DATA_URL = re.compile(r'"data:(?P<type>image/[\w.+-]+)(?P<b64>;base64),(?P<data>[A-Za-z0-9+/=]*)"')
_CACHE = "public, max-age=86400"


def swagger_dir() -> Path:
    """Where the installed ``swagger-ui-bundle`` keeps Swagger UI's files."""
    from swagger_ui_bundle import swagger_ui_path

    return Path(str(swagger_ui_path))


def move_images(css: str, js: str) -> tuple[str, str, tuple[tuple[str, bytes], ...]]:
    """``css`` and ``js`` with their ``data:`` images replaced by ``/api/docs/img/N``
    URLs, and those images as (media type, bytes), N in order (pure)."""
    images: list[tuple[str, bytes]] = []

    def move(m: re.Match[str], css: bool) -> str:
        data = re.sub(r"\\(.)", r"\1", m["data"])  # CSS string escapes
        images.append((m["type"], base64.b64decode(data) if m["b64"] else unquote(data).encode()))
        url = f"/api/docs/img/{len(images) - 1}"
        return f'url("{url}")' if css else f'"{url}"'

    css = _CSS_DATA_URL.sub(lambda m: move(m, True), css)
    js = _JS_DATA_URL.sub(lambda m: move(m, False), js)
    return css, js, tuple(images)


def openapi_30(node: Any) -> Any:
    """An OpenAPI 3.1 document (or part of one) written as OpenAPI 3.0 (pure)."""
    if isinstance(node, list):
        return [openapi_30(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: openapi_30(v) for k, v in node.items()}
    if isinstance(out.get("openapi"), str) and out["openapi"].startswith("3.1"):
        out["openapi"] = "3.0.3"
    for key in ("anyOf", "oneOf"):
        alts = out.get(key)
        if isinstance(alts, list) and {"type": "null"} in alts:
            rest = [a for a in alts if a != {"type": "null"}]
            del out[key]
            if len(rest) == 1 and "$ref" not in rest[0]:
                out = {**rest[0], **out}
            elif rest:
                out["allOf" if len(rest) == 1 else key] = rest
            out["nullable"] = True
    if isinstance(out.get("type"), list):  # "type": ["string", "null"]
        types = [t for t in out["type"] if t != "null"]
        if len(types) < len(out["type"]):
            out["nullable"] = True
        if len(types) == 1:
            out["type"] = types[0]
        else:
            del out["type"]
            out["anyOf"] = [{"type": t} for t in types]
    if "const" in out:
        out["enum"] = [out.pop("const")]
    for bound, limit in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if isinstance(out.get(bound), int | float) and not isinstance(out[bound], bool):
            out[limit] = out[bound]
            out[bound] = True
    if isinstance(out.get("examples"), list) and "in" not in out and "content" not in out:
        if out["examples"]:
            out.setdefault("example", out["examples"][0])
        del out["examples"]
    return out


def docs_page(title: str) -> str:
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)} · interactive docs</title>\n"
        '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">\n'
        '<link rel="stylesheet" href="/api/docs/swagger-ui.css">\n</head>\n<body>\n'
        f'<main id="swagger-ui" data-openapi-url="/api/docs/openapi.json" aria-label="{escape(title)}">'
        "<p>The interactive docs need JavaScript; the API description itself is "
        '<a href="/openapi.json">/openapi.json</a>.</p></main>\n'
        '<script src="/api/docs/swagger-ui-bundle.js"></script>\n'
        '<script src="/static/api-docs.js"></script>\n</body>\n</html>\n'
    )


def install(app: FastAPI) -> None:
    """Add ``/api/docs`` and its assets to ``app`` (created with ``docs_url=None``)."""
    page = docs_page(app.title)
    here = swagger_dir()
    css, js, images = move_images(
        (here / "swagger-ui.css").read_text(encoding="utf-8"),
        (here / "swagger-ui-bundle.js").read_text(encoding="utf-8"),
    )
    # the source map comment would send a debugger for a file we do not serve
    js = re.sub(r"\n//# sourceMappingURL=\S+\s*$", "\n", js)

    @app.get("/api/docs", include_in_schema=False)
    def api_docs() -> HTMLResponse:
        return HTMLResponse(page)

    @app.get("/api/docs/openapi.json", include_in_schema=False)
    def openapi_for_the_ui() -> JSONResponse:
        return JSONResponse(openapi_30(app.openapi()))

    @app.get("/api/docs/swagger-ui.css", include_in_schema=False)
    def swagger_css() -> Response:
        return Response(css, media_type="text/css", headers={"cache-control": _CACHE})

    @app.get("/api/docs/swagger-ui-bundle.js", include_in_schema=False)
    def swagger_js() -> Response:
        return Response(js, media_type="text/javascript", headers={"cache-control": _CACHE})

    @app.get("/api/docs/img/{number}", include_in_schema=False)
    def image(number: int) -> Response:
        if not 0 <= number < len(images):
            raise HTTPException(404, "no such image")
        kind, body = images[number]
        return Response(body, media_type=kind, headers={"cache-control": _CACHE})
