"""The dedup and clustering stage as the pipeline runs it, one stored article at a time.

For each newly stored article (``StoryStage.process``):

1. ``dedup.DuplicateIndex`` looks for an earlier copy of its text (exact
   fingerprint, then MinHash LSH near-duplicate); a copy joins (or starts) the
   original's duplicate group, with the credited wire agency, and its
   ``duplicate_of`` points at the group's earliest article;
2. ``cluster.StoryClusterer`` places it: a copy goes to its original's story,
   anything else to the most similar active story or a new one;
3. the story's derived columns are recomputed (representative headline = the
   most central article, summary, counts, first reporter, times, hotness);
4. a new story looks for an earlier story (``storyline_days`` back) that it
   continues, and joins that story's storyline;
5. every ``ClusterParams.merge_every`` articles, active stories whose
   centroids are at least ``cluster_merge_threshold`` alike are merged: the
   smaller one's articles move to the larger and the smaller is deleted.

With ``cluster_embeddings`` on, step 2 also reads each article's
all-MiniLM-L6-v2 embedding (the ``embeddings`` extra) and mixes it into
every similarity (``ClusterParams.dense_weight``), with its own thresholds.

The decisions are the pure functions of ``tidings.dedup`` and
``tidings.cluster``; this module holds their in-memory state (online IDF,
active clusters, recent texts) and does the reading and writing through
``store.stories``. On first use the state is warmed from the articles of the
last ``storyline_days`` days, so a restarted process carries on where the
last one stopped. The state is per process: with PostgreSQL workers the
post-store stages run in one leader process (``tidings.queue``), so there is
one clusterer at a time.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tidings.cluster import (
    LEAD_CHARS,
    ClusterParams,
    EmbeddingBackend,
    OnlineIdf,
    StoryClusterer,
    StorylineIndex,
    Vector,
    most_central,
    text_terms,
)
from tidings.config import Settings
from tidings.dedup import DuplicateIndex, detect_agency
from tidings.model import Article
from tidings.store import Store
from tidings.store.schema import now_utc

HALF_LIFE_HOURS = 12.0
_EPOCH = datetime(2020, 1, 1, tzinfo=UTC)
CENTROID_TERMS = 60
REPRESENTATIVE_POOL = 200
VECTOR_CACHE = 50_000


def params_from(settings: Settings) -> ClusterParams:
    """The clusterer's knobs from the settings (the embedding thresholds when that backend is on)."""
    if settings.cluster_embeddings:
        threshold = settings.cluster_embedding_threshold
        merge_threshold = settings.cluster_embedding_merge_threshold
    else:
        threshold, merge_threshold = settings.cluster_threshold, settings.cluster_merge_threshold
    return ClusterParams(
        threshold=threshold,
        window=settings.cluster_window_hours,
        storyline_threshold=settings.storyline_threshold,
        storyline_days=settings.storyline_days,
        merge_threshold=merge_threshold,
    )


def article_time(article: Article) -> datetime:
    """When the article entered the news: published, but never after it was fetched."""
    fetched = article.fetched_at or now_utc()
    return min(article.published_at or fetched, fetched)


def hours(at: datetime) -> float:
    return (at - _EPOCH).total_seconds() / 3600.0


def hotness_key(article_count: int, publisher_count: int, last_updated: datetime) -> float:
    """A sortable hotness: log(articles and publishers) plus time, so older stories decay.

    Ordering by this key is ordering by ``cluster.hotness`` (the weight halved
    every ``HALF_LIFE_HOURS``) at any moment, without rewriting old rows.
    """
    weight = math.log1p(article_count) + 2.0 * math.log1p(publisher_count)
    return math.log(weight) + hours(last_updated) * math.log(2) / HALF_LIFE_HOURS


def lead(article: Article) -> str:
    return article.text or article.summary or ""


def dedup_text(article: Article) -> str:
    return article.text or article.summary or ""


def embedding_text(article: Article) -> str:
    """What the embedding backend reads: the headline and the lead."""
    return f"{article.title}. {lead(article)[:LEAD_CHARS]}"


@dataclass(frozen=True, slots=True)
class Placement:
    """What the stage did with one article."""

    article_id: int
    story_id: int
    new_story: bool
    duplicate_of: int | None = None
    storyline_id: int | None = None


