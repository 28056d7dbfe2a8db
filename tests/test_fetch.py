"""The fetcher and the address guard, against real servers on 127.0.0.1.

Covers conditional GET, redirects, per-host spacing, robots.txt, and the
address guard's reading of every spelling of an address (with Hypothesis).
"""

from __future__ import annotations

import asyncio
import ipaddress
import itertools
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from hypothesis import given
from hypothesis import strategies as st

from tidings.config import Settings
from tidings.errors import BlockedAddress, HTTPStatusError, InvalidURL, TidingsError
from tidings.fetch import Fetcher, check_url, host_address, is_public_address
from tidings.robots import RobotsCache, agent_token, parse_robots

from .conftest import serve_aiohttp

SETTINGS = Settings(allow_private_addresses=True, request_timeout=5.0, request_spacing=0.0)


def run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(coro)  # type: ignore[arg-type]


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def app_with(routes: dict[str, Handler]) -> web.Application:
    app = web.Application()
    for path, handler in routes.items():
        app.router.add_get(path, handler)
    return app


# -- conditional GET, redirects -------------------------------------------------


def test_conditional_get_and_304() -> None:
    seen: list[dict[str, str]] = []

    async def feed(request: web.Request) -> web.Response:
        seen.append(dict(request.headers))
        if request.headers.get("If-None-Match") == '"v1"':
            return web.Response(status=304)
        return web.Response(body=b"<rss/>", headers={"ETag": '"v1"', "Content-Type": "application/rss+xml"})

    async def go() -> None:
        async with serve_aiohttp(app_with({"/feed": feed})) as base, Fetcher(SETTINGS) as f:
            first = await f.get(base + "/feed")
            assert first.status == 200 and first.body == b"<rss/>" and first.headers["etag"] == '"v1"'
            second = await f.get(base + "/feed", etag='"v1"', last_modified="Sun, 01 Mar 2026 00:00:00 GMT")
            assert second.not_modified and second.body == b""
        assert seen[1]["If-Modified-Since"] == "Sun, 01 Mar 2026 00:00:00 GMT"
        assert seen[0]["User-Agent"].startswith("tidings/")

    run(go())


def test_permanent_redirect_reported_temporary_not() -> None:
    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPMovedPermanently("/new")

    async def temp(request: web.Request) -> web.Response:
        raise web.HTTPFound("/new")

    async def new(request: web.Request) -> web.Response:
        return web.Response(body=b"<rss/>")

    async def go() -> None:
        async with (
            serve_aiohttp(app_with({"/old": moved, "/temp": temp, "/new": new})) as base,
            Fetcher(SETTINGS) as f,
        ):
            r = await f.get(base + "/old")
            assert r.permanent_redirect == base + "/new" and r.redirects == ((301, base + "/new"),)
            r = await f.get(base + "/temp")
            assert r.permanent_redirect is None and r.url == base + "/new"

    run(go())


def test_429_carries_retry_after() -> None:
    async def busy(request: web.Request) -> web.Response:
        return web.Response(status=429, headers={"Retry-After": "120"})

    async def go() -> None:
        async with serve_aiohttp(app_with({"/f": busy})) as base, Fetcher(SETTINGS) as f:
            with pytest.raises(HTTPStatusError) as info:
                await f.get(base + "/f")
        assert info.value.status == 429 and info.value.retry_after == 120

    run(go())


# -- politeness ---------------------------------------------------------------


def test_per_host_spacing() -> None:
    starts: list[float] = []

    async def page(request: web.Request) -> web.Response:
        starts.append(time.monotonic())
        return web.Response(body=b"ok")

    async def go() -> None:
        async with (
            serve_aiohttp(app_with({"/p": page})) as base,
            Fetcher(SETTINGS.replace(request_spacing=0.2)) as f,
        ):
            await asyncio.gather(*(f.get(base + "/p") for _ in range(4)))

    run(go())
    starts.sort()
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert len(gaps) == 3 and min(gaps) >= 0.17, gaps


