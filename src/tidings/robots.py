"""robots.txt: fetched through the ``Fetcher``, cached per host, obeyed for article pages.

Parsing is the standard library's ``urllib.robotparser`` (it reads
``Allow``/``Disallow``, wildcards-free prefixes, ``Crawl-delay`` and
``Request-rate``); this module only adds what it lacks: fetching through
tidings' guarded ``Fetcher``, a per-host cache with one fetch in flight per
host, and the RFC 9309 rules for a robots.txt that cannot be read:

- 2xx: the rules apply (an empty or unparsable file allows everything);
- 4xx (404 and friends): no rules, everything allowed;
- 5xx, timeouts, connection failures: the site is treated as fully
  disallowed for a short while (``RETRY_AFTER_FAILURE``), then asked again.

A ``Crawl-delay`` is handed to the fetcher as the spacing of that host's page fetches
(not its feed polls; see ``fetch.py``).
Feeds themselves are not checked against robots.txt: a feed URL is published
to be polled (as every feed reader treats it).
"""

from __future__ import annotations

import asyncio
import time
import urllib.robotparser
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from tidings.errors import EmptyBody, FetchError, HTTPStatusError, InvalidURL
from tidings.fetch import Fetcher

CACHE_SECONDS = 24 * 3600.0
RETRY_AFTER_FAILURE = 600.0
MAX_ROBOTS_BYTES = 512_000  # RFC 9309 asks parsers to read at least 500 KiB


@dataclass(frozen=True, slots=True)
class Robots:
    """The rules of one host for one user agent."""

    parser: urllib.robotparser.RobotFileParser | None  # None: allow all
    disallow_all: bool = False
    reason: str = ""

    def allowed(self, url: str, agent: str) -> bool:
        if self.disallow_all:
            return False
        if self.parser is None:
            return True
        return self.parser.can_fetch(agent, url)

    def crawl_delay(self, agent: str) -> float | None:
        if self.parser is None:
            return None
        delay = self.parser.crawl_delay(agent)
        if delay is None:
            rate = self.parser.request_rate(agent)
            if rate is not None and rate.requests > 0:
                return rate.seconds / rate.requests
            return None
        try:
            return max(0.0, float(delay))
        except (TypeError, ValueError):
            return None


def parse_robots(text: str) -> Robots:
    """Rules from robots.txt text (pure)."""
    parser = urllib.robotparser.RobotFileParser()
    parser.parse(text.splitlines())
    return Robots(parser=parser)


def agent_token(user_agent: str) -> str:
    """The product token robots.txt groups are matched against ("tidings/0.1 (...)" -> "tidings")."""
    return user_agent.split("/", 1)[0].split()[0] if user_agent.strip() else "*"


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    crawl_delay: float | None = None
    reason: str = ""


class RobotsCache:
    """Per-host robots.txt rules, fetched on first use and kept ``CACHE_SECONDS``."""

    def __init__(self, fetcher: Fetcher, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.fetcher = fetcher
        self.agent = agent_token(fetcher.settings.user_agent)
        self._clock = clock
        self._cache: dict[str, tuple[float, Robots]] = {}
        self._inflight: dict[str, asyncio.Task[Robots]] = {}

    async def check(self, url: str) -> Verdict:
        """May tidings fetch ``url``? Also applies the host's Crawl-delay to the fetcher."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return Verdict(False, reason=f"not an http(s) URL: {url}")
        origin = f"{parts.scheme}://{parts.netloc.lower()}"
        robots = await self._robots(origin)
        delay = robots.crawl_delay(self.agent)
        if delay:
            self.fetcher.set_host_delay(parts.hostname, delay)
        if robots.allowed(url, self.agent):
            return Verdict(True, delay)
        return Verdict(False, delay, robots.reason or "disallowed by robots.txt")

    async def _robots(self, origin: str) -> Robots:
        cached = self._cache.get(origin)
        if cached is not None and cached[0] > self._clock():
            return cached[1]
        task = self._inflight.get(origin)
        if task is None:
            task = asyncio.ensure_future(self._load(origin))
            self._inflight[origin] = task
            task.add_done_callback(lambda _t: self._inflight.pop(origin, None))
        return await asyncio.shield(task)

    async def _load(self, origin: str) -> Robots:
        url = origin + "/robots.txt"
        ttl = CACHE_SECONDS
        try:
            response = await self.fetcher.get(url, accept="text/plain", max_bytes=MAX_ROBOTS_BYTES)
            try:
                text = response.body.decode(response.charset or "utf-8", errors="replace")
            except LookupError:  # unknown charset label
                text = response.body.decode("utf-8", errors="replace")
            robots = parse_robots(text)
        except HTTPStatusError as e:
            if 400 <= e.status < 500:
                robots = Robots(parser=None, reason=f"robots.txt: HTTP {e.status}, no rules")
            else:
                robots = Robots(
                    parser=None,
                    disallow_all=True,
                    reason=f"robots.txt unavailable ({e}); site treated as disallowed",
                )
                ttl = RETRY_AFTER_FAILURE
        except InvalidURL as e:
            robots = Robots(parser=None, disallow_all=True, reason=f"robots.txt refused: {e}")
        except EmptyBody:
            robots = Robots(parser=None, reason="empty robots.txt, no rules")
        except FetchError as e:
            robots = Robots(
                parser=None,
                disallow_all=True,
                reason=f"robots.txt unreachable ({e}); site treated as disallowed",
            )
            ttl = RETRY_AFTER_FAILURE
        self._cache[origin] = (self._clock() + ttl, robots)
        return robots
