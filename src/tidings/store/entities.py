"""Entities, aliases, mentions and topics: what the enrich stage writes and the browse pages read.

``save(article_id, enrichment)`` replaces an article's enrichment in one
transaction: the enrich-owned columns of ``articles`` (language, topic,
keywords, abstract, enriched_at), its ``mentions`` and any new ``entities`` and
``entity_aliases``. Entities are keyed by (kind, canonical name); a person
known only by one word ("Doval") joins the one stored person who already has
that alias, when there is exactly one (co-reference across the corpus).

When the article belongs to a story, the story's ``category`` becomes the
commonest topic of its articles: the topic of a story is the enrich stage's
answer, the same as an article's.

Country pairs are not stored: two country mentions on one article make the
pair, so ``pair_articles`` and ``daily_counts(pair=...)`` join ``mentions``
with itself. Counts per day count *stories*: articles of one story count once,
an article without a story counts as its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, and_, delete, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from tidings.errors import StorageError
from tidings.model import Article, Entity
from tidings.store.articles import _article
from tidings.store.schema import articles, entities, entity_aliases, mentions, now_utc, stories

if TYPE_CHECKING:
    from tidings.enrich import Enrichment


@dataclass(frozen=True, slots=True)
class Ranked:
    """An entity (or country, or topic) with how many articles mention it."""

    entity: Entity
    articles: int


@dataclass(frozen=True, slots=True)
class Pair:
    a: Entity  # the countries, codes in alphabetical order
    b: Entity
    articles: int


def _chunks(items: Sequence[str], size: int) -> Iterable[Sequence[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _entity(row: Any, aliases: Sequence[str] = ()) -> Entity:
    return Entity(row.id, row.kind, row.name, tuple(aliases), code=row.code)


class EntityStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _insert_ignore(self, table: Any) -> Any:
        """INSERT ... ON CONFLICT DO NOTHING on SQLite and PostgreSQL alike."""
        if self.engine.dialect.name == "postgresql":
            return postgresql.insert(table).on_conflict_do_nothing()
        return sqlite.insert(table).on_conflict_do_nothing()

    # -- writing ---------------------------------------------------------------

    def save(self, article_id: int, enrichment: Enrichment) -> None:
        """Replace the enrichment of one article (one transaction)."""
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    update(articles)
                    .where(articles.c.id == article_id)
                    .values(
                        language=enrichment.language,
                        topic=enrichment.topic,
                        keywords=list(enrichment.keywords) or None,
                        abstract=enrichment.summary or None,
                        enriched_at=now_utc(),
                    )
                )
                conn.execute(delete(mentions).where(mentions.c.article_id == article_id))
                ids = self._entity_ids(conn, enrichment)
                counts: dict[int, int] = {}
                aliases: set[tuple[int, str]] = set()
                for m in enrichment.entities:
                    entity_id = ids[(m.kind, m.name[:500])]
                    counts[entity_id] = counts.get(entity_id, 0) + max(1, m.count)
                    aliases.update((entity_id, a[:500]) for a in (m.name, *m.aliases))
                if aliases:
                    conn.execute(
                        self._insert_ignore(entity_aliases),
                        [{"entity_id": e, "alias": a} for e, a in sorted(aliases)],
                    )
                if counts:
                    conn.execute(
                        insert(mentions),
                        [
                            {"article_id": article_id, "entity_id": eid, "count": c}
                            for eid, c in counts.items()
                        ],
                    )
                story_id = conn.execute(
                    select(articles.c.story_id).where(articles.c.id == article_id)
                ).scalar()
                if story_id is not None:
                    self._story_topic(conn, story_id)
        except SQLAlchemyError as e:
            raise StorageError(f"cannot save enrichment of article {article_id}: {e}") from e

    def _entity_ids(self, conn: Any, enrichment: Enrichment) -> dict[tuple[str, str], int]:
        """Ids of the article's entities, inserting the new ones: a handful of statements in all."""
        wanted = {(m.kind, m.name[:500]): m.code for m in enrichment.entities}
        ids: dict[tuple[str, str], int] = {}
        for kind, name in wanted:
            if kind == "person" and " " not in name:  # "Doval" alone: the one stored person so called
                found = self._person_by_alias(conn, name)
                if found is not None:
                    ids[(kind, name)] = found
        missing = [k for k in wanted if k not in ids]
        for attempt in range(2):
            if not missing:
                break
            names = {name for _, name in missing}
            for chunk in _chunks(sorted(names), 400):
                rows = conn.execute(
                    select(entities.c.id, entities.c.kind, entities.c.name).where(entities.c.name.in_(chunk))
                ).all()
                ids.update({(r.kind, r.name): int(r.id) for r in rows if (r.kind, r.name) in wanted})
            missing = [k for k in wanted if k not in ids]
            if missing and attempt == 0:
                conn.execute(
                    self._insert_ignore(entities),
                    [
                        {
                            "kind": kind,
                            "name": name,
                            "code": wanted[(kind, name)] if kind == "country" else None,
                        }
                        for kind, name in missing
                    ],
                )
        if missing:
            raise StorageError(f"entities not stored: {missing[:3]}")
        return ids

    @staticmethod
    def _story_topic(conn: Any, story_id: int) -> None:
        """A story's category is the commonest topic of its articles ("general" only if nothing else)."""
        n = func.count().label("n")
        rows = conn.execute(
            select(articles.c.topic, n)
            .where(articles.c.story_id == story_id, articles.c.topic.is_not(None))
            .group_by(articles.c.topic)
            .order_by(n.desc(), articles.c.topic)
        ).all()
        topics = [r.topic for r in rows if r.topic != "general"] or [r.topic for r in rows]
        if topics:
            conn.execute(update(stories).where(stories.c.id == story_id).values(category=topics[0]))

    def refresh_story(self, story_id: int) -> None:
        """Recompute one story's category from its articles' topics (after clustering moves articles)."""
        with self.engine.begin() as conn:
            self._story_topic(conn, story_id)

    @staticmethod
    def _person_by_alias(conn: Any, alias: str) -> int | None:
        rows = conn.execute(
            select(entities.c.id)
            .join(entity_aliases, entity_aliases.c.entity_id == entities.c.id)
            .where(entities.c.kind == "person", entity_aliases.c.alias == alias, entities.c.name != alias)
            .limit(2)
        ).all()
        return int(rows[0][0]) if len(rows) == 1 else None

    # -- reading ---------------------------------------------------------------

    def get(self, entity_id: int) -> Entity | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(entities).where(entities.c.id == entity_id)).first()
            if row is None:
                return None
            aliases = conn.execute(
                select(entity_aliases.c.alias)
                .where(entity_aliases.c.entity_id == entity_id)
                .order_by(entity_aliases.c.alias)
            ).scalars()
            return _entity(row, [a for a in aliases if a != row.name])

    def country(self, code: str) -> Entity | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(entities).where(entities.c.kind == "country", entities.c.code == code.upper()).limit(1)
            ).first()
        return _entity(row) if row else None

    def of_article(self, article_id: int) -> list[tuple[Entity, int]]:
        """The entities an article mentions, with mention counts, most mentioned first."""
        q = (
            select(entities, mentions.c.count)
            .join(mentions, mentions.c.entity_id == entities.c.id)
            .where(mentions.c.article_id == article_id)
            .order_by(mentions.c.count.desc(), entities.c.kind, entities.c.name)
        )
        with self.engine.connect() as conn:
            return [(_entity(r), int(r.count)) for r in conn.execute(q)]

    def enrichment_of(self, article_id: int) -> dict[str, Any]:
        """The export fields of one article: language, entities, countries, topics, summary."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(
                    articles.c.language,
                    articles.c.topic,
                    articles.c.keywords,
                    articles.c.abstract,
                    articles.c.enriched_at,
                ).where(articles.c.id == article_id)
            ).first()
        found = self.of_article(article_id)
        return {
            "language": row.language if row else None,
            "topics": [row.topic] if row and row.topic else [],
            "keywords": list(row.keywords or []) if row else [],
            "summary": row.abstract if row else None,
            "countries": [e.code for e, _ in found if e.kind == "country" and e.code],
            "entities": [
                {"id": e.id, "kind": e.kind, "name": e.name, "mentions": c}
                for e, c in found
                if e.kind != "country"
            ],
        }

    def top(self, limit: int = 50, *, kind: str | None = None, since: datetime | None = None) -> list[Ranked]:
        """Entities by the number of articles mentioning them (optionally recent ones only)."""
        n = func.count(mentions.c.article_id).label("n")
        q = (
            select(entities, n)
            .join(mentions, mentions.c.entity_id == entities.c.id)
            .group_by(*entities.c)
            .order_by(n.desc(), entities.c.name)
            .limit(limit)
        )
        if kind:
            q = q.where(entities.c.kind == kind)
        if since is not None:
            q = q.join(articles, articles.c.id == mentions.c.article_id).where(articles.c.sort_at >= since)
        with self.engine.connect() as conn:
            return [Ranked(_entity(r), int(r.n)) for r in conn.execute(q)]

    def top_pairs(self, limit: int = 50, *, code: str | None = None) -> list[Pair]:
        """Country pairs by the number of articles mentioning both."""
        m1, m2 = mentions.alias("m1"), mentions.alias("m2")
        e1, e2 = entities.alias("e1"), entities.alias("e2")
        n = func.count().label("n")
        q = (
            select(
                e1.c.id.label("a_id"),
                e1.c.name.label("a_name"),
                e1.c.code.label("a_code"),
                e2.c.id.label("b_id"),
                e2.c.name.label("b_name"),
                e2.c.code.label("b_code"),
                n,
            )
            .select_from(
                m1.join(m2, m1.c.article_id == m2.c.article_id)
                .join(e1, e1.c.id == m1.c.entity_id)
                .join(e2, e2.c.id == m2.c.entity_id)
            )
            .where(e1.c.kind == "country", e2.c.kind == "country", e1.c.code < e2.c.code)
            .group_by(e1.c.id, e1.c.name, e1.c.code, e2.c.id, e2.c.name, e2.c.code)
            .order_by(n.desc(), e1.c.code, e2.c.code)
            .limit(limit)
        )
        if code:
            q = q.where(or_(e1.c.code == code.upper(), e2.c.code == code.upper()))
        with self.engine.connect() as conn:
            return [
                Pair(
                    Entity(r.a_id, "country", r.a_name, code=r.a_code),
                    Entity(r.b_id, "country", r.b_name, code=r.b_code),
                    int(r.n),
                )
                for r in conn.execute(q)
            ]

    def topics(self) -> list[tuple[str, int]]:
        """Topics with their article counts, commonest first."""
        n = func.count().label("n")
        q = (
            select(articles.c.topic, n)
            .where(articles.c.topic.is_not(None))
            .group_by(articles.c.topic)
            .order_by(n.desc(), articles.c.topic)
        )
        with self.engine.connect() as conn:
            return [(r.topic, int(r.n)) for r in conn.execute(q)]

    # -- article lists and counts per day for the browse pages -------------------

    def _where(
        self, *, entity_id: int | None = None, pair: tuple[int, int] | None = None, topic: str | None = None
    ) -> list[Any]:
        cond: list[Any] = []
        if entity_id is not None:
            cond.append(
                articles.c.id.in_(select(mentions.c.article_id).where(mentions.c.entity_id == entity_id))
            )
        if pair is not None:
            m1, m2 = mentions.alias("p1"), mentions.alias("p2")
            cond.append(
                articles.c.id.in_(
                    select(m1.c.article_id)
                    .join(m2, m1.c.article_id == m2.c.article_id)
                    .where(m1.c.entity_id == pair[0], m2.c.entity_id == pair[1])
                )
            )
        if topic is not None:
            cond.append(articles.c.topic == topic)
        return cond

    def articles(
        self,
        limit: int,
        *,
        before: tuple[datetime, int] | None = None,
        entity_id: int | None = None,
        pair: tuple[int, int] | None = None,
        topic: str | None = None,
    ) -> list[Article]:
        """Articles newest first (keyset on sort_at, id) about an entity, a pair or a topic."""
        q = (
            select(articles)
            .where(*self._where(entity_id=entity_id, pair=pair, topic=topic))
            .order_by(articles.c.sort_at.desc(), articles.c.id.desc())
            .limit(limit)
        )
        if before is not None:
            at, aid = before
            q = q.where(or_(articles.c.sort_at < at, and_(articles.c.sort_at == at, articles.c.id < aid)))
        with self.engine.connect() as conn:
            return [_article(r) for r in conn.execute(q)]

    def daily_counts(
        self,
        days: int = 30,
        *,
        entity_id: int | None = None,
        pair: tuple[int, int] | None = None,
        topic: str | None = None,
        today: date | None = None,
    ) -> list[tuple[date, int]]:
        """Stories per day over the last ``days`` days (oldest first, zero days included)."""
        end = today or now_utc().date()
        start = end - timedelta(days=days - 1)
        since = datetime(start.year, start.month, start.day, tzinfo=now_utc().tzinfo)
        q = select(articles.c.sort_at, articles.c.story_id, articles.c.id).where(
            articles.c.sort_at >= since, *self._where(entity_id=entity_id, pair=pair, topic=topic)
        )
        seen: dict[date, set[int]] = {}
        with self.engine.connect() as conn:
            for at, story_id, aid in conn.execute(q):
                key = story_id if story_id is not None else -aid
                seen.setdefault(at.date(), set()).add(key)
        return [
            (start + timedelta(days=k), len(seen.get(start + timedelta(days=k), ()))) for k in range(days)
        ]

    def countries_by_code(self, codes: Iterable[str]) -> dict[str, Entity]:
        wanted = [c.upper() for c in codes]
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(entities).where(entities.c.kind == "country", entities.c.code.in_(wanted))
            ).all()
        return {r.code: _entity(r) for r in rows}
