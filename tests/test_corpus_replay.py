"""Replay the real captured feeds of ../shared/corpus through a local server and ingest them all.

Skipped when ../shared/corpus is absent. The server keeps a simulated clock:
for each feed URL it serves the newest snapshot captured at or before "now",
with an ETag from the snapshot's hash (304 when it matches), and the test
advances the clock through every capture time, polling all feeds each time.

Item links in the feeds are rewritten at serve time to this server
(``/<host>/<path>``). Article URLs that are not in the corpus answer 404 — the
faithful choice (README "Replay", option 1) — so those articles must fall back
to the feed's own text with the reason recorded.
"""

from __future__ import annotations

import asyncio
import http.server
import json
import re
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tidings.config import Settings
from tidings.model import Source
from tidings.parse import parse_feed
from tidings.pipeline import Pipeline, canonical_url
from tidings.store import Store

from .conftest import shared_path

pytestmark = [pytest.mark.shared, pytest.mark.slow, pytest.mark.timeout(1200)]

_LINK = re.compile(
    rb"(<link>|<guid[^>]*>|<link\s[^>]*?href=[\"'])(\s*(?:<!\[CDATA\[)?\s*)(https?://)([^/<\"'\s\]]+)"
)


def key(url: str) -> str:
    u = urlsplit(url)
    host = u.netloc.lower().removeprefix("www.")
    return host + u.path + (("?" + u.query) if u.query else "")


class Replay(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, root: Path, files: list[dict]) -> None:
        super().__init__(("127.0.0.1", 0), ReplayHandler)
        self.root = root
        self.base = f"http://127.0.0.1:{self.server_port}"
        self.now = "0000"
        self.table: dict[str, list[dict]] = {}
        for e in files:
            if e.get("url") and e["kind"] in ("feed", "article"):
                self.table.setdefault(key(e["url"]), []).append(e)
        for entries in self.table.values():
            entries.sort(key=lambda e: e.get("captured_at") or "")
        self.served: dict[str, dict] = {}  # feed key -> snapshot entry served (latest)

    def rewrite(self, body: bytes) -> bytes:
        def sub(m: re.Match[bytes]) -> bytes:
            host = m.group(4).lower().removeprefix(b"www.")
            return m.group(1) + m.group(2) + self.base.encode() + b"/" + host

        return _LINK.sub(sub, body)


class ReplayHandler(http.server.BaseHTTPRequestHandler):
    server: Replay
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        k = self.path.lstrip("/")
        entries = [
            e
            for e in self.server.table.get(k, [])
            if e["kind"] == "article" or (e.get("captured_at") or "") <= self.server.now
        ]
        if not entries:
            self._send(404, b"not in the corpus", {"Content-Type": "text/plain"})
            return
        e = entries[-1]
        etag = f'"{e["sha256"][:16]}"'
        if self.headers.get("If-None-Match") == etag:
            self._send(304, b"", {"ETag": etag})
            return
        body = (self.server.root / e["path"]).read_bytes()
        if e["kind"] == "feed":
            body = self.server.rewrite(body)
            self.server.served[k] = e
            ctype = {"rss": "application/rss+xml", "atom": "application/atom+xml"}[e["format"]]
        else:
            ctype = "text/html"
        self._send(200, body, {"Content-Type": ctype, "ETag": etag})

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for h, v in headers.items():
            self.send_header(h, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)


def test_replay_every_captured_feed(settings: Settings, store: Store) -> None:
    root = shared_path("corpus")
    files = json.loads((root / "manifest.json").read_text())["files"]
    server = Replay(root, files)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        feeds = [e for e in files if e["kind"] == "feed" and e.get("url")]
        feed_keys = sorted({key(e["url"]) for e in feeds})
        for k in feed_keys:
            src = store.sources.add_source(Source(None, k.split("/")[0]))
            assert src.id is not None
            store.sources.add_feed(src.id, f"{server.base}/{k}")
        s = settings.replace(max_items_per_feed=2000, max_connections=32)
        pipeline = Pipeline(s, store)
        expected_links: set[str] = set()
        snapshots_parsed = 0
        for now in sorted({e["captured_at"] for e in feeds}):
            server.now = now
            store.sources.reschedule_all()
            before = dict(server.served)
            summary = asyncio.run(pipeline.poll_due())
            assert summary.feeds == len(feed_keys)
            for k, e in server.served.items():
                if before.get(k) is e:
                    continue  # same snapshot as last cycle (answered 304 or skipped)
                parsed = parse_feed(server.rewrite((root / e["path"]).read_bytes()), max_items=2000)
                snapshots_parsed += 1
                expected_links.update(x.link for x in parsed.entries if x.link)
        print(
            f"replayed {snapshots_parsed} snapshots of {len(feed_keys)} feeds: "
            f"{len(expected_links)} distinct item links"
        )
        assert snapshots_parsed >= 200  # 215 snapshots, a few are identical to the one before
        stored = list(store.articles.iter_all())
        stored_urls = {a.url for a in stored} | {a.canonical_url for a in stored}
        missing = [u for u in expected_links if u not in stored_urls and canonical_url(u) not in stored_urls]
        assert not missing, f"{len(missing)} feed items not stored, e.g. {missing[:3]}"
        assert len(stored) >= 0.95 * len(expected_links)
        # article pages are not in the corpus: each falls back to feed text with a reason
        fallbacks = [a for a in stored if a.extraction != "page"]
        assert len(fallbacks) == len(stored)
        assert all("HTTP 404" in (a.extraction_reason or "") for a in fallbacks)
        assert sum(a.extraction == "feed" for a in stored) >= 0.9 * len(stored)
        assert all(a.title for a in stored)
        for f in store.sources.list_feeds():
            assert f.error_count == 0, (f.url, f.last_error)
            assert f.last_success_at is not None
    finally:
        server.shutdown()
        server.server_close()
