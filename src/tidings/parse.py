"""Feed documents -> ``ParsedFeed``: RSS, Atom, JSON Feed and news sitemaps.

The format is detected from the bytes (never trusted from Content-Type), and
each format has one small adapter that turns it into the one model straight
away. RSS and Atom go through feedparser, which alone among the Python feed
parsers passes its conformance suite, sanitises HTML, survives entity bombs
and recovers mis-declared encodings. JSON Feed and news sitemaps have small
adapters here because feedparser reads neither.

Speed: well-formed RSS 2.0 and Atom 1.0 first try the lxml fast path in
``fastparse.py``, which yields exactly the entries the feedparser path would
(``benchmarks/parsing.py`` and ``tests/test_parse.py`` check that) and
declines anything unusual, which then goes to feedparser. Every HTML field of
an entry, on both paths, is passed through ``fastparse.clean_html``.

``parse(source)`` is a feedparser-compatible view of the feedparser call made
here, so the feedparser conformance suite can be run through this module
(``run_suite.py --parser tidings.parse``; see ``tests/test_conformance.py``).

An empty body, HTML, or anything that is not a feed raises ``ParseError``;
a valid feed with no items is a valid result with no entries.
"""

from __future__ import annotations

import calendar
import json
import re
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import feedparser
from feedparser import CharacterEncodingOverride  # noqa: F401  (conformance cases look it up here)
from lxml import etree

from tidings.errors import NotAFeed, ParseError
from tidings.fastparse import clean_html, parse_fast
from tidings.model import Entry, ParsedFeed

_HTML_START = re.compile(rb"^\s*(<!--.*?-->\s*)*(<!doctype\s+html|<html|<head|<body)", re.I | re.S)
_FEED_ROOT = re.compile(rb"<(rss|feed|rdf:RDF|RDF|channel)[\s>]", re.I)
_SITEMAP_ROOT = re.compile(rb"<(\w+:)?urlset[\s>]", re.I)


def parse_feed(
    body: bytes, url: str = "", *, content_type: str | None = None, max_items: int = 500
) -> ParsedFeed:
    """Detect the format of ``body`` and parse it. Raises ``ParseError``."""
    stripped = body.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not stripped:
        raise ParseError("empty document")
    if stripped[:1] in (b"{", b"["):
        return _parse_json_feed(stripped, url, max_items)
    head = stripped[:4096]
    if _SITEMAP_ROOT.search(head) and not _FEED_ROOT.search(head):
        return _parse_sitemap(stripped, url, max_items)
    if _HTML_START.match(head) and not _FEED_ROOT.search(head):
        raise NotAFeed("an HTML page, not a feed")
    fast = parse_fast(body, url, content_type=content_type, max_items=max_items)
    if isinstance(fast, ParsedFeed):
        return fast
    return _parse_with_feedparser(body, url, content_type, max_items)


def parse(source: bytes | str, *, response_headers: dict[str, str] | None = None) -> Any:
    """feedparser's own result for ``source``, made by the same call the feedparser path makes.

    For conformance runners that expect feedparser's shape. A ``str`` is a
    file path or an http(s) URL; URLs are fetched through tidings' ``Fetcher``
    (with private addresses allowed, as the runner serves on 127.0.0.1) and
    the response headers handed to feedparser as it would have seen them.
    """
    url = ""
    headers = dict(response_headers or {})
    if isinstance(source, str):
        if source.startswith(("http://", "https://")):
            body, url, headers = _fetch_for_conformance(source)
        else:
            with open(source, "rb") as fh:
                body = fh.read()
    else:
        body = source
    result = _feedparser(body, url, headers)
    if url:
        result["href"] = url
        result["headers"] = headers
        if "etag" in headers:
            result["etag"] = headers["etag"]
        if "last-modified" in headers:
            result["modified"] = headers["last-modified"]
    return result


def _fetch_for_conformance(url: str) -> tuple[bytes, str, dict[str, str]]:
    import asyncio

    from tidings.config import Settings
    from tidings.errors import HTTPStatusError
    from tidings.fetch import Fetcher

    async def go() -> tuple[bytes, str, dict[str, str]]:
        async with Fetcher(Settings(allow_private_addresses=True, request_spacing=0.0)) as f:
            try:
                r = await f.get(url)
            except HTTPStatusError:
                return b"", url, {}
            return r.body, r.url, dict(r.headers)

    return asyncio.run(go())


def _feedparser(body: bytes, url: str, headers: dict[str, str]) -> Any:
    headers = {k.lower(): v for k, v in headers.items()}
    if url:
        headers["content-location"] = urljoin(url, headers.get("content-location", url))
        # no Content-Type known: read it as generic XML (its own declaration decides the
        # encoding) rather than let feedparser apply HTTP's text/* defaults
        headers.setdefault("content-type", "application/xml")
    return feedparser.parse(body, response_headers=headers, sanitize_html=True, resolve_relative_uris=True)


# -- RSS and Atom ------------------------------------------------------------


