"""Unit tests of tidings.cluster: features, online IDF, the single-pass clusterer, storylines."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tidings.cluster import (
    ClusterParams,
    OnlineIdf,
    StoryClusterer,
    cosine,
    hotness,
    most_central,
    storyline_match,
    text_terms,
    tokens,
)


def test_tokens_drop_stop_words_and_single_letters() -> None:
    assert tokens("The Prime Minister of India, Narendra Modi, said a word") == [
        "prime",
        "minister",
        "india",
        "narendra",
        "modi",
        "word",
    ]


def test_text_terms_has_unigrams_and_bigrams_within_parts() -> None:
    terms = text_terms("Volcano erupts", "Ash cloud")
    assert terms["volcano"] == 1 and terms["volcano erupts"] == 1 and terms["ash cloud"] == 1
    assert "erupts ash" not in terms  # no bigram across headline and lead


@given(st.text(max_size=200))
def test_weighted_vectors_are_unit_length_or_empty(text: str) -> None:
    vec = OnlineIdf().weigh(text_terms(text))
    norm = math.sqrt(sum(x * x for x in vec.values()))
    assert vec == {} or abs(norm - 1.0) < 1e-9


def test_online_idf_down_weighs_common_terms() -> None:
    idf = OnlineIdf()
    for i in range(20):
        idf.observe({"news": 1, f"rare{i}": 1})
    vec = idf.weigh({"news": 1, "volcano": 1})
    assert vec["volcano"] > vec["news"]


def _stream(clusterer: StoryClusterer, idf: OnlineIdf, items: list[tuple[str, float]]) -> list[int]:
    labels: list[int] = []
    for text, now in items:
        vec = idf.weigh(text_terms(text))
        label = clusterer.decide(vec, now).label
        if label is None:
            label = 1000 + len(labels)
        clusterer.add(label, vec, now)
        labels.append(int(label))  # type: ignore[arg-type]
    return labels


def test_same_event_joins_and_different_event_starts_new_cluster() -> None:
    items = [
        ("iceland volcano erupts ash cloud grounds flights", 0.0),
        ("champions league final madrid beat liverpool", 0.5),
        ("volcano eruption iceland flights cancelled across europe", 1.0),
        ("ash cloud from iceland volcano closes airports", 2.0),
        ("liverpool lose champions league final to madrid", 2.5),
    ]
    labels = _stream(StoryClusterer(ClusterParams()), OnlineIdf(), items)
    assert labels[0] == labels[2] == labels[3]
    assert labels[1] == labels[4]
    assert labels[0] != labels[1]


def test_window_closes_old_clusters() -> None:
    params = ClusterParams(window=10.0)
    clusterer = StoryClusterer(params)
    labels = _stream(
        clusterer,
        OnlineIdf(),
        [
            ("iceland volcano erupts ash cloud", 0.0),
            ("iceland volcano erupts ash cloud again", 50.0),
        ],
    )
    assert labels[0] != labels[1]
    clusterer.prune(50.0)
    assert len(clusterer) == 1


def test_prune_keeps_decisions_for_active_clusters() -> None:
    a = StoryClusterer(ClusterParams(window=5.0), prune_every=1)
    b = StoryClusterer(ClusterParams(window=5.0), prune_every=10**9)
    texts = [(f"story{i % 7} topic{i % 3} common words here", float(i)) for i in range(60)]
    assert _stream(a, OnlineIdf(), texts) == _stream(b, OnlineIdf(), texts)


def test_centroid_is_normalised_mean_direction() -> None:
    c = StoryClusterer(ClusterParams())
    c.add("s", {"a": 1.0}, 0.0)
    c.add("s", {"b": 1.0}, 0.0)
    cent = c.centroid("s")
    assert abs(cent["a"] - math.sqrt(0.5)) < 1e-9 and abs(cent["b"] - math.sqrt(0.5)) < 1e-9


def test_storyline_match_picks_most_similar_above_threshold() -> None:
    cands = [(1, {"india": 0.7, "canada": 0.7}), (2, {"football": 1.0})]
    assert storyline_match({"india": 0.6, "canada": 0.6, "talks": 0.5}, cands, 0.3) == 1
    assert storyline_match({"volcano": 1.0}, cands, 0.3) is None


def test_most_central_and_hotness() -> None:
    vecs = [{"a": 1.0}, {"a": 0.8, "b": 0.6}, {"b": 1.0}]
    assert most_central(vecs) == 1
    assert hotness(10, 5, 0.0) > hotness(10, 5, 24.0) > 0
    assert hotness(10, 8, 1.0) > hotness(10, 2, 1.0)
    assert cosine({}, {"a": 1.0}) == 0.0


def test_merge_step_joins_fragments_of_one_story_and_keeps_others_apart() -> None:
    c = StoryClusterer(ClusterParams(merge_threshold=0.5, merge_every=4))
    c.add("big", {"volcano": 0.8, "iceland": 0.6}, 0.0)
    c.add("big", {"volcano": 0.6, "ash": 0.8}, 1.0)
    c.add("frag", {"volcano": 0.7, "iceland": 0.7}, 2.0)  # a fragment of the same story
    c.add("other", {"football": 0.8, "volcano": 0.2, "final": 0.56}, 3.0)
    assert c.merge_due()
    sim = c.centroid_similarity("big", "frag")
    assert sim >= 0.5 > c.centroid_similarity("big", "other")
    assert c.merge_step(3.0) == [("big", "frag")]  # the larger cluster keeps its label
    assert len(c) == 2
    assert abs(sum(x * x for x in c.centroid("big").values()) - 1.0) < 1e-9
    # the absorbed cluster's member now counts for "big" (max-member term) and nothing is left
    assert c.merge_step(3.0) == []
    assert set(c.scores({"iceland": 1.0}, 3.0)) == {"big"}


def test_merge_step_equals_clustering_the_union() -> None:
    vecs = [{"a": 0.6, "b": 0.8}, {"a": 1.0}, {"a": 0.8, "c": 0.6}]
    merged = StoryClusterer(ClusterParams(merge_threshold=0.1))
    merged.add(1, vecs[0], 0.0)
    merged.add(1, vecs[1], 1.0)
    merged.add(2, vecs[2], 2.0)
    assert merged.merge_step(2.0) == [(1, 2)]
    whole = StoryClusterer(ClusterParams())
    for i, v in enumerate(vecs):
        whole.add(1, v, float(i))
    probe = {"a": 0.5, "b": 0.5, "c": 0.7071}
    assert merged.scores(probe, 2.0)[1] == pytest.approx(whole.scores(probe, 2.0)[1])
    assert merged.centroid(1) == pytest.approx(whole.centroid(1))


def test_merging_is_off_above_one() -> None:
    c = StoryClusterer(ClusterParams(merge_threshold=1.5, merge_every=1))
    c.add(1, {"a": 1.0}, 0.0)
    assert not c.merge_due()
