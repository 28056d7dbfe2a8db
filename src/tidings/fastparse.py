"""The fast path for well-formed RSS 2.0 and Atom 1.0, and the one HTML cleaner.

feedparser reads ~1.2 MB/s of realistic news feeds on the reference machine,
most of it in its pure-Python SAX handlers and its sgmllib-based sanitiser.
This module reads the common, *well-formed* case with lxml instead and
produces exactly the ``Entry`` values ``parse.py`` makes from feedparser's
result. It declines (returns ``Declined(reason)``) for anything it does not
fully understand, and ``parse_feed`` then uses feedparser, so unusual feeds
lose nothing:

- a DOCTYPE or entity declaration, an XML syntax error (feedparser's loose
  parser recovers what it can), an encoding other than UTF-8, ``xml:base``,
  ``xml:lang`` below the root;
- any item element outside a known list (an unknown element could be one
  feedparser maps onto a field), repeated single-valued elements, markup
  inside a title, HTML-looking titles (feedparser sanitises those as HTML),
  relative links, RSS ``<author>`` e-mail forms, Atom ``xhtml`` content,
  dates outside the RFC 822 / RFC 3339 shapes parsed here.

Why by hand: faster parsers exist (``fastfeedparser``, ``feedparser-rs``; see
``../shared/bench/feed-parsers``), but each has its own sanitising, date and
URL handling, and the point here is that both paths agree on every field of
every entry. So this path is written against feedparser's observed behaviour
and checked against it: the conformance documents, the benchmark corpus and
Hypothesis-generated feeds (``tests/test_parse.py``).

``clean_html`` is the one sanitiser for every HTML field of an ``Entry``, on
both paths: nh3 (ammonia) with tags, attributes and URL schemes restricted to
those feedparser's sanitiser also accepts, relative URLs resolved against the
feed URL with feedparser's own resolver, attributes in sorted order (as
feedparser writes them). feedparser's sanitiser still runs first on its path,
so cleaning is applied twice there; cleaning is idempotent, which is what
makes the two paths agree.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import nh3
from feedparser.urls import make_safe_absolute_uri
from lxml import etree

from tidings.model import Entry, ParsedFeed

# -- the HTML cleaner ---------------------------------------------------------

_FEEDPARSER_TAGS = frozenset(
    {
        "a",
        "abbr",
        "acronym",
        "area",
        "article",
        "aside",
        "b",
        "blockquote",
        "br",
        "caption",
        "center",
        "cite",
        "code",
        "col",
        "colgroup",
        "dd",
        "del",
        "details",
        "dfn",
        "div",
        "dl",
        "dt",
        "em",
        "figcaption",
        "figure",
        "footer",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "i",
        "img",
        "ins",
        "kbd",
        "li",
        "map",
        "nav",
        "ol",
        "p",
        "pre",
        "q",
        "s",
        "samp",
        "small",
        "span",
        "strike",
        "strong",
        "sub",
        "sup",
        "table",
        "tbody",
        "td",
        "th",
        "thead",
        "time",
        "tr",
        "tt",
        "u",
        "ul",
        "var",
    }
)
_TAGS = set(_FEEDPARSER_TAGS & set(nh3.ALLOWED_TAGS))
_ATTRIBUTES = {tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items() if tag in _TAGS}
_URL_SCHEMES = {
    "ftp",
    "http",
    "https",
    "irc",
    "ircs",
    "magnet",
    "mailto",
    "mms",
    "news",
    "nntp",
    "sip",
    "ssh",
}
_URI_ATTRIBUTES = frozenset({"href", "src", "cite", "longdesc"})
_ABSOLUTE = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.\-]*:")
# a start tag that canonicalising can change: two or more attributes (sorted), or one URI
# attribute that is not absolute (resolved); every other tag is already canonical
_ATTR_UNIT = r' [a-z\-]+="[^"]*"'
_RELATIVE_URI_ATTR = r' (?:href|src|cite|longdesc)="(?![a-zA-Z][a-zA-Z0-9+.\-]*:)[^"]*"'
_RELATIVE_URI = re.compile(_RELATIVE_URI_ATTR)
_CANON_TAG = re.compile(rf"<([a-z][a-z0-9]*)((?:{_ATTR_UNIT}){{2,}}|{_RELATIVE_URI_ATTR})(/?)>")
_ATTR = re.compile(r" ([a-z\-]+)=\"([^\"]*)\"")


_CLEANER = nh3.Cleaner(
    tags=_TAGS,
    attributes=_ATTRIBUTES,
    url_schemes=_URL_SCHEMES,
    clean_content_tags={"script", "style", "applet"},
    link_rel=None,
    strip_comments=True,
)


def _attr_escape(value: str) -> str:
    return (
        value.replace("&", "&amp;")
        .replace('"', "&quot;")
        .replace("\xa0", "&nbsp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
    )


def _canonical_tag(m: re.Match[str], base: str) -> str:
    tag, attrs, slash = m.groups()
    pairs = _ATTR.findall(attrs)
    if not _RELATIVE_URI.search(attrs):  # the common case: only the order changes
        pairs.sort()
        return "".join(["<", tag, *[f' {k}="{v}"' for k, v in pairs], slash, ">"])
    out = []
    for name, value in pairs:
        if name in _URI_ATTRIBUTES and not _ABSOLUTE.match(value):
            raw = html.unescape(value).strip()
            if not raw:  # emptied by a sanitiser (javascript: and friends): drop it
                continue
            if base and not _ABSOLUTE.match(raw):
                raw = make_safe_absolute_uri(base, raw)
            if not raw:
                continue
            value = _attr_escape(raw)
        out.append((name, value))
    if len(out) > 1:
        out.sort()
    return "".join(["<", tag, *[f' {k}="{v}"' for k, v in out], slash, ">"])


def clean_html(fragment: str | None, base: str = "") -> str | None:
    """Sanitised, canonical HTML of a feed's HTML field; None when nothing is left."""
    if not fragment:
        return None
    text = fragment.strip()
    if not text:
        return None
    if "<" not in text and "&" not in text and ">" not in text:
        return text  # plain text: nothing to clean, nothing to escape
    cleaned = _CANON_TAG.sub(lambda m: _canonical_tag(m, base), _CLEANER.clean(text)).strip()
    # feedparser strips its output after removing scripts; whitespace left before the
    # closing tags at the very end is dropped the same way here
    return _strip_before_closing_tags(cleaned) or None


