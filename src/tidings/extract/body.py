"""The article body: trafilatura's blocks, cleaned of page furniture, with the page's own
inline markup, and the per-publisher template memory.

The furniture rules (promotion lines, datelines, copyright, repeated
paragraphs, trailing related-links boxes) are general patterns of news pages,
each measured on ``benchmarks/extraction.py``; none names a site.
"""

from __future__ import annotations

import html as htmllib
import re
import threading
from collections import Counter, OrderedDict
from collections.abc import Iterable
from typing import Any
from urllib.parse import urljoin, urlsplit

from tidings.extract.text import normalise_inline, sanitize_html
from tidings.extract.text import text_key as _key

_PROMO = re.compile(
    r"""^(
        (also\s+(read|watch|see|check\s+out)|read\s+(also|more|next)|must\s+read|don'?t\s+miss
         |see\s+more|more\s+from|recommended(\s+(stories|videos?))?
         |related(\s+(news|stories|articles|coverage|links?))?|trending(\s+now)?
         |watch(\s+video)?|click\s+here|(catch|get)\s+(all|the\s+latest))\b\s*([:|\-–—]|$)
      |(यह|ये|इसे)\s+भी\s+(पढ़ें|पढ़े|देखें)\s*([:|\-–—]|$)
      |follow\s+(us|[\w\s]{1,60})\s+on\s+(google\s+news|twitter|x|facebook|instagram|whatsapp
                                         |telegram|youtube|linkedin)
      |follow\s+@\w+
      |(join|subscribe\s+to)\s+(our|the)\s+[\w\s]{0,30}(channel|newsletter)
      |sign\s+up\s+(for|to)\b.{0,80}?\bnewsletter
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
      |this\s+copy\s+is\s+for\s+your\s+personal,?\s+non-?commercial\s+use
      |this\s+(article|story)\s+has\s+been\s+sent\s+to|an\s+error\s+has\s+occurred
      |(did\s+you\s+)?(like|enjoy)(d|ed)?\s+this\s+(story|article)\?
      |if\s+you\s+(enjoyed|liked)\s+this\s+(article|story)
      |also\s+on\s+[\w-]+\.(com|org|net|co\.uk|in)\b
      |(posted|published|publicado|publié)\s+(by|por|par)\s*:
      |\[\w+(\s+\w+=\S*)+\]  # a CMS shortcode left in the text
    )""",
    re.I | re.X,
)
_BYLINE = re.compile(r"^(by|written\s+by|reported\s+by|edited\s+by)\s+[\w.'’\- ]{2,80}$", re.I)


def _text_of(el: Any) -> str:
    return normalise_inline(" ".join(t for t in el.itertext()) if el.tag == "lb" else "".join(el.itertext()))


class Block:
    """One paragraph, list item, subheading or quote of the body: its kind, its plain
    text and (once ``with_markup`` has given it) its markup. ``key`` is the text's
    comparison key (``paragraph_key``), computed once per block."""

    __slots__ = ("_key", "html", "kind", "text")

    def __init__(self, kind: str, text: str, html: str = "") -> None:
        self.kind, self.text, self.html = kind, text, html
        self._key: str | None = None

    @property
    def key(self) -> str:
        if self._key is None:
            self._key = _key(self.text)
        return self._key


def blocks_of(body: Any) -> list[Block]:
    """trafilatura's XML body -> blocks of plain text (``with_markup`` gives them the
    page's markup). Text lying loose between elements (an element's tail, the body's
    own text) is body text too: it becomes paragraphs of its own."""
    out: list[Block] = []
    loose: list[str] = []

    def flush() -> None:
        text = normalise_inline("".join(loose))
        loose.clear()
        if text:
            out.append(Block("p", text))

    loose.append(body.text or "")
    for el in body:
        tag = el.tag if isinstance(el.tag, str) else ""
        if tag in ("hi", "ref"):  # inline markup at the top level joins the loose text
            loose.append("".join(el.itertext()))
            loose.append(el.tail or "")
            continue
        flush()
        _block(el, tag, out)
        loose.append(el.tail or "")
    flush()
    return out


def _block(el: Any, tag: str, out: list[Block]) -> None:
    """One top-level element of trafilatura's body -> blocks appended to ``out``."""
    if tag == "head":
        text = _text_of(el)
        if text:
            level = {"h1": "h2", "h2": "h2", "h3": "h3"}.get(el.get("rend", ""), "h3")
            out.append(Block(level, text))
    elif tag == "list":
        for item in el.iter("item"):
            text = _text_of(item)
            if text:
                out.append(Block("li", text))
    elif tag == "quote":
        inner = blocks_of(el) if len(el) and any(c.tag in ("p", "list") for c in el) else []
        if inner:
            for b in inner:
                out.append(Block("quote", b.text))
        else:
            text = _text_of(el)
            if text:
                out.append(Block("quote", text))
    elif tag == "table":
        for row in el.iter("row"):
            cells = [_text_of(c) for c in row.iter("cell")]
            text = " | ".join(c for c in cells if c)
            if text:
                out.append(Block("p", text))
    elif tag in ("graphic", "lb"):
        return
    else:
        text = _text_of(el)
        if text:
            out.append(Block("p", text))


