"""Article page -> ``Extracted``: headline, body text and markup, author, dates, image, language.

trafilatura finds the body. Around it, tidings adds what an aggregator needs
and trafilatura does not do:

- the body is rebuilt from trafilatura's XML tree into paragraph blocks, so
  inline link, bold and italic text stay in their sentences and subheadings
  stay separate blocks, and sanitised HTML of the same blocks;
- the headline is never empty (JSON-LD ``headline``, ``og:title``, ``<h1>``,
  ``<title>``, then the feed's title) and loses site-name suffixes;
- the headline is not repeated as the first body line; promotional
  paragraphs ("ALSO READ | ...", "Follow us on ...") and repeated paragraphs
  are dropped; whitespace is normalised without changing the words;
- dates come with their time and zone from JSON-LD, meta tags and ``<time>``,
  in UTC; authors lose "By" and the publisher's own name.

The metadata readers are written here because trafilatura returns dates
without time of day and one author string; they are small lxml lookups.
"""

from __future__ import annotations

import html as htmllib
import json
import re
import threading
import unicodedata
from collections import Counter, OrderedDict
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import lxml.html
import nh3
import trafilatura
from lxml import etree
from trafilatura.settings import Extractor
from trafilatura.utils import load_html

from tidings.model import Entry, Extracted

MIN_BODY_CHARS = 150
SHORT_BODY_WORDS = 150  # a precise opinion shorter than this gets a second, recall opinion
RECALL_SWITCH = 0.5  # take trafilatura's recall opinion when the precise one is shorter than this

ALLOWED_TAGS = {"p", "h2", "h3", "h4", "ul", "ol", "li", "blockquote", "strong", "em", "u",
                "a", "br", "code", "table", "tr", "td", "th", "tbody", "thead"}
ALLOWED_ATTRIBUTES = {"a": {"href"}}
URL_SCHEMES = {"http", "https", "mailto"}

_PROMO = re.compile(
    r"""^(
        (also\s+(read|watch|see|check\s+out)|read\s+(also|more|next)|must\s+read|don'?t\s+miss
         |see\s+more|more\s+from|recommended(\s+(stories|videos?))?
         |related(\s+(news|stories|articles|coverage|links?))?|trending(\s+now)?
         |watch(\s+video)?|click\s+here|(catch|get)\s+(all|the\s+latest))\b\s*([:|\-–—]|$)
      |(यह|ये|इसे)\s+भी\s+(पढ़ें|पढ़े|देखें)\s*([:|\-–—]|$)
      |follow\s+(us|[\w\s]{1,30})\s+on\s+(google\s+news|twitter|x|facebook|instagram|whatsapp
                                         |telegram|youtube|linkedin)
      |follow\s+@\w+
      |(join|subscribe\s+to)\s+(our|the)\s+[\w\s]{0,30}(channel|newsletter)
      |sign\s+up\s+(for|to)\s+(our|the|\w+['’]s)?\s*[\w\s]{0,40}newsletter
      |get\s+the\s+latest\b.{0,60}\binbox
      |have\s+a\s+(news\s+)?tip\b
      |(email|write\s+to|contact)\s+[\w .'’-]{2,60}\s+at\s+\S+@
      |(download|get)\s+the\s+[\w\s]{1,30}\s+app
      |(tags|topics|also\s+read|read\s+more|categories|categorias|comments?|order\s+reprints
         |print\s+article|text\s+size|share\s+this(\s+(article|story))?)\s*:?\s*$
      |(tags|topics)\s*:
      |share\s+(this|on)\s*(article|story|:)?\s*(facebook|twitter|whatsapp|$)
      |tell\s+us\s+what\s+you\s+think
      |(first\s+published|published|updated|last\s+updated)\s*(on|:)\s*\w+\s+\d
      |(image|photo|picture|video)\s*(credit|courtesy|source)?\s*:
      |advertisement$|story\s+continues\s+below
    )""",
    re.I | re.X,
)
_BYLINE = re.compile(r"^(by|written\s+by|reported\s+by|edited\s+by)\s+[\w.'’\- ]{2,80}$", re.I)
_TITLE_SEPARATORS_KEEP = re.compile(r"(\s+[|\-–—·•»]\s+)")
_SPACE = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_SPACE_BEFORE_PUNCT = re.compile(r"(?<=\w|[\"'”’)])\s+(?=[,.;!?](\s|$))")
_ZERO_WIDTH = re.compile(r"[\u200b\u200e\u200f\ufeff]")


