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
    return Article(
        id=None,
        url=url,
        canonical_url=url,
        title=title,
        text=body,
        html=f"<p>{body}</p>",
        publisher="Planet",
        source_id=None,
        feed_id=None,
        fetched_at=now_utc(),
    )


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
        st.articles.insert(
            _article("https://p.example/1", "Tram line approved", "The city council approved the tram line.")
        )
        st.articles.insert(_article("https://p.example/2", "Harbour festival", "The festival moves to June."))
        with st.engine.connect() as conn:
            hits = (
                conn.execute(
                    text("SELECT url FROM articles WHERE search @@ plainto_tsquery('simple', :q)"),
                    {"q": "tram council"},
                )
                .scalars()
                .all()
            )
            plan = "\n".join(
                conn.execute(
                    text("EXPLAIN SELECT id FROM articles WHERE search @@ plainto_tsquery('simple', 'x')")
                ).scalars()
            )
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
                    got += [
                        f.id
                        for f in mine.sources.claim_due_feeds(timedelta(minutes=5), limit=4)
                        if f.id is not None
                    ]
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


def test_migrate_db_moves_an_sqlite_installation_to_postgresql(
    pg_url: str, tmp_path, publisher_server
) -> None:
    import asyncio

    from typer.testing import CliRunner

    from tidings.cli import app
    from tidings.config import load_settings
    from tidings.pipeline import Pipeline

    lite = f"sqlite:///{tmp_path / 'embedded.db'}"
    settings = load_settings(
        environ={}, config_file=None, database_url=lite, allow_private_addresses=True, request_spacing=0.0
    )
    with Store(lite) as st:
        for name, path in (
            ("Planet", "/planet/rss.xml"),
            ("Gazette", "/gazette/atom.xml"),
            ("Broken", "/bad/500.xml"),
        ):
            src = st.sources.add_source(Source(None, name))
            assert src.id is not None
            st.sources.add_feed(src.id, publisher_server.url(path))
        asyncio.run(Pipeline(settings, st).poll_due())
        before = [
            (a.id, a.canonical_url, a.title, a.text, a.published_at, a.categories)
            for a in st.articles.iter_all()
        ]
        feeds_before = [(f.id, f.url, f.etag, f.error_count, f.next_poll_at) for f in st.sources.list_feeds()]
    assert len(before) >= 4
    runner = CliRunner()
    env = {"TIDINGS_LOG_LEVEL": "WARNING"}
    result = runner.invoke(app, ["migrate-db", "--from", lite, "--to", pg_url], env=env)
    assert result.exit_code == 0, result.output
    assert "every table's count matches" in result.output
    assert "copying rows" in result.output  # the progress bar
    with Store(pg_url) as pg:
        after = [
            (a.id, a.canonical_url, a.title, a.text, a.published_at, a.categories)
            for a in pg.articles.iter_all()
        ]
        assert after == before
        assert [
            (f.id, f.url, f.etag, f.error_count, f.next_poll_at) for f in pg.sources.list_feeds()
        ] == feeds_before
        new_id = pg.articles.insert(_article("https://p.example/after-the-move"))
        assert new_id is not None and new_id > max(a[0] for a in before)  # sequences moved on
        with pg.engine.connect() as conn:  # the search column was generated for copied rows
            hits = conn.execute(
                text("SELECT count(*) FROM articles WHERE search @@ plainto_tsquery('simple', 'tram')")
            ).scalar_one()
        assert hits >= 1
    again = runner.invoke(app, ["migrate-db", "--from", lite, "--to", pg_url], env=env)
    assert again.exit_code == 1 and "not empty" in again.output
    redo = runner.invoke(app, ["migrate-db", "--from", lite, "--to", pg_url, "--replace"], env=env)
    assert redo.exit_code == 0, redo.output
