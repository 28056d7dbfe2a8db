"""The SQLite word-pair ("biword") index behind fast phrase search.

A phrase of two common words matches few articles, yet FTS5 walks the whole
posting lists of both words to find them. ``articles_pairs`` (revision 0002,
SQLite only) is a contentless FTS5 table with one token per pair of adjacent
words of an article's headline, and one per pair of its body (no pair spans
headline -> body, as no FTS5 phrase does): the rare pair has a short posting
list. ``SearchStore`` takes candidates from it and checks each with the real
FTS5 phrase, so a candidate that is not a match (a hash collision) costs a
lookup, never a wrong hit.

Adjacency must be FTS5's exactly (``unicode61 remove_diacritics 2``, the
tokenizer of ``articles_fts``): FTS5 phrases match across punctuation and
sentence ends, so pairs do too. A pair's token is ``'p'`` + 12 hex characters
of the BLAKE2b hash of the two folded words: ASCII alphanumerics, which FTS5's
tokenizer keeps whole.

Splitting, in ``words``: an ASCII text is split on everything but ``[0-9A-Za-z]``
and lower-cased, which is what unicode61 does to ASCII. Any other text is
tokenized by FTS5 itself, in a small in-memory FTS5 table read back through
``fts5vocab``: unicode61 folds and splits by its own Unicode tables (some
combining marks are separators, others are dropped inside a word; "ø" folds to
"o"), which Python's ``unicodedata`` (another Unicode version, NFKD rather than
FTS5's diacritic table) does not reproduce. Hand-written glue because no
library exposes an SQLite tokenizer to Python.

The index is kept by triggers on ``articles`` calling the SQL function
``tidings_pairs(title, text)``; every connection that writes articles must
have it: ``make_engine`` registers it, and code that opens SQLite directly
calls ``register_sqlite_functions``. The delete and update triggers remove
the old row's tokens with FTS5's ``'delete'`` command, recomputed by the same
function (SQLite 3.40 has no ``contentless_delete``), so changing the
tokenisation (``words``, ``pair_token``) needs a new revision that rebuilds
the table (``DELETE`` everything through ``'delete-all'``, then refill).
"""

from __future__ import annotations

import hashlib
import itertools
import re
import sqlite3
from collections.abc import Callable, Iterable, Sequence

PAIRS_FUNCTION = "tidings_pairs"
_ASCII_WORD = re.compile(r"[0-9A-Za-z]+")
_ASCII_ALNUM = re.compile(r"[0-9a-z]+")
FTS5_TOKENIZER = "unicode61 remove_diacritics 2"


def pair_token(first: str, second: str) -> str:
    """The index token of two adjacent folded words (pure)."""
    digest = hashlib.blake2b(f"{first} {second}".encode(), digest_size=6).hexdigest()
    return "p" + digest


def pair_tokens(words: Sequence[str]) -> list[str]:
    """The tokens of every adjacent pair of ``words``, first occurrence order, no repeats."""
    return list(dict.fromkeys(pair_token(a, b) for a, b in itertools.pairwise(words)))


def is_ascii_phrase(words: Iterable[str]) -> bool:
    """Whether every word is lower-case ASCII alphanumeric: then FTS5's tokens are the words."""
    return all(_ASCII_ALNUM.fullmatch(w) for w in words)


class Fts5Words:
    """Splits text into FTS5's folded tokens, by FTS5 itself (non-ASCII text).

    One in-memory contentless FTS5 table per instance; an instance serves one
    connection (one statement at a time), so it needs no lock.
    """

    def __init__(self) -> None:
        self._con = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        self._con.execute(f"CREATE VIRTUAL TABLE t USING fts5(x, content='', tokenize='{FTS5_TOKENIZER}')")
        self._con.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, 'instance')")

    def __call__(self, *texts: str) -> list[list[str]]:
        out: list[list[tuple[int, str]]] = [[] for _ in texts]
        self._con.executemany("INSERT INTO t(rowid, x) VALUES (?, ?)", list(enumerate(texts)))
        try:
            for term, doc, offset in self._con.execute("SELECT term, doc, offset FROM v"):
                out[doc].append((offset, term))
        finally:
            self._con.execute("INSERT INTO t(t) VALUES ('delete-all')")
        return [[term for _, term in sorted(found)] for found in out]


def words(text: str, fts5: Fts5Words | None = None) -> list[str]:
    """FTS5's folded tokens of ``text``, in order (``fts5`` serves non-ASCII text)."""
    if text.isascii():
        return [w.lower() for w in _ASCII_WORD.findall(text)]
    return (fts5 or Fts5Words())(text)[0]


def pairs_function() -> Callable[[str | None, str | None], str]:
    """``tidings_pairs(title, text)``: the space-joined pair tokens of an article."""
    fts5: list[Fts5Words] = []  # made on the first non-ASCII text, then kept

    def tidings_pairs(title: str | None, body: str | None) -> str:
        texts = (title or "", body or "")
        if not fts5 and not all(t.isascii() for t in texts):
            fts5.append(Fts5Words())
        tokens = pair_tokens(words(texts[0], fts5[0] if fts5 else None))
        tokens += pair_tokens(words(texts[1], fts5[0] if fts5 else None))
        return " ".join(dict.fromkeys(tokens))

    return tidings_pairs


def register_sqlite_functions(dbapi_conn: sqlite3.Connection) -> None:
    """Register ``tidings_pairs`` on a DB-API SQLite connection (the pair index's triggers call it)."""
    dbapi_conn.create_function(PAIRS_FUNCTION, 2, pairs_function(), deterministic=True)