# -- text normalisation ------------------------------------------------------

def normalise_inline(text: str) -> str:
    """One paragraph: NFC, one space between words, no stray space before punctuation."""
    text = unicodedata.normalize("NFC", text)
    text = _ZERO_WIDTH.sub("", text)
    text = _SPACE.sub(" ", text.replace("\r", " ").replace("\n", " ")).strip()
    return _SPACE_BEFORE_PUNCT.sub("", text)


def normalise_text(text: str) -> str:
    """Paragraphs separated by exactly one blank line; no leading or trailing blank lines."""
    paragraphs = [normalise_inline(p) for p in re.split(r"\n\s*\n", text)]
    return "\n\n".join(p for p in paragraphs if p)


def _key(text: str) -> str:
    return re.sub(r"\W+", " ", text.casefold()).strip()


# -- metadata ----------------------------------------------------------------

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
_ZONES = {"IST": 19800, "PKT": 18000, "BST": 3600, "CET": 3600, "CEST": 7200, "EST": -18000,
          "EDT": -14400, "CST": -21600, "CDT": -18000, "MST": -25200, "MDT": -21600,
          "PST": -28800, "PDT": -25200, "JST": 32400, "KST": 32400, "HKT": 28800, "SGT": 28800,
          "AEST": 36000, "AEDT": 39600, "NZST": 43200, "NZDT": 46800, "WIB": 25200}


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


_ARTICLE_TYPES = {"newsarticle", "article", "reportagenewsarticle", "blogposting",
                  "analysisnewsarticle", "opinionnewsarticle", "webpage", "liveblogposting",
                  "backgroundnewsarticle", "report"}


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
        others = [c for c in (ld if isinstance(ld, str) else None, self.meta.get("og:title"),
                              self.meta.get("twitter:title"), self.title_tag) if c]
        if self.h1 and _backed(self.h1, others):
            return [self.h1, *others]
        return [*others, *([self.h1] if self.h1 else [])]

    def site_name(self) -> str | None:
        pub = self.ld_value("publisher")
        names = _names(pub)
        return self.meta.get("og:site_name") or (names[0] if names else None)

    def published(self) -> datetime | None:
        for value in (self.ld_value("datePublished", "dateCreated"),
                      self.meta.get("article:published_time"), self.meta.get("datepublished"),
                      self.meta.get("pubdate"), self.meta.get("publishdate"),
                      self.meta.get("date"), self.meta.get("dc.date.issued"),
                      self.meta.get("og:published_time"), self.meta.get("article:published"),
                      self.meta.get("og:article:published_time"), self.meta.get("og:pubdate"),
                      *(self.times[:1])):
            dt = parse_datetime(value)
            if dt:
                return dt
        return None

    def modified(self) -> datetime | None:
        for value in (self.ld_value("dateModified"), self.meta.get("article:modified_time"),
                      self.meta.get("og:updated_time"), self.meta.get("datemodified")):
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
            name = normalise_inline(re.sub(r"^(by|written by|reported by)\s+", "", name,
                                           flags=re.I))
            k = _key(name)
            if (not k or k in banned or any(b and b in k for b in banned)
                    or name.startswith("http") or len(name) > 80 or k in {_key(o) for o in out}):
                continue
            out.append(name)
    return ", ".join(out) or None


# -- body --------------------------------------------------------------------

_INLINE_HTML = {"#b": "strong", "#i": "em", "#u": "u", "#t": "code"}


def _inline_html(el: Any) -> str:
    """Sanitisable HTML for the inline content of a trafilatura element."""
    parts = [htmllib.escape(el.text or "", quote=False)]
    for child in el:
        tag = child.tag if isinstance(child.tag, str) else ""
        inner = _inline_html(child)
        if tag == "hi":
            name = _INLINE_HTML.get(child.get("rend", ""), "")
            parts.append(f"<{name}>{inner}</{name}>" if name else inner)
        elif tag == "ref" and child.get("target", "").startswith(("http://", "https://")):
            href = htmllib.escape(child.get("target"), quote=True)
            parts.append(f'<a href="{href}">{inner}</a>')
        elif tag == "lb":
            parts.append(" ")
        else:
            parts.append(inner)
        parts.append(htmllib.escape(child.tail or "", quote=False))
    return "".join(parts)


