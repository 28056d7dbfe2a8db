"""Enrichment: language, entities, countries, topic, keywords and summary of an article.

A list of small enrichers, each a pure function over the article's text, title,
URL and feed categories, run in order by ``Enricher.enrich``; the result is one
frozen ``Enrichment``. Nothing here does I/O except loading the gazetteers and
the language model once, when an ``Enricher`` is built (build one per process,
keep it, pass it around).

::

    language   py3langid + script rules; the declared language is a hint  (language.py)
    entities   gazetteers, trigger words, co-reference; model optional   (entities.py, gazetteer.py,
                                                                          triggers.py)
    countries  names, demonyms, places, leaders -> ISO codes, pairs       (entities.py)
    topic      feed category, URL section, then text word lists           (topics.py)
    keywords   RAKE-style keyphrases                                      (summary.py)
    summary    2-3 sentence extractive summary                            (summary.py)

Stories get the same treatment through ``enrich_story``: the most common topic,
countries and entities of their articles, and a summary from their texts.
"""

from __future__ import annotations

import importlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

from tidings.enrich.entities import EntityMention, Recogniser, Span, countries_of, recognise
from tidings.enrich.gazetteer import Gazetteer
from tidings.enrich.language import LanguageDetector, LanguageGuess
from tidings.enrich.summary import keywords, sentences, summarise
from tidings.enrich.topics import TOPICS, TopicGuess, classify
from tidings.errors import ConfigError
from tidings.model import Article

__all__ = [
    "TOPICS",
    "Enricher",
    "Enrichment",
    "EntityMention",
    "LanguageGuess",
    "Recogniser",
    "Span",
    "TopicGuess",
    "country_pairs",
    "load_recogniser",
    "sentences",
]

MAX_PAIR_COUNTRIES = 4  # pairs are made among an article's strongest countries only


@dataclass(frozen=True, slots=True)
class Enrichment:
    """Everything the enrich stage adds to one article (or story)."""

    language: str | None
    entities: tuple[EntityMention, ...]  # people, organisations, places, countries
    countries: tuple[str, ...]  # ISO 3166-1 alpha-2, strongest first
    country_pairs: tuple[tuple[str, str], ...]  # ("CA", "IN"): codes in alphabetical order
    topic: str
    keywords: tuple[str, ...]
    summary: str
    topic_source: str = "text"
    language_method: str = "model"

    def people(self) -> list[str]:
        return [e.name for e in self.entities if e.kind == "person"]

    def places(self) -> list[str]:
        return [e.name for e in self.entities if e.kind == "place"]

    def organisations(self) -> list[str]:
        return [e.name for e in self.entities if e.kind == "org"]


def country_pairs(codes: Sequence[str]) -> tuple[tuple[str, str], ...]:
    top = sorted(set(codes[:MAX_PAIR_COUNTRIES]))
    return tuple(combinations(top, 2))


def load_recogniser(spec: str) -> Recogniser | None:
    """Build the optional model recogniser named by the ``enrich_recogniser`` setting.

    ``""`` means none. ``spacy:MODEL`` uses an installed spaCy pipeline (the
    optional extra; nothing is downloaded at run time). Anything else is a
    ``ConfigError``.
    """
    spec = spec.strip()
    if not spec:
        return None
    kind, _, name = spec.partition(":")
    if kind != "spacy" or not name:
        raise ConfigError(f"enrich_recogniser must be empty or spacy:MODEL, got {spec!r}")
    try:
        spacy = importlib.import_module("spacy")
        nlp = spacy.load(name)
    except (ImportError, OSError) as e:
        raise ConfigError(f"cannot load spaCy model {name!r}: {e}") from e
    labels = {"PERSON": "person", "ORG": "org", "GPE": "place", "LOC": "place", "NORP": None}

    class _Spacy:
        def __init__(self) -> None:
            self.name = spec

        def recognise(self, text: str) -> list[Span]:
            return [
                Span(e.start_char, e.end_char, labels[e.label_])
                for e in nlp(text[:100_000]).ents
                if labels.get(e.label_)
            ]

    return _Spacy()