def _strip_before_closing_tags(text: str) -> str:
    """Drop whitespace that only closing tags follow: ``'<p>x </p>'`` -> ``'<p>x</p>'``."""
    i = len(text)
    while i and text[i - 1] == ">":
        j = text.rfind("</", 0, i)
        name = text[j + 2 : i - 1]  # a closing tag is </[a-z0-9]+> (string tests: hot path)
        if j < 0 or not (name.isascii() and name.isalnum() and (name.islower() or name.isdigit())):
            break
        i = j
    k = i
    while k and text[k - 1].isspace():
        k -= 1
    return text[:k] + text[i:] if k < i else text


# -- the fast path ---------------------------------------------------------------

ATOM = "{http://www.w3.org/2005/Atom}"
CONTENT = "{http://purl.org/rss/1.0/modules/content/}"
DC = "{http://purl.org/dc/elements/1.1/}"
MEDIA = "{http://search.yahoo.com/mrss/}"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
ATOM_AUTHOR = ATOM + "author"
ATOM_CATEGORY = ATOM + "category"
ATOM_CONTENT = ATOM + "content"
ATOM_ENTRY = ATOM + "entry"
ATOM_FEED = ATOM + "feed"
ATOM_ID = ATOM + "id"
ATOM_LINK = ATOM + "link"
ATOM_NAME = ATOM + "name"
ATOM_PUBLISHED = ATOM + "published"
ATOM_SUMMARY = ATOM + "summary"
ATOM_TITLE = ATOM + "title"
ATOM_UPDATED = ATOM + "updated"
ATOM_URI = ATOM + "uri"
CONTENT_ENCODED = CONTENT + "encoded"
DC_CREATOR = DC + "creator"
DC_LANGUAGE = DC + "language"
DC_TITLE = DC + "title"
MEDIA_CONTENT = MEDIA + "content"
MEDIA_THUMBNAIL = MEDIA + "thumbnail"