def _text_of(el: Any) -> str:
    return normalise_inline(" ".join(t for t in el.itertext()) if el.tag == "lb"
                            else "".join(el.itertext()))


class Block:
    __slots__ = ("html", "kind", "text")

    def __init__(self, kind: str, text: str, html: str) -> None:
        self.kind, self.text, self.html = kind, text, html


def _blocks(body: Any) -> list[Block]:
    out: list[Block] = []
    for el in body:
        tag = el.tag if isinstance(el.tag, str) else ""
        if tag == "head":
            text = _text_of(el)
            if text:
                level = {"h1": "h2", "h2": "h2", "h3": "h3"}.get(el.get("rend", ""), "h3")
                out.append(Block(level, text, f"<{level}>{_inline_html(el).strip()}</{level}>"))
        elif tag == "list":
            for item in el.iter("item"):
                text = _text_of(item)
                if text:
                    out.append(Block("li", text, f"<li>{_inline_html(item).strip()}</li>"))
        elif tag == "quote":
            inner = _blocks(el) if len(el) and any(c.tag in ("p", "list") for c in el) else []
            if inner:
                for b in inner:
                    out.append(Block("quote", b.text, f"<blockquote>{b.html}</blockquote>"))
            else:
                text = _text_of(el)
                if text:
                    out.append(Block("quote", text,
                                     f"<blockquote><p>{_inline_html(el).strip()}</p></blockquote>"))
        elif tag == "table":
            for row in el.iter("row"):
                cells = [_text_of(c) for c in row.iter("cell")]
                text = " | ".join(c for c in cells if c)
                if text:
                    out.append(Block("p", text, f"<p>{htmllib.escape(text)}</p>"))
        elif tag in ("graphic", "lb"):
            continue
        else:
            text = _text_of(el)
            if text:
                out.append(Block("p", text, f"<p>{_inline_html(el).strip()}</p>"))
    return out


_COPYRIGHT = re.compile(r"^(copyright\b|©|\(c\)\s|all rights reserved)", re.I)
_WRITE_TO = re.compile(r"^(write|contact|email|e-mail)\s+(to\s+)?[\w .'’-]{2,60}\s+(at|@)\s+\S+@\S+$",
                       re.I)
_BARE_LINK = re.compile(r"^(https?://|www\.)\S+$|^\S+@\S+\.\w+$", re.I)
_DATE_WORDS = frozenset(re.findall(r"\w+",
    "jan feb mar apr may jun jul aug sep sept oct nov dec january february march april june july "
    "august september october november december monday tuesday wednesday thursday friday saturday "
    "sunday am pm a m p m at on updated published posted last first edt est et gmt utc ist bst "
    "cet pst pdt hrs th st nd rd"))
LONG_REPEAT = 200  # a repeated paragraph at least this long is a duplicate, wherever it is


def _is_dateline(text: str) -> bool:
    """A line that only says when: 'Updated at 1:23 p.m.', 'Nov 19, 2019 10:02 IST'."""
    tokens = re.findall(r"\w+", text.casefold())
    if not tokens or len(tokens) > 12 or not re.search(r"\b(19|20)\d\d\b|\d{1,2}[:.]\d\d", text):
        return False
    datey = sum(1 for t in tokens if t.isdigit() or t in _DATE_WORDS)
    return datey >= 0.6 * len(tokens)


def is_boilerplate_line(text: str) -> bool:
    """A paragraph that is page furniture in any article: promotion, copyright, a dateline."""
    return bool(_PROMO.match(text) or (len(text) < 300 and _COPYRIGHT.match(text))
                or _WRITE_TO.match(text) or _BARE_LINK.match(text) or _is_dateline(text))


