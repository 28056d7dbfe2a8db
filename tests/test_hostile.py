"""Hostile servers and documents, each against a real server on 127.0.0.1.

Every case must end as a ``TidingsError`` (which the pipeline records on the
feed) within its deadline, never as a hang, a crash or a leak. The servers
are aiohttp apps or raw asyncio stream servers started inside each test.

The "public-looking name redirects to 127.0.0.1" cases need a server the
guard considers public. Rather than weaken the guard, they use the
``GuardedResolver`` test hook: the name ``news.public.test`` is answered with
``127.0.0.2`` and that single address is treated as public; the fetcher runs
with ``allow_private_addresses=False``, so the redirect target is judged by
the production rules.
"""

from __future__ import annotations

import asyncio
import gzip
import shutil
import ssl
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tidings.config import Settings
from tidings.errors import (
    BlockedAddress,
    ConnectError,
    EmptyBody,
    FetchTimeout,
    InvalidURL,
    NotAFeed,
    ParseError,
    TidingsError,
    TooLarge,
    TooManyRedirects,
)
from tidings.fetch import Fetcher, GuardedResolver
from tidings.model import ParsedFeed
from tidings.parse import parse_feed

from .conftest import serve_aiohttp

DEADLINE = 1.5
SETTINGS = Settings(
    allow_private_addresses=True,
    request_timeout=DEADLINE,
    connect_timeout=1.0,
    request_spacing=0.0,
    max_body_bytes=2_000_000,
    max_redirects=5,
    max_items_per_feed=500,
)


def run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(coro)  # type: ignore[arg-type]


@asynccontextmanager
async def serve_app(
    routes: dict[str, Callable[[web.Request], Awaitable[web.StreamResponse]]], host: str = "127.0.0.1"
) -> AsyncIterator[str]:
    app = web.Application()
    for path, handler in routes.items():
        app.router.add_get(path, handler)
    async with serve_aiohttp(app, host) as url:
        yield url


