"""The runner: polls due feeds and takes each new entry through the stages.

Data flow for one poll (numbers as in docs/ARCHITECTURE.md):

1. ``store.sources.due_feeds()`` picks the feeds whose next poll is due;
2. ``Fetcher.get`` fetches each feed with its validators (a 304 ends here);
3. ``parse_feed`` turns the body into entries (an unchanged body hash skips it),
   in a worker thread so that a slow parse does not stall the other polls;
4. entries whose URL is already stored are dropped;
5. each new entry's page is fetched and ``extract`` pulls out the article,
   falling back to the feed's own text (``from_feed``) with the reason kept;
6. the article is stored once per canonical URL (its own transaction);
7. the post-store stages (dedup, clustering, enrichment) run on it;
8. the feed's health and next poll time are recorded.

A failure on one feed or article is recorded and the run goes on; only an
unexpected exception (a bug) or a database failure stops it.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar
from urllib.parse import urlsplit

from tidings.config import Settings
from tidings.dedup import canonical_url, choose_canonical
from tidings.enrich import Enricher, load_recogniser
from tidings.errors import FetchError, HTTPStatusError, InvalidURL, ParseError, TidingsError
from tidings.extract import TemplateMemory, extract, from_feed
from tidings.fetch import Fetcher, Response
from tidings.model import Article, Entry, Extracted, Feed, ParsedFeed
from tidings.parse import parse_feed
from tidings.robots import RobotsCache
from tidings.schedule import Decision, Policy, PollOutcome, decide
from tidings.store import Store
from tidings.store.schema import now_utc
from tidings.stories import StoryStage

log = logging.getLogger(__name__)

ARTICLE_ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"
FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)


@dataclass(slots=True)
class FeedResult:
    """What happened to one feed in one poll."""

    feed_id: int
    url: str
    outcome: str  # new, not_modified, unchanged, error
    error: str | None = None
    entries: int = 0
    new_articles: int = 0
    fallbacks: int = 0


@dataclass(slots=True)
class RunSummary:
    results: list[FeedResult] = field(default_factory=list)

    @property
    def feeds(self) -> int:
        return len(self.results)

    @property
    def failed(self) -> int:
        return sum(r.outcome == "error" for r in self.results)

    @property
    def not_modified(self) -> int:
        return sum(r.outcome in ("not_modified", "unchanged") for r in self.results)

    @property
    def new_articles(self) -> int:
        return sum(r.new_articles for r in self.results)

    @property
    def fallbacks(self) -> int:
        return sum(r.fallbacks for r in self.results)


def _entry_times(parsed: ParsedFeed) -> tuple[datetime, ...]:
    return tuple(t for e in parsed.entries for t in (e.published_at or e.updated_at,) if t)


def content_hash(text: str) -> str | None:
    return hashlib.sha256(text.encode("utf-8")).hexdigest() if text else None


ProgressCallback = Callable[[FeedResult], None]


@dataclass(slots=True)
class _Writes:
    """Feed health and fetch attempts waiting to be written in one transaction."""

    FLUSH_AT: ClassVar[int] = 256
    successes: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    attempts: list[dict[str, Any]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.successes) + len(self.errors)

    def flush(self, store: Store) -> None:
        successes, errors, attempts = self.successes, self.errors, self.attempts
        self.successes, self.errors, self.attempts = [], [], []
        store.sources.record_polls(successes, errors)
        store.attempts.record_many(attempts)


class Pipeline:
    """Runs the stages for due feeds. One instance per process; cheap to create."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self._enricher: Enricher | None = None
        self._stories: StoryStage | None = None
        self.policy = Policy.from_settings(settings)
        self._rng = random.Random()
        self._robots: RobotsCache | None = None
        self._writes: _Writes | None = None  # poll_due batches feed health writes here
        self.templates = TemplateMemory()  # each publisher's repeated paragraphs

    def schedule(self, feed: Feed, outcome: PollOutcome) -> Decision:
        """The next poll of ``feed`` after ``outcome`` (``schedule.decide``, with this run's clock)."""
        return decide(feed, outcome, now_utc(), self.policy, self._rng)

    def robots(self, fetcher: Fetcher) -> RobotsCache:
        """The robots.txt cache that goes with ``fetcher`` (one per fetcher, per host)."""
        if self._robots is None or self._robots.fetcher is not fetcher:
            self._robots = RobotsCache(fetcher)
        return self._robots

    # -- feeds -----------------------------------------------------------------
    async def poll_due(
        self, *, on_feed: ProgressCallback | None = None, feeds: Sequence[Feed] | None = None
    ) -> RunSummary:
        """Poll every due feed once (or the given feeds), concurrently."""
        due = list(feeds) if feeds is not None else self.store.sources.due_feeds()
        summary = RunSummary()
        if not due:
            return summary
        limit = asyncio.Semaphore(max(1, self.settings.max_connections // 2))
        async with Fetcher(self.settings) as fetcher:
            writes = self._writes = _Writes()

            async def one(feed: Feed) -> None:
                # the host's turn first, then an in-flight slot: a publisher's many section
                # feeds wait out their spacing without holding slots other hosts could use
                await fetcher.wait_turn(feed.url, feed=True)
                async with limit:
                    result = await self.poll_feed(fetcher, feed, turn_taken=True)
                summary.results.append(result)
                if len(writes) >= _Writes.FLUSH_AT:
                    writes.flush(self.store)
                if on_feed is not None:
                    on_feed(result)

            try:
                await asyncio.gather(*(one(f) for f in due))
            finally:
                self._writes = None
                writes.flush(self.store)
        return summary

    # feed health: written at once, or batched while poll_due runs
    def _attempt(self, **row: Any) -> None:
        if self._writes is not None:
            self._writes.attempts.append(row)
        else:
            self.store.attempts.record(**row)

    def _success(
        self,
        feed_id: int,
        plan: Decision,
        *,
        etag: str | None,
        last_modified: str | None,
        body_hash: str | None,
        title: str | None = None,
        format: str | None = None,
        new_entries: int = 0,
    ) -> None:
        if self._writes is not None and plan.url is None:
            self._writes.successes.append(
                dict(
                    feed_id=feed_id,
                    now=now_utc(),
                    next_poll_at=plan.next_poll_at,
                    poll_interval_s=plan.interval_s,
                    etag=etag,
                    last_modified=last_modified,
                    body_hash=body_hash,
                    new_entries=new_entries,
                    title=title or None,
                    format=format or None,
                )
            )
            return
        self.store.sources.record_success(
            feed_id,
            next_poll_at=plan.next_poll_at,
            poll_interval_s=plan.interval_s,
            etag=etag,
            last_modified=last_modified,
            body_hash=body_hash,
            title=title,
            format=format,
            new_entries=new_entries,
            url=plan.url,
        )

    def _error(self, feed_id: int, message: str, plan: Decision) -> None:
        status = plan.status if plan.status != "active" else None
        if self._writes is not None:
            self._writes.errors.append(
                dict(
                    feed_id=feed_id,
                    now=now_utc(),
                    error=message,
                    next_poll_at=plan.next_poll_at,
                    status=status,
                )
            )
        else:
            self.store.sources.record_error(feed_id, message, next_poll_at=plan.next_poll_at, status=status)

    async def poll_feed(self, fetcher: Fetcher, feed: Feed, *, turn_taken: bool = False) -> FeedResult:
        """Fetch, parse and ingest one feed; every failure ends as a recorded error.

        ``turn_taken``: the caller already waited for the host's turn (``Fetcher.wait_turn``).
        """
        assert feed.id is not None
        started = now_utc()
        try:
            response = await fetcher.get(
                feed.url,
                etag=feed.etag,
                last_modified=feed.last_modified,
                accept=FEED_ACCEPT,
                feed=True,
                turn_taken=turn_taken,
            )
        except (FetchError, InvalidURL) as e:
            return self._feed_failed(feed, e, started)
        self._attempt(
            kind="feed",
            url=feed.url,
            feed_id=feed.id,
            started_at=started,
            ok=True,
            status_code=response.status,
            elapsed_ms=response.elapsed_ms,
            size=len(response.body),
        )
        new_url = response.permanent_redirect
        if new_url and self.store.sources.get_feed_by_url(new_url) is not None:
            new_url = None  # another feed already has that URL; keep ours
        if response.not_modified:
            plan = self.schedule(
                feed, PollOutcome(ok=True, changed=False, headers=response.headers, moved_to=new_url)
            )
            self._success(
                feed.id, plan, etag=feed.etag, last_modified=feed.last_modified, body_hash=feed.body_hash
            )
            return FeedResult(feed.id, feed.url, "not_modified")
        body_hash = hashlib.sha256(response.body).hexdigest()
        etag = response.headers.get("etag")
        last_modified = response.headers.get("last-modified")
        if body_hash == feed.body_hash:  # same bytes as last time: nothing to parse
            plan = self.schedule(
                feed, PollOutcome(ok=True, changed=False, headers=response.headers, moved_to=new_url)
            )
            self._success(feed.id, plan, etag=etag, last_modified=last_modified, body_hash=body_hash)
            return FeedResult(feed.id, feed.url, "unchanged")
        try:
            # in a worker thread: a big feed, or one the fast path declines (feedparser reads
            # ~1 MB/s), would otherwise hold up every other poll on this event loop
            parsed = await asyncio.to_thread(
                parse_feed,
                response.body,
                response.url,
                content_type=response.content_type,
                max_items=self.settings.max_items_per_feed,
            )
        except ParseError as e:
            return self._feed_failed(feed, e, started, record_attempt=False)
        result = FeedResult(feed.id, feed.url, "new", entries=len(parsed.entries))
        await self.ingest(fetcher, feed, parsed, result)
        plan = self.schedule(
            feed,
            PollOutcome(
                ok=True,
                changed=True,
                headers=response.headers,
                entry_times=_entry_times(parsed),
                moved_to=new_url,
            ),
        )
        self._success(
            feed.id,
            plan,
            etag=etag,
            last_modified=last_modified,
            body_hash=body_hash,
            title=parsed.title,
            format=parsed.format,
            new_entries=result.new_articles,
        )
        return result

    def _feed_failed(
        self, feed: Feed, error: TidingsError, started: datetime, *, record_attempt: bool = True
    ) -> FeedResult:
        assert feed.id is not None
        message = f"{type(error).__name__}: {error}"
        status = error.status if isinstance(error, HTTPStatusError) else None
        retry_after = error.retry_after if isinstance(error, HTTPStatusError) else None
        log.warning("feed %s failed: %s", feed.url, message)
        if record_attempt:
            self._attempt(
                kind="feed",
                url=feed.url,
                feed_id=feed.id,
                started_at=started,
                ok=False,
                status_code=status,
                error=message,
            )
        plan = self.schedule(
            feed, PollOutcome(ok=False, error=message, error_status=status, retry_after=retry_after)
        )
        self._error(feed.id, message, plan)
        return FeedResult(feed.id, feed.url, "error", error=message)

    # -- articles ----------------------------------------------------------------
    def new_entries(self, parsed: ParsedFeed) -> list[tuple[str, Entry]]:
        """(link, entry) for each entry whose article is not stored yet, first link wins."""
        links: dict[str, Entry] = {}
        for entry in parsed.entries:
            link = entry.link or (entry.guid if entry.guid and entry.guid.startswith("http") else None)
            if link and link not in links:
                links[link] = entry
        # most entries of a polled feed are stored already: match their URLs as given first,
        # and canonicalise (which costs) only the links that are left
        known = self.store.articles.known_urls(links)
        rest = {u: canonical_url(u) for u in links if u not in known}
        known_canonical = self.store.articles.known_urls(rest.values()) if rest else set()
        return [(u, links[u]) for u, c in rest.items() if c not in known_canonical]

    async def ingest(self, fetcher: Fetcher, feed: Feed, parsed: ParsedFeed, result: FeedResult) -> None:
        """Fetch, extract and store the entries of ``parsed`` that are not stored yet."""
        todo = self.new_entries(parsed)
        limit = asyncio.Semaphore(max(1, self.settings.max_connections_per_host))

        async def one(url: str, entry: Entry) -> None:
            async with limit:
                article = await self.fetch_article(fetcher, feed, url, entry)
            if article is None:
                return
            article_id = self.store.articles.insert(article)
            if article_id is None:
                return
            result.new_articles += 1
            if article.extraction != "page":
                result.fallbacks += 1
            self.after_store(article_id)

        await asyncio.gather(*(one(u, e) for u, e in todo))

    async def fetch_article(self, fetcher: Fetcher, feed: Feed, url: str, entry: Entry) -> Article | None:
        """The article for one entry: the page's extraction, or the feed's text with a reason."""
        publisher = feed.source_name or urlsplit(url).hostname or "unknown"
        page: Response | None = None
        reason: str | None = None
        extracted: Extracted | None = None
        started = now_utc()
        verdict = await self.robots(fetcher).check(url) if self.settings.fetch_articles else None
        if verdict is not None and not verdict.allowed:
            reason = f"not fetched: {verdict.reason}"
        elif self.settings.fetch_articles:
            try:
                page = await fetcher.get(url, accept=ARTICLE_ACCEPT)
            except (FetchError, InvalidURL) as e:
                reason = f"page fetch failed: {type(e).__name__}: {e}"
                self.store.attempts.record(
                    kind="article",
                    url=url,
                    feed_id=feed.id,
                    started_at=started,
                    ok=False,
                    status_code=e.status if isinstance(e, HTTPStatusError) else None,
                    error=str(e),
                )
            else:
                self.store.attempts.record(
                    kind="article",
                    url=url,
                    feed_id=feed.id,
                    started_at=started,
                    ok=True,
                    status_code=page.status,
                    elapsed_ms=page.elapsed_ms,
                    size=len(page.body),
                )
                extracted = await asyncio.to_thread(
                    extract,
                    page.body,
                    page.url,
                    entry=entry,
                    publisher=publisher,
                    charset=page.charset,
                    template=self.templates,
                )
                if not extracted.ok:
                    reason = f"extraction: {extracted.reason}"
        else:
            reason = "article fetching is turned off (fetch_articles=false)"
        final_url = page.url if page is not None else url
        fallback = from_feed(entry, publisher)
        if extracted is not None and extracted.ok:
            chosen, how = extracted, "page"
        elif fallback.ok:
            chosen, how = fallback, "feed"
        else:
            chosen, how = fallback, "none"
            reason = (reason or "") + "; the feed entry has no text either"
        title = chosen.title or (extracted.title if extracted else None) or fallback.title
        if not title:
            title = final_url
        canonical = choose_canonical(final_url, extracted.canonical_url if extracted else None)
        meta = extracted if extracted is not None else fallback
        return Article(
            id=None,
            url=final_url,
            canonical_url=canonical,
            title=title,
            text=chosen.text,
            html=chosen.html,
            publisher=publisher,
            source_id=feed.source_id,
            feed_id=feed.id,
            feed_url=feed.url,
            author=meta.author or entry.author,
            published_at=meta.published_at or entry.published_at,
            updated_at=meta.updated_at or entry.updated_at,
            fetched_at=now_utc(),
            language=meta.language or chosen.language,
            image=meta.image or entry.image,
            summary=entry.summary,
            extraction=how,
            extraction_reason=reason,
            content_hash=content_hash(chosen.text),
            categories=entry.categories,
        )

    def after_store(self, article_id: int) -> None:
        """post-store stages: each newly stored article passes through these, in order.

        Enrichment first (clustering reads the topic it sets), then dedup and
        clustering; each reads the stored article and writes only what it owns.
        """
        self.enrich(article_id)
        self.place_in_story(article_id)

    def place_in_story(self, article_id: int) -> None:
        """Dedup then clustering (``tidings.stories``): duplicate group, story, storyline."""
        article = self.store.articles.get(article_id)
        if article is not None:
            if self._stories is None:
                self._stories = StoryStage(self.settings, self.store)
            self._stories.process(article)

    def enrich(self, article_id: int) -> None:
        """Enrichment (``tidings.enrich``): language, entities, countries, topic, keywords, summary."""
        if not self.settings.enrich:
            return
        article = self.store.articles.get(article_id)
        if article is not None:
            source = self.store.sources.get_source(article.source_id) if article.source_id else None
            home = source.country if source is not None else None  # tells world from home news
            self.store.entities.save(article_id, self.enricher().enrich_article(article, home_country=home))

    def enricher(self) -> Enricher:
        """The gazetteers and language model, loaded on first use and kept for this process."""
        if self._enricher is None:
            self._enricher = Enricher(recogniser=load_recogniser(self.settings.enrich_recogniser))
        return self._enricher