@dataclass(frozen=True, slots=True)
class Declined:
    """The fast path did not take this document; ``reason`` says why (feedparser will)."""

    reason: str


class _Decline(Exception):
    pass


_PARSER = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    huge_tree=False,
    recover=False,
    remove_comments=True,
    remove_pis=True,
    remove_blank_text=True,
    collect_ids=False,
)
# remove_blank_text drops whitespace-only text just before a tag (where libxml2 deems it
# ignorable): ~8% off the parse; every text this path reads is stripped or cleaned, and
# an element's children (which make it decline) are counted the same
_XML_DECL_ENCODING = re.compile(rb"^<\?xml[^>]*encoding\s*=\s*[\"']([A-Za-z0-9._\-]+)[\"']")
# bytes feedparser re-decodes, so the paths would differ: C1 controls (which it maps as
# windows-1252) and U+00C2..U+00F4 then U+00A0..U+00BF (UTF-8 read as Latin-1, which it
# undoes); one regex for the raw bytes, one for character references; both need b"\xc2" / b"&#"
_REDECODED_UTF8 = re.compile(rb"\xc2[\x80-\x9f]|\xc3[\x82-\xb4]\xc2[\xa0-\xbf]")
# (searched from the "#": "&" is everywhere in escaped HTML, "#" is rare; see _redecoded_ref)
_REDECODED_REFS = re.compile(
    rb"#(?:[xX]0*[89][0-9a-fA-F]|0*1(?:2[89]|[3-5][0-9])"  # C1
    rb"|[xX]0*[cCdD][0-9a-fA-F]|[xX]0*[eE][0-9a-fA-F]|[xX]0*[fF][0-4]"  # lead bytes, hex
    rb"|0*(?:19[4-9]|2[0-3][0-9]|24[0-4]));"  # lead bytes, decimal
)
_UTF8 = frozenset({"utf-8", "utf8"})
_HTMLISH = re.compile(r"</\w+>|&#?\w+;|<\w+[\s/>]")


def _redecoded_ref(body: bytes) -> bool:
    """A character reference (``&#...;``) that feedparser re-decodes."""
    return any(body[m.start() - 1 : m.start()] == b"&" for m in _REDECODED_REFS.finditer(body))


def _charset(content_type: str | None) -> tuple[str, str | None]:
    if not content_type:
        return "", None
    main, _, params = content_type.partition(";")
    charset = None
    for part in params.split(";"):
        key, _, value = part.partition("=")
        if key.strip().lower() == "charset":
            charset = value.strip().strip("\"'").lower() or None
    return main.strip().lower(), charset


def parse_fast(
    body: bytes, url: str = "", *, content_type: str | None = None, max_items: int = 500
) -> ParsedFeed | Declined:
    """Parse a well-formed RSS 2.0 / Atom 1.0 document, or decline."""
    try:
        return _parse(body, url, content_type, max_items)
    except _Decline as d:
        return Declined(str(d))


