"""Feed parsing: the lxml fast path must give exactly the feedparser path's entries.

Own fixtures (tests/data/parse/*.rss|atom with *.expected.json beside them),
hand-made declines, a differential check over ../shared (the feed-parser
benchmark corpus and the conformance documents; skipped when absent) and
Hypothesis properties: generated feeds agree on both paths, the cleaner is
idempotent, and no input makes the parser raise outside ``ParseError``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import html
import json
import os
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tidings.errors import ParseError
from tidings.fastparse import Declined, clean_html, parse_fast
from tidings.model import ParsedFeed
from tidings.parse import _parse_with_feedparser, parse_feed

DATA = Path(__file__).parent / "data" / "parse"
SHARED = Path(os.environ.get("TIDINGS_SHARED", Path(__file__).resolve().parents[1] / ".." / "shared"))


def as_json(parsed: ParsedFeed) -> dict[str, Any]:
    return json.loads(
        json.dumps(dataclasses.asdict(parsed), default=lambda o: o.isoformat(), ensure_ascii=False)
    )


def both(body: bytes, url: str, content_type: str | None = None) -> tuple[ParsedFeed | Declined, ParsedFeed]:
    return (
        parse_fast(body, url, content_type=content_type),
        _parse_with_feedparser(body, url, content_type, 500),
    )


def same(a: ParsedFeed, b: ParsedFeed) -> bool:
    return (a.format, a.title, a.link, a.language, a.entries) == (
        b.format,
        b.title,
        b.link,
        b.language,
        b.entries,
    )


@pytest.mark.parametrize("name", ["news.rss", "news.atom"])
def test_fixture_matches_expected_output(name: str) -> None:
    expected = json.loads((DATA / f"{name}.expected.json").read_text(encoding="utf-8"))
    url = expected.pop("url")
    body = (DATA / name).read_bytes()
    parsed = parse_feed(body, url)
    assert parsed.parser == "fast"
    assert as_json(parsed) == expected
    fast, slow = both(body, url)
    assert isinstance(fast, ParsedFeed) and same(fast, slow)


def test_fixture_sanitising_and_resolution() -> None:
    parsed = parse_feed((DATA / "news.rss").read_bytes(), "https://www.ledger.example/world/rss.xml")
    first = parsed.entries[0]
    assert first.summary is not None and first.content is not None
    assert "<script" not in first.summary and "onclick" not in first.summary
    assert 'src="https://www.ledger.example/img/geneva.jpg"' in first.summary  # relative resolved
    assert "javascript:" not in first.content and "<iframe" not in first.content
    assert first.published_at == datetime(2026, 11, 27, 8, 15, tzinfo=UTC)
    storm = parsed.entries[2]
    assert storm.link == storm.guid  # a permalink guid stands in for the missing link
    assert storm.image == "https://cdn.ledger.example/img/storm.png"


RSS_ITEM = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>T</title><link>https://x.example/</link>
<item>{item}</item></channel></rss>"""


@pytest.mark.parametrize(
    ("item", "why"),
    [
        ("<title>A</title><link>https://x.example/1</link><author>a@x.example (Ann)</author>", "author"),
        ("<title>A &amp;amp; B</title><link>https://x.example/1</link>", "HTML-looking"),
        ("<title>A</title><link>/relative/1</link>", "link"),
        (
            "<title>A</title><link>https://x.example/1</link>"
            "<pubDate>Fri, 27 Nov 2026 09:15:00 EST</pubDate>",
            "date",
        ),
        (
            "<title>A</title><link>https://x.example/1</link><dc:date xmlns:dc='http://purl.org/dc/elements/1.1/'>"
            "2026-11-27</dc:date>",
            "item element",
        ),
        (
            "<title>A</title><link>https://x.example/1</link><description><![CDATA[<!-- c --><p>x</p>]]>"
            "</description>",
            "comments",
        ),
        ("<title>A</title><title>B</title><link>https://x.example/1</link>", "repeated"),
    ],
)
def test_unusual_items_go_to_feedparser(item: str, why: str) -> None:
    body = RSS_ITEM.format(item=item).encode()
    fast = parse_fast(body, "https://x.example/feed")
    assert isinstance(fast, Declined) and why in fast.reason
    parsed = parse_feed(body, "https://x.example/feed")
    assert parsed.parser == "feedparser" and len(parsed.entries) == 1


