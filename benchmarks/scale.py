"""Articles per second through fetch + extract: 1, 2 and 4 workers on PostgreSQL, and the
single-process SQLite default (the baseline), in the same run, on the same generated replay.

    .venv/bin/python benchmarks/scale.py [--feeds 200] [--per-feed 3] [--workers 1,2,4]

The replay (tests/replay.py) is served from a local HTTP server on 127.0.0.1, in a
separate process so the server does not share the measuring process's interpreter.
PostgreSQL is a throw-away local cluster (tests/pg.py: initdb + pg_ctl in a temp
dir), or the server named by TIDINGS_TEST_PG_URL. Each worker is a real
``tidings worker`` process; the clock starts once every worker has
registered with the queue and the feeds are made due (start-up excluded) and
stops at the last article stored. Enrichment is turned off:
this measures the fetch + extract + store path only.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests import replay  # noqa: E402
from tests.conftest import PublisherServer  # noqa: E402
from tests.pg import LocalCluster, PgServer  # noqa: E402
from tidings.config import load_settings  # noqa: E402
from tidings.model import Source  # noqa: E402
from tidings.pipeline import Pipeline  # noqa: E402
from tidings.store import Store  # noqa: E402
from tidings.store.schema import now_utc  # noqa: E402

PER_FEED = [3]


def serve(feeds: int, per_feed: int, conn: multiprocessing.connection.Connection) -> None:
    server = PublisherServer()
    pubs = replay.install(server.add, server.base, feeds=feeds, per_feed=per_feed)
    conn.send(pubs)
    conn.recv()  # until told to stop
    server.close()


def env_for(url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIDINGS_")}
    env.update(
        {
            "TIDINGS_DATABASE_URL": url,
            "TIDINGS_ALLOW_PRIVATE_ADDRESSES": "true",
            "TIDINGS_REQUEST_SPACING": "0",
            "TIDINGS_REQUEST_TIMEOUT": "60",
            "TIDINGS_ENRICH": "false",
            "TIDINGS_LOG_LEVEL": "ERROR",
            "TIDINGS_MAX_CONNECTIONS_PER_HOST": "16",
        }
    )
    return env


def load(store: Store, pubs: list[tuple[str, str]]) -> None:
    for name, url in pubs:
        src = store.sources.add_source(Source(None, name))
        assert src.id is not None
        store.sources.add_feed(src.id, url)


def sqlite_run(pubs: list[tuple[str, str]], tmp: Path) -> tuple[int, float]:
    url = f"sqlite:///{tmp / 'single.db'}"
    settings = load_settings(environ=env_for(url), config_file=None)
    with Store(url) as store:
        load(store, pubs)
        t = time.perf_counter()
        asyncio.run(Pipeline(settings, store).poll_due())
        return store.articles.count(), time.perf_counter() - t


def pg_run(server: PgServer, pubs: list[tuple[str, str]], workers: int) -> tuple[int, float]:
    """Workers run as in production (waiting for jobs); the clock starts when every worker
    has registered with the queue and the feeds are made due, and stops at the last article."""
    import psycopg

    from tidings.queue import libpq_url

    url = server.create()
    total = sum(1 for _ in pubs)
    try:
        with Store(url) as store:
            load(store, pubs)
            store.sources.reschedule_all(when=now_utc() + timedelta(days=1))  # not yet
            procs = [
                subprocess.Popen(
                    [sys.executable, "-m", "tidings", "worker", "--concurrency", "8"],
                    env=env_for(url),
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                for _ in range(workers)
            ]
            try:
                with psycopg.connect(libpq_url(url), autocommit=True) as conn:
                    while conn.execute("SELECT count(*) FROM procrastinate_workers").fetchone()[0] < workers:
                        time.sleep(0.1)
                t = time.perf_counter()
                store.sources.reschedule_all()  # every feed due now
                expected = total * PER_FEED[0]
                last, still = -1, time.perf_counter()
                while True:
                    n = store.articles.count()
                    if n >= expected:
                        break
                    if n != last:
                        last, still = n, time.perf_counter()
                    elif time.perf_counter() - still > 60:
                        break  # stalled: report what was stored
                    time.sleep(0.05)
                return n, time.perf_counter() - t
            finally:
                for p in procs:
                    p.terminate()
                for p in procs:
                    p.wait(30)
    finally:
        server.drop(url)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--feeds", type=int, default=200)
    ap.add_argument("--per-feed", type=int, default=3)
    ap.add_argument("--workers", default="1,2,4")
    args = ap.parse_args()
    counts = [int(n) for n in args.workers.split(",")]
    PER_FEED[0] = args.per_feed

    parent, child = multiprocessing.Pipe()
    http = multiprocessing.Process(target=serve, args=(args.feeds, args.per_feed, child), daemon=True)
    http.start()
    pubs = parent.recv()
    cluster = None
    admin = os.environ.get("TIDINGS_TEST_PG_URL")
    if not admin:
        cluster = LocalCluster()
        admin = cluster.url
    server = PgServer(admin)
    total = args.feeds * args.per_feed
    print(
        f"machine: {os.cpu_count()} CPU cores; replay: {args.feeds} feeds x {args.per_feed} "
        f"articles = {total} articles on 127.0.0.1"
    )
    try:
        with tempfile.TemporaryDirectory() as tmp:
            n, secs = sqlite_run(pubs, Path(tmp))
        base = n / secs
        print(f"{'setup':<34} {'articles':>8} {'seconds':>8} {'art/s':>7} {'vs baseline':>11}")
        print(f"{'SQLite, single process (baseline)':<34} {n:>8} {secs:>8.1f} {base:>7.1f} {1.0:>10.2f}x")
        for w in counts:
            n, secs = pg_run(server, pubs, w)
            print(
                f"{f'PostgreSQL, {w} worker process(es)':<34} {n:>8} {secs:>8.1f} "
                f"{n / secs:>7.1f} {n / secs / base:>10.2f}x"
            )
    finally:
        parent.send("stop")
        http.join(10)
        if cluster is not None:
            cluster.stop()


if __name__ == "__main__":
    main()
