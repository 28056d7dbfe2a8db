"""When to poll a feed next: a pure decider over one poll's outcome.

The pipeline polls a feed, turns what happened into a ``PollOutcome`` and asks
``decide(feed, outcome, now, policy, rng)`` for a ``Decision``: the next poll
time, the interval behind it, the feed's status (active, parked, retired) and,
after a permanent redirect, the feed's new URL. No I/O happens here; the
random source for jitter is passed in, so tests are deterministic.

Rules, in order:

1. **410 Gone** retires the feed (never polled again until re-added).
2. **An error** counts one more consecutive failure. ``Retry-After`` on
   429/503 is honoured as a floor; otherwise the wait backs off
   exponentially from the feed's interval (``interval * 2**(n-1)``), with
   jitter, capped at the maximum. After ``park_after`` consecutive failures
   the feed is *parked*: still polled, but only at the maximum interval, with
   its last error kept for ``tidings sources list`` and the web UI.
3. **A success** (new body or 304) sets the interval from the feed's own
   publishing rhythm: the median gap between its recent entries, clamped to
   ``[min_interval, max_interval]``. A 304 or an unchanged body keeps the
   previous interval and lengthens it a little (nothing new: look less often).
   ``Cache-Control: max-age`` and ``Expires`` are floors: we never ask again
   before the publisher says the document can change.
4. **A 301/308** (every hop permanent) moves the feed to the new URL.

Jitter (±10 %) spreads feeds that share a rhythm so that thousands of them do
not fall due in the same second.

The entry-frequency rule is written here rather than taken from a library:
the Python feed readers that schedule adaptively (lemon24/reader's
``update_after``, miniflux's ``SchedulerEntryFrequency`` in Go) keep it inside
their update loops, not as a reusable function.
"""

from __future__ import annotations

import itertools
import random
import re
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from tidings.config import Settings
from tidings.model import Feed

JITTER = 0.10  # +/- fraction applied to every interval
UNCHANGED_GROWTH = 1.25  # a 304 / same body stretches the interval by this factor
RECENT_ENTRIES = 20  # how many newest entry times the rhythm is estimated from


@dataclass(frozen=True, slots=True)
class Policy:
    """The scheduling knobs, taken from ``Settings`` once."""

    default_interval: int = 900
    min_interval: int = 300
    max_interval: int = 86_400
    park_after: int = 20

    @classmethod
    def from_settings(cls, settings: Settings) -> Policy:
        lo = max(1, settings.min_poll_interval)
        hi = max(lo, settings.max_poll_interval)
        return cls(
            default_interval=min(max(settings.poll_interval, lo), hi),
            min_interval=lo,
            max_interval=hi,
            park_after=max(1, settings.park_after_errors),
        )

    def clamp(self, seconds: float) -> int:
        return int(min(max(seconds, self.min_interval), self.max_interval))


@dataclass(frozen=True, slots=True)
class PollOutcome:
    """What one poll of one feed produced, as the decider needs it.

    ``changed`` is false for a 304 and for a body whose hash equals the last
    one. ``entry_times`` are the published/updated times of the entries in
    the document (any order). ``error_status`` is the HTTP status of a failed
    poll, ``None`` for network/parse errors. ``moved_to`` is the final URL
    when every redirect hop was permanent.
    """

    ok: bool
    changed: bool = True
    headers: Mapping[str, str] = field(default_factory=dict)
    entry_times: tuple[datetime, ...] = ()
    error: str | None = None
    error_status: int | None = None
    retry_after: float | None = None
    moved_to: str | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    next_poll_at: datetime
    interval_s: int  # the interval the feed keeps for its next success
    status: str  # active, parked, retired
    url: str | None = None  # new feed URL after a permanent redirect
    reason: str = ""


def _jittered(seconds: float, rng: random.Random) -> float:
    return seconds * (1.0 + rng.uniform(-JITTER, JITTER))


_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d+)\"?", re.I)


