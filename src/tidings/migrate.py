"""Moving an installation between databases: ``tidings migrate-db --from URL --to URL``.

Both databases are brought to the newest schema revision, then every table of
``store.schema.metadata`` is copied in foreign-key order, in primary-key
batches (constant memory), keeping ids so links between rows stay intact.
Self-references (``articles.duplicate_of``) are filled in a second pass, so
row order never trips a foreign key. On PostgreSQL the id sequences are moved
past the copied ids afterwards. The target must be empty (a half-finished
copy is re-run with ``--replace``, which empties the target's tables first).
``verify`` counts the rows of every table on both sides.

Full-text search needs no copying: the PostgreSQL ``search`` column is
generated from the row, the SQLite FTS5 index is filled by its triggers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Table, delete, func, insert, select, text, tuple_, update
from sqlalchemy.exc import SQLAlchemyError

from tidings.errors import StorageError
from tidings.store import Store
from tidings.store.schema import metadata

BATCH = 1000
Progress = Callable[[str, int], None]


@dataclass(frozen=True, slots=True)
class TableCount:
    table: str
    source: int
    target: int

    @property
    def ok(self) -> bool:
        return self.source == self.target


def _self_refs(table: Table) -> list[Column[Any]]:
    return [c for c in table.columns if any(fk.column.table is table for fk in c.foreign_keys)]


def _order(table: Table) -> list[Column[Any]]:
    return list(table.primary_key.columns)


def counts(store: Store) -> dict[str, int]:
    with store.engine.connect() as conn:
        return {
            t.name: int(conn.execute(select(func.count()).select_from(t)).scalar_one())
            for t in metadata.sorted_tables
        }


def verify(source: Store, target: Store) -> list[TableCount]:
    """Rows per table on both sides."""
    a, b = counts(source), counts(target)
    return [TableCount(name, a[name], b[name]) for name in a]


def copy_database(
    source: Store, target: Store, *, replace: bool = False, on_rows: Progress | None = None
) -> list[TableCount]:
    """Copy every row of ``source`` into ``target``; returns the verification counts."""
    try:
        existing = counts(target)
        if any(existing.values()):
            if not replace:
                busy = ", ".join(f"{k} ({v})" for k, v in existing.items() if v)
                raise StorageError(
                    f"the target database is not empty: {busy}; use --replace to empty it first"
                )
            with target.engine.begin() as conn:
                for table in reversed(metadata.sorted_tables):
                    conn.execute(delete(table))
        for table in metadata.sorted_tables:
            _copy_table(source, target, table, on_rows)
        if target.dialect == "postgresql":
            _reset_sequences(target)
    except SQLAlchemyError as e:
        raise StorageError(f"copy failed: {e}") from e
    return verify(source, target)


def _copy_table(source: Store, target: Store, table: Table, on_rows: Progress | None) -> None:
    refs = _self_refs(table)
    keys = _order(table)
    last: tuple[Any, ...] | None = None
    while True:
        q = select(table).order_by(*keys).limit(BATCH)
        if last is not None:
            q = q.where(tuple_(*keys) > tuple_(*last))
        with source.engine.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(q)]
        if not rows:
            return
        later = [
            {**{c.name: r[c.name] for c in keys}, **{c.name: r[c.name] for c in refs}}
            for r in rows
            if any(r[c.name] is not None for c in refs)
        ]
        for r in rows:
            for c in refs:
                r[c.name] = None
        with target.engine.begin() as conn:
            conn.execute(insert(table), rows)
        if later:
            (key,) = keys  # self-references only exist on single-column keys here
            with target.engine.begin() as conn:
                for r in later:
                    conn.execute(
                        update(table).where(key == r[key.name]).values({c.name: r[c.name] for c in refs})
                    )
        last = tuple(rows[-1][c.name] for c in keys)
        if on_rows is not None:
            on_rows(table.name, len(rows))


def _reset_sequences(target: Store) -> None:
    with target.engine.begin() as conn:
        for table in metadata.sorted_tables:
            keys = _order(table)
            if len(keys) != 1 or not keys[0].autoincrement or keys[0].type.python_type is not int:
                continue
            seq = conn.execute(
                text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": table.name, "c": keys[0].name}
            ).scalar_one_or_none()
            if seq:
                conn.execute(
                    text(
                        f"SELECT setval('{seq}', COALESCE((SELECT max({keys[0].name}) "
                        f"FROM {table.name}), 0) + 1, false)"
                    )
                )