def _parse(body: bytes, url: str, content_type: str | None, max_items: int) -> ParsedFeed:
    mime, charset = _charset(content_type)
    if charset is not None and charset not in _UTF8:
        raise _Decline(f"HTTP charset {charset}")
    if charset is None and mime.startswith("text/") and not body.isascii():
        raise _Decline("text/* without charset (RFC 3023 rules)")
    if body.startswith(b"\xef\xbb\xbf"):
        body = body[3:]
    head = body[:1024]
    m = _XML_DECL_ENCODING.match(head)
    if m and m.group(1).decode().lower() not in _UTF8:
        raise _Decline(f"declared encoding {m.group(1).decode()}")
    if (b"\xc2" in body and _REDECODED_UTF8.search(body)) or (b"&#" in body and _redecoded_ref(body)):
        raise _Decline("C1 controls or text that may be double-encoded UTF-8 (feedparser re-decodes)")
    if b"<!DOCTYPE" in head or body.find(b"<!ENTITY", 0, 8192) >= 0:
        raise _Decline("DOCTYPE or entity declaration")
    xml_langs = 0  # one pass over the body finds xml:base and counts xml:lang
    at = body.find(b"xml:")
    while at >= 0:
        name = body[at + 4 : at + 8]
        if name == b"base":
            raise _Decline("xml:base")
        xml_langs += name == b"lang"
        at = body.find(b"xml:", at + 4)
    if not head.lstrip().startswith(b"<"):
        raise _Decline("does not start with markup")
    try:
        root = etree.fromstring(body, _PARSER)
    except (etree.XMLSyntaxError, ValueError) as e:
        raise _Decline(f"not well-formed: {e}") from e
    if root.tag == "rss" and root.get("version") == "2.0":
        return _rss(root, xml_langs, url, max_items)
    if root.tag == ATOM_FEED:
        return _atom(root, xml_langs, url, max_items)
    raise _Decline(f"root element {root.tag!r}")


def _check_lang(root: Any, xml_langs: int) -> str | None:
    """The root's xml:lang; declines when the document has another (``xml_langs``: how many
    times ``xml:lang`` occurs in its bytes)."""
    if xml_langs > (1 if root.get(XML_LANG) is not None else 0):
        raise _Decline("xml:lang below the root")
    lang = root.get(XML_LANG)
    return lang.strip().replace("_", "-") if lang and lang.strip() else None


def _text(el: Any, plain: bool = False) -> str | None:
    """Text of a leaf element, stripped; declines on child elements."""
    if len(el):
        raise _Decline(f"markup inside <{el.tag}>")
    text = el.text
    if not text:
        return None
    text = text.strip()
    if plain and ("<" in text or "&" in text) and _HTMLISH.search(text):
        raise _Decline(f"HTML-looking text in <{el.tag}>")
    return text or None


def _one(seen: set[str], tag: str) -> None:
    if tag in seen:
        raise _Decline(f"repeated <{tag}>")
    seen.add(tag)


_ODD_LINK = re.compile(r"[\s<>\"{}|\\^`]")


def _absolute(link: str | None) -> str | None:
    if link is None:
        return None
    if not link.startswith(("http://", "https://")) or _ODD_LINK.search(link):
        raise _Decline(f"link that feedparser would rewrite: {link[:80]!r}")
    return link


# RFC 822 with a numeric or UTC zone only (feedparser reads more; those decline)
_RFC822 = re.compile(
    r"^(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), )?(\d{1,2}) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    r"(\d{4}) (\d{2}):(\d{2})(?::(\d{2}))? (GMT|UTC|UT|Z|[+-]\d{4})$"
)
_MONTHS = {
    m: i
    for i, m in enumerate(
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], 1
    )
}
_RFC3339 = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(Z|[+-]\d{2}:\d{2})$")


_ZONES: dict[str, timezone] = {"GMT": UTC, "UTC": UTC, "UT": UTC, "Z": UTC}


def _zone(text: str) -> timezone:
    zone = _ZONES.get(text)
    if zone is None:
        sign = -1 if text[0] == "-" else 1
        digits = text[1:].replace(":", "")
        zone = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
        if len(_ZONES) < 512:  # a bounded memo of immutable values
            _ZONES[text] = zone
    return zone


