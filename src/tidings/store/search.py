"""Read side of the reader: full-text search, and the browse queries pages need.

Search uses the database's own engine: SQLite FTS5 through the
``articles_fts`` external-content table (kept in step by triggers), and
PostgreSQL full-text search through the generated ``articles.search``
tsvector column (GIN-indexed). Both rank (bm25 with the headline weighted
above the body; ``ts_rank_cd`` over weights A/B), both understand phrases in
double quotes and ``-word`` exclusions, and both return a highlighted snippet.

The FTS5 query syntax is rich and unforgiving (``AND``, ``NEAR``, column
filters, ``*``), so user input is never passed through: ``parse_query``
turns it into plain terms, phrases and exclusions and ``fts5_query`` quotes
every one of them. PostgreSQL gets ``websearch_to_tsquery``, which already
parses web-style queries safely.

On SQLite, ranking every match of a common word costs time in proportion to
the number of matches (40,000 matches: ~100 ms for bm25 alone, ~400 ms joined
to the articles). A news reader wants recent results, so the ranking and the
date order consider the newest ``SEARCH_WINDOW`` (1,000, as deep as result
pages go) matches, after filters; date filters reach further back. ``benchmarks/web.py`` measures it.
A query of one phrase is ranked in Python by ``bm25_one`` (FTS5's bm25 formula,
order and scores, from the window's marked text): FTS5's own bm25 would first
count the phrase over the whole index, a second pass as dear as the search.

A phrase of common words matches few articles, yet FTS5 walks the whole
posting lists of its words to find them. A query of one phrase of ASCII words
(exclusions ASCII too) therefore takes its window from the word-pair index
``articles_pairs`` (``tidings.store.pairs``; SQLite only): candidates carrying
every adjacent pair of the phrase, newest first, checked against their text
split as FTS5 splits it (``SearchStore._pair_window``). The window, ranking
and pages are the FTS5 road's exactly (``tests/test_pairs.py`` compares both;
``benchmarks/phrase_search.py`` times them); ``SearchStore(engine,
pair_index=False)`` keeps the FTS5 road for every query.

Snippets come back as text with the match markers ``MARK_START`` /
``MARK_END`` (control characters that sanitised article text cannot carry);
``highlight_html`` escapes the text and turns the markers into ``<mark>``.

Browse queries (stories by hotness, a story's coverage, articles by topic,
entity or country) are keyset-paginated on indexed columns: no OFFSET and
no COUNT(*) over the articles table on hot paths.
"""

from __future__ import annotations

import math
import re
import sqlite3
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from markupsafe import Markup, escape
from sqlalchemy import (
    Engine,
    Float,
    Integer,
    String,
    and_,
    bindparam,
    column,
    exists,
    func,
    literal_column,
    or_,
    select,
    table,
    text,
    type_coerce,
)
from sqlalchemy.exc import SQLAlchemyError

from tidings.errors import StorageError
from tidings.model import Article, Entity, Story
from tidings.store.articles import _article
from tidings.store.pairs import FTS5_TOKENIZER, Fts5Words, is_ascii_phrase, pair_tokens, words
from tidings.store.schema import UTCDateTime, articles, entities, mentions, sources, stories

MARK_START = "\x02"
MARK_END = "\x03"
_MARKS = re.compile(f"([{MARK_START}{MARK_END}])")
MAX_QUERY_CHARS = 300
MAX_TERMS = 12
MAX_OFFSET = 1000  # deeper result pages are not useful
SEARCH_WINDOW = 1000  # SQLite: rank the newest this many matches (= the deepest page reachable)

_TOKEN = re.compile(r'(-?)"([^"]*)"?|(-?)([^\s"]+)')
# a word: letters, digits and combining marks (Devanagari vowel signs are marks, not \w)
_WORD = re.compile(r"(?:[^\W_]|[\u0300-\u036f\u0900-\u0dff\u0e31-\u0e4e\u1ab0-\u1aff])+")


@dataclass(frozen=True, slots=True)
class ParsedQuery:
    """A user query reduced to what both engines understand."""

    terms: tuple[str, ...] = ()
    phrases: tuple[tuple[str, ...], ...] = ()
    excluded: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.terms and not self.phrases


@dataclass(frozen=True, slots=True)
class SearchFilters:
    source_id: int | None = None
    language: str | None = None
    country: str | None = None  # ISO code: the publisher's country or a mentioned country
    topic: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class SearchHit:
    article: Article
    score: float
    title_html: Markup
    snippet_html: Markup


