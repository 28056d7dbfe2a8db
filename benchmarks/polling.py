"""Polling throughput: the whole tidings poller against a naive baseline, same server, same run.

    .venv/bin/python benchmarks/polling.py [--feeds 10000] [--hosts 64] [--baseline-feeds 2000]

A local aiohttp server (its own process, so it does not share the measuring
process's interpreter) listens on ``--hosts`` loopback addresses
(127.0.1.1, 127.0.1.2, ...: one "host" each, as feeds on real lists spread over
many hosts) and serves ``--feeds`` feeds with a realistic mix:

- most are unchanged: a 304 for the ETag the database already holds;
- ``--same-body`` share: a 200 whose body equals the stored hash (no parse);
- ``--changed`` share: a 200 with a new version of an ~11 KB, 20-item RSS
  feed each time (one new item, stored with the post-store stages; the other
  19 are already stored);
- ``--slow`` share: a 304 only after ``--slow-delay`` seconds;
- ``--hostile`` share, in turn: 500, 429 + Retry-After, a body that never
  finishes (hits the deadline), a declared 1 GB body, a gzip bomb, HTML
  served as a feed, a redirect loop, an empty 200.

**tidings** runs ``Pipeline.poll_due()`` (the feed-polling entry point: due
feeds from the store, the address guard, per-host limits, conditional GET,
hash check, parse, ingest of new entries, ``schedule.decide``, health and
attempts written) against a temp SQLite database with every feed due.
Settings: ``allow_private_addresses`` (the server is local),
``request_spacing=0`` (each local "host" carries ~``feeds/hosts`` feeds;
spacing them a second apart would measure the sleep), article fetching and
enrichment off (this measures polling, not extraction), everything else at
its default (64 connections, 4 per host, 20 s deadline shortened to
``--deadline``).

**baseline** (named ``naive``): one ``httpx.Client``, feeds polled one after
another with ``If-None-Match``, ``feedparser.parse`` on every 200, nothing
stored; run on the first ``--baseline-feeds`` feeds (same mix) to keep the
run short.

Printed for each: polls per second (wall), feeds parsed per second and CPU
seconds per 1,000 polls (the measuring process only). A second phase polls
``--parse-feeds`` feeds that all changed, to show parse throughput inside
the poller: each gets a new document (new ETag, body hash) whose 20 items are
all stored already, so the poller parses and checks but stores no article.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import hashlib
import logging
import multiprocessing
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from multiprocessing.connection import Connection
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

KINDS = ("unchanged", "same", "changed", "slow", "hostile")
HOSTILE = ("500", "429", "endless", "huge", "bomb", "html", "loop", "empty")
ITEMS = 20


def plan(n: int, same: float, changed: float, slow: float, hostile: float) -> list[str]:
    """Kind of feed i, spread evenly over the list (deterministic)."""
    shares = [("same", same), ("changed", changed), ("slow", slow), ("hostile", hostile)]
    kinds = ["unchanged"] * n
    for k, share in shares:
        count = int(n * share)
        if count:
            free = [i for i in range(n) if kinds[i] == "unchanged"]
            step = len(free) / count
            for j in range(count):
                kinds[free[int(j * step)]] = k
    return kinds


def item_xml(feed: int, k: int) -> str:
    return (
        f"<item><title>Feed {feed} story {k}: council approves budget for the new tram line"
        f"</title><link>https://news{feed % 97}.example/{feed}/story-{k}</link>"
        f'<guid isPermaLink="false">f{feed}-s{k}</guid>'
        f"<pubDate>Fri, 27 Nov 2026 {k % 24:02d}:{k % 60:02d}:00 +0000</pubDate>"
        f"<category>Local</category><description>&lt;p&gt;The council voted on the budget "
        f"for the tram line. Works start in spring and will take two years, officials said. "
        f"Residents raised concerns about noise and traffic during construction.&lt;/p&gt;"
        f'&lt;p&gt;&lt;a href="https://news{feed % 97}.example/{feed}/story-{k}"&gt;Read '
        f"more&lt;/a&gt;&lt;/p&gt;</description></item>"
    )


def feed_xml(feed: int, version: int, build: int = 0) -> bytes:
    newest = version + ITEMS
    items = "".join(item_xml(feed, k) for k in range(newest, newest - ITEMS, -1))
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Feed {feed}</title><link>https://news{feed % 97}.example/</link>"
        f"<language>en</language><ttl>{15 + build}</ttl>{items}</channel></rss>"
    ).encode()


SAME_BODY = feed_xml(0, 0)


# -- the server (own process) ------------------------------------------------------


def serve(hosts: list[str], kinds: list[str], slow_delay: float, conn: Connection) -> None:
    from aiohttp import web

    versions: Counter[int] = Counter()
    bomb = gzip.compress(b"\0" * 50_000_000)
    html_page = b"<!DOCTYPE html><html><body><h1>Welcome</h1></body></html>"

    async def handle(request: web.Request) -> web.StreamResponse:
        i = int(request.match_info["i"])
        kind = kinds[i]
        inm = request.headers.get("If-None-Match")
        if kind == "unchanged":
            etag = f'"e{i}"'
            if inm == etag:
                return web.Response(status=304, headers={"ETag": etag})
            return web.Response(
                body=feed_xml(i, 0), content_type="application/rss+xml", headers={"ETag": etag}
            )
        if kind == "slow":
            await asyncio.sleep(slow_delay)
            return web.Response(status=304, headers={"ETag": f'"e{i}"'})
        if kind == "same":
            return web.Response(body=SAME_BODY, content_type="application/rss+xml")
        if kind == "rebuilt":  # a new document each time, but no new item
            versions[i] += 1
            return web.Response(
                body=feed_xml(i, 0, build=versions[i]),
                content_type="application/rss+xml",
                headers={"ETag": f'"e{i}-b{versions[i]}"'},
            )
        if kind == "changed":
            versions[i] += 1
            return web.Response(
                body=feed_xml(i, versions[i]),
                content_type="application/rss+xml",
                headers={"ETag": f'"e{i}-v{versions[i]}"'},
            )
        bad = HOSTILE[i % len(HOSTILE)]
        if bad == "500":
            return web.Response(status=500, text="oops")
        if bad == "429":
            return web.Response(status=429, headers={"Retry-After": "3600"})
        if bad == "endless":
            resp = web.StreamResponse(headers={"Content-Type": "application/rss+xml"})
            await resp.prepare(request)
            for _ in range(600):
                await resp.write(b"<rss>")
                await asyncio.sleep(0.1)
            return resp
        if bad == "huge":
            resp = web.StreamResponse(
                headers={"Content-Type": "application/rss+xml", "Content-Length": str(10**9)}
            )
            await resp.prepare(request)
            return resp
        if bad == "bomb":
            return web.Response(
                body=bomb, headers={"Content-Encoding": "gzip", "Content-Type": "application/rss+xml"}
            )
        if bad == "html":
            return web.Response(body=html_page, content_type="text/html")
        if bad == "loop":
            raise web.HTTPFound(f"/f/{i}?hop={int(request.query.get('hop', '0')) + 1}")
        return web.Response(body=b"", content_type="application/rss+xml")

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/f/{i}", handle)
        runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await runner.setup()
        port = 0
        for host in hosts:
            site = web.TCPSite(runner, host, port, backlog=4096)
            await site.start()
            port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        conn.send(port)
        await asyncio.Event().wait()

    asyncio.run(main())


# -- tidings ---------------------------------------------------------------------


def seed(store: object, urls: list[str], kinds: list[str], first: int) -> None:
    """Every feed as if polled before: validators, body hash, and the 19 known items stored."""
    from sqlalchemy import insert, update

    from tidings.model import Source
    from tidings.store.schema import articles, feeds, now_utc

    src = store.sources.add_source(Source(None, "Benchmark publisher"))  # type: ignore[attr-defined]
    now = now_utc()
    rows = []
    for i, (url, kind) in enumerate(zip(urls, kinds, strict=True), start=first):
        rows.append(
            dict(
                source_id=src.id,
                url=url,
                status="active",
                poll_interval_s=900,
                next_poll_at=now - timedelta(seconds=1),
                error_count=0,
                entries_seen=0,
                created_at=now,
                format="rss",
                etag={
                    "unchanged": f'"e{i}"',
                    "slow": f'"e{i}"',
                    "changed": f'"e{i}-v0"',
                    "rebuilt": f'"e{i}-b0"',
                }.get(kind),
                body_hash=hashlib.sha256(SAME_BODY).hexdigest() if kind == "same" else None,
            )
        )
    known = []
    for i, kind in enumerate(kinds, start=first):
        if kind in ("changed", "rebuilt"):  # the items of version 0 (19 of every later one)
            for k in range(0, ITEMS + 1):
                link = f"https://news{i % 97}.example/{i}/story-{k}"
                known.append(
                    dict(
                        url=link,
                        canonical_url=link,
                        title=f"story {k}",
                        text="t",
                        html="",
                        fetched_at=now,
                        sort_at=now,
                        publisher="Benchmark",
                        extraction="feed",
                    )
                )
    with store.engine.begin() as conn:  # type: ignore[attr-defined]
        conn.execute(insert(feeds), rows)
        if known:
            conn.execute(insert(articles), known)
        conn.execute(update(feeds).values(next_poll_at=now - timedelta(seconds=1)))


def run_tidings(
    urls: list[str], kinds: list[str], deadline: float, first: int = 0, max_connections: int = 64
) -> dict[str, float]:
    from tidings.config import load_settings
    from tidings.pipeline import Pipeline
    from tidings.store import Store

    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(
            environ={},
            config_file=None,
            database_url=f"sqlite:///{Path(tmp) / 'bench.db'}",
            allow_private_addresses=True,
            request_spacing=0.0,
            fetch_articles=False,
            enrich=False,
            request_timeout=deadline,
            max_connections=max_connections,
            log_level="ERROR",
        )
        store = Store(settings.database_url)
        try:
            seed(store, urls, kinds, first)
            pipeline = Pipeline(settings, store)
            cpu0, wall0 = time.process_time(), time.perf_counter()
            summary = asyncio.run(pipeline.poll_due())
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
            outcomes = Counter(r.outcome for r in summary.results)
            stored_errors = sum(1 for f in store.sources.list_feeds() if f.last_error)
        finally:
            store.close()
    return dict(
        polls=summary.feeds,
        wall=wall,
        cpu=cpu,
        parsed=outcomes["new"],
        not_modified=outcomes["not_modified"],
        unchanged=outcomes["unchanged"],
        errors=outcomes["error"],
        stored_errors=stored_errors,
        new_articles=summary.new_articles,
    )


# -- the naive baseline --------------------------------------------------------------


def run_naive(urls: list[str], kinds: list[str], deadline: float, first: int = 0) -> dict[str, float]:
    import feedparser
    import httpx

    etags = [
        {"unchanged": f'"e{i}"', "slow": f'"e{i}"', "changed": f'"e{i}-v0"', "rebuilt": f'"e{i}-b0"'}.get(k)
        for i, k in enumerate(kinds, start=first)
    ]
    outcomes: Counter[str] = Counter()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    with httpx.Client(timeout=deadline, follow_redirects=True, max_redirects=5) as client:
        for i, url in enumerate(urls):
            headers = {"If-None-Match": etags[i]} if etags[i] else {}
            try:
                r = client.get(url, headers=headers)
            except (httpx.HTTPError, OSError):
                outcomes["error"] += 1
                continue
            if r.status_code == 304:
                outcomes["not_modified"] += 1
            elif r.status_code >= 400:
                outcomes["error"] += 1
            else:
                d = feedparser.parse(r.content)
                outcomes["new" if d.entries else "error"] += 1
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    return dict(
        polls=len(urls),
        wall=wall,
        cpu=cpu,
        parsed=outcomes["new"],
        not_modified=outcomes["not_modified"],
        unchanged=0,
        errors=outcomes["error"],
        stored_errors=0,
        new_articles=0,
    )


def cpu_of(pid: int | None) -> float:
    """CPU seconds used so far by process ``pid`` (Linux /proc; 0.0 where unavailable)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


