"""Outgoing feeds: RSS 2.0, Atom and JSON Feed for every list, read back by feedparser.

Every feed must parse without bozo, every item must link to the original
article and carry the attribution line, and conditional GET must answer 304.
The site is the one test_web.py builds with the real pipeline (hostile
publisher included).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import feedparser
import pytest
from fastapi.testclient import TestClient

from tidings.model import Article
from tidings.parse import parse_feed
from tidings.web import create_app
from tidings.web.feeds import FeedMeta, render_feed

from .test_web import EVIL_PUBLISHER, Site, site  # noqa: F401  (module fixture)

ATTRIBUTION = "This story is auto aggregated by a computer programme and has not been created"


@pytest.fixture(scope="module")
def client(site: Site) -> TestClient:  # noqa: F811
    return TestClient(create_app(site.settings, site.store))


def scopes(site: Site) -> list[str]:  # noqa: F811
    evil = next(s for s in site.store.sources.list_sources() if s.name == EVIL_PUBLISHER)
    return [
        "",
        "/category/world",
        f"/publisher/{evil.id}",
        f"/entity/{site.entity_id}",
        "/country/ca",
        "/topic/world",
        f"/story/{site.story_id}",
        "/search",
    ]


@pytest.mark.parametrize("fmt", ["rss", "atom", "json"])
def test_every_feed_parses_and_links_to_originals(
    site: Site,  # noqa: F811
    client: TestClient,
    fmt: str,
) -> None:
    originals = {a.id: a.url for a in site.store.articles.iter_all()}
    for scope in scopes(site):
        url = f"{scope}/feed.{fmt}" + ("?q=festival" if scope == "/search" else "")
        r = client.get(url)
        assert r.status_code == 200, url
        assert r.headers["content-type"].startswith(
            {"rss": "application/rss+xml", "atom": "application/atom+xml", "json": "application/feed+json"}[
                fmt
            ]
        )
        if fmt == "json":
            check_json_feed(r.content, originals)
            continue
        parsed = feedparser.parse(r.content)
        assert not parsed.bozo, (url, parsed.get("bozo_exception"))
        assert parsed.version == {"rss": "rss20", "atom": "atom10"}[fmt]
        assert parsed.entries, url
        for entry in parsed.entries:
            article_id = int(entry.id.rsplit("/", 1)[1])
            assert entry.link == originals[article_id], url
            body = (entry.get("content") or [{}])[0].get("value") or entry.get("summary", "")
            assert ATTRIBUTION in body, url
            assert "<script" not in body.lower()


def check_json_feed(body: bytes, originals: dict[int | None, str]) -> None:
    """JSON Feed 1.1's required members, then read back by tidings' own JSON Feed adapter.

    (feedparser 6.0 reads RSS and Atom only.)
    """
    doc = json.loads(body)
    assert doc["version"] == "https://jsonfeed.org/version/1.1" and doc["title"]
    assert doc["items"]
    for item in doc["items"]:
        assert isinstance(item["id"], str) and ("content_html" in item or "content_text" in item)
        assert item["url"] == item["external_url"] == originals[int(item["id"].rsplit("/", 1)[1])]
        assert ATTRIBUTION in item["content_html"] and ATTRIBUTION in item["_tidings"]["attribution"]
        assert "<script" not in item["content_html"].lower()
    parsed = parse_feed(body, "https://site.example/feed.json")
    assert [e.link for e in parsed.entries] == [i["url"] for i in doc["items"]]


def test_feed_contents(site: Site, client: TestClient) -> None:  # noqa: F811
    story = feedparser.parse(client.get(f"/story/{site.story_id}/feed.atom").content)
    assert {int(e.id.rsplit("/", 1)[1]) for e in story.entries} == {
        site.ids["india"],
        site.ids["hindi"],
        site.ids["markets"],
    }
    assert story.feed.title.startswith("India and Canada agree on a security work plan")
    search = feedparser.parse(client.get("/search/feed.rss", params={"q": "tram"}).content)
    assert search.entries[0].title == "City council approves new tram line"
    evil = feedparser.parse(client.get(scopes(site)[2] + "/feed.rss").content)
    titles = [e.title for e in evil.entries]
    assert "<script>window.__pwned=1</script>Script in the headline" in titles  # text, kept as text
    assert client.get("/feed.xml").status_code == 404
    assert client.get("/publisher/99999/feed.rss").status_code == 404
    assert client.get("/story/99999/feed.json").status_code == 404
    assert client.get("/country/xyz/feed.rss").status_code == 404


@pytest.mark.parametrize("fmt", ["rss", "atom", "json"])
def test_conditional_get(client: TestClient, fmt: str) -> None:
    first = client.get(f"/feed.{fmt}")
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    again = client.get(f"/feed.{fmt}")
    assert again.headers["etag"] == etag and again.content == first.content  # stable
    r = client.get(f"/feed.{fmt}", headers={"If-None-Match": etag})
    assert r.status_code == 304 and r.content == b"" and r.headers["etag"] == etag
    r = client.get(f"/feed.{fmt}", headers={"If-None-Match": '"other", ' + etag})
    assert r.status_code == 304
    assert client.get(f"/feed.{fmt}", headers={"If-None-Match": '"stale"'}).status_code == 200
    assert client.get(f"/feed.{fmt}", headers={"If-Modified-Since": modified}).status_code == 304
    old = "Mon, 01 Jan 2001 00:00:00 GMT"
    assert client.get(f"/feed.{fmt}", headers={"If-Modified-Since": old}).status_code == 200
    assert client.get(f"/feed.{fmt}", headers={"If-Modified-Since": "garbage"}).status_code == 200


def test_render_feed_survives_control_characters() -> None:
    """XML 1.0 cannot carry most control characters; hostile feeds send them anyway."""
    at = datetime(2026, 11, 27, tzinfo=UTC)
    bad = Article(
        1,
        "https://x.example/a\x00",
        "https://x.example/a",
        "Bell\x07 and \x1b escape",
        "Text with \x0b vertical tab\ufffe.",
        "",
        "Pub\x01",
        1,
        None,
        fetched_at=at,
        author="A\x02uthor",
    )
    meta = FeedMeta("T\x03", "https://site.example/", "https://site.example/feed.rss", "d")
    for fmt in ("rss", "atom"):
        parsed = feedparser.parse(render_feed(fmt, meta, [bad], "tidings", "https://site.example/"))
        assert not parsed.bozo, (fmt, parsed.get("bozo_exception"))
        assert parsed.entries[0].title == "Bell and  escape"
    doc = json.loads(render_feed("json", meta, [bad], "tidings", "https://site.example/"))
    assert doc["items"][0]["title"] == "Bell and  escape"
    empty = feedparser.parse(render_feed("atom", meta, [], "tidings", "https://site.example/"))
    assert not empty.bozo and empty.entries == []
