"""The PostgreSQL job queue: workers, per-feed locks, retries of dead workers' jobs.

Real PostgreSQL (tests/pg.py), real HTTP to the fixture publishers on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tidings.config import Settings, load_settings
from tidings.errors import ConfigError
from tidings.model import Entry, Source
from tidings.pipeline import Pipeline
from tidings.queue import JobQueue, entry_from_json, entry_to_json, libpq_url, queue_depth
from tidings.store import Store

from .conftest import PublisherServer

GOOD = (
    ("The Daily Planet", "/planet/rss.xml"),
    ("The Gazette", "/gazette/atom.xml"),
    ("Wire Service", "/wire/feed.json"),
)


def _settings(url: str, **kw: object) -> Settings:
    return load_settings(
        environ={},
        config_file=None,
        database_url=url,
        allow_private_addresses=True,
        request_timeout=20.0,
        request_spacing=0.0,
        job_lease_timeout=2.0,
        **kw,
    )


def _add_feeds(store: Store, server: PublisherServer) -> None:
    for name, path in GOOD:
        src = store.sources.add_source(Source(None, name))
        assert src.id is not None
        store.sources.add_feed(src.id, server.url(path))


def _articles(store: Store) -> set[tuple[str, str]]:
    return {(a.canonical_url, a.title) for a in store.articles.iter_all()}


@given(
    st.builds(
        Entry,
        link=st.one_of(st.none(), st.text()),
        title=st.one_of(st.none(), st.text()),
        published_at=st.one_of(st.none(), st.datetimes(timezones=st.just(UTC))),
        categories=st.lists(st.text(), max_size=3).map(tuple),
    )
)
def test_entries_survive_the_trip_through_the_queue(entry: Entry) -> None:
    assert entry_from_json(entry_to_json(entry)) == entry


def test_queue_needs_postgresql() -> None:
    with pytest.raises(ConfigError, match="needs PostgreSQL"):
        libpq_url("sqlite:///tidings.db")
    assert libpq_url("postgresql+psycopg://u@h/d") == "postgresql://u@h/d"


def test_worker_refuses_sqlite_with_a_clear_message(tmp_path) -> None:
    env = {"TIDINGS_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "PATH": "/usr/bin:/bin"}
    r = subprocess.run(
        [sys.executable, "-m", "tidings", "worker", "--burst"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 1
    assert "needs PostgreSQL" in r.stderr


@pytest.mark.postgres
def test_burst_worker_stores_what_a_single_process_run_stores(
    pg_url: str, publisher_server: PublisherServer, tmp_path
) -> None:
    # the single-process default on SQLite
    with Store(f"sqlite:///{tmp_path / 'one.db'}") as one:
        _add_feeds(one, publisher_server)
        asyncio.run(Pipeline(_settings(one.url), one).poll_due())
        expected = _articles(one)
        in_stories = sum(a.story_id is not None for a in one.articles.iter_all())
    assert len(expected) >= 5
    with Store(pg_url) as store:
        _add_feeds(store, publisher_server)
        queue = JobQueue(_settings(pg_url), store)
        stats = asyncio.run(queue.work(concurrency=4, burst=True))
        assert stats.polls == 3
        assert _articles(store) == expected
        assert queue_depth(pg_url) == {}  # nothing left waiting or running
        # the post-store stages (clustering) ran on every article, in the leader
        assert sum(a.story_id is not None for a in store.articles.iter_all()) == in_stories > 0
        assert all(f.last_success_at is not None for f in store.sources.list_feeds())
        # a second burst: the feeds are not due, nothing is fetched or stored twice
        hits = len(publisher_server.log)
        again = asyncio.run(JobQueue(_settings(pg_url), store).work(burst=True))
        assert again.polls == 0 and len(publisher_server.log) == hits
        assert _articles(store) == expected


@pytest.mark.postgres
def test_one_waiting_poll_per_feed(pg_url: str, publisher_server: PublisherServer) -> None:
    with Store(pg_url) as store:
        _add_feeds(store, publisher_server)
        queue = JobQueue(_settings(pg_url), store)
        feed = store.sources.list_feeds()[0]
        assert feed.id is not None

        async def defer_twice() -> tuple[bool, bool]:
            async with queue.app.open_async():
                return await queue.defer_poll(feed.id), await queue.defer_poll(feed.id)

        assert asyncio.run(defer_twice()) == (True, False)
        assert queue_depth(pg_url) == {("feeds", "todo"): 1}


@pytest.mark.postgres
def test_job_of_a_dead_worker_is_retried_after_the_lease(
    pg_url: str, publisher_server: PublisherServer
) -> None:
    import psycopg

    with Store(pg_url) as store:
        _add_feeds(store, publisher_server)
        queue = JobQueue(_settings(pg_url), store)
        planet = store.sources.get_feed_by_url(publisher_server.url("/planet/rss.xml"))
        assert planet is not None and planet.id is not None

        async def defer() -> None:
            async with queue.app.open_async():
                await queue.defer_poll(planet.id)

        asyncio.run(defer())
        # a worker took the job and was killed: its heartbeat stopped a minute ago
        with psycopg.connect(libpq_url(pg_url), autocommit=True) as conn:
            wid = conn.execute(
                "INSERT INTO procrastinate_workers (last_heartbeat) "
                "VALUES (now() - interval '1 minute') RETURNING id"
            ).fetchone()[0]
            conn.execute("UPDATE procrastinate_jobs SET status = 'doing', worker_id = %s", (wid,))
        # the feed itself is leased far ahead, as the scheduler would have left it
        store.sources.claim_due_feeds(timedelta(hours=1))
        assert store.sources.due_feeds() == []
        stats = asyncio.run(JobQueue(_settings(pg_url), store).work(burst=True))
        assert stats.stalled_retried == 1
        assert stats.polls == 1  # the dead worker's job, run again
        titles = {t for _, t in _articles(store)}
        assert "India and Canada agree on security work plan" in titles
        planet = store.sources.get_feed(planet.id)
        assert planet is not None and planet.last_success_at is not None
        assert planet.next_poll_at is not None and planet.next_poll_at > datetime.now(UTC)
