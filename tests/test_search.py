"""Search: query parsing (with Hypothesis), ranking, phrases, filters and snippets.

The same assertions run on SQLite FTS5 and on PostgreSQL full-text search
(a real server from tests/pg.py; skipped with a message when none can start).
"""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import insert

from tidings.model import Article, Source
from tidings.store import Store
from tidings.store.schema import entities, mentions
from tidings.store.search import (
    MARK_END,
    MARK_START,
    ParsedQuery,
    SearchFilters,
    fts5_query,
    highlight_html,
    parse_query,
    web_query,
)

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)


def test_parse_query_terms_phrases_exclusions() -> None:
    assert parse_query('tram "city council" -festival') == ParsedQuery(
        ("tram",), (("city", "council"),), ("festival",)
    )
    assert parse_query("India-Canada") == ParsedQuery((), (("india", "canada"),), ())
    assert parse_query('  AND OR NOT "" - * ').empty
    assert parse_query('"unclosed phrase here').phrases == (("unclosed", "phrase", "here"),)
    assert parse_query("दिल्ली बारिश").terms == ("दिल्ली", "बारिश")


def test_fts5_query_quotes_everything() -> None:
    assert fts5_query(parse_query('a "b c" -d')) == '"a" AND "b c" NOT "d"'
    assert web_query(parse_query('a "b c" -d')) == 'a "b c" -d'


def test_highlight_escapes_and_balances() -> None:
    out = highlight_html(f"<script>x</script> {MARK_START}tram{MARK_END} & {MARK_START}cut")
    assert str(out) == "&lt;script&gt;x&lt;/script&gt; <mark>tram</mark> &amp; <mark>cut</mark>"


@pytest.fixture(scope="module")
def fts() -> Iterator[sqlite3.Connection]:
    con = sqlite3.connect(":memory:")
    con.execute("CREATE VIRTUAL TABLE t USING fts5(title, text, tokenize='unicode61 remove_diacritics 2')")
    con.execute("INSERT INTO t VALUES ('tram line', 'the council approved a tram line')")
    yield con
    con.close()


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_any_input_is_a_valid_fts5_query(fts: sqlite3.Connection, raw: str) -> None:
    parsed = parse_query(raw)
    if parsed.empty:
        return
    # never an FTS5 syntax error, whatever the user typed
    fts.execute("SELECT rowid FROM t WHERE t MATCH ?", (fts5_query(parsed),)).fetchall()


@given(st.text(max_size=200))
def test_highlight_never_lets_markup_through(raw: str) -> None:
    out = str(highlight_html(raw))
    stripped = out.replace("<mark>", "").replace("</mark>", "")
    assert "<" not in stripped and ">" not in stripped
    assert out.count("<mark>") == out.count("</mark>")


# -- against a real database -------------------------------------------------------
@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'search.db'}"
    else:
        url = str(request.getfixturevalue("pg_url"))
    store = Store(url)
    try:
        yield store
    finally:
        store.close()


def _add(
    store: Store,
    source: Source,
    n: int,
    title: str,
    text: str,
    *,
    days_ago: int = 0,
    language: str = "en",
    topic: str | None = None,
) -> int:
    at = NOW - timedelta(days=days_ago)
    aid = store.articles.insert(
        Article(
            None,
            f"https://x.example/{n}",
            f"https://x.example/{n}",
            title,
            text,
            "",
            publisher=source.name,
            source_id=source.id,
            feed_id=None,
            fetched_at=at,
            published_at=at,
            language=language,
        )
    )
    assert aid is not None
    if topic:
        from sqlalchemy import update

        from tidings.store.schema import articles

        with store.engine.begin() as conn:
            conn.execute(update(articles).where(articles.c.id == aid).values(topic=topic))
    return aid


@pytest.fixture
def corpus(db: Store) -> tuple[Store, dict[str, int], dict[str, Source]]:
    planet = db.sources.add_source(Source(None, "The Daily Planet", country="US"))
    gazette = db.sources.add_source(Source(None, "The Gazette", country="IN"))
    ids = {
        "tram_title": _add(
            db,
            planet,
            1,
            "City council approves new tram line",
            "The vote was close. Construction starts next spring.",
            topic="politics",
        ),
        "tram_body": _add(
            db,
            gazette,
            2,
            "Budget day",
            "Among many items, a tram was mentioned once in passing by the mayor.",
            days_ago=3,
            topic="business",
        ),
        "council": _add(
            db,
            gazette,
            3,
            "Harbour festival moves to June",
            "The council said the festival will move. <script>alert(1)</script>",
            days_ago=10,
            language="hi",
        ),
        "phrase": _add(
            db,
            planet,
            4,
            "Work plan agreed",
            "India and Canada agreed on a work plan for security.",
            days_ago=1,
        ),
        "scattered": _add(db, planet, 5, "Plans at work", "Work resumed. The plan was old.", days_ago=2),
    }
    with db.engine.begin() as conn:
        eid = conn.execute(
            insert(entities).values(kind="country", name="India", code="IN")
        ).inserted_primary_key[0]
        conn.execute(insert(mentions).values(article_id=ids["phrase"], entity_id=eid, count=1))
    return db, ids, {"planet": planet, "gazette": gazette}


def _ids(page) -> list[int]:  # type: ignore[no-untyped-def]
    return [h.article.id for h in page.hits]