def clean_blocks(blocks: list[Block], title: str | None,
                 publisher_names: Iterable[str | None] = (),
                 headlines: Iterable[str] = ()) -> list[Block]:
    """Drop a repeated headline, page furniture, bylines and duplicate paragraphs.

    A paragraph repeated right after itself, or a long one (``LONG_REPEAT``)
    repeated anywhere, is a duplicate; short lines may legitimately recur
    (an interview's questions, a recipe's steps).
    """
    title_keys = {_key(t) for t in (title or "", *headlines)} - {""}
    seen: set[str] = set()
    out: list[Block] = []
    for i, b in enumerate(blocks):
        k = _key(b.text)
        if not k:
            continue
        if i < 3 and k in title_keys:
            continue
        if is_boilerplate_line(b.text):
            continue
        if i < 4 and len(b.text) < 90 and _BYLINE.match(b.text):
            continue
        if (out and _key(out[-1].text) == k) or (k in seen and len(b.text) >= LONG_REPEAT):
            continue
        seen.add(k)
        out.append(b)
    return _trim_link_lists(out)


LINK_LIST_KINDS = ("p", "h2", "h3")
_SENTENCE_END = re.compile(r"[.!?;:…。！？।\"”’»)\]]$")


def _headline_like(b: Block) -> bool:
    return b.kind in LINK_LIST_KINDS and len(b.text) < 120 and not _SENTENCE_END.search(b.text)


def _trim_link_lists(blocks: list[Block]) -> list[Block]:
    """Drop a run of two or more headline-like lines at the end of the body (a
    related-stories box: short lines with no sentence end), and a subheading
    left with nothing after it."""
    end = len(blocks)
    while end and _headline_like(blocks[end - 1]):
        end -= 1
    if len(blocks) - end >= 2 and end > 0:
        blocks = blocks[:end]
    while blocks and blocks[-1].kind in ("h2", "h3"):
        blocks = blocks[:-1]
    return blocks


_MARKUP_SOURCES = ("p", "li", "h2", "h3", "h4", "h5", "h6", "blockquote", "dd", "pre")
_INLINE_RENAME = {"b": "strong", "strong": "strong", "i": "em", "em": "em", "u": "u",
                  "code": "code", "a": "a", "br": "br"}
_DROP = {"script", "style", "noscript", "button", "svg", "iframe", "form", "input", "select",
         "textarea", "img", "picture", "video", "audio", "figure"}


def _source_inline_html(el: Any, url: str) -> str:
    """The inline markup of a page element: links, bold, italic kept, the rest as text."""
    parts = [htmllib.escape(el.text or "", quote=False)]
    for child in el:
        tag = child.tag.lower() if isinstance(child.tag, str) else ""
        if tag and tag not in _DROP:
            inner = _source_inline_html(child, url)
            name = _INLINE_RENAME.get(tag)
            if name == "br":
                parts.append(" ")
            elif name == "a":
                href = urljoin(url, (child.get("href") or "").strip()) if url else child.get("href")
                if href and href.startswith(("http://", "https://")):
                    parts.append(f'<a href="{htmllib.escape(href, quote=True)}">{inner}</a>')
                else:
                    parts.append(inner)
            elif name and inner.strip():
                parts.append(f"<{name}>{inner}</{name}>")
            else:
                parts.append(inner)
        parts.append(htmllib.escape(child.tail or "", quote=False))
    return "".join(parts)


def _with_markup(blocks: list[Block], tree: Any, url: str) -> list[Block]:
    """Give each block the inline markup of the page element that carries the same words.

    trafilatura decides *which* text is the body (with plain-text settings, its
    best); the page itself supplies the links, bold and italic of those
    paragraphs, so they stay inside their sentences. A block without a matching
    element keeps its escaped text.
    """
    wanted = {_key(b.text) for b in blocks}
    heads = {k[:24] for k in wanted}
    found: dict[str, Any] = {}
    for el in tree.iter(*_MARKUP_SOURCES):
        raw = el.text_content()
        if _key(raw.lstrip()[:64])[:24] not in heads:  # a cheap look at the start first
            continue
        k = _key(raw)
        if k in wanted and k not in found:
            found[k] = el
    out: list[Block] = []
    for b in blocks:
        el = found.get(_key(b.text))
        if el is None:
            tag = {"li": "li", "h2": "h2", "h3": "h3"}.get(b.kind, "p")
            out.append(Block(b.kind, b.text, f"<{tag}>{htmllib.escape(b.text, quote=False)}</{tag}>"))
            continue
        inner = normalise_inline(_source_inline_html(el, url)).strip()
        tag = {"li": "li", "h2": "h2", "h3": "h3"}.get(b.kind, "p")
        markup = f"<{tag}>{inner}</{tag}>"
        if b.kind == "quote":
            markup = f"<blockquote><p>{inner}</p></blockquote>"
        out.append(Block(b.kind, b.text, markup))
    return out