class StoryStage:
    """Dedup then clustering for stored articles; one per process (holds the online state)."""

    def __init__(self, settings: Settings, store: Store, params: ClusterParams | None = None) -> None:
        self.store = store
        self.params = params or params_from(settings)
        self.idf = OnlineIdf()
        self.clusterer = StoryClusterer(self.params)
        self.dups = DuplicateIndex(window=settings.dedup_window_hours)
        self.lines = StorylineIndex(self.params.storyline_threshold, self.params.storyline_days)
        self._vectors: dict[int, Vector] = {}
        self._warm = False
        # raises ClusterError when the setting is on but the embeddings extra is missing
        self.embedder = EmbeddingBackend() if settings.cluster_embeddings else None

    def dense(self, articles: list[Article]) -> list[Any]:
        """Embedding rows of ``articles`` (all None when the embedding backend is off)."""
        if self.embedder is None or not articles:
            return [None] * len(articles)
        return list(self.embedder.encode([embedding_text(a) for a in articles]))

    def vector(self, article: Article, *, observe: bool = True) -> Vector:
        """The article's TF-IDF vector; kept (for ``VECTOR_CACHE`` articles) once observed."""
        cached = self._vectors.get(article.id) if article.id is not None else None
        if cached is not None:
            return cached
        vec = self.idf.weigh(text_terms(article.title, lead(article)), observe=observe)
        if observe and article.id is not None:
            self._vectors[article.id] = vec
            if len(self._vectors) > VECTOR_CACHE:
                for old in list(self._vectors)[: VECTOR_CACHE // 4]:
                    del self._vectors[old]
        return vec

    def warm(self, now: datetime | None = None, *, skip: int | None = None) -> int:
        """Load the recent past (IDF, active stories, recent texts) from the store."""
        self._warm = True
        now = now or now_utc()
        since = now - timedelta(days=self.params.storyline_days)
        for story_id, _line, centroid, last in self.store.stories.recent(since):
            if centroid and last is not None:
                self.lines.update(story_id, centroid, hours(last))
        n = 0
        active: list[tuple[Article, int, Vector, float]] = []
        for article in self.store.stories.articles_since(since):
            if article.id is None or article.id == skip:
                continue
            at = hours(article_time(article))
            vec = self.vector(article)
            if article.story_id is not None and hours(now) - at <= self.params.window:
                active.append((article, article.story_id, vec, at))
            self.dups.add(article.id, dedup_text(article), at)
            n += 1
        rows = self.dense([a for a, *_ in active])
        for (_, story_id, vec, at), row in zip(active, rows, strict=True):
            self.clusterer.add(story_id, vec, at, row)
        return n

    def process(self, article: Article) -> Placement:
        """Dedup, cluster and record one stored article."""
        assert article.id is not None, "the article must be stored first"
        if not self._warm:
            self.warm(skip=article.id)
        at_dt = article_time(article)
        at = hours(at_dt)
        text = dedup_text(article)
        match = self.dups.find(text, at)
        self.dups.add(article.id, text, at)
        vec = self.vector(article)
        row = self.dense([article])[0]

        stories = self.store.stories
        story_id: int | None = None
        duplicate_of: int | None = None
        if match is not None and isinstance(match.key, int) and match.key != article.id:
            original = self.store.articles.get(match.key)
            if original is not None:
                agency = detect_agency(text, article.author) or detect_agency(
                    dedup_text(original), original.author
                )
                stories.add_duplicate(article.id, match.key, agency)
                duplicate_of = self.store.articles.get(article.id).duplicate_of  # type: ignore[union-attr]
                story_id = original.story_id
        if story_id is None:
            label = self.clusterer.decide(vec, at, row).label
            story_id = label if isinstance(label, int) else None
        new_story = story_id is None
        if story_id is None:
            centroid = dict(sorted(vec.items(), key=lambda kv: -kv[1])[:CENTROID_TERMS])
            story_id = stories.create_for(
                article,
                first_seen_at=at_dt,
                centroid=centroid,
                hotness=hotness_key(1, 1, article.fetched_at or at_dt),
            )
            self.clusterer.add(story_id, vec, at, row)
            if centroid:
                self.lines.update(story_id, centroid, at)
        else:
            self.clusterer.add(story_id, vec, at, row)
            self.refresh(story_id, assign=article.id)
        line = None
        if new_story:
            line = self.link_storyline(story_id, vec, at_dt)
        if self.clusterer.merge_due():
            for keep, gone in self.merge(at):
                if story_id == gone:
                    story_id = keep
        return Placement(article.id, story_id, new_story, duplicate_of, line)

    def merge(self, at: float) -> list[tuple[int, int]]:
        """The clusterer's periodic merge step, written out: absorbed stories' articles move."""
        done = []
        for keep, gone in self.clusterer.merge_step(at):
            assert isinstance(keep, int) and isinstance(gone, int)
            self.store.stories.merge(gone, into=keep)
            self.lines.forget(gone)
            done.append((keep, gone))
        for keep in {k for k, _ in done}:
            self.refresh(keep)
        return done

    def refresh(self, story_id: int, assign: int | None = None) -> None:
        """Recompute a story's representative, counts, times and hotness (one transaction)."""

        def choose(members: list[Article]) -> int | None:
            return members[most_central([self.vector(m, observe=False) for m in members])].id

        centroid = self.clusterer.centroid(story_id, CENTROID_TERMS)
        members = self.store.stories.refresh(
            story_id,
            choose=choose,
            hotness=hotness_key,
            centroid=centroid or None,
            assign=assign,
            pool=REPRESENTATIVE_POOL,
        )
        if centroid and members:
            self.lines.update(story_id, centroid, max(hours(article_time(m)) for m in members))

    def link_storyline(self, story_id: int, vec: Vector, at: datetime) -> int | None:
        """Join the storyline of the most similar earlier story, if one is similar enough."""
        earlier = self.lines.match(vec, hours(at), exclude=story_id)
        if not isinstance(earlier, int):
            return None
        return self.store.stories.link_storyline(story_id, earlier)


def recluster(
    settings: Settings, store: Store, on_article: Callable[[int, int], None] | None = None
) -> tuple[int, int]:
    """Rebuild every story, storyline and duplicate group from the stored articles.

    The articles are kept; their story and duplicate links are recomputed in
    stream order (time, then id) with the current settings. Returns
    (articles processed, stories made).
    """
    store.stories.reset()
    stage = StoryStage(settings, store)
    stage._warm = True  # start from nothing: the stream below is the whole past
    order = [i for i, _ in store.stories.ordered_ids()]
    done = 0
    for start in range(0, len(order), 200):
        for article in store.stories.get_many(order[start : start + 200]):
            stage.process(article)
            done += 1
            if on_article is not None:
                on_article(done, len(order))
    return done, store.stories.count()