@dataclass(frozen=True, slots=True)
class SearchPage:
    hits: tuple[SearchHit, ...]
    query: ParsedQuery
    next_offset: int | None


def parse_query(raw: str) -> ParsedQuery:
    """Split a query into words, "quoted phrases" and -exclusions (pure)."""
    terms: list[str] = []
    phrases: list[tuple[str, ...]] = []
    excluded: list[str] = []
    for m in _TOKEN.finditer((raw or "")[:MAX_QUERY_CHARS]):
        if m.group(2) is not None:  # a phrase
            words = tuple(w.lower() for w in _WORD.findall(m.group(2)))
            if not words:
                continue
            if m.group(1):
                excluded.extend(words)
            elif len(words) == 1:
                terms.append(words[0])
            else:
                phrases.append(words)
        else:
            words_l = [w.lower() for w in _WORD.findall(m.group(4))]
            if m.group(3):
                excluded.extend(words_l)
            elif len(words_l) > 1:  # e.g. "India-Canada": the words next to each other
                phrases.append(tuple(words_l))
            else:
                terms.extend(words_l)
    terms = list(dict.fromkeys(t for t in terms if t.lower() not in ("and", "or", "not")))
    return ParsedQuery(
        tuple(terms[:MAX_TERMS]), tuple(phrases[:MAX_TERMS]), tuple(dict.fromkeys(excluded))[:MAX_TERMS]
    )


def _q(words: Sequence[str]) -> str:
    return '"' + " ".join(w.replace('"', '""') for w in words) + '"'


def fts5_query(parsed: ParsedQuery) -> str:
    """An FTS5 MATCH expression with every word quoted (no operator injection)."""
    parts = [_q([t]) for t in parsed.terms] + [_q(p) for p in parsed.phrases]
    expr = " AND ".join(parts)
    for word in parsed.excluded:
        expr += f" NOT {_q([word])}"
    return expr


def web_query(parsed: ParsedQuery) -> str:
    """The parsed query written back for PostgreSQL's websearch_to_tsquery."""
    parts = list(parsed.terms) + ['"' + " ".join(p) + '"' for p in parsed.phrases]
    parts += ["-" + w for w in parsed.excluded]
    return " ".join(parts)


def highlight_html(snippet: str | None) -> Markup:
    """Escape a snippet and turn the match markers into <mark> elements."""
    if not snippet:
        return Markup("")
    out: list[str] = []
    open_ = False
    for part in _MARKS.split(str(escape(snippet))):
        if part == MARK_START:
            if not open_:
                out.append("<mark>")
            open_ = True
        elif part == MARK_END:
            if open_:  # a stray end marker (or one whose start was cut off) is dropped
                out.append("</mark>")
            open_ = False
        else:
            out.append(part)
    if open_:  # a marker cut off by the snippet window must not leave an open element
        out.append("</mark>")
    return Markup("".join(out))


_NO_FILTERS = SearchFilters()


def _filters(f: SearchFilters, *, scan_fts_first: bool = False) -> list[Any]:
    """Filter conditions on ``articles``.

    With ``scan_fts_first`` the columns are wrapped in no-op expressions so that
    SQLite cannot pick an articles index as the outer loop (and then run the
    MATCH once per article, seconds on a million rows): the FTS5 scan leads and
    each match is checked by primary key.
    """
    source_id, language, topic, sort_at = (
        articles.c.source_id,
        articles.c.language,
        articles.c.topic,
        articles.c.sort_at,
    )
    if f == _NO_FILTERS:  # the common case: nothing to build
        return []
    if scan_fts_first:
        source_id = source_id + 0
        empty = literal_column("''")
        language = type_coerce(language.op("||")(empty), String)
        topic = type_coerce(topic.op("||")(empty), String)
        sort_at = type_coerce(sort_at.op("||")(empty), UTCDateTime)
    cond: list[Any] = []
    if f.source_id is not None:
        cond.append(source_id == f.source_id)
    if f.language:
        cond.append(language == f.language.lower())
    if f.topic:
        cond.append(topic == f.topic)
    if f.since is not None:
        cond.append(sort_at >= f.since)
    if f.until is not None:
        cond.append(sort_at < f.until)
    if f.country:
        code = f.country.upper()
        cond.append(
            or_(
                source_id.in_(select(sources.c.id).where(sources.c.country == code)),
                exists().where(
                    and_(
                        mentions.c.article_id == articles.c.id,
                        mentions.c.entity_id == entities.c.id,
                        entities.c.kind == "country",
                        entities.c.code == code,
                    )
                ),
            )
        )
    return cond


