"""The PostgreSQL backend: migrations, full-text search, concurrency guarantees.

These need a server (tests/pg.py starts a throw-away cluster, or uses
``TIDINGS_TEST_PG_URL``) and skip with a clear message where there is none.
The rest of the suite runs on PostgreSQL too with ``TIDINGS_TEST_DATABASE=postgresql``.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import inspect, text

from tidings.model import Article, Source
from tidings.store import Store
from tidings.store.schema import metadata, now_utc

from .pg import PgServer

pytestmark = pytest.mark.postgres


def _article(url: str, title: str = "Tram line approved", body: str = "The council voted.") -> Article:
    return Article(id=None, url=url, canonical_url=url, title=title, text=body, html=f"<p>{body}</p>",
                   publisher="Planet", source_id=None, feed_id=None, fetched_at=now_utc())


def test_migrations_build_every_table_and_the_search_column(pg_url: str) -> None:
    with Store(pg_url) as st:
        assert st.dialect == "postgresql"
        insp = inspect(st.engine)
        assert set(metadata.tables) <= set(insp.get_table_names())
        cols = {c["name"] for c in insp.get_columns("articles")}
        assert "search" in cols
        st.migrate()  # a second run is a no-op
        with st.engine.connect() as conn:
            heads = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
        assert len(heads) == 1


def test_full_text_search_uses_the_generated_tsvector(pg_url: str) -> None:
    with Store(pg_url) as st:
        st.articles.insert(_article("https://p.example/1", "Tram line approved",
                                    "The city council approved the tram line."))
        st.articles.insert(_article("https://p.example/2", "Harbour festival",
                                    "The festival moves to June."))
        with st.engine.connect() as conn:
            hits = conn.execute(text(
                "SELECT url FROM articles WHERE search @@ plainto_tsquery('simple', :q)"),
                {"q": "tram council"}).scalars().all()
            plan = "\n".join(conn.execute(text(
                "EXPLAIN SELECT id FROM articles WHERE search @@ plainto_tsquery('simple', 'x')"))
                .scalars())
        assert hits == ["https://p.example/1"]
        assert "search" in plan


def test_workers_starting_together_migrate_once(pg_server: PgServer) -> None:
    url = pg_server.create(empty=True)
    errors: list[BaseException] = []

    def start() -> None:
        try:
            Store(url).close()
        except BaseException as e:  # collected and asserted below
            errors.append(e)

    threads = [threading.Thread(target=start) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    try:
        assert errors == []
        with Store(url, migrate=False) as st, st.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar_one() == 1
    finally:
        pg_server.drop(url)


def test_one_row_per_canonical_url_under_concurrent_inserts(pg_url: str) -> None:
    stores = [Store(pg_url, migrate=False) for _ in range(4)]
    ids: list[int | None] = []
    barrier = threading.Barrier(len(stores))

    def insert(st: Store) -> None:
        barrier.wait()
        for i in range(20):
            ids.append(st.articles.insert(_article(f"https://p.example/{i}")))

    threads = [threading.Thread(target=insert, args=(st,)) for st in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    try:
        assert stores[0].articles.count() == 20
        assert len([i for i in ids if i is not None]) == 20
        assert len(ids) == 80
    finally:
        for st in stores:
            st.close()


def test_concurrent_claims_never_share_a_feed(pg_url: str) -> None:
    with Store(pg_url) as st:
        src = st.sources.add_source(Source(None, "Planet"))
        assert src.id is not None
        for i in range(60):
            st.sources.add_feed(src.id, f"https://p.example/feed{i}.xml")
        claimed: list[list[int]] = []
        barrier = threading.Barrier(3)

        def claim() -> None:
            with Store(pg_url, migrate=False) as mine:
                barrier.wait()
                got: list[int] = []
                for _ in range(10):
                    got += [f.id for f in mine.sources.claim_due_feeds(timedelta(minutes=5), limit=4)
                            if f.id is not None]
                claimed.append(got)

        threads = [threading.Thread(target=claim) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        every = [i for got in claimed for i in got]
        assert len(every) == len(set(every)) == 60  # each feed claimed exactly once
        assert st.sources.due_feeds() == []  # all leased ...
        later = st.sources.due_feeds(now=now_utc() + timedelta(minutes=6))
        assert len(later) == 60  # ... and due again once the lease runs out: none stuck
