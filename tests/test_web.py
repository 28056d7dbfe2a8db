"""The reader, the JSON API and the admin area over a database the real pipeline filled.

``build_site`` runs the pipeline against the fixture publishers of conftest.py
plus a hostile publisher (``tests/data/xss``: payloads in headlines, bodies,
author names, image URLs and the publisher's name, and the sanitiser cases of
``../shared/conformance/feedparser/wellformed/sanitize/`` when present), then
groups articles into a story the way the clustering stage will (stories,
storyline, a wire copy). test_feeds_out.py and test_browser.py use it too.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from xml.sax.saxutils import escape as xml_escape

import feedparser
import lxml.html
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert, select, update

from tidings.config import Settings, load_settings
from tidings.model import Article, Source
from tidings.pipeline import Pipeline
from tidings.store import Store
from tidings.store.schema import articles, entities, mentions, stories, storylines
from tidings.web import CSP, create_app
from tidings.web.apidocs import openapi_30
from tidings.web.pages import fold_wire_copies

from .conftest import DATA, SHARED, PublisherServer

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
EVIL_PUBLISHER = '<img src=x onerror="window.__pwned=1">Evil "Publisher" <script>alert(1)</script>'
ADMIN_TOKEN = "correct horse battery staple"
SANITIZE = SHARED / "conformance" / "feedparser" / "wellformed" / "sanitize"


@dataclass
class Site:
    settings: Settings
    store: Store
    server: PublisherServer
    ids: dict[str, int]  # named articles
    story_id: int
    other_story_id: int
    entity_id: int
    sanitize_cases: int


def sanitize_feed(base: str) -> tuple[str, int]:
    """An RSS feed carrying the raw payload of every entry/item sanitiser case (or none)."""
    items = []
    if SANITIZE.is_dir():
        for n, path in enumerate(sorted(SANITIZE.glob("*.xml"))):
            if not path.name.startswith(("entry_", "item_")):
                continue
            parsed = feedparser.parse(str(path), sanitize_html=False)
            if not parsed.entries:
                continue
            e = parsed.entries[0]
            payload = (e.get("content") or [{}])[0].get("value") or e.get("summary") or e.get("title")
            if not payload:
                continue
            items.append(
                f"<item><title>{xml_escape(path.stem + ' ' + payload[:120])}</title>"
                f"<link>{base}/xss/case-{n}.html</link><guid>case-{n}</guid>"
                f"<pubDate>Wed, 25 Nov 2026 08:00:00 GMT</pubDate>"
                f"<description>{xml_escape(payload)}</description></item>"
            )
    body = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Sanitiser cases</title><link>{base}/xss/</link><description>cases</description>"
        + "".join(items)
        + "</channel></rss>"
    )
    return body, len(items)


def build_site(server: PublisherServer, settings: Settings) -> Site:
    settings = dataclasses.replace(settings, admin_token=ADMIN_TOKEN)
    server.add(
        "/xss/rss.xml",
        server.base.join((DATA / "xss" / "xss.rss").read_text(encoding="utf-8").split("{base}")),
        content_type="application/rss+xml",
    )
    # page1, page2 and page4 are missing (404): their feed items are used as they are
    server.add("/xss/page3.html", (DATA / "xss" / "page.html").read_bytes())
    server.add("/xss/pic.png", PNG, content_type="image/png")
    cases, n_cases = sanitize_feed(server.base)
    server.add("/xss/cases.xml", cases, content_type="application/rss+xml")

    store = Store(settings.database_url)
    for name, country, lang, path in (
        ("The Daily Planet", "US", "en", "/planet/rss.xml"),
        ("The Gazette", "IN", "hi", "/gazette/atom.xml"),
        ("Wire Service", None, "en", "/wire/feed.json"),
        (EVIL_PUBLISHER, "GB", "en", "/xss/rss.xml"),
        ("Sanitiser cases", None, "en", "/xss/cases.xml"),
        ("Broken feed", None, None, "/bad/500.xml"),
    ):
        src = store.sources.add_source(Source(None, name, country=country, language=lang))
        assert src.id is not None
        store.sources.add_feed(src.id, server.url(path))
    asyncio.run(Pipeline(settings, store).poll_due())

    by_title = {a.title: a for a in store.articles.iter_all()}

    def find(prefix: str) -> Article:
        return next(a for t, a in by_title.items() if t.startswith(prefix))

    ids = {
        "india": find("India and Canada").id,
        "tram": find("City council").id,
        "harbour": find("Harbour festival").id,
        "markets": find("Markets close").id,
        "cafe": find("Café owners").id,
        "picture": find("Picture story").id,
        "xss_title": find("<script>").id,
        "xss_page": find("Hostile page").id,
        "xss_attr": find('">').id,
        "hindi": find("दिल्ली").id,
    }
    assert all(ids.values())
    with store.engine.begin() as conn:
        line = conn.execute(
            insert(storylines).values(
                title="India-Canada relations",
                first_seen_at=datetime(2026, 11, 19, tzinfo=UTC),
                last_updated_at=datetime(2026, 11, 21, tzinfo=UTC),
            )
        ).inserted_primary_key[0]
        earlier = conn.execute(
            insert(stories).values(
                title="Diplomats return to Ottawa and New Delhi",
                summary=None,
                first_seen_at=datetime(2026, 11, 19, tzinfo=UTC),
                article_count=1,
                publisher_count=1,
                hotness=1.0,
                storyline_id=line,
                category="world",
                representative_article_id=ids["cafe"],
                first_article_id=ids["cafe"],
            )
        ).inserted_primary_key[0]
        story = conn.execute(
            insert(stories).values(
                title="India and Canada agree on a security work plan",
                summary="The two countries agreed a work plan on security.",
                first_seen_at=datetime(2026, 11, 20, 4, tzinfo=UTC),
                last_updated_at=datetime(2026, 11, 21, tzinfo=UTC),
                article_count=3,
                publisher_count=3,
                hotness=1e9,
                storyline_id=line,
                category="world",
                representative_article_id=ids["india"],
                first_article_id=ids["india"],
            )
        ).inserted_primary_key[0]
        for i in (ids["india"], ids["hindi"], ids["markets"]):
            conn.execute(update(articles).where(articles.c.id == i).values(story_id=story, topic="world"))
        conn.execute(
            update(articles).where(articles.c.id == ids["markets"]).values(duplicate_of=ids["india"])
        )  # folded as a wire copy
        conn.execute(
            update(articles).where(articles.c.id == ids["cafe"]).values(story_id=earlier, topic="world")
        )
        conn.execute(
            insert(stories).values(
                title="Tram line approved",
                first_seen_at=datetime(2026, 11, 21, tzinfo=UTC),
                article_count=1,
                publisher_count=1,
                hotness=5.0,
                category="local",
                representative_article_id=ids["tram"],
                first_article_id=ids["tram"],
            )
        )
        # the enrich stage may have found Canada already; the test needs it either way
        entity = conn.execute(
            select(entities.c.id).where(entities.c.kind == "country", entities.c.name == "Canada")
        ).scalar()
        if entity is None:
            entity = conn.execute(
                insert(entities).values(kind="country", name="Canada", code="CA")
            ).inserted_primary_key[0]
        if (
            conn.execute(
                select(mentions.c.count).where(
                    mentions.c.entity_id == entity, mentions.c.article_id == ids["india"]
                )
            ).first()
            is None
        ):
            conn.execute(insert(mentions).values(article_id=ids["india"], entity_id=entity, count=2))
    return Site(settings, store, server, ids, int(story), int(earlier), int(entity), n_cases)


def site_settings(tmp: Path) -> Settings:
    return load_settings(
        environ={},
        config_file=None,
        database_url=f"sqlite:///{tmp / 'site.db'}",
        allow_private_addresses=True,
        request_timeout=5.0,
        max_body_bytes=2_000_000,
        request_spacing=0.0,
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """Built once per module (the pipeline run is the slow part); tests undo what they change."""
    server = PublisherServer()
    s = build_site(server, site_settings(tmp_path_factory.mktemp("site")))
    try:
        yield s
    finally:
        s.store.close()
        server.close()


@pytest.fixture
def client(site: Site) -> TestClient:
    return TestClient(create_app(site.settings, site.store))


def assert_safe_html(html: str) -> None:
    """Parsed as a browser would: only our own script, no event handlers, no active URLs."""
    doc = lxml.html.document_fromstring(html)
    scripts = [el.get("src") for el in doc.iter("script")]
    assert scripts == ["/static/app.js"], scripts
    for el in doc.iter():
        if not isinstance(el.tag, str):
            continue
        assert el.tag not in ("iframe", "object", "embed", "svg", "base", "frame", "applet"), el.tag
        for name, value in el.attrib.items():
            assert not name.lower().startswith("on"), (el.tag, name, value)
            assert name.lower() != "style", (el.tag, value)
            if name.lower() in ("href", "src", "action", "formaction", "srcset", "poster"):
                url = re.sub(r"[\s\x00-\x1f]", "", value).lower()
                assert not url.startswith(("javascript:", "data:", "vbscript:")), (el.tag, value)
        if el.tag == "img":
            assert el.get("src", "").startswith("/"), el.get("src")  # never a third party


def test_every_page_type_renders_safely(site: Site, client: TestClient) -> None:
    ids = site.ids
    pages = [
        "/",
        f"/story/{site.story_id}",
        "/category/world",
        "/search?q=script",
        "/search?q=festival",
        "/admin",
    ]
    pages += [f"/article/{i}" for i in ids.values()]
    pages += [f"/publisher/{s.id}" for s in site.store.sources.list_sources()]
    pages += [f"/article/{a.id}" for a in site.store.articles.iter_all()]  # the sanitiser cases
    for path in pages:
        r = client.get(path)
        assert r.status_code == 200, path
        assert "default-src 'none'" in r.headers["content-security-policy"]
        assert "img-src 'self'" in r.headers["content-security-policy"]
        assert r.headers["x-frame-options"] == "DENY"
        assert_safe_html(r.text)
    evil = client.get(f"/article/{ids['xss_title']}").text
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;Script in the headline" in evil
    assert "Evil &#34;Publisher&#34;" in evil or "Evil &quot;Publisher&quot;" in evil


def test_home_stories_sections_and_keyset_pagination(site: Site, client: TestClient) -> None:
    home = client.get("/").text
    assert "Top stories" in home and f'href="/story/{site.story_id}"' in home
    assert "Full coverage: 3 articles from 3 publishers" in home
    assert 'href="/category/world"' in home or 'href="/category/local"' in home
    assert '<link rel="alternate" type="application/rss+xml"' in home
    seen: list[str] = []
    url = "/"
    for _ in range(200):
        text = client.get(url).text
        seen += re.findall(r'<h3 class="card-title"><a href="/article/(\d+)">', text)
        m = re.search(r'rel="next" href="\?cursor=([^"]+)"', text)
        if not m:
            break
        url = "/?cursor=" + m.group(1)
    total = site.store.articles.count()
    assert total > 30 and len(seen) == total and len(set(seen)) == total  # every article once


def test_story_page_full_coverage(site: Site, client: TestClient) -> None:
    page = client.get(f"/story/{site.story_id}").text
    assert "<h1>India and Canada agree on a security work plan</h1>" in page
    assert "First reported by" in page and "The Daily Planet" in page
    assert "The Gazette" in page and "Same text also carried by 1 other publisher" in page
    assert "Timeline of this storyline" in page
    assert f'href="/story/{site.other_story_id}"' in page
    assert 'rel="noopener noreferrer nofollow">original</a>' in page
    assert client.get("/story/99999").status_code == 404
    assert client.get("/category/nothing-here").status_code == 404


def test_fold_wire_copies() -> None:
    def art(i: int, dup: int | None = None) -> Article:
        return Article(i, f"u{i}", f"u{i}", "t", "", "", "p", 1, None, duplicate_of=dup)

    folded = fold_wire_copies([art(1), art(2, 1), art(3), art(4, 1), art(5, 99)])
    assert [(a.id, [c.id for c in cs]) for a, cs in folded] == [(1, [2, 4]), (3, []), (5, [])]


def test_article_page(site: Site, client: TestClient) -> None:
    page = client.get(f"/article/{site.ids['india']}").text
    assert "Read the original at The Daily Planet" in page
    assert (
        "This story is auto aggregated by a computer programme and has not been created "
        "or edited by tidings. Publisher: The Daily Planet"
    ) in page
    assert f'href="/story/{site.story_id}"' in page
    pic = client.get(f"/article/{site.ids['picture']}").text
    assert f'src="/img/{site.ids["picture"]}"' in pic
    assert "127.0.0.1" not in pic.split("<img")[1].split(">")[0]


def test_image_proxy(site: Site, client: TestClient) -> None:
    r = client.get(f"/img/{site.ids['picture']}")
    assert r.status_code == 200 and r.content == PNG and r.headers["content-type"] == "image/png"
    assert site.server.routes["/xss/pic.png"].hits == 1
    client.get(f"/img/{site.ids['picture']}")
    assert site.server.routes["/xss/pic.png"].hits == 1  # cached
    assert client.get(f"/img/{site.ids['tram']}").status_code == 404  # no image
    broken = client.get(f"/img/{site.ids['xss_attr']}")  # a URL the publisher does not serve
    assert broken.status_code == 200 and broken.headers["x-tidings-image"] == "unavailable"
    assert broken.headers["content-type"] == "image/svg+xml"
    assert client.get(f"/img/{site.ids['xss_title']}").status_code == 404  # javascript: URL
    assert client.get("/img/999999").status_code == 404


def test_search_page(site: Site, client: TestClient) -> None:
    page = client.get("/search", params={"q": '"work plan"'}).text
    assert "<mark>work plan</mark>" in page.lower() or "<mark>work</mark>" in page.lower()
    assert f'href="/article/{site.ids["india"]}"' in page
    only_gazette = client.get("/search", params={"q": "festival", "source_id": "2"}).text
    assert "Nothing found" in only_gazette
    assert client.get("/search", params={"q": "x", "since": "yesterday"}).status_code == 400
    assert 'href="/search/feed.rss?q=' in page
    # the publisher list: every publisher once, names escaped, the chosen one selected
    evil = next(s for s in site.store.sources.list_sources() if s.name == EVIL_PUBLISHER)
    chosen = client.get("/search", params={"q": "festival", "source_id": str(evil.id)}).text
    select = lxml.html.fromstring(chosen).get_element_by_id("f-pub")
    names = [o.text_content() for o in select.iter("option")][1:]
    assert sorted(names) == sorted(s.name for s in site.store.sources.list_sources())
    assert [o.get("value") for o in select.iter("option") if o.get("selected") is not None] == [str(evil.id)]
    assert "<script>alert(1)" not in chosen and "&lt;script&gt;alert(1)" in chosen


def test_api(site: Site, client: TestClient) -> None:
    stories_ = client.get("/api/stories", params={"limit": 1}).json()
    assert stories_["items"][0]["id"] == site.story_id and stories_["next_cursor"]
    seen, cursor = [site.story_id], stories_["next_cursor"]
    while cursor:
        page = client.get("/api/stories", params={"cursor": cursor, "limit": 2}).json()
        seen += [s["id"] for s in page["items"]]
        cursor = page["next_cursor"]
    assert len(seen) == len(set(seen)) and site.other_story_id in seen
    one = client.get(f"/api/stories/{site.story_id}").json()
    assert one["article_count"] == 3 and {a["publisher"] for a in one["articles"]} >= {
        "The Daily Planet",
        "The Gazette",
    }
    found = client.get("/api/search", params={"q": "tram", "limit": 1}).json()
    assert found["items"][0]["id"] == site.ids["tram"] and "<mark>" in found["items"][0]["title_html"]
    assert found["query"]["terms"] == ["tram"]
    pubs = client.get("/api/publishers").json()["items"]
    assert any(p["name"] == EVIL_PUBLISHER for p in pubs)
    broken = next(p for p in pubs if p["name"] == "Broken feed")
    assert "HTTP 500" in broken["feeds"][0]["last_error"]
    assert client.get(f"/api/publishers/{broken['id']}").json()["feeds"][0]["error_count"] == 1
    ents = client.get("/api/entities", params={"limit": 500}).json()["items"]
    assert {"id": site.entity_id, "kind": "country", "name": "Canada", "code": "CA"} in ents
    mentioned = client.get(f"/api/entities/{site.entity_id}/articles").json()
    assert site.ids["india"] in [a["id"] for a in mentioned["items"]]
    for path, status in (
        ("/api/stories/999", 404),
        ("/api/search", 422),
        ("/api/search?q=x&sort=sideways", 422),
        ("/api/stories?cursor=%%", 400),
        ("/api/entities/99999/articles", 404),
    ):
        r = client.get(path)
        assert r.status_code == status, path
        assert r.json()["error"]["status"] == status
    world = client.get("/api/articles", params={"topic": "world", "limit": 2}).json()
    more = client.get("/api/articles", params={"topic": "world", "cursor": world["next_cursor"]}).json()
    world_ids = {a["id"] for a in world["items"] + more["items"]}
    assert {site.ids["india"], site.ids["hindi"], site.ids["markets"], site.ids["cafe"]} <= world_ids
    assert len(world_ids) == len(world["items"]) + len(more["items"])
    in_story = client.get("/api/articles", params={"story_id": site.story_id}).json()["items"]
    assert {a["id"] for a in in_story} == {site.ids["india"], site.ids["hindi"], site.ids["markets"]}
    hindi = client.get("/api/articles", params={"language": "hi", "limit": 200}).json()["items"]
    assert site.ids["hindi"] in {a["id"] for a in hindi} and all(a["language"] == "hi" for a in hindi)
    assert client.get("/api/articles", params={"country": "India"}).status_code == 422
    spec = client.get("/openapi.json").json()
    assert {
        "/api/articles",
        "/api/stories",
        "/api/search",
        "/api/publishers",
        "/api/entities",
        "/api/sources",
    } <= set(spec["paths"])
    assert client.get("/api/docs").status_code == 200


def test_api_docs_self_hosted(client: TestClient) -> None:
    """Swagger UI and its images come from here, under the same CSP as every page
    (the browser test proves it renders and runs without a CSP violation)."""
    page = client.get("/api/docs")
    assert page.headers["content-security-policy"] == CSP
    urls = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert urls and all(u.startswith("/") and not u.startswith("//") for u in urls), urls
    for url in urls:
        assert client.get(url).status_code == 200, url
    css = client.get("/api/docs/swagger-ui.css").text
    js = client.get("/api/docs/swagger-ui-bundle.js").text
    assert "data:" not in css and '"data:image' not in js
    images = set(re.findall(r"/api/docs/img/\d+", css + js))
    assert len(images) >= 5  # four in the stylesheet, the spinner in the script
    for url in images:
        r = client.get(url)
        assert r.status_code == 200 and r.headers["content-type"].startswith("image/"), url
    assert client.get("/api/docs/img/999").status_code == 404
    # Swagger UI 4 reads OpenAPI 3.0: the UI's copy is written down, /openapi.json stays 3.1
    spec = client.get("/openapi.json").json()
    ui = client.get("/api/docs/openapi.json").json()
    assert spec["openapi"].startswith("3.1") and ui["openapi"] == "3.0.3"
    assert '"type": "null"' in json.dumps(spec) and '"type": "null"' not in json.dumps(ui)
    assert ui["paths"].keys() == spec["paths"].keys()
    cursor = next(p for p in ui["paths"]["/api/articles"]["get"]["parameters"] if p["name"] == "cursor")
    assert cursor["schema"] == {"type": "string", "nullable": True, "title": "Cursor"}


def test_openapi_30_rewrites() -> None:
    assert openapi_30({"openapi": "3.1.0", "anyOf": [{"$ref": "#/x"}, {"type": "null"}]}) == {
        "openapi": "3.0.3",
        "allOf": [{"$ref": "#/x"}],
        "nullable": True,
    }
    assert openapi_30({"type": ["integer", "null"], "exclusiveMinimum": 0, "const": 3}) == {
        "type": "integer",
        "nullable": True,
        "minimum": 0,
        "exclusiveMinimum": True,
        "enum": [3],
    }
    assert openapi_30({"anyOf": [{"type": "integer"}, {"type": "string"}, {"type": "null"}]}) == {
        "anyOf": [{"type": "integer"}, {"type": "string"}],
        "nullable": True,
    }


def _csrf(html: str) -> str:
    m = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert m, html
    return m.group(1)


def test_admin_disabled_without_token(site: Site) -> None:
    off = TestClient(create_app(dataclasses.replace(site.settings, admin_token=""), site.store))
    assert off.get("/admin").status_code == 404
    assert off.post("/admin/login", data={"token": "", "csrf": ""}).status_code == 404


def test_admin_login_csrf_add_and_remove(site: Site, client: TestClient) -> None:
    page = client.get("/admin")
    assert page.status_code == 200 and "Admin token" in page.text
    assert page.headers["cache-control"] == "no-store"
    csrf = _csrf(page.text)
    # no CSRF token, a wrong one, or a foreign origin: refused
    assert client.post("/admin/login", data={"token": ADMIN_TOKEN}).status_code == 403
    assert client.post("/admin/login", data={"token": ADMIN_TOKEN, "csrf": "0" * 64}).status_code == 403
    assert (
        client.post(
            "/admin/login",
            data={"token": ADMIN_TOKEN, "csrf": csrf},
            headers={"Origin": "https://evil.example"},
        ).status_code
        == 403
    )
    assert client.post("/admin/login", data={"token": "guess", "csrf": csrf}).status_code == 401
    # a client without the nonce cookie cannot replay the token
    stranger = TestClient(create_app(site.settings, site.store))
    assert stranger.post("/admin/login", data={"token": ADMIN_TOKEN, "csrf": csrf}).status_code == 403
    # not signed in: adding is refused even with a valid CSRF token
    assert (
        client.post(
            "/admin/sources", data={"csrf": csrf, "name": "X", "feed_url": "https://x.example/f"}
        ).status_code
        == 401
    )
    r = client.post("/admin/login", data={"token": ADMIN_TOKEN, "csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303 and "httponly" in r.headers["set-cookie"].lower()
    assert "samesite=strict" in r.headers["set-cookie"].lower()
    dash = client.get("/admin").text
    assert "Add a source" in dash and "/bad/500.xml" in dash
    assert_safe_html(dash)  # the hostile publisher's name is escaped here too
    bad = client.post(
        "/admin/sources", data={"csrf": csrf, "name": "Local", "feed_url": "file:///etc/passwd"}
    )
    assert bad.status_code == 400 and "refused" in bad.text
    r = client.post(
        "/admin/sources",
        data={
            "csrf": csrf,
            "name": "New Daily",
            "country": "ca",
            "feed_url": site.server.url("/planet/rss.xml?x=1"),
        },
    )
    assert r.status_code == 200 and "Source added" in r.text
    new = next(f for f in site.store.sources.list_feeds() if f.url.endswith("?x=1"))
    assert new.source_name == "New Daily"
    assert client.post(f"/admin/feeds/{new.id}/delete", data={}).status_code == 403
    r = client.post(f"/admin/feeds/{new.id}/delete", data={"csrf": csrf})
    assert r.status_code == 200 and "Feed removed" in r.text
    assert site.store.sources.get_feed(new.id) is None
    client.post("/admin/logout", data={"csrf": csrf})
    assert "Admin token" in client.get("/admin").text


def test_hostile_ingest_stored_and_sanitised(site: Site) -> None:
    """The pipeline kept the hostile articles; whatever HTML it stored is sanitised."""
    arts = list(site.store.articles.iter_all())
    assert sum(a.publisher == EVIL_PUBLISHER for a in arts) == 4
    for a in arts:
        assert "<script" not in a.html.lower() and "javascript:" not in a.html.lower()
        assert not re.search(r"\son[a-z]+\s*=", a.html, re.I)
    if SANITIZE.is_dir():
        assert site.sanitize_cases > 200
        assert sum(a.publisher == "Sanitiser cases" for a in arts) == site.sanitize_cases
