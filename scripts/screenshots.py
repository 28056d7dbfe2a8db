"""Regenerate docs/screenshots/*.png: home, story and article pages, desktop and phone.

    .venv/bin/python scripts/screenshots.py            # writes docs/screenshots/
    .venv/bin/python scripts/screenshots.py --out DIR

Fills a temporary SQLite database with a small demo edition (publishers,
articles, two stories, one with a wire copy and a storyline), serves the real
app with uvicorn on 127.0.0.1 and photographs it in headless Chromium
(Debian's ``chromium`` through Playwright's ``executable_path``; set
``TIDINGS_CHROMIUM`` to use another binary). Light colour scheme, so the
images are stable.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from sqlalchemy import insert, update  # noqa: E402

from tidings.config import load_settings  # noqa: E402
from tidings.model import Article, Source  # noqa: E402
from tidings.store import Store  # noqa: E402
from tidings.store.schema import articles, stories, storylines  # noqa: E402
from tidings.web import create_app  # noqa: E402

NOW = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)
PUBLISHERS = [
    ("The Daily Planet", "US"),
    ("The Gazette", "IN"),
    ("Harbour Herald", "GB"),
    ("Wire Service", None),
    ("Metro Evening", "CA"),
]
BODY = (
    "Officials said the agreement sets out a work plan covering security cooperation, "
    "trade talks and the return of diplomats, after two years of strained relations.\n\n"
    "The plan will be reviewed every six months, and both sides said they expected the "
    "first results before the summer. Opposition leaders welcomed the step but asked for "
    "details on how progress would be measured.\n\n"
    "Analysts said the move reflected pressure from business groups on both sides, who had "
    "warned that the dispute was costing jobs."
)
STORY_ARTICLES = [
    ("India and Canada agree on security work plan", 0, "Lois Lane", 0),
    ("India, Canada set out road map to rebuild ties", 1, "Priya Raman", 40),
    ("Canada and India agree plan to restore diplomatic staff", 4, "Tom Girard", 75),
    ("India and Canada agree on security work plan", 3, "Wire Staff", 90),
]
OTHER = [
    ("City council approves new tram line", 0, "world", "local"),
    ("Harbour festival moves to June after record heat", 2, "local", "local"),
    ("Markets close higher as energy shares rally", 3, "business", "business"),
    ("New battery plant to bring 2,000 jobs to the coast", 4, "business", "business"),
    ("Researchers map glacier retreat with drones", 2, "science", "science"),
    ("Cup final: late goal settles a tense derby", 1, "sports", "sports"),
    ("Heatwave warning issued for the weekend", 0, "local", "local"),
    ("Central bank holds rates, signals patience", 3, "business", "business"),
]


def fill(store: Store) -> tuple[int, int]:
    srcs = [
        store.sources.add_source(
            Source(None, n, f"https://{n.lower().replace(' ', '')}.example/", country=c, language="en")
        )
        for n, c in PUBLISHERS
    ]
    ids = []
    for i, (title, pub, author, minutes) in enumerate(STORY_ARTICLES):
        at = NOW - timedelta(hours=5) + timedelta(minutes=minutes)
        src = srcs[pub]
        ids.append(
            store.articles.insert(
                Article(
                    None,
                    f"https://example.org/{i}",
                    f"https://example.org/{i}",
                    title,
                    BODY,
                    "<p>" + BODY.replace("\n\n", "</p><p>") + "</p>",
                    src.name,
                    src.id,
                    None,
                    author=author,
                    published_at=at,
                    fetched_at=at + timedelta(minutes=3),
                    language="en",
                )
            )
        )
    for j, (title, pub, _, _) in enumerate(OTHER):
        at = NOW - timedelta(minutes=20 + j * 37)
        src = srcs[pub]
        store.articles.insert(
            Article(
                None,
                f"https://example.org/o{j}",
                f"https://example.org/o{j}",
                title,
                "A short report on the day's events, with reactions from residents and officials, "
                "and what happens next.",
                "",
                src.name,
                src.id,
                None,
                published_at=at,
                fetched_at=at,
                language="en",
            )
        )
    with store.engine.begin() as conn:
        line = conn.execute(
            insert(storylines).values(title="India-Canada relations", first_seen_at=NOW - timedelta(days=3))
        ).inserted_primary_key[0]
        conn.execute(
            insert(stories).values(
                title="Diplomats return to Ottawa and New Delhi",
                first_seen_at=NOW - timedelta(days=3),
                article_count=2,
                publisher_count=2,
                hotness=3.0,
                storyline_id=line,
                category="world",
            )
        )
        story = conn.execute(
            insert(stories).values(
                title="India and Canada agree on a security work plan",
                summary="The two countries agreed a work plan on security, trade and diplomats.",
                first_seen_at=NOW - timedelta(hours=5),
                last_updated_at=NOW - timedelta(hours=3),
                article_count=4,
                publisher_count=4,
                hotness=10.0,
                storyline_id=line,
                category="world",
                representative_article_id=ids[0],
                first_article_id=ids[0],
            )
        ).inserted_primary_key[0]
        conn.execute(update(articles).where(articles.c.id.in_(ids)).values(story_id=story))
        conn.execute(update(articles).where(articles.c.id == ids[3]).values(duplicate_of=ids[0]))
        for k, (title, _, cat, _) in enumerate(OTHER):
            row = conn.execute(articles.select().where(articles.c.title == title)).first()
            sid = conn.execute(
                insert(stories).values(
                    title=title,
                    first_seen_at=row.sort_at.replace(tzinfo=UTC),
                    article_count=1 + k % 3,
                    publisher_count=1 + k % 3,
                    hotness=8.0 - k,
                    category=cat,
                    representative_article_id=row.id,
                    first_article_id=row.id,
                )
            ).inserted_primary_key[0]
            conn.execute(update(articles).where(articles.c.id == row.id).values(story_id=sid))
    return int(story), int(ids[0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = ap.parse_args()
    chromium = os.environ.get("TIDINGS_CHROMIUM") or shutil.which("chromium")
    if not chromium:
        raise SystemExit("no chromium binary (apt-get install chromium, or set TIDINGS_CHROMIUM)")
    import uvicorn
    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(
            environ={}, config_file=None, database_url=f"sqlite:///{Path(tmp) / 'demo.db'}"
        )
        store = Store(settings.database_url)
        story_id, article_id = fill(store)
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        base = f"http://127.0.0.1:{sock.getsockname()[1]}"
        server = uvicorn.Server(uvicorn.Config(create_app(settings, store), log_level="warning"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(
                    executable_path=chromium,
                    args=[
                        "--no-sandbox",
                        "--disable-gpu",
                        "--disable-background-networking",
                        "--disable-component-update",
                        "--disable-sync",
                        "--no-first-run",
                    ],
                )
                for device, viewport, scale in (
                    ("desktop", {"width": 1280, "height": 900}, 1),
                    ("phone", {"width": 390, "height": 844}, 2),
                ):
                    context = browser.new_context(
                        viewport=viewport,
                        device_scale_factor=scale,
                        color_scheme="light",
                        is_mobile=device == "phone",
                    )
                    page = context.new_page()
                    for name, path in (
                        ("home", "/"),
                        ("story", f"/story/{story_id}"),
                        ("article", f"/article/{article_id}"),
                    ):
                        page.goto(base + path, wait_until="networkidle")
                        target = args.out / f"{name}-{device}.png"
                        page.screenshot(path=str(target), full_page=False)
                        print(f"wrote {target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}")
                    context.close()
                browser.close()
        finally:
            server.should_exit = True
            thread.join(10)
            store.close()


if __name__ == "__main__":
    main()
