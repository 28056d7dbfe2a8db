"""Keyphrases and a two-to-three-sentence extractive summary.

Written by hand because the libraries that do this well (YAKE, sumy, pke) are
either slow (tens of milliseconds per article, against a budget of five for all
of enrichment) or pull in NLTK data downloads. The methods are the classic ones:

* **Sentences** split at ``. ! ? ।`` followed by a capital, a quote or a digit,
  not after common abbreviations ("Mr.", "U.S.") or initials.
* **Keyphrases**, RAKE style: runs of non-stopwords are candidate phrases, a
  word scores degree/frequency, a phrase the sum of its words; entity names
  found earlier are candidates too. Phrases of one rare word are dropped.
* **Summary**: sentences scored by the frequency of their content words
  (normalised by length), with a bonus for early sentences and for sentences
  naming the article's main entities; the best two or three, in text order.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence


def _words(text: str) -> list[str]:
    """Whitespace-separated words of a literal (keeps word lists readable)."""
    return text.split()


_STOP = frozenset(
    _words("""
    a about above after again against all also am an and any are aren't as at be because been
    before being below between both but by can cannot could did do does doing down during each
    few for from further had has have having he her here hers herself him himself his how i if
    in into is it its itself just me more most my myself no nor not now of off on once only or
    other our ours ourselves out over own same she should so some such than that the their
    theirs them themselves then there these they this those through to too under until up very
    was we were what when where which while who whom why will with would you your yours said
    says say told also new one two three four five six seven eight nine ten first last year
    years day days week weeks month months time times per cent percent according including since
    still may might must shall us its it's he's she's they're we're i'm mr ms mrs dr monday
    tuesday wednesday thursday friday saturday sunday january february march april june july
    august september october november december get got make made many much well back like even
    way however meanwhile already another yet around across among amid within without people s t
    don't didn't won't can't news report reports reported added asked
""")
)
_ABBREV = frozenset(
    {
        "mr",
        "mrs",
        "ms",
        "dr",
        "st",
        "sr",
        "jr",
        "prof",
        "gen",
        "col",
        "lt",
        "capt",
        "sen",
        "rep",
        "gov",
        "no",
        "vs",
        "etc",
        "inc",
        "ltd",
        "co",
        "corp",
        "u.s",
        "u.k",
        "e.g",
        "i.e",
        "fig",
        "jan",
        "feb",
        "aug",
        "sept",
        "oct",
        "nov",
        "dec",
        "rs",
        "mt",
        "ft",
        "approx",
        "est",
    }
)
_SENT_SPLIT = re.compile(r"(?<=[.!?।])[\"”’)]?\s+(?=[\"“‘(]?[A-Z0-9\u0900-\u0DFF])|\n+")
_WORD = re.compile(r"[^\W_]+(?:[-'’][^\W_]+)*", re.UNICODE)


def sentences(text: str) -> list[str]:
    """Split plain text into sentences, keeping abbreviations and initials together."""
    out: list[str] = []
    buf = ""
    for piece in _SENT_SPLIT.split(text):
        if not piece or not piece.strip():
            continue
        piece = piece.strip()
        if buf:
            words = buf.rstrip(".").split()
            last = words[-1].lower() if words else ""
            if buf.endswith(".") and (last in _ABBREV or (len(last) == 1 and last.isalpha())):
                buf = f"{buf} {piece}"
                continue
            out.append(buf)
        buf = piece
    if buf:
        out.append(buf)
    return out


def keywords(title: str, text: str, entity_names: Sequence[str] = (), limit: int = 8) -> list[str]:
    """Keyphrases, best first (lower case unless they are names)."""
    body = f"{title}\n{title}\n{text[:4000]}"
    freq: Counter[str] = Counter()
    degree: Counter[str] = Counter()
    phrases: Counter[tuple[str, ...]] = Counter()
    for chunk in re.split(r"[.,;:!?()\[\]\"“”।\n]+", body):
        run: list[str] = []
        for w in [*_WORD.findall(chunk.lower()), ""]:
            if w.endswith(("'s", "’s")):
                w = w[:-2]
            if w and w not in _STOP and not w.isdigit() and len(w) > 1:
                run.append(w)
                continue
            if run:
                if len(run) <= 3:
                    phrases[tuple(run)] += 1
                for x in run:
                    freq[x] += 1
                    degree[x] += len(run)
                run = []

    def score(p: tuple[str, ...]) -> float:
        return sum(degree[x] / freq[x] for x in p) * (1 + 0.5 * (phrases[p] - 1))

    ranked: list[tuple[float, str]] = []
    for p in phrases:
        if len(p) == 1 and freq[p[0]] < 2:
            continue
        ranked.append((score(p), " ".join(p)))
    seen_entities = {e.lower(): e for e in entity_names}
    for low, name in seen_entities.items():
        parts = tuple(low.split())
        if parts in phrases:
            ranked.append((score(parts) + 2.0, name))
    ranked.sort(key=lambda sp: (-sp[0], sp[1]))
    out: list[str] = []
    taken: set[str] = set()
    for _, phrase in ranked:
        key = phrase.lower()
        if key in taken or any(key in t or t in key for t in taken):
            continue
        taken.add(key)
        out.append(seen_entities.get(key, phrase))
        if len(out) >= limit:
            break
    return out


def summarise(
    title: str, text: str, entity_names: Sequence[str] = (), max_sentences: int = 3, max_chars: int = 600
) -> str:
    """Two or three of the article's own sentences, in their order."""
    sents = [s for s in sentences(text[:20000]) if 30 <= len(s) <= 600]
    if not sents:
        return (text.strip()[:max_chars]).strip()
    words_per = [[w for w in _WORD.findall(s.lower()) if w not in _STOP] for s in sents]
    tf: Counter[str] = Counter()
    for ws in words_per:
        tf.update(set(ws))
    for w in _WORD.findall(title.lower()):
        if w not in _STOP:
            tf[w] += 2
    names = [e.lower() for e in entity_names[:5]]
    scored: list[tuple[float, int]] = []
    for k, (s, ws) in enumerate(zip(sents, words_per, strict=True)):
        if not ws:
            continue
        base = sum(tf[w] for w in ws) / (len(ws) ** 0.5 + 1)
        position = 1.5 if k == 0 else (1.2 if k < 3 else 1.0)
        low = s.lower()
        bonus = 1 + 0.15 * sum(1 for nm in names if nm in low)
        scored.append((base * position * bonus, k))
    count = 2 if len(sents) <= 6 else max_sentences
    chosen = sorted(k for _, k in sorted(scored, key=lambda sk: (-sk[0], sk[1]))[:count])
    out = ""
    for k in chosen:
        candidate = f"{out} {sents[k]}".strip()
        if len(candidate) > max_chars and out:
            break
        out = candidate
    return out[: max_chars + 200]
