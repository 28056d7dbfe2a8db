"""Parse-stage throughput: tidings' ``parse_feed`` against plain feedparser, same feeds, same run.

Corpus: ``../shared/bench/feed-parsers/gen_feeds.py`` (200 realistic news feeds,
RSS 2.0 and Atom 1.0, ~88 KB each, every tenth with full article HTML).
Baseline (named ``feedparser``): ``feedparser.parse(body)`` as the ingestion
issue measured it. Also shown: tidings' own feedparser path (feedparser plus
the shared cleaner), which is what the fast path must match.

Before timing, every document is parsed on both tidings paths and the
``ParsedFeed`` values (title, link, language, every ``Entry`` field) are
compared: the run fails unless they are identical.

CPU time (``time.process_time``) is used, taken per chunk of ``--chunk`` documents:
each row's figure is the sum over the chunks of the best of ``--repeat`` passes (the same
number for all). The rows take turns chunk by chunk, so a busy neighbour on a shared
machine (whose 2 CPUs may share one core) slows every row alike instead of whichever
row happened to run while it was busy. Run: ``.venv/bin/python benchmarks/parsing.py``
(``--feeds 50`` for a quick look; ``TIDINGS_SHARED`` overrides ../shared).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import feedparser

from tidings.model import ParsedFeed
from tidings.parse import _parse_with_feedparser, parse_feed

SHARED = Path(os.environ.get("TIDINGS_SHARED", Path(__file__).resolve().parents[1] / ".." / "shared"))
URL = "https://www.example.com/feed.xml"


def load_corpus(n: int) -> list[tuple[str, bytes]]:
    bench = SHARED / "bench" / "feed-parsers"
    if not (bench / "gen_feeds.py").exists():
        sys.exit(f"feed corpus generator not found under {bench} (set TIDINGS_SHARED)")
    sys.path.insert(0, str(bench))
    try:
        import gen_feeds  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(bench))
    return [(name, body) for name, body, _ in gen_feeds.build_corpus(n_feeds=n)]


def best_cpu(
    rows: dict[str, Callable[[bytes], object]], docs: list[bytes], repeat: int, chunk: int
) -> dict[str, float]:
    """CPU seconds per row: for each chunk, the best of ``repeat`` passes, rows in turn."""
    totals = dict.fromkeys(rows, 0.0)
    for start in range(0, len(docs), chunk):
        part = docs[start : start + chunk]
        best = dict.fromkeys(rows, float("inf"))
        for _ in range(repeat):
            for label, fn in rows.items():
                began = time.process_time()
                for body in part:
                    fn(body)
                best[label] = min(best[label], time.process_time() - began)
        for label in rows:
            totals[label] += best[label]
    return totals


def same(a: ParsedFeed, b: ParsedFeed) -> bool:
    return (a.format, a.title, a.link, a.language, a.entries) == (
        b.format,
        b.title,
        b.link,
        b.language,
        b.entries,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--feeds", type=int, default=200, help="documents in the corpus (default 200)")
    ap.add_argument("--repeat", type=int, default=2, help="timed passes per chunk, best kept")
    ap.add_argument("--chunk", type=int, default=10, help="documents per timed chunk (default 10)")
    args = ap.parse_args()

    corpus = load_corpus(args.feeds)
    docs = [body for _, body in corpus]
    size = sum(len(d) for d in docs)
    print(
        f"corpus: {len(docs)} feeds from gen_feeds.py, {size / 1e6:.1f} MB "
        f"({size / len(docs) / 1000:.0f} KB each); CPU seconds, best of {args.repeat} "
        f"per chunk of {args.chunk}, rows in turn"
    )

    fast_count = 0
    entries = 0
    for name, body in corpus:
        ours = parse_feed(body, URL)
        reference = _parse_with_feedparser(body, URL, None, 500)
        if not same(ours, reference):
            sys.exit(f"MISMATCH on {name}: fast path and feedparser path disagree")
        fast_count += ours.parser == "fast"
        entries += len(ours.entries)
    print(
        f"identical results: {len(corpus)}/{len(corpus)} feeds, {entries} entries "
        f"(fast path took {fast_count}, feedparser {len(corpus) - fast_count})"
    )

    rows: dict[str, Callable[[bytes], object]] = {
        "feedparser (baseline)": lambda b: feedparser.parse(b),
        "tidings feedparser path": lambda b: _parse_with_feedparser(b, URL, None, 500),
        "tidings parse_feed": lambda b: parse_feed(b, URL),
    }
    results = best_cpu(rows, docs, args.repeat, args.chunk)
    for label, seconds in results.items():
        print(
            f"{label:26s} {len(docs) / seconds:8.1f} feeds/s  {size / seconds / 1e6:7.2f} MB/s  "
            f"{seconds / len(docs) * 1000:7.2f} ms CPU per feed"
        )
    ratio = results["feedparser (baseline)"] / results["tidings parse_feed"]
    print(f"speed-up of tidings parse_feed over feedparser: {ratio:.1f}x (target >= 10x)")


if __name__ == "__main__":
    main()