_STORY_COLUMNS = [c for c in stories.c if c.name != "features"]


def _story(row: Any) -> Story:
    m = row._mapping
    return Story(
        id=m["id"],
        title=m["title"],
        summary=m["summary"],
        first_article_id=m["first_article_id"],
        first_seen_at=m["first_seen_at"],
        last_updated_at=m["last_updated_at"],
        hotness=m["hotness"] or 0.0,
        storyline_id=m["storyline_id"],
        category=m["category"],
    )


@dataclass(frozen=True, slots=True)
class StoryCard:
    """A story as the home page shows it: counts and its lead article."""

    story: Story
    article_count: int
    publisher_count: int
    lead: Article | None


_DOCSIZE = table("articles_fts_docsize", column("id", Integer), column("sz"))
_HL = f"char({ord(MARK_START)}), char({ord(MARK_END)})"
# the FTS5 matches, two ways; built once (the statements around them are cached by SQLAlchemy)
# bm25 with the headline weighted 8:1 over the body
_FTS_BM25 = (
    text(
        "SELECT rowid AS id, bm25(articles_fts, 8.0, 1.0) AS score FROM articles_fts "
        "WHERE articles_fts MATCH :match"
    )
    .columns(column("id", Integer), column("score", Float))
    .subquery("m")
)
# the headline and body with every match marked: what _bm25_one counts
_FTS_MARKED = (
    text(
        f"SELECT rowid AS id, highlight(articles_fts, 0, {_HL}) AS t, "
        f"highlight(articles_fts, 1, {_HL}) AS b FROM articles_fts WHERE articles_fts MATCH :match"
    )
    .columns(column("id", Integer), column("t", String), column("b", String))
    .subquery("m")
)
# candidates from the word-pair index (tidings.store.pairs), newest first
_PAIR_CANDIDATES = text(
    "SELECT rowid FROM articles_pairs WHERE articles_pairs MATCH :pairs AND rowid < :before "
    "ORDER BY rowid DESC LIMIT :n"
)
TITLE_WEIGHT = 8.0
_K1, _B = 1.2, 0.75  # FTS5's bm25 constants (ext/fts5/fts5_aux.c)


def sqlite_varints(blob: bytes) -> list[int]:
    """Decode a run of SQLite varints (FTS5's docsize and averages records; pure)."""
    out: list[int] = []
    i = 0
    while i < len(blob):
        value = 0
        for k in range(9):
            byte = blob[i]
            i += 1
            if k == 8:  # the ninth byte carries 8 bits
                value = (value << 8) | byte
                break
            value = (value << 7) | (byte & 0x7F)
            if not byte & 0x80:
                break
        out.append(value)
    return out


