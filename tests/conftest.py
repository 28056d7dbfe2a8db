"""Shared fixtures: a real HTTP server on 127.0.0.1 serving fixture publishers, and a store.

``publisher_server`` serves the feeds in ``tests/data/feeds`` (with ``{base}``
replaced by the server's address) and the pages in ``tests/data/site``, plus
routes for bad input: HTML served as a feed, 500s, 410, a redirect loop, an
oversized body, a slow response and a malformed feed. Tests may add routes.
Conditional GET is supported for every 200 route through a strong ETag.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import os
import socketserver
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web

from tidings.config import Settings, load_settings
from tidings.store import Store

from .pg import pg_selected, pg_server, pg_url  # noqa: F401  (fixtures for PostgreSQL runs)

DATA = Path(__file__).parent / "data"
SHARED = Path(os.environ.get("TIDINGS_SHARED", Path(__file__).resolve().parents[1].parent / "shared"))


@dataclass
class Route:
    status: int = 200
    body: bytes = b""
    content_type: str = "text/html"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    hits: int = 0


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        route = self.server.routes.get(self.path.split("?", 1)[0])
        if route is None:
            self._send(404, b"not found", "text/plain")
            return
        route.hits += 1
        self.server.log.append(self.path)
        if route.delay:
            time.sleep(route.delay)
        etag = '"' + hashlib.sha256(route.body).hexdigest()[:16] + '"'
        if route.status == 200 and self.headers.get("If-None-Match") == etag:
            self._send(304, b"", None, {"ETag": etag})
            return
        headers = dict(route.headers)
        if route.status == 200:
            headers.setdefault("ETag", etag)
        self._send(route.status, route.body, route.content_type, headers)

    def _send(
        self, status: int, body: bytes, ctype: str | None, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        if ctype:
            self.send_header("Content-Type", ctype)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(body)


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.routes: dict[str, Route] = {}
        self.log: list[str] = []


class PublisherServer:
    """The fixture publishers on a real socket."""

    def __init__(self) -> None:
        self._server = _Server()
        self.base = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.routes = self._server.routes
        self.log = self._server.log
        self._install_defaults()

    def url(self, path: str) -> str:
        return self.base + path

    def add(
        self,
        path: str,
        body: bytes | str = b"",
        *,
        status: int = 200,
        content_type: str = "text/html",
        **kw: object,
    ) -> Route:
        data = body.encode("utf-8") if isinstance(body, str) else body
        route = Route(status=status, body=data, content_type=content_type, **kw)  # type: ignore[arg-type]
        self.routes[path] = route
        return route

    def feed(self, name: str) -> bytes:
        return (DATA / "feeds" / name).read_text(encoding="utf-8").replace("{base}", self.base).encode()

    def _install_defaults(self) -> None:
        site = DATA / "site"
        self.add("/planet/", (site / "planet-home.html").read_bytes())
        self.add("/planet/rss.xml", self.feed("planet.rss"), content_type="application/rss+xml")
        self.add("/planet/a1.html", (site / "planet-a1.html").read_bytes())
        self.add("/planet/a2.html", (site / "planet-a2.html").read_bytes())
        # /planet/gone.html is deliberately absent: 404
        self.add("/gazette/atom.xml", self.feed("gazette.atom"), content_type="application/atom+xml")
        self.add(
            "/gazette/g1.html",
            (site / "gazette-g1.html").read_bytes(),
            content_type="text/html; charset=utf-8",
        )
        self.add("/gazette/g2.html", (site / "gazette-g2.html").read_bytes())
        self.add("/wire/feed.json", self.feed("wire.json"), content_type="application/feed+json")
        self.add("/wire/empty.html", (site / "empty-page.html").read_bytes())
        self.add("/sitemap/news.xml", self.feed("news-sitemap.xml"), content_type="application/xml")
        # bad input
        self.add(
            "/bad/html-as-feed.xml",
            (site / "planet-a2.html").read_bytes(),
            content_type="application/rss+xml",
        )
        self.add("/bad/500.xml", b"oops", status=500, content_type="text/plain")
        self.add("/bad/410.xml", b"gone", status=410, content_type="text/plain")
        self.add("/bad/loop-a.xml", b"", status=302, headers={"Location": "/bad/loop-b.xml"})
        self.add("/bad/loop-b.xml", b"", status=302, headers={"Location": "/bad/loop-a.xml"})
        self.add("/bad/huge.xml", b"<rss>" + b"x" * 3_000_000 + b"</rss>", content_type="application/rss+xml")
        self.add("/bad/slow.xml", self.feed("planet.rss"), delay=6.0, content_type="application/rss+xml")
        self.add(
            "/bad/malformed.xml",
            b"<?xml version='1.0'?><rss><channel><title>x</titl",
            content_type="application/rss+xml",
        )
        self.add("/bad/empty.xml", b"", content_type="application/rss+xml")

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def publisher_server() -> Iterator[PublisherServer]:
    server = PublisherServer()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The test's database: a temp SQLite file, or with ``TIDINGS_TEST_DATABASE=postgresql``
    a fresh PostgreSQL database (tests/pg.py); tests marked ``sqlite_only`` stay on SQLite."""
    if pg_selected() and request.node.get_closest_marker("sqlite_only") is None:
        return str(request.getfixturevalue("pg_url"))
    return f"sqlite:///{tmp_path / 'tidings.db'}"


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Settings for tests: a temp SQLite file, private addresses allowed, short deadlines."""
    return load_settings(
        environ={},
        config_file=None,
        database_url=database_url,
        allow_private_addresses=True,
        request_timeout=10.0,
        max_body_bytes=2_000_000,
        request_spacing=0.0,
    )


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    st = Store(settings.database_url)
    try:
        yield st
    finally:
        st.close()


@pytest.fixture
def cli_env(database_url: str) -> dict[str, str]:
    """Environment for running the `tidings` command against a temp database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIDINGS_")}
    env.update(
        {
            "TIDINGS_DATABASE_URL": database_url,
            "TIDINGS_ALLOW_PRIVATE_ADDRESSES": "true",
            "TIDINGS_REQUEST_TIMEOUT": "10",
            "TIDINGS_MAX_BODY_BYTES": "2000000",
            "TIDINGS_REQUEST_SPACING": "0",
        }
    )
    return env


def shared_path(*parts: str) -> Path:
    """A path under ../shared, or skip the test when that material is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"../shared material not available ({path}); skipped outside the dev checkout")
    return path


@asynccontextmanager
async def serve_aiohttp(app: web.Application, host: str = "127.0.0.1") -> AsyncIterator[str]:
    """Serve an aiohttp application on a free port of ``host``; yields its base URL."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()
