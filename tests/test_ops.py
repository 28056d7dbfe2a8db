"""Operations: /healthz, /readyz, /metrics (loopback or admin token only) and JSON logs.

Runs on SQLite, and on PostgreSQL with TIDINGS_TEST_DATABASE=postgresql.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from tidings.config import Settings
from tidings.logs import JsonFormatter
from tidings.model import Source
from tidings.pipeline import Pipeline
from tidings.store import Store
from tidings.web import create_app

from .conftest import PublisherServer

SAMPLE = re.compile(r'^[a-z_]+(\{([a-z_]+="[^"]*",?)*\})? -?[0-9.e+]+$')


@pytest.fixture
def fetched(settings: Settings, store: Store, publisher_server: PublisherServer) -> Store:
    for name, path in (
        ("Planet", "/planet/rss.xml"),
        ("Wire", "/wire/feed.json"),
        ("Broken", "/bad/500.xml"),
    ):
        src = store.sources.add_source(Source(None, name))
        assert src.id is not None
        store.sources.add_feed(src.id, publisher_server.url(path))
    asyncio.run(Pipeline(settings, store).poll_due())
    return store


@pytest.fixture
def live(settings: Settings, fetched: Store) -> Iterator[str]:
    """The app on a real socket on 127.0.0.1 (so the client really is loopback)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings.replace(admin_token="s3cret"), fetched),
            host="127.0.0.1",
            port=port,
            log_level="error",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def test_health_and_readiness(live: str) -> None:
    assert httpx.get(live + "/healthz").json() == {"status": "ok"}
    ready = httpx.get(live + "/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"


def test_metrics_from_loopback_in_prometheus_format(live: str, fetched: Store) -> None:
    r = httpx.get(live + "/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    lines = r.text.strip().splitlines()
    for line in lines:
        assert line.startswith("# ") or SAMPLE.match(line), line
    values = {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in lines if not line.startswith("#")
    }
    assert values['tidings_articles{stage="stored"}'] == fetched.articles.count() > 0
    assert values["tidings_polls_total"] == 3
    assert values['tidings_fetch_errors_total{kind="feed"}'] == 1  # the 500
    assert values['tidings_fetch_latency_seconds_count{stage="article"}'] >= 1
    assert values['tidings_feeds{status="active"}'] == 3
    # an independent reader of the format agrees: prometheus_client's own parser
    families = {f.name: f for f in text_string_to_metric_families(r.text)}
    assert families["tidings_polls"].type == "counter"
    assert families["tidings_fetch_latency_seconds"].type == "summary"
    stored = [s for s in families["tidings_articles"].samples if s.labels == {"stage": "stored"}]
    assert stored[0].value == fetched.articles.count()


def test_metrics_hidden_from_the_public(live: str, settings: Settings, fetched: Store) -> None:
    # through a proxy on the same machine: not loopback any more
    assert httpx.get(live + "/metrics", headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 404
    remote = TestClient(create_app(settings.replace(admin_token="s3cret"), fetched))  # client "testclient"
    assert remote.get("/metrics").status_code == 404
    assert remote.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 404
    ok = remote.get("/metrics", headers={"Authorization": "Bearer s3cret"})
    assert ok.status_code == 200 and "tidings_articles" in ok.text
    no_token = TestClient(create_app(settings, fetched))  # empty admin_token never matches
    assert no_token.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 404
    assert remote.get("/healthz").status_code == 200  # health stays public


def test_readyz_fails_when_the_database_is_gone(settings: Settings, tmp_path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'gone.db'}")
    client = TestClient(create_app(settings, store))
    with store.engine.begin() as conn:
        from sqlalchemy import text

        conn.execute(text("DROP TABLE alembic_version"))
    r = client.get("/readyz")
    assert r.status_code == 503 and r.json()["status"] == "unavailable"
    store.close()


def test_json_log_lines_carry_extra_fields() -> None:
    record = logging.LogRecord("tidings.queue", logging.WARNING, __file__, 1, "retrying job %s", (7,), None)
    record.feed_id = 42
    line = json.loads(JsonFormatter().format(record))
    assert line["msg"] == "retrying job 7" and line["level"] == "warning"
    assert line["logger"] == "tidings.queue" and line["feed_id"] == 42
    assert line["ts"].endswith("Z") and isinstance(line["pid"], int)
