"""One exception tree for tidings.

::

    TidingsError
    ├── ConfigError(TidingsError, ValueError)      bad setting value or file
    ├── InvalidURL(TidingsError, ValueError)       not an http(s) URL we may fetch
    │   └── BlockedAddress                         resolves to a guarded address
    ├── FetchError                                 anything that went wrong getting bytes
    │   ├── HTTPStatusError                        a non-success status (keeps .status)
    │   ├── TooLarge                               body over the size limit
    │   ├── FetchTimeout(FetchError, TimeoutError) deadline passed
    │   ├── TooManyRedirects                       redirect loop or long chain
    │   ├── ConnectError                           DNS, TCP or TLS failure
    │   └── EmptyBody                              a 200 with nothing in it
    ├── ParseError(TidingsError, ValueError)       not a feed we can read
    │   └── NotAFeed                               HTML or other non-feed document
    ├── ExtractError                               no article body found on a page
    ├── DiscoveryError                             no feed found at a home page
    └── StorageError                               the database failed (wraps the cause)

A failure on one feed or article is *data*: the pipeline catches
``TidingsError`` and records ``str(error)`` on the feed or article. Anything
else is a bug and propagates.
"""

from __future__ import annotations


class TidingsError(Exception):
    """Base of every error tidings raises on purpose."""


class ConfigError(TidingsError, ValueError):
    """A setting has a bad value, or the settings file cannot be read."""


class InvalidURL(TidingsError, ValueError):
    """A URL that tidings refuses to fetch (bad scheme, no host, ...)."""


class BlockedAddress(InvalidURL):
    """The URL's host resolves to an address the address guard blocks."""


class FetchError(TidingsError):
    """Getting the bytes of a URL failed."""

    def __init__(self, message: str, *, url: str | None = None) -> None:
        super().__init__(message)
        self.url = url


class HTTPStatusError(FetchError):
    """The server answered with a status that is not a success."""

    def __init__(
        self,
        status: int,
        *,
        url: str | None = None,
        retry_after: float | None = None,
        reason: str | None = None,
    ) -> None:
        text = f"HTTP {status}" + (f" {reason}" if reason else "")
        super().__init__(text, url=url)
        self.status = status
        self.retry_after = retry_after


class TooLarge(FetchError):
    """The body is larger than the configured limit."""


class FetchTimeout(FetchError, TimeoutError):
    """The request did not complete within its deadline."""


class TooManyRedirects(FetchError):
    """A redirect loop or a redirect chain longer than allowed."""


class ConnectError(FetchError):
    """DNS, TCP or TLS failure."""


class EmptyBody(FetchError):
    """A success status with an empty body."""


class ParseError(TidingsError, ValueError):
    """The document is not a feed tidings can read."""


class NotAFeed(ParseError):
    """The document is HTML or something else that is not a feed."""


class ExtractError(TidingsError):
    """No article body could be extracted from a page."""


class DiscoveryError(TidingsError):
    """No feed could be found for a home page."""


class StorageError(TidingsError):
    """The database failed; the cause is kept in ``__cause__``."""
