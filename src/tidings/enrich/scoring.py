"""Scoring enrichment against labelled data: shared by the benchmark and the gate test.

Labelled files live in ``tests/data/enrich/`` (one JSON object a line):

* ``language.jsonl``: ``{"lang": "hi", "text": ...}``
* ``entities.jsonl``: ``{"text", "people", "orgs", "places", "countries"}``; a
  gold name may list alternatives separated by ``|`` ("Bharatiya Janata Party|BJP").
* ``topics.jsonl``: ``{"title", "text", "url", "categories", "topic"}``

A predicted entity matches a gold one of the same kind when its canonical name
or any alias it was seen under equals one of the gold alternatives (ignoring case).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tidings.enrich.entities import EntityMention

KINDS = {"people": "person", "orgs": "org", "places": "place"}


@dataclass(frozen=True, slots=True)
class PRF:
    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def __add__(self, other: PRF) -> PRF:
        return PRF(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)


def load_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def score_entities(
    predicted: Sequence[EntityMention],
    gold: dict[str, Any],
    kinds: Iterable[str] = ("person", "org", "place"),
) -> PRF:
    """Match one paragraph's predicted people, organisations and places to its labels."""
    wanted = set(kinds)
    preds = [
        (m.kind, {m.name.casefold(), *(a.casefold() for a in m.aliases)})
        for m in predicted
        if m.kind in wanted
    ]
    golds = [
        (KINDS[k], {alt.strip().casefold() for alt in name.split("|")})
        for k in KINDS
        for name in gold.get(k, ())
        if KINDS[k] in wanted
    ]
    used: set[int] = set()
    tp = 0
    for kind, alts in golds:
        for idx, (pkind, names) in enumerate(preds):
            if idx not in used and pkind == kind and names & alts:
                used.add(idx)
                tp += 1
                break
    return PRF(tp, len(preds) - len(used), len(golds) - tp)


def score_countries(predicted: Sequence[str], gold: Sequence[str]) -> PRF:
    p, g = set(predicted), set(gold)
    return PRF(len(p & g), len(p - g), len(g - p))