def _render(blocks: list[Block]) -> tuple[str, str]:
    text = "\n\n".join(b.text for b in blocks)
    parts: list[str] = []
    in_list = False
    for b in blocks:
        if b.kind == "li" and not in_list:
            parts.append("<ul>")
            in_list = True
        elif b.kind != "li" and in_list:
            parts.append("</ul>")
            in_list = False
        parts.append(b.html)
    if in_list:
        parts.append("</ul>")
    return text, sanitize_html("\n".join(parts))


def sanitize_html(markup: str) -> str:
    """nh3 with the small tag set tidings renders; only http(s) and mailto links."""
    return nh3.clean(markup, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES,
                     url_schemes=URL_SCHEMES, link_rel="noopener noreferrer nofollow")


def html_to_text(markup: str | None) -> str:
    """Plain text of a feed's HTML summary or content, paragraphs kept."""
    if not markup or not markup.strip():
        return ""
    try:
        frag = lxml.html.fragment_fromstring(markup, create_parent="div")
    except (etree.ParserError, ValueError):
        return normalise_text(re.sub(r"<[^>]+>", " ", markup))
    for bad in frag.xpath(".//script|.//style"):
        bad.drop_tree()
    for br in frag.xpath(".//br"):
        br.tail = "\n\n" + (br.tail or "")
    blocks = []
    for el in frag.xpath(".//p|.//h1|.//h2|.//h3|.//h4|.//li|.//blockquote"):
        el.tail = "\n\n" + (el.tail or "")
    blocks.append(frag.text_content())
    return normalise_text("".join(blocks))


# -- publisher templates -----------------------------------------------------