class Enricher:
    """The loaded gazetteers and models, and the list of enrichers run over each article."""

    def __init__(
        self,
        gazetteer: Gazetteer | None = None,
        detector: LanguageDetector | None = None,
        recogniser: Recogniser | None = None,
    ) -> None:
        self.gazetteer = gazetteer or Gazetteer.load()
        self.detector = detector or LanguageDetector()
        self.recogniser = recogniser

    def enrich(
        self,
        title: str,
        text: str,
        url: str | None = None,
        categories: Sequence[str] = (),
        declared_language: str | None = None,
        home_country: str | None = None,
    ) -> Enrichment:
        """Enrich one article given its parts. Never raises on odd input.

        ``declared_language`` is the feed's or page's language (a hint);
        ``home_country`` the publisher's country (ISO alpha-2), which tells world
        news from home news.
        """
        title = title or ""
        text = text or ""
        lang = self.detector.detect(f"{title}\n{text}", hint=declared_language)
        entity_text = f"{title}\n\n{text[:20000]}"
        # the gazetteers and rules are for Latin-script news; other scripts get no entities
        latin = lang.code is None or lang.method == "model" or lang.method == "hint"
        mentions = recognise(entity_text, self.gazetteer, self.recogniser) if latin else []
        scored = countries_of(mentions)
        codes = tuple(c for c, _ in scored)
        foreign = bool(home_country and codes and codes[0] != home_country.upper())
        guess = classify(title, text, url, categories, countries=len(codes), foreign=foreign)
        names = [m.name for m in mentions if m.kind != "country"]
        kws = keywords(title, text, names)
        summary = summarise(title, text, names)
        return Enrichment(
            language=lang.code,
            entities=tuple(mentions),
            countries=codes,
            country_pairs=country_pairs(codes),
            topic=guess.topic,
            keywords=tuple(kws),
            summary=summary,
            topic_source=guess.source,
            language_method=lang.method,
        )

    def enrich_article(
        self, article: Article, declared_language: str | None = None, home_country: str | None = None
    ) -> Enrichment:
        return self.enrich(
            article.title,
            article.text or article.summary or "",
            article.url,
            article.categories,
            declared_language or article.language,
            home_country,
        )

    def enrich_story(self, articles: Sequence[Article], parts: Sequence[Enrichment]) -> Enrichment:
        """A story's enrichment from its articles' (same order)."""
        if not parts:
            return Enrichment(None, (), (), (), "general", (), "")
        langs = Counter(p.language for p in parts if p.language)
        topics = Counter(p.topic for p in parts if p.topic != "general")
        country_score: Counter[str] = Counter()
        for p in parts:
            for rank, c in enumerate(p.countries):
                country_score[c] += 1.0 / (1 + rank)
        codes = tuple(c for c, _ in country_score.most_common())
        merged: dict[tuple[str, str], EntityMention] = {}
        for p in parts:
            for m in p.entities:
                old = merged.get((m.kind, m.name))
                if old is None:
                    merged[(m.kind, m.name)] = m
                else:
                    aliases = old.aliases + tuple(a for a in m.aliases if a not in old.aliases)
                    merged[(m.kind, m.name)] = EntityMention(
                        m.kind, m.name, aliases, old.count + m.count, old.code, old.source
                    )
        ents = sorted(merged.values(), key=lambda e: (-e.count, e.kind, e.name))
        lead = max(articles, key=lambda a: len(a.text or "")) if articles else None
        names = [e.name for e in ents if e.kind != "country"]
        summary = summarise(lead.title, lead.text, names) if lead else parts[0].summary
        kws = Counter(k for p in parts for k in p.keywords)
        return Enrichment(
            language=langs.most_common(1)[0][0] if langs else None,
            entities=tuple(ents),
            countries=codes,
            country_pairs=country_pairs(codes),
            topic=topics.most_common(1)[0][0] if topics else "general",
            keywords=tuple(k for k, _ in kws.most_common(8)),
            summary=summary,
        )
