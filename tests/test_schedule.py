"""The poll scheduler: entry rhythm, cache headers, Retry-After, backoff, parking, retiring."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from tidings.config import Settings
from tidings.model import Feed
from tidings.schedule import (
    JITTER,
    Policy,
    PollOutcome,
    cache_lifetime,
    decide,
    publishing_interval,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
POLICY = Policy(default_interval=900, min_interval=300, max_interval=86_400, park_after=5)


def feed(**kw: object) -> Feed:
    return Feed(id=1, source_id=1, url="https://example.com/feed", **kw)  # type: ignore[arg-type]


def wait_s(d) -> float:  # type: ignore[no-untyped-def]
    return (d.next_poll_at - NOW).total_seconds()


def test_policy_from_settings_clamps() -> None:
    p = Policy.from_settings(
        Settings(poll_interval=10, min_poll_interval=60, max_poll_interval=30, park_after_errors=0)
    )
    assert p.min_interval == 60 and p.max_interval == 60 and p.default_interval == 60
    assert p.park_after == 1


def test_busy_feed_polls_at_min_interval() -> None:
    times = tuple(NOW - timedelta(minutes=2 * i) for i in range(10))
    d = decide(feed(), PollOutcome(ok=True, entry_times=times), NOW, POLICY, random.Random(1))
    assert d.interval_s == 300 and d.status == "active"
    assert 300 <= wait_s(d) <= 300 * (1 + JITTER)


def test_hourly_feed_polls_about_hourly() -> None:
    times = tuple(NOW - timedelta(hours=i) for i in range(12))
    d = decide(feed(), PollOutcome(ok=True, entry_times=times), NOW, POLICY, random.Random(1))
    assert d.interval_s == 3600
    assert 3600 * (1 - JITTER) <= wait_s(d) <= 3600 * (1 + JITTER)


def test_quiet_feed_slows_down_and_caps_at_max() -> None:
    times = tuple(NOW - timedelta(days=30, hours=i) for i in range(5))
    d = decide(feed(), PollOutcome(ok=True, entry_times=times), NOW, POLICY, random.Random(1))
    assert d.interval_s == 86_400


def test_future_dates_are_ignored() -> None:
    times = (NOW + timedelta(days=3), NOW + timedelta(days=4))
    assert publishing_interval(times, NOW) is None


def test_unchanged_stretches_interval() -> None:
    d = decide(feed(poll_interval_s=1000), PollOutcome(ok=True, changed=False), NOW, POLICY, random.Random(1))
    assert d.interval_s == 1250


def test_max_age_is_a_floor() -> None:
    out = PollOutcome(ok=True, changed=False, headers={"Cache-Control": "public, max-age=7200"})
    d = decide(feed(poll_interval_s=300), out, NOW, POLICY, random.Random(1))
    assert wait_s(d) == 7200


def test_expires_against_server_date() -> None:
    headers = {"Date": "Sun, 01 Mar 2026 10:00:00 GMT", "Expires": "Sun, 01 Mar 2026 13:00:00 GMT"}
    assert cache_lifetime(headers, NOW) == 3 * 3600
    assert cache_lifetime({"Expires": "0"}, NOW) is None
    assert cache_lifetime({"Cache-Control": "no-cache, max-age=99"}, NOW) is None


def test_retry_after_on_429_is_honoured() -> None:
    out = PollOutcome(ok=False, error="HTTP 429", error_status=429, retry_after=20_000)
    d = decide(feed(), out, NOW, POLICY, random.Random(1))
    assert wait_s(d) == 20_000 and d.status == "active" and d.reason == "Retry-After"


def test_retry_after_ignored_for_other_statuses() -> None:
    out = PollOutcome(ok=False, error="HTTP 500", error_status=500, retry_after=50_000)
    d = decide(feed(poll_interval_s=900), out, NOW, POLICY, random.Random(1))
    assert wait_s(d) < 50_000


def test_backoff_grows_exponentially_with_jitter() -> None:
    waits = []
    for errors in range(4):
        out = PollOutcome(ok=False, error="boom")
        d = decide(feed(poll_interval_s=900, error_count=errors), out, NOW, POLICY, random.Random(errors))
        waits.append(wait_s(d))
        base = 900 * 2**errors
        assert base * (1 - JITTER) <= wait_s(d) <= base * (1 + JITTER)
    assert waits == sorted(waits)


def test_repeated_failure_parks() -> None:
    d = decide(feed(error_count=4), PollOutcome(ok=False, error="x"), NOW, POLICY, random.Random(1))
    assert d.status == "parked"
    assert wait_s(d) >= 86_400 * (1 - JITTER)


def test_410_retires_and_301_moves() -> None:
    d = decide(
        feed(), PollOutcome(ok=False, error="HTTP 410", error_status=410), NOW, POLICY, random.Random(1)
    )
    assert d.status == "retired"
    d = decide(
        feed(), PollOutcome(ok=True, moved_to="https://new.example/feed"), NOW, POLICY, random.Random(1)
    )
    assert d.url == "https://new.example/feed" and d.status == "active"


@given(
    interval=st.integers(-5, 10**7),
    errors=st.integers(0, 100),
    ok=st.booleans(),
    changed=st.booleans(),
    seed=st.integers(0, 1000),
    gaps=st.lists(st.integers(0, 10**7), max_size=30),
    retry_after=st.none() | st.floats(0, 10**9),
    status=st.sampled_from([None, 404, 429, 500, 503]),
)
def test_next_poll_always_within_bounds(
    interval: int,
    errors: int,
    ok: bool,
    changed: bool,
    seed: int,
    gaps: list[int],
    retry_after: float | None,
    status: int | None,
) -> None:
    times = tuple(NOW - timedelta(seconds=sum(gaps[:i])) for i in range(len(gaps)))
    out = PollOutcome(
        ok=ok,
        changed=changed,
        entry_times=times,
        retry_after=retry_after,
        error_status=None if ok else status,
        error=None if ok else "e",
    )
    d = decide(feed(poll_interval_s=interval, error_count=errors), out, NOW, POLICY, random.Random(seed))
    w = wait_s(d)
    assert w >= POLICY.min_interval
    assert w <= max(POLICY.max_interval * (1 + JITTER), 7 * 86_400)
    assert POLICY.min_interval <= d.interval_s <= POLICY.max_interval