def _rfc822(text: str | None) -> datetime | None:
    if text is None:
        return None
    m = _RFC822.match(text)
    if not m:
        raise _Decline(f"date {text[:40]!r}")
    day, mon, year, hh, mm, ss, zone = m.groups()
    try:
        dt = datetime(int(year), _MONTHS[mon], int(day), int(hh), int(mm), int(ss or 0), tzinfo=_zone(zone))
    except ValueError as e:
        raise _Decline(f"date {text[:40]!r}") from e
    return _utc(dt)


def _rfc3339(text: str | None) -> datetime | None:
    if text is None:
        return None
    m = _RFC3339.match(text)
    if not m:
        raise _Decline(f"date {text[:40]!r}")
    try:
        if "." not in text and text.isascii():  # the common shape: the C parser reads it
            dt = datetime.fromisoformat(text)
        else:  # fractions are dropped (as feedparser does); \d also matched other digits
            y, mo, d, hh, mm, ss, zone = m.groups()
            dt = datetime(int(y), int(mo), int(d), int(hh), int(mm), int(ss), tzinfo=_zone(zone))
    except ValueError as e:
        raise _Decline(f"date {text[:40]!r}") from e
    return _utc(dt)


def _utc(dt: datetime) -> datetime:
    try:
        out = dt.astimezone(UTC)
    except OverflowError as e:  # year 1 east of UTC, 9999 west of it
        raise _Decline("date out of range") from e
    if not 1900 <= out.year <= 9998:
        raise _Decline("date out of range")
    return out


def _add_image(images: list[tuple[int, str]] | None, priority: int, href: str) -> list[tuple[int, str]]:
    """(priority, url) pairs: 0 thumbnail, 1 image media:content, 2 image enclosure."""
    if images is None:
        return [(priority, href)]
    if priority == 2 or any(p == 2 for p, _ in images):
        raise _Decline("image enclosure beside media elements")
    images.append((priority, href))
    return images


def _image_from_media(
    el: Any, tag: str, images: list[tuple[int, str]] | None
) -> list[tuple[int, str]] | None:
    href = el.get("url")
    if not href:
        return images
    if tag == MEDIA_THUMBNAIL:
        return _add_image(images, 0, href)
    if el.get("medium") == "image" or (el.get("type") or "").startswith("image/"):
        return _add_image(images, 1, href)
    return images


def _pick_image(images: list[tuple[int, str]] | None) -> str | None:
    if not images:
        return None
    if len(images) == 1:
        return images[0][1]
    best = min(p for p, _ in images)
    return next(u for p, u in images if p == best)


_RSS_SINGLE = frozenset({"title", "link", "guid", "pubDate", "description", CONTENT_ENCODED, DC_CREATOR})
_RSS_IGNORED = frozenset(
    {
        "comments",
        "{http://purl.org/rss/1.0/modules/slash/}comments",
        "{http://wellformedweb.org/CommentAPI/}commentRss",
    }
)


def _rss(root: Any, xml_langs: int, url: str, max_items: int) -> ParsedFeed:
    language = _check_lang(root, xml_langs)
    channels = root.findall("channel")
    if len(channels) != 1:
        raise _Decline("not exactly one <channel>")
    channel = channels[0]
    title = link = lang_el = None
    seen: set[str] = set()
    items = []
    for el in channel:
        tag = el.tag
        if tag == "item":
            items.append(el)
        elif tag in ("title", "link", "language"):
            _one(seen, tag)
            if tag == "title":
                title = _text(el, True)
            elif tag == "link":
                link = _absolute(_text(el))
            else:
                lang_el = _text(el)
        elif tag == ATOM_LINK and el.get("rel", "alternate") == "alternate":
            raise _Decline("atom:link alternate in channel")
        elif tag in (DC_LANGUAGE, ATOM_TITLE, DC_TITLE):
            raise _Decline(f"channel <{tag}>")
    if lang_el:
        language = lang_el
    entries = []
    for item in items[:max_items]:
        entries.append(_rss_item(item, url, language))
    return ParsedFeed(
        format="rss", title=title, link=link, language=language, entries=tuple(entries), parser="fast"
    )


