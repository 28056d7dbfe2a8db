"""Article page -> ``Extracted``: headline, body text and markup, author, dates, image, language.

How a page is read (each step measured by ``benchmarks/extraction.py``):

1. The bytes are decoded (BOM, HTTP charset, ``<meta charset>``, UTF-8, then a
   guess) and parsed once, with trafilatura's parser settings. Once the
   metadata (step 5) and the page's paragraph words are read, the page chrome
   trafilatura deletes anyway (navigation, footers, asides, scripts, SVG, ...)
   is deleted from the tree, so each opinion below copies and scans about
   half the elements (``_drop_chrome``).
2. trafilatura gives its ``favor_precision`` opinion of the body. Where that
   opinion may have cut the body short (under 150 words, under half the
   page's paragraph text, or missing the opening words of the feed's own
   text), more opinions are asked: its ``favor_recall`` one for a short body
   or a missing lead, taken when the precise one has under half its words;
   then readability-lxml's, taken when it has twice the words and contains
   trafilatura's (``_body_blocks``).
   Text trafilatura leaves loose between its elements is kept.
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
from copy import deepcopy
from typing import Any

import lxml.html
import trafilatura
from lxml import etree
from trafilatura.settings import MANUALLY_CLEANED, Extractor
from trafilatura.utils import DOCTYPE_TAG, FAULTY_HTML, HTML_PARSER

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
    "Block",
    "PageMeta",
    "TemplateMemory",
    "clean_author",
    "clean_blocks",
    "clean_title",
    "decode_html",
    "detect_language",
    "extract",
    "from_feed",
    "html_to_text",
    "is_boilerplate_line",
    "normalise_inline",
    "normalise_text",
    "paragraph_key",
    "parse_datetime",
    "sanitize_html",
]

MIN_BODY_CHARS = 150
SHORT_BODY_WORDS = 150  # a precise opinion shorter than this gets a second, recall opinion
RECALL_SWITCH = 0.5  # take trafilatura's recall opinion when the precise one is shorter than this
READABILITY_SWITCH = 2.0  # readability's body must be this many times longer than trafilatura's
READABILITY_CONTAINS = 0.9  # ... and hold this share of trafilatura's 4-word shingles


def _parse_html(page: bytes | str, declared: str | None = None) -> Any:
    """The parsed tree of a page; ValueError when there is nothing to read.

    Written here rather than calling trafilatura's ``load_html`` on the text
    because its repair step (a regular expression over the whole page for
    characters XML forbids) costs half as much as the parse itself: deleting
    those control characters from the UTF-8 bytes (``bytes.translate``) is
    three times cheaper. The rest is ``load_html``'s: the same lxml parser
    settings, its DOCTYPE and ``<html/>`` repairs, and its rejection of
    text that is not HTML.
    """
    text = page if isinstance(page, str) else decode_html(page, declared)
    text = _XML_DECL.sub("", text, count=1)
    if not text.strip():
        raise ValueError("empty page")
    beginning = text[:50].lower()
    if "doctype" in beginning:  # libxml2 misreads some DOCTYPEs (lxml bug 1955915)
        first, newline, rest = text.partition("\n")
        text = DOCTYPE_TAG.sub("", first, count=1) + newline + rest
    if any("<html" in line and line.endswith("/>") for line in text[:4096].splitlines()[:4]):
        text = FAULTY_HTML.sub(r"\1>", text, count=1)  # a self-closing <html/>
    data = text.encode("utf-8", "surrogatepass").translate(None, _CONTROL_BYTES)
    if b"\xef\xbf\xbe" in data or b"\xef\xbf\xbf" in data:  # U+FFFE, U+FFFF
        data = data.replace(b"\xef\xbf\xbe", b"").replace(b"\xef\xbf\xbf", b"")
    try:
        tree = lxml.html.fromstring(data, parser=HTML_PARSER)
    except (etree.ParserError, ValueError, TypeError) as e:
        raise ValueError(f"unreadable HTML: {e}") from e
    if tree is None or ("html" not in beginning and len(tree) < 2):
        raise ValueError("unreadable HTML")
    return tree


# the characters XML 1.0 forbids below U+0020, which libxml2 would keep in the tree
_CONTROL_BYTES = bytes([*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20)])
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>")


def _words(text: str | None) -> int:
    return len(_WORD.findall(text)) if text else 0


_WORD = re.compile(r"\w+")


def _body_blocks(tree: Any, url: str, paragraph_words: int, evidence: str = "") -> list[Block]:
    """The body as blocks, from up to three opinions on the same parsed page.

    ``favor_precision`` is trafilatura's better reader of most pages, but on
    some it keeps only a fragment of the body (a teaser before an inline box,
    one section of a long piece); ``favor_recall`` then still has it. When the
    precise opinion has under half the words of the recall one
    (``RECALL_SWITCH``), the recall one is taken. Both run with ``fast=True``:
    trafilatura's built-in fallbacks cost more time than this second opinion
    and win less.

    Only when the precise opinion could have cut the body (fewer than
    ``SHORT_BODY_WORDS`` words, under half the words of the page's ``<p>``
    elements, ``paragraph_words``, or missing the opening words of the feed's
    own text) are the other opinions asked for, so most pages cost one trafilatura pass. The
    recall opinion is asked only for a short body or a missing lead: where a
    longer precise body covers under half the page's paragraphs, the recall
    one had the same words on all 8 such benchmark pages (readability found
    the rest on 2 of them).
    readability-lxml is the third (asked only where the page's paragraphs hold
    room for it to find more): when its body has at least
    ``READABILITY_SWITCH`` times the words of trafilatura's and contains
    nearly all of it (``READABILITY_CONTAINS`` of its 4-word shingles), both
    trafilatura opinions found only part of the same article, and
    readability's is taken.
    """
    precise = _opinion(tree, url, precision=True)
    have = _words(precise.text)
    lead = " ".join(_key(evidence).split()[:8]) if _words(evidence) >= 8 else ""
    missing_lead = bool(lead) and lead not in _key(precise.text)
    if have >= SHORT_BODY_WORDS and have >= RECALL_SWITCH * paragraph_words and not missing_lead:
        return precise.blocks
    chosen = precise
    if have < SHORT_BODY_WORDS or missing_lead:
        recall = _opinion(tree, url, recall=True)
        if recall.blocks and (
            not precise.blocks
            or (missing_lead and lead in _key(recall.text))
            or have < RECALL_SWITCH * _words(recall.text)
        ):
            chosen = recall
    if paragraph_words and paragraph_words < READABILITY_SWITCH * _words(chosen.text):
        return chosen.blocks  # no room for twice the text
    second = _readability_blocks(deepcopy(tree))
    second_text = " ".join(b.text for b in second)
    if (
        _words(second_text) >= READABILITY_SWITCH * max(_words(chosen.text), 1)
        and _contained(chosen.text, second_text) >= READABILITY_CONTAINS
    ):
        return second
    return chosen.blocks


class _Opinion:
    """One trafilatura reading of the body: its blocks, and their text joined."""

    __slots__ = ("blocks", "text")

    def __init__(self, blocks: list[Block]) -> None:
        self.blocks = blocks
        self.text = " ".join(b.text for b in blocks)


def _opinion(tree: Any, url: str, **focus: bool) -> _Opinion:
    """trafilatura's body of the page with ``precision=True`` or ``recall=True``.
    ``output_format="txt"`` because its body element is all that is used: the
    ``"python"`` format also renders a text of it that the blocks make anyway."""
    options = Extractor(output_format="txt", fast=True, comments=False, tables=True, url=url or None, **focus)
    doc = trafilatura.bare_extraction(tree, options=options)
    body = doc.body if doc is not None else None
    return _Opinion(_blocks(body) if body is not None else [])


def _shingles(text: str) -> set[tuple[str, ...]]:
    tokens = re.findall(r"\w+", text)
    return {tuple(tokens[i : i + 4]) for i in range(max(len(tokens) - 3, 1))} if tokens else set()


def _contained(part: str, whole: str) -> float:
    """The share of ``part``'s 4-word shingles that occur in ``whole`` (0 for an empty part)."""
    mine = _shingles(part)
    return len(mine & _shingles(whole)) / len(mine) if mine else 0.0