_COPYRIGHT = re.compile(r"^(copyright\s*(©|\(c\)|\d{4})|©|\(c\)\s|all rights reserved)", re.I)
_WRITE_TO = re.compile(r"^(write|contact|email|e-mail)\s+(to\s+)?[\w .'’-]{2,60}\s+(at|@)\s+\S+@\S+$", re.I)
_BARE_LINK = re.compile(r"^(https?://|www\.)\S+$|^\S+@\S+\.\w+$", re.I)
_DATE_WORDS = frozenset(
    re.findall(
        r"\w+",
        "jan feb mar apr may jun jul aug sep sept oct nov dec january february march april june july "
        "august september october november december monday tuesday wednesday thursday friday saturday "
        "sunday am pm a m p m at on updated published posted last first edt est et gmt utc ist bst "
        "cet pst pdt hrs th st nd rd",
    )
)
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
    return bool(
        _PROMO.match(text)
        or (len(text) < 300 and _COPYRIGHT.match(text))
        or _WRITE_TO.match(text)
        or _BARE_LINK.match(text)
        or _is_dateline(text)
        or (len(text) < 250 and _CALL_TO_ACTION.search(text))
    )


# a short paragraph asking the reader to click or subscribe is an advertisement
_CALL_TO_ACTION = re.compile(r"\bclick\s+here\b|\bsubscribe\s+(now|today)\b", re.I)


def clean_blocks(
    blocks: list[Block],
    title: str | None,
    publisher_names: Iterable[str | None] = (),
    headlines: Iterable[str] = (),
) -> list[Block]:
    """Drop a repeated headline, page furniture, bylines and duplicate paragraphs.

    A paragraph repeated right after itself, or a long one (``LONG_REPEAT``)
    repeated anywhere, is a duplicate; short lines may legitimately recur
    (an interview's questions, a recipe's steps).
    """
    title_keys = {_key(t) for t in (title or "", *headlines)} - {""}
    seen: set[str] = set()
    out: list[Block] = []
    for i, b in enumerate(blocks):
        k = b.key
        if not k:
            continue
        if i < 3 and k in title_keys:
            continue
        if is_boilerplate_line(b.text):
            continue
        if i < 4 and len(b.text) < 90 and _BYLINE.match(b.text):
            continue
        if (out and out[-1].key == k) or (k in seen and len(b.text) >= LONG_REPEAT):
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
_INLINE_RENAME = {
    "b": "strong",
    "strong": "strong",
    "i": "em",
    "em": "em",
    "u": "u",
    "code": "code",
    "a": "a",
    "br": "br",
}
_DROP = {
    "script",
    "style",
    "noscript",
    "button",
    "svg",
    "iframe",
    "form",
    "input",
    "select",
    "textarea",
    "img",
    "picture",
    "video",
    "audio",
    "figure",
}


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


def with_markup(blocks: list[Block], tree: Any, url: str) -> list[Block]:
    """Give each block the inline markup of the page element that carries the same words.

    trafilatura decides *which* text is the body (with plain-text settings, its
    best); the page itself supplies the links, bold and italic of those
    paragraphs, so they stay inside their sentences. A block without a matching
    element keeps its escaped text.
    """
    wanted = {b.key for b in blocks}
    heads = {tuple(b.text.split(None, 2)[:2]) for b in blocks}
    found: dict[str, Any] = {}
    for el in tree.iter(*_MARKUP_SOURCES):
        raw = el.text_content()
        if tuple(raw.split(None, 2)[:2]) not in heads:  # a cheap look at the first words first
            continue
        k = _key(raw)
        if k in wanted and k not in found:
            found[k] = el
            if len(found) == len(wanted):  # the first match of each counts: the rest is unread
                break
    out: list[Block] = []
    for b in blocks:
        el = found.get(b.key)
        tag = {"li": "li", "h2": "h2", "h3": "h3"}.get(b.kind, "p")
        if el is None:
            markup = f"<{tag}>{htmllib.escape(b.text, quote=False)}</{tag}>"
        else:
            inner = normalise_inline(_source_inline_html(el, url)).strip()
            markup = (
                f"<blockquote><p>{inner}</p></blockquote>" if b.kind == "quote" else f"<{tag}>{inner}</{tag}>"
            )
        marked = Block(b.kind, b.text, markup)
        marked._key = b._key
        out.append(marked)
    return out


def render(blocks: list[Block]) -> tuple[str, str]:
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
        kept = [b for b in blocks if b.key not in known]
        if sum(len(b.text) for b in kept) * 2 < sum(len(b.text) for b in blocks):
            return blocks
        return kept


def paragraph_key(text: str) -> str:
    """A paragraph's identity for comparisons: case, punctuation and spacing aside."""
    return _key(text)
