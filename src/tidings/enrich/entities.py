"""People, organisations, places and countries named in an article, aliases merged.

Rules of the Europe Media Monitor kind, no downloaded model:

1. **Gazetteer** (see ``gazetteer.py``): the longest known phrase at each token.
2. **Capitalised runs** that the gazetteer does not know are candidates; leading
   sentence words ("The", "After") and trailing possessives are trimmed.
3. **Trigger words** (``triggers.py``) classify a candidate: a title before it ("Prime Minister X",
   "NSA X", "activist X", "Mr X") or after it ("X, the chief minister of") makes
   a person; an organisation word inside it ("Ministry", "Party", "Ltd") an
   organisation; "in X" / "at X" a place when nothing else claims it.
4. **Co-reference within the article**: once "Ajit Doval" is seen, "Doval" and
   "NSA Doval" are the same person; a two- or three-word name whose last word
   recurs alone is a person even without a title.
5. Known people's surnames ("Trudeau" -> Justin Trudeau) count only as strong
   aliases listed in the gazetteer or when the full name is in the article.

A model-based recogniser (spaCy or similar) can be plugged in through
``Recogniser``; its spans join the candidates and its labels count as one more
trigger. Nothing here needs it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from tidings.enrich.gazetteer import TOKEN_RE, Gazetteer, Known
from tidings.enrich.triggers import (
    ABBREV,
    CONNECTORS,
    METONYMS,
    ORG_HEADS,
    ORG_ROLE,
    ORG_WORDS,
    PLACE_PREPS,
    PLACE_WORDS,
    ROLE_WORDS,
    SENT_END,
    SPEECH,
    STOP_CAPS,
    TITLE_CORE,
    TITLE_WORDS,
)


@dataclass(frozen=True, slots=True)
class EntityMention:
    """One entity as found in one article."""

    kind: str  # person, org, place, country
    name: str  # canonical name
    aliases: tuple[str, ...]  # forms seen in this article, canonical first
    count: int
    code: str | None = None  # ISO 3166-1 alpha-2 it tags (its own code for a country)
    source: str = "gazetteer"  # gazetteer, rule, coref, model


@dataclass(frozen=True, slots=True)
class Span:
    """A model recogniser's finding: character offsets and a kind (person, org, place)."""

    start: int
    end: int
    kind: str


class Recogniser(Protocol):
    """The pluggable model-based recogniser (optional extra)."""

    name: str

    def recognise(self, text: str) -> Sequence[Span]: ...


@dataclass(slots=True)
class _Found:
    kind: str
    name: str
    code: str | None
    source: str
    aliases: list[str]
    count: int = 0


def _is_cap(tok: str) -> bool:
    return tok[:1].isupper() and (len(tok) > 1 or tok.isalpha())


def _titleish(tok: str) -> bool:
    if tok in TITLE_WORDS:
        return True
    if tok.endswith("s") and tok[:-1] in TITLE_CORE:  # "Justices", "Ministers"
        return True
    return "-" in tok and any(p in TITLE_CORE for p in tok.split("-"))  # "Governor-General"


def _has_core(words: Sequence[str]) -> bool:
    return any(
        w in TITLE_CORE
        or (w.endswith("s") and w[:-1] in TITLE_CORE)
        or ("-" in w and any(p in TITLE_CORE for p in w.split("-")))
        for w in words
    )


def _tokens(text: str, gaz: Gazetteer) -> tuple[list[str], list[bool], list[bool]]:
    """Tokens; whether each opens a sentence; whether it sits in a Title Case line (a headline).

    Hyphenated tokens made of country names ("India-Canada") are split into their parts.
    """
    tokens: list[str] = []
    starts: list[bool] = []
    headline: list[bool] = []
    for line in text.split("\n"):
        titled = False
        if line.count(" ") < 20:  # a headline is short; paragraphs skip the check
            words = [w for w in line.split() if len(w) > 3 and w[:1].isalpha()]
            titled = len(words) >= 3 and sum(w[:1].isupper() for w in words) >= 0.7 * len(words)
        opening = True
        for tok in TOKEN_RE.findall(line):
            parts = tok.split("-") if "-" in tok and tok not in gaz.lengths else ()
            if parts and any(
                gaz.phrases.get((p,)) is not None and gaz.phrases[(p,)].kind == "country" for p in parts
            ):
                for k, part in enumerate(parts):
                    if k:
                        tokens.append("-")
                        starts.append(False)
                        headline.append(titled)
                    tokens.append(part)
                    starts.append(opening and k == 0)
                    headline.append(titled)
            else:
                tokens.append(tok)
                starts.append(opening)
                headline.append(titled)
            before = tokens[-2] if len(tokens) > 1 else ""
            opening = tok in SENT_END and not (
                tok == "." and ((len(before) == 1 and before.isupper()) or before in ABBREV)
            )
    return tokens, starts, headline


