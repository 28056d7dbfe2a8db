"""HTTP fetching: the one place where tidings opens connections.

Every outgoing request (feeds, article pages, discovery, robots.txt) goes
through ``Fetcher.get``. It applies, in one place:

- the address guard: only http/https; the host's addresses are checked *at
  connect time* by ``GuardedResolver`` (so a DNS answer that changes between
  check and connect cannot slip through) and IP-literal hosts are checked
  before any connection; every redirect hop is checked again;
- a total deadline per request (body included), a connect deadline;
- a maximum body size after decompression (gzip, deflate and brotli are
  accepted), so a gzip bomb stops at the limit;
- a capped number of redirects, followed by hand so each hop is guarded;
- conditional GET (``If-None-Match`` / ``If-Modified-Since``): a 304 comes
  back as ``Response.not_modified`` with no body;
- a descriptive User-Agent, a global connection limit and, per host, at most
  ``max_connections_per_host`` requests at once and ``request_spacing``
  seconds between request starts. Waiting for a host's turn is not counted
  against the request's deadline, and holds no connection slot.

Feeds and pages keep separate spacing per host (``get(..., feed=True)`` for a
feed poll). Publishers serve dozens of section feeds from one host, and one
updated section sends a burst of article-page fetches to that host: on one
shared schedule, each section's poll would wait behind those pages (and behind
a robots.txt Crawl-delay, seconds per request), so a big publisher's feeds fell
ever further behind. A host therefore sees at most one feed poll and one page
fetch start per ``request_spacing`` (1 s by default), never more than
``max_connections_per_host`` requests at once in all, and the Crawl-delay
(set by ``robots.py`` through ``set_host_delay``) spaces the pages only: like
the rest of robots.txt it governs what tidings crawls, not the feeds a
publisher offers for polling, which are conditional GETs that mostly end in
a 304. ``wait_turn`` lets the poller wait for a feed's turn before it takes one
of its own in-flight slots, so a publisher's queued sections do not hold up
the polls of other hosts.

Every spelling of an IP address in a URL (decimal ``2130706433``, octal,
hex, short ``127.1``, IPv4-mapped and NAT64 IPv6) is read as the address it
means before the guard judges it (``host_address``).

aiohttp is the client because it was measured ~10x cheaper per request than
httpx's AsyncClient on this kind of machine (see the ingestion issue).
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from multidict import CIMultiDictProxy

from tidings.config import Settings
from tidings.errors import (
    BlockedAddress,
    ConnectError,
    EmptyBody,
    FetchError,
    FetchTimeout,
    HTTPStatusError,
    InvalidURL,
    TooLarge,
    TooManyRedirects,
)

ALLOWED_SCHEMES = frozenset({"http", "https"})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_LEGACY_IPV4 = re.compile(r"^(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+)){0,3}\.?$", re.I)


def host_address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The IP address a URL host denotes, in any spelling; None for a name.

    Besides dotted quads and IPv6 literals this reads the spellings that
    ``inet_aton`` and browsers accept: decimal (``2130706433``), octal
    (``0177.0.0.1``, ``017700000001``), hex (``0x7f.1``) and short forms
    (``127.1``), as the WHATWG URL standard does for hosts ending in a number.
    """
    text = host.strip().strip("[]").rstrip(".") if host else ""
    if not text:
        return None
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        pass
    if _LEGACY_IPV4.match(text):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(text))
        except OSError:
            return None
    return None


