"""tidings.extract on the project's own fixture pages (tests/data/extract/).

Each fixture page has its expected output beside it (``<name>.expected.json``);
the tests below also spell out the issue's rules one by one, so a failure
says which rule broke.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tidings.extract import (
    TemplateMemory,
    clean_author,
    clean_title,
    decode_html,
    detect_language,
    extract,
    from_feed,
    html_to_text,
    is_boilerplate_line,
    normalise_inline,
    normalise_text,
    parse_datetime,
    sanitize_html,
)
from tidings.model import Entry, Extracted, Feed

DATA = Path(__file__).parent / "data" / "extract"
FIXTURES = sorted(p.stem for p in DATA.glob("*.html"))
URL = "https://fixture.example/news/{}"


def run(name: str, **kw: object) -> Extracted:
    return extract((DATA / f"{name}.html").read_bytes(), URL.format(f"{name}.html"), **kw)  # type: ignore[arg-type]


def paragraphs(e: Extracted) -> list[str]:
    return e.text.split("\n\n")


# -- expected output beside each fixture --------------------------------------


@pytest.mark.parametrize("name", FIXTURES)
def test_fixture_matches_expected_output(name: str) -> None:
    expected = json.loads((DATA / f"{name}.expected.json").read_text(encoding="utf-8"))
    publisher = "Valley Courier" if name == "no-body" else None
    got = dataclasses.asdict(run(name, publisher=publisher))
    got = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in got.items()}
    expected.pop("url")
    assert got == expected


# -- body ---------------------------------------------------------------------


def test_first_sentence_keeps_words_inside_links_bold_and_italic() -> None:
    e = run("inline-links")
    assert paragraphs(e)[0] == (
        "The mayors of three harbour towns agreed on a joint flood plan on Tuesday, pooling their "
        "defence budgets for the first time and promising a single warning system by the end of "
        "the year."
    )
    first = e.html.split("</p>")[0]
    assert '<a href="https://fixture.example/news/mayors-meeting"' in first
    assert ">agreed on a joint flood plan</a>" in first
    assert "<strong>pooling their defence budgets</strong>" in first
    assert "<em>promising a single warning system</em>" in first


def test_headline_is_not_repeated_as_first_body_line() -> None:
    e = run("inline-links")
    assert e.title == "Harbour towns agree on a shared flood plan"
    assert not e.text.startswith(e.title)
    assert e.title not in paragraphs(e)


def test_promotional_paragraphs_mid_article_are_removed() -> None:
    text = run("inline-links").text
    for junk in (
        "ALSO READ",
        "Follow us on Google News",
        "Tags:",
        "Share on Twitter",
        "Related stories",
        "All rights reserved",
    ):
        assert junk not in text
    # the paragraphs around the "ALSO READ" line are intact and in order
    ps = paragraphs(run("inline-links"))
    i = next(n for n, p in enumerate(ps) if p.startswith("Under the plan"))
    assert ps[i + 1].startswith("The decision follows two winters")


def test_captions_and_bylines_are_not_body() -> None:
    e = run("inline-links")
    assert "The old sea wall at Kestrel Bay" not in e.text
    assert "By Asha Verma" not in e.text
    assert e.author == "Asha Verma"  # without "By" and without the publisher's name


def test_subheadings_are_separate_blocks_and_no_paragraph_is_duplicated() -> None:
    e = run("inline-links")
    ps = paragraphs(e)
    assert "What changes for residents" in ps
    assert "<h2>What changes for residents</h2>" in e.html
    assert len(ps) == len(set(ps))
    assert sum(p.startswith("The plan will be reviewed") for p in ps) == 1


def test_text_is_normalised() -> None:
    for name in FIXTURES:
        e = run(name)
        assert e.text == normalise_text(e.text)
        assert not e.text.startswith(("\n", " ")) and not e.text.endswith(("\n", " "))
        assert "\n\n\n" not in e.text and "  " not in e.text


def test_headline_only_in_json_ld() -> None:
    e = run("jsonld-headline")
    assert e.title == "Valley library extends its evening hours"
    assert e.author == "Tom Ellery"
    assert e.site_name == "Valley Courier"
    assert e.published_at == datetime(2024, 6, 12, 18, 5, tzinfo=UTC)
    assert e.ok and paragraphs(e)[0].startswith("The Valley public library will stay open")


def test_hindi_page() -> None:
    e = run("hindi")
    assert e.language == "hi"
    assert e.title == "शहर में नई बस सेवा शुरू, यात्रियों को मिलेगी राहत"  # " - नगर समाचार" removed
    assert "यह भी पढ़ें" not in e.text  # Hindi "also read"
    assert paragraphs(e)[0].startswith("नगर निगम ने सोमवार से शहर में बीस नई बसें")
    assert len(paragraphs(e)) == 4
    assert e.published_at == datetime(2024, 9, 3, 15, 16, tzinfo=UTC)  # 20:46 IST


def test_page_with_no_body_says_so() -> None:
    e = run("no-body", publisher="Valley Courier")
    assert not e.ok
    assert e.reason is not None and "no article body" in e.reason
    assert e.title == "Live: council meeting"  # headline never empty; publisher suffix removed


def test_metadata_of_a_full_page() -> None:
    e = run("inline-links")
    assert e.published_at == datetime(2024, 3, 5, 4, 0, tzinfo=UTC)
    assert e.updated_at == datetime(2024, 3, 5, 5, 30, tzinfo=UTC)
    assert e.site_name == "The Fixture Times"
    assert e.canonical_url == "https://fixture-times.example/news/harbour-flood-plan"
    assert e.image == "https://fixture.example/img/harbour.jpg"
    assert e.language == "en"


def test_declared_english_is_checked_against_the_text() -> None:
    english = (
        "The council said on Monday that the new bus routes would start next month, "
        "and that fares will stay the same for students."
    )
    german = (
        "Der Stadtrat hat am Montag beschlossen, dass die neuen Buslinien im nächsten Monat "
        "starten und die Preise für Schüler gleich bleiben."
    )
    hindi = "नगर निगम ने सोमवार से शहर में बीस नई बसें शुरू कीं और कहा कि किराया छात्रों के लिए पहले जैसा रहेगा।"
    assert detect_language(english, "en-GB") == "en"
    assert detect_language(english, None) == "en"
    assert detect_language(german, "en") == "de"  # a site template's lang="en" on a German page
    assert detect_language(hindi, "en") == "hi"
    assert detect_language("Short.", "en-IN") == "en"  # too short to read: the declaration


def _story(n: int) -> str:
    return " ".join(
        f"Paragraph {n}, sentence {i}: the council said the new bus routes start next month."
        for i in range(5)
    )


def test_page_chrome_dropped_before_trafilatura_keeps_the_article() -> None:
    body = "".join(f"<p>{_story(n)}</p>" for n in range(3))
    script_in_text = (
        "<p>The mayor<script>track();</script> said fares stay the same for students this year.</p>"
    )
    page = (
        '<!DOCTYPE html><html lang="en"><head><title>Bus routes | Courier</title>'
        "<script>var ads = 1;</script></head><body><nav><p>Home</p><p>News</p></nav>"
        f"<article><h1>Bus routes</h1>{body}{script_in_text}</article>"
        "<footer><p>About us</p></footer></body></html>"
    )
    e = extract(page, "https://courier.example/news/bus")
    assert e.ok and e.text.startswith("Paragraph 0, sentence 0")
    assert "The mayor said fares stay the same for students this year." in e.text  # text after a script
    assert "About us" not in e.text and "var ads" not in e.text
    # a page whose only paragraphs sit inside an <aside> keeps them (trafilatura's recall restores them)
    aside = page.replace("<article>", '<aside class="story">').replace("</article>", "</aside>")
    e = extract(aside, "https://courier.example/news/bus")
    assert e.ok and "Paragraph 2, sentence 4" in e.text


# -- the pipeline falls back to the feed's text --------------------------------


def test_pipeline_falls_back_to_feed_text_when_page_has_no_body(publisher_server, settings, store) -> None:
    from tidings.fetch import Fetcher
    from tidings.pipeline import Pipeline

    publisher_server.add("/courier/live.html", (DATA / "no-body.html").read_bytes())
    url = publisher_server.url("/courier/live.html")
    entry = Entry(
        link=url,
        title="Council meeting, as it happened",
        summary="<p>The council approved the new library hours by seven votes to two "
        "after a short debate on Wednesday evening.</p>",
        published_at=datetime(2024, 6, 12, 19, 0, tzinfo=UTC),
    )
    feed = Feed(
        id=None, source_id=None, url=publisher_server.url("/courier/rss.xml"), source_name="Valley Courier"
    )

    async def go():  # type: ignore[no-untyped-def]
        async with Fetcher(settings) as fetcher:
            return await Pipeline(settings, store).fetch_article(fetcher, feed, url, entry)

    article = asyncio.run(go())
    assert article is not None
    assert article.extraction == "feed"
    assert article.extraction_reason is not None and "no article body" in article.extraction_reason
    assert article.text == (
        "The council approved the new library hours by seven votes to two "
        "after a short debate on Wednesday evening."
    )


# -- feed evidence and fallbacks ------------------------------------------------


def test_headline_falls_back_to_feed_title_when_page_has_none() -> None:
    page = "<html><body><p>" + "Some words here. " * 20 + "</p></body></html>"
    e = extract(page, "https://x.example/a", entry=Entry(link=None, title="Feed &amp; title"))
    assert e.title == "Feed & title"


def test_from_feed_uses_content_then_summary() -> None:
    entry = Entry(
        link="https://x.example/a",
        title="A title | Valley Courier",
        summary="<p>Short summary.</p>",
        content="<p>First paragraph of the content.</p><p>ALSO READ: other</p><p>Second.</p>",
    )
    e = from_feed(entry, "Valley Courier")
    assert e.title == "A title"
    assert e.text == "First paragraph of the content.\n\nSecond."
    assert e.ok
    empty = from_feed(Entry(link=None, title="t"))
    assert not empty.ok and empty.reason


def test_hostile_input_never_raises() -> None:
    for page in (
        b"",
        b"\x00\xff\xfe garbage",
        "<html>",
        "<?xml version='1.0'?><rss/>",
        "<html><body>" + "<div>" * 3000 + "deep" + "</div>" * 3000 + "</body></html>",
    ):
        e = extract(page, "https://x.example/a")
        assert isinstance(e, Extracted) and not e.ok and e.reason


# -- publisher templates ----------------------------------------------------------


def _site_page(n: int, host: str = "courier.example") -> tuple[str, str]:
    body = "".join(
        f"<p>Story {n} paragraph {k}: the council discussed item {k * n} of the agenda at length, "
        f"and members asked for a report on its cost before the next meeting in the town hall.</p>"
        for k in range(1, 5)
    )
    box = (
        "<p>Our morning briefing brings the valley's news to your inbox before breakfast, "
        "every weekday, free of charge for all our readers.</p>"
    )
    page = (
        f"<html><head><title>Story {n}</title></head><body><article><h1>Story {n}</h1>"
        f"{body[: len(body) // 2]}{box}{body[len(body) // 2 :]}</article></body></html>"
    )
    return page, f"https://{host}/news/story-{n}"


def test_template_memory_learns_a_publishers_repeated_paragraphs() -> None:
    memory = TemplateMemory(min_pages=3)
    box = "Our morning briefing brings"
    for n in range(1, 4):
        page, url = _site_page(n)
        assert box in extract(page, url, template=memory).text  # not yet known as template
    page, url = _site_page(4)
    learned = extract(page, url, template=memory)
    assert box not in learned.text
    assert "Story 4 paragraph 1" in learned.text and "Story 4 paragraph 4" in learned.text
    other_page, other_url = _site_page(5, host="other.example")  # another publisher: kept
    assert box in extract(other_page, other_url, template=memory).text


def test_template_memory_counts_a_page_once() -> None:
    memory = TemplateMemory(min_pages=2)
    memory.learn("https://a.example/x", ["Repeated box text here."])
    memory.learn("https://a.example/x", ["Repeated box text here."])
    assert memory.boilerplate("https://a.example/y") == frozenset()
    memory.learn("https://a.example/z", ["Repeated box text here."])
    assert memory.boilerplate("https://a.example/y") == {"repeated box text here"}
    assert memory.boilerplate("https://b.example/y") == frozenset()


# -- metadata helpers -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        ("2024-03-05T09:30:00+05:30", datetime(2024, 3, 5, 4, 0, tzinfo=UTC)),
        ("2024-03-05T09:30:00Z", datetime(2024, 3, 5, 9, 30, tzinfo=UTC)),
        ("2019-11-19T21:57:01+0000", datetime(2019, 11, 19, 21, 57, 1, tzinfo=UTC)),
        ("2024-03-05 09:30:00", datetime(2024, 3, 5, 9, 30, tzinfo=UTC)),
        ("Tue, 19 Nov 2019 07:09:00 GMT", datetime(2019, 11, 19, 7, 9, tzinfo=UTC)),
        ("01:38:07 PM IST Nov 20, 2019", datetime(2019, 11, 20, 8, 8, 7, tzinfo=UTC)),
        ("Tue Nov 19 21:57:01 UTC 2019", datetime(2019, 11, 19, 21, 57, 1, tzinfo=UTC)),
        ("yesterday", None),
        ("", None),
        (None, None),
        ("0001-01-01T00:00:00Z", None),
    ],
)
def test_parse_datetime(raw: object, want: datetime | None) -> None:
    assert parse_datetime(raw) == want


@given(st.text(max_size=60))
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
def test_parse_datetime_never_raises_and_is_utc(raw: str) -> None:
    dt = parse_datetime(raw)
    assert dt is None or dt.tzinfo is UTC


@pytest.mark.parametrize(
    ("raw", "sites", "want"),
    [
        ("Harbour towns agree | The Fixture Times", ["The Fixture Times"], "Harbour towns agree"),
        (
            "India, Canada agree on security plan | Zee News",
            ["Zee News"],
            "India, Canada agree on security plan",
        ),
        ("Markets rally - Moneycontrol.com", [None], "Markets rally"),
        ("BBC News - Title here", ["BBC News"], "Title here"),
        ("Covid-19 - what we know", ["Valley Courier"], "Covid-19 - what we know"),
    ],
)
def test_clean_title(raw: str, sites: list[str | None], want: str) -> None:
    assert clean_title(raw, sites) == want


def test_clean_author() -> None:
    assert clean_author(["By Asha Verma and Tom Ellery"], ["The Fixture Times"]) == "Asha Verma, Tom Ellery"
    assert clean_author(["The Fixture Times"], ["The Fixture Times"]) is None
    assert clean_author(["Asha Verma | The Fixture Times"], ["The Fixture Times"]) == "Asha Verma"


def test_decode_html() -> None:
    assert decode_html("<p>café</p>".encode("cp1252"), "iso-8859-1") == "<p>café</p>"
    meta = b'<meta charset="windows-1252"><p>caf\xe9</p>'
    assert decode_html(meta).endswith("café</p>")
    assert decode_html(b"\xef\xbb\xbf<p>x</p>") == "<p>x</p>"
    assert decode_html(b"<p>\xff\xfa broken</p>", "utf-8").endswith(" broken</p>")  # no error


def test_sanitize_html_drops_scripts_and_bad_links() -> None:
    out = sanitize_html(
        '<p onclick="x()">a<script>alert(1)</script><a href="javascript:x">b</a>'
        '<a href="https://ok.example/">c</a></p>'
    )
    assert "script" not in out and "onclick" not in out and "javascript" not in out
    assert 'href="https://ok.example/"' in out


def test_html_to_text_keeps_paragraphs() -> None:
    assert html_to_text("<p>One <b>two</b></p><p>Three<br>four</p>") == "One two\n\nThree\n\nfour"


@given(st.text(max_size=200))
def test_normalise_text_is_idempotent(raw: str) -> None:
    once = normalise_text(raw)
    assert normalise_text(once) == once
    assert "\n\n\n" not in once


@given(st.text(max_size=200))
def test_normalise_inline_is_one_line(raw: str) -> None:
    out = normalise_inline(raw)
    assert "\n" not in out and "  " not in out and out == out.strip()


def test_text_between_subheadings_without_paragraph_tags_is_kept() -> None:
    # trafilatura's body for a deals page whose items are a subheading then bare text (no <p>):
    # the text is the tail of the <head> element, and it is body text
    from lxml import etree

    from tidings.extract.body import blocks_of

    body = etree.fromstring(
        '<body>Intro text before anything.<head rend="h2">Kettle for $10</head>This kettle boils '
        'fast.<lb/>It is <hi rend="#b">quiet</hi> too.<head rend="h2">Toaster for $20</head>'
        "<p>A paragraph.</p>Tail after the paragraph.</body>"
    )
    assert [(b.kind, b.text) for b in blocks_of(body)] == [
        ("p", "Intro text before anything."),
        ("h2", "Kettle for $10"),
        ("p", "This kettle boils fast."),
        ("p", "It is quiet too."),
        ("h2", "Toaster for $20"),
        ("p", "A paragraph."),
        ("p", "Tail after the paragraph."),
    ]


@pytest.mark.parametrize(
    "line",
    [
        "ALSO READ | Storm season: what the new forecasts mean",
        "Also Read: Markets close higher",
        "Follow us on Google News",
        "Follow The Valley Courier Opinion section on Facebook and Twitter",
        "यह भी पढ़ें: बारिश के बाद सड़कों की मरम्मत",
        "Tags: flooding, harbour",
        "Tags",
        "Sign up for The Morning Brief today to get the free daily newsletter",
        "This copy is for your personal, non-commercial use only.",
        "Like this story? Share it!",
        "Updated at 1:23 p.m.",
        "Nov 19, 2019 10:02 IST",
        "© 2024 The Fixture Times",
        "Write to Jane Doe at jane.doe@example.com",
        "https://example.com/a/b",
        "[button link=”https://example.com/x” type=”big”] Send us your review",
        "Get the magazine delivered every month. Click here for more details.",
    ],
)
def test_page_furniture_lines(line: str) -> None:
    assert is_boilerplate_line(line)


@pytest.mark.parametrize(
    "line",
    [
        "Also, the council read the report aloud before the vote.",
        "Follow-up inspections are planned for 2025, the engineers said.",
        "The storm hit on Nov 19, 2019 at 10:02, flooding 40 homes along the harbour.",
        "Tags on the crates showed they had come from Rotterdam.",
        "Copyright law, the judge said, does not protect a list of facts.",
        "Readers wrote to us in their hundreds after the first report.",
    ],
)
def test_body_lines_are_not_furniture(line: str) -> None:
    assert not is_boilerplate_line(line)


def test_pipeline_learns_a_publishers_template(publisher_server, settings, store) -> None:
    from tidings.fetch import Fetcher
    from tidings.pipeline import Pipeline

    feed = Feed(
        id=None, source_id=None, url=publisher_server.url("/courier/rss.xml"), source_name="Valley Courier"
    )
    pipeline = Pipeline(settings, store)
    urls = []
    for n in range(1, 5):
        page, _ = _site_page(n)
        publisher_server.add(f"/courier/story-{n}.html", page)
        urls.append(publisher_server.url(f"/courier/story-{n}.html"))

    async def go():  # type: ignore[no-untyped-def]
        async with Fetcher(settings) as fetcher:
            return [await pipeline.fetch_article(fetcher, feed, u, Entry(link=u)) for u in urls]

    articles = asyncio.run(go())
    box = "Our morning briefing brings"
    assert [box in a.text for a in articles] == [True, True, True, False]
    assert all(a.extraction == "page" for a in articles)