class TemplateMemory:
    """What a publisher's pages share: paragraphs repeated across a site's pages are its template.

    An aggregator reads many pages of each site. A paragraph that trafilatura
    kept as body on ``min_pages`` *other* pages of the same host ("Also read"
    boxes written as paragraphs, newsletter pitches, a standing disclaimer) is
    boilerplate on the next page too. The pipeline holds one instance and
    passes it to ``extract``; ``boilerplate`` is the decision, ``learn`` the
    memory. Bounded: ``max_hosts`` hosts (least recently used dropped), and
    per host ``max_keys`` paragraphs (one-off ones pruned first). Thread-safe,
    because the pipeline extracts in worker threads.
    """

    def __init__(self, min_pages: int = 3, *, max_hosts: int = 2000, max_keys: int = 4000) -> None:
        self.min_pages = min_pages
        self.max_hosts = max_hosts
        self.max_keys = max_keys
        self._hosts: OrderedDict[str, tuple[set[str], Counter[str]]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _where(url: str) -> tuple[str, str]:
        parts = urlsplit(url)
        return (parts.hostname or "").removeprefix("www."), parts.path

    def boilerplate(self, url: str) -> frozenset[str]:
        """Paragraph keys (see ``paragraph_key``) seen on at least ``min_pages`` other pages."""
        host, path = self._where(url)
        with self._lock:
            entry = self._hosts.get(host)
            if entry is None:
                return frozenset()
            pages, counts = entry
            own = 1 if path in pages else 0  # a page seen before does not count against itself
            return frozenset(k for k, n in counts.items() if n - own >= self.min_pages)

    def learn(self, url: str, paragraphs: Iterable[str]) -> None:
        """Remember the paragraphs of one page (a page already seen is not counted twice)."""
        host, path = self._where(url)
        if not host:
            return
        with self._lock:
            entry = self._hosts.get(host)
            if entry is None:
                entry = self._hosts[host] = (set(), Counter())
                while len(self._hosts) > self.max_hosts:
                    self._hosts.popitem(last=False)
            self._hosts.move_to_end(host)
            pages, counts = entry
            if path in pages:
                return
            pages.add(path)
            counts.update({paragraph_key(p) for p in paragraphs} - {""})
            if len(counts) > self.max_keys:
                for k in [k for k, n in counts.items() if n == 1]:
                    del counts[k]

    def strip(self, url: str, blocks: list[Block]) -> list[Block]:
        """The blocks without the host's template paragraphs, unless that leaves under half the text."""
        known = self.boilerplate(url)
        self.learn(url, (b.text for b in blocks))
        if not known:
            return blocks
        kept = [b for b in blocks if paragraph_key(b.text) not in known]
        if sum(len(b.text) for b in kept) * 2 < sum(len(b.text) for b in blocks):
            return blocks
        return kept


def paragraph_key(text: str) -> str:
    """A paragraph's identity for comparisons: case, punctuation and spacing aside."""
    return _key(text)


# -- language ----------------------------------------------------------------

def detect_language(text: str, hint: str | None = None) -> str | None:
    """ISO 639-1 code from the text (py3langid); the hint is used when text is too short."""
    sample = text[:1000]
    if len(sample) < 40:
        return (hint or "").split("-")[0].lower() or None
    import py3langid

    lang, _score = py3langid.classify(sample)
    return str(lang)


# -- the stage ---------------------------------------------------------------

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w.:-]+)""", re.I)


def decode_html(body: bytes, declared: str | None = None) -> str:
    """Bytes -> text: BOM, then the HTTP charset, then ``<meta charset>``, then UTF-8,
    then charset_normalizer's guess. Undecodable bytes become U+FFFD, never an error."""
    for bom, codec in ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"),
                       (b"\xfe\xff", "utf-16-be")):
        if body.startswith(bom):
            return body[len(bom):].decode(codec, errors="replace")
    candidates = [declared]
    m = _META_CHARSET.search(body[:8192])
    if m:
        candidates.append(m.group(1).decode("ascii", "ignore"))
    for codec in candidates:
        if not codec:
            continue
        codec = codec.strip().lower()
        if codec in ("iso-8859-1", "latin-1", "latin1", "us-ascii", "ascii"):
            codec = "cp1252"  # what browsers do
        try:
            return body.decode(codec)
        except (LookupError, UnicodeDecodeError):
            continue
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(body[:200_000]).best()
    if best is not None:
        return body.decode(best.encoding, errors="replace")
    return body.decode("utf-8", errors="replace")


def _parse_html(page: bytes | str, declared: str | None = None) -> Any:
    text = page if isinstance(page, str) else decode_html(page, declared)
    text = _XML_DECL.sub("", text, count=1)
    if not text.strip():
        raise ValueError("empty page")
    try:
        tree = load_html(text)
    except (etree.ParserError, ValueError, TypeError) as e:
        raise ValueError(f"unreadable HTML: {e}") from e
    if tree is None:
        raise ValueError("unreadable HTML")
    return tree


_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>")


def _words(text: str | None) -> int:
    return len(re.findall(r"\w+", text or ""))


def _two_opinions(tree: Any, url: str, evidence: str = "") -> Any:
    """trafilatura's body, from two of its opinions on the same parsed page.

    ``favor_precision`` is the better reader of most pages, but on some it keeps
    only a fragment of the body (a teaser before an inline box, one section of
    a long piece). ``favor_recall`` then still has it. When the precise
    opinion is under half the length of the recall one (``RECALL_SWITCH``), the
    precise one cut the body short and the recall one is taken (measured on
    the extraction benchmark: F1 .964 -> .969; flat for thresholds .3 to .6).
    Both run with ``fast=True``: trafilatura's own readability/justext
    fallbacks cost more time than this second opinion and win less.

    The recall opinion is only asked for when the precise one could have cut
    the body: fewer than ``SHORT_BODY_WORDS`` words, or under half the words
    of the page's ``<p>`` elements. On the benchmark every page where the
    recall opinion won is one of those, and this skips it on most pages.

    ``evidence`` is the feed's own text for the item: when the precise opinion
    lacks its opening words and the recall one has them, the recall one is
    the body.
    """
    common = {"fast": True, "comments": False, "tables": True, "url": url or None,
              "output_format": "python"}
    precise = trafilatura.bare_extraction(tree, options=Extractor(precision=True, **common))
    have = _words(precise.text) if precise is not None and precise.body is not None else 0
    lead = " ".join(_key(evidence).split()[:8]) if _words(evidence) >= 8 else ""
    missing_lead = bool(lead) and lead not in _key(precise.text if precise is not None else "")
    if (have >= SHORT_BODY_WORDS and have >= RECALL_SWITCH * _paragraph_words(tree)
            and not missing_lead):
        return precise
    recall = trafilatura.bare_extraction(tree, options=Extractor(recall=True, **common))
    if recall is None or recall.body is None:
        return precise
    if missing_lead and lead in _key(recall.text or ""):
        return recall
    if precise is None or precise.body is None or have < RECALL_SWITCH * _words(recall.text):
        return recall
    return precise


