"""Language of an article as an ISO 639-1 code.

py3langid (a naive Bayes model over byte n-grams, installed from PyPI with its
model inside) does the work. Two things are added around it because it is
weak exactly where Indian news needs it:

* **Script first.** Tamil, Telugu, Kannada, Malayalam, Gujarati, Gurmukhi and
  Odia scripts are each written by one major language, so the dominant script
  answers at once (and fast). Bengali script is Bengali unless the letters only
  Assamese uses (ৰ, ৱ) appear. Devanagari is settled by the model restricted to
  Hindi, Marathi and Nepali; Arabic script by the model restricted to the
  languages written in it.
* **The declared language is a hint.** When the model is unsure (short text) and
  the feed's declared language is among its top candidates, the declared one wins.

Codes the model gives outside ISO 639-1 (``arz``, ``yue``, ...) are mapped to
their macrolanguage's two-letter code.
"""

from __future__ import annotations

import copy
import re
from collections import Counter
from dataclasses import dataclass

from py3langid.langid import MODEL_FILE, LanguageIdentifier

# Unicode block -> script name, for the scripts we decide on directly or route.
_BLOCKS: tuple[tuple[int, int, str], ...] = (
    (0x0600, 0x06FF, "arabic"),
    (0x0750, 0x077F, "arabic"),
    (0xFB50, 0xFDFF, "arabic"),
    (0x0900, 0x097F, "devanagari"),
    (0x0980, 0x09FF, "bengali"),
    (0x0A00, 0x0A7F, "gurmukhi"),
    (0x0A80, 0x0AFF, "gujarati"),
    (0x0B00, 0x0B7F, "odia"),
    (0x0B80, 0x0BFF, "tamil"),
    (0x0C00, 0x0C7F, "telugu"),
    (0x0C80, 0x0CFF, "kannada"),
    (0x0D00, 0x0D7F, "malayalam"),
    (0x0D80, 0x0DFF, "sinhala"),
    (0x0E00, 0x0E7F, "thai"),
    (0x0370, 0x03FF, "greek"),
    (0x0590, 0x05FF, "hebrew"),
    (0x10A0, 0x10FF, "georgian"),
    (0x0530, 0x058F, "armenian"),
    (0xAC00, 0xD7AF, "hangul"),
    (0x1100, 0x11FF, "hangul"),
    (0x3040, 0x30FF, "kana"),
    (0x4E00, 0x9FFF, "han"),
    (0x0400, 0x04FF, "cyrillic"),
    (0x1200, 0x137F, "ethiopic"),
    (0x1780, 0x17FF, "khmer"),
    (0x0E80, 0x0EFF, "lao"),
    (0x1000, 0x109F, "myanmar"),
)

_ONE_LANGUAGE = {
    "gurmukhi": "pa",
    "gujarati": "gu",
    "odia": "or",
    "tamil": "ta",
    "telugu": "te",
    "kannada": "kn",
    "malayalam": "ml",
    "sinhala": "si",
    "thai": "th",
    "greek": "el",
    "hebrew": "he",
    "georgian": "ka",
    "armenian": "hy",
    "hangul": "ko",
    "kana": "ja",
    "khmer": "km",
    "lao": "lo",
    "myanmar": "my",
}
_RESTRICTED = {
    "devanagari": ("hi", "mr", "ne"),
    "arabic": ("ar", "fa", "ur", "ps", "ug", "ku"),
    "cyrillic": ("ru", "uk", "bg", "sr", "mk", "be", "kk", "ky", "mn", "tg", "tt", "ba"),
    "ethiopic": ("am",),
}
_TO_639_1 = {
    "ary": "ar",
    "arz": "ar",
    "yue": "zh",
    "wuu": "zh",
    "uzs": "uz",
    "hbo": "he",
    "grc": "el",
    "gug": "gn",
    "sdh": "ku",
}
_ASSAMESE_ONLY = frozenset("\u09f0\u09f1")  # ৰ ৱ


@dataclass(frozen=True, slots=True)
class LanguageGuess:
    code: str | None  # ISO 639-1, or None when there is too little text
    confidence: float
    method: str  # script, model, hint, none


def _script_of(ch: str) -> str | None:
    o = ord(ch)
    if o < 0x0370:
        return "latin" if ch.isalpha() else None
    for lo, hi, name in _BLOCKS:
        if lo <= o <= hi:
            return name
    return None


_LATIN_OR_SPACE = re.compile(r"[\x00-\u036f\u2000-\u206f]+")


def dominant_script(text: str, limit: int = 800) -> tuple[str | None, int]:
    """The most frequent script among the letters of ``text`` and the letter count."""
    sample = text[:limit]
    latin = sum(1 for ch in sample if ch.isascii() and ch.isalpha()) if sample.isascii() else -1
    if latin >= 0:
        return ("latin" if latin else None), latin
    rest = _LATIN_OR_SPACE.sub("", sample)
    counts: Counter[str] = Counter()
    counts["latin"] = sum(1 for ch in sample if ord(ch) < 0x0370 and ch.isalpha())
    for ch in rest:
        s = _script_of(ch)
        if s is not None:
            counts[s] += 1
    if not +counts:
        return None, 0
    script, _ = counts.most_common(1)[0]
    if script == "han" and counts.get("kana", 0) > 0:
        script = "kana"
    return script, sum(counts.values())


class LanguageDetector:
    """Holds the loaded models; build one per process and reuse it."""

    def __init__(self) -> None:
        full = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        self._restricted: dict[str, LanguageIdentifier] = {}
        for script, langs in _RESTRICTED.items():
            ident = copy.copy(full)  # set_languages replaces, never mutates, the arrays
            ident.set_languages(list(langs))
            self._restricted[script] = ident
        self._general = full
        full.set_languages([c for c in full.nb_classes if len(c) == 2 or c in _TO_639_1])

    def detect(self, text: str, hint: str | None = None) -> LanguageGuess:
        """Guess the language of ``text``; ``hint`` is the feed's or page's declared language."""
        hint = (hint or "").strip().lower()[:2] or None
        sample = text[:700]
        script, letters = dominant_script(sample)
        if script is None or letters < 3:
            return LanguageGuess(hint, 0.0, "hint" if hint else "none")
        if script in _ONE_LANGUAGE:
            return LanguageGuess(_ONE_LANGUAGE[script], 1.0, "script")
        if script == "bengali":
            code = "as" if any(ch in _ASSAMESE_ONLY for ch in sample) else "bn"
            return LanguageGuess(code, 1.0, "script")
        if script == "han":
            return LanguageGuess("zh", 1.0, "script")
        ident = self._restricted.get(script, self._general)
        ranked = ident.rank(sample)[:5]
        code, prob = ranked[0]
        code = _TO_639_1.get(code, code)
        if hint and letters < 200 and prob < 0.9:
            top = {_TO_639_1.get(c, c) for c, _ in ranked}
            if hint in top:
                return LanguageGuess(hint, float(prob), "hint")
        return LanguageGuess(code, float(prob), "model")
