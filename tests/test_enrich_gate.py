"""Scored gate for enrichment: pinned floors on the labelled sets (trafilatura's eval_gate habit).

Floors live in ``tests/data/enrich/gate.json``; none may sit below the issue's
targets. The corpus topic floor runs only when ``../shared`` is present.
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import pytest

from tidings.enrich import Enricher
from tidings.enrich.scoring import PRF, load_jsonl, score_countries, score_entities

DATA = Path(__file__).parent / "data" / "enrich"
REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("TIDINGS_SHARED") or REPO / ".." / "shared")
FLOORS = json.loads((DATA / "gate.json").read_text(encoding="utf-8"))
TARGETS = {
    "language_accuracy": 0.97,
    "entity_f1": 0.75,
    "entity_f1_heldout": 0.75,
    "country_f1": 0.90,
    "country_f1_heldout": 0.90,
    "topic_accuracy": 0.80,
    "corpus_topic_accuracy_full": 0.80,
}


@pytest.fixture(scope="module")
def enricher() -> Enricher:
    return Enricher()


def test_floors_are_not_below_the_targets() -> None:
    for name, target in TARGETS.items():
        assert FLOORS[name] >= target, f"{name} floor {FLOORS[name]} is below the target {target}"


def test_language_accuracy(enricher: Enricher) -> None:
    rows = load_jsonl(DATA / "language.jsonl")
    assert len({r["lang"] for r in rows}) >= 10
    assert len({r["lang"] for r in rows} & {"bn", "ta", "te", "mr", "gu", "kn", "ml", "pa", "or", "ur"}) >= 8
    ok = sum(enricher.detector.detect(r["text"]).code == r["lang"] for r in rows)
    assert ok / len(rows) >= FLOORS["language_accuracy"]


@pytest.mark.parametrize(
    ("name", "entity_floor", "country_floor"),
    [
        ("entities.jsonl", "entity_f1", "country_f1"),
        ("entities_heldout.jsonl", "entity_f1_heldout", "country_f1_heldout"),
    ],
)
def test_entities_and_countries(enricher: Enricher, name: str, entity_floor: str, country_floor: str) -> None:
    rows = load_jsonl(DATA / name)
    ent = ctry = PRF(0, 0, 0)
    for r in rows:
        got = enricher.enrich("", r["text"])
        ent += score_entities(got.entities, r)
        ctry += score_countries(got.countries, r["countries"])
    assert ent.f1 >= FLOORS[entity_floor], (ent, ent.f1)
    assert ctry.f1 >= FLOORS[country_floor], (ctry, ctry.f1)


def test_entity_set_is_big_enough() -> None:
    assert len(load_jsonl(DATA / "entities.jsonl")) + len(load_jsonl(DATA / "entities_heldout.jsonl")) >= 50


def test_topic_accuracy(enricher: Enricher) -> None:
    rows = load_jsonl(DATA / "topics.jsonl")
    ok = sum(enricher.enrich(r["title"], r["text"]).topic == r["topic"] for r in rows)
    assert ok / len(rows) >= FLOORS["topic_accuracy"]


@pytest.mark.shared
@pytest.mark.slow
def test_corpus_topic_accuracy(enricher: Enricher) -> None:
    if not (SHARED / "corpus" / "manifest.json").is_file():
        pytest.skip(f"../shared is absent: {SHARED / 'corpus'} not found")
    spec = importlib.util.spec_from_file_location("bench_enrichment", REPO / "benchmarks" / "enrichment.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    items = [
        i
        for i in bench.corpus_topic_items(SHARED)
        if enricher.detector.detect(f"{i['title']} {i['text']}").code == "en"
    ]
    assert len(items) >= 500
    full = sum(
        enricher.enrich(
            i["title"], i["text"], i["url"], i["categories"], home_country=bench.home_country(i["url"])
        ).topic
        == i["topic"]
        for i in items
    )
    text = sum(enricher.enrich(i["title"], i["text"]).topic == i["topic"] for i in items)
    home = sum(
        enricher.enrich(i["title"], i["text"], home_country=bench.home_country(i["url"])).topic == i["topic"]
        for i in items
    )
    assert full / len(items) >= FLOORS["corpus_topic_accuracy_full"]
    assert text / len(items) >= FLOORS["corpus_topic_accuracy_text_only"]
    assert home / len(items) >= FLOORS["corpus_topic_accuracy_text_home"]
