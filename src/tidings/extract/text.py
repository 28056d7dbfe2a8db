"""Text helpers of the extract stage: decoding page bytes, normalising whitespace and
typography without changing words, sanitising markup, and feed HTML to text."""

from __future__ import annotations

import re
import unicodedata

import lxml.html
import nh3
from lxml import etree

ALLOWED_TAGS = {
    "p",
    "h2",
    "h3",
    "h4",
    "ul",
    "ol",
    "li",
    "blockquote",
    "strong",
    "em",
    "u",
    "a",
    "br",
    "code",
    "table",
    "tr",
    "td",
    "th",
    "tbody",
    "thead",
}
ALLOWED_ATTRIBUTES = {"a": {"href"}}
URL_SCHEMES = {"http", "https", "mailto"}

# a run of spaces other than one plain space (which needs no replacing: most of them)
_SPACE = re.compile(
    r"[\t\u00a0\u2000-\u200a\u202f\u205f\u3000][ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]*"
    r"| [ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+"
)
# space before , . ; ! ? that ends a word; the word end is checked in _drop_space (a lookbehind
# here is tried at every character of the text, the space at every space: twice as slow)
_SPACE_BEFORE_PUNCT = re.compile(r"\s+(?=[,.;!?](?:\s|$))")
_WORD_END = re.compile(r"[\w\"'”’)]")
_ZERO_WIDTH = re.compile(r"[\u200b\u200e\u200f\ufeff]")


# -- text normalisation ------------------------------------------------------


def normalise_inline(text: str) -> str:
    """One paragraph: NFC, one space between words, no stray space before punctuation."""
    if not text.isascii():  # ASCII is NFC already and has no zero-width characters
        text = _ZERO_WIDTH.sub("", unicodedata.normalize("NFC", text))
    text = _SPACE.sub(" ", text.replace("\r", " ").replace("\n", " ")).strip()
    return _SPACE_BEFORE_PUNCT.sub(_drop_space, text)


def _drop_space(m: re.Match[str]) -> str:
    start = m.start()
    return "" if start and _WORD_END.match(m.string, start - 1) else m.group()


def normalise_text(text: str) -> str:
    """Paragraphs separated by exactly one blank line; no leading or trailing blank lines."""
    paragraphs = [normalise_inline(p) for p in re.split(r"\n\s*\n", text)]
    return "\n\n".join(p for p in paragraphs if p)


_NON_WORD = re.compile(r"\W+")


def text_key(text: str) -> str:
    """A text's identity for comparisons: case, punctuation and spacing aside."""
    return _NON_WORD.sub(" ", text.casefold()).strip()


def sanitize_html(markup: str) -> str:
    """nh3 with the small tag set tidings renders; only http(s) and mailto links."""
    return nh3.clean(
        markup,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
    )


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


_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w.:-]+)""", re.I)


def decode_html(body: bytes, declared: str | None = None) -> str:
    """Bytes -> text: BOM, then the HTTP charset, then ``<meta charset>``, then UTF-8,
    then charset_normalizer's guess. Undecodable bytes become U+FFFD, never an error."""
    for bom, codec in ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")):
        if body.startswith(bom):
            return body[len(bom) :].decode(codec, errors="replace")
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
