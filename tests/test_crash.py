"""Crash safety: kill -9 at any moment loses no stored article, duplicates none, strands no feed.

- PostgreSQL: a replay of a few hundred generated feeds on 127.0.0.1 is ingested
  by 3 worker processes while a chaos loop SIGKILLs a random worker every few
  seconds and starts a new one. Workers are forked from the (already warm)
  test process, as a pre-forking supervisor would start them, so a new one is
  working within a second rather than after its imports; what runs in them is
  ``JobQueue.work``, the body of ``tidings worker``. At the end every article is
  stored exactly once and the stored set equals a single-process run's.
- SQLite: ``tidings fetch`` is killed with SIGKILL mid-run (twice), then run
  again; the result equals an uninterrupted run and the database is intact.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import multiprocessing.process
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tidings.config import load_settings
from tidings.model import Source
from tidings.pipeline import Pipeline
from tidings.queue import JobQueue, queue_depth, warm_up
from tidings.store import Store

from . import replay
from .conftest import PublisherServer

pytestmark = pytest.mark.slow

Row = tuple[str, str, str | None, str]


def _load(store: Store, feeds: list[tuple[str, str]]) -> None:
    for name, url in feeds:
        src = store.sources.add_source(Source(None, name))
        assert src.id is not None
        store.sources.add_feed(src.id, url)


def _rows(store: Store) -> list[Row]:
    return sorted((a.canonical_url, a.title, a.content_hash, a.extraction) for a in store.articles.iter_all())


def _env(database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIDINGS_")}
    env.update(
        {
            "TIDINGS_DATABASE_URL": database_url,
            "TIDINGS_ALLOW_PRIVATE_ADDRESSES": "true",
            "TIDINGS_REQUEST_SPACING": "0",
            "TIDINGS_REQUEST_TIMEOUT": "30",
            "TIDINGS_ENRICH": "false",
            "TIDINGS_LOG_LEVEL": "WARNING",
            **extra,
        }
    )
    return env


def _in_stories(store: Store) -> int:
    return sum(a.story_id is not None for a in store.articles.iter_all())


def _single_process_run(
    tmp_path: Path, feeds: list[tuple[str, str]], stories: list[int] | None = None
) -> list[Row]:
    settings = load_settings(environ=_env(f"sqlite:///{tmp_path / 'baseline.db'}"), config_file=None)
    with Store(settings.database_url) as store:
        _load(store, feeds)
        asyncio.run(Pipeline(settings, store).poll_due())
        if stories is not None:
            stories.append(_in_stories(store))
        return _rows(store)


FORK = multiprocessing.get_context("fork")


def _worker(env: dict[str, str], log: Path) -> None:
    """One `tidings worker` (the CLI command's body), in a process forked from the test."""
    import logging

    handler = logging.FileHandler(log)
    logging.basicConfig(level=logging.WARNING, handlers=[handler], force=True)
    settings = load_settings(environ=env, config_file=None)
    with Store(settings.database_url) as store:
        asyncio.run(JobQueue(settings, store).work())


def _kill(proc: multiprocessing.process.BaseProcess) -> None:
    assert proc.pid is not None
    os.kill(proc.pid, signal.SIGKILL)
    proc.join(10)


@pytest.fixture
def replay_server() -> Iterator[PublisherServer]:
    server = PublisherServer()
    try:
        yield server
    finally:
        server.close()


@pytest.mark.postgres
def test_three_workers_under_sigkill_store_everything_exactly_once(
    pg_url: str, replay_server: PublisherServer, tmp_path: Path
) -> None:
    feeds = replay.install(replay_server.add, replay_server.base, feeds=200, per_feed=1)
    stories: list[int] = []
    expected = _single_process_run(tmp_path, feeds, stories)
    assert len(expected) == 200 and all(r[3] == "page" for r in expected)

    with Store(pg_url) as store:
        _load(store, feeds)
        env = _env(
            pg_url,
            TIDINGS_JOB_LEASE_TIMEOUT="5",
            TIDINGS_WORKER_CONCURRENCY="6",
            TIDINGS_MAX_CONNECTIONS_PER_HOST="2",
        )
        for path, route in replay_server.routes.items():  # stretch the run on a fast machine,
            if path.endswith(".html"):  # so the chaos surely lands mid-run (>= 10 s of waits)
                route.delay = 0.3
        logs = tmp_path / "workers"
        logs.mkdir()
        started = 0

        warm_up()  # children forked from here start warm, as under a pre-forking supervisor

        def start() -> multiprocessing.process.BaseProcess:
            nonlocal started
            started += 1
            store.engine.dispose()  # no pooled connection crosses the fork
            proc = FORK.Process(target=_worker, args=(env, logs / f"worker{started}.log"), daemon=True)
            proc.start()
            return proc

        workers = [start() for _ in range(3)]
        rng = random.Random(8)
        kills = kills_mid_run = 0
        t0 = time.monotonic()
        try:
            # chaos: every 1.5-3 s one random worker is SIGKILLed and replaced
            while store.articles.count() < len(expected) and time.monotonic() - t0 < 90:
                time.sleep(rng.uniform(1.5, 3.0))
                victim = rng.randrange(len(workers))
                in_progress = 0 < store.articles.count() < len(expected)
                _kill(workers[victim])
                kills += 1
                kills_mid_run += in_progress
                workers[victim] = start()
            # no more faults: the jobs of killed workers are retried after the lease
            while time.monotonic() - t0 < 130:
                pending = queue_depth(pg_url)
                unpolled = [f for f in store.sources.list_feeds() if f.last_success_at is None]
                if not pending and not unpolled and store.articles.count() >= len(expected):
                    break
                time.sleep(0.5)
        finally:
            for w in workers:
                _kill(w)
        elapsed = time.monotonic() - t0
        got = _rows(store)
        urls = [r[0] for r in got]
        tail = "\n".join(
            (logs / f"worker{i}.log").read_text(errors="replace")[-600:] for i in range(1, started + 1)
        )[-3000:]
        print(
            f"chaos: {kills} SIGKILLs ({kills_mid_run} mid-run), {started} worker starts, "
            f"{len(got)}/{len(expected)} articles, {elapsed:.0f} s"
        )
        assert kills_mid_run >= 3, f"chaos hit too late to mean anything ({kills} kills)\n{tail}"
        assert len(urls) == len(set(urls)), "an article was stored twice"
        assert got == expected, (
            f"{len(got)} of {len(expected)} articles after {elapsed:.0f}s and {kills} kills\n{tail}"
        )
        assert queue_depth(pg_url) == {}, "jobs left waiting (post-store included)"
        assert _in_stories(store) == stories[0] > 0  # the post-store stages ran on every one
        stuck = [
            f.url for f in store.sources.list_feeds() if f.last_success_at is None or f.next_poll_at is None
        ]
        assert stuck == []
        with store.engine.connect() as conn:
            from sqlalchemy import text

            failed = conn.execute(
                text("SELECT count(*) FROM procrastinate_jobs WHERE status = 'failed'")
            ).scalar_one()
        assert failed == 0


@pytest.mark.sqlite_only
def test_sqlite_fetch_killed_mid_run_resumes_without_loss_or_duplicates(
    replay_server: PublisherServer, tmp_path: Path
) -> None:
    feeds = replay.install(replay_server.add, replay_server.base, feeds=60, per_feed=2, page_delay=0.05)
    expected = _single_process_run(tmp_path, feeds)
    assert len(expected) == 120
    db = tmp_path / "killed.db"
    url = f"sqlite:///{db}"
    with Store(url) as store:
        _load(store, feeds)
    env = _env(url, TIDINGS_MAX_CONNECTIONS="8")

    def stored() -> int:
        try:
            with sqlite3.connect(db, timeout=30) as conn:
                return int(conn.execute("SELECT count(*) FROM articles").fetchone()[0])
        except sqlite3.Error:
            return 0

    kills = []
    for target in (20, 60):  # kill -9 twice, at different points
        proc = subprocess.Popen(
            [sys.executable, "-m", "tidings", "fetch"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while stored() < target and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills.append(stored())
    assert all(0 < k < len(expected) for k in kills), f"kills did not land mid-run: {kills}"
    done = subprocess.run(
        [sys.executable, "-m", "tidings", "fetch"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    with Store(url) as store:
        got = _rows(store)
        stuck = [f.url for f in store.sources.list_feeds() if f.last_success_at is None]
    assert [r[0] for r in got] == sorted({r[0] for r in got})  # no duplicates
    assert got == expected
    assert stuck == []
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