_ASCII_ALNUM = frozenset("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def count_ascii_phrase(text: str, phrase: Sequence[str]) -> int:
    """Matches of ``phrase`` (ASCII words, none repeated) in ASCII ``text`` as FTS5 counts
    them: each word a whole [0-9A-Za-z] run, any case, with separators between (pure).

    The same count as a regex with word-edge lookarounds, found with ``str.find`` on
    the first word instead: the regex tried its lookbehind at every position of
    every body in a phrase's window, a third of a phrase search's time.
    """
    low = text.lower()
    words = [w.lower() for w in phrase]
    first, end = words[0], len(low)
    found = 0
    i = low.find(first)
    while i != -1:
        j = i + len(first)
        ok = (i == 0 or low[i - 1] not in _ASCII_ALNUM) and (j == end or low[j] not in _ASCII_ALNUM)
        for w in words[1:]:
            if not ok:
                break
            k = j
            while k < end and low[k] not in _ASCII_ALNUM:
                k += 1
            ok = k > j and low.startswith(w, k)
            j = k + len(w)
            ok = ok and (j == end or low[j] not in _ASCII_ALNUM)
        if ok:
            found += 1
            i = low.find(first, j)
        else:
            i = low.find(first, i + 1)
    return found


def _may_overlap(phrase: Sequence[str]) -> bool:
    """Whether two matches of ``phrase`` can overlap ("a a", "a b a"): highlight() marks
    overlapping matches as one span, so ``bm25_one`` would count them short. Words are
    compared folded as FTS5's tokenizer folds them (case, diacritics); any repeated word
    counts, which is stricter than needed (a folding FTS5 does and NFKD does not
    would slip through: a score a little low, never a wrong match)."""
    folded = [
        "".join(c for c in unicodedata.normalize("NFKD", w.casefold()) if not unicodedata.combining(c))
        for w in phrase
    ]
    return len(set(folded)) < len(folded)


def bm25_one(
    rows: Sequence[tuple[int, int, int, bytes]], n_rows: int, avgdl: float, n_hit: int
) -> list[tuple[int, float]]:
    """FTS5's ``bm25(articles_fts, 8.0, 1.0)`` for a query of ONE term or phrase, in Python.

    ``rows`` are (rowid, matches in the headline, matches in the body, docsize
    blob); the counts are the marked spans of FTS5's highlight() or the
    phrase's occurrences in the folded words (``_pair_window``); a match's
    frequency is weighted like bm25's column weights; the
    document length is the docsize total, as FTS5's ``xColumnSize(-1)``. With
    one term or phrase the IDF is the same for every row, so the order is
    FTS5's exactly, and so is the score when ``n_hit`` is the true match count
    (a smaller one only scales every score alike). Hand-written because FTS5's
    own bm25 first counts the term or phrase over the whole index for that
    IDF: a second full pass over the posting lists, which for a phrase of
    common words costs as much as the search itself. Returns (rowid, score),
    best (lowest) first, newer first on ties.
    """
    idf = math.log((n_rows - n_hit + 0.5) / (n_hit + 0.5))
    idf = idf if idf > 0.0 else 1e-6
    scored = []
    for rowid, in_title, in_body, docsize in rows:
        freq = TITLE_WEIGHT * in_title + in_body
        length = sum(sqlite_varints(docsize))
        score = -idf * freq * (_K1 + 1.0) / (freq + _K1 * (1.0 - _B + _B * length / avgdl))
        scored.append((score, -rowid))
    scored.sort()
    return [(-neg_id, score) for score, neg_id in scored]


def _fts_averages(conn: Any) -> tuple[int, float]:
    """Rows in the FTS5 index and their mean length in tokens, from its averages record."""
    blob = conn.execute(text("SELECT block FROM articles_fts_data WHERE id = 1")).scalar()
    values = sqlite_varints(blob or b"")
    n_rows = values[0] if values else 0
    return n_rows, (sum(values[1:]) / n_rows if n_rows else 1.0)


class Fts5Marker:
    """FTS5's ``highlight()`` of the headline and ``snippet()`` of the body for a page of
    rows, computed in a small in-memory FTS5 table holding just those rows.

    Asked of ``articles_fts`` for a page of 30 rows, the same functions cost 1.5 to
    2.5 ms: FTS5 runs the MATCH once per row, seeking the posting list of every word
    of the query to that row (80 us a row for two common words at 1M articles).
    Both functions read only the row's own text and the query's matches in it (no
    index-wide statistics), so a table of the page's rows with the same tokenizer
    gives the same marks (``tests/test_pairs.py`` compares them; 9,933 hits of
    ``benchmarks/web.py``'s queries at 1M articles, all the same) in about 0.2 ms,
    inserted in a transaction that is rolled back. A row the in-memory MATCH does
    not match is left out, so the page shows only rows FTS5 itself matches. One
    instance serves one thread.
    """

    def __init__(self) -> None:
        self._con = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        self._con.execute(f"CREATE VIRTUAL TABLE m USING fts5(title, text, tokenize='{FTS5_TOKENIZER}')")

    def __call__(
        self, match: str, rows: Sequence[tuple[int, str | None, str | None]]
    ) -> dict[int, tuple[str, str]]:
        """{rowid: (marked headline, body snippet)} of the ``rows`` that ``match`` matches."""
        con = self._con
        con.execute("BEGIN")  # rolled back: the rows never reach the table's segments
        try:
            con.executemany("INSERT INTO m(rowid, title, text) VALUES (?, ?, ?)", rows)
            found = con.execute(
                "SELECT rowid, highlight(m, 0, ?1, ?2), snippet(m, 1, ?1, ?2, '…', 28) FROM m "
                "WHERE m MATCH ?3",
                (MARK_START, MARK_END, match),
            )
            return {rowid: (title, snip) for rowid, title, snip in found}
        finally:
            con.execute("ROLLBACK")


class SearchStore:
    """Full-text search and browse queries for the reader and the API."""

    def __init__(self, engine: Engine, *, pair_index: bool = True) -> None:
        """``pair_index=False`` takes FTS5's own road for every phrase (the baseline)."""
        self.engine = engine
        self.pair_index = pair_index
        self._local = threading.local()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    # search --------------------------------------------------------------
    def search(
        self,
        raw: str,
        *,
        filters: SearchFilters | None = None,
        limit: int = 20,
        offset: int = 0,
        sort: str = "relevance",
    ) -> SearchPage:
        """Ranked matches for ``raw`` with highlighted snippets; ``sort`` may be "date"."""
        parsed = parse_query(raw)
        if parsed.empty:
            return SearchPage((), parsed, None)
        offset = max(0, min(offset, MAX_OFFSET))
        cond = _filters(filters or SearchFilters(), scan_fts_first=self.dialect == "sqlite")
        try:
            if self.dialect == "sqlite":
                rows = self._sqlite(parsed, cond, limit + 1, offset, sort, use_pairs=self.pair_index)
            else:
                rows = self._postgres(parsed, cond, limit + 1, offset, sort)
        except SQLAlchemyError as e:
            raise StorageError(f"search failed: {e}") from e
        more = len(rows) > limit and offset + limit <= MAX_OFFSET
        hits = tuple(
            SearchHit(
                article=_article(r),
                score=float(r.score or 0.0),
                title_html=highlight_html(r.title_hl) if r.title_hl else Markup(escape(r.title)),
                snippet_html=highlight_html(r.snip),
            )
            for r in rows[:limit]
        )
        return SearchPage(hits, parsed, offset + limit if more else None)

    def _sqlite(
        self,
        parsed: ParsedQuery,
        cond: list[Any],
        limit: int,
        offset: int,
        sort: str,
        *,
        use_pairs: bool = True,
    ) -> list[Any]:
        """The newest SEARCH_WINDOW matches (ids grow with ingestion; FTS5 walks rowids
        backwards without sorting), filters applied, ordered by rank or date; then the
        page's rows with their highlights.

        Ranking takes one of two roads. A query of one phrase (every quoted phrase, and
        words like "India-Canada", unless a word repeats) is ranked by ``bm25_one``
        from the marked text of the window: one pass over the posting lists instead of
        FTS5 bm25's two, and a phrase pass, which checks positions wherever its words
        meet, is the dear one (about 20 % less time at 1M articles, benchmarks/web.py's
        data). Any other query is ranked by FTS5's own bm25: its IDF counts are cheap for
        single words, and marking every row of a full window of a common word costs more
        than they do. A date-ordered query keeps FTS5's bm25 for its scores (asked for
        the page's rows alone, FTS5 would count the IDF once per row). A one-phrase
        query of ASCII words, with ``use_pairs``, finds its window through the word-pair
        index (``_pair_window``), the same rows with the same counts.
        """
        match = fts5_query(parsed)
        one = len(parsed.phrases) == 1 and not parsed.terms and not _may_overlap(parsed.phrases[0])
        params: dict[str, Any] = {"match": match}
        with self.engine.connect() as conn:
            if sort == "date":
                w = self._window(_FTS_BM25, cond).add_columns(_FTS_BM25.c.score).subquery("w")
                q = (
                    select(w.c.id, w.c.score)
                    .join(articles, articles.c.id == w.c.id)
                    .order_by(articles.c.sort_at.desc(), articles.c.id.desc())
                    .limit(limit)
                    .offset(offset)
                )
                ranked = [(r.id, r.score) for r in conn.execute(q, params)]
            elif one:
                if use_pairs and is_ascii_phrase(parsed.phrases[0] + parsed.excluded):
                    rows = self._pair_window(conn, parsed.phrases[0], parsed.excluded, cond)
                else:
                    m = _FTS_MARKED
                    window = (
                        self._window(m, cond)
                        .add_columns(m.c.t, m.c.b, _DOCSIZE.c.sz)
                        .join(_DOCSIZE, _DOCSIZE.c.id == m.c.id)
                    )
                    rows = [
                        (i, t.count(MARK_START), b.count(MARK_START), sz)
                        for i, t, b, sz in conn.execute(window, params)
                    ]
                # the window holds every match unless it is full, filtered or has an
                # exclusion: the IDF's count is then exact, else a floor (which scales
                # all scores alike)
                ranked = bm25_one(rows, *_fts_averages(conn), n_hit=len(rows))
                ranked = ranked[offset : offset + limit]
            else:
                w = self._window(_FTS_BM25, cond).add_columns(_FTS_BM25.c.score).subquery("w")
                q = select(w.c.id, w.c.score).order_by(w.c.score, w.c.id.desc()).limit(limit).offset(offset)
                ranked = [(r.id, r.score) for r in conn.execute(q, params)]
            if not ranked:
                return []
            # the page's articles, then their highlights: snippets are made for the rows
            # shown only, never for every match
            page_rows = {
                r.id: r
                for r in conn.execute(select(articles).where(articles.c.id.in_([i for i, _ in ranked])))
            }
        marks = self._marker()(match, [(i, r.title, r.text) for i, r in page_rows.items()])
        return [_Row(page_rows[i], score, *marks[i]) for i, score in ranked if i in page_rows and i in marks]

    def _marker(self) -> Fts5Marker:
        """This thread's ``Fts5Marker`` (an in-memory SQLite connection serves one thread)."""
        marker: Fts5Marker | None = getattr(self._local, "marker", None)
        if marker is None:
            marker = self._local.marker = Fts5Marker()
        return marker

    @staticmethod
    def _pair_window(
        conn: Any, phrase: Sequence[str], excluded: Sequence[str], cond: list[Any]
    ) -> list[tuple[int, int, int, bytes]]:
        """The one-phrase window through the word-pair index: what the FTS5 road's
        window holds (the newest SEARCH_WINDOW matches after filters, with the
        phrase's count in headline and body, and the docsize), without walking the
        posting lists of the phrase's words.

        Candidates come newest first from ``articles_pairs`` (every pair of the
        phrase), SEARCH_WINDOW at a time; each is checked against its headline and
        body split as FTS5 splits them (``pairs.words``): the phrase's words in a row
        in one column, no excluded word in either. Checked in Python, not by FTS5:
        FTS5 seeking to a rowid costs ~25 us (1,000 candidates: slower than the scan
        this replaces); reading the row and splitting it costs a fraction of that.
        The rows shown are matched by FTS5 again for their snippets, so a hash
        collision can never show a non-match.
        """
        pairs = " ".join(f'"{t}"' for t in pair_tokens(phrase))
        n = len(phrase)
        target = list(phrase)
        unwanted = set(excluded)
        # ASCII text: FTS5's tokens are the [0-9A-Za-z] runs, so the phrase is its words
        # with separators between and word edges around (count_ascii_phrase); an
        # excluded word is a whole run
        edge_l, edge_r = r"(?<![0-9A-Za-z])", r"(?![0-9A-Za-z])"
        flags = re.IGNORECASE | re.ASCII
        unwanted_re = (
            re.compile(edge_l + "(?:" + "|".join(excluded) + ")" + edge_r, flags) if excluded else None
        )
        fts5: Fts5Words | None = None
        rows: list[tuple[int, int, int, bytes]] = []
        before = 2**63 - 1
        while len(rows) < SEARCH_WINDOW:
            cand = [
                r[0]
                for r in conn.execute(
                    _PAIR_CANDIDATES, {"pairs": pairs, "before": before, "n": SEARCH_WINDOW}
                )
            ]
            if not cand:
                break
            q = (
                select(articles.c.id, articles.c.title, articles.c.text, _DOCSIZE.c.sz)
                .join(_DOCSIZE, _DOCSIZE.c.id == articles.c.id)
                .where(articles.c.id.in_(cand), *cond)
                .order_by(articles.c.id.desc())
            )
            for rowid, title, body, size in conn.execute(q):
                counts = []
                clean = True
                for value in (title or "", body or ""):
                    if value.isascii():
                        counts.append(count_ascii_phrase(value, phrase))
                        clean = clean and not (unwanted_re and unwanted_re.search(value))
                    else:
                        fts5 = fts5 or Fts5Words()
                        found = words(value, fts5)
                        counts.append(
                            sum(
                                1
                                for i, w in enumerate(found)
                                if w == target[0] and found[i : i + n] == target
                            )
                        )
                        clean = clean and not unwanted.intersection(found)
                if (counts[0] or counts[1]) and clean:
                    rows.append((rowid, counts[0], counts[1], size))
                    if len(rows) == SEARCH_WINDOW:
                        break
            if len(cand) < SEARCH_WINDOW:
                break
            before = cand[-1]
        return rows

    @staticmethod
    def _window(m: Any, cond: list[Any]) -> Any:
        """The newest SEARCH_WINDOW rows of the FTS subquery ``m``, after filters."""
        q = select(m.c.id)
        if cond:
            q = q.join(articles, articles.c.id == m.c.id).where(*cond)
        return q.order_by(m.c.id.desc()).limit(SEARCH_WINDOW)

    def _postgres(
        self, parsed: ParsedQuery, cond: list[Any], limit: int, offset: int, sort: str
    ) -> list[Any]:
        tsq = func.websearch_to_tsquery("simple", bindparam("wq"))
        vector = literal_column("articles.search")
        rank = func.ts_rank_cd(vector, tsq).label("score")
        q = select(articles.c.id, rank).where(vector.op("@@")(tsq), *cond).limit(limit).offset(offset)
        if sort == "date":
            q = q.order_by(articles.c.sort_at.desc(), articles.c.id.desc())
        else:
            q = q.order_by(rank.desc(), articles.c.sort_at.desc())
        params = {"wq": web_query(parsed)}
        with self.engine.connect() as conn:
            ranked = conn.execute(q, params).all()
            if not ranked:
                return []
            ids = [r.id for r in ranked]
            score = {r.id: r.score for r in ranked}
            opts = (
                f"StartSel={MARK_START}, StopSel={MARK_END}, MaxWords=40, MinWords=15, "
                "MaxFragments=2, FragmentDelimiter=…"
            )
            marks = conn.execute(
                text(
                    "SELECT id, ts_headline('simple', title, websearch_to_tsquery('simple', :wq), "
                    "'HighlightAll=true, StartSel=' || :s || ', StopSel=' || :e) AS title_hl, "
                    "ts_headline('simple', text, websearch_to_tsquery('simple', :wq), :opts) AS snip "
                    "FROM articles WHERE id = ANY(:ids)"
                ),
                {**params, "s": MARK_START, "e": MARK_END, "opts": opts, "ids": ids},
            ).all()
            hl = {r.id: r for r in marks}
            full = {r.id: r for r in conn.execute(select(articles).where(articles.c.id.in_(ids)))}
        return [
            _Row(full[i], score[i], hl[i].title_hl if i in hl else None, hl[i].snip if i in hl else None)
            for i in ids
            if i in full
        ]

    # browse --------------------------------------------------------------
    def top_stories(self, limit: int, *, category: str | None = None) -> list[StoryCard]:
        """The hottest stories (ix_stories_hotness), optionally of one category."""
        q = select(*_STORY_COLUMNS).order_by(stories.c.hotness.desc(), stories.c.id.desc()).limit(limit)
        if category:
            q = q.where(stories.c.category == category)
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
            lead_ids = [r.representative_article_id or r.first_article_id for r in rows]
            leads = {
                r.id: _article(r)
                for r in conn.execute(select(articles).where(articles.c.id.in_([i for i in lead_ids if i])))
            }
        return [
            StoryCard(
                _story(r),
                r.article_count or 0,
                r.publisher_count or 0,
                leads.get(r.representative_article_id or r.first_article_id or 0),
            )
            for r in rows
        ]

    def front_page(
        self, n_top: int = 6, n_sections: int = 6, per_section: int = 4, pool: int = 150
    ) -> tuple[list[StoryCard], list[tuple[str, list[StoryCard]]]]:
        """Top stories and per-category sections from the ``pool`` hottest stories.

        Two indexed queries in all (stories by hotness, then their lead
        articles by id), whatever the number of sections.
        """
        q = select(*_STORY_COLUMNS).order_by(stories.c.hotness.desc(), stories.c.id.desc()).limit(pool)
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
            top_rows = rows[:n_top]
            by_cat: dict[str, list[Any]] = {}
            for r in rows[n_top:]:
                if r.category:
                    by_cat.setdefault(r.category, []).append(r)
            cats = sorted(by_cat, key=lambda c: -len(by_cat[c]))[:n_sections]
            shown = top_rows + [r for c in cats for r in by_cat[c][:per_section]]
            lead_ids = [r.representative_article_id or r.first_article_id for r in shown]
            leads = {
                a.id: _article(a)
                for a in conn.execute(select(articles).where(articles.c.id.in_([i for i in lead_ids if i])))
            }

        def card(r: Any) -> StoryCard:
            return StoryCard(
                _story(r),
                r.article_count or 0,
                r.publisher_count or 0,
                leads.get(r.representative_article_id or r.first_article_id or 0),
            )

        return (
            [card(r) for r in top_rows],
            [(c, [card(r) for r in by_cat[c][:per_section]]) for c in sorted(cats)],
        )

    def categories(self, limit: int = 12) -> list[str]:
        """Categories present among the hottest stories, most present first."""
        q = (
            select(stories.c.category)
            .where(stories.c.category.is_not(None))
            .order_by(stories.c.hotness.desc())
            .limit(500)
        )
        counts: dict[str, int] = {}
        with self.engine.connect() as conn:
            for (cat,) in conn.execute(q):
                counts[cat] = counts.get(cat, 0) + 1
        return sorted(counts, key=lambda c: -counts[c])[:limit]

    def story(self, story_id: int) -> Story | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(*_STORY_COLUMNS).where(stories.c.id == story_id)).first()
        return _story(row) if row else None

    def story_articles(self, story_id: int, limit: int = 500) -> list[Article]:
        """Every article of a story, oldest first (ix_articles_story_id)."""
        q = (
            select(articles)
            .where(articles.c.story_id == story_id)
            .order_by(articles.c.sort_at, articles.c.id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [_article(r) for r in conn.execute(q)]

    def storyline_stories(self, storyline_id: int, limit: int = 50) -> list[Story]:
        q = (
            select(*_STORY_COLUMNS)
            .where(stories.c.storyline_id == storyline_id)
            .order_by(stories.c.first_seen_at, stories.c.id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [_story(r) for r in conn.execute(q)]

    def articles_where(
        self,
        limit: int,
        *,
        before: tuple[datetime, int] | None = None,
        topic: str | None = None,
        entity_id: int | None = None,
        country: str | None = None,
        story_id: int | None = None,
        source_id: int | None = None,
        language: str | None = None,
    ) -> list[Article]:
        """Newest first by (sort_at, id) keyset, narrowed to a topic, entity, country, story,
        publisher or language."""
        q = select(articles).order_by(articles.c.sort_at.desc(), articles.c.id.desc()).limit(limit)
        if source_id is not None:
            q = q.where(articles.c.source_id == source_id)
        if language:
            q = q.where(articles.c.language == language.lower())
        if topic is not None:
            q = q.where(articles.c.topic == topic)
        if story_id is not None:
            q = q.where(articles.c.story_id == story_id)
        if entity_id is not None:
            q = q.where(
                articles.c.id.in_(select(mentions.c.article_id).where(mentions.c.entity_id == entity_id))
            )
        if country:
            q = q.where(*_filters(SearchFilters(country=country)))
        if before is not None:
            at, aid = before
            # the first term is the index range (ix_articles_sort_at); an OR alone is a scan
            q = q.where(articles.c.sort_at <= at, or_(articles.c.sort_at < at, articles.c.id < aid))
        with self.engine.connect() as conn:
            return [_article(r) for r in conn.execute(q)]

    def entity(self, entity_id: int) -> Entity | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(entities).where(entities.c.id == entity_id)).first()
        return Entity(row.id, row.kind, row.name, code=row.code) if row else None

    def entities_list(self, limit: int = 100, *, kind: str | None = None, after_id: int = 0) -> list[Entity]:
        q = select(entities).where(entities.c.id > after_id).order_by(entities.c.id).limit(limit)
        if kind:
            q = q.where(entities.c.kind == kind)
        with self.engine.connect() as conn:
            return [Entity(r.id, r.kind, r.name, code=r.code) for r in conn.execute(q)]

    def stories_list(
        self, limit: int, *, before: tuple[float, int] | None = None, category: str | None = None
    ) -> list[StoryCard]:
        """Stories by hotness with a (hotness, id) keyset cursor, for the API."""
        q = select(*_STORY_COLUMNS).order_by(stories.c.hotness.desc(), stories.c.id.desc()).limit(limit)
        if category:
            q = q.where(stories.c.category == category)
        if before is not None:
            hot, sid = before
            q = q.where(stories.c.hotness <= hot, or_(stories.c.hotness < hot, stories.c.id < sid))
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        return [StoryCard(_story(r), r.article_count or 0, r.publisher_count or 0, None) for r in rows]


class _Row:
    """A matched article row with its score and highlights."""

    __slots__ = ("_mapping", "score", "snip", "title", "title_hl")

    def __init__(self, row: Any, score: float, title_hl: str | None, snip: str | None) -> None:
        self._mapping = row._mapping
        self.score = score
        self.title = row.title
        self.title_hl = title_hl
        self.snip = snip
