"""The job queue for scale-out: feed and article jobs on PostgreSQL, workers in any number.

Why procrastinate (and not a home-made queue or pgqueuer): it is a well-kept
PostgreSQL-only task queue built on psycopg 3 (already our driver), with the
three things this stage needs built in: ``queueing_lock`` (at most one waiting
job per key, so the scheduler can enqueue a due feed as often as it likes),
``lock`` (at most one *running* job per key: one worker per feed) and worker
heartbeats (a job whose worker died is found by its stale heartbeat and
retried). pgqueuer would need its own locking on
top for the per-feed rule. Both packages are only imported here, lazily:
the default SQLite install needs neither.

Jobs (all idempotent: re-running one after a crash stores nothing twice)

- ``tidings.poll_feed(feed_id)`` - queue ``feeds``, lock ``feed:<id>``:
  fetch and parse one feed, enqueue one ``fetch_article`` job per entry whose
  URL is not stored yet, then record the feed's health and next poll. A crash
  before that last step leaves the feed's validators untouched, so the retry
  polls it again and skips every article already stored.
- ``tidings.fetch_article(feed_id, url, entry)`` - queue ``articles``,
  queueing lock ``article:<canonical url>``: fetch the page, extract, store
  (the unique canonical URL makes a second insert a no-op), then enqueue its
  ``tidings.post_store(article_id)`` job (queue ``post_store``, see below).

Post-store stages (``Pipeline.after_store``: dedup, clustering, enrichment)
hold in-process state (the clustering stage's online index), so they run in
exactly one process: ``tidings.post_store(article_id)`` jobs go to the
``post_store`` queue, which only the *leader* consumes, one job at a time.
Every worker tries to become leader; leadership is a PostgreSQL session
advisory lock (``POST_STORE_LOCK``) on a connection of its own, so when the
leader dies its lock goes with its connection and another worker takes over
within seconds (its clustering stage warms up from the database). That keeps
clustering consistent: one consumer sees articles one after another. Post-store
is at-least-once (a retried job, or an article job that finds its article
already stored, runs it again), so those stages must be idempotent. A
procrastinate ``lock`` shared by per-article jobs would serialise them too,
but not keep them in one process, and runs a chain of locked jobs only as
fast as workers poll for them.

Scheduling and leases. Every worker runs a small maintenance loop: it claims
due feeds (``SourceStore.claim_due_feeds`` pushes their ``next_poll_at`` one
claim lease ahead, with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL) and enqueues
a ``poll_feed`` job for each; and it retries jobs whose worker's heartbeat is
older than ``job_lease_timeout`` (a worker killed with SIGKILL). A feed whose
job is lost altogether becomes due again when its claim lease runs out, so no
feed stays stuck.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tidings.config import Settings
from tidings.errors import ConfigError, StorageError
from tidings.fetch import Fetcher
from tidings.model import Entry, Feed, ParsedFeed
from tidings.pipeline import FeedResult, Pipeline, canonical_url
from tidings.store import Store
from tidings.store.schema import now_utc

log = logging.getLogger(__name__)

QUEUES = ("feeds", "articles")  # every worker; "post_store" only in the leader
SCHEMA_LOCK = 7041978  # advisory lock id while the queue schema is created
POST_STORE_LOCK = 7041979  # advisory lock id: one post-store consumer at a time
# A worker looks for fetchable jobs on each new-job notification and at least this often;
# a feed's second poll job, waiting on the feed's lock, is found by this poll.
POLL_INTERVAL = 1.0
CLAIM_FACTOR = 10  # a claimed feed is due again after CLAIM_FACTOR x job_lease_timeout


def libpq_url(url: str) -> str:
    """The plain ``postgresql://`` form of a SQLAlchemy URL, for psycopg and procrastinate."""
    for prefix in ("postgresql+psycopg://", "postgresql+psycopg2://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix) :]
    if not url.startswith("postgresql://"):
        raise ConfigError(
            f"the job queue needs PostgreSQL (database_url is {url.split(':', 1)[0]}:...); "
            "set TIDINGS_DATABASE_URL=postgresql://... or use `tidings fetch`/`tidings run`"
        )
    return url


def ensure_queue_schema(database_url: str) -> None:
    """Create procrastinate's tables once (idempotent, safe when workers start together)."""
    try:
        import psycopg
        from procrastinate.schema import SchemaManager
    except ImportError as e:  # pragma: no cover - depends on the install
        raise ConfigError("the job queue needs the postgres extra: pip install 'tidings[postgres]'") from e
    try:
        with psycopg.connect(libpq_url(database_url), autocommit=False) as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
            exists = conn.execute("SELECT to_regclass('procrastinate_jobs')").fetchone()
            if exists is None or exists[0] is None:
                conn.execute(SchemaManager.get_schema())  # type: ignore[call-overload]
            conn.commit()
    except psycopg.Error as e:
        raise StorageError(f"cannot prepare the job queue: {e}") from e


# -- entries travel through the queue as JSON -----------------------------------------


def entry_to_json(entry: Entry) -> dict[str, Any]:
    data = asdict(entry)
    for key in ("published_at", "updated_at"):
        if data[key] is not None:
            data[key] = data[key].isoformat()
    data["categories"] = list(entry.categories)
    return data


def entry_from_json(data: dict[str, Any]) -> Entry:
    values = dict(data)
    for key in ("published_at", "updated_at"):
        if values.get(key):
            values[key] = datetime.fromisoformat(values[key])
    values["categories"] = tuple(values.get("categories") or ())
    known = set(Entry.__dataclass_fields__)
    return Entry(**{k: v for k, v in values.items() if k in known})


def warm_up() -> None:
    """Load the extractor's lazy parts (trafilatura and friends, a second or more) up front,
    so a freshly started worker does not hold its first jobs that long."""
    from tidings.extract import extract

    page = (
        "<html><head><title>warm</title></head><body><article><h1>warm</h1>"
        + "<p>The council met on Tuesday to discuss the new tram line.</p>" * 5
        + "</article></body></html>"
    )
    extract(page.encode(), "http://localhost/warm-up.html")


@dataclass
class WorkerStats:
    """What one worker process did (for logs and tests)."""

    polls: int = 0
    articles: int = 0
    stalled_retried: int = 0
    enqueued: int = 0
    started: float = field(default_factory=time.monotonic)


class QueuedPipeline(Pipeline):
    """The pipeline, with the article stage handed to the queue instead of run inline."""

    def __init__(self, settings: Settings, store: Store, queue: JobQueue) -> None:
        super().__init__(settings, store)
        self.queue = queue

    async def ingest(self, fetcher: Fetcher, feed: Feed, parsed: ParsedFeed, result: FeedResult) -> None:
        for url, entry in self.new_entries(parsed):
            await self.queue.defer_article(feed, url, entry)
            result.new_articles += 1  # enqueued; stored by the article job


class JobQueue:
    """The procrastinate app with tidings' three tasks, bound to settings and a store."""

    def __init__(self, settings: Settings, store: Store) -> None:
        try:
            import procrastinate
        except ImportError as e:  # pragma: no cover - depends on the install
            raise ConfigError(
                "the job queue needs the postgres extra: pip install 'tidings[postgres]'"
            ) from e
        self.settings = settings
        self.store = store
        self.stats = WorkerStats()
        self._fetcher: Fetcher | None = None
        self._procrastinate = procrastinate
        self.app = procrastinate.App(
            connector=procrastinate.PsycopgConnector(conninfo=libpq_url(settings.database_url))
        )
        self.pipeline = QueuedPipeline(settings, store, self)
        retry = procrastinate.RetryStrategy(
            max_attempts=5, exponential_wait=2, retry_exceptions={StorageError, OSError}
        )

        @self.app.task(name="tidings.poll_feed", queue="feeds", retry=retry)
        async def poll_feed(feed_id: int) -> None:
            await self._poll_feed(feed_id)

        @self.app.task(name="tidings.fetch_article", queue="articles", retry=retry)
        async def fetch_article(feed_id: int, url: str, entry: dict[str, Any]) -> None:
            await self._fetch_article(feed_id, url, entry)

        @self.app.task(name="tidings.post_store", queue="post_store", retry=retry)
        def post_store(article_id: int) -> None:
            self.pipeline.after_store(article_id)  # in a thread, in the leader process only

        self.poll_task, self.article_task, self.post_task = poll_feed, fetch_article, post_store
        self.leader = False

    # -- deferring (idempotent: a waiting job with the same key means "already done") ----
    async def _defer(self, deferrer: Any, **kwargs: Any) -> bool:
        try:
            await deferrer.defer_async(**kwargs)
        except self._procrastinate.exceptions.AlreadyEnqueued:
            return False
        return True

    async def defer_poll(self, feed_id: int) -> bool:
        key = f"feed:{feed_id}"
        return await self._defer(self.poll_task.configure(lock=key, queueing_lock=key), feed_id=feed_id)

    async def defer_article(self, feed: Feed, url: str, entry: Entry) -> bool:
        key = f"article:{canonical_url(url)}"[:1000]
        return await self._defer(
            self.article_task.configure(queueing_lock=key),
            feed_id=feed.id,
            url=url,
            entry=entry_to_json(entry),
        )

    async def post_store(self, article_id: int) -> None:
        """Hand a stored article to the post-store consumer (the leader's queue)."""
        await self._defer(self.post_task.configure(), article_id=article_id)

    async def _lead_post_store(self, *, burst: bool, every: float) -> bool:
        """Become the one post-store consumer if no other process is; returns whether it led.

        Leadership is a session advisory lock on a connection of its own: it lasts as
        long as this process's connection, so a killed leader's successor takes over
        within ``every`` seconds; if the connection fails, this process stops leading."""
        import psycopg

        lease = self.settings.job_lease_timeout
        while True:
            conn: psycopg.AsyncConnection[Any] | None = None
            try:
                conn = await psycopg.AsyncConnection.connect(
                    libpq_url(self.settings.database_url), autocommit=True
                )
                cur = await conn.execute("SELECT pg_try_advisory_lock(%s)", (POST_STORE_LOCK,))
                row = await cur.fetchone()
                if row and row[0]:
                    self.leader = True
                    consumer = asyncio.create_task(
                        self.app.run_worker_async(
                            queues=["post_store"],
                            concurrency=1,
                            wait=not burst,
                            name="post-store",
                            delete_jobs="successful",
                            update_heartbeat_interval=max(0.5, lease / 4),
                            stalled_worker_timeout=lease,
                            install_signal_handlers=False,
                            fetch_job_polling_interval=POLL_INTERVAL,
                        )
                    )
                    try:
                        while not consumer.done():  # watchdog: still holding the lock?
                            await asyncio.wait({consumer}, timeout=every)
                            if not consumer.done():
                                await conn.execute("SELECT 1")
                    finally:
                        if not consumer.done():
                            consumer.cancel()
                            with contextlib.suppress(asyncio.CancelledError):
                                await consumer
                        self.leader = False
                    return True
            except psycopg.Error as e:
                log.warning("post-store leadership lost: %s", e)
            finally:
                if conn is not None:
                    await conn.close()
            if burst:
                return False
            await asyncio.sleep(every)

    # -- the jobs ---------------------------------------------------------------------
    def fetcher(self) -> Fetcher:
        assert self._fetcher is not None, "jobs run only inside JobQueue.work()"
        return self._fetcher

    async def _poll_feed(self, feed_id: int) -> None:
        feed = self.store.sources.get_feed(feed_id)
        if feed is None or feed.status == "retired":
            return  # removed or retired since it was enqueued
        result = await self.pipeline.poll_feed(self.fetcher(), feed)
        self.stats.polls += 1
        log.info(
            "polled feed", extra={"feed_id": feed_id, "outcome": result.outcome, "new": result.new_articles}
        )

    async def _fetch_article(self, feed_id: int, url: str, entry_data: dict[str, Any]) -> None:
        stored = self.store.articles.get_by_url(canonical_url(url)) or self.store.articles.get_by_url(url)
        if stored is not None and stored.id is not None:
            # stored by an earlier attempt that may have died before its post-store
            # stages ran: run them (again); they are at-least-once
            await self.post_store(stored.id)
            return
        feed = self.store.sources.get_feed(feed_id)
        if feed is None:
            return
        entry = entry_from_json(entry_data)
        article = await self.pipeline.fetch_article(self.fetcher(), feed, url, entry)
        if article is None:
            return
        article_id = self.store.articles.insert(article)
        if article_id is not None:
            self.stats.articles += 1
            await self.post_store(article_id)

    # -- maintenance: schedule due feeds, retry the jobs of dead workers ------------------
    async def enqueue_due(self, limit: int = 500) -> int:
        lease = timedelta(seconds=self.settings.job_lease_timeout * CLAIM_FACTOR)
        feeds = self.store.sources.claim_due_feeds(lease, limit=limit)
        n = 0
        for feed in feeds:
            assert feed.id is not None
            n += await self.defer_poll(feed.id)
        self.stats.enqueued += n
        return n

    async def retry_stalled(self) -> int:
        jobs = await self.app.job_manager.get_stalled_jobs(
            seconds_since_heartbeat=self.settings.job_lease_timeout
        )
        n = 0
        for job in jobs:
            with contextlib.suppress(Exception):  # another worker retried it first
                await self.app.job_manager.retry_job(job)
                n += 1
                log.warning("retrying job of a dead worker", extra={"job_id": job.id, "task": job.task_name})
        self.stats.stalled_retried += n
        return n

    async def _waiting_jobs(self, queues: tuple[str, ...]) -> int:
        """Jobs ready to run now (a retry scheduled for later does not count)."""
        jobs = await self.app.job_manager.list_jobs_async(status="todo")
        now = now_utc()
        return sum(1 for j in jobs if j.queue in queues and (j.scheduled_at is None or j.scheduled_at <= now))

    async def _maintenance(self, every: float) -> None:
        while True:
            try:
                await self.retry_stalled()
                await self.enqueue_due()
            except Exception as e:  # the database may be briefly away; keep the worker alive
                log.warning("queue maintenance failed: %s", e)
            await asyncio.sleep(every)

    async def work(
        self, *, concurrency: int | None = None, burst: bool = False, name: str | None = None
    ) -> WorkerStats:
        """Run a worker until stopped (SIGINT/SIGTERM), or until the queues are empty (burst)."""
        ensure_queue_schema(self.settings.database_url)
        lease = self.settings.job_lease_timeout
        await asyncio.to_thread(warm_up)  # before taking jobs: a fresh worker is slow once
        async with self.app.open_async(), Fetcher(self.settings) as fetcher:
            self._fetcher = fetcher
            every = min(2.0, max(0.5, lease / 4))
            side: list[asyncio.Task[Any]] = []
            if burst:
                await self.retry_stalled()
                await self.enqueue_due(limit=1_000_000)
            else:
                side = [
                    asyncio.create_task(self._maintenance(every)),
                    asyncio.create_task(self._lead_post_store(burst=False, every=every)),
                ]
            try:
                while True:
                    await self.app.run_worker_async(
                        queues=list(QUEUES),
                        concurrency=concurrency or self.settings.worker_concurrency,
                        wait=not burst,
                        name=name,
                        delete_jobs="successful",
                        update_heartbeat_interval=max(0.5, lease / 4),
                        stalled_worker_timeout=lease,
                        install_signal_handlers=not burst,
                        fetch_job_polling_interval=POLL_INTERVAL,
                    )
                    if not burst:
                        break
                    # a burst worker stops when no job is fetchable: run the post-store
                    # queue if no other process leads it, and go round while work remains
                    led = await self._lead_post_store(burst=True, every=every)
                    if not await self._waiting_jobs(QUEUES + (("post_store",) if led else ())):
                        break
            finally:
                for task in side:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                self._fetcher = None
        return self.stats


def queue_depth(database_url: str) -> dict[tuple[str, str], int]:
    """Jobs per (queue, status) that are waiting or running; empty where there is no queue."""
    import psycopg

    with psycopg.connect(libpq_url(database_url), connect_timeout=5) as conn:
        if conn.execute("SELECT to_regclass('procrastinate_jobs')").fetchone() == (None,):
            return {}
        rows = conn.execute(
            "SELECT queue_name, status::text, count(*) FROM procrastinate_jobs "
            "WHERE status IN ('todo', 'doing') GROUP BY 1, 2"
        ).fetchall()
    return {(q, s): int(n) for q, s, n in rows}
