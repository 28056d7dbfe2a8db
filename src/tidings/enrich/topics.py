"""A topic for every article: from the feed's own category, the URL path, then the text.

Publishers already sort their news into sections, so their own word is taken
first: a feed category ("Football", "fnc/politics") or a URL path segment
("/sport/", "/business/") mapped through ``SECTION_WORDS``. Only when neither
says anything is the text scored against small weighted word lists per topic
(title words count double); a politics-looking text about two or more
countries, or mainly about a country other than the publisher's, is "world".
Hand-written because the labelled data to train a classifier is thin and any
bundled model would need re-training per language; the lists are measured by
``benchmarks/enrichment.py``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit


def _words(text: str) -> list[str]:
    """Whitespace-separated words of a literal (keeps word lists readable)."""
    return text.split()


TOPICS = (
    "world",
    "politics",
    "business",
    "technology",
    "science",
    "health",
    "sport",
    "entertainment",
    "general",
)

# Section names as publishers spell them (lower case, one word or a path segment).
SECTION_WORDS: dict[str, str] = {}
for _topic, _section_words in {
    "sport": "sport sports football soccer cricket tennis golf rugby formula1 f1 nba nfl mlb nhl "
    "boxing athletics olympics hockey motorsport racing cycling euro-2016 ipl",
    "business": "business economy markets market money finance companies industry economic "
    "personal-finance stocks banking real-estate property",
    "technology": "technology tech sci-tech gadgets internet ai cyber innovation mobile",
    "science": "science space environment climate nature",
    "health": "health wellness coronavirus covid-19 medicine fitness",
    "entertainment": "entertainment culture film films movies movie cinema music tv television "
    "celebrity bollywood hollywood arts books showbiz metroplus lifestyle",
    "politics": "politics elections election government us-politics uk-politics",
    "world": "world international global foreign middle-east asia africa europe americas "
    "south-asia asia-pacific",
}.items():
    for _w in _section_words.split():
        SECTION_WORDS[_w] = _topic

# Phrases in the feed's category labels (free text such as "World news", "US sports").
_CATEGORY_RE = [(re.compile(rf"\b{re.escape(w)}\b"), t) for w, t in SECTION_WORDS.items() if len(w) > 3]

_LEXICON: dict[str, dict[str, float]] = {
    "sport": dict.fromkeys(
        _words("""
    match matches goal goals scored score scores striker midfielder goalkeeper coach tournament
    championship champions league cup final semi-final quarter-final innings wicket wickets
    batting bowler bowling century runs test odi t20 ipl fifa uefa olympic olympics medal medals
    athlete athletes season squad stadium penalty win won victory defeat beat beats draw player
    players team teams club clubs football cricket tennis golf rugby nba nfl grand slam
    wimbledon racing race lap podium sprint marathon boxing fight title kick-off fixture
    fixtures transfer manager playoffs playoff series captain hat-trick half-time euro premier
    formula world-cup batter bat game games quarterback touchdown inning innings homer pitcher
    nhl mlb wnba grand-prix f1 cyclist golfer sprinter swimmer gymnast wrestler boxer jockey
    open semifinal quarterfinal knockout derby fc
"""),
        1.0,
    ),
    "business": dict.fromkeys(
        _words("""
    market markets shares stock stocks investors investor economy economic inflation interest
    rates rate bank banks banking profit profits revenue revenues earnings quarter quarterly
    sales company companies firm firms ceo business businesses trade tariff tariffs deal merger
    acquisition ipo gdp growth prices price oil crude dollar rupee sensex nifty dow nasdaq
    billion million crore lakh tax taxes budget fiscal jobs unemployment startup startups
    funding investment exports imports retail consumer consumers industry manufacturing layoffs
    bankruptcy debt loans loan rbi fed
"""),
        1.0,
    ),
    "technology": dict.fromkeys(
        _words("""
    technology tech software app apps smartphone smartphones iphone android google apple
    microsoft amazon meta facebook twitter tiktok ai artificial intelligence chatgpt openai chip
    chips semiconductor semiconductors computer computers internet online digital cyber
    cybersecurity hackers hack hacking data privacy robot robots startup 5g broadband device
    devices gadget launch launches users platform social media algorithm cloud electric ev musk
    spacex tesla
"""),
        1.0,
    ),
    "science": dict.fromkeys(
        _words("""
    scientists scientist study research researchers space nasa isro rocket launch satellite moon
    mars planet planets astronaut astronauts orbit telescope climate species fossil discovery
    universe physics biology experiment emissions carbon warming environment environmental
    wildlife earthquake volcano eruption ocean glacier spacecraft mission asteroid
"""),
        1.0,
    ),
    "health": dict.fromkeys(
        _words("""
    health hospital hospitals patients patient doctors doctor disease diseases virus vaccine
    vaccines vaccination covid covid-19 coronavirus pandemic cases infection infections medical
    medicine drug drugs treatment cancer outbreak mental nurses surgery symptoms deaths
    dengue malaria tuberculosis diabetes obesity healthcare clinical trial trials quarantine
    lockdown
"""),
        1.0,
    ),
    "entertainment": dict.fromkeys(
        _words("""
    film films movie movies actor actress star stars singer song songs album music concert box
    office bollywood hollywood netflix series show shows tv television celebrity director
    release released trailer oscar oscars award awards festival fans drama comedy theatre book
    novel artist artists premiere episode streaming