def _rss_item(item: Any, url: str, language: str | None) -> Entry:
    # one pass sorts the children; the fields are read after it (this loop runs ~10 times
    # per item, so it does no more than a set lookup and a dict store per child)
    single: dict[str, Any] = {}
    categories: list[str] = []
    tag_keys: set[tuple[str | None, ...]] | None = None
    images: list[tuple[int, str]] | None = None
    for el in item:
        tag = el.tag
        if tag in _RSS_SINGLE:
            if tag in single:
                raise _Decline(f"repeated <{tag}>")
            single[tag] = el
        elif tag == "category":
            term = _text(el)
            if term:  # feedparser keeps each (term, scheme) once
                key = (term, el.get("domain"))
                if tag_keys is None:
                    tag_keys = {key}
                    categories.append(term)
                elif key not in tag_keys:
                    tag_keys.add(key)
                    categories.append(term)
        elif tag in _RSS_IGNORED:
            continue
        elif tag == "enclosure":
            if (el.get("type") or "").startswith("image/") and el.get("url"):
                images = _add_image(images, 2, el.get("url"))
        elif tag in (MEDIA_CONTENT, MEDIA_THUMBNAIL):
            images = _image_from_media(el, tag, images)
        else:
            raise _Decline(f"item element <{tag}>")
    get = single.get
    el = get("title")
    title = None if el is None else _text(el, True)
    el = get("link")
    link = None if el is None else _absolute(_text(el))
    el = get("guid")
    guid = None
    guid_is_link = True
    if el is not None:
        guid = _text(el)
        guid_is_link = (el.get("isPermaLink") or "true").strip().lower() != "false"
    el = get("pubDate")
    published = None if el is None else _rfc822(_text(el))
    el = get("description")
    summary = None if el is None else (_markup(el) or "")
    el = get(CONTENT_ENCODED)
    content = None if el is None else _markup(el)
    el = get(DC_CREATOR)
    author = None if el is None else _text(el, True)
    if summary is None:  # feedparser fills summary from the content
        summary = content
    if link is None and guid is not None and guid_is_link:
        link = _absolute(guid)
    return Entry(
        link=link,
        title=title,
        guid=guid,
        summary=clean_html(summary, url),
        content=clean_html(content, url),
        author=author,
        published_at=published,
        updated_at=published,
        categories=tuple(categories),
        image=_pick_image(images),
        language=language,
    )


_ATOM_SINGLE = frozenset(
    ATOM + t for t in ("title", "id", "published", "updated", "author", "summary", "content")
)


_ATOM_FEED_TAGS = frozenset(
    ATOM + t
    for t in (
        "updated",
        "author",
        "subtitle",
        "rights",
        "generator",
        "icon",
        "logo",
        "category",
        "contributor",
    )
)


def _atom_text(el: Any, *, html_ok: bool) -> str | None:
    kind = (el.get("type") or "text").strip().lower()
    if kind in ("text", "text/plain"):
        return _text(el, not html_ok)
    if html_ok and kind in ("html", "text/html"):
        return _markup(el)
    raise _Decline(f"atom text construct of type {kind!r}")


_ODD_MARKUP = re.compile(r"<!|</br|<script[^>]*<", re.I)


def _markup(el: Any) -> str | None:
    """Escaped HTML of an element (RSS description, content:encoded, Atom html)."""
    if len(el):
        raise _Decline(f"unescaped markup inside <{el.tag}>")
    text = el.text
    if text and "<" in text and _ODD_MARKUP.search(text):
        raise _Decline("comments, CDATA or odd tags inside HTML (sanitisers disagree)")
    return text


def _atom_link(el: Any) -> tuple[str, str | None, str]:
    rel = (el.get("rel") or "alternate").strip()
    href = el.get("href")
    return rel, href.strip() if href else None, (el.get("type") or "").strip()


