"""Deduplication: canonical URLs, exact text fingerprints, near-duplicates, wire agencies.

Pure functions and one in-memory index; no database access here.

* ``canonical_url`` folds the spellings of one page's address into one:
  courlan's ``normalize_url`` (lower-case scheme and host, default port,
  punycode, ``..`` segments, sorted query without its tracker parameters)
  plus our own rules: no fragment, no ``www.``/``m.``/``mobile.``/``amp.``
  host prefix, no AMP path segment or suffix (``/amp/``, ``.amp``,
  ``amp=1``), more tracking parameters (``cmpid``, ``ref``, ``ito``, ...),
  no trailing slash. It never raises and is idempotent (a hypothesis test
  checks). ``choose_canonical`` takes a page's ``rel=canonical`` when it is
  on the same site.
* ``fingerprint`` is a hash of the text with the wire furniture
  (dateline, agency credit, "with inputs from") and punctuation taken out:
  equal fingerprints mean the same copy.
* ``DuplicateIndex`` finds near-duplicates: datasketch MinHash LSH over word
  5-shingles proposes candidates, and the exact shingle overlap confirms
  them (Jaccard, or containment when one copy is a cut-down version of the
  other). A window (hours) bounds its memory.
* ``detect_agency`` names the wire agency the text or byline credits (PTI,
  IANS, ANI, UNI, Reuters, AP, AFP, dpa, Xinhua, EFE, Bloomberg).

Written here rather than taken from a library: the agency credits and the
dateline furniture are news conventions that no maintained library knows;
MinHash and LSH themselves are datasketch's.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import deque
from collections.abc import Hashable
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from courlan import normalize_url
from datasketch import MinHash, MinHashLSH

# -- canonical URLs ------------------------------------------------------------------

_TRACKING_PARAMS = frozenset(
    {
        "cmpid",
        "cmp",
        "ref",
        "ref_src",
        "ref_url",
        "referrer",
        "ito",
        "ncid",
        "ocid",
        "smid",
        "smtyp",
        "sr_share",
        "share",
        "shared",
        "mbid",
        "rss",
        "feed",
        "feedtype",
        "from",
        "src",
        "source",
        "fbclid",
        "gclid",
        "dclid",
        "msclkid",
        "yclid",
        "igshid",
        "mc_cid",
        "mc_eid",
        "_ga",
        "_gl",
        "cid",
        "icid",
        "intcmp",
        "s_cid",
        "taid",
        "rssfeed",
        "output",
        "outputtype",
        "amp",
        "amp_js_v",
        "usqp",
        "at_medium",
        "at_campaign",
        "at_custom1",
        "at_custom2",
        "at_custom3",
        "at_custom4",
        "guccounter",
        "guce_referrer",
        "guce_referrer_sig",
        "pk_campaign",
        "pk_kwd",
        "partner",
        "ns_mchannel",
        "ns_source",
        "ns_campaign",
        "ns_linkname",
        "ns_fee",
        "fsrc",
        "xtor",
        "soc_src",
        "soc_trk",
        "wt_mc",
        "wt.mc_id",
        "trk",
        "trkid",
        "spm",
        "cmpgn",
        "_hsenc",
        "_hsmi",
        "hss_channel",
        "s_kwcid",
        "mkt_tok",
    }
)
_TRACKING_PREFIXES = ("utm_", "utm-", "pk_", "ga_", "hmb_", "at_", "stm_", "__twitter", "_bta")
_HOST_PREFIXES = ("www.", "m.", "mobile.", "amp.", "www1.", "www2.")
_AMP_SUFFIXES = (".amp", "/amp", ".amp.html")


def _is_tracker(name: str) -> bool:
    low = name.lower()
    return low in _TRACKING_PARAMS or low.startswith(_TRACKING_PREFIXES)


def _fold_host(host: str) -> str:
    host = host.rstrip(".")
    changed = True
    while changed:
        changed = False
        for prefix in _HOST_PREFIXES:
            rest = host[len(prefix) :]
            if host.startswith(prefix) and "." in rest:  # keep at least a domain and a suffix
                host, changed = rest, True
    return host


def _fold_path(path: str) -> str:
    segments = [s for s in path.split("/")]
    segments = [s for i, s in enumerate(segments) if not (s.lower() == "amp" and i > 0)]
    path = "/".join(segments)
    low = path.lower()
    for suffix in _AMP_SUFFIXES:
        if low.endswith(suffix) and len(path) > len(suffix) + 1:
            path = path[: -len(suffix)]
            if suffix == ".amp.html":
                path += ".html"
            break
    while len(path) > 1 and path.endswith("/"):
        path = path[:-1]
    return path or "/"


def _canonical_once(url: str) -> str:
    try:
        normal = normalize_url(url, strict=False, trailing_slash=False)
    except (ValueError, UnicodeError):
        normal = url
    parts = urlsplit(normal)
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    try:
        port = parts.port
    except ValueError:
        port = None
    host = _fold_host(host.lower())
    netloc = host
    if port is not None and not ((scheme == "http" and port == 80) or (scheme == "https" and port == 443)):
        netloc = f"{host}:{port}"
    query = urlencode(
        sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k and not _is_tracker(k))
    )
    return urlunsplit((scheme, netloc, _fold_path(parts.path), query, ""))


def canonical_url(url: str) -> str:
    """One spelling for the many addresses of a page (idempotent; never raises).

    Anything that is not an absolute http(s) URL comes back stripped and
    otherwise unchanged.
    """
    raw = (url or "").strip()
    try:
        parts = urlsplit(raw)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            return raw
        once = _canonical_once(raw)
        twice = _canonical_once(once)  # reach the fixed point (e.g. a query emptied twice)
        return once if once == twice else _canonical_once(twice)
    except ValueError:
        return raw


def choose_canonical(page_url: str, declared: str | None) -> str:
    """The canonical URL of a page: its ``rel=canonical`` when on the same site, else its own."""
    own = canonical_url(page_url)
    if not declared:
        return own
    candidate = canonical_url(declared)
    own_host, cand_host = urlsplit(own).hostname, urlsplit(candidate).hostname
    if (
        candidate.startswith(("http://", "https://"))
        and own_host
        and cand_host
        and (
            own_host == cand_host or own_host.endswith("." + cand_host) or cand_host.endswith("." + own_host)
        )
    ):
        return candidate
    return own


# -- agencies ------------------------------------------------------------------------

AGENCIES: dict[str, tuple[str, ...]] = {
    # name -> spellings found in credits and bylines (matched as whole words)
    "PTI": ("PTI", "Press Trust of India"),
    "IANS": ("IANS", "Indo-Asian News Service"),
    "ANI": ("ANI", "Asian News International"),
    "UNI": ("UNI", "United News of India"),
    "Reuters": ("Reuters", "Thomson Reuters"),
    "AP": ("AP", "Associated Press", "The Associated Press"),
    "AFP": ("AFP", "Agence France-Presse", "Agence France Presse"),
    "dpa": ("dpa", "Deutsche Presse-Agentur"),
    "Xinhua": ("Xinhua",),
    "EFE": ("EFE",),
    "Bloomberg": ("Bloomberg",),
}
_SPELLING = {s.lower(): name for name, spellings in AGENCIES.items() for s in spellings}
_ALT = "|".join(sorted((re.escape(s) for ss in AGENCIES.values() for s in ss), key=len, reverse=True))
# "(PTI)", "(Reuters) -", "— AFP", "-IANS", "/AP": a credit where a wire story puts it
_CREDIT_PAREN = re.compile(rf"\((?:{_ALT})\)")
_CREDIT_INPUTS = re.compile(rf"(?:with\s+inputs?\s+from|source:|courtesy:?)\s*(?:{_ALT})\b", re.IGNORECASE)
_CREDIT_TAIL = re.compile(rf"(?:^|[\s.])[—–\-/]\s*(?:{_ALT})\s*\.?\s*$")
_REUTERS_TAIL = re.compile(r"\((?:Reporting|Writing|Additional reporting) by [^)]*\)\s*$")
_AP_TAIL = re.compile(
    r"Associated Press (?:writers?|reporters?)\b|©\s*\d{4} The Associated Press", re.IGNORECASE
)


def detect_agency(text: str, author: str | None = None) -> str | None:
    """The wire agency credited by the byline or the text, or None."""
    if author:
        for part in re.split(r"\s*(?:,|/|&|\band\b|\|)\s*", author.strip()):
            name = _SPELLING.get(part.strip().strip(".").lower())
            if name:
                return name
    if not text:
        return None
    head, tail = text[:300], text[-300:]
    for where in (head, tail):
        m = _CREDIT_PAREN.search(where)
        if m:
            return _SPELLING.get(m.group(0)[1:-1].lower())
    for pattern in (_CREDIT_INPUTS, _CREDIT_TAIL):
        m = pattern.search(tail)
        if m:
            spelled = re.search(_ALT, m.group(0), re.IGNORECASE if pattern is _CREDIT_INPUTS else 0)
            if spelled:
                return _SPELLING.get(spelled.group(0).lower())
    if _REUTERS_TAIL.search(tail):
        return "Reuters"
    if _AP_TAIL.search(tail):
        return "AP"
    return None


# -- fingerprints and near-duplicates ------------------------------------------------------

_DATELINE = re.compile(
    rf"^\s*[A-Z][\w .'’-]{{1,40}}?(?:,\s*[\w .]{{1,20}}?)?\s*(?:\((?:{_ALT})\))?\s*[:—–-]+\s+"
)
_LEAD_CREDIT = re.compile(rf"^.{{0,80}}?\((?:{_ALT})\)\s*[:—–-]*\s*")
_TAIL_CREDIT = re.compile(
    rf"(?:\(?\s*with\s+inputs?\s+from\s+[^)]*\)?|[—–\-/]\s*(?:{_ALT})|\((?:{_ALT})\))\s*\.?\s*$",
    re.IGNORECASE,
)
_WORDS = re.compile(r"[^\W_]+", re.UNICODE)
MIN_WORDS = 15  # shorter texts (teasers, captions) are never called duplicates
SHINGLE = 5
MAX_CHARS = 60_000


def strip_furniture(text: str) -> str:
    """The text without its dateline, agency credits and "with inputs from" line."""
    text = unicodedata.normalize("NFKC", text or "").strip()
    m = _LEAD_CREDIT.match(text)
    if m:
        text = text[m.end() :]
    else:
        m = _DATELINE.match(text)
        if m and m.end() < 60:
            text = text[m.end() :]
    for _ in range(2):
        text = _TAIL_CREDIT.sub("", text).rstrip()
    return text


def words(text: str) -> list[str]:
    """Lower-cased words of the text without its furniture (what fingerprints compare).

    Only the first ``MAX_CHARS`` characters count, so a hostile megabyte of text costs
    no more than a long article.
    """
    return _WORDS.findall(strip_furniture((text or "")[:MAX_CHARS]).lower())


def fingerprint(text: str) -> str | None:
    """Hash of the words of the text (furniture, case, punctuation ignored); None when too short."""
    w = words(text)
    if len(w) < MIN_WORDS:
        return None
    return hashlib.sha1(" ".join(w).encode("utf-8")).hexdigest()


def shingles(ws: list[str], k: int = SHINGLE) -> set[int]:
    """Hashed word k-shingles (stable across processes)."""
    if len(ws) < k:
        return (
            {int.from_bytes(hashlib.blake2b(" ".join(ws).encode(), digest_size=8).digest(), "little")}
            if ws
            else set()
        )
    return {
        int.from_bytes(hashlib.blake2b(" ".join(ws[i : i + k]).encode(), digest_size=8).digest(), "little")
        for i in range(len(ws) - k + 1)
    }


@dataclass(frozen=True, slots=True)
class Match:
    """An earlier copy of the same text: its key, and how alike the two are."""

    key: Hashable
    similarity: float
    exact: bool


@dataclass(slots=True)
class _Item:
    key: Hashable
    clock: float
    shingles: frozenset[int]


class DuplicateIndex:
    """Recent texts, to find the earlier copy of a new one.

    ``jaccard``: the shingle Jaccard at or above which two texts are copies;
    ``containment``: the share of the shorter text's shingles found in the
    longer one at or above which a cut-down copy counts too. ``window``:
    how long (clock units, hours in the product) a text stays findable.
    """

    def __init__(
        self, *, jaccard: float = 0.5, containment: float = 0.8, window: float = 72.0, num_perm: int = 128
    ) -> None:
        self.jaccard = jaccard
        self.containment = containment
        self.window = window
        self.num_perm = num_perm
        self._lsh = MinHashLSH(threshold=min(jaccard, 0.3), num_perm=num_perm)
        template = MinHash(num_perm=num_perm)
        self._perms, self._scheme = template.permutations, template.scheme
        self._exact: dict[str, Hashable] = {}
        self._items: dict[Hashable, _Item] = {}
        self._fp_of: dict[Hashable, str] = {}
        self._order: deque[Hashable] = deque()

    def __len__(self) -> int:
        return len(self._items)

    def _minhash(self, sh: set[int]) -> MinHash:
        m = MinHash(
            num_perm=self.num_perm,
            permutations=self._perms,  # shared: no per-text setup
            scheme=self._scheme,
        )
        m.update_batch([s.to_bytes(8, "little") for s in sh])
        return m

    def find(self, text: str, now: float = 0.0) -> Match | None:
        """The best earlier copy of ``text`` in the index, or None (read-only)."""
        ws = words(text)
        if len(ws) < MIN_WORDS:
            return None
        fp = hashlib.sha1(" ".join(ws).encode("utf-8")).hexdigest()
        key = self._exact.get(fp)
        if key is not None and now - self._items[key].clock <= self.window:
            return Match(key, 1.0, True)
        sh = shingles(ws)
        best: Match | None = None
        for cand in self._lsh.query(self._minhash(sh)):
            item = self._items.get(cand)
            if item is None or now - item.clock > self.window:
                continue
            inter = len(sh & item.shingles)
            jac = inter / len(sh | item.shingles)
            cont = inter / min(len(sh), len(item.shingles))
            if jac >= self.jaccard or cont >= self.containment:
                sim = max(jac, cont)
                if best is None or sim > best.similarity:
                    best = Match(cand, sim, False)
        return best

    def add(self, key: Hashable, text: str, now: float = 0.0) -> bool:
        """Index ``text`` under ``key``; False when it is too short to be indexed."""
        ws = words(text)
        if len(ws) < MIN_WORDS or key in self._items:
            return False
        fp = hashlib.sha1(" ".join(ws).encode("utf-8")).hexdigest()
        sh = shingles(ws)
        self._exact.setdefault(fp, key)
        self._fp_of[key] = fp
        self._items[key] = _Item(key, now, frozenset(sh))
        self._lsh.insert(key, self._minhash(sh))
        self._order.append(key)
        self.prune(now)
        return True

    def prune(self, now: float) -> None:
        """Forget texts older than the window."""
        while self._order:
            key = self._order[0]
            item = self._items.get(key)
            if item is not None and now - item.clock <= self.window:
                break
            self._order.popleft()
            if item is not None:
                del self._items[key]
                self._lsh.remove(key)
                fp = self._fp_of.pop(key)
                if self._exact.get(fp) == key:
                    del self._exact[fp]
