"""The whole pipeline against fixture publishers on a real local HTTP server.

sources add / import -> fetch -> stored articles -> export -> rendered pages.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tidings.cli import app
from tidings.config import load_settings
from tidings.store import Store
from tidings.web import create_app

from .conftest import PublisherServer

runner = CliRunner()


def cli(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.output


def opml(server: PublisherServer, *paths: str) -> str:
    outlines = "\n".join(
        f'<outline text="{name}" country="{cc}" language="{lang}">'
        f'<outline type="rss" text="{name}" xmlUrl="{server.url(path)}"/></outline>'
        for name, cc, lang, path in paths  # type: ignore[misc]
    )
    return f'<?xml version="1.0"?><opml version="2.0"><head/><body>{outlines}</body></opml>'


@pytest.fixture
def loaded(publisher_server: PublisherServer, cli_env: dict[str, str], tmp_path: Path):
    """Three good publishers (RSS, Atom, JSON Feed) and six bad feeds, fetched once."""
    s = publisher_server
    code, out = cli(
        cli_env,
        "sources",
        "add",
        s.url("/planet/"),
        "--name",
        "The Daily Planet",
        "--country",
        "us",
        "--language",
        "en",
    )
    assert code == 0, out
    assert "/planet/rss.xml" in out  # discovered from <link rel="alternate">
    listing = tmp_path / "sources.opml"
    listing.write_text(
        opml(
            s,
            ("The Gazette", "IN", "hi", "/gazette/atom.xml"),  # type: ignore[arg-type]
            ("Wire Service", "", "en", "/wire/feed.json"),
            ("Bad HTML", "", "", "/bad/html-as-feed.xml"),
            ("Bad 500", "", "", "/bad/500.xml"),
            ("Bad loop", "", "", "/bad/loop-a.xml"),
            ("Bad huge", "", "", "/bad/huge.xml"),
            ("Bad malformed", "", "", "/bad/malformed.xml"),
            ("Bad empty", "", "", "/bad/empty.xml"),
        )
    )
    code, out = cli(cli_env, "sources", "import", str(listing))
    assert code == 0, out
    assert "imported 8 new feeds" in out
    code, out = cli(cli_env, "fetch")
    assert code == 0, out  # individual feeds failed, but that is recorded, not fatal
    return cli_env, out


def stored(env: dict[str, str]) -> Store:
    return Store(env["TIDINGS_DATABASE_URL"])


def test_fetch_stores_articles_from_every_format(loaded) -> None:
    env, out = loaded
    assert "7 new articles" in out
    st = stored(env)
    try:
        by_title = {a.title: a for a in st.articles.iter_all()}
    finally:
        st.close()
    assert set(by_title) == {
        "India and Canada agree on security work plan",
        "City council approves new tram line",
        "Harbour festival moves to June",
        "दिल्ली में बारिश से यातायात प्रभावित",
        "Café owners protest new rules",
        "Video: a short clip",
        "Markets close higher",
    }
    a1 = by_title["India and Canada agree on security work plan"]
    # the first sentence keeps the words inside the link, bold and italic
    assert a1.text.startswith(
        "India and Canada agreed on a work plan in a step toward rebuilding "
        "ties, officials in New Delhi and Ottawa said on Thursday"
    )
    assert "Reviving strained India-Canada relations" in a1.text.split("\n\n")
    assert "ALSO READ" not in a1.text and "Google News" not in a1.text
    assert "Most read" not in a1.text and "All rights reserved" not in a1.text
    assert a1.author == "Lois Lane"
    assert a1.published_at is not None and a1.published_at.isoformat() == "2026-11-20T04:00:00+00:00"
    assert a1.canonical_url.endswith("/planet/india-canada-security")  # rel=canonical, tracking gone
    assert a1.extraction == "page" and a1.language == "en"
    assert a1.publisher == "The Daily Planet"
    assert "<h2>Reviving strained India-Canada relations</h2>" in a1.html

    gone = by_title["Harbour festival moves to June"]  # page 404s: feed text, reason kept
    assert gone.extraction == "feed"
    assert "HTTP 404" in (gone.extraction_reason or "")
    assert gone.text.startswith("The harbour festival, usually held in August")

    hindi = by_title["दिल्ली में बारिश से यातायात प्रभावित"]
    assert hindi.language == "hi" and hindi.extraction == "page"
    cafe = by_title["Café owners protest new rules"]  # windows-1252 page, no header charset
    assert "Café owners gathered" in cafe.text and "owners’ association" in cafe.text

    clip = by_title["Video: a short clip"]  # page has no body: the feed's content is used
    assert clip.extraction == "feed" and "body" in (clip.extraction_reason or "")
    assert "alert" not in clip.text and "<script" not in clip.html
    assert clip.author == "Wire Staff"


def test_bad_feeds_are_recorded_not_fatal(loaded) -> None:
    env, _ = loaded
    st = stored(env)
    try:
        feeds = {f.url.rsplit("/", 1)[-1]: f for f in st.sources.list_feeds()}
    finally:
        st.close()
    expected = {
        "html-as-feed.xml": "NotAFeed",
        "500.xml": "HTTP 500",
        "loop-a.xml": "redirect loop",
        "huge.xml": "TooLarge",
        "malformed.xml": "ParseError",
        "empty.xml": "EmptyBody",
    }
    for name, needle in expected.items():
        feed = feeds[name]
        assert feed.error_count == 1, name
        assert needle in (feed.last_error or ""), (name, feed.last_error)
        assert feed.next_poll_at is not None and feed.last_success_at is None
    for name in ("rss.xml", "atom.xml", "feed.json"):
        assert feeds[name].error_count == 0 and feeds[name].last_success_at is not None
        assert feeds[name].etag  # validators kept for the next conditional GET


def test_slow_feed_times_out_and_is_recorded(publisher_server, cli_env) -> None:
    env = dict(cli_env, TIDINGS_REQUEST_TIMEOUT="1")
    code, out = cli(env, "sources", "add", publisher_server.url("/planet/rss.xml"))
    assert code == 0, out
    st = stored(env)
    try:
        source = st.sources.list_sources()[0]
        assert source.id is not None
        st.sources.add_feed(source.id, publisher_server.url("/bad/slow.xml"))
    finally:
        st.close()
    code, out = cli(env, "fetch")
    assert code == 0, out
    assert "1 failed" in out and "FetchTimeout" in out
    st = stored(env)
    try:
        slow = st.sources.get_feed_by_url(publisher_server.url("/bad/slow.xml"))
        good = st.sources.get_feed_by_url(publisher_server.url("/planet/rss.xml"))
    finally:
        st.close()
    assert slow is not None and slow.error_count == 1 and "within 1s" in (slow.last_error or "")
    assert good is not None and good.error_count == 0  # polled alongside, unaffected


def test_second_fetch_is_conditional_and_stores_nothing_twice(loaded, publisher_server) -> None:
    env, _ = loaded
    hits_before = publisher_server.routes["/planet/a1.html"].hits
    code, out = cli(env, "fetch", "--all")
    assert code == 0, out
    assert "0 new articles" in out and "3 unchanged" in out
    assert publisher_server.routes["/planet/a1.html"].hits == hits_before  # not refetched
    st = stored(env)
    try:
        assert st.articles.count() == 7
    finally:
        st.close()


def test_export_json_lines(loaded) -> None:
    env, _ = loaded
    code, out = cli(env, "export")
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert len(rows) == 7
    required = {
        "id",
        "url",
        "canonical_url",
        "title",
        "text",
        "publisher",
        "feed_url",
        "published_at",
        "fetched_at",
        "language",
        "author",
        "image",
        "attribution",
    }
    for row in rows:
        assert required <= set(row)
        assert row["attribution"] == (
            "This story is auto aggregated by a computer programme and has not been created or "
            f"edited by tidings. Publisher: {row['publisher']}"
        )
        assert row["title"] and row["url"].startswith("http://127.0.0.1")
        assert row["text"] == row["text"].strip() and "\n\n\n" not in row["text"]


def test_sources_list_shows_health(loaded) -> None:
    env, _ = loaded
    code, out = cli(env, "sources", "list", "--json")
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    bad = next(r for r in rows if r["url"].endswith("/bad/500.xml"))
    assert bad["error_count"] == 1 and "HTTP 500" in bad["last_error"] and bad["next_poll_at"]
    code, out = cli(env, "sources", "list")
    assert code == 0 and "HTTP 500" in out and "last success" in out


def test_reader_pages_show_articles_with_attribution(loaded) -> None:
    env, _ = loaded
    settings = load_settings(environ=env)
    st = stored(env)
    try:
        client = TestClient(create_app(settings, st))
        home = client.get("/")
        assert home.status_code == 200
        assert "India and Canada agree on security work plan" in home.text
        assert "default-src 'none'" in home.headers["content-security-policy"]
        a1 = next(a for a in st.articles.iter_all() if a.title.startswith("India and Canada"))
        page = client.get(f"/article/{a1.id}")
        assert page.status_code == 200
        assert "<h1>India and Canada agree on security work plan</h1>" in page.text
        assert (
            "This story is auto aggregated by a computer programme and has not been created "
            "or edited by tidings. Publisher: The Daily Planet"
        ) in page.text
        assert 'href="http://127.0.0.1' in page.text  # link to the original
        assert '<a href="/planet/tags/security">' not in page.text
        clip = next(a for a in st.articles.iter_all() if a.title.startswith("Video"))
        assert "<script" not in client.get(f"/article/{clip.id}").text.split("</head>")[1]
        pub = client.get(f"/publisher/{a1.source_id}")
        assert pub.status_code == 200 and "/planet/rss.xml" in pub.text
        assert client.get("/article/999999").status_code == 404
        api = client.get("/api/articles", params={"limit": 3}).json()
        assert len(api["items"]) == 3 and api["next_cursor"]
        rest = client.get("/api/articles", params={"limit": 10, "cursor": api["next_cursor"]}).json()
        assert len(rest["items"]) == 4 and rest["next_cursor"] is None
        ids = [i["id"] for i in api["items"] + rest["items"]]
        assert len(set(ids)) == 7
        one = client.get(f"/api/articles/{a1.id}").json()
        assert one["text"].startswith("India and Canada agreed on a work plan")
        missing = client.get("/api/articles/999999")
        assert missing.status_code == 404 and missing.json()["error"]["status"] == 404
        assert client.get("/api/articles", params={"cursor": "!!"}).status_code == 400
        sources = {s["name"]: s for s in client.get("/api/sources").json()["items"]}
        bad = sources["Bad 500"]["feeds"][0]
        assert bad["error_count"] == 1 and "HTTP 500" in bad["last_error"]
        assert sources["The Daily Planet"]["feeds"][0]["last_success_at"]
    finally:
        st.close()


def test_news_sitemap_source(publisher_server, cli_env) -> None:
    code, out = cli(
        cli_env, "sources", "add", publisher_server.url("/sitemap/news.xml"), "--name", "Planet sitemap"
    )
    assert code == 0, out
    code, out = cli(cli_env, "fetch")
    assert code == 0 and "1 new articles" in out, out
    code, out = cli(cli_env, "export")
    row = json.loads(out.splitlines()[0])
    assert row["title"] == "City council approves new tram line"
    assert row["published_at"] == "2026-11-21T07:15:00Z"


def test_sources_export_roundtrip(loaded, tmp_path: Path) -> None:
    env, _ = loaded
    code, out = cli(env, "sources", "export")
    assert code == 0 and "<opml" in out and "/planet/rss.xml" in out
    other = dict(env, TIDINGS_DATABASE_URL=f"sqlite:///{tmp_path / 'other.db'}")
    path = tmp_path / "exported.opml"
    path.write_text(out)
    code, out = cli(other, "sources", "import", str(path))
    assert code == 0 and "imported 9 new feeds" in out


def test_bad_cli_input_gives_clear_errors(cli_env, tmp_path: Path) -> None:
    code, out = cli(cli_env, "sources", "import", str(tmp_path / "missing.opml"))
    assert code == 1 and "cannot read" in out
    bad = tmp_path / "bad.opml"
    bad.write_text("<opml><body><outline")
    code, out = cli(cli_env, "sources", "import", str(bad))
    assert code == 1 and "malformed OPML" in out
    code, out = cli(cli_env, "sources", "add", "file:///etc/passwd")
    assert code == 1 and "scheme 'file' is not allowed" in out
    code, out = cli(cli_env, "fetch")
    assert code == 1 and "no sources yet" in out
    code, out = cli(dict(cli_env, TIDINGS_REQUEST_TIMEOUT="soon"), "fetch")
    assert code == 1 and "request_timeout must be float, got 'soon'" in out
