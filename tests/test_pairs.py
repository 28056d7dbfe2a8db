"""The SQLite word-pair index (tidings.store.pairs) and the phrase search that uses it.

Everything runs on real SQLite: the pairs a document gets must cover every
phrase FTS5 matches in it (Hypothesis), updates and deletes keep the index
right, and search through the index returns exactly what FTS5's own road does.
"""

from __future__ import annotations

import itertools
import random
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, text, update

from tidings.model import Article, Source
from tidings.store import Store, register_sqlite_functions
from tidings.store import search as search_module
from tidings.store.pairs import Fts5Words, pair_token, pair_tokens, words
from tidings.store.schema import articles
from tidings.store.search import SearchFilters, SearchStore

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    s = Store(f"sqlite:///{tmp_path_factory.mktemp('pairs') / 'pairs.db'}")
    yield s
    s.close()


@pytest.fixture(scope="module")
def source(store: Store) -> Source:
    return store.sources.add_source(Source(None, "Pair Post", country="GB"))


_counter = iter(range(10**9))


def _add(store: Store, source: Source, title: str, body: str, *, minutes_ago: int = 0) -> int:
    n = next(_counter)
    at = NOW - timedelta(minutes=minutes_ago)
    aid = store.articles.insert(
        Article(
            None,
            f"https://pairs.example/{n}",
            f"https://pairs.example/{n}",
            title,
            body,
            "",
            publisher=source.name,
            source_id=source.id,
            feed_id=None,
            fetched_at=at,
            published_at=at,
            language="en",
        )
    )
    assert aid is not None
    return aid


def _candidates(store: Store, first: str, second: str) -> set[int]:
    with store.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT rowid FROM articles_pairs WHERE articles_pairs MATCH :m"),
            {"m": f'"{pair_token(first, second)}"'},
        )
        return {r[0] for r in rows}


def _fts5_tokens(store: Store, aid: int) -> list[list[str]]:
    """FTS5's own tokens of an article's headline and body, in order (fts5vocab)."""
    with store.engine.begin() as conn:
        conn.execute(
            text("CREATE VIRTUAL TABLE IF NOT EXISTS temp.v USING fts5vocab(main, articles_fts, instance)")
        )
        rows = conn.execute(text("SELECT term, col, offset FROM temp.v WHERE doc = :d"), {"d": aid}).all()
    cols: dict[str, list[tuple[int, str]]] = {"title": [], "text": []}
    for term, col, offset in rows:
        cols[col].append((offset, term))
    return [[t for _, t in sorted(cols[c])] for c in ("title", "text")]


# ASCII words, punctuation, and characters unicode61 treats in its own way: accented
# letters ("é" folds to "e", "ø" to "o"), combining marks (some dropped inside a word,
# some separators), other scripts, digits with superscripts
_PIECES = st.sampled_from(
    [
        "tram",
        "Line",
        "city",
        "CITY",
        "a",
        "7",
        "x2",
        "café",
        "cafe",
        "Bjørn",
        "bjorn",
        "ǅemal",
        "naïve",
        "e\u0301",
        "o\u0338",
        "\u0338",
        "\u0305",
        "दिल्ली",
        "東京",
        "²",
        "ﬁne",
    ]
)
_GAPS = st.sampled_from([" ", ". ", ", ", "-", "_", "'", "\u2014", "\u00a0", "\n", "", "…", "’", "\u200b"])


@st.composite
def _texts(draw: st.DrawFn) -> str:
    parts = draw(st.lists(st.tuples(_PIECES, _GAPS), max_size=12))
    return "".join(p + g for p, g in parts)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(title=_texts(), body=_texts())
def test_pairs_cover_every_phrase_fts5_matches(store: Store, source: Source, title: str, body: str) -> None:
    aid = _add(store, source, title, body)
    for tokens in _fts5_tokens(store, aid):
        for first, second in itertools.pairwise(tokens):
            with store.engine.connect() as conn:  # FTS5 matches this phrase in the article ...
                hit = conn.execute(
                    text("SELECT 1 FROM articles_fts WHERE articles_fts MATCH :m AND rowid = :id"),
                    {"m": f'"{first} {second}"', "id": aid},
                ).first()
            assert hit is not None
            assert aid in _candidates(store, first, second)  # ... and the pair index finds it


@settings(max_examples=200, deadline=None)
@given(_texts())
def test_words_are_fts5_tokens(raw: str) -> None:
    con = sqlite3.connect(":memory:")
    con.execute("CREATE VIRTUAL TABLE t USING fts5(x, tokenize='unicode61 remove_diacritics 2')")
    con.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, 'instance')")
    con.execute("INSERT INTO t(rowid, x) VALUES (1, ?)", (raw,))
    expected = [term for term, _ in sorted(con.execute("SELECT term, offset FROM v"), key=lambda r: r[1])]
    con.close()
    assert words(raw, Fts5Words()) == expected


def test_no_pair_spans_headline_and_body(store: Store, source: Source) -> None:
    aid = _add(store, source, "Quiet harbour", "Storm warning issued")
    assert aid in _candidates(store, "quiet", "harbour")
    assert aid in _candidates(store, "storm", "warning")
    assert aid not in _candidates(store, "harbour", "storm")