@pytest.mark.parametrize("when", ["Mon, 01 Jan 0001 00:00:00 +0100", "Fri, 31 Dec 9999 23:59:00 -0100"])
def test_dates_at_the_ends_of_the_calendar_decline(when: str) -> None:
    """Shifting these to UTC overflows ``datetime``: a decline, not an OverflowError."""
    item = f"<title>A</title><link>https://x.example/1</link><pubDate>{when}</pubDate>"
    body = RSS_ITEM.format(item=item).encode()
    fast = parse_fast(body, "https://x.example/feed")
    assert isinstance(fast, Declined) and "date" in fast.reason
    assert parse_feed(body, "https://x.example/feed").parser == "feedparser"


@pytest.mark.parametrize(
    "body",
    [
        b'<?xml version="1.0" encoding="iso-8859-1"?><rss version="2.0"><channel><title>Caf\xe9</title>'
        b"</channel></rss>",
        b'<!DOCTYPE rss [<!ENTITY x "y">]><rss version="2.0"><channel><title>&x;</title></channel></rss>',
        b'<rss version="0.91"><channel><title>old</title></channel></rss>',
        b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/">'
        b"<channel><title>rdf</title></channel></rdf:RDF>",
        b'<rss version="2.0"><channel><title>broken</title><item><title>x</item></channel></rss>',
    ],
)
def test_other_documents_decline(body: bytes) -> None:
    assert isinstance(parse_fast(body, "https://x.example/feed"), Declined)


def test_http_charset_other_than_utf8_declines() -> None:
    body = RSS_ITEM.format(item="<title>A</title><link>https://x.example/1</link>").encode()
    assert isinstance(parse_fast(body, "", content_type="text/xml; charset=iso-8859-1"), Declined)
    assert isinstance(parse_fast(body, "", content_type="application/rss+xml; charset=utf-8"), ParsedFeed)


def test_max_items_on_both_paths() -> None:
    items = "".join(f"<item><title>t{i}</title><link>https://x.example/{i}</link></item>" for i in range(50))
    body = RSS_ITEM.replace("<item>{item}</item>", items).encode()
    assert len(parse_feed(body, max_items=7).entries) == 7
    assert len(_parse_with_feedparser(body, "", None, 7).entries) == 7


def test_empty_and_html_refused() -> None:
    with pytest.raises(ParseError):
        parse_feed(b"  \n")
    with pytest.raises(ParseError):
        parse_feed(b"<!doctype html><html><body>hi</body></html>")


# -- the cleaner ------------------------------------------------------------------


def test_clean_html_basics() -> None:
    assert clean_html(None) is None and clean_html("   ") is None
    assert clean_html("plain text") == "plain text"
    assert clean_html("a & b") == "a &amp; b"
    out = clean_html(
        '<p onclick="x()" class="c">Hi <a href="/p?a=1&amp;b=2" title="t">x</a>'
        '<script>evil()</script><img width="1" src="i.png" alt="a"></p>',
        "https://site.example/dir/feed",
    )
    assert out == (
        '<p>Hi <a href="https://site.example/p?a=1&amp;b=2" title="t">x</a>'
        '<img alt="a" src="https://site.example/dir/i.png" width="1"></p>'
    )
    assert clean_html('<a href="javascript:alert(1)">x</a>', "https://s.example/") == "<a>x</a>"


@given(
    st.lists(
        st.sampled_from(
            [
                *"<>&\"'=/ abcpimgsrchref:.;#x0123",
                "<p>",
                "</p>",
                '<a href="',
                "<img src='",
                "<b>",
                "&amp;",
                "<script>",
                "</script>",
                "<br/>",
                "javascript:",
                "\xa0",
            ]
        ),
        max_size=40,
    ).map("".join)
)
def test_clean_html_is_idempotent(text: str) -> None:
    once = clean_html(text, "https://s.example/feed")
    assert clean_html(once, "https://s.example/feed") == once
    if once:
        assert "<script" not in once.lower() and '="javascript:' not in once.lower()


# -- generated feeds: both paths agree ----------------------------------------------

_text = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=30)
_html_bits = st.lists(
    st.sampled_from(
        [
            "<p>",
            "</p>",
            "<b>bold</b>",
            '<a href="https://l.example/x?a=1&amp;b=2">link</a>',
            '<img src="/rel.png" alt=""/>',
            "text & more",
            "<script>x()</script>",
            "<em>é</em>",
            '<iframe src="https://v.example/"></iframe>',
            " ",
            "<br/>",
            '<span style="color:red">s</span>',
            '<a href="javascript:alert(1)">js</a>',
            "&lt;",
            "<ul><li>one</li></ul>",
            "“quoted”",
        ]
    ),
    max_size=8,
).map("".join)
_when = st.datetimes(
    min_value=datetime(1990, 1, 1),
    max_value=datetime(2090, 1, 1),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8))]),
)


