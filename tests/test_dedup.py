"""Unit and property tests of tidings.dedup: canonical URLs, fingerprints, near-duplicates, agencies."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.provisional import urls

from tidings.dedup import (
    DuplicateIndex,
    canonical_url,
    choose_canonical,
    detect_agency,
    fingerprint,
    strip_furniture,
)

WIRE = (
    "The Reserve Bank of India on Wednesday kept its key lending rate unchanged at 6.5 per cent "
    "for the fourth time in a row, saying inflation remained above its comfort level while "
    "growth was holding up better than expected in the first quarter of the year."
)


def test_canonical_url_folds_tracking_amp_mobile_ports_and_slashes() -> None:
    want = "https://example.com/news/story-1.html?id=3"
    for url in [
        "https://www.example.com/news/story-1.html?id=3&utm_source=rss&fbclid=x",
        "https://m.example.com/news/amp/story-1.html?id=3",
        "https://amp.example.com/news/story-1.html?id=3#comments",
        "HTTPS://Example.COM:443/news/story-1.html?ref=home&id=3",
        "https://example.com/news/story-1.amp.html?id=3&outputType=amp",
        "https://example.com/news/story-1.html?amp=1&id=3",
        " https://example.com/news/story-1.html/?id=3 ",
    ]:
        assert canonical_url(url) == want, url


def test_canonical_url_keeps_what_identifies_the_page() -> None:
    assert canonical_url("http://example.com:8080/a?page=2&id=7") == "http://example.com:8080/a?id=7&page=2"
    assert canonical_url("https://example.com/") == "https://example.com/"
    assert canonical_url("https://m.co/story") == "https://m.co/story"  # m.co is a domain, not a prefix


def test_canonical_url_never_raises_on_junk() -> None:
    for junk in ["", "   ", "not a url", "ftp://x/y", "https://[::1", "javascript:alert(1)", "http://"]:
        assert isinstance(canonical_url(junk), str)


@settings(max_examples=300)
@given(urls())
def test_canonical_url_is_idempotent(url: str) -> None:
    once = canonical_url(url)
    assert canonical_url(once) == once


@settings(max_examples=200)
@given(st.text(max_size=80))
def test_canonical_url_is_idempotent_on_any_text(text: str) -> None:
    once = canonical_url("https://example.com/" + text)
    assert canonical_url(once) == once


def test_choose_canonical_trusts_same_site_only() -> None:
    page = "https://www.example.com/a/story?utm_source=x"
    assert (
        choose_canonical(page, "https://example.com/news/story-123") == "https://example.com/news/story-123"
    )
    assert choose_canonical(page, "https://spam.example.net/x") == "https://example.com/a/story"
    assert choose_canonical(page, None) == "https://example.com/a/story"


def test_detect_agency_from_byline_and_text() -> None:
    assert detect_agency("anything", "PTI") == "PTI"
    assert detect_agency("anything", "Reuters / Staff") == "Reuters"
    assert detect_agency("NEW DELHI, June 14 (PTI) The government said.") == "PTI"
    assert detect_agency("LONDON (Reuters) - Shares fell.") == "Reuters"
    assert detect_agency("Body of the story. — AFP") == "AFP"
    assert detect_agency("Body of the story. (With inputs from IANS)") == "IANS"
    assert detect_agency("Shares fell. (Reporting by Jane Doe; Editing by John Roe)") == "Reuters"
    assert detect_agency("A story written by our own correspondent about APple.") is None
    assert detect_agency("", "Atul Aneja") is None


def test_fingerprint_ignores_dateline_credit_case_and_punctuation() -> None:
    a = "NEW DELHI, June 14 (PTI) " + WIRE
    b = "New Delhi: " + WIRE.upper().replace(",", "") + " — PTI"
    c = WIRE + " (With inputs from PTI)"
    assert fingerprint(a) == fingerprint(b) == fingerprint(c) == fingerprint(WIRE)
    assert fingerprint(WIRE.replace("unchanged", "higher")) != fingerprint(WIRE)
    assert fingerprint("Too short to judge.") is None
    assert strip_furniture("MUMBAI (Reuters) - Text here").startswith("Text")


@given(st.text(max_size=300))
def test_fingerprint_is_stable_and_never_raises(text: str) -> None:
    assert fingerprint(text) == fingerprint(text)


def test_index_finds_edited_and_cut_copies_but_not_other_stories() -> None:
    index = DuplicateIndex(window=48.0)
    assert index.add(1, "MUMBAI (PTI) " + WIRE, now=0.0)
    edited = WIRE.replace("in a row", "in succession") + " Markets rose after the decision."
    match = index.find("Mumbai: " + edited, now=1.0)
    assert match is not None and match.key == 1 and not match.exact
    cut = " ".join(WIRE.split()[:30])
    assert index.find(cut, now=1.0) is not None  # a cut-down copy (containment)
    other = (
        "The Reserve Bank of India is expected to keep rates on hold, economists polled said on "
        "Monday, pointing to sticky food prices and a strong rupee ahead of the policy meeting."
    )
    assert index.find(other, now=1.0) is None
    exact = index.find(WIRE + " — PTI", now=2.0)
    assert exact is not None and exact.exact


def test_index_window_forgets_old_texts() -> None:
    index = DuplicateIndex(window=10.0)
    index.add("a", WIRE, now=0.0)
    assert index.find(WIRE, now=5.0) is not None
    assert index.find(WIRE, now=20.0) is None
    index.add("b", "A different text entirely " * 5, now=20.0)
    assert len(index) == 1
    assert not index.add("c", "short", now=20.0)