def _paragraph_words(tree: Any) -> int:
    return sum(_words(el.text_content()) for el in tree.iter("p"))


def extract(page: bytes | str, url: str, *, entry: Entry | None = None,
            publisher: str | None = None, charset: str | None = None,
            template: TemplateMemory | None = None) -> Extracted:
    """Extract one article page. Never raises for bad pages: ``ok`` and ``reason`` say.

    ``entry`` (the feed item) lends its title, date and image where the page
    has none, and its text is evidence of where the body is; ``template``
    removes paragraphs the publisher repeats on every page, and learns this
    page's.
    """
    try:
        tree = _parse_html(page, charset)
    except ValueError as e:
        return _empty(entry, publisher, str(e))
    meta = PageMeta(tree, url)
    site = meta.site_name()
    names = [site, publisher]
    evidence = html_to_text(entry.content or entry.summary) if entry is not None else ""
    doc = _two_opinions(tree, url, evidence)
    candidates = meta.headline_candidates()
    if entry is not None and entry.title:
        candidates.append(html_to_text(entry.title))
    title = next((clean_title(c, names) for c in candidates if clean_title(c, names)), None)

    blocks = _blocks(doc.body) if doc is not None and doc.body is not None else []
    if template is not None:
        blocks = template.strip(url, blocks)
    blocks = clean_blocks(blocks, title, names, headlines=candidates)
    text, body_html = _render(_with_markup(blocks, tree, url))
    author = clean_author(meta.authors(), names)
    published = meta.published()
    if entry is not None and entry.published_at is not None and (
        published is None or (published.hour == 0 and published.minute == 0
                              and published.date() == entry.published_at.date())
    ):
        published = entry.published_at
    image = meta.image() or (entry.image if entry else None)
    canonical = meta.canonical or meta.meta.get("og:url") or None
    lang_hint = meta.html_lang or (entry.language if entry else None)
    ok = len(text) >= MIN_BODY_CHARS
    return Extracted(
        title=title, text=text, html=body_html, author=author,
        published_at=published, updated_at=meta.modified(),
        language=detect_language(text or title or "", lang_hint),
        image=image, site_name=site, canonical_url=canonical,
        description=meta.meta.get("og:description") or meta.meta.get("description"),
        ok=ok, reason=None if ok else (
            "no article body found on the page" if not text
            else f"no article body found on the page (only {len(text)} characters of text)"),
    )


def _empty(entry: Entry | None, publisher: str | None, reason: str) -> Extracted:
    title = clean_title(entry.title, [publisher]) if entry and entry.title else None
    return Extracted(title=title, text="", html="", ok=False, reason=reason)


def from_feed(entry: Entry, publisher: str | None = None) -> Extracted:
    """The fallback when the page gives nothing: the feed's own content or summary."""
    markup = entry.content or entry.summary or ""
    text = html_to_text(markup)
    title = clean_title(html_to_text(entry.title), [publisher]) if entry.title else None
    blocks = [Block("p", p, f"<p>{htmllib.escape(p)}</p>") for p in text.split("\n\n") if p]
    blocks = clean_blocks(blocks, title, [publisher])
    text, body_html = _render(blocks)
    return Extracted(
        title=title, text=text, html=body_html, author=entry.author,
        published_at=entry.published_at, updated_at=entry.updated_at,
        language=detect_language(text or title or "", entry.language), image=entry.image,
        ok=bool(text), reason=None if text else "the feed entry has no text",
    )
