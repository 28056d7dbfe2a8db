"""The poller end to end: good and hostile feeds polled together by ``Pipeline.poll_due``.

One aiohttp server on 127.0.0.1 (started in the test) serves well-behaved
feeds, a moved feed (301), a gone feed (410), a rate-limited feed (429 +
Retry-After), hostile feeds (slowloris, gzip bomb, declared 1 GB, redirect
loop, HTML, empty body), article pages and a robots.txt that forbids one
path. Checked: every hostile feed ends as a recorded error within its
deadline, the good feeds keep their schedule (cache lifetime honoured, 304 and
same-body polls skip parsing), 301 moves the feed, 410 retires it, repeated
failure parks it, robots.txt is obeyed for article pages, and
``tidings sources list`` shows the health.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from aiohttp import web
from typer.testing import CliRunner

from tidings.cli import app as cli_app
from tidings.config import Settings
from tidings.model import Feed, Source
from tidings.pipeline import Pipeline, RunSummary
from tidings.store import Store
from tidings.store.schema import now_utc

from .conftest import serve_aiohttp


def rss(base: str, *paths: str) -> bytes:
    items = "".join(
        f"<item><title>Story {p}</title><link>{base}{p}</link><guid>{base}{p}</guid>"
        f"<pubDate>Fri, 27 Nov 2026 0{n}:00:00 GMT</pubDate>"
        f"<description>Feed text of story {p}, long enough to stand in for the page when the "
        f"page may not be fetched. It has two sentences.</description></item>"
        for n, p in enumerate(paths)
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Good</title>'
        f"<link>{base}/</link>{items}</channel></rss>"
    ).encode()


ARTICLE = (
    "<html><head><title>{t}</title></head><body><article><h1>{t}</h1>"
    "<p>The city council approved the budget for the new tram line on Thursday evening, "
    "after a debate that lasted more than four hours and drew a large crowd.</p>"
    "<p>Construction is expected to begin in the spring and to take about two years, "
    "according to the transport department, which will publish a timetable soon.</p>"
    "<p>Residents of the old town raised concerns about noise and traffic during the works, "
    "and the mayor promised regular meetings with the neighbourhood associations.</p>"
    "</article></body></html>"
)


@asynccontextmanager
async def publisher() -> AsyncIterator[tuple[str, dict[str, int]]]:
    hits: dict[str, int] = {}
    bomb = gzip.compress(b"\0" * 60_000_000)
    base = ""

    async def handle(request: web.Request) -> web.StreamResponse:
        path = request.path
        hits[path] = hits.get(path, 0) + 1
        if path == "/good.xml":
            if request.headers.get("If-None-Match") == '"g1"':
                return web.Response(status=304, headers={"ETag": '"g1"'})
            return web.Response(
                body=rss(base, "/a/1.html", "/private/2.html"),
                content_type="application/rss+xml",
                headers={"ETag": '"g1"', "Cache-Control": "max-age=7200"},
            )
        if path == "/same.xml":  # no validators: only the body hash can tell it is unchanged
            return web.Response(body=rss(base, "/a/3.html"), content_type="application/rss+xml")
        if path == "/moved.xml":
            raise web.HTTPMovedPermanently("/new-home.xml")
        if path == "/new-home.xml":
            return web.Response(body=rss(base, "/a/4.html"), content_type="application/rss+xml")
        if path == "/gone.xml":
            return web.Response(status=410)
        if path == "/busy.xml":
            return web.Response(status=429, headers={"Retry-After": "7200"})
        if path == "/broken.xml":
            return web.Response(status=500)
        if path == "/slowloris.xml":
            resp = web.StreamResponse(headers={"Content-Type": "application/rss+xml"})
            await resp.prepare(request)
            for _ in range(60):
                await resp.write(b" ")
                await asyncio.sleep(1.0)
            return resp
        if path == "/bomb.xml":
            return web.Response(
                body=bomb, headers={"Content-Encoding": "gzip", "Content-Type": "application/rss+xml"}
            )
        if path == "/huge.xml":
            resp = web.StreamResponse(headers={"Content-Length": str(10**9)})
            await resp.prepare(request)
            return resp
        if path == "/loop.xml":
            raise web.HTTPFound("/loop2.xml")
        if path == "/loop2.xml":
            raise web.HTTPFound("/loop.xml")
        if path == "/html.xml":
            return web.Response(
                text="<!DOCTYPE html><html><body>Not a feed</body></html>", content_type="application/rss+xml"
            )
        if path == "/empty.xml":
            return web.Response(body=b"", content_type="application/rss+xml")
        if path == "/robots.txt":
            return web.Response(text="User-agent: *\nDisallow: /private/\n")
        if path.startswith(("/a/", "/private/")):
            return web.Response(text=ARTICLE.format(t=f"Story {path}"), content_type="text/html")
        return web.Response(status=404)

    app = web.Application()
    app.router.add_get("/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    try:
        yield base, hits
    finally:
        await runner.cleanup()


GOOD = ("/good.xml", "/same.xml", "/moved.xml")
HOSTILE = ("/slowloris.xml", "/bomb.xml", "/huge.xml", "/loop.xml", "/html.xml", "/empty.xml", "/broken.xml")


def add_feeds(store: Store, base: str, paths: tuple[str, ...]) -> dict[str, Feed]:
    src = store.sources.add_source(Source(None, "Test publisher"))
    assert src.id is not None
    return {p: store.sources.add_feed(src.id, base + p)[0] for p in paths}


async def poll(settings: Settings, store: Store) -> RunSummary:
    return await Pipeline(settings, store).poll_due()


def test_good_and_hostile_feeds_polled_together(settings: Settings, store: Store) -> None:
    paths = (*GOOD, *HOSTILE, "/gone.xml", "/busy.xml")

    async def go() -> tuple[str, dict[str, int], RunSummary, float]:
        async with publisher() as (base, hits):
            add_feeds(store, base, paths)
            started = time.monotonic()
            summary = await poll(settings, store)
            return base, hits, summary, time.monotonic() - started

    base, hits, summary, elapsed = asyncio.run(go())
    now = now_utc()
    assert summary.feeds == len(paths)
    # everything, hostile feeds included, was over within one deadline (plus article pages)
    assert elapsed < settings.request_timeout * 2 + 2, elapsed
    feeds = {f.url.removeprefix(base): f for f in store.sources.list_feeds()}

    for path in HOSTILE:
        f = feeds[path]
        assert f.last_error and f.error_count == 1 and f.status == "active", (path, f)
        assert f.next_poll_at is not None and f.next_poll_at > now
    assert "FetchTimeout" in (feeds["/slowloris.xml"].last_error or "")
    assert "TooLarge" in (feeds["/bomb.xml"].last_error or "")
    assert "TooLarge" in (feeds["/huge.xml"].last_error or "")
    assert "TooManyRedirects" in (feeds["/loop.xml"].last_error or "")
    assert "NotAFeed" in (feeds["/html.xml"].last_error or "")
    assert "EmptyBody" in (feeds["/empty.xml"].last_error or "")

    good = feeds["/good.xml"]
    assert good.last_error is None and good.last_success_at is not None and good.etag == '"g1"'
    assert good.next_poll_at is not None and good.next_poll_at >= now + timedelta(seconds=7100)
    assert "/new-home.xml" in feeds and "/moved.xml" not in feeds  # the 301 moved the feed
    assert feeds["/gone.xml"].status == "retired"
    busy = feeds["/busy.xml"]
    assert busy.next_poll_at is not None
    assert timedelta(seconds=7000) < busy.next_poll_at - now < timedelta(seconds=7300)

    # robots.txt: fetched once, the disallowed page never requested, its feed text kept
    assert hits.get("/robots.txt") == 1
    assert "/private/2.html" not in hits and hits.get("/a/1.html") == 1
    by_url = {a.url.removeprefix(base): a for a in store.articles.iter_all()}
    private = by_url["/private/2.html"]
    assert private.extraction == "feed" and "robots.txt" in (private.extraction_reason or "")
    assert by_url["/a/1.html"].extraction == "page", by_url["/a/1.html"].extraction_reason


def test_unchanged_feeds_are_not_parsed_again(settings: Settings, store: Store) -> None:
    async def go() -> tuple[RunSummary, RunSummary]:
        async with publisher() as (base, _hits):
            add_feeds(store, base, ("/good.xml", "/same.xml"))
            first = await poll(settings, store)
            store.sources.reschedule_all()
            second = await poll(settings, store)
            return first, second

    first, second = asyncio.run(go())
    assert sorted(r.outcome for r in first.results) == ["new", "new"]
    outcomes = {r.url.rsplit("/", 1)[1]: r.outcome for r in second.results}
    assert outcomes == {"good.xml": "not_modified", "same.xml": "unchanged"}
    same = next(f for f in store.sources.list_feeds() if f.url.endswith("/same.xml"))
    assert same.body_hash is not None and len(same.body_hash) == len(hashlib.sha256().hexdigest())


def test_repeated_failure_parks_and_sources_list_shows_it(
    settings: Settings, store: Store, cli_env: dict[str, str]
) -> None:
    settings = settings.replace(park_after_errors=3)

    async def go() -> None:
        async with publisher() as (base, _hits):
            add_feeds(store, base, ("/broken.xml", "/good.xml"))
            for _ in range(3):
                await poll(settings, store)
                store.sources.reschedule_all()

    asyncio.run(go())
    feeds = {f.url.rsplit("/", 1)[1]: f for f in store.sources.list_feeds()}
    broken = feeds["broken.xml"]
    assert broken.status == "parked" and broken.error_count == 3
    assert broken.last_error is not None and "HTTP 500" in broken.last_error
    assert feeds["good.xml"].status == "active" and feeds["good.xml"].error_count == 0

    result = CliRunner().invoke(cli_app, ["sources", "list"], env=cli_env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    line = next(row for row in result.output.splitlines() if "broken.xml" in row)
    assert "parked" in line and "HTTP 500" in line and "3" in line

    as_json = CliRunner().invoke(cli_app, ["sources", "list", "--json"], env=cli_env)
    rows: list[dict[str, Any]] = [__import__("json").loads(x) for x in as_json.output.splitlines() if x]
    row = next(r for r in rows if r["url"].endswith("/broken.xml"))
    assert (
        row["status"] == "parked" and row["next_poll_at"] and row["last_error"].startswith("HTTPStatusError")
    )


def test_a_slow_parse_does_not_hold_up_other_polls(settings: Settings, store: Store) -> None:
    """A big feed the fast path declines (RSS 0.92, so feedparser reads it) is parsed off the
    event loop: a small feed whose answer comes while it is being parsed finishes first.
    Were the parse on the loop, nothing else could run until it ended. (Items without links,
    so that no article is stored: the poll itself is what is timed.)"""
    settings = settings.replace(max_body_bytes=4_000_000, max_items_per_feed=1)

    def feed(version: str, n: int) -> bytes:
        items = "".join(
            f'<item><title>Item {i}</title><guid isPermaLink="false">i{i}</guid>'
            f"<description>{'Words of the story. ' * 20}</description></item>"
            for i in range(n)
        )
        return (
            f'<?xml version="1.0" encoding="utf-8"?><rss version="{version}"><channel>'
            f"<title>T</title><link>https://news.example/</link>{items}</channel></rss>"
        ).encode()

    big = feed("0.92", 5000)
    assert len(big) > 2_000_000

    async def go() -> dict[str, float]:
        big_sent = asyncio.Event()

        async def handle(request: web.Request) -> web.Response:
            if request.path == "/big.xml":
                big_sent.set()
                return web.Response(body=big, content_type="application/rss+xml")
            await big_sent.wait()
            await asyncio.sleep(0.1)  # answer once the big feed is being parsed
            return web.Response(body=feed("2.0", 1), content_type="application/rss+xml")

        app = web.Application()
        app.router.add_get("/{tail:.*}", handle)
        done: dict[str, float] = {}
        async with serve_aiohttp(app) as base:
            add_feeds(store, base, ("/big.xml", "/small.xml"))
            summary = await Pipeline(settings, store).poll_due(
                on_feed=lambda r: done.setdefault(r.url.rsplit("/", 1)[1], time.monotonic())
            )
        assert sorted(r.outcome for r in summary.results) == ["new", "new"], summary.results
        return done

    done = asyncio.run(go())
    assert done["small.xml"] < done["big.xml"], done
    feeds = {f.url.rsplit("/", 1)[1]: f for f in store.sources.list_feeds()}
    assert feeds["big.xml"].last_error is None and feeds["big.xml"].title == "T"


def test_a_publishers_many_feeds_do_not_hold_up_other_hosts(settings: Settings, store: Store) -> None:
    """Six section feeds on one host wait out their spacing without taking the poller's
    in-flight slots (two here): the one feed of another host, listed last, is polled at once."""
    settings = settings.replace(request_spacing=0.3, max_connections=4)  # two polls in flight
    body = (
        b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>S</title>'
        b"<link>https://news.example/</link></channel></rss>"
    )

    async def handle(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/rss+xml")

    async def go() -> dict[str, list[float]]:
        app = web.Application()
        app.router.add_get("/{tail:.*}", handle)
        done: dict[str, list[float]] = {}
        async with serve_aiohttp(app, "127.0.0.1") as big, serve_aiohttp(app, "127.0.0.2") as other:
            sections = add_feeds(store, big, tuple(f"/section{i}.xml" for i in range(6)))
            lone = add_feeds(store, other, ("/news.xml",))
            summary = await Pipeline(settings, store).poll_due(
                feeds=[*sections.values(), *lone.values()],
                on_feed=lambda r: done.setdefault(r.url.split("/")[2], []).append(time.monotonic()),
            )
        assert [r.outcome for r in summary.results] == ["new"] * 7, summary.results
        return done

    done = asyncio.run(go())
    host_a, host_b = sorted(done, key=lambda h: len(done[h]), reverse=True)
    assert len(done[host_a]) == 6 and len(done[host_b]) == 1
    # the other host's feed finished before the big publisher's second section was even due
    assert done[host_b][0] < sorted(done[host_a])[1], done
