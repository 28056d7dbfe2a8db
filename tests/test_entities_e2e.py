"""Enrichment end to end: fixture publisher on a real socket -> fetch -> enriched rows -> pages, API,
`tidings reenrich` and `tidings export`.

The publisher serves one RSS feed with three articles of our own writing: the
India-Canada security story (``tests/data/enrich/india-canada.txt``), a cricket
report and a Hindi story whose page declares ``lang="en"`` (the detector, not
the declaration, must win).
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from typer.testing import CliRunner

from tidings.cli import app
from tidings.config import load_settings
from tidings.enrich import sentences
from tidings.model import Article
from tidings.store import Store
from tidings.store.schema import articles, now_utc
from tidings.web import create_app

from .conftest import PublisherServer

DATA = Path(__file__).parent / "data" / "enrich"
runner = CliRunner()

CRICKET = (
    "Bumrah takes five as India bowl out Australia in Perth",
    "Jasprit Bumrah took five wickets for 30 runs as India bowled Australia out for 104 on the "
    "second day of the first Test in Perth.\n\nCaptain Rohit Sharma said the bowlers had set up "
    "the match. Australia need 430 runs to win with two days left in the Test.",
)
HINDI = (
    "दिल्ली में भारी बारिश से यातायात प्रभावित",
    "राष्ट्रीय राजधानी में शुक्रवार सुबह हुई भारी बारिश से कई इलाकों में पानी भर गया और यातायात "
    "बुरी तरह प्रभावित हुआ।\n\nमौसम विभाग ने अगले दो दिनों तक और बारिश की चेतावनी जारी की है।",
)


def cli(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.output


def page(title: str, body: str, lang: str = "en") -> str:
    paras = "".join(f"<p>{html.escape(p)}</p>" for p in body.split("\n\n") if p.strip())
    return (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><title>{html.escape(title)}'
        f'</title><meta name="author" content="Staff Reporter"></head><body><article>'
        f"<h1>{html.escape(title)}</h1>{paras}</article></body></html>"
    )


def feed(base: str, items: list[tuple[str, str, str]]) -> str:
    out = "".join(
        f"<item><title>{html.escape(t)}</title><link>{base}/enrich/{slug}.html</link>"
        f"<guid>{base}/enrich/{slug}.html</guid><category>{html.escape(cat)}</category>"
        f"<pubDate>Fri, 20 Nov 2026 0{k}:00:00 GMT</pubDate></item>"
        for k, (slug, t, cat) in enumerate(items)
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>Enrich Planet</title>'
        f"<link>{base}/enrich/</link><language>en</language>{out}</channel></rss>"
    )


@pytest.fixture
def enriched(publisher_server: PublisherServer, cli_env: dict[str, str]) -> dict[str, str]:
    s = publisher_server
    title, _, body = (DATA / "india-canada.txt").read_text(encoding="utf-8").partition("\n\n")
    s.add("/enrich/india-canada.html", page(title, body))
    s.add("/enrich/cricket.html", page(*CRICKET))
    s.add("/enrich/hindi.html", page(*HINDI, lang="en"))  # declared wrongly on purpose
    s.add(
        "/enrich/feed.rss",
        feed(
            s.base,
            [
                ("india-canada", title, "News"),
                ("cricket", CRICKET[0], "Cricket"),
                ("hindi", HINDI[0], "News"),
            ],
        ),
        content_type="application/rss+xml",
    )
    code, out = cli(
        cli_env,
        "sources",
        "add",
        s.url("/enrich/feed.rss"),
        "--name",
        "Enrich Planet",
        "--country",
        "in",
        "--language",
        "en",
    )
    assert code == 0, out
    code, out = cli(cli_env, "fetch")
    assert code == 0, out
    assert "3 new articles" in out
    return cli_env


def _by_title(st: Store) -> dict[str, Article]:
    return {a.title: a for a in st.articles.iter_all()}


def test_fetch_enriches_every_new_article(enriched: dict[str, str]) -> None:
    st = Store(enriched["TIDINGS_DATABASE_URL"])
    try:
        arts = _by_title(st)
        story = next(a for t, a in arts.items() if t.startswith("India, Canada"))
        info = st.entities.enrichment_of(story.id or 0)
        assert info["language"] == "en"
        assert info["topics"][0] in {"world", "politics"}
        assert {"IN", "CA", "US", "MX"} <= set(info["countries"])
        people = {e["name"] for e in info["entities"] if e["kind"] == "person"}
        assert {
            "Ajit Doval",
            "Nathalie Drouin",
            "Mark Carney",
            "Justin Trudeau",
            "Hardeep Singh Nijjar",
            "Donald Trump",
        } <= people
        places = {e["name"] for e in info["entities"] if e["kind"] == "place"}
        assert {"Ottawa", "New Delhi"} <= places
        assert info["summary"]
        assert all(s in story.text for s in sentences(info["summary"]))  # extractive
        doval = next(r.entity for r in st.entities.top(50, kind="person") if r.entity.name == "Ajit Doval")
        assert doval.id is not None
        assert "Doval" in (st.entities.get(doval.id) or doval).aliases

        cricket = arts[CRICKET[0]]
        assert st.entities.enrichment_of(cricket.id or 0)["topics"] == ["sport"]  # the feed's category
        hindi = arts[HINDI[0]]
        assert st.articles.get(hindi.id or 0).language == "hi"  # type: ignore[union-attr]
    finally:
        st.close()


def test_pages_and_api(enriched: dict[str, str]) -> None:
    settings = load_settings(environ=enriched)
    st = Store(enriched["TIDINGS_DATABASE_URL"])
    try:
        client = TestClient(create_app(settings, st))
        story = next(a for t, a in _by_title(st).items() if t.startswith("India, Canada"))
        doval = next(r.entity for r in st.entities.top(50, kind="person") if r.entity.name == "Ajit Doval")

        art = client.get(f"/article/{story.id}")
        assert art.status_code == 200
        for link in (
            f'href="/entity/{doval.id}"',
            'href="/country/IN"',
            'href="/countries/CA-IN"',
            'href="/topic/',
        ):
            assert link in art.text, link

        ent = client.get(f"/entity/{doval.id}")
        assert ent.status_code == 200
        assert "Ajit Doval" in ent.text and "<svg" in ent.text
        assert "<script" not in ent.text.split("</head>")[1]
        assert f'href="/article/{story.id}"' in ent.text
        assert "Also called" in ent.text and "Doval" in ent.text

        for path in ("/country/CA", "/country/in", "/countries/CA-IN", "/countries/IN-CA"):
            r = client.get(path)
            assert r.status_code == 200, path
            assert f'href="/article/{story.id}"' in r.text and "<svg" in r.text
        assert "Canada–India" in client.get("/countries/IN-CA").text
        sport = client.get("/topic/sport")
        assert sport.status_code == 200 and "Bumrah takes five" in sport.text
        assert "India, Canada" not in sport.text
        assert client.get("/entities").status_code == 200
        for missing in (
            "/entity/999999",
            "/country/ZZ",
            "/countries/CA-ZZ",
            "/countries/nonsense",
            "/topic/no-such-topic",
        ):
            assert client.get(missing).status_code == 404, missing

        countries = client.get("/api/countries").json()
        assert {"IN", "CA"} <= {c["code"] for c in countries["items"]}
        assert any({p["a"], p["b"]} == {"CA", "IN"} for p in countries["pairs"])
        pair = client.get("/api/countries/IN-CA").json()
        assert pair["a"]["code"] == "CA" and pair["b"]["code"] == "IN"
        assert [a["id"] for a in pair["items"]] == [story.id]
        assert len(pair["per_day"]) == 30 and all(d["stories"] >= 0 for d in pair["per_day"])
        topics = {t["topic"]: t["articles"] for t in client.get("/api/topics").json()["items"]}
        assert topics["sport"] == 1
        one = client.get(f"/api/entities/{doval.id}").json()
        assert one["name"] == "Ajit Doval" and "Doval" in one["aliases"]
        listed = client.get("/api/entities", params={"kind": "person"}).json()
        assert "Ajit Doval" in {e["name"] for e in listed["items"]}
        assert client.get("/api/entities/999999").status_code == 404
    finally:
        st.close()


def test_reenrich_and_export(enriched: dict[str, str]) -> None:
    st = Store(enriched["TIDINGS_DATABASE_URL"])
    try:
        # an article stored without enrichment (as by an older version), and one whose enrichment is stale
        late = st.articles.insert(
            Article(
                id=None,
                url="http://127.0.0.1/late",
                canonical_url="http://127.0.0.1/late",
                title="Carney and Modi meet in New Delhi",
                text="Canadian Prime Minister Mark Carney met Prime Minister Narendra Modi in New Delhi "
                "on Monday to restart trade talks between Canada and India.",
                html="",
                publisher="Enrich Planet",
                source_id=None,
                feed_id=None,
                fetched_at=now_utc(),
            )
        )
        assert late is not None
        with st.engine.begin() as conn:
            conn.execute(update(articles).values(topic="stale"))
    finally:
        st.close()
    code, out = cli(enriched, "reenrich")
    assert code == 0, out
    assert "enriched 4 articles" in out
    st = Store(enriched["TIDINGS_DATABASE_URL"])
    try:
        assert "stale" not in dict(st.entities.topics())
        info = st.entities.enrichment_of(late)
        assert {"CA", "IN"} <= set(info["countries"])
        assert {"Mark Carney", "Narendra Modi"} <= {e["name"] for e in info["entities"]}
    finally:
        st.close()

    code, out = cli(enriched, "export")
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert len(rows) == 4
    for row in rows:
        assert {"language", "entities", "countries", "topics", "summary"} <= set(row)
    story = next(r for r in rows if r["title"].startswith("India, Canada"))
    assert story["language"] == "en" and {"IN", "CA"} <= set(story["countries"])
    assert "Ajit Doval" in {e["name"] for e in story["entities"]}
    assert story["topics"] and story["summary"]
    hindi = next(r for r in rows if r["title"] == HINDI[0])
    assert hindi["language"] == "hi"


def test_enrich_setting_turns_the_stage_off(
    publisher_server: PublisherServer, cli_env: dict[str, str]
) -> None:
    s = publisher_server
    s.add("/enrich/cricket.html", page(*CRICKET))
    s.add(
        "/enrich/feed.rss",
        feed(s.base, [("cricket", CRICKET[0], "Cricket")]),
        content_type="application/rss+xml",
    )
    env = {**cli_env, "TIDINGS_ENRICH": "false"}
    assert cli(env, "sources", "add", s.url("/enrich/feed.rss"), "--name", "Off")[0] == 0
    code, out = cli(env, "fetch")
    assert code == 0 and "1 new articles" in out, out
    st = Store(env["TIDINGS_DATABASE_URL"])
    try:
        assert st.entities.topics() == []
        assert st.entities.top(10) == []
    finally:
        st.close()


def test_story_category_is_the_commonest_topic(store: Store) -> None:
    from sqlalchemy import insert

    from tidings.enrich import Enricher
    from tidings.store.schema import stories

    with store.engine.begin() as conn:
        story_id = conn.execute(
            insert(stories).values(title="Test series", article_count=0, publisher_count=0, hotness=0.0)
        ).inserted_primary_key[0]
    enricher = Enricher()
    ids = []
    for k, (title, text) in enumerate(
        [CRICKET, CRICKET, ("Markets close higher", "Shares rose as investors cheered profits.")]
    ):
        aid = store.articles.insert(
            Article(
                id=None,
                url=f"http://127.0.0.1/s{k}",
                canonical_url=f"http://127.0.0.1/s{k}",
                title=title,
                text=text,
                html="",
                publisher="P",
                source_id=None,
                feed_id=None,
                fetched_at=now_utc(),
            )
        )
        assert aid is not None
        ids.append(aid)
        with store.engine.begin() as conn:
            conn.execute(update(articles).where(articles.c.id == aid).values(story_id=story_id))
        store.entities.save(aid, enricher.enrich_article(store.articles.get(aid)))  # type: ignore[arg-type]
    assert store.search.story(story_id).category == "sport"  # type: ignore[union-attr]