def _atom(root: Any, xml_langs: int, url: str, max_items: int) -> ParsedFeed:
    language = _check_lang(root, xml_langs)
    title = link = feed_id = None
    seen: set[str] = set()
    entries = []
    for el in root:
        tag = el.tag
        if tag == ATOM_ENTRY:
            if len(entries) < max_items:
                entries.append(_atom_entry(el, url, language))
        elif tag == ATOM_TITLE:
            _one(seen, tag)
            title = _atom_text(el, html_ok=False)
        elif tag == ATOM_LINK:
            rel, href, _ = _atom_link(el)
            if rel == "alternate":
                _one(seen, "link")
                link = _absolute(href)
        elif tag == ATOM_ID:
            _one(seen, tag)
            feed_id = _text(el)
        elif tag not in _ATOM_FEED_TAGS:
            raise _Decline(f"feed element <{tag}>")
    if link is None and feed_id is not None:
        link = _absolute(feed_id)
    return ParsedFeed(
        format="atom", title=title, link=link, language=language, entries=tuple(entries), parser="fast"
    )


def _atom_entry(entry: Any, url: str, language: str | None) -> Entry:
    single: dict[str, Any] = {}  # as in _rss_item: sort the children, then read the fields
    link = None
    categories: list[str] = []
    tag_keys: set[tuple[str | None, ...]] | None = None
    images: list[tuple[int, str]] | None = None
    for el in entry:
        tag = el.tag
        if tag == ATOM_LINK:
            rel, href, kind = _atom_link(el)
            if rel == "alternate":
                if "link" in single:
                    raise _Decline("repeated <link>")
                single["link"] = el
                link = _absolute(href)
            elif rel == "enclosure" and kind.startswith("image/") and href:
                images = _add_image(images, 2, href)
        elif tag in _ATOM_SINGLE:
            if tag in single:
                raise _Decline(f"repeated <{tag}>")
            single[tag] = el
        elif tag == ATOM_CATEGORY:
            if len(el):
                raise _Decline("markup inside <category>")
            term = (el.get("term") or "").strip()
            if term:
                key = (term, el.get("scheme"), el.get("label"))
                if tag_keys is None:
                    tag_keys = {key}
                    categories.append(term)
                elif key not in tag_keys:
                    tag_keys.add(key)
                    categories.append(term)
        elif tag in (MEDIA_CONTENT, MEDIA_THUMBNAIL):
            images = _image_from_media(el, tag, images)
        else:
            raise _Decline(f"entry element <{tag}>")
    get = single.get
    el = get(ATOM_AUTHOR)
    author = None
    if el is not None:
        children = {c.tag for c in el}
        if children - {ATOM_NAME, ATOM_URI} or ATOM_NAME not in children:
            raise _Decline("author other than a name")
        author = _text(el.find(ATOM_NAME), True)
    el = get(ATOM_TITLE)
    title = None if el is None else _atom_text(el, html_ok=False)
    el = get(ATOM_ID)
    guid = None if el is None else _text(el)
    el = get(ATOM_PUBLISHED)
    published_text = None if el is None else _text(el)
    published = _rfc3339(published_text)
    el = get(ATOM_UPDATED)
    updated_text = None if el is None else _text(el)
    # most entries repeat the published time as the updated time: read it once
    updated = published if updated_text == published_text else _rfc3339(updated_text)
    el = get(ATOM_SUMMARY)
    summary = None if el is None else (_atom_text(el, html_ok=True) or "")
    el = get(ATOM_CONTENT)
    content = None
    if el is not None:
        if el.get("src") is not None:
            raise _Decline("out-of-line content")
        content = _atom_text(el, html_ok=True)
    if summary is None:  # feedparser fills summary from the content
        summary = content
    if link is None and guid is not None:  # feedparser: an id is the link when there is none
        link = _absolute(guid)
    return Entry(
        link=link,
        title=title,
        guid=guid,
        summary=clean_html(summary, url),
        content=clean_html(content, url),
        author=author,
        published_at=published,
        updated_at=updated if updated is not None else published,
        categories=tuple(categories),
        image=_pick_image(images),
        language=language,
    )
