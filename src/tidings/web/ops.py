"""Operations endpoints: ``/healthz``, ``/readyz`` and Prometheus ``/metrics``.

- ``/healthz``: the process answers (liveness; touches nothing else).
- ``/readyz``: the database answers and its schema is at the newest revision
  (readiness: a load balancer sends traffic only to ready processes); 503 if not.
- ``/metrics``: Prometheus text exposition format 0.0.4. Only for loopback
  clients (a request carrying ``X-Forwarded-For``/``Forwarded`` came through a
  proxy and does not count as loopback) or with the admin token as
  ``Authorization: Bearer <token>``; anyone else gets 404, as if it did not exist.

Every figure is read from the database, not from process memory, so any one of
several stateless ``tidings serve`` processes reports the whole installation
(all workers' polls and errors included): polls and errors from
``fetch_attempts`` (kept until pruned), stage latencies as summaries of the
recorded fetch times, articles per stage from the ``articles`` columns each
stage fills, feeds by status and overdue, and the job queue's depth per queue
and state on PostgreSQL. prometheus_client writes the exposition: a custom
collector (``DatabaseCollector``) in a registry of its own reads the figures at
scrape time, since process-local counters would not see other processes' work.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric, SummaryMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.registry import Collector
from sqlalchemy import case, func, select, text
from starlette.exceptions import HTTPException

from tidings.store import Store
from tidings.store.schema import articles, feeds, fetch_attempts, now_utc

router = APIRouter(include_in_schema=False)

LOOPBACK = {"127.0.0.1", "::1", "localhost"}
OVERDUE = timedelta(minutes=30)


def allowed(request: Request, token: str) -> bool:
    """Loopback without a proxy in between, or the admin token."""
    auth = request.headers.get("authorization", "")
    if token and auth.startswith("Bearer ") and hmac.compare_digest(auth[7:].strip(), token):
        return True
    proxied = "x-forwarded-for" in request.headers or "forwarded" in request.headers
    host = request.client.host if request.client else ""
    return host in LOOPBACK and not proxied


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
def readyz(request: Request) -> Response:
    store: Store = request.app.state.store
    try:
        with store.engine.connect() as conn:
            version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except Exception as e:  # any database failure means "not ready"
        return JSONResponse({"status": "unavailable", "error": type(e).__name__}, status_code=503)
    from alembic.script import ScriptDirectory

    from tidings.store import MIGRATIONS

    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    if version != head:
        return JSONResponse({"status": "migrating", "schema": version, "head": head}, status_code=503)
    return JSONResponse({"status": "ready", "schema": version, "database": store.dialect})


class DatabaseCollector(Collector):
    """Reads every figure from the database at scrape time (see the module docstring)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def collect(self) -> Iterator[Metric]:
        store = self.store
        now = now_utc()
        with store.engine.connect() as conn:
            attempts = conn.execute(
                select(
                    fetch_attempts.c.kind,
                    fetch_attempts.c.ok,
                    func.count(),
                    func.coalesce(func.sum(fetch_attempts.c.elapsed_ms), 0),
                    func.count(fetch_attempts.c.elapsed_ms),
                ).group_by(fetch_attempts.c.kind, fetch_attempts.c.ok)
            ).all()
            by_status = conn.execute(select(feeds.c.status, func.count()).group_by(feeds.c.status)).all()
            overdue = conn.execute(
                select(func.count())
                .select_from(feeds)
                .where(feeds.c.status != "retired", feeds.c.next_poll_at < now - OVERDUE)
            ).scalar_one()
            row = conn.execute(
                select(
                    func.count(),
                    func.sum(case((articles.c.extraction == "page", 1), else_=0)),
                    func.sum(case((articles.c.extraction == "feed", 1), else_=0)),
                    func.sum(case((articles.c.extraction == "none", 1), else_=0)),
                    func.count(articles.c.duplicate_group_id),
                    func.count(articles.c.story_id),
                    func.count(articles.c.enriched_at),
                )
            ).one()
        polls = {(k, bool(ok)): n for k, ok, n, _, _ in attempts}
        c = CounterMetricFamily("tidings_polls", "Feed polls recorded.")
        c.add_metric([], sum(n for (k, _), n in polls.items() if k == "feed"))
        yield c
        c = CounterMetricFamily("tidings_fetch_errors", "Failed fetches recorded, by kind.", labels=["kind"])
        for (k, ok), n in sorted(polls.items()):
            if not ok:
                c.add_metric([k], n)
        yield c
        c = CounterMetricFamily(
            "tidings_fetches", "Fetches recorded, by kind and outcome.", labels=["kind", "ok"]
        )
        for (k, ok), n in sorted(polls.items()):
            c.add_metric([k, str(ok).lower()], n)
        yield c
        lat: dict[str, tuple[float, int]] = {}
        for kind, _, _, total_ms, timed in attempts:
            s, n = lat.get(kind, (0.0, 0))
            lat[kind] = (s + float(total_ms) / 1000.0, n + int(timed))
        summary = SummaryMetricFamily(
            "tidings_fetch_latency_seconds",
            "Time to fetch a feed or page (the fetch stage), by kind.",
            labels=["stage"],
        )
        for kind, (s, n) in sorted(lat.items()):
            summary.add_metric([kind], count_value=n, sum_value=s)
        yield summary
        g = GaugeMetricFamily("tidings_feeds", "Feeds by status.", labels=["status"])
        for st, n in sorted(by_status):
            g.add_metric([st], n)
        yield g
        yield GaugeMetricFamily(
            "tidings_feeds_overdue",
            "Feeds whose next poll is more than 30 minutes late (none if workers keep up).",
            value=overdue,
        )
        total, page, feed, none, dedup, clustered, enriched = (int(v or 0) for v in row)
        g = GaugeMetricFamily(
            "tidings_articles", "Stored articles, by the last stage that filled them.", labels=["stage"]
        )
        for stage, n in (
            ("stored", total),
            ("extracted_page", page),
            ("extracted_feed_fallback", feed),
            ("no_text", none),
            ("deduplicated", dedup),
            ("clustered", clustered),
            ("enriched", enriched),
        ):
            g.add_metric([stage], n)
        yield g
        if store.dialect == "postgresql":
            from tidings.queue import queue_depth

            g = GaugeMetricFamily(
                "tidings_queue_jobs", "Jobs waiting (todo) or running (doing).", labels=["queue", "state"]
            )
            for (q, st), n in sorted(queue_depth(store.url).items()):
                g.add_metric([q, st], n)
            yield g


def render_metrics(store: Store) -> bytes:
    """The exposition of one scrape: a registry holding only the database collector."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector(store))
    return generate_latest(registry)


@router.get("/metrics")
def metrics(request: Request) -> Response:
    if not allowed(request, request.app.state.settings.admin_token):
        raise HTTPException(status_code=404, detail="Not Found")
    return Response(render_metrics(request.app.state.store), media_type=CONTENT_TYPE_PLAIN_0_0_4)