def test_feeds_and_pages_keep_their_own_spacing() -> None:
    """A feed poll neither waits behind a host's page fetches nor takes their Crawl-delay."""
    starts: dict[str, list[float]] = {"/feed": [], "/page": []}

    async def hit(request: web.Request) -> web.Response:
        starts[request.path].append(time.monotonic())
        return web.Response(body=b"ok")

    async def go() -> None:
        async with (
            serve_aiohttp(app_with({"/feed": hit, "/page": hit})) as base,
            Fetcher(SETTINGS.replace(request_spacing=0.2)) as f,
        ):
            f.set_host_delay("127.0.0.1", 0.6)  # as robots.py does for a Crawl-delay
            assert f.host_delay("127.0.0.1") == 0.6 and f.host_delay("127.0.0.1", feed=True) == 0.2
            await asyncio.gather(
                *(f.get(base + "/page") for _ in range(3)),
                *(f.get(base + "/feed", feed=True) for _ in range(3)),
            )

    run(go())
    pages, feeds = sorted(starts["/page"]), sorted(starts["/feed"])
    assert min(b - a for a, b in itertools.pairwise(pages)) >= 0.55, pages  # the Crawl-delay
    assert min(b - a for a, b in itertools.pairwise(feeds)) >= 0.17, feeds  # request_spacing
    assert feeds[-1] - pages[0] < 0.55, (pages, feeds)  # the feeds did not queue behind pages


def test_spacing_kept_when_requests_wait_for_a_connection() -> None:
    """Requests that queued for the host's one connection do not start together once it frees.

    (Arrivals are timed at the server, which shares this process: spacing and thresholds leave
    0.1 s for the process being slow to answer on a loaded machine.)"""
    starts: list[float] = []

    async def slow_first(request: web.Request) -> web.Response:
        starts.append(time.monotonic())
        if len(starts) == 1:
            await asyncio.sleep(0.8)
        return web.Response(body=b"ok")

    async def go() -> None:
        async with (
            serve_aiohttp(app_with({"/p": slow_first})) as base,
            Fetcher(SETTINGS.replace(request_spacing=0.4, max_connections_per_host=1)) as f,
        ):
            await asyncio.gather(*(f.get(base + "/p") for _ in range(4)))

    run(go())
    gaps = [b - a for a, b in itertools.pairwise(sorted(starts))]
    assert len(gaps) == 3 and gaps[0] >= 0.75 and min(gaps) >= 0.3, gaps


def test_connections_per_host_limited() -> None:
    active = 0
    peak = 0

    async def slow(request: web.Request) -> web.Response:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(0.1)
        active -= 1
        return web.Response(body=b"ok")

    async def go() -> None:
        async with (
            serve_aiohttp(app_with({"/s": slow})) as base,
            Fetcher(SETTINGS.replace(max_connections_per_host=2)) as f,
        ):
            await asyncio.gather(*(f.get(base + "/s") for _ in range(8)))

    run(go())
    assert peak == 2


def test_robots_rules_cache_and_crawl_delay() -> None:
    fetched: list[str] = []

    async def robots(request: web.Request) -> web.Response:
        fetched.append(request.path)
        return web.Response(
            text="User-agent: tidings\nDisallow: /private\nCrawl-delay: 2\n\nUser-agent: *\nDisallow: /\n"
        )

    async def go() -> None:
        async with serve_aiohttp(app_with({"/robots.txt": robots})) as base, Fetcher(SETTINGS) as f:
            cache = RobotsCache(f)
            results = await asyncio.gather(cache.check(base + "/news/1"), cache.check(base + "/private/x"))
            assert results[0].allowed and not results[1].allowed
            assert results[0].crawl_delay == 2
            assert f.host_delay("127.0.0.1") == 2
        assert fetched == ["/robots.txt"]  # one fetch per host, shared by concurrent checks

    run(go())


@pytest.mark.parametrize(("status", "allowed"), [(404, True), (403, True), (500, False), (503, False)])
def test_robots_unavailable(status: int, allowed: bool) -> None:
    async def robots(request: web.Request) -> web.Response:
        return web.Response(status=status)

    async def go() -> bool:
        async with serve_aiohttp(app_with({"/robots.txt": robots})) as base, Fetcher(SETTINGS) as f:
            return (await RobotsCache(f).check(base + "/a")).allowed

    assert run(go()) is allowed