def cache_lifetime(headers: Mapping[str, str], now: datetime) -> float | None:
    """Seconds the response says it stays fresh (``max-age``, else ``Expires``)."""
    lower = {k.lower(): v for k, v in headers.items()}
    cache_control = lower.get("cache-control", "")
    if re.search(r"(?:^|,)\s*(no-store|no-cache)\b", cache_control, re.I):
        return None
    m = _MAX_AGE.search(cache_control)
    if m:
        return float(min(int(m.group(1)), 10**9))
    expires = lower.get("expires")
    if expires:
        try:
            when = parsedate_to_datetime(expires)
        except (TypeError, ValueError, IndexError):
            return None  # "Expires: 0" and friends mean "already stale"
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        base = now
        date = lower.get("date")
        if date:  # measure against the server's clock when it gives one
            try:
                server_now = parsedate_to_datetime(date)
                base = server_now if server_now.tzinfo else server_now.replace(tzinfo=UTC)
            except (TypeError, ValueError, IndexError):
                pass
        return max(0.0, (when - base).total_seconds())
    return None


def publishing_interval(times: Iterable[datetime], now: datetime) -> float | None:
    """Median gap in seconds between the newest entries, or None with < 2 usable times.

    Future times (beyond a minute of clock skew) are ignored. The gap from the
    newest entry to *now* is counted too, so a feed that went quiet slows down.
    """
    usable = sorted({t for t in times if t is not None and t <= now + timedelta(minutes=1)}, reverse=True)[
        :RECENT_ENTRIES
    ]
    if len(usable) < 2:
        return None
    gaps = [(a - b).total_seconds() for a, b in itertools.pairwise(usable)]
    gaps = [g for g in gaps if g > 0]
    if not gaps:
        return None
    median = statistics.median(gaps)
    quiet_for = (now - usable[0]).total_seconds()
    return max(median, quiet_for / 2) if quiet_for > median else median


def decide(feed: Feed, outcome: PollOutcome, now: datetime, policy: Policy, rng: random.Random) -> Decision:
    """The next poll of ``feed`` after ``outcome`` (see the module docstring)."""
    previous = feed.poll_interval_s if feed.poll_interval_s > 0 else policy.default_interval
    previous = policy.clamp(previous)
    if not outcome.ok:
        return _after_error(feed, outcome, now, policy, rng, previous)
    if outcome.changed:
        rhythm = publishing_interval(outcome.entry_times, now)
        interval = policy.clamp(rhythm) if rhythm is not None else previous
        reason = "entry frequency" if rhythm is not None else "previous interval"
    else:
        interval = policy.clamp(previous * UNCHANGED_GROWTH)
        reason = "unchanged"
    wait = _jittered(interval, rng)
    lifetime = cache_lifetime(outcome.headers, now)
    if lifetime is not None and lifetime > wait:
        wait = min(lifetime, policy.max_interval)
        reason += ", cache lifetime"
    wait = max(wait, policy.min_interval)
    return Decision(
        next_poll_at=now + timedelta(seconds=wait),
        interval_s=interval,
        status="active",
        url=outcome.moved_to,
        reason=reason,
    )


def _after_error(
    feed: Feed, outcome: PollOutcome, now: datetime, policy: Policy, rng: random.Random, previous: int
) -> Decision:
    if outcome.error_status == 410:
        return Decision(
            next_poll_at=now + timedelta(seconds=policy.max_interval),
            interval_s=previous,
            status="retired",
            reason="410 Gone",
        )
    failures = feed.error_count + 1
    if failures >= policy.park_after:
        return Decision(
            next_poll_at=now + timedelta(seconds=_jittered(policy.max_interval, rng)),
            interval_s=previous,
            status="parked",
            reason=f"parked after {failures} consecutive errors",
        )
    backoff = min(previous * 2.0 ** min(failures - 1, 30), policy.max_interval)
    wait = _jittered(backoff, rng)
    reason = f"backoff after {failures} error(s)"
    if outcome.retry_after is not None and outcome.error_status in (429, 503):
        honoured = min(outcome.retry_after, 7 * 86_400)
        if honoured > wait:
            wait = honoured
            reason = "Retry-After"
    return Decision(
        next_poll_at=now + timedelta(seconds=max(wait, policy.min_interval)),
        interval_s=previous,
        status="active",
        reason=reason,
    )
