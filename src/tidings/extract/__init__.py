"""Article page -> ``Extracted``: headline, body text and markup, author, dates, image, language.

How a page is read (each step measured by ``benchmarks/extraction.py``):

1. The bytes are decoded (BOM, HTTP charset, ``<meta charset>``, UTF-8, then a
   guess) and parsed once, with trafilatura's own loader.
2. trafilatura gives its ``favor_precision`` opinion of the body. Where that
   opinion may have cut the body short (under 150 words, under half the
   page's paragraph text, or missing the opening words of the feed's own
   text), its ``favor_recall`` opinion is asked too, and taken when the
   precise one has under half its words.
3. The chosen body becomes paragraph blocks; page furniture is dropped
   (``body.py``: promotion lines such as "ALSO READ | ...", datelines,
   copyright, bylines, the headline repeated as first line, repeated
   paragraphs, a trailing related-links list) and, given a
   ``TemplateMemory``, paragraphs the publisher repeats on its other pages.
4. Each kept paragraph takes its inline links, bold and italic from the page
   element that carries the same words, so sentences stay whole in both the
   text and the sanitised HTML; subheadings stay blocks of their own.
5. Metadata (``meta.py``): the headline in a measured order (a backed
   ``<h1>``, JSON-LD ``headline``, ``og:title``, ``<title>``, the feed's
   title) without site-name suffixes; dates from JSON-LD, meta tags,
   ``<time>`` and the feed, in UTC; authors without "By" or the publisher.

Modules: ``text`` (decoding, normalising, sanitising), ``meta``, ``body``;
this module runs the stage. Pages that yield under ``MIN_BODY_CHARS`` of body
come back with ``ok=False`` and a ``reason``; the pipeline then uses
``from_feed``. Nothing here raises for a bad page.
"""


from __future__ import annotations

import html as htmllib
import re
from typing import Any

import trafilatura
from lxml import etree
from trafilatura.settings import Extractor
from trafilatura.utils import load_html

from tidings.extract.body import (
    Block,
    TemplateMemory,
    clean_blocks,
    is_boilerplate_line,
    paragraph_key,
)
from tidings.extract.body import blocks_of as _blocks
from tidings.extract.body import render as _render
from tidings.extract.body import with_markup as _with_markup
from tidings.extract.meta import (
    PageMeta,
    clean_author,
    clean_title,
    detect_language,
    parse_datetime,
)
from tidings.extract.text import (
    decode_html,
    html_to_text,
    normalise_inline,
    normalise_text,
    sanitize_html,
)
from tidings.extract.text import text_key as _key
from tidings.model import Entry, Extracted

__all__ = [
    "Block", "PageMeta", "TemplateMemory", "clean_author", "clean_blocks", "clean_title",
    "decode_html", "detect_language", "extract", "from_feed", "html_to_text",
    "is_boilerplate_line", "normalise_inline", "normalise_text", "paragraph_key",
    "parse_datetime", "sanitize_html",
]

MIN_BODY_CHARS = 150
SHORT_BODY_WORDS = 150  # a precise opinion shorter than this gets a second, recall opinion
RECALL_SWITCH = 0.5  # take trafilatura's recall opinion when the precise one is shorter than this


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