"""),
        1.0,
    ),
    "politics": dict.fromkeys(
        _words("""
    election elections vote votes voters voting poll polls campaign parliament lawmakers senate
    congress minister ministers government opposition party parties bjp president prime chief
    bill law legislation policy cabinet governor mla mp mps democrats republicans democratic
    republican trump biden modi political politics assembly constituency candidate candidates
    ruling coalition protest protests protesters court supreme police arrested
"""),
        1.0,
    ),
    "world": dict.fromkeys(
        _words("""
    war troops military army ceasefire diplomatic diplomats diplomacy bilateral foreign embassy
    sanctions nato un united nations refugees border invasion missile missiles strikes
    airstrikes attack attacks killed summit treaty talks relations ministry allies conflict
    hostages gaza ukraine russia israel iran china
"""),
        1.0,
    ),
}
# Words every story mentioned for a while (a pandemic, a war) say little about the section.
for _t, _w in (
    ("health", "coronavirus"),
    ("health", "covid"),
    ("health", "covid-19"),
    ("health", "pandemic"),
    ("health", "cases"),
    ("health", "deaths"),
    ("health", "lockdown"),
    ("health", "quarantine"),
    ("politics", "police"),
    ("politics", "court"),
    ("politics", "arrested"),
    ("world", "killed"),
):
    _LEXICON[_t][_w] = 0.3
# Words that are strong signals get more weight.
for _t, _w, _v in (
    ("sport", "wicket", 3),
    ("sport", "innings", 3),
    ("sport", "goals", 2),
    ("sport", "tournament", 2),
    ("sport", "fifa", 3),
    ("sport", "ipl", 3),
    ("health", "vaccine", 2),
    ("health", "patients", 2),
    ("health", "hospital", 1.5),
    ("business", "sensex", 3),
    ("business", "shares", 2),
    ("business", "gdp", 2),
    ("science", "nasa", 2),
    ("science", "scientists", 2),
    ("technology", "ai", 2),
    ("entertainment", "bollywood", 3),
    ("entertainment", "film", 2),
    ("politics", "election", 2),
    ("world", "ceasefire", 2),
    ("world", "bilateral", 2),
):
    _LEXICON[_t][_w] = float(_v)

_WORD_RE = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
# word -> ((topic, weight), ...): one lookup per word
_BY_WORD: dict[str, tuple[tuple[str, float], ...]] = {}
for _t, _lex in _LEXICON.items():
    for _w, _v in _lex.items():
        _BY_WORD[_w] = (*_BY_WORD.get(_w, ()), (_t, _v))


@dataclass(frozen=True, slots=True)
class TopicGuess:
    topic: str
    source: str  # feed, url, text, none
    scores: tuple[tuple[str, float], ...] = ()


def from_categories(categories: Sequence[str]) -> str | None:
    """The topic named by the feed's own category labels, if any."""
    for cat in categories:
        low = cat.lower().strip()
        for part in re.split(r"[/>|,;]+", low):
            part = part.strip().replace(" ", "-")
            if part in SECTION_WORDS:
                return SECTION_WORDS[part]
        for rx, topic in _CATEGORY_RE:
            if rx.search(low):
                return topic
    return None


def from_url(url: str | None) -> str | None:
    """The topic named by a section segment of the URL path, if any."""
    if not url:
        return None
    path = urlsplit(url).path.lower()
    for seg in path.strip("/").split("/")[:-1] or []:
        if seg in SECTION_WORDS:
            return SECTION_WORDS[seg]
    # hosts such as sports.yahoo.com, or single-segment paths like /sport
    host = urlsplit(url).netloc.lower().split(".")[0]
    return SECTION_WORDS.get(host)


def from_text(title: str, text: str, countries: int = 0, foreign: bool = False) -> TopicGuess:
    """Score the words of the title (double) and the first part of the body.

    ``foreign``: the article is mainly about a country other than its publisher's,
    so politics there (or nothing in particular) is world news to this reader.
    """
    scores = dict.fromkeys(_LEXICON, 0.0)
    for weight, chunk in ((2.0, title), (1.0, text[:3000])):
        for w in _WORD_RE.findall(chunk.lower()):
            for topic, v in _BY_WORD.get(w, ()):
                scores[topic] += weight * v
    # several countries make world news, unless they are playing each other
    sporty = scores["sport"] >= 2.0
    if countries >= 2 and not sporty:
        scores["world"] += 1.5 * min(countries, 4)
    if foreign and not sporty:
        scores["world"] += 2.0
    ranked = sorted(scores.items(), key=lambda kv: -kv[1])
    best, value = ranked[0]
    if foreign and (value <= 0 or best == "politics"):
        return TopicGuess("world", "text", tuple(ranked))
    if value <= 0:
        return TopicGuess("general", "none", tuple(ranked))
    return TopicGuess(best, "text", tuple(ranked))


def classify(
    title: str,
    text: str,
    url: str | None,
    categories: Sequence[str],
    countries: int = 0,
    foreign: bool = False,
) -> TopicGuess:
    topic = from_categories(categories)
    if topic:
        return TopicGuess(topic, "feed")
    topic = from_url(url)
    if topic:
        return TopicGuess(topic, "url")
    return from_text(title, text, countries, foreign)
