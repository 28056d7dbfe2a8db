"""Dedup benchmark: near-duplicate (wire copy) detection, precision and recall against a named baseline.

Two labelled sets, both scored in the same run by tidings' ``DuplicateIndex``
and by the baseline, an **exact content hash** of the text (sha256 of the
text as stored, which is what the pipeline's ``content_hash`` column holds):

1. **The Hindu, 14 June 2016** (``../shared/corpus/the-hindu/feeds/``, 511
   real items, 44 of them bylined PTI, IANS, ANI, AP, Reuters or AFP). Each
   wire-bylined item is republished the way other outlets carry wire copy,
   one deterministic edit per copy, cycling through: a dateline with the
   agency credit in front ("NEW DELHI, June 14 (PTI) "), a credit at the end
   ("— PTI", "(With inputs from IANS)"), typographic quotes and dashes, a
   word changed, a sentence cut from the end, the case of the dateline
   changed. Positives: copy -> its original. Negatives: every other pair
   (each original is also looked up before it is added, so two different
   real items called copies count as false positives).
2. **Our own fixtures** (``tests/data/stories/``): the twelve outlets'
   versions of one PTI story (66 positive pairs) and eleven hand-written
   articles of four events; every other pair is negative (187, 10 of them the
   *same event* written by different outlets: hard negatives for a copy detector).

Usage::

    .venv/bin/python benchmarks/dedup.py

``TIDINGS_SHARED`` overrides where ``shared/`` is.
"""

from __future__ import annotations

import hashlib
import html
import itertools
import json
import os
import re
import sys
import time
from pathlib import Path

import feedparser

from tidings.dedup import DuplicateIndex, detect_agency

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("TIDINGS_SHARED", REPO / ".." / "shared"))
HINDU = SHARED / "corpus" / "the-hindu" / "feeds" / "2016-06-14_thehindu.xml"
STORIES = REPO / "tests" / "data" / "stories"
AGENCY_BYLINES = {"pti": "PTI", "ians": "IANS", "ani": "ANI", "ap": "AP", "reuters": "Reuters", "afp": "AFP"}


def exact_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def clean(text: str) -> str:
    text = html.unescape(re.sub(r"<[^>]+>", " ", text or ""))
    return " ".join(text.split())


def republish(text: str, agency: str, k: int) -> str:
    """The k-th way an outlet re-runs wire copy (deterministic)."""
    kind = k % 6
    if kind == 0:
        return f"NEW DELHI, June 14 ({agency}) {text}"
    if kind == 1:
        return f"{text} — {agency}" if k % 4 else f"{text} (With inputs from {agency})"
    if kind == 2:
        return text.replace("'", "’").replace(" - ", " – ").replace('"', "“")
    if kind == 3:
        words = text.split()
        if len(words) > 6:
            words[len(words) // 2] = "reportedly"
        return " ".join(words)
    if kind == 4:
        cut = text.rsplit(". ", 1)[0]
        return cut if len(cut.split()) >= 15 else text
    return f"Mumbai: {text}"


def score(name: str, tp: int, fp: int, fn: int, seconds: float, n: int) -> None:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    print(f"  {name:<22} P={p:.4f} R={r:.4f} F1={f:.4f} (tp={tp} fp={fp} fn={fn}) {n / seconds:,.0f} texts/s")


def run_stream(
    originals: list[str], copies: list[tuple[int, str]], method: str
) -> tuple[int, int, int, float]:
    """Add originals in order (each looked up first), then look up every copy."""
    t0 = time.perf_counter()
    tp = fp = fn = 0
    if method == "exact":
        seen: dict[str, int] = {}
        for i, text in enumerate(originals):
            if exact_hash(text) in seen:
                fp += 1
            seen.setdefault(exact_hash(text), i)
        for orig, text in copies:
            hit = seen.get(exact_hash(text))
            tp, fp, fn = (tp + 1, fp, fn) if hit == orig else (tp, fp + (hit is not None), fn + 1)
    else:
        index = DuplicateIndex(window=1e9)
        for i, text in enumerate(originals):
            if index.find(text) is not None:
                fp += 1
            index.add(i, text)
        for orig, text in copies:
            m = index.find(text)
            if m is not None and m.key == orig:
                tp += 1
            else:
                fp += m is not None
                fn += 1
    return tp, fp, fn, time.perf_counter() - t0


def hindu() -> None:
    if not HINDU.is_file():
        print(f"The Hindu feed not found at {HINDU}: skipped (set TIDINGS_SHARED)")
        return
    parsed = feedparser.parse(HINDU.read_bytes())
    items = [(clean(e.get("summary", "")), (e.get("author") or "").strip()) for e in parsed.entries]
    items = [(t.removesuffix("...").strip(), a) for t, a in items if t]
    originals = [t for t, _ in items]
    copies = []
    agency_right = agency_total = 0
    for i, (text, author) in enumerate(items):
        agency = AGENCY_BYLINES.get(author.lower())
        if agency is None:
            continue
        copy = republish(text, agency, i)
        copies.append((i, copy))
        if copy.startswith("NEW DELHI") or agency in copy[len(text) - 5 :]:
            agency_total += 1
            agency_right += detect_agency(copy) == agency
    long_enough = sum(len(t.split()) >= 15 for t, _ in items)
    print(
        f"The Hindu 2016-06-14: {len(items)} items ({long_enough} of >= 15 words), "
        f"{len(copies)} wire-bylined items republished as copies"
    )
    for method, name in (("exact", "baseline exact hash"), ("tidings", "tidings DuplicateIndex")):
        tp, fp, fn, secs = run_stream(originals, copies, method)
        score(name, tp, fp, fn, secs, len(originals) + len(copies))
    print(
        f"  agency named from the copy's own credit (dateline or tail): {agency_right}/{agency_total} right"
    )


def own_pairs() -> None:
    wire = json.loads((STORIES / "wire.json").read_text(encoding="utf-8"))
    events = json.loads((STORIES / "events.json").read_text(encoding="utf-8"))["articles"]
    texts: list[tuple[str, str]] = []
    for o in wire["outlets"]:
        t = wire["base"].replace(*o["edit"]) if o["edit"] else wire["base"]
        texts.append(("wire", o["prefix"] + t + o["suffix"]))
    texts += [("event:" + a["outlet"] + a["title"], a["text"]) for a in events]
    pairs = list(itertools.combinations(range(len(texts)), 2))
    same = {(i, j): texts[i][0] == texts[j][0] == "wire" for i, j in pairs}
    print(
        f"own fixtures: {sum(same.values())} positive pairs, {len(pairs) - sum(same.values())} negative pairs"
    )
    for name in ("baseline exact hash", "tidings DuplicateIndex"):
        t0 = time.perf_counter()
        tp = fp = fn = 0
        for (i, j), label in same.items():
            if name.startswith("baseline"):
                said = exact_hash(texts[i][1]) == exact_hash(texts[j][1])
            else:
                index = DuplicateIndex(window=1e9)
                index.add(i, texts[i][1])
                said = index.find(texts[j][1]) is not None
            tp += said and label
            fp += said and not label
            fn += label and not said
        score(name, tp, fp, fn, time.perf_counter() - t0, len(pairs))


def main() -> int:
    hindu()
    own_pairs()
    return 0


if __name__ == "__main__":
    sys.exit(main())
