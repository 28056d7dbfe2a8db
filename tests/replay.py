"""A generated replay: many small publishers, each with one RSS feed and a few article pages.

Used by the crash tests and ``benchmarks/scale.py``. Deterministic: the same
``(feeds, per_feed)`` always gives the same feeds, pages and texts, so a run
under faults can be compared with a clean run.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from xml.sax.saxutils import escape

WORDS = (
    "council",
    "harbour",
    "railway",
    "budget",
    "minister",
    "festival",
    "river",
    "court",
    "school",
    "market",
    "weather",
    "bridge",
    "election",
    "hospital",
    "museum",
    "port",
    "farmers",
    "workers",
    "tram",
    "airport",
    "library",
    "police",
    "storm",
    "energy",
)


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(9, 16))]
    return " ".join(words).capitalize() + "."


def article_page(i: int, j: int) -> tuple[str, str]:
    """(title, html) of article j of publisher i."""
    rng = random.Random(i * 1000 + j)
    title = f"Publisher {i} story {j}: the {rng.choice(WORDS)} and the {rng.choice(WORDS)}"
    paras = "\n".join(f"<p>{' '.join(_sentence(rng) for _ in range(4))}</p>" for _ in range(5))
    html = (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{title}</title>"
        f"</head><body><header><nav><a href='/'>Home</a></nav></header><article>"
        f"<h1>{title}</h1><p class='byline'>By Staff {i}</p>{paras}</article>"
        f"<footer>Copyright Publisher {i}</footer></body></html>"
    )
    return title, html


def feed_xml(base: str, i: int, per_feed: int) -> str:
    start = datetime(2026, 11, 20, tzinfo=UTC)
    items = []
    for j in range(per_feed):
        title, _ = article_page(i, j)
        when = format_datetime(start + timedelta(minutes=i * 7 + j))
        items.append(
            f"<item><title>{escape(title)}</title><link>{base}/r/{i}/a{j}.html</link>"
            f"<guid>{base}/r/{i}/a{j}.html</guid><pubDate>{when}</pubDate>"
            f"<description>Summary of story {j} from publisher {i}.</description></item>"
        )
    return (
        f"<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel>"
        f"<title>Publisher {i}</title><link>{base}/r/{i}/</link>"
        f"<description>Replay publisher {i}</description>{''.join(items)}</channel></rss>"
    )


def install(
    add: Callable[..., object], base: str, feeds: int, per_feed: int, page_delay: float = 0.0
) -> list[tuple[str, str]]:
    """Add the replay's routes with ``add(path, body, content_type=..., delay=...)``;
    returns (publisher name, feed URL) pairs."""
    out = []
    for i in range(feeds):
        add(f"/r/{i}/feed.xml", feed_xml(base, i, per_feed), content_type="application/rss+xml")
        for j in range(per_feed):
            add(
                f"/r/{i}/a{j}.html",
                article_page(i, j)[1],
                content_type="text/html; charset=utf-8",
                delay=page_delay,
            )
        out.append((f"Publisher {i}", f"{base}/r/{i}/feed.xml"))
    return out