_READABILITY_BLOCKS = {
    "p": "p",
    "li": "li",
    "h1": "h2",
    "h2": "h2",
    "h3": "h3",
    "h4": "h3",
    "blockquote": "quote",
    "pre": "p",
    "dd": "p",
}


def _readability_blocks(tree: Any) -> list[Block]:
    """readability-lxml's opinion of the body, as blocks (innermost block elements only).
    ``tree`` is a copy of the page it may change; its links are not used, so no URL."""
    from readability import Document

    try:
        summary = Document(tree).summary(html_partial=True)
        root = lxml.html.fragment_fromstring(summary, create_parent="div")
    except Exception:  # readability asserts on some odd pages ("too many bodies"): no opinion
        return []
    out: list[Block] = []
    for el in root.iter(*_READABILITY_BLOCKS):
        if any(True for _ in el.iterdescendants(*_READABILITY_BLOCKS)):
            continue
        text = normalise_inline(el.text_content())
        if text:
            kind = _READABILITY_BLOCKS[el.tag]
            out.append(Block(kind, text))
    return out


# trafilatura deletes these first (``MANUALLY_CLEANED``) but reads some of them before:
# forms that hold the article, tables in figures, formulas in <math>, JSON-LD in scripts
_KEEP_FOR_TRAFILATURA = {"form", "figure", "math", "head", "script", "time"}
_CHROME = tuple(t for t in MANUALLY_CLEANED if t not in _KEEP_FOR_TRAFILATURA)


