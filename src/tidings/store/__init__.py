"""Storage behind one small object: ``Store``, split by entity.

``Store(url)`` opens the database (SQLite by default, PostgreSQL by URL),
brings the schema to the newest Alembic revision, and exposes one sub-store
per entity: ``store.sources`` (publishers and their feeds), ``store.articles``
and ``store.attempts``. Every method is a short transaction of its own, so an
interrupted run keeps everything it committed and a restart resumes.

SQLite runs in WAL mode with ``synchronous=NORMAL``: in WAL mode a committed
transaction survives the process being killed (kill -9); only a power loss or
OS crash can lose the last few commits, which the next poll fetches again.
``busy_timeout`` lets several processes share the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import SQLAlchemyError

from tidings.errors import StorageError
from tidings.store.articles import ArticleStore
from tidings.store.attempts import AttemptStore
from tidings.store.entities import EntityStore
from tidings.store.pairs import register_sqlite_functions
from tidings.store.search import SearchStore
from tidings.store.sources import SourceStore
from tidings.store.stories import StoryStore

__all__ = ["MIGRATIONS", "Store", "make_engine", "register_sqlite_functions"]

MIGRATIONS = Path(__file__).parent / "migrations"


def _normalise_url(url: str) -> str:
    """Accept plain ``postgresql://`` URLs and pick the psycopg 3 driver."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def make_engine(url: str, **kwargs: Any) -> Engine:
    url = _normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()
            register_sqlite_functions(dbapi_conn)  # the pair index's triggers call it

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20, **kwargs)


class Store:
    """The database, with one sub-store per entity."""

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self.url = url
        try:
            self.engine = make_engine(url)
            if migrate:
                self.migrate()
        except SQLAlchemyError as e:
            raise StorageError(f"cannot open database {url}: {e}") from e
        self.sources = SourceStore(self.engine)
        self.articles = ArticleStore(self.engine)
        self.attempts = AttemptStore(self.engine)
        self.entities = EntityStore(self.engine)
        self.search = SearchStore(self.engine)
        self.stories = StoryStore(self.engine)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def migrate(self) -> None:
        """Bring the schema to the newest revision (idempotent)."""
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.begin() as conn:
            if self.dialect == "postgresql":
                # one migrator at a time when several workers start together
                conn.execute(text("SELECT pg_advisory_xact_lock(7041977)"))
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