def _struct_to_dt(value: time.struct_time | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
    except (OverflowError, ValueError, OSError):
        return None


def _entry_image(e: Any) -> str | None:
    for key in ("media_thumbnail", "media_content"):
        for item in e.get(key) or ():
            href = item.get("url")
            if href and (
                key == "media_thumbnail"
                or item.get("medium") == "image"
                or str(item.get("type", "")).startswith("image/")
            ):
                return str(href)
    for link in e.get("links") or ():
        if link.get("rel") == "enclosure" and str(link.get("type", "")).startswith("image/"):
            return str(link.get("href"))
    image = e.get("image")
    if isinstance(image, dict) and image.get("href"):
        return str(image["href"])
    return None


def _parse_with_feedparser(body: bytes, url: str, content_type: str | None, max_items: int) -> ParsedFeed:
    headers = {"content-type": content_type} if content_type else {}
    try:
        d = _feedparser(body, url, headers)
    except Exception as e:  # feedparser should not raise, but a parser bug must not crash us
        raise ParseError(f"feed parser failed: {type(e).__name__}: {e}") from e
    version = d.get("version") or ""
    if not version and not d.entries:
        exc = d.get("bozo_exception")
        raise ParseError(f"not a feed: {exc}" if exc else "not a feed: no RSS, Atom or RDF root")
    if (
        d.get("bozo")
        and not d.entries
        and not isinstance(d.get("bozo_exception"), feedparser.ThingsNobodyCaresAboutButMe)
    ):  # header nits only
        raise ParseError(f"malformed feed with no readable entries: {d.get('bozo_exception')}")
    fmt = "atom" if version.startswith("atom") else "rss"
    feed = d.feed
    entries = []
    for e in d.entries[:max_items]:
        content = None
        for c in e.get("content") or ():
            if c.get("value"):
                content = c["value"]
                break
        entries.append(
            Entry(
                link=e.get("link") or None,
                title=e.get("title") or None,
                guid=e.get("id") or None,
                summary=clean_html(e.get("summary"), url),
                content=clean_html(content, url),
                author=e.get("author") or None,
                published_at=_struct_to_dt(e.get("published_parsed") or e.get("created_parsed")),
                updated_at=_struct_to_dt(e.get("updated_parsed")),
                categories=tuple(t.get("term") for t in e.get("tags") or () if t.get("term")),
                image=_entry_image(e),
                language=(e.get("language") or feed.get("language") or None),
            )
        )
    return ParsedFeed(
        format=fmt,
        title=feed.get("title") or None,
        link=feed.get("link") or None,
        language=feed.get("language") or None,
        entries=tuple(entries),
        parser="feedparser",
    )


# -- JSON Feed ---------------------------------------------------------------


def _iso_to_dt(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().replace("Z", "+00:00")
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def _parse_json_feed(body: bytes, url: str, max_items: int) -> ParsedFeed:
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError) as e:
        raise ParseError(f"invalid JSON: {e}") from e
    if not isinstance(doc, dict) or not str(doc.get("version", "")).startswith(
        "https://jsonfeed.org/version/"
    ):
        raise NotAFeed("JSON document that is not a JSON Feed (no jsonfeed.org version)")
    items = doc.get("items")
    if not isinstance(items, list):
        raise ParseError("JSON Feed without an items list")
    entries = []
    for item in items[:max_items]:
        if not isinstance(item, dict):
            continue
        authors = item.get("authors") or ([item["author"]] if item.get("author") else [])
        author = (
            ", ".join(str(a.get("name")) for a in authors if isinstance(a, dict) and a.get("name")) or None
        )
        tags = item.get("tags") if isinstance(item.get("tags"), list) else []
        entries.append(
            Entry(
                link=_str(item.get("url")) or _str(item.get("external_url")),
                title=_str(item.get("title")),
                guid=_str(item.get("id")),
                summary=_str(item.get("summary")),
                content=_str(item.get("content_html")) or _str(item.get("content_text")),
                author=author,
                published_at=_iso_to_dt(item.get("date_published")),
                updated_at=_iso_to_dt(item.get("date_modified")),
                categories=tuple(str(t) for t in tags if isinstance(t, str | int)),
                image=_str(item.get("image")) or _str(item.get("banner_image")),
                language=_str(item.get("language")) or _str(doc.get("language")),
            )
        )
    return ParsedFeed(
        format="json",
        title=_str(doc.get("title")),
        link=_str(doc.get("home_page_url")),
        language=_str(doc.get("language")),
        entries=tuple(entries),
        parser="jsonfeed",
    )


def _str(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


# -- News sitemaps -----------------------------------------------------------

_SITEMAP_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False, recover=False
)


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _parse_sitemap(body: bytes, url: str, max_items: int) -> ParsedFeed:
    if b"<!ENTITY" in body[:8192]:
        raise ParseError("sitemap declares XML entities; refused")
    try:
        root = etree.fromstring(body, _SITEMAP_PARSER)
    except etree.XMLSyntaxError as e:
        raise ParseError(f"malformed sitemap: {e}") from e
    if _local(root.tag) != "urlset":
        raise NotAFeed("XML document that is neither a feed nor a sitemap")
    entries = []
    for node in root:
        if _local(node.tag) != "url":
            continue
        fields: dict[str, str] = {}
        for child in node.iter():
            name = _local(child.tag)
            if child.text and child.text.strip() and name not in fields:
                fields[name] = child.text.strip()
        loc = fields.get("loc")
        if not loc:
            continue
        keywords = tuple(k.strip() for k in fields.get("keywords", "").split(",") if k.strip())
        entries.append(
            Entry(
                link=loc,
                title=fields.get("title"),
                guid=loc,
                published_at=_iso_to_dt(fields.get("publication_date")),
                updated_at=_iso_to_dt(fields.get("lastmod")),
                categories=keywords,
                image=fields.get("image_loc") or fields.get("loc_image"),
                language=fields.get("language"),
            )
        )
        if len(entries) >= max_items:
            break
    return ParsedFeed(
        format="sitemap", title=None, link=None, language=None, entries=tuple(entries), parser="sitemap"
    )
