"""Table definitions (SQLAlchemy Core), the one description of the schema.

Alembic revisions in ``migrations/versions`` create and change these tables;
``schema.metadata`` is what ``alembic revision --autogenerate`` compares
against. The schema is designed for every stage from the start: stories,
storylines, duplicate groups, entities and mentions live here even where a
stage fills them later. Works on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC, returns aware UTC: the same on SQLite and PostgreSQL."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use timezone-aware UTC")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


sources = Table(
    "sources",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("home_url", Text),
    Column("country", String(2)),
    Column("language", String(8)),
    Column("created_at", UTCDateTime, nullable=False),
)

feeds = Table(
    "feeds",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("source_id", Integer, ForeignKey("sources.id", ondelete="CASCADE"), nullable=False),
    Column("url", Text, nullable=False, unique=True),
    Column("title", Text),
    Column("format", String(16)),
    Column("etag", Text),
    Column("last_modified", Text),
    Column("body_hash", String(64)),
    Column("status", String(16), nullable=False, default="active"),
    Column("poll_interval_s", Integer, nullable=False, default=900),
    Column("next_poll_at", UTCDateTime),
    Column("last_polled_at", UTCDateTime),
    Column("last_success_at", UTCDateTime),
    Column("last_error", Text),
    Column("last_error_at", UTCDateTime),
    Column("error_count", Integer, nullable=False, default=0),
    Column("entries_seen", Integer, nullable=False, default=0),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_feeds_next_poll_at", "status", "next_poll_at"),
)

stories = Table(
    "stories",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("title", Text, nullable=False),
    Column("summary", Text),
    Column("representative_article_id", Integer),
    Column("first_article_id", Integer),
    Column("first_seen_at", UTCDateTime),
    Column("last_updated_at", UTCDateTime),
    Column("article_count", Integer, nullable=False, default=0),
    Column("publisher_count", Integer, nullable=False, default=0),
    Column("hotness", Float, nullable=False, default=0.0),
    Column("storyline_id", Integer, ForeignKey("storylines.id", ondelete="SET NULL")),
    Column("category", String(32)),
    Column("language", String(8)),
    Column("features", JSON),  # centroid and other clustering state
    Index("ix_stories_hotness", "hotness"),
    Index("ix_stories_last_updated_at", "last_updated_at"),
)

story_redirects = Table(
    "story_redirects",
    metadata,
    Column("id", Integer, primary_key=True),  # a story merged away (its id is no longer a story)
    Column("story_id", Integer, nullable=False),  # the story that took its articles
)

storylines = Table(
    "storylines",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("title", Text, nullable=False),
    Column("first_seen_at", UTCDateTime),
    Column("last_updated_at", UTCDateTime),
)

duplicate_groups = Table(
    "duplicate_groups",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("earliest_article_id", Integer),
    Column("agency", String(64)),
    Column("member_count", Integer, nullable=False, default=0),
)

articles = Table(
    "articles",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("url", Text, nullable=False),
    Column("canonical_url", Text, nullable=False, unique=True),
    Column("title", Text, nullable=False),
    Column("text", Text, nullable=False, default=""),
    Column("html", Text, nullable=False, default=""),
    Column("summary", Text),  # the feed's own summary, sanitised
    Column("author", Text),
    Column("published_at", UTCDateTime),
    Column("updated_at", UTCDateTime),
    Column("fetched_at", UTCDateTime, nullable=False),
    Column("sort_at", UTCDateTime, nullable=False),  # published_at, never after fetched_at
    Column("language", String(8)),
    Column("image", Text),
    Column("source_id", Integer, ForeignKey("sources.id", ondelete="SET NULL")),
    Column("feed_id", Integer, ForeignKey("feeds.id", ondelete="SET NULL")),
    Column("publisher", String(200), nullable=False),
    Column("feed_url", Text),
    Column("extraction", String(16), nullable=False, default="page"),
    Column("extraction_reason", Text),
    Column("content_hash", String(64)),
    Column("categories", JSON),  # the feed's own categories
    Column("story_id", Integer, ForeignKey("stories.id", ondelete="SET NULL")),
    Column("duplicate_group_id", Integer, ForeignKey("duplicate_groups.id", ondelete="SET NULL")),
    Column("duplicate_of", Integer, ForeignKey("articles.id", ondelete="SET NULL")),
    Column("topic", String(32)),
    Column("keywords", JSON),
    Column("abstract", Text),  # extractive summary made by the enrich stage
    Column("enriched_at", UTCDateTime),
    Index("ix_articles_sort_at", "sort_at"),
    Index("ix_articles_source_sort", "source_id", "sort_at"),
    Index("ix_articles_story_id", "story_id"),
    Index("ix_articles_url", "url"),
    Index("ix_articles_content_hash", "content_hash"),
    Index("ix_articles_topic_sort", "topic", "sort_at"),
)

fetch_attempts = Table(
    "fetch_attempts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", String(16), nullable=False),  # feed, article, discovery, robots
    Column("url", Text, nullable=False),
    Column("feed_id", Integer, ForeignKey("feeds.id", ondelete="CASCADE")),
    Column("article_id", Integer, ForeignKey("articles.id", ondelete="CASCADE")),
    Column("started_at", UTCDateTime, nullable=False),
    Column("elapsed_ms", Integer),
    Column("status_code", Integer),
    Column("ok", Boolean, nullable=False),
    Column("error", Text),
    Column("bytes", Integer),
    Index("ix_fetch_attempts_feed", "feed_id", "started_at"),
)

entities = Table(
    "entities",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", String(16), nullable=False),  # person, org, place, country
    Column("name", Text, nullable=False),
    Column("code", String(16)),  # ISO code for countries
    UniqueConstraint("kind", "name", name="uq_entities_kind_name"),
)

entity_aliases = Table(
    "entity_aliases",
    metadata,
    Column("entity_id", Integer, ForeignKey("entities.id", ondelete="CASCADE"), primary_key=True),
    Column("alias", Text, primary_key=True),
)

mentions = Table(
    "mentions",
    metadata,
    Column("article_id", Integer, ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True),
    Column("entity_id", Integer, ForeignKey("entities.id", ondelete="CASCADE"), primary_key=True),
    Column("count", Integer, nullable=False, default=1),
    Index("ix_mentions_entity", "entity_id"),
)


def now_utc() -> datetime:
    return datetime.now(UTC)
