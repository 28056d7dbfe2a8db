"""Phrase search on SQLite, in-process: the word-pair index against FTS5's own road.

    .venv/bin/python benchmarks/web.py --articles 100000 --db bench.db   # fill once
    .venv/bin/python benchmarks/phrase_search.py --db bench.db

Draws ``--queries`` phrases of two words from the 300 most frequent words of
``benchmarks/web.py``'s synthetic vocabulary (what its "search phrase"
endpoint asks), then runs each through ``SearchStore.search`` both ways,
interleaved on the same warm connection pool, ``--repeat`` times:

- ``fts5 (baseline)``: ``SearchStore(engine, pair_index=False)``, FTS5 walking
  the posting lists of both words;
- ``pair index``: candidates from ``articles_pairs``, checked by FTS5.

Every page must be identical both ways (ids, scores, headline and snippet
highlights, next offset); a difference is printed and the run fails. Prints
mean / p50 / p95 / max milliseconds per query for each road and their ratio.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))


def main() -> None:
    from web import vocabulary

    from tidings.store import Store
    from tidings.store.search import SearchStore

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", type=Path, required=True, help="a database filled by benchmarks/web.py")
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    store = Store(f"sqlite:///{args.db}")
    words = vocabulary(random.Random(7))[:300]
    rng = random.Random(args.seed)
    phrases = [f'"{rng.choice(words)} {rng.choice(words)}"' for _ in range(args.queries)]
    roads = {"fts5 (baseline)": SearchStore(store.engine, pair_index=False), "pair index": store.search}
    times: dict[str, list[float]] = {name: [] for name in roads}
    mismatches = 0
    hits = 0
    for _ in range(args.repeat):
        for q in phrases:
            pages = {}
            for name, road in sorted(roads.items(), key=lambda _: rng.random()):  # alternate who goes first
                t = time.perf_counter()
                page = road.search(q)
                times[name].append((time.perf_counter() - t) * 1000)
                pages[name] = [(h.article.id, h.score, h.title_html, h.snippet_html) for h in page.hits] + [
                    page.next_offset
                ]
            a, b = pages.values()
            hits += len(a) - 1
            if a != b:
                mismatches += 1
                print(f"DIFFERENT results for {q}", flush=True)
    store.close()
    print(
        f"\nphrase search, {len(phrases)} phrases x {args.repeat}, {args.db.name}: ms per query (in-process)"
    )
    print(f"{'road':<18}{'mean':>8}{'p50':>8}{'p95':>8}{'max':>8}")
    stats = {}
    for name, ts in times.items():
        ts.sort()
        stats[name] = (statistics.fmean(ts), ts[len(ts) // 2], ts[int(len(ts) * 0.95)], ts[-1])
        print(f"{name:<18}" + "".join(f"{v:>8.2f}" for v in stats[name]))
    base, new = stats["fts5 (baseline)"], stats["pair index"]
    print(f"pair index / baseline: mean {new[0] / base[0]:.2f}, p95 {new[2] / base[2]:.2f}")
    print(f"hits compared: {hits:,}; pages that differ: {mismatches}")
    if mismatches:
        sys.exit(1)


if __name__ == "__main__":
    main()