def _drop_chrome(tree: Any) -> None:
    """Delete, in place, page chrome that trafilatura's cleaning deletes anyway
    (navigation, footers, asides, buttons, SVG, styles, scripts other than
    JSON-LD, the head's contents): about half a news page's elements.

    trafilatura copies the tree it is given three times and runs its regular
    expression XPaths over the raw copy before it cleans, so this halves the
    cost of each opinion. Called once the page's metadata and paragraph count
    are read; readability and the markup search (``with_markup``) read the
    lean tree too. Outputs were the same on every benchmark page (text and
    markup); on the 42 corpus pages one link in a section label and one
    slideshow page without an article changed. A page whose every ``<p>``
    sits inside such chrome keeps it all: trafilatura's recall mode then
    restores them rather than read nothing.
    """
    if next(tree.iter("p"), None) is not None and all(
        next(p.iterancestors(*_CHROME), None) is not None for p in tree.iter("p")
    ):
        return
    etree.strip_elements(tree, *_CHROME, with_tail=False)
    for script in list(tree.iter("script")):
        if script.get("type") != "application/ld+json":
            script.drop_tree()  # its tail is page text
    for head in tree.iter("head"):
        for child in list(head):
            if child.tag != "script":  # the JSON-LD left above
                head.remove(child)


def _paragraph_words(tree: Any) -> int:
    return sum(_words(el.text_content()) for el in tree.iter("p"))


def extract(
    page: bytes | str,
    url: str,
    *,
    entry: Entry | None = None,
    publisher: str | None = None,
    charset: str | None = None,
    template: TemplateMemory | None = None,
) -> Extracted:
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
    paragraph_words = _paragraph_words(tree)
    _drop_chrome(tree)
    site = meta.site_name()
    names = [site, publisher]
    evidence = html_to_text(entry.content or entry.summary) if entry is not None else ""
    blocks = _body_blocks(tree, url, paragraph_words, evidence)
    candidates = meta.headline_candidates()
    if entry is not None and entry.title:
        candidates.append(html_to_text(entry.title))
    title = next((clean_title(c, names) for c in candidates if clean_title(c, names)), None)

    if template is not None:
        blocks = template.strip(url, blocks)
    blocks = clean_blocks(blocks, title, names, headlines=candidates)
    text, body_html = _render(_with_markup(blocks, tree, url))
    author = clean_author(meta.authors(), names)
    published = meta.published()
    if (
        entry is not None
        and entry.published_at is not None
        and (
            published is None
            or (
                published.hour == 0
                and published.minute == 0
                and published.date() == entry.published_at.date()
            )
        )
    ):
        published = entry.published_at
    image = meta.image() or (entry.image if entry else None)
    canonical = meta.canonical or meta.meta.get("og:url") or None
    lang_hint = meta.html_lang or (entry.language if entry else None)
    ok = len(text) >= MIN_BODY_CHARS
    return Extracted(
        title=title,
        text=text,
        html=body_html,
        author=author,
        published_at=published,
        updated_at=meta.modified(),
        language=detect_language(text or title or "", lang_hint),
        image=image,
        site_name=site,
        canonical_url=canonical,
        description=meta.meta.get("og:description") or meta.meta.get("description"),
        ok=ok,
        reason=None
        if ok
        else (
            "no article body found on the page"
            if not text
            else f"no article body found on the page (only {len(text)} characters of text)"
        ),
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
        title=title,
        text=text,
        html=body_html,
        author=entry.author,
        published_at=entry.published_at,
        updated_at=entry.updated_at,
        language=detect_language(text or title or "", entry.language),
        image=entry.image,
        ok=bool(text),
        reason=None if text else "the feed entry has no text",
    )