def _rss(items: list[tuple[str, str, str, datetime, list[str]]]) -> bytes:
    out = []
    for i, (title, desc, content, when, cats) in enumerate(items):
        cat_xml = "".join(f"<category>{html.escape(c)}</category>" for c in cats)
        out.append(
            f"<item><title>{html.escape(title)}</title><link>https://g.example/{i}</link>"
            f'<guid isPermaLink="false">g{i}</guid>'
            f"<pubDate>{when.strftime('%a, %d %b %Y %H:%M:%S %z')}</pubDate>{cat_xml}"
            f"<description>{html.escape(desc)}</description>"
            + (f"<content:encoded>{html.escape(content)}</content:encoded>" if content else "")
            + "</item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>G</title>'
        f"<link>https://g.example/</link>{''.join(out)}</channel></rss>"
    ).encode()


def _atom(items: list[tuple[str, str, str, datetime, list[str]]]) -> bytes:
    out = []
    for i, (title, desc, content, when, cats) in enumerate(items):
        cat_xml = "".join(f'<category term="{html.escape(c)}"/>' for c in cats)
        out.append(
            f"<entry><title>{html.escape(title)}</title>"
            f'<link href="https://g.example/{i}"/><id>urn:g:{i}</id>'
            f"<updated>{when.isoformat()}</updated>{cat_xml}"
            f'<summary type="html">{html.escape(desc)}</summary>'
            + (f'<content type="html">{html.escape(content)}</content>' if content else "")
            + "</entry>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>G</title><id>urn:g</id>{''.join(out)}</feed>"
    ).encode()


@settings(
    max_examples=int(os.environ.get("TIDINGS_PARSE_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    st.lists(
        st.tuples(_text, _html_bits, _html_bits, _when, st.lists(_text, max_size=3)), min_size=1, max_size=4
    ),
    st.booleans(),
)
def test_generated_feeds_agree_on_both_paths(items: list[Any], atom: bool) -> None:
    body = _atom(items) if atom else _rss(items)
    fast, slow = both(body, "https://g.example/feed.xml")
    if isinstance(fast, Declined):
        return  # feedparser takes it; nothing to compare
    assert same(fast, slow), (fast, slow)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_arbitrary_bytes_raise_only_parse_errors(body: bytes) -> None:
    with contextlib.suppress(ParseError):
        parse_feed(body, "https://x.example/feed")


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 10_000), st.binary(min_size=1, max_size=5))
def test_corrupted_feed_raises_only_parse_errors(cut: int, junk: bytes) -> None:
    body = (DATA / "news.rss").read_bytes()
    cut %= len(body)
    with contextlib.suppress(ParseError):
        parse_feed(body[:cut] + junk + body[cut + len(junk) :], "https://x.example/feed")


# -- ../shared: the benchmark corpus and the conformance documents ----------------------


def _shared(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"../shared material not available ({path})")
    return path


@pytest.mark.shared
def test_benchmark_corpus_all_fast_and_identical() -> None:
    bench = _shared("bench", "feed-parsers")
    sys.path.insert(0, str(bench))
    try:
        import gen_feeds  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(bench))
    for name, body, _truth in gen_feeds.build_corpus(n_feeds=40):
        fast, slow = both(body, "https://x.example/feed")
        assert isinstance(fast, ParsedFeed), (name, fast)
        assert same(fast, slow), name


@pytest.mark.shared
@pytest.mark.slow
def test_conformance_documents_identical_where_fast_path_accepts() -> None:
    suite = _shared("conformance", "feedparser")
    accepted = 0
    for path in sorted(suite.rglob("*.xml")):
        body = path.read_bytes()
        url = "http://127.0.0.1:8097/tests/" + path.relative_to(suite).as_posix()
        fast = parse_fast(body, url)
        if isinstance(fast, Declined):
            continue
        accepted += 1
        slow = _parse_with_feedparser(body, url, None, 500)
        assert same(fast, slow), path.relative_to(suite)
    assert accepted > 500  # the fast path takes most well-formed RSS 2.0 / Atom 1.0 cases
