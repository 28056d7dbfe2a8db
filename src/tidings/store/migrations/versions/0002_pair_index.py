"""word-pair index for phrase search (SQLite only)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 18:50:00

``articles_pairs``: one token per pair of adjacent words of an article's
headline and of its body (``tidings.store.pairs``), kept by triggers that call
the ``tidings_pairs`` SQL function (registered on every connection by
``make_engine``), and filled here for the articles already stored. Changing
the tokenisation needs a new revision that rebuilds the table. PostgreSQL:
nothing (its GIN index serves phrases).
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SQLITE_PAIRS = [
    "CREATE VIRTUAL TABLE articles_pairs USING fts5(p, content='', detail=none, columnsize=0)",
    "CREATE TRIGGER articles_pairs_ai AFTER INSERT ON articles BEGIN "
    "INSERT INTO articles_pairs(rowid, p) VALUES (new.id, tidings_pairs(new.title, new.text)); END",
    "CREATE TRIGGER articles_pairs_ad AFTER DELETE ON articles BEGIN "
    "INSERT INTO articles_pairs(articles_pairs, rowid, p) "
    "VALUES ('delete', old.id, tidings_pairs(old.title, old.text)); END",
    "CREATE TRIGGER articles_pairs_au AFTER UPDATE OF title, text ON articles BEGIN "
    "INSERT INTO articles_pairs(articles_pairs, rowid, p) "
    "VALUES ('delete', old.id, tidings_pairs(old.title, old.text)); "
    "INSERT INTO articles_pairs(rowid, p) VALUES (new.id, tidings_pairs(new.title, new.text)); END",
    "INSERT INTO articles_pairs(rowid, p) SELECT id, tidings_pairs(title, text) FROM articles",
]


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for statement in SQLITE_PAIRS:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("articles_pairs_ai", "articles_pairs_ad", "articles_pairs_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS articles_pairs")
