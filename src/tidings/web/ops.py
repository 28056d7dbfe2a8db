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
and state on PostgreSQL. The exposition format is a few lines of text per
metric, written here directly; the prometheus_client package's registry and
process-local counters would not fit figures that live in the database.
"""

from __future__ import annotations

import hmac
from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from sqlalchemy import case, func, select, text
from starlette.exceptions import HTTPException

from tidings.store import Store
from tidings.store.schema import articles, feeds, fetch_attempts, now_utc

router = APIRouter(include_in_schema=False)

LOOPBACK = {"127.0.0.1", "::1", "localhost"}
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
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


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class Exposition:
    """Prometheus text format, one metric family at a time."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def family(
        self, name: str, kind: str, help: str, samples: list[tuple[dict[str, str], float]], suffix: str = ""
    ) -> None:
        self.lines.append(f"# HELP {name} {help}")
        self.lines.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            self.sample(name + suffix, labels, value)

    def sample(self, name: str, labels: dict[str, str], value: float) -> None:
        lab = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
        self.lines.append(f"{name}{{{lab}}} {value:g}" if lab else f"{name} {value:g}")

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def render_metrics(store: Store) -> str:
    out = Exposition()
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
    out.family(
        "tidings_polls_total",
        "counter",
        "Feed polls recorded.",
        [({}, sum(n for (k, _), n in polls.items() if k == "feed"))],
    )
    out.family(
        "tidings_fetch_errors_total",
        "counter",
        "Failed fetches recorded, by kind.",
        [({"kind": k}, n) for (k, ok), n in sorted(polls.items()) if not ok],
    )
    out.family(
        "tidings_fetches_total",
        "counter",
        "Fetches recorded, by kind and outcome.",
        [({"kind": k, "ok": str(ok).lower()}, n) for (k, ok), n in sorted(polls.items())],
    )
    lat: dict[str, tuple[float, int]] = {}
    for kind, _, _, total_ms, timed in attempts:
        s, c = lat.get(kind, (0.0, 0))
        lat[kind] = (s + float(total_ms) / 1000.0, c + int(timed))
    out.family(
        "tidings_fetch_latency_seconds",
        "summary",
        "Time to fetch a feed or page (the fetch stage), by kind.",
        [],
    )
    for kind, (s, c) in sorted(lat.items()):
        out.sample("tidings_fetch_latency_seconds_sum", {"stage": kind}, s)
        out.sample("tidings_fetch_latency_seconds_count", {"stage": kind}, c)
    out.family(
        "tidings_feeds", "gauge", "Feeds by status.", [({"status": st}, n) for st, n in sorted(by_status)]
    )
    out.family(
        "tidings_feeds_overdue",
        "gauge",
        "Feeds whose next poll is more than 30 minutes late (none if workers keep up).",
        [({}, overdue)],
    )
    total, page, feed, none, dedup, clustered, enriched = (int(v or 0) for v in row)
    out.family(
        "tidings_articles",
        "gauge",
        "Stored articles, by the last stage that filled them.",
        [
            ({"stage": "stored"}, total),
            ({"stage": "extracted_page"}, page),
            ({"stage": "extracted_feed_fallback"}, feed),
            ({"stage": "no_text"}, none),
            ({"stage": "deduplicated"}, dedup),
            ({"stage": "clustered"}, clustered),
            ({"stage": "enriched"}, enriched),
        ],
    )
    if store.dialect == "postgresql":
        from tidings.queue import queue_depth

        depth = queue_depth(store.url)
        out.family(
            "tidings_queue_jobs",
            "gauge",
            "Jobs waiting (todo) or running (doing).",
            [({"queue": q, "state": s}, n) for (q, s), n in sorted(depth.items())],
        )
    return out.text()


@router.get("/metrics")
def metrics(request: Request) -> Response:
    if not allowed(request, request.app.state.settings.admin_token):
        raise HTTPException(status_code=404, detail="Not Found")
    return PlainTextResponse(render_metrics(request.app.state.store), media_type=CONTENT_TYPE)