def test_update_and_delete_keep_the_index_right(store: Store, source: Source) -> None:
    aid = _add(store, source, "Ferry strike ends", "Crews return on Monday.")
    assert aid in _candidates(store, "ferry", "strike")
    with store.engine.begin() as conn:
        conn.execute(update(articles).where(articles.c.id == aid).values(title="Ferry service resumes"))
    assert aid not in _candidates(store, "ferry", "strike")
    assert aid in _candidates(store, "ferry", "service")
    assert aid in _candidates(store, "return", "on")  # the body's pairs survive a headline edit
    with store.engine.begin() as conn:
        conn.execute(update(articles).where(articles.c.id == aid).values(text="Crews stay home."))
    assert aid not in _candidates(store, "return", "on")
    assert aid in _candidates(store, "stay", "home")
    with store.engine.begin() as conn:
        conn.execute(delete(articles).where(articles.c.id == aid))
    assert aid not in _candidates(store, "ferry", "service")
    assert aid not in _candidates(store, "stay", "home")
    with store.engine.connect() as conn:  # FTS5's own check of the contentless index
        conn.execute(text("INSERT INTO articles_pairs(articles_pairs, rank) VALUES ('integrity-check', 0)"))


def test_raw_sqlite_connections_register_the_function(tmp_path: Path) -> None:
    con = sqlite3.connect(tmp_path / "raw.db")
    with pytest.raises(sqlite3.OperationalError, match="tidings_pairs"):
        con.execute("SELECT tidings_pairs('Red sky', NULL)")
    register_sqlite_functions(con)
    got = con.execute("SELECT tidings_pairs('Red  sky, at night', 'Red sky')").fetchone()[0]
    assert got.split() == pair_tokens(["red", "sky", "at", "night"])
    con.close()