def _join(words: Sequence[str]) -> str:
    """Tokens back to text: "S . Jaishankar" -> "S. Jaishankar", "al - Sharaa" -> "al-Sharaa"."""
    out = ""
    for w in words:
        if not out or w in {".", "-", "'s", "’s"} or out.endswith("-"):
            out += w
        else:
            out += " " + w
    return out


def recognise(text: str, gaz: Gazetteer, model: Recogniser | None = None) -> list[EntityMention]:
    """Find the entities of ``text`` (title and body joined by a blank line)."""
    tokens, starts, headline = _tokens(text, gaz)
    n = len(tokens)
    found: dict[tuple[str, str], _Found] = {}
    signals: dict[str, int] = {}  # country code -> demonyms and names inside other names
    runs: list[tuple[int, int]] = []  # capitalised runs [i, j) the gazetteer did not settle
    hit_end: dict[int, tuple[int, Known]] = {}  # end index -> (start, entry) of recorded hits

    def note(kind: str, name: str, code: str | None, alias: str, source: str) -> None:
        f = found.get((kind, name))
        if f is None:
            f = found[(kind, name)] = _Found(kind, name, code, source, [name])
        if alias not in f.aliases:
            f.aliases.append(alias)
        f.count += 1

    def record(known: Known, alias: str) -> None:
        if known.kind == "country" and known.demonym:
            signals[known.code or ""] = signals.get(known.code or "", 0) + 1
            return
        note(known.kind, known.name, known.code, alias, "gazetteer")
        if known.kind == "org" and " " in alias:  # "Reserve Bank of India" is about India
            for part in alias.split():
                inner = gaz.phrases.get((part,))
                if inner is not None and inner.kind == "country" and not inner.demonym and inner.code:
                    signals[inner.code] = signals.get(inner.code, 0) + 1

    def continues(j: int) -> bool:
        """Whether token ``j`` carries a capitalised run on (a name, not a title or stop word)."""
        t = tokens[j] if j < n else ""
        return _is_cap(t) and not _titleish(t) and t not in STOP_CAPS and not starts[j] and not headline[j]

    model_kinds: dict[int, str] = {}
    if model is not None:
        offsets = [m.start() for m in TOKEN_RE.finditer(text)]
        for span in model.recognise(text):
            for k, off in enumerate(offsets[:n]):
                if span.start <= off < span.end:
                    model_kinds[k] = span.kind

    i = 0
    while i < n:
        tok = tokens[i]
        hit = gaz.match(tokens, i) if tok in gaz.lengths else None
        if hit is not None:
            length, known = hit
            single = length == 1 and not known.demonym
            if not (single and continues(i + 1)):
                record(known, _join(tokens[i : i + length]))
                hit_end[i + length] = (i, known)
                i += length
                continue
        if headline[i] and hit is None:
            i += 1
            continue
        if _is_cap(tok) or (tok in {"al", "el", "von", "van", "de"} and i + 1 < n and _is_cap(tokens[i + 1])):
            j = i + 2 if len(tok) == 1 and i + 1 < n and tokens[i + 1] == "." else i + 1
            while j < n:
                t = tokens[j]
                if len(t) == 1 and t.isupper() and j + 1 < n and tokens[j + 1] == ".":
                    h = gaz.match(tokens, j)
                    if h is not None and h[0] > 1:
                        break
                    j += 2  # an initial: "Abhay S. Oka"
                    continue
                if _is_cap(t) and not starts[j]:
                    h = gaz.match(tokens, j)
                    if h is None or (h[0] == 1 and not h[1].demonym):
                        j += 1
                        continue
                    break
                if (
                    t in CONNECTORS
                    and j + 1 < n
                    and _is_cap(tokens[j + 1])
                    and gaz.match(tokens, j + 1) is None
                ):
                    j += 2
                    continue
                break
            runs.append((i, j))
            i = j
            continue
        i += 1

    people_last: dict[str, str] = {}
    pending: list[tuple[int, int]] = []
    person_ends: set[int] = {e for e, (_, k) in hit_end.items() if k.kind == "person"}

    def absorbed_signals(i: int, j: int) -> None:
        for k in range(i, j):
            h = gaz.match(tokens, k)
            if h is not None and h[0] == 1 and h[1].kind == "country" and h[1].code:
                signals[h[1].code] = signals.get(h[1].code, 0) + 1

    split_runs: list[tuple[int, int]] = []
    for i0, j0 in runs:
        words = tokens[i0:j0]
        if "and" in words and words[-1] not in ORG_WORDS and tuple(words) not in gaz.phrases:
            start = i0
            for k in range(i0, j0):
                if tokens[k] == "and":
                    split_runs.append((start, k))
                    start = k + 1
            split_runs.append((start, j0))
        else:
            split_runs.append((i0, j0))

    for i0, j in split_runs:
        i = i0
        while i < j and (tokens[i] in STOP_CAPS or tokens[i] in CONNECTORS or tokens[i] == "."):
            i += 1
        while j > i and (
            tokens[j - 1] in CONNECTORS
            or (tokens[j - 1] == "." and not (j - i >= 2 and len(tokens[j - 2]) == 1))
        ):
            j -= 1
        if i >= j:
            continue
        words = tokens[i:j]
        if any(w.isdigit() for w in words):
            continue
        absorbed_signals(i, j)
        prev = tokens[i - 1] if i > 0 else ""
        prev2 = tokens[i - 2] if i > 1 else ""
        nxt = tokens[j] if j < n else ""
        nxt2 = tokens[j + 1] if j + 1 < n else ""
        adjacent = hit_end.get(i)
        kind = model_kinds.get(i)
        name = _join(words)
        if (
            kind is None
            and starts[i]
            and len(words) >= 4
            and words[1] == "of"
            and words[-1] in ORG_WORDS
            and words[0] not in ORG_HEADS
        ):
            # "Shares of Kaveri Pumps Ltd": a sentence's first word is not part of the name
            i += 2
            words = words[2:]
            name = _join(words)
            adjacent = None
        if kind is None and words[-1] in ORG_WORDS and len(words) + (adjacent is not None) >= 2:
            if adjacent is not None and adjacent[1].kind in {"country", "place"}:
                name = _join(tokens[adjacent[0] : j])
            note("org", name, None, name, "rule")
            continue
        if kind is None:
            # titles inside the run: "Chief Election Commissioner Rajiv Kumar" -> "Rajiv Kumar"
            last_title = max(
                (k for k, w in enumerate(words) if _titleish(w) or (w in ORG_WORDS and _has_core(words[:k]))),
                default=-1,
            )
            if last_title >= 0 and _has_core(words[: last_title + 1]) and last_title + 1 < len(words):
                i += last_title + 1
                words = words[last_title + 1 :]
                name = _join(words)
                prev = tokens[i - 1]
                kind = "person"
            elif last_title == len(words) - 1:
                continue  # only a title ("National Security Advisor")
        known = gaz.phrases.get(tuple(words))
        if known is not None:
            record(known, name)
            continue
        if len(words) > 6:
            continue
        if kind is None:
            if words[0] in ORG_HEADS and len(words) >= 2:
                kind = "org"
            elif words[-1] in PLACE_WORDS and len(words) >= 2:
                kind = "place"
            elif prev.lower() in ORG_ROLE and not _titleish(prev):
                kind = "org"
            elif (
                prev.lower() in ROLE_WORDS
                or prev.lower().rstrip("s") in ROLE_WORDS
                or prev in TITLE_CORE
                or (prev == "," and (_titleish(prev2) or prev2.lower() in ROLE_WORDS))
                or (prev == "and" and (i - 1) in person_ends and len(words) >= 2)
                or (nxt == "," and nxt2 in {"the", "a", "an", "who", "aged"} and 2 <= len(words) <= 3)
                or (2 <= len(words) <= 3 and (nxt in SPEECH or prev in SPEECH))
            ):
                kind = "person"
        if kind == "person" and len(words) <= 6:
            people_last.setdefault(words[-1], name)
            note("person", name, None, name, "rule")
            person_ends.add(j)
        elif kind in {"org", "place"}:
            note(kind, name, None, name, "rule")
        else:
            pending.append((i, j))

    # co-reference: a surname alone joins the full name seen elsewhere in the article
    for kind, full in list(found):
        if kind == "person" and len(full.split()) >= 2:
            people_last.setdefault(full.split()[-1], full)
    for i, j in pending:
        words = tokens[i:j]
        name = _join(words)
        prev = tokens[i - 1] if i > 0 else ""
        if len(words) == 1 and words[0] in people_last:
            note("person", people_last[words[0]], None, name, "coref")
        elif len(words) == 1 and words[0] in gaz.surnames:
            known = gaz.surnames[words[0]]
            if ("person", known.name) in found:
                note("person", known.name, known.code, name, "coref")
        elif 2 <= len(words) <= 3 and all(w[:1].isupper() and w.isalpha() for w in words):
            # an untitled full name whose surname recurs alone is a person
            if words[-1] in tokens[j:] or words[-1] in tokens[:i]:
                people_last.setdefault(words[-1], name)
                note("person", name, None, name, "rule")
        elif (
            len(words) <= 2 and prev in PLACE_PREPS and not starts[i] and not any(w.isupper() for w in words)
        ):
            note("place", name, None, name, "rule")

    # merge a person whose name ends a longer person's name ("Doval" into "Ajit Doval")
    persons = sorted((f for f in found.values() if f.kind == "person"), key=lambda f: len(f.name))
    for short in persons:
        for long in reversed(persons):
            if (
                long is not short
                and len(long.name) > len(short.name)
                and long.name.endswith(" " + short.name)
                and ("person", long.name) in found
            ):
                long.count += short.count
                long.aliases.extend(a for a in short.aliases if a not in long.aliases)
                long.code = long.code or short.code
                del found[("person", short.name)]
                break

    for f in found.values():
        if f.kind == "org" and f.name in METONYMS and f.code:
            signals[f.code] = signals.get(f.code, 0) + f.count
    for code, count in signals.items():
        f = found.get(("country", gaz.country_name(code))) if code else None
        if f is not None:
            f.count += count
        elif code:
            found[("country", gaz.country_name(code))] = _Found(
                "country", gaz.country_name(code), code, "demonym", [], count
            )
    out = [EntityMention(f.kind, f.name, tuple(f.aliases), f.count, f.code, f.source) for f in found.values()]
    out.sort(key=lambda e: (-e.count, e.kind, e.name))
    return out


def countries_of(
    mentions: Sequence[EntityMention], weights: dict[str, float] | None = None, threshold: float = 1.0
) -> list[tuple[str, float]]:
    """Countries an article is about, strongest first: (ISO code, score).

    Each country name counts 1, each demonym ("Indian") and each place in the
    country 0.75, each mention of a known person from it 0.4 (a leader named twice
    tags the country, a footballer named once does not); a country is kept once its
    score reaches ``threshold`` times 0.75.
    """
    w = {"country": 1.0, "demonym": 0.75, "place": 0.75, "person": 0.4, "org": 0.0}
    if weights:
        w.update(weights)
    scores: dict[str, float] = {}
    for m in mentions:
        if not m.code or not re.fullmatch(r"[A-Z]{2}", m.code):
            continue
        key = "demonym" if m.source == "demonym" else m.kind
        scores[m.code] = scores.get(m.code, 0.0) + w[key] * max(1, m.count)
    kept = [(c, s) for c, s in scores.items() if s >= threshold * 0.75]
    kept.sort(key=lambda cs: (-cs[1], cs[0]))
    return kept
