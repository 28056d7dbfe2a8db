"""Metadata of an article page: headline, dates, authors, image, site name, language.

Written here rather than taken from trafilatura because trafilatura returns
dates without time of day and one author string; these are small lxml and
JSON-LD lookups, and the headline order is measured on hand-labelled pages
(``benchmarks/extraction.py``).
"""

from __future__ import annotations

import html as htmllib
import json
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

from tidings.extract.text import normalise_inline
from tidings.extract.text import text_key as _key

_TITLE_SEPARATORS_KEEP = re.compile(r"(\s+[|\-–—·•»]\s+)")


def parse_datetime(value: Any) -> datetime | None:
    """ISO 8601 and common variants -> aware UTC datetime (naive means UTC)."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text:
        return None
    text = re.sub(r"\s*(Z|UTC|GMT)$", "+00:00", text)
    text = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", text)
    for candidate in (text, text.replace(" ", "T", 1)):
        try:
            dt = datetime.fromisoformat(candidate)
        except ValueError:
            continue
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        if not 1990 <= dt.year <= 2100:
            return None
        return dt.astimezone(UTC)
    try:
        from email.utils import parsedate_to_datetime

        dt = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        dt = _free_form_datetime(value.strip())
        if dt is None:
            return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    if not 1990 <= dt.year <= 2100:
        return None
    return dt.astimezone(UTC)


# zone abbreviations news pages print beside times (dateutil knows only UTC/GMT and the local one)
_ZONES = {
    "IST": 19800,
    "PKT": 18000,
    "BST": 3600,
    "CET": 3600,
    "CEST": 7200,
    "EST": -18000,
    "EDT": -14400,
    "CST": -21600,
    "CDT": -18000,
    "MST": -25200,
    "MDT": -21600,
    "PST": -28800,
    "PDT": -25200,
    "JST": 32400,
    "KST": 32400,
    "HKT": 28800,
    "SGT": 28800,
    "AEST": 36000,
    "AEDT": 39600,
    "NZST": 43200,
    "NZDT": 46800,
    "WIB": 25200,
}


def _free_form_datetime(text: str) -> datetime | None:
    """'01:38:07 PM IST Nov 20, 2019' and the like, through dateutil (never fuzzy)."""
    if len(text) > 80 or not re.search(r"\b(19|20)\d\d\b", text):
        return None
    from dateutil import parser as dateparser

    try:
        return dateparser.parse(text, tzinfos=_ZONES)
    except (ValueError, OverflowError, TypeError):
        return None


def _json_ld_objects(tree: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for n in node:
                walk(n)
        elif isinstance(node, dict):
            found.append(node)
            if "@graph" in node:
                walk(node["@graph"])
            if isinstance(node.get("mainEntity"), dict):
                walk(node["mainEntity"])

    for script in tree.xpath('//script[@type="application/ld+json"]'):
        raw = (script.text or "").strip()
        if not raw:
            continue
        try:
            walk(json.loads(raw, strict=False))
        except (ValueError, RecursionError):
            continue
    return found


_ARTICLE_TYPES = {
    "newsarticle",
    "article",
    "reportagenewsarticle",
    "blogposting",
    "analysisnewsarticle",
    "opinionnewsarticle",
    "webpage",
    "liveblogposting",
    "backgroundnewsarticle",
    "report",
}


def _types(obj: dict[str, Any]) -> set[str]:
    t = obj.get("@type")
    values = t if isinstance(t, list) else [t]
    return {str(v).lower() for v in values if v}


def _names(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return _names(value.get("name"))
    if isinstance(value, list):
        return [n for v in value for n in _names(v)]
    return []


def _backed(headline: str, others: list[str]) -> bool:
    """Most of the headline's words are in another candidate, and it is not the site's
    name (the shorter piece of a '<headline> | <site>' title)."""
    words = set(_key(headline).split())
    if not words:
        return False
    for o in others:
        pieces = [_key(x) for x in _TITLE_SEPARATORS_KEEP.split(o)[::2]]
        if len(pieces) > 1 and _key(headline) in pieces and _key(headline) != max(pieces, key=len):
            return False
    return any(len(words & set(_key(o).split())) >= 0.6 * len(words) for o in others)


class PageMeta:
    """Metadata read straight from the page's markup."""

    def __init__(self, tree: Any, url: str) -> None:
        self.url = url
        self.meta: dict[str, str] = {}
        for m in tree.xpath("//meta[@content]"):
            key = (m.get("property") or m.get("name") or m.get("itemprop") or "").strip().lower()
            if key and key not in self.meta and m.get("content", "").strip():
                self.meta[key] = m.get("content").strip()
        self.ld = [o for o in _json_ld_objects(tree) if _types(o) & _ARTICLE_TYPES]
        self.ld.sort(key=lambda o: "webpage" in _types(o))  # articles before plain pages
        h1s = (normalise_inline(h.text_content()) for h in tree.iter("h1"))
        self.h1 = next((h for h in h1s if h), None)
        title = tree.xpath("//title")
        self.title_tag = normalise_inline(title[0].text_content()) if title else None
        self.html_lang = (tree.xpath("string(/html/@lang)") or "").strip() or None
        canon = tree.xpath('//link[@rel="canonical"]/@href')
        self.canonical = urljoin(url, canon[0].strip()) if canon and canon[0].strip() else None
        self.times = [t.get("datetime") for t in tree.xpath("//time[@datetime]")]

    def ld_value(self, *keys: str) -> Any:
        for obj in self.ld:
            for key in keys:
                if obj.get(key):
                    return obj[key]
        return None

    def headline_candidates(self) -> list[str]:
        """Headlines in the measured order (``benchmarks/extraction.py``, labelled pages).

        The page's visible ``<h1>`` comes first when another source backs it
        (most of its words are in the JSON-LD headline, ``og:title`` or
        ``<title>``): social and JSON-LD headlines are often rewritten for
        sharing, and ``og:title`` often carries a section or author suffix. An
        ``<h1>`` nobody backs is usually the site's logo, so then JSON-LD,
        ``og:title``, ``twitter:title``, ``<title>``, and only then the ``<h1>``.
        """
        ld = self.ld_value("headline", "name")
        others = [
            c
            for c in (
                ld if isinstance(ld, str) else None,
                self.meta.get("og:title"),
                self.meta.get("twitter:title"),
                self.title_tag,
            )
            if c
        ]
        if self.h1 and _backed(self.h1, others):
            return [self.h1, *others]
        return [*others, *([self.h1] if self.h1 else [])]

    def site_name(self) -> str | None:
        pub = self.ld_value("publisher")
        names = _names(pub)
        return self.meta.get("og:site_name") or (names[0] if names else None)

    def published(self) -> datetime | None:
        for value in (
            self.ld_value("datePublished", "dateCreated"),
            self.meta.get("article:published_time"),
            self.meta.get("datepublished"),
            self.meta.get("pubdate"),
            self.meta.get("publishdate"),
            self.meta.get("date"),
            self.meta.get("dc.date.issued"),
            self.meta.get("og:published_time"),
            self.meta.get("article:published"),
            self.meta.get("og:article:published_time"),
            self.meta.get("og:pubdate"),
            *(self.times[:1]),
        ):
            dt = parse_datetime(value)
            if dt:
                return dt
        return None

    def modified(self) -> datetime | None:
        for value in (
            self.ld_value("dateModified"),
            self.meta.get("article:modified_time"),
            self.meta.get("og:updated_time"),
            self.meta.get("datemodified"),
        ):
            dt = parse_datetime(value)
            if dt:
                return dt
        return None

    def authors(self) -> list[str]:
        names = _names(self.ld_value("author"))
        if not names and self.meta.get("author"):
            names = [self.meta["author"]]
        if not names and self.meta.get("article:author"):
            names = [self.meta["article:author"]]
        return names

    def image(self) -> str | None:
        img = self.meta.get("og:image") or self.meta.get("twitter:image")
        if not img:
            ld = self.ld_value("image")
            if isinstance(ld, list) and ld:
                ld = ld[0]
            if isinstance(ld, dict):
                ld = ld.get("url")
            img = ld if isinstance(ld, str) else None
        return urljoin(self.url, img) if img else None


