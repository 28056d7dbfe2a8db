"""Enrichment benchmark: language, countries, entities, topics and speed, each against a baseline.

Labelled sets (see ``tidings.enrich.scoring`` for their format):

* ``tests/data/enrich/language.jsonl``: news paragraphs in 20 languages, 13 of
  them Indian (English, Hindi, Bengali, Tamil, Telugu, Marathi, Gujarati,
  Kannada, Malayalam, Punjabi, Odia, Urdu, Assamese, Nepali). Baseline: plain
  py3langid (``langid.classify``), no script rules.
* ``tests/data/enrich/entities.jsonl``: 58 hand-labelled news paragraphs with
  their people, organisations, places and countries; the rules were tuned while
  looking at this set. ``entities_heldout.jsonl``: 20 more, written and labelled
  after tuning stopped and not used to tune since. Baselines: the gazetteer
  alone (longest known phrase at each token, no trigger rules, no co-reference)
  for entities; country *names* alone (pycountry names found in the text) for
  countries.
* ``tests/data/enrich/topics.jsonl``: 48 hand-labelled headlines with a line of
  text each, and, when ``../shared`` is present, every English item of the
  replay corpus's feeds whose section is clear from its URL path or feed
  category (labels for free: ``/sport/``, ``fnc/politics``, "World news", ...).
  Because the full classifier reads the same URL and categories, the corpus
  figure that matters is *text only* (title and feed summary); the full figure
  is printed for completeness; "text + home" adds the publisher's country (by
  host), which tells world news from home news. The word lists were adjusted
  while looking at the corpus misses (pandemic words weigh less, sport is exempt
  from the several-countries rule), so these are development figures, not a
  held-out test. Baseline: always the most common topic.
* Speed: every reference article body of ``../shared/bench/extraction`` (181
  real articles, 4.4 kB of text on average) or, without ``../shared``, the
  labelled paragraphs; one process, one core. Baseline: py3langid alone over
  the same texts, to put the figure in scale.

Usage::

    .venv/bin/python benchmarks/enrichment.py [--shared DIR] [--errors]

``TIDINGS_SHARED`` overrides where ``shared/`` is.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import py3langid

from tidings.enrich import Enricher, EntityMention
from tidings.enrich.gazetteer import Gazetteer, tokenize
from tidings.enrich.scoring import PRF, load_jsonl, score_countries, score_entities

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data" / "enrich"

# Section words in corpus URLs and feed categories -> topic (the labels, not the classifier's table).
LABEL_SECTIONS = {
    "sport": "sport sports football cricket tennis rugby golf formula1 deportes nrl afl fnc/sports",
    "business": "business money economy economia markets investing fnc/business",
    "technology": "tech technology fnc/tech",
    "science": "science climate environment science-environment space fnc/science",
    "health": "health fnc/health",
    "entertainment": "entertainment tvshowbiz culture cultura entertainment-arts arts television "
    "movies music celebrity showbiz fnc/entertainment",
    "politics": "politics political us-politics uk-politics fnc/politics",
    "world": "world international internacional foreignaffairs asia europe middleeast americas "
    "africa fnc/world",
}
_LABEL = {w: t for t, ws in LABEL_SECTIONS.items() for w in ws.split()}
_CATEGORY_LABEL = {
    "sport": "sport",
    "football": "sport",
    "world news": "world",
    "us sports": "sport",
    "business": "business",
    "technology": "technology",
    "science": "science",
    "culture": "entertainment",
    "film": "entertainment",
    "music": "entertainment",
    "us politics": "politics",
    "politics": "politics",
    "environment": "science",
}


# The publishers' home countries, for the "world vs home news" rule (by host, as in the corpus).
HOME = {
    "bbc.co.uk": "GB",
    "bbc.com": "GB",
    "dailymail.co.uk": "GB",
    "theguardian.com": "GB",
    "cnn.com": "US",
    "edition.cnn.com": "US",
    "nytimes.com": "US",
    "foxnews.com": "US",
    "wsj.com": "US",
    "latimes.com": "US",
    "vox.com": "US",
    "newyorker.com": "US",
    "america.aljazeera.com": "US",
    "smh.com.au": "AU",
    "dailytelegraph.com.au": "AU",
    "abc.net.au": "AU",
    "nzherald.co.nz": "NZ",
    "rnz.co.nz": "NZ",
    "straitstimes.com": "SG",
    "channelnewsasia.com": "SG",
    "gmanetwork.com": "PH",
    "philstar.com": "PH",
    "thehindu.com": "IN",
    "timesofindia.indiatimes.com": "IN",
    "cbc.ca": "CA",
    "koreatimes.co.kr": "KR",
    "chinadaily.com.cn": "CN",
    "rt.com": "RU",
    "dw.com": "DE",
    "france24.com": "FR",
    "aljazeera.com": "QA",
    "www3.nhk.or.jp": "JP",
    "ansa.it": "IT",
}


def home_country(url: str) -> str | None:
    host = urlsplit(url).netloc.lower().removeprefix("www.")
    return HOME.get(host)


def shared_dir(override: str | None = None) -> Path:
    return Path(override or os.environ.get("TIDINGS_SHARED") or REPO / ".." / "shared")


def _strip(text: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", text or "")).strip()


def corpus_label(url: str, categories: list[str]) -> str | None:
    """The section label of one corpus item, or None when its section is not clear."""
    for cat in categories:
        low = cat.lower().strip()
        if low in _LABEL:
            return _LABEL[low]
        if low in _CATEGORY_LABEL:
            return _CATEGORY_LABEL[low]
    parts = urlsplit(url)
    for seg in [s for s in parts.path.lower().split("/") if s][:3]:
        if seg in _LABEL:
            return _LABEL[seg]
        head = seg.split("-")[0]  # bbc.co.uk/news/world-asia-52847363
        if "bbc." in parts.netloc and head in _LABEL and re.search(r"-\d{6,}$", seg):
            return _LABEL[head]
    return None


def corpus_topic_items(shared: Path) -> Iterator[dict[str, Any]]:
    """English corpus feed items with a clear section label: title, summary, url, categories."""
    import feedparser

    root = shared / "corpus"
    manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    seen: set[str] = set()
    for entry in manifest["files"]:
        if entry["kind"] == "feed":
            parsed = feedparser.parse(str(root / entry["path"]))
            items = [
                {
                    "title": e.get("title") or "",
                    "summary": e.get("summary") or "",
                    "link": e.get("link") or "",
                    "categories": [t.get("term") or "" for t in e.get("tags") or []],
                }
                for e in parsed.entries
            ]
        elif entry["kind"] == "feed-items":
            items = [
                {
                    "title": i.get("title") or "",
                    "summary": i.get("description") or "",
                    "link": i.get("link") or "",
                    "categories": [],
                }
                for i in json.loads((root / entry["path"]).read_text(encoding="utf-8"))
            ]
        else:
            continue
        for item in items:
            if not item["link"] or item["link"] in seen:
                continue
            seen.add(item["link"])
            label = corpus_label(item["link"], item["categories"])
            if label is None:
                continue
            yield {
                "title": _strip(item["title"]),
                "text": _strip(item["summary"]),
                "url": item["link"],
                "categories": item["categories"],
                "topic": label,
            }


def gazetteer_only(text: str, gaz: Gazetteer) -> list[EntityMention]:
    """Baseline: the longest gazetteer phrase at each token, nothing else."""
    tokens = tokenize(text)
    found: dict[tuple[str, str], EntityMention] = {}
    i = 0
    while i < len(tokens):
        hit = gaz.match(tokens, i)
        if hit is None:
            i += 1
            continue
        length, known = hit
        if not known.demonym:
            alias = " ".join(tokens[i : i + length])
            old = found.get((known.kind, known.name))
            aliases = (old.aliases if old else (known.name,)) + (alias,)
            found[(known.kind, known.name)] = EntityMention(known.kind, known.name, aliases, 1, known.code)
        i += length
    return list(found.values())


def country_names_only(text: str, names: dict[str, str]) -> list[str]:
    """Baseline: ISO codes of the countries whose pycountry name appears in the text."""
    return sorted({code for name, code in names.items() if re.search(rf"\b{re.escape(name)}\b", text)})


def bench_language(enricher: Enricher, errors: bool) -> None:
    rows = load_jsonl(DATA / "language.jsonl")
    ok = base_ok = 0
    per: Counter[str] = Counter()
    per_ok: Counter[str] = Counter()
    for r in rows:
        guess = enricher.detector.detect(r["text"]).code
        base = py3langid.classify(r["text"])[0]
        ok += guess == r["lang"]
        base_ok += base == r["lang"]
        per[r["lang"]] += 1
        per_ok[r["lang"]] += guess == r["lang"]
        if errors and guess != r["lang"]:
            print(f"  language miss: {r['lang']} -> {guess}: {r['text'][:60]}")
    langs = sorted(per)
    indian = [
        c
        for c in langs
        if c in {"hi", "bn", "ta", "te", "mr", "gu", "kn", "ml", "pa", "or", "ur", "as", "ne"}
    ]
    print(
        f"language   paragraphs={len(rows)} languages={len(langs)} (Indian: {len(indian)}: "
        f"{' '.join(indian)})"
    )
    print(f"  tidings accuracy        {ok / len(rows):.3f}")
    print(f"  baseline py3langid      {base_ok / len(rows):.3f}")
    worst = sorted(langs, key=lambda c: per_ok[c] / per[c])[:3]
    print("  lowest per language     " + ", ".join(f"{c} {per_ok[c]}/{per[c]}" for c in worst))
    # the same paragraphs cut to their first five words: headline-sized text
    short = [(" ".join(r["text"].split()[:5]), r["lang"]) for r in rows]
    s_ok = sum(enricher.detector.detect(t).code == lang for t, lang in short)
    s_base = sum(py3langid.classify(t)[0] == lang for t, lang in short)
    print(
        f"  first five words only:  tidings {s_ok / len(short):.3f}, baseline py3langid "
        f"{s_base / len(short):.3f}"
    )


def bench_entities(enricher: Enricher, errors: bool, name: str = "entities.jsonl") -> None:
    rows = load_jsonl(DATA / name)
    names = {}
    import pycountry

    for c in pycountry.countries:
        names[getattr(c, "common_name", None) or c.name] = c.alpha_2
    ent = base_ent = PRF(0, 0, 0)
    by_kind = {k: PRF(0, 0, 0) for k in ("person", "org", "place")}
    ctry = base_ctry = PRF(0, 0, 0)
    for r in rows:
        res = enricher.enrich("", r["text"])
        s = score_entities(res.entities, r)
        ent += s
        for k in by_kind:
            by_kind[k] += score_entities(res.entities, r, kinds=(k,))
        base_ent += score_entities(gazetteer_only(r["text"], enricher.gazetteer), r)
        ctry += score_countries(res.countries, r["countries"])
        base_ctry += score_countries(country_names_only(r["text"], names), r["countries"])
        if errors and (s.fp or s.fn):
            pred = [(m.kind, m.name) for m in res.entities if m.kind != "country"]
            print(f"  entity errors in #{r['id']}: predicted {pred}")
    print(f"entities ({name})  paragraphs={len(rows)} gold entities={ent.tp + ent.fn}")
    print(f"  tidings                 P={ent.precision:.3f} R={ent.recall:.3f} F1={ent.f1:.3f}")
    for k, v in by_kind.items():
        print(f"    {k:<8}              P={v.precision:.3f} R={v.recall:.3f} F1={v.f1:.3f}")
    print(
        f"  baseline gazetteer only P={base_ent.precision:.3f} R={base_ent.recall:.3f} F1={base_ent.f1:.3f}"
    )
    print(f"countries ({name})  paragraphs={len(rows)} gold tags={ctry.tp + ctry.fn}")
    print(f"  tidings                 P={ctry.precision:.3f} R={ctry.recall:.3f} F1={ctry.f1:.3f}")
    print(
        f"  baseline names only     P={base_ctry.precision:.3f} R={base_ctry.recall:.3f} "
        f"F1={base_ctry.f1:.3f}"
    )


def _topic_scores(enricher: Enricher, items: list[dict[str, Any]], errors: bool, label: str) -> None:
    majority = Counter(i["topic"] for i in items).most_common(1)[0]
    full = text_only = text_home = 0
    confusion: Counter[tuple[str, str]] = Counter()
    for it in items:
        home = home_country(it.get("url") or "")
        f = enricher.enrich(
            it["title"], it["text"], it.get("url"), it.get("categories") or (), home_country=home
        ).topic
        t = enricher.enrich(it["title"], it["text"]).topic
        h = enricher.enrich(it["title"], it["text"], home_country=home).topic
        full += f == it["topic"]
        text_only += t == it["topic"]
        text_home += h == it["topic"]
        if t != it["topic"]:
            confusion[(it["topic"], t)] += 1
    n = len(items)
    dist = Counter(i["topic"] for i in items)
    print(f"topics ({label})  items={n}  labels: " + " ".join(f"{k}={v}" for k, v in dist.most_common()))
    print(f"  tidings, text only      {text_only / n:.3f}")
    print(f"  tidings, text + home    {text_home / n:.3f}  (text and the publisher's country)")
    print(f"  tidings, full           {full / n:.3f}  (feed category + URL + text)")
    print(f"  baseline majority class {majority[1] / n:.3f}  (always {majority[0]!r})")
    if errors:
        print(
            "  commonest text-only confusions: "
            + ", ".join(f"{g}->{p} {c}" for (g, p), c in confusion.most_common(6))
        )


def bench_topics(enricher: Enricher, shared: Path, errors: bool) -> None:
    _topic_scores(enricher, load_jsonl(DATA / "topics.jsonl"), errors, "hand-labelled")
    if not (shared / "corpus" / "manifest.json").is_file():
        print("topics (corpus sections)  skipped: ../shared/corpus not found")
        return
    items = [
        i
        for i in corpus_topic_items(shared)
        if enricher.detector.detect(f"{i['title']} {i['text']}").code == "en"
    ]
    _topic_scores(enricher, items, errors, "corpus sections")


def bench_speed(enricher: Enricher, shared: Path) -> None:
    gt = shared / "bench" / "extraction" / "ground-truth.json"
    if gt.is_file():
        gold = json.loads(gt.read_text(encoding="utf-8"))
        texts = [(v.get("url") or "", v.get("articleBody") or "") for v in gold.values()]
        label = f"{len(texts)} reference article bodies of shared/bench/extraction"
    else:
        texts = [("", r["text"]) for r in load_jsonl(DATA / "entities.jsonl")]
        label = f"{len(texts)} labelled paragraphs (../shared absent)"
    chars = sum(len(t) for _, t in texts) / len(texts)
    for url, t in texts[:5]:  # warm up
        enricher.enrich("", t, url)
    best = 0.0
    for _ in range(3):
        start = time.process_time()
        for url, t in texts:
            first, _, rest = t.partition("\n")
            enricher.enrich(first[:200], rest or first, url)
        best = max(best, len(texts) / (time.process_time() - start))
    start = time.process_time()
    for _, t in texts:
        py3langid.classify(t)
    base = len(texts) / (time.process_time() - start)
    print(f"speed      {label}, {chars:.0f} characters on average, one core (CPU time, best of 3)")
    print(f"  tidings enrich          {best:.0f} articles/s")
    print(f"  baseline py3langid only {base:.0f} articles/s")


def bench_example(enricher: Enricher, shared: Path) -> None:
    path = shared / "examples" / "zee-news-india-canada.txt"
    if not path.is_file():
        print("example    skipped: ../shared/examples not found")
        return
    text = path.read_text(encoding="utf-8")
    res = enricher.enrich("", text)
    print(
        f"example    {path.name}: language={res.language} topic={res.topic} "
        f"countries={','.join(res.countries)}"
    )
    print(f"  people: {', '.join(res.people())}")
    print(f"  places: {', '.join(res.places())}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shared", help="path of shared/ (default ../shared or $TIDINGS_SHARED)")
    ap.add_argument("--errors", action="store_true", help="print the misses")
    args = ap.parse_args(argv)
    shared = shared_dir(args.shared)
    start = time.perf_counter()
    enricher = Enricher()
    print(f"loaded gazetteers and language model in {time.perf_counter() - start:.2f}s")
    bench_language(enricher, args.errors)
    bench_entities(enricher, args.errors)
    bench_entities(enricher, args.errors, "entities_heldout.jsonl")
    bench_topics(enricher, shared, args.errors)
    bench_speed(enricher, shared)
    bench_example(enricher, shared)
    return 0


if __name__ == "__main__":
    sys.exit(main())
