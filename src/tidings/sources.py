"""Finding and listing feeds: auto-discovery, OPML import/export, the bundled default list.

Discovery takes a feed URL or a site's home page. A body that parses as a
feed is the feed; an HTML page is searched for ``<link rel="alternate">``
feed links, then common feed paths are tried. OPML is read with a parser
that never expands entities or touches the network.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from urllib.parse import urljoin, urlsplit

import lxml.html
from lxml import etree

from tidings.errors import DiscoveryError, FetchError, InvalidURL, ParseError
from tidings.fetch import Fetcher, check_url
from tidings.model import ParsedFeed
from tidings.parse import parse_feed

FEED_TYPES = {
    "application/rss+xml",
    "application/atom+xml",
    "application/feed+json",
    "application/json",
    "application/rdf+xml",
    "application/xml",
    "text/xml",
}
COMMON_PATHS = (
    "/feed",
    "/rss",
    "/rss.xml",
    "/feed.xml",
    "/atom.xml",
    "/index.xml",
    "/feeds/posts/default",
    "/feed/",
    "/rss/",
    "/news-sitemap.xml",
)
FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """A publisher and feed as given by a user, an OPML file or the default list."""

    feed_url: str
    name: str | None = None
    home_url: str | None = None
    country: str | None = None
    language: str | None = None
    title: str | None = None


@dataclass(frozen=True, slots=True)
class Discovered:
    feed_url: str
    parsed: ParsedFeed


def feed_links(html: bytes, base_url: str) -> list[str]:
    """``<link rel="alternate">`` feed URLs of an HTML page, in page order."""
    try:
        tree = lxml.html.document_fromstring(html)
    except (etree.ParserError, ValueError):
        return []
    out: list[str] = []
    for link in tree.xpath("//link[@href]"):
        rel = (link.get("rel") or "").lower().split()
        ctype = (link.get("type") or "").lower().split(";")[0].strip()
        if "alternate" in rel and ctype in FEED_TYPES:
            url = urljoin(base_url, link.get("href").strip())
            if url not in out:
                out.append(url)
    return out


async def discover(fetcher: Fetcher, url: str, *, allow_private: bool = False) -> Discovered:
    """Find the feed for ``url`` (a feed or a home page). Raises ``DiscoveryError``."""
    check_url(url, allow_private=allow_private)
    try:
        page = await fetcher.get(url, accept=FEED_ACCEPT + ", text/html;q=0.8")
    except (FetchError, InvalidURL) as e:
        raise DiscoveryError(f"cannot fetch {url}: {e}") from e
    try:
        return Discovered(page.url, parse_feed(page.body, page.url, content_type=page.content_type))
    except ParseError:
        pass
    candidates = feed_links(page.body, page.url)
    root = "{0.scheme}://{0.netloc}".format(urlsplit(page.url))
    candidates += [root + p for p in COMMON_PATHS if root + p not in candidates]
    tried: list[str] = []
    for candidate in candidates:
        try:
            resp = await fetcher.get(candidate, accept=FEED_ACCEPT)
            parsed = parse_feed(resp.body, resp.url, content_type=resp.content_type)
        except (FetchError, ParseError, InvalidURL) as e:
            tried.append(f"{candidate}: {e}")
            continue
        return Discovered(resp.url, parsed)
    raise DiscoveryError(f"no feed found at {url} (tried {len(tried)} candidates)")


# -- OPML --------------------------------------------------------------------

_SAFE_XML = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def read_opml(data: bytes) -> list[SourceSpec]:
    """Feeds listed in an OPML document. Raises ``ParseError`` on a malformed file."""
    if b"<!ENTITY" in data[:8192]:
        raise ParseError("OPML file declares XML entities; refused")
    try:
        root = etree.fromstring(data, _SAFE_XML)
    except etree.XMLSyntaxError as e:
        raise ParseError(f"malformed OPML: {e}") from e
    if root.tag != "opml":
        raise ParseError(f"not an OPML document (root element <{root.tag}>)")
    specs: list[SourceSpec] = []
    for outline in root.iter("outline"):
        url = (outline.get("xmlUrl") or "").strip()
        if not url:
            continue
        name = outline.get("text") or outline.get("title") or None
        parent = outline.getparent()
        group = (
            parent if parent is not None and parent.tag == "outline" and not parent.get("xmlUrl") else None
        )

        def attr(key: str, node: etree._Element = outline, grp: etree._Element | None = group) -> str:
            value = node.get(key) or (grp.get(key) if grp is not None else None) or ""
            return value.strip()

        if group is not None:
            name = group.get("text") or group.get("title") or name
        specs.append(
            SourceSpec(
                feed_url=url,
                name=name,
                home_url=attr("htmlUrl") or None,
                country=attr("country").upper() or None,
                language=attr("language").lower() or None,
                title=outline.get("title") or outline.get("text") or None,
            )
        )
    return specs


def write_opml(groups: list[tuple[SourceSpec, list[str]]], title: str = "tidings sources") -> bytes:
    """OPML 2.0 with one outline per publisher and one child outline per feed."""
    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = title
    body = etree.SubElement(root, "body")
    for spec, urls in groups:
        attrs = {"text": spec.name or spec.feed_url}
        if spec.home_url:
            attrs["htmlUrl"] = spec.home_url
        if spec.country:
            attrs["country"] = spec.country
        if spec.language:
            attrs["language"] = spec.language
        group = etree.SubElement(body, "outline", attrs)
        for url in urls:
            etree.SubElement(group, "outline", {"type": "rss", "text": spec.name or url, "xmlUrl": url})
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def default_sources() -> list[SourceSpec]:
    """The bundled list of real publishers' public feeds (Indian publishers first)."""
    data = resources.files("tidings").joinpath("data/default_sources.opml").read_bytes()
    return read_opml(data)