def test_robots_parsing_is_pure() -> None:
    r = parse_robots("User-agent: *\nDisallow: /search\nRequest-rate: 1/5\n")
    assert r.allowed("https://x.example/news", "tidings")
    assert not r.allowed("https://x.example/search?q=1", "tidings")
    assert r.crawl_delay("tidings") == 5.0
    assert agent_token("tidings/0.1 (+https://x)") == "tidings"


# -- the address guard ----------------------------------------------------------

LOOPBACK_SPELLINGS = [
    "http://127.0.0.1/",
    "http://2130706433/",
    "http://0x7f.1/",
    "http://017700000001/",
    "http://127.1/",
    "http://0177.0.0.1/",
    "http://0x7f000001/",
    "http://127.0.0.1./",
    "http://[::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/",
    "http://[64:ff9b::7f00:1]/",
    "http://localhost/",
    "http://LOCALHOST./",
    "http://a.localhost/",
    "http://0/",
    "http://0.0.0.0/",
    "http://[::]/",
    "http://169.254.169.254/latest/meta-data/",
    "http://10.1.2.3/",
    "http://192.168.0.1/",
    "http://172.16.0.1/",
    "http://100.64.0.1/",
    "http://224.0.0.1/",
    "http://240.0.0.1/",
    "http://[fc00::1]/",
    "http://[fe80::1]/",
    "http://[ff02::1]/",
    "http://[2002:7f00:1::]/",
]


@pytest.mark.parametrize("url", LOOPBACK_SPELLINGS)
def test_non_public_spellings_refused(url: str) -> None:
    with pytest.raises(BlockedAddress):
        check_url(url)
    assert check_url(url, allow_private=True) == url


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://example.com/x",
        "gopher://example.com/",
        "javascript:alert(1)",
        "data:text/xml,<rss/>",
        "//example.com/",
        "http:///nohost",
        "http://user:pw@example.com/",
    ],
)
def test_other_schemes_and_forms_refused(url: str) -> None:
    with pytest.raises(InvalidURL):
        check_url(url, allow_private=True)


def test_public_addresses_pass() -> None:
    for url in [
        "https://example.com/feed",
        "http://93.184.215.14/",
        "http://[2606:4700::1111]/",
        "http://1.1.1.1./",
        "http://16843009/",
    ]:
        assert check_url(url) == url


@given(st.integers(0, 2**32 - 1))
def test_every_ipv4_spelling_reads_the_same(n: int) -> None:
    ip = ipaddress.IPv4Address(n)
    a, b, c, d = ip.packed
    spellings = [
        str(ip),
        str(n),
        hex(n),
        "0" + oct(n)[2:],
        f"{a}.{(b << 16) | (c << 8) | d}",
        f"{a}.{b}.{(c << 8) | d}",
        f"{hex(a)}.{oct(b).replace('o', '')}.{c}.{d}",
        f"[::ffff:{ip}]",
    ]
    public = is_public_address(str(ip))
    for spelling in spellings:
        assert host_address(spelling) in (ip, ipaddress.IPv6Address(f"::ffff:{ip}"))
        if public:
            assert check_url(f"http://{spelling}/x") == f"http://{spelling}/x"
        else:
            with pytest.raises(BlockedAddress):
                check_url(f"http://{spelling}/x")


@given(st.integers(0, 2**128 - 1))
def test_ipv6_guard_matches_embedded_ipv4(n: int) -> None:
    ip = ipaddress.IPv6Address(n)
    public = is_public_address(str(ip))
    mapped = ipaddress.IPv6Address(f"::ffff:{ipaddress.IPv4Address(n & 0xFFFFFFFF)}")
    assert is_public_address(str(mapped)) == is_public_address(str(ipaddress.IPv4Address(n & 0xFFFFFFFF)))
    if public:
        assert ip.is_global


@given(st.text(max_size=80))
def test_check_url_raises_only_invalid_url(text: str) -> None:
    for candidate in (text, "http://" + text, "https://" + text + "/feed"):
        try:
            check_url(candidate)
        except InvalidURL:
            pass
        except TidingsError as e:  # pragma: no cover - would be a bug
            raise AssertionError(f"unexpected {type(e).__name__}") from e
