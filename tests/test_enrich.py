"""Enrichment: language, entities with aliases, countries and pairs, topics, keywords, summary."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tidings.enrich import Enricher, Enrichment, Span, country_pairs, load_recogniser, sentences
from tidings.enrich.entities import countries_of
from tidings.enrich.gazetteer import Gazetteer, tokenize
from tidings.enrich.summary import keywords, summarise
from tidings.enrich.topics import TOPICS, from_categories, from_url
from tidings.errors import ConfigError
from tidings.model import Article

DATA = Path(__file__).parent / "data" / "enrich"
SHARED = Path(os.environ.get("TIDINGS_SHARED") or Path(__file__).resolve().parents[1] / ".." / "shared")


@pytest.fixture(scope="module")
def enricher() -> Enricher:
    return Enricher()


def _names(result: Enrichment, kind: str) -> set[str]:
    return {e.name for e in result.entities if e.kind == kind}


def _aliases(result: Enrichment, name: str) -> set[str]:
    return {a for e in result.entities if e.name == name for a in e.aliases}


# -- the example story ---------------------------------------------------------------


def test_fixture_story_matches_expected(enricher: Enricher) -> None:
    title, _, body = (DATA / "india-canada.txt").read_text(encoding="utf-8").partition("\n\n")
    want = json.loads((DATA / "india-canada.expected.json").read_text(encoding="utf-8"))
    got = enricher.enrich(title, body)
    assert got.language == want["language"]
    assert got.topic in want["topics"]
    assert set(want["countries"]) <= set(got.countries)
    assert set(want["people"]) <= _names(got, "person")
    assert set(want["places"]) <= _names(got, "place")
    for name, aliases in want["aliases"].items():
        assert set(aliases) <= _aliases(got, name), name
    for pair in want["country_pairs"]:
        assert tuple(pair) in got.country_pairs
    # the summary is the article's own sentences, two or three of them
    assert 2 <= len(sentences(got.summary)) <= 3
    assert all(s in body for s in sentences(got.summary))
    assert got.keywords


@pytest.mark.shared
def test_shared_example_story(enricher: Enricher) -> None:
    path = SHARED / "examples" / "zee-news-india-canada.txt"
    if not path.is_file():
        pytest.skip(f"../shared is absent: {path} not found")
    got = enricher.enrich("", path.read_text(encoding="utf-8"))
    assert got.language == "en"
    assert {"IN", "CA", "US", "MX"} <= set(got.countries)
    assert {
        "Ajit Doval",
        "Nathalie Drouin",
        "Mark Carney",
        "Hardeep Singh Nijjar",
        "Justin Trudeau",
        "Donald Trump",
    } <= _names(got, "person")
    assert {"Ottawa", "New Delhi"} <= _names(got, "place")
    assert got.topic in {"world", "politics"}
    assert ("CA", "IN") in got.country_pairs


# -- language ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("प्रधानमंत्री ने शुक्रवार को नई दिल्ली में कहा कि देश की अर्थव्यवस्था आगे बढ़ रही है।", "hi"),
        ("राज्य सरकारने शेतकऱ्यांसाठी नवी योजना जाहीर केली असून त्याचा लाभ लाखो शेतकऱ्यांना होणार आहे.", "mr"),
        ("சென்னையில் பெய்த கனமழையால் பல சாலைகளில் தண்ணீர் தேங்கியது.", "ta"),
        ("হায়দরাবাদে নয়, কলকাতায় শনিবার সকাল থেকে টানা বৃষ্টি হচ্ছে।", "bn"),
        ("গুৱাহাটীত শুক্ৰবাৰে হোৱা প্ৰবল বৰষুণৰ ফলত চহৰৰ বহু অঞ্চল জলমগ্ন হৈ পৰে।", "as"),
        ("The central bank kept its benchmark rate unchanged on Friday.", "en"),
    ],
)
def test_language(enricher: Enricher, text: str, code: str) -> None:
    assert enricher.detector.detect(text).code == code


def test_declared_language_is_only_a_hint(enricher: Enricher) -> None:
    # a long English text declared as Hindi is English
    text = "The government announced new measures to support farmers hit by the drought this year."
    assert enricher.detector.detect(text, hint="hi").code == "en"
    # too little text: the hint decides
    assert enricher.detector.detect("", hint="fr").code == "fr"
    assert enricher.detector.detect("", hint=None).code is None


def test_language_column_of_an_article(enricher: Enricher) -> None:
    article = Article(
        id=1,
        url="http://x.test/a",
        canonical_url="http://x.test/a",
        title="Tamil Nadu rains",
        text="சென்னையில் பெய்த கனமழையால் பல சாலைகளில் தண்ணீர் தேங்கியது.",
        html="",
        publisher="x",
        source_id=None,
        feed_id=None,
        language="en",
    )
    assert enricher.enrich_article(article).language == "ta"


# -- entities ---------------------------------------------------------------------------


def test_aliases_merge_into_one_person(enricher: Enricher) -> None:
    text = (
        "NSA Ajit Doval met officials on Monday. Later, Doval told reporters the talks went well. "
        "Ajit Doval returns on Friday."
    )
    got = enricher.enrich("", text)
    doval = [e for e in got.entities if e.kind == "person" and "Doval" in e.name]
    assert len(doval) == 1
    assert doval[0].name == "Ajit Doval"
    assert {"Doval", "Ajit Doval"} <= set(doval[0].aliases)
    assert doval[0].count == 3


def test_trigger_words_find_unknown_people(enricher: Enricher) -> None:
    got = enricher.enrich(
        "",
        "Telangana Industries Minister Duddilla Sridhar Babu opened the plant. "
        "Priyanka Kethavath, the chief engineer of the project, said output "
        "would double. Kethavath added that 500 jobs were created.",
    )
    people = _names(got, "person")
    assert "Duddilla Sridhar Babu" in people
    assert "Priyanka Kethavath" in people
    assert "Kethavath" not in people  # merged into the full name
    assert "Telangana" in _names(got, "place")


def test_organisations_by_suffix_and_gazetteer(enricher: Enricher) -> None:
    got = enricher.enrich(
        "",
        "Shares of Kaveri Pumps Ltd rose after the Reserve Bank of India cut rates, "
        "and the BJP welcomed the move.",
    )
    orgs = _names(got, "org")
    assert {"Kaveri Pumps Ltd", "Reserve Bank of India", "Bharatiya Janata Party"} <= orgs
    assert "IN" in got.countries


def test_place_names_are_case_sensitive(enricher: Enricher) -> None:
    got = enricher.enrich("", "It was a nice day for reading in the park, said the mayor.")
    assert not _names(got, "place")


def test_hyphenated_country_pairs_are_split(enricher: Enricher) -> None:
    got = enricher.enrich("", "India-Canada relations improved after the visit.")
    assert {"IN", "CA"} <= set(got.countries)
    assert ("CA", "IN") in got.country_pairs


def test_headline_title_case_does_not_invent_people(enricher: Enricher) -> None:
    got = enricher.enrich("Markets Rally As Investors Cheer Strong Earnings Season", "Stocks rose.")
    assert not _names(got, "person")


class _FixedRecogniser:
    """A stand-in model: labels the first occurrence of one name as a person."""

    name = "fixed"

    def __init__(self, phrase: str) -> None:
        self.phrase = phrase

    def recognise(self, text: str) -> list[Span]:
        at = text.find(self.phrase)
        return [Span(at, at + len(self.phrase), "person")] if at >= 0 else []


def test_pluggable_recogniser_adds_its_findings() -> None:
    enricher = Enricher(recogniser=_FixedRecogniser("Zorawar Khanduri"))
    got = enricher.enrich("", "Investors cheered as Zorawar Khanduri took charge.")
    assert "Zorawar Khanduri" in _names(got, "person")


def test_load_recogniser() -> None:
    assert load_recogniser("") is None
    with pytest.raises(ConfigError):
        load_recogniser("bogus")
    with pytest.raises(ConfigError):
        load_recogniser("spacy:no_such_model_installed_here")


# -- countries ---------------------------------------------------------------------------


def test_countries_from_demonyms_places_and_leaders(enricher: Enricher) -> None:
    got = enricher.enrich(
        "",
        "Canadian officials met in Ottawa. Narendra Modi spoke to Narendra Modi's cabinet about the talks.",
    )
    assert got.countries[0] == "CA"
    assert "IN" in got.countries


def test_a_footballer_named_once_does_not_tag_his_country(enricher: Enricher) -> None:
    got = enricher.enrich("", "Cristiano Ronaldo scored twice in Riyadh on Friday.")
    assert "PT" not in got.countries
    assert "SA" in got.countries


def test_country_pairs_are_sorted_and_limited() -> None:
    assert country_pairs(["IN", "CA"]) == (("CA", "IN"),)
    many = country_pairs(["US", "IN", "CA", "MX", "FR", "DE"])
    assert len(many) == 6  # pairs of the four strongest only
    assert all(a < b for a, b in many)


def test_countries_of_threshold() -> None:
    from tidings.enrich import EntityMention

    weak = [EntityMention("person", "Somebody", ("Somebody",), 1, "PT", "gazetteer")]
    strong = [EntityMention("country", "India", ("India",), 1, "IN", "gazetteer")]
    assert countries_of(weak) == []
    assert [c for c, _ in countries_of(strong)] == ["IN"]


# -- topics ---------------------------------------------------------------------------


def test_topic_from_feed_category_and_url() -> None:
    assert from_categories(["Football"]) == "sport"
    assert from_categories(["fnc/politics"]) == "politics"
    assert from_categories(["World news", "Europe"]) == "world"
    assert from_categories(["Tamil Nadu"]) is None
    assert from_url("https://www.example.com/sport/cricket/some-match-report-1.html") == "sport"
    assert from_url("https://example.com/2020/05/30/business/markets-stocks.html") == "business"
    assert from_url("https://example.com/news/some-story") is None
    assert from_url(None) is None


def test_topic_from_text(enricher: Enricher) -> None:
    got = enricher.enrich(
        "Bumrah takes five wickets as India bowl out Australia",
        "India's pace attack dismissed the hosts for 180 in the first innings.",
    )
    assert got.topic == "sport"
    assert got.topic in TOPICS
    assert enricher.enrich("", "").topic == "general"


# -- keywords and summary -------------------------------------------------------------


def test_sentences_keep_abbreviations_together() -> None:
    text = "Mr. Doval met U.S. officials on Monday. Talks went well! Did they agree? Dr. Rao said yes."
    assert sentences(text) == [
        "Mr. Doval met U.S. officials on Monday.",
        "Talks went well!",
        "Did they agree?",
        "Dr. Rao said yes.",
    ]


def test_summary_picks_central_sentences() -> None:
    body = (
        "The city council approved a new metro line on Tuesday. The metro line will connect the "
        "airport to the city centre. Weather was sunny. The council said the metro line would "
        "cost 2 billion dollars. Construction of the metro line starts next year. Pigeons are "
        "common in the square."
    )
    summary = summarise("Council approves metro line", body)
    assert "metro line" in summary
    assert "Pigeons" not in summary
    assert 2 <= len(sentences(summary)) <= 3


def test_keywords_prefer_repeated_phrases() -> None:
    body = (
        "The liaison officers will share intelligence. Liaison officers from both countries "
        "meet monthly. Fentanyl smuggling was discussed."
    )
    kws = keywords("Liaison officers to be posted", body)
    assert kws[0] == "liaison officers"


def test_story_enrichment_merges_articles(enricher: Enricher) -> None:
    a = enricher.enrich("India and Canada restart talks", "Ajit Doval met Nathalie Drouin in Ottawa.")
    b = enricher.enrich("Canada, India agree on security plan", "Canadian and Indian officials met.")
    arts = [
        Article(
            id=i,
            url=f"http://x.test/{i}",
            canonical_url=f"http://x.test/{i}",
            title=t,
            text=x,
            html="",
            publisher="x",
            source_id=None,
            feed_id=None,
        )
        for i, (t, x) in enumerate(
            [
                ("India and Canada restart talks", "Ajit Doval met Nathalie Drouin in Ottawa."),
                ("Canada, India agree on security plan", "Canadian and Indian officials met."),
            ]
        )
    ]
    story = enricher.enrich_story(arts, [a, b])
    assert {"IN", "CA"} <= set(story.countries)
    assert "Ajit Doval" in _names(story, "person")
    assert story.summary


# -- hostile input ---------------------------------------------------------------------


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    title=st.text(max_size=80),
    text=st.text(max_size=600),
    cats=st.lists(st.text(max_size=20), max_size=3),
    url=st.one_of(st.none(), st.text(max_size=40)),
)
def test_enrich_never_raises(
    enricher: Enricher, title: str, text: str, cats: list[str], url: str | None
) -> None:
    got = enricher.enrich(title, text, url, cats, declared_language="xx")
    assert got.topic in TOPICS
    assert all(len(c) == 2 for c in got.countries)
    assert got.language is None or 2 <= len(got.language) <= 3


@given(st.text(max_size=400))
def test_sentences_are_pieces_of_the_text(text: str) -> None:
    squashed = "".join(text.split())
    assert "".join("".join(s.split()) for s in sentences(text)) == squashed


@given(st.text(alphabet=st.sampled_from("AbC de.F-g’s Ü,\n"), max_size=60))
def test_tokenize_loses_no_letters(text: str) -> None:
    letters = [c for c in text if c.isalnum()]
    assert [c for c in "".join(tokenize(text)) if c.isalnum()] == letters


def test_gazetteer_is_built_once_and_reused() -> None:
    g = Gazetteer.load()
    e1 = Enricher(gazetteer=g)
    e2 = Enricher(gazetteer=g, detector=e1.detector)
    assert e1.gazetteer is e2.gazetteer
    assert g.match(tokenize("New Delhi"), 0) is not None


def test_home_country_turns_foreign_politics_into_world(enricher: Enricher) -> None:
    title = "Opposition wins election in Canada"
    text = "Voters in Canada elected the opposition party, and the new government promised a budget bill."
    assert enricher.enrich(title, text).topic == "politics"
    assert enricher.enrich(title, text, home_country="IN").topic == "world"
    assert enricher.enrich(title, text, home_country="CA").topic == "politics"