def clean_title(title: str, site_names: Iterable[str | None] = ()) -> str:
    """Drop site-name suffixes and prefixes such as ' | Zee News'."""
    title = normalise_inline(htmllib.unescape(title))
    names = {_key(n) for n in site_names if n}
    pieces = _TITLE_SEPARATORS_KEEP.split(title)  # text, sep, text, sep, ...
    while len(pieces) > 1 and _looks_like_site(pieces[-1], names):
        pieces = pieces[:-2]
    while len(pieces) > 1 and _key(pieces[0]) in names:
        pieces = pieces[2:]
    return "".join(pieces).strip()


def _looks_like_site(part: str, names: set[str]) -> bool:
    k = _key(part)
    if not k:
        return True
    for n in names:
        if n and (n in k or k in n) and len(k.split()) <= 6:
            return True
    return bool(re.fullmatch(r"[\w.-]+\.(com|in|org|net|co\.uk|co|news|tv)", part.strip(), re.I))


def clean_author(names: Iterable[str], publisher_names: Iterable[str | None]) -> str | None:
    banned = {_key(p) for p in publisher_names if p}
    out: list[str] = []
    for raw in names:
        for name in re.split(r"\s*(?:,|\band\b|&|\|)\s*", raw):
            name = normalise_inline(re.sub(r"^(by|written by|reported by)\s+", "", name, flags=re.I))
            k = _key(name)
            if (
                not k
                or k in banned
                or any(b and b in k for b in banned)
                or name.startswith("http")
                or len(name) > 80
                or k in {_key(o) for o in out}
            ):
                continue
            out.append(name)
    return ", ".join(out) or None


# -- language ----------------------------------------------------------------


def detect_language(text: str, hint: str | None = None) -> str | None:
    """ISO 639-1 code from the text (py3langid); the hint is used when text is too short.

    A page that declares English (``hint``) and whose text shows it (nearly all
    ASCII, and English function words at least ``_ENGLISH_SHARE`` of its
    words) is English without asking the statistical identifier, which costs
    a millisecond a page; any other declaration, or a page whose text
    contradicts it, is identified from the text.
    """
    sample = text[:600]  # as accurate as 3000 characters on the benchmark pages, 5x faster
    if len(sample) < 40:
        return (hint or "").split("-")[0].lower() or None
    if hint and hint[:2].lower() == "en" and _reads_english(sample):
        return "en"
    import py3langid

    lang, _score = py3langid.classify(sample)
    return str(lang)


# function words common in any English text and rare as words of other languages
_ENGLISH_WORDS = frozenset(
    re.findall(r"\w+", "the and of to that for with from this which have has been were said would their")
) | {"they", "will", "but"}
_ENGLISH_SHARE = 0.08  # English news text: 0.09 and up; other languages: 0 (benchmark pages)
_WORD = re.compile(r"\w+")


def _reads_english(sample: str) -> bool:
    if len(sample.encode("ascii", "ignore")) < 0.9 * len(sample):  # another script
        return False
    words = _WORD.findall(sample.casefold())
    return len(words) >= 20 and sum(w in _ENGLISH_WORDS for w in words) >= _ENGLISH_SHARE * len(words)