def timed(server_pid: int | None, run: Callable[[], dict[str, float]]) -> dict[str, float]:
    before = cpu_of(server_pid)
    result = run()
    result["server_cpu"] = cpu_of(server_pid) - before
    return result


def report(label: str, r: dict[str, float]) -> None:
    print(
        f"{label:9s} {int(r['polls']):6d} polls in {r['wall']:6.1f}s wall, {r['cpu']:6.1f}s CPU: "
        f"{r['polls'] / r['wall']:7.0f} polls/s, {r['parsed'] / r['wall']:6.1f} feeds parsed/s, "
        f"{r['cpu'] / r['polls'] * 1000:5.2f} CPU s per 1,000 polls"
    )
    print(
        f"{'':9s} outcomes: {int(r['not_modified'])} not modified (304), {int(r['unchanged'])} "
        f"same body (hash, not parsed), {int(r['parsed'])} parsed, {int(r['errors'])} errors"
        + (
            f" ({int(r['stored_errors'])} recorded on their feeds), {int(r['new_articles'])} "
            "new articles stored"
            if label == "tidings"
            else ""
        )
        + f"; the server used {r.get('server_cpu', 0.0):.1f}s CPU"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description="tidings poller vs naive httpx+feedparser")
    ap.add_argument("--feeds", type=int, default=10_000)
    ap.add_argument("--hosts", type=int, default=64)
    ap.add_argument("--same-body", type=float, default=0.03)
    ap.add_argument("--changed", type=float, default=0.01)
    ap.add_argument("--slow", type=float, default=0.02)
    ap.add_argument("--hostile", type=float, default=0.01)
    ap.add_argument("--slow-delay", type=float, default=0.5)
    ap.add_argument("--deadline", type=float, default=5.0, help="request_timeout for both (s)")
    ap.add_argument("--baseline-feeds", type=int, default=2000)
    ap.add_argument(
        "--max-connections",
        type=int,
        default=64,
        help="tidings' max_connections setting (default: its default, 64; the poller "
        "keeps half that many feeds in flight)",
    )
    ap.add_argument(
        "--parse-feeds", type=int, default=1000, help="feeds in the all-changed phase (0: skip it)"
    )
    args = ap.parse_args()
    logging.getLogger("tidings").setLevel(logging.ERROR)  # hostile feeds' warnings are expected

    hosts = [f"127.0.1.{k + 1}" for k in range(args.hosts)]
    kinds = plan(args.feeds, args.same_body, args.changed, args.slow, args.hostile)
    parse_kinds = ["rebuilt"] * args.parse_feeds
    all_kinds = kinds + parse_kinds
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    server = ctx.Process(target=serve, args=(hosts, all_kinds, args.slow_delay, child), daemon=True)
    server.start()
    port = parent.recv()
    urls = [f"http://{hosts[i % len(hosts)]}:{port}/f/{i}" for i in range(len(all_kinds))]
    mix = Counter(kinds)
    print(
        f"server: {len(hosts)} loopback hosts, port {port}, own process; "
        f"{args.feeds} feeds: "
        + ", ".join(f"{mix[k]} {k}" for k in KINDS)
        + f"; slow = {args.slow_delay:g}s; deadline {args.deadline:g}s; tidings "
        f"max_connections={args.max_connections}; machine: "
        f"{os.cpu_count()} CPUs"
    )
    try:
        print("-- mixed list (conditional polls) --")
        pid = server.pid
        report(
            "tidings",
            timed(
                pid,
                lambda: run_tidings(
                    urls[: args.feeds], kinds, args.deadline, max_connections=args.max_connections
                ),
            ),
        )
        n = min(args.baseline_feeds, args.feeds)
        report("naive", timed(pid, lambda: run_naive(urls[:n], kinds[:n], args.deadline)))
        if args.parse_feeds:
            print(
                f"-- all changed ({args.parse_feeds} feeds: a new document, {ITEMS} items, "
                f"~{len(feed_xml(0, 0)) // 1000} KB each, every item already stored) --"
            )
            report(
                "tidings",
                timed(
                    pid,
                    lambda: run_tidings(
                        urls[args.feeds :], parse_kinds, args.deadline, args.feeds, args.max_connections
                    ),
                ),
            )
            report(
                "naive",
                timed(pid, lambda: run_naive(urls[args.feeds :], parse_kinds, args.deadline, args.feeds)),
            )
    finally:
        server.terminate()


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "src"))
    main()