def test_ranking_puts_headline_matches_first(corpus) -> None:  # type: ignore[no-untyped-def]
    store, ids, _ = corpus
    page = store.search.search("tram")
    assert _ids(page) == [ids["tram_title"], ids["tram_body"]]
    assert page.hits[0].score != page.hits[1].score
    assert "<mark>tram</mark>" in str(page.hits[0].title_html).lower()
    assert "<mark>tram</mark>" in str(page.hits[1].snippet_html)


def test_phrase_exclusion_and_sort_by_date(corpus) -> None:  # type: ignore[no-untyped-def]
    store, ids, _ = corpus
    assert _ids(store.search.search('"work plan"')) == [ids["phrase"]]
    assert set(_ids(store.search.search("work plan"))) == {ids["phrase"], ids["scattered"]}
    assert _ids(store.search.search("council -festival")) == [ids["tram_title"]]
    by_date = store.search.search("council", sort="date")
    assert _ids(by_date) == [ids["tram_title"], ids["council"]]
    assert store.search.search("").hits == ()
    assert store.search.search('AND "NEAR(" col:*').hits == ()  # hostile syntax: no error


def test_filters(corpus) -> None:  # type: ignore[no-untyped-def]
    store, ids, src = corpus
    s = store.search.search
    assert _ids(s("council", filters=SearchFilters(source_id=src["gazette"].id))) == [ids["council"]]
    assert _ids(s("council", filters=SearchFilters(language="hi"))) == [ids["council"]]
    assert _ids(s("tram", filters=SearchFilters(topic="business"))) == [ids["tram_body"]]
    recent = SearchFilters(since=NOW - timedelta(days=5), until=NOW + timedelta(days=1))
    assert _ids(s("council", filters=recent)) == [ids["tram_title"]]
    # country: the publisher's country, or a country the article mentions
    assert set(_ids(s("work", filters=SearchFilters(country="IN")))) == {ids["phrase"]}
    assert set(_ids(s("work", filters=SearchFilters(country="us")))) == {ids["phrase"], ids["scattered"]}
    assert _ids(s("work", filters=SearchFilters(country="GB"))) == []


def test_snippet_escapes_article_text(corpus) -> None:  # type: ignore[no-untyped-def]
    store, ids, _ = corpus
    hit = store.search.search("festival").hits[0]
    assert hit.article.id == ids["council"]
    assert "<script>" not in str(hit.snippet_html)
    assert "<mark>" in str(hit.snippet_html)


def test_pagination(corpus) -> None:  # type: ignore[no-untyped-def]
    store, ids, _ = corpus
    first = store.search.search("work OR plan council tram festival -zzz", limit=1)
    assert first.hits == () or first.next_offset in (None, 1)
    one = store.search.search("council", limit=1)
    assert len(one.hits) == 1 and one.next_offset == 1
    two = store.search.search("council", limit=1, offset=one.next_offset or 0)
    assert len(two.hits) == 1 and two.next_offset is None
    assert {one.hits[0].article.id, two.hits[0].article.id} == {ids["tram_title"], ids["council"]}


def test_single_term_and_phrase_rank_is_fts5_bm25(tmp_path: Path) -> None:
    """A phrase ranked in Python (bm25_one) in FTS5's own bm25 order, with its scores."""
    store = Store(f"sqlite:///{tmp_path / 'rank.db'}")
    try:
        src = store.sources.add_source(Source(None, "Wire"))
        rng = random.Random(5)
        words = ["tram", "line", "council", "vote", "city", "spring", "budget", "harbour"]
        words += [f"w{i}" for i in range(32)]
        for n in range(150):  # varied lengths and match counts, in headline and body
            title = rng.choices(words, k=rng.randint(2, 8))
            body = rng.choices(words, k=rng.randint(3, 60))
            if n % 4 == 0:  # the phrase, at times twice
                body[rng.randrange(len(body)) : 0] = ["tram", "line"] * rng.randint(1, 2)
            if n % 9 == 0:
                title[:0] = ["tram", "line"]
            if n % 7 == 0:  # overlapping matches of "city city" (FTS5 counts 2, highlight marks 1)
                body[:0] = ["city"] * rng.randint(2, 4)
            _add(store, src, n, " ".join(title).capitalize(), " ".join(body) + ".", days_ago=n % 9)
        with store.engine.connect() as conn:
            for raw, match in (
                ("tram", '"tram"'),
                ('"tram line"', '"tram line"'),
                ('"tram line" -vote', '"tram line" NOT "vote"'),
                ('"line council"', '"line council"'),
                ('"city city"', '"city city"'),
                ('"City CITY"', '"city city"'),
            ):
                want = conn.exec_driver_sql(
                    "SELECT rowid, bm25(articles_fts, 8.0, 1.0) AS s FROM articles_fts "
                    "WHERE articles_fts MATCH ? ORDER BY s, rowid DESC",
                    (match,),
                ).all()
                page = store.search.search(raw, limit=200)
                assert len(want) > 3 and [h.article.id for h in page.hits] == [r[0] for r in want]
                if "-" not in raw:  # FTS5's IDF counts excluded rows too: the same order, other scores
                    assert [h.score for h in page.hits] == pytest.approx([r[1] for r in want])
    finally:
        store.close()