# -- the pair road against FTS5's own road ---------------------------------------------
_VOCAB = ["tram", "line", "city", "council", "plan", "work", "storm", "harbour", "vote", "budget"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    s = Store(f"sqlite:///{tmp_path_factory.mktemp('pairs_corpus') / 'corpus.db'}")
    rng = random.Random(5)
    sources = [s.sources.add_source(Source(None, f"Publisher {i}", country="GB")) for i in range(3)]
    for n in range(600):
        title = " ".join(rng.choices(_VOCAB, k=rng.randint(2, 6))).capitalize()
        sentences = [" ".join(rng.choices(_VOCAB, k=rng.randint(2, 7))) for _ in range(rng.randint(1, 5))]
        body = ". ".join(sentences) + "."
        _add(s, rng.choice(sources), title, body, minutes_ago=600 - n)
    yield s
    s.close()


def _page(store: SearchStore, q: str, **kw: object) -> list[tuple[int, float, str, str]]:
    page = store.search(q, **kw)  # type: ignore[arg-type]
    return [(h.article.id, h.score, str(h.title_html), str(h.snippet_html)) for h in page.hits] + [
        (page.next_offset or -1, 0.0, "", "")
    ]


@pytest.mark.parametrize("window", [1000, 7, 40])
def test_pair_road_returns_what_fts5_returns(
    corpus: Store, monkeypatch: pytest.MonkeyPatch, window: int
) -> None:
    monkeypatch.setattr(search_module, "SEARCH_WINDOW", window)  # full windows, several batches
    fast = SearchStore(corpus.engine)
    slow = SearchStore(corpus.engine, pair_index=False)
    first_source = corpus.sources.list_sources()[0].id
    compared = 0
    for a in _VOCAB:
        for b in _VOCAB:
            if a == b:
                continue
            for q in (f'"{a} {b}"', f"{a}-{b}", f'"{a} {b} {_VOCAB[0]}"'):
                for kw in (
                    {},
                    {"offset": 20},
                    {"limit": 5},
                    {"filters": SearchFilters(source_id=first_source)},
                    {"filters": SearchFilters(since=NOW - timedelta(minutes=300))},
                ):
                    got = _page(fast, q, **kw)
                    assert got == _page(slow, q, **kw), (q, kw)
                    compared += len(got) - 1
    assert compared > 1000  # the comparison saw real hits, not empty pages


def test_phrase_search_takes_the_pair_road(store: Store, source: Source) -> None:
    aid = _add(store, source, "Glacier melt record", "Scientists measured a glacier melt record.")
    fast = SearchStore(store.engine)
    slow = SearchStore(store.engine, pair_index=False)
    assert [h.article.id for h in fast.search('"glacier melt"').hits] == [aid]
    with store.engine.begin() as conn:  # take the article out of the pair index only
        conn.execute(
            text(
                "INSERT INTO articles_pairs(articles_pairs, rowid, p) "
                "VALUES ('delete', :id, tidings_pairs(:t, :b))"
            ),
            {"id": aid, "t": "Glacier melt record", "b": "Scientists measured a glacier melt record."},
        )
    assert [h.article.id for h in slow.search('"glacier melt"').hits] == [aid]
    assert fast.search('"glacier melt"').hits == ()  # candidates come from the pair index
    assert [h.article.id for h in fast.search('"glacier melt" scientists').hits] == [aid]  # two parts: FTS5
    with store.engine.begin() as conn:  # put it back
        conn.execute(
            text("INSERT INTO articles_pairs(rowid, p) VALUES (:id, tidings_pairs(:t, :b))"),
            {"id": aid, "t": "Glacier melt record", "b": "Scientists measured a glacier melt record."},
        )
    assert [h.article.id for h in fast.search('"glacier melt"').hits] == [aid]


@pytest.mark.postgres
def test_postgresql_to_sqlite_copy_fills_the_pair_index(pg_url: str, tmp_path: Path) -> None:
    from tidings.migrate import copy_database

    with Store(pg_url) as pg:
        src = pg.sources.add_source(Source(None, "Copy Courier"))
        ids = [
            _add(pg, src, f"Harbour storm {n}", "The harbour storm closed roads. Tram line shut.")
            for n in range(5)
        ]
        with Store(f"sqlite:///{tmp_path / 'copy.db'}") as lite:
            assert all(c.ok for c in copy_database(pg, lite))  # rows go in through the triggers
            assert _candidates(lite, "harbour", "storm") >= set(ids)
            assert _candidates(lite, "tram", "line") >= set(ids)
            fast, slow = SearchStore(lite.engine), SearchStore(lite.engine, pair_index=False)
            assert _page(fast, '"tram line"') == _page(slow, '"tram line"')
            assert len(_page(fast, '"harbour storm"')) == 6  # five hits and the end marker


def test_revision_0002_fills_the_index_for_stored_articles(tmp_path: Path) -> None:
    from alembic import command
    from alembic.config import Config

    from tidings.store import MIGRATIONS

    url = f"sqlite:///{tmp_path / 'old.db'}"
    old = Store(url, migrate=False)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with old.engine.begin() as conn:  # an installation from before the pair index
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
    src = old.sources.add_source(Source(None, "Old Times"))
    aid = _add(old, src, "Snow day", "Schools shut as snow falls.")
    old.close()
    with Store(url) as new:  # the store brings it to head, 0002 fills the index
        assert aid in _candidates(new, "snow", "day")
        assert aid in _candidates(new, "snow", "falls")
        assert [h.article.id for h in new.search.search('"snow falls"').hits] == [aid]


_PIECES = st.sampled_from(
    ["dog", "Dog", "cat", "CAT", "hotdog", "dogs", "cat2", "2", " ", "  ", "-", ", ", "_", "\n"]
)


@settings(max_examples=400, deadline=None)
@given(st.lists(_PIECES, max_size=14), st.sampled_from([("dog", "cat"), ("cat", "dog"), ("Dog", "cat", "2")]))
def test_ascii_phrase_count_is_the_word_edge_regex_count(pieces: list[str], phrase: tuple[str, ...]) -> None:
    """count_ascii_phrase counts what a regex of the words, separators between and word
    edges around, counts: the phrase as FTS5 matches it in ASCII text."""
    import re

    value = "".join(pieces)
    pattern = r"(?<![0-9A-Za-z])" + "[^0-9A-Za-z]+".join(phrase) + r"(?![0-9A-Za-z])"
    want = len(re.findall(pattern, value, re.IGNORECASE | re.ASCII))
    assert search_module.count_ascii_phrase(value, phrase) == want


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(title=_texts(), body=_texts(), data=st.data())
def test_page_marks_are_fts5_marks_of_the_stored_row(
    store: Store, source: Source, title: str, body: str, data: st.DataObject
) -> None:
    """``Fts5Marker`` (a page's rows in an in-memory FTS5 table) marks headline and snippet
    exactly as ``highlight()`` and ``snippet()`` of ``articles_fts`` mark the stored row."""
    aid = _add(store, source, title, body)
    tokens = [t for col in _fts5_tokens(store, aid) for t in col]
    if not tokens:
        return
    i = data.draw(st.integers(0, len(tokens) - 1))
    j = data.draw(st.integers(0, len(tokens) - 1))
    match = data.draw(
        st.sampled_from(
            [
                f'"{tokens[i]}"',
                f'"{" ".join(tokens[i : i + 2])}"',
                f'"{tokens[i]}" AND "{tokens[j]}"',
                f'"{tokens[i]}" NOT "{tokens[j]}x"',
            ]
        )
    )
    with store.engine.connect() as conn:
        expected = conn.execute(
            text(
                "SELECT highlight(articles_fts, 0, char(2), char(3)), "
                "snippet(articles_fts, 1, char(2), char(3), '…', 28) FROM articles_fts "
                "WHERE articles_fts MATCH :m AND rowid = :id"
            ),
            {"m": match, "id": aid},
        ).first()
    got = search_module.Fts5Marker()(match, [(aid, title, body), (aid + 10**6, "unrelated", "words")])
    if expected is None:  # a phrase across headline and body matches neither way
        assert aid not in got
    else:
        assert got[aid] == tuple(expected)
    assert aid + 10**6 not in got  # the other row shares no word with the query