def is_public_address(address: str) -> bool:
    """True when the IP address is globally routable (not loopback, private, ...)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        mapped = ip.ipv4_mapped or ip.sixtofour
        if mapped is None and ip in _NAT64:  # 64:ff9b::/96 embeds an IPv4 address
            mapped = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if mapped is not None:
            return is_public_address(str(mapped))
        if ip.teredo:
            return False
    return bool(
        ip.is_global
        and not ip.is_multicast
        and not ip.is_reserved
        and not ip.is_loopback
        and not ip.is_link_local
        and not ip.is_private
        and not ip.is_unspecified
    )


def check_url(url: str, *, allow_private: bool = False) -> str:
    """Refuse URLs tidings must not fetch; returns the URL unchanged when it is fine."""
    try:
        parts = urlsplit(url)
    except ValueError as e:
        raise InvalidURL(f"not a URL: {url!r}") from e
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        raise InvalidURL(f"scheme {scheme or '(none)'!r} is not allowed, only http and https: {url}")
    host = parts.hostname
    if not host:
        raise InvalidURL(f"URL has no host: {url}")
    if parts.username or parts.password:
        raise InvalidURL(f"URL carries credentials, refused: {url}")
    if not allow_private:
        ip = host_address(host)
        if ip is not None and not is_public_address(str(ip)):
            raise BlockedAddress(f"address {host} is not public: {url}")
        if ip is None and _LEGACY_IPV4.match(host):
            raise BlockedAddress(f"host {host} looks like a malformed IP address: {url}")
        name = host.lower().rstrip(".")
        if name in {"localhost", "localhost.localdomain"} or name.endswith(".localhost"):
            raise BlockedAddress(f"host {host} is loopback: {url}")
    return url


class GuardedResolver(AbstractResolver):
    """Resolves names, then drops every non-public address (unless allowed).

    Because aiohttp connects to exactly the addresses the resolver returns, the
    check and the connection use the same answer: no DNS-rebinding window.

    Test hook (never set by tidings itself): ``static_hosts`` answers chosen
    names with chosen addresses instead of asking DNS, and ``treat_as_public``
    names addresses (say ``127.0.0.2``) the guard should accept as if they
    were public, so a test can play a "public" server on loopback and check
    that a redirect from it to ``127.0.0.1`` is still refused. Both default to
    empty; ``allow_private_addresses`` stays the only production switch.
    """

    def __init__(
        self,
        allow_private: bool,
        *,
        static_hosts: dict[str, list[str]] | None = None,
        treat_as_public: frozenset[str] = frozenset(),
    ) -> None:
        self.allow_private = allow_private
        self.static_hosts = dict(static_hosts or {})
        self.treat_as_public = treat_as_public
        self._inner = aiohttp.ThreadedResolver()

    def _allowed(self, address: str) -> bool:
        return self.allow_private or address in self.treat_as_public or is_public_address(address)

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        if host in self.static_hosts:
            results: list[ResolveResult] = [
                ResolveResult(
                    hostname=host,
                    host=a,
                    port=port,
                    family=socket.AF_INET6 if ":" in a else socket.AF_INET,
                    proto=0,
                    flags=socket.AI_NUMERICHOST,
                )
                for a in self.static_hosts[host]
            ]
        else:
            try:
                results = await self._inner.resolve(host, port, family)
            except OSError as e:
                raise ConnectError(f"cannot resolve {host}: {e}") from e
        if self.allow_private:
            return results
        public = [r for r in results if self._allowed(r["host"])]
        if not public:
            raise BlockedAddress(f"{host} resolves only to non-public addresses")
        return public

    async def close(self) -> None:
        await self._inner.close()


@dataclass(frozen=True, slots=True)
class Response:
    """A completed fetch. ``body`` is decompressed; empty for a 304."""

    url: str  # final URL after redirects
    status: int
    headers: dict[str, str]
    body: bytes
    elapsed_ms: int
    redirects: tuple[tuple[int, str], ...] = field(default_factory=tuple)  # (status, location)

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()

    @property
    def charset(self) -> str | None:
        ctype = self.headers.get("content-type", "")
        for part in ctype.split(";")[1:]:
            key, _, value = part.partition("=")
            if key.strip().lower() == "charset" and value.strip():
                return value.strip().strip('"').lower()
        return None

    @property
    def permanent_redirect(self) -> str | None:
        """The new URL when every hop was a permanent redirect (301/308)."""
        if self.redirects and all(s in (301, 308) for s, _ in self.redirects):
            return self.url
        return None


def _retry_after(headers: CIMultiDictProxy[str]) -> float | None:
    value = headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, when.timestamp() - time.time())


class Fetcher:
    """Async HTTP client with tidings' limits. Use ``async with Fetcher(settings) as f``."""

    def __init__(self, settings: Settings, *, resolver: GuardedResolver | None = None) -> None:
        self.settings = settings
        self._session: aiohttp.ClientSession | None = None
        self._resolver = resolver
        # per-host politeness, per lane (feed, page) of each host: the loop time of the next
        # free turn, and of the last request start (see _space_start); a host's own page
        # spacing when it asked for more (robots.txt Crawl-delay)
        self._next_turn: dict[tuple[str, bool], float] = {}
        self._last_start: dict[tuple[str, bool], float] = {}
        self._host_delay: dict[str, float] = {}
        self._slots: dict[str, asyncio.Semaphore] = {}  # at most N requests per host at once

    def set_host_delay(self, host: str, seconds: float) -> None:
        """Space page requests to ``host`` at least ``seconds`` apart (e.g. a Crawl-delay)."""
        self._host_delay[host.lower()] = max(0.0, min(float(seconds), 60.0))

    def host_delay(self, host: str, *, feed: bool = False) -> float:
        """Least seconds between two page (or, with ``feed``, feed) request starts to ``host``."""
        if feed:
            return self.settings.request_spacing
        return max(self.settings.request_spacing, self._host_delay.get(host.lower(), 0.0))

    async def wait_turn(self, url: str, *, feed: bool = False) -> None:
        """Sleep until ``url``'s host has a free turn in its lane, and take it.

        ``get`` does this itself; a caller that does it first (to wait before it takes
        a slot of its own) passes ``turn_taken=True`` to ``get``.
        """
        try:
            host = (urlsplit(url).hostname or "").lower()
        except ValueError:  # not a URL: get() refuses it, there is no host to wait for
            return
        delay = self.host_delay(host, feed=feed)
        if delay <= 0 or not host:
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        at = max(now, self._next_turn.get((host, feed), 0.0))
        self._next_turn[host, feed] = at + delay
        if at > now:
            await asyncio.sleep(at - now)

    async def _space_start(self, url: str, feed: bool) -> None:
        """Start ``delay`` after the lane's last start, once a connection slot is held.

        Turns are spaced already, but requests that waited for a slot (a slow host), or
        whose turns fell due together while the loop was busy, would start together: this
        checks against the last actual start, and sleeps again if another went first.
        """
        host = (urlsplit(url).hostname or "").lower()
        delay = self.host_delay(host, feed=feed)
        if delay <= 0 or not host:
            return
        key = (host, feed)
        loop = asyncio.get_running_loop()
        while (wait := self._last_start.get(key, -delay) + delay - loop.time()) > 0:
            await asyncio.sleep(wait)
        self._last_start[key] = loop.time()

    async def __aenter__(self) -> Fetcher:
        connector = aiohttp.TCPConnector(
            limit=self.settings.max_connections,
            limit_per_host=self.settings.max_connections_per_host,
            resolver=self._resolver or GuardedResolver(self.settings.allow_private_addresses),
            ttl_dns_cache=300,
            enable_cleanup_closed=True,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            headers={"User-Agent": self.settings.user_agent, "Accept-Encoding": "gzip, deflate, br"},
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=self.settings.connect_timeout),
            auto_decompress=True,
            trust_env=False,
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def get(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str | None = None,
        max_bytes: int | None = None,
        feed: bool = False,
        turn_taken: bool = False,
    ) -> Response:
        """GET with redirects, limits and the guard; raises a ``FetchError`` subclass.

        ``feed``: a feed poll (spaced apart from page fetches, see the module docstring);
        ``turn_taken``: the caller already waited in ``wait_turn``.
        """
        if self._session is None:
            raise RuntimeError("Fetcher used outside 'async with'")
        deadline = self.settings.request_timeout
        check_url(url, allow_private=self.settings.allow_private_addresses)
        # Waiting for this host's turn, then for a connection slot, is our own queue, not
        # the server's slowness: the deadline starts once the request does.
        if not turn_taken:
            await self.wait_turn(url, feed=feed)
        async with self._host_slot(url):
            await self._space_start(url, feed)
            started = time.monotonic()
            try:
                async with asyncio.timeout(deadline):
                    return await self._get(
                        url, etag, last_modified, accept, max_bytes or self.settings.max_body_bytes, started
                    )
            except TimeoutError as e:
                raise FetchTimeout(f"no complete response within {deadline:g}s", url=url) from e

    def _host_slot(self, url: str) -> asyncio.Semaphore:
        host = (urlsplit(url).hostname or "").lower()
        slot = self._slots.get(host)
        if slot is None:
            slot = self._slots[host] = asyncio.Semaphore(max(1, self.settings.max_connections_per_host))
        return slot

    async def _get(
        self,
        url: str,
        etag: str | None,
        last_modified: str | None,
        accept: str | None,
        max_bytes: int,
        started: float,
    ) -> Response:
        assert self._session is not None
        headers: dict[str, str] = {}
        if accept:
            headers["Accept"] = accept
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        redirects: list[tuple[int, str]] = []
        seen = {url}
        current = url
        while True:
            check_url(current, allow_private=self.settings.allow_private_addresses)
            try:
                async with self._session.get(current, headers=headers, allow_redirects=False) as r:
                    if r.status in REDIRECT_STATUSES and "Location" in r.headers:
                        target = urljoin(current, r.headers["Location"])
                        redirects.append((r.status, target))
                        if len(redirects) > self.settings.max_redirects:
                            raise TooManyRedirects(
                                f"more than {self.settings.max_redirects} redirects", url=url
                            )
                        if target in seen:
                            raise TooManyRedirects(f"redirect loop at {target}", url=url)
                        seen.add(target)
                        current = target
                        continue
                    if r.status == 304:
                        return self._response(current, r, b"", started, redirects)
                    if r.status >= 400:
                        raise HTTPStatusError(
                            r.status, url=current, reason=r.reason, retry_after=_retry_after(r.headers)
                        )
                    declared = r.content_length  # compressed size when Content-Encoding is set
                    if declared is not None and declared > max_bytes:
                        raise TooLarge(
                            f"body of {declared} bytes is over the limit of {max_bytes}", url=current
                        )
                    body = await self._read_limited(r, max_bytes, current)
                    if not body.strip():
                        raise EmptyBody(f"HTTP {r.status} with an empty body", url=current)
                    return self._response(current, r, body, started, redirects)
            except FetchError:
                raise
            except InvalidURL:
                raise
            except aiohttp.ClientConnectorError as e:
                cause = e.os_error if isinstance(e.os_error, InvalidURL) else None
                if cause is not None:
                    raise cause from e
                raise ConnectError(f"cannot connect: {e}", url=current) from e
            except aiohttp.ClientResponseError as e:
                raise ConnectError(f"bad response: {e.message}", url=current) from e
            except aiohttp.ClientPayloadError as e:
                raise ConnectError(f"broken body: {e}", url=current) from e
            except aiohttp.ClientError as e:
                raise ConnectError(f"{type(e).__name__}: {e}", url=current) from e
            except (ValueError, UnicodeError) as e:
                raise InvalidURL(f"cannot request {current}: {e}") from e

    @staticmethod
    async def _read_limited(r: aiohttp.ClientResponse, max_bytes: int, url: str) -> bytes:
        chunks: list[bytes] = []
        total = 0
        async for chunk in r.content.iter_chunked(65536):
            total += len(chunk)
            if total > max_bytes:
                raise TooLarge(f"body is over the limit of {max_bytes} bytes", url=url)
            chunks.append(chunk)
        return b"".join(chunks)

    @staticmethod
    def _response(
        url: str, r: aiohttp.ClientResponse, body: bytes, started: float, redirects: list[tuple[int, str]]
    ) -> Response:
        headers: dict[str, Any] = {k.lower(): v for k, v in r.headers.items()}
        return Response(
            url=url,
            status=r.status,
            headers=headers,
            body=body,
            elapsed_ms=int((time.monotonic() - started) * 1000),
            redirects=tuple(redirects),
        )