@asynccontextmanager
async def serve_raw(
    handler: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
    ssl_context: ssl.SSLContext | None = None,
) -> AsyncIterator[int]:
    async def guarded(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await handler(reader, writer)
        except (ConnectionError, asyncio.CancelledError, ssl.SSLError, OSError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(guarded, "127.0.0.1", 0, ssl=ssl_context)
    port = server.sockets[0].getsockname()[1]
    try:
        yield port
    finally:
        server.close()


async def fetch_and_parse(
    url: str, settings: Settings = SETTINGS, resolver: GuardedResolver | None = None
) -> ParsedFeed:
    async with Fetcher(settings, resolver=resolver) as f:
        r = await f.get(url)
    return parse_feed(
        r.body, r.url, content_type=r.headers.get("content-type"), max_items=settings.max_items_per_feed
    )


def expect_error(
    kind: type[TidingsError],
    url: str,
    *,
    within: float = DEADLINE + 1.0,
    settings: Settings = SETTINGS,
    resolver: GuardedResolver | None = None,
) -> TidingsError:
    async def go() -> TidingsError:
        started = time.monotonic()
        try:
            await fetch_and_parse(url, settings, resolver)
        except TidingsError as e:
            assert time.monotonic() - started <= within, f"took {time.monotonic() - started:.1f}s"
            return e
        raise AssertionError(f"no error for {url}")

    error = run(go())
    assert isinstance(error, kind), f"{type(error).__name__}: {error}"
    return error


async def _read_request(reader: asyncio.StreamReader) -> None:
    await reader.readuntil(b"\r\n\r\n")


# -- slow, endless, huge ------------------------------------------------------


def test_one_byte_per_second_hits_the_deadline() -> None:
    async def slowloris(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        for byte in b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n\r\n<rss>":
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(1.0)

    async def go() -> None:
        async with serve_raw(slowloris) as port:
            started = time.monotonic()
            with pytest.raises(FetchTimeout):
                await fetch_and_parse(f"http://127.0.0.1:{port}/feed")
            assert time.monotonic() - started < DEADLINE + 0.5

    run(go())


def test_slow_body_after_fast_headers_hits_the_deadline() -> None:
    async def drip(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "application/rss+xml"})
        await resp.prepare(request)
        for _ in range(100):
            await resp.write(b" ")
            await asyncio.sleep(0.5)
        return resp

    async def go() -> None:
        async with serve_app({"/f": drip}) as base:
            with pytest.raises(FetchTimeout):
                await fetch_and_parse(base + "/f")

    run(go())


def test_endless_chunked_body_is_cut_at_the_limit() -> None:
    async def endless(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: application/rss+xml\r\n\r\n"
        )
        chunk = b"<item>" * 10_000
        while True:
            writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            await writer.drain()

    async def go() -> None:
        async with serve_raw(endless) as port:
            with pytest.raises(TooLarge):
                await fetch_and_parse(f"http://127.0.0.1:{port}/feed")

    run(go())


def test_declared_one_gigabyte_refused_before_reading() -> None:
    async def huge(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Length: 1000000000\r\nContent-Type: application/rss+xml\r\n\r\n"
        )
        block = b"\0" * 65536
        for _ in range(1_000_000_000 // 65536):
            writer.write(block)
            await writer.drain()

    async def go() -> None:
        async with serve_raw(huge) as port:
            started = time.monotonic()
            with pytest.raises(TooLarge):
                await fetch_and_parse(f"http://127.0.0.1:{port}/feed")
            assert time.monotonic() - started < 1.0

    run(go())


def test_undeclared_one_gigabyte_cut_at_the_limit() -> None:
    async def huge(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "application/rss+xml"})
        await resp.prepare(request)
        block = b"x" * 65536
        for _ in range(1_000_000_000 // 65536):
            await resp.write(block)
        return resp

    expect_error_app({"/f": huge}, "/f", TooLarge)


def test_gzip_bomb_stops_at_the_decompressed_limit() -> None:
    bomb = gzip.compress(b"\0" * 200_000_000, compresslevel=9)  # ~200 KB on the wire
    assert len(bomb) < SETTINGS.max_body_bytes

    async def serve_bomb(request: web.Request) -> web.Response:
        return web.Response(
            body=bomb, headers={"Content-Encoding": "gzip", "Content-Type": "application/rss+xml"}
        )

    expect_error_app({"/f": serve_bomb}, "/f", TooLarge)


def expect_error_app(
    routes: dict[str, Callable[[web.Request], Awaitable[web.StreamResponse]]],
    path: str,
    kind: type[TidingsError],
) -> TidingsError:
    async def go() -> TidingsError:
        async with serve_app(routes) as base:
            started = time.monotonic()
            try:
                await fetch_and_parse(base + path)
            except TidingsError as e:
                assert time.monotonic() - started <= DEADLINE + 1.0
                return e
        raise AssertionError("no error")

    error = run(go())
    assert isinstance(error, kind), f"{type(error).__name__}: {error}"
    return error


# -- redirects ------------------------------------------------------------------


def test_redirect_loop() -> None:
    async def a(request: web.Request) -> web.Response:
        raise web.HTTPFound("/b")

    async def b(request: web.Request) -> web.Response:
        raise web.HTTPFound("/a")

    expect_error_app({"/a": a, "/b": b}, "/a", TooManyRedirects)


def test_long_redirect_chain() -> None:
    async def hop(request: web.Request) -> web.Response:
        n = int(request.match_info["n"])
        raise web.HTTPMovedPermanently(f"/hop/{n + 1}")

    async def go() -> None:
        app = web.Application()
        app.router.add_get("/hop/{n}", hop)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        try:
            with pytest.raises(TooManyRedirects, match="more than 5"):
                await fetch_and_parse(f"http://127.0.0.1:{port}/hop/0")
        finally:
            await runner.cleanup()

    run(go())


def _public_test_resolver(**extra: list[str]) -> GuardedResolver:
    """``news.public.test`` -> 127.0.0.2, treated as public; everything else by the real rules."""
    return GuardedResolver(
        False,
        static_hosts={"news.public.test": ["127.0.0.2"], **extra},
        treat_as_public=frozenset({"127.0.0.2"}),
    )


@pytest.mark.parametrize(
    "target",
    [
        "http://127.0.0.1:{port}/secret",
        "http://169.254.169.254/latest/meta-data/",
        "http://2130706433:{port}/secret",
        "http://[::ffff:127.0.0.1]:{port}/secret",
        "http://internal.test:{port}/secret",  # a name that resolves to 127.0.0.1
        "file:///etc/passwd",
        "gopher://127.0.0.1:{port}/_GET",
    ],
)
def test_redirect_from_public_name_to_private_address_refused(target: str) -> None:
    hits: list[str] = []

    async def secret(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(text="<rss><channel><title>internal</title></channel></rss>")

    async def go() -> None:
        async with serve_app({"/secret": secret}, host="127.0.0.1") as inner:
            port = int(inner.rsplit(":", 1)[1])

            async def redirect(request: web.Request) -> web.Response:
                raise web.HTTPFound(target.format(port=port))

            async with serve_app({"/feed": redirect}, host="127.0.0.2") as outer:
                outer_port = int(outer.rsplit(":", 1)[1])
                settings = SETTINGS.replace(allow_private_addresses=False)
                resolver = _public_test_resolver(**{"internal.test": ["127.0.0.1"]})
                with pytest.raises(InvalidURL) as info:
                    await fetch_and_parse(f"http://news.public.test:{outer_port}/feed", settings, resolver)
                if "file:" in target or "gopher:" in target:
                    assert "scheme" in str(info.value)
                else:
                    assert isinstance(info.value, BlockedAddress)
        assert hits == []

    run(go())


def test_public_test_hook_reaches_its_own_server() -> None:
    """Control for the test above: without a redirect, the 'public' server is reached."""

    async def feed(request: web.Request) -> web.Response:
        return web.Response(
            text="<rss version='2.0'><channel><title>ok</title>"
            "<item><link>https://x.example/1</link></item></channel></rss>",
            content_type="application/rss+xml",
        )

    async def go() -> ParsedFeed:
        async with serve_app({"/feed": feed}, host="127.0.0.2") as outer:
            port = int(outer.rsplit(":", 1)[1])
            return await fetch_and_parse(
                f"http://news.public.test:{port}/feed",
                SETTINGS.replace(allow_private_addresses=False),
                _public_test_resolver(),
            )

    assert run(go()).title == "ok"


def test_dns_answer_to_loopback_refused_at_connect() -> None:
    """A name whose DNS answer is loopback (rebinding) is refused by the resolver itself."""

    async def go() -> None:
        async with serve_app({"/f": lambda r: asyncio.sleep(0, web.Response(text="x"))}) as base:
            port = int(base.rsplit(":", 1)[1])
            resolver = _public_test_resolver(**{"rebind.test": ["127.0.0.1", "10.0.0.1"]})
            with pytest.raises(BlockedAddress):
                await fetch_and_parse(
                    f"http://rebind.test:{port}/f", SETTINGS.replace(allow_private_addresses=False), resolver
                )

    run(go())


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://127.0.0.1/feed", "gopher://127.0.0.1:70/", "javascript:alert(1)"]
)
def test_non_http_schemes_refused(url: str) -> None:
    expect_error(InvalidURL, url)


@pytest.mark.parametrize(
    "host", ["2130706433", "0x7f.1", "017700000001", "127.1", "[::1]", "[::ffff:127.0.0.1]"]
)
def test_loopback_spellings_refused_without_connecting(host: str) -> None:
    hits: list[str] = []

    async def feed(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(text="<rss/>")

    async def go() -> None:
        async with serve_app({"/f": feed}) as base:
            port = base.rsplit(":", 1)[1]
            with pytest.raises(BlockedAddress):
                await fetch_and_parse(
                    f"http://{host}:{port}/f", SETTINGS.replace(allow_private_addresses=False)
                )

    run(go())
    assert hits == []


# -- bad documents ----------------------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE rss [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<rss version="2.0"><channel><title>&lol9;</title>
<item><title>&lol9;</title><link>https://x.example/1</link></item></channel></rss>"""


def serve_doc(
    body: bytes, content_type: str = "application/rss+xml"
) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=body, headers={"Content-Type": content_type})

    return handler


def fetch_doc(body: bytes, content_type: str = "application/rss+xml") -> ParsedFeed | TidingsError:
    async def go() -> ParsedFeed | TidingsError:
        async with serve_app({"/f": serve_doc(body, content_type)}) as base:
            started = time.monotonic()
            try:
                return await fetch_and_parse(base + "/f")
            except TidingsError as e:
                return e
            finally:
                assert time.monotonic() - started < DEADLINE + 1.0

    return run(go())  # type: ignore[no-any-return]


def test_billion_laughs_never_expands() -> None:
    result = fetch_doc(BILLION_LAUGHS)
    if isinstance(result, ParsedFeed):
        text = repr(result)
        assert "lollollol" not in text and len(text) < 10_000
    else:
        assert isinstance(result, ParseError)


def test_external_entity_never_read() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        secret = Path(tmp) / "secret.txt"
        secret.write_text("TOP-SECRET-CONTENT")
        doc = (
            f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY xxe SYSTEM "{secret.as_uri()}">]>'
            '<rss version="2.0"><channel><title>t</title><item><title>&xxe;</title>'
            "<link>https://x.example/1</link><description>&xxe;</description></item>"
            "</channel></rss>"
        ).encode()
        result = fetch_doc(doc)
    assert "TOP-SECRET-CONTENT" not in repr(result)


def test_invalid_utf8_is_recovered_or_refused() -> None:
    doc = (
        b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Caf\xe9 \xff\xfe'
        b"</title><item><title>Na\xefve \x80</title><link>https://x.example/1</link></item>"
        b"</channel></rss>"
    )
    result = fetch_doc(doc, "application/rss+xml; charset=utf-8")
    if isinstance(result, ParsedFeed):
        assert len(result.entries) == 1 and result.entries[0].link == "https://x.example/1"
        assert all(isinstance(e.title, str) for e in result.entries)
    else:
        assert isinstance(result, ParseError)


def test_wrong_declared_charset() -> None:
    doc = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
        "<item><title>Élection à Genève</title><link>https://x.example/1</link></item>"
        "</channel></rss>"
    ).encode("windows-1252")
    result = fetch_doc(doc, "text/xml; charset=utf-8")
    assert isinstance(result, ParsedFeed), result
    title = result.entries[0].title or ""
    assert "lection" in title and "Gen" in title


def test_html_served_as_feed() -> None:
    doc = b"<!DOCTYPE html><html><head><title>Home</title></head><body><p>hi</p></body></html>"
    assert isinstance(fetch_doc(doc, "application/rss+xml"), NotAFeed)


def test_200_that_is_really_an_error_page() -> None:
    doc = b"<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>"
    assert isinstance(fetch_doc(doc, "text/xml"), NotAFeed)
    assert isinstance(fetch_doc(b"Internal error, try later", "text/plain"), ParseError)


def test_empty_body_is_an_error() -> None:
    expect_error_app({"/f": serve_doc(b"")}, "/f", EmptyBody)
    expect_error_app({"/f": serve_doc(b"  \n\t ")}, "/f", EmptyBody)


def test_hundred_thousand_items_are_capped() -> None:
    items = b"".join(
        b"<item><title>t%d</title><link>https://x.example/%d</link></item>" % (i, i) for i in range(100_000)
    )
    doc = (
        b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>big</title>'
        + items
        + b"</channel></rss>"
    )
    assert len(doc) < SETTINGS.max_body_bytes * 4

    async def go() -> ParsedFeed:
        async with serve_app({"/f": serve_doc(doc)}) as base:
            started = time.monotonic()
            parsed = await fetch_and_parse(
                base + "/f", SETTINGS.replace(max_body_bytes=10_000_000, request_timeout=10.0)
            )
            assert time.monotonic() - started < 10.0
            return parsed

    parsed = run(go())
    assert len(parsed.entries) == SETTINGS.max_items_per_feed
    assert parsed.entries[0].link == "https://x.example/0"


# -- TLS ------------------------------------------------------------------------------


def test_tls_handshake_garbage() -> None:
    async def not_tls(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(100)
        writer.write(b"HTTP/1.1 400 Bad Request\r\n\r\nthis is not TLS")
        await writer.drain()

    async def go() -> None:
        async with serve_raw(not_tls) as port:
            with pytest.raises(ConnectError):
                await fetch_and_parse(f"https://127.0.0.1:{port}/feed")

    run(go())


def test_tls_silent_server_hits_the_deadline() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(10)

    async def go() -> None:
        async with serve_raw(silent) as port:
            started = time.monotonic()
            with pytest.raises((FetchTimeout, ConnectError)):
                await fetch_and_parse(f"https://127.0.0.1:{port}/feed")
            assert time.monotonic() - started < DEADLINE + 0.5

    run(go())


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command to make a certificate")
def test_tls_self_signed_certificate_refused() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cert, key = Path(tmp) / "cert.pem", Path(tmp) / "key.pem"
        subprocess.run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "1",
                "-subj",
                "/CN=127.0.0.1",
                "-keyout",
                str(key),
                "-out",
                str(cert),
            ],
            check=True,
            capture_output=True,
        )
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)

        async def feed(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await _read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n<rss/>")
            await writer.drain()

        async def go() -> None:
            async with serve_raw(feed, ssl_context=ctx) as port:
                with pytest.raises(ConnectError, match=r"(?i)certificate"):
                    await fetch_and_parse(f"https://127.0.0.1:{port}/feed")

        run(go())
