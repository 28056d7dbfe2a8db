"""The nouns of tidings, as plain frozen dataclasses passed between stages.

No I/O happens here. Stages take these and return these; only the pipeline
runner and the store read and write.

- ``Source``: a publisher (name, home page, country, language).
- ``Feed``: one feed of a source, with its HTTP validators, schedule and health.
- ``Entry``: one item as a feed announced it.
- ``ParsedFeed``: what the parse stage makes of one feed document.
- ``Extracted``: what the extract stage makes of one article page.
- ``Article``: one page of one publisher, the unit that is stored once.
- ``Story`` / ``Storyline`` / ``DuplicateGroup`` / ``Entity``: filled in by the
  dedup, cluster and enrich stages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Source:
    """A publisher."""

    id: int | None
    name: str
    home_url: str | None = None
    country: str | None = None  # ISO 3166-1 alpha-2, upper case
    language: str | None = None  # ISO 639-1, lower case


@dataclass(frozen=True, slots=True)
class Feed:
    """One feed of a source, with validators and health."""

    id: int | None
    source_id: int | None
    url: str
    title: str | None = None
    format: str | None = None  # rss, atom, json, sitemap
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    status: str = "active"  # active, parked, retired
    last_polled_at: datetime | None = None
    last_success_at: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    error_count: int = 0
    next_poll_at: datetime | None = None
    poll_interval_s: int = 900
    source_name: str | None = None  # joined for convenience when listing


@dataclass(frozen=True, slots=True)
class Entry:
    """One item as a feed announced it. Times are timezone-aware UTC."""

    link: str | None
    title: str | None = None
    guid: str | None = None
    summary: str | None = None  # sanitised HTML or text, as the feed gave it
    content: str | None = None  # sanitised full content HTML when the feed carries it
    author: str | None = None
    published_at: datetime | None = None
    updated_at: datetime | None = None
    categories: tuple[str, ...] = ()
    image: str | None = None
    language: str | None = None


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """A feed document turned into the one model, whatever its format."""

    format: str
    title: str | None
    link: str | None
    language: str | None
    entries: tuple[Entry, ...]
    parser: str = "feedparser"  # which code path produced it


@dataclass(frozen=True, slots=True)
class Extracted:
    """What the extract stage found on one page.

    ``text`` is plain text, paragraphs separated by one blank line, headline
    not repeated. ``html`` is sanitised markup of the same body. ``ok`` is false
    when no usable body was found, with ``reason`` saying why.
    """

    title: str | None
    text: str
    html: str
    author: str | None = None
    published_at: datetime | None = None
    updated_at: datetime | None = None
    language: str | None = None
    image: str | None = None
    site_name: str | None = None
    canonical_url: str | None = None
    description: str | None = None
    ok: bool = True
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Article:
    """One page of one publisher, as stored."""

    id: int | None
    url: str
    canonical_url: str
    title: str
    text: str
    html: str
    publisher: str
    source_id: int | None
    feed_id: int | None
    feed_url: str | None = None
    author: str | None = None
    published_at: datetime | None = None
    updated_at: datetime | None = None
    fetched_at: datetime | None = None
    language: str | None = None
    image: str | None = None
    summary: str | None = None
    extraction: str = "page"  # page, feed (fallback), none
    extraction_reason: str | None = None
    content_hash: str | None = None
    story_id: int | None = None
    duplicate_of: int | None = None
    categories: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DuplicateGroup:
    """Articles carrying the same text (wire copies)."""

    id: int | None
    member_ids: tuple[int, ...]
    earliest_article_id: int | None
    agency: str | None = None


@dataclass(frozen=True, slots=True)
class Story:
    """Articles about one event, across publishers."""

    id: int | None
    title: str
    summary: str | None
    article_ids: tuple[int, ...] = ()
    publishers: tuple[str, ...] = ()
    first_article_id: int | None = None
    first_seen_at: datetime | None = None
    last_updated_at: datetime | None = None
    hotness: float = 0.0
    storyline_id: int | None = None
    category: str | None = None


@dataclass(frozen=True, slots=True)
class Entity:
    """A person, organisation, place or country, with aliases merged."""

    id: int | None
    kind: str  # person, org, place, country
    name: str
    aliases: tuple[str, ...] = field(default_factory=tuple)
    code: str | None = None  # ISO code for countries


ATTRIBUTION = (
    "This story is auto aggregated by a computer programme and has not been created "
    "or edited by {site}. Publisher: {publisher}"
)


def attribution(site_name: str, publisher: str) -> str:
    """The line shown with every aggregated article."""
    return ATTRIBUTION.format(site=site_name, publisher=publisher)
