"""The ``tidings`` command: a thin shell over the pipeline and the store.

Exit codes: 0 success (individual feeds may have failed: they are recorded),
1 a fatal error (bad settings, database unreachable, bad input file),
2 bad usage.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar
from urllib.parse import urlsplit

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tidings.config import OPTIONS, Settings, load_settings
from tidings.errors import TidingsError
from tidings.model import Article, Source, attribution
from tidings.store import Store

app = typer.Typer(
    help="tidings: a self-hostable automated news aggregator.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
sources_app = typer.Typer(help="Manage publishers and their feeds.", no_args_is_help=True)
app.add_typer(sources_app, name="sources")

console = Console(stderr=True)
out = Console(soft_wrap=True, highlight=False)
T = TypeVar("T")


class State:
    settings: Settings | None = None
    config_file: Path | None = None


def settings() -> Settings:
    if State.settings is None:
        State.settings = load_settings()
    return State.settings


@contextmanager
def open_store() -> Iterator[Store]:
    store = Store(settings().database_url)
    try:
        yield store
    finally:
        store.close()


def fail(message: str, code: int = 1) -> typer.Exit:
    console.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code)


def guarded(fn: Callable[..., T]) -> Callable[..., T]:
    """Turn TidingsError into a clear message and exit status 1."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        try:
            return fn(*args, **kwargs)
        except TidingsError as e:
            raise fail(str(e)) from None

    return wrapper


@app.callback()
def main_callback(
    config: Annotated[Path | None, typer.Option(help="Settings file (TOML).")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log debug details.")] = False,
) -> None:
    try:
        State.settings = load_settings(config_file=config)
        State.config_file = config
    except TidingsError as e:
        raise fail(str(e)) from None
    level = "DEBUG" if verbose else State.settings.log_level.upper()
    logging.basicConfig(
        level=level,
        format="%(message)s",
        datefmt="[%X]",
        handlers=[RichHandler(console=console, show_path=False)],
        force=True,
    )
    if State.settings.log_format == "json":
        from tidings.logs import use_json_logs

        use_json_logs(level)
    for noisy in (
        "trafilatura",
        "htmldate",
        "courlan",
        "charset_normalizer",
        "urllib3",
        "alembic",
        "readability",
        "asyncio",
    ):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    if level != "DEBUG":
        logging.getLogger("tidings.pipeline").setLevel(logging.ERROR)


# -- sources -------------------------------------------------------------------


@sources_app.command("add")
@guarded
def sources_add(
    url: Annotated[str, typer.Argument(help="A feed URL or a site's home page.")],
    name: Annotated[str | None, typer.Option(help="Publisher name (default: the feed's title).")] = None,
    country: Annotated[str | None, typer.Option(help="ISO 3166 country code, e.g. IN.")] = None,
    language: Annotated[str | None, typer.Option(help="ISO 639-1 language code, e.g. en.")] = None,
) -> None:
    """Add a publisher's feed, discovering it from a home page if needed."""
    from tidings.fetch import Fetcher
    from tidings.sources import discover

    s = settings()

    async def run() -> Any:
        async with Fetcher(s) as fetcher:
            return await discover(fetcher, url, allow_private=s.allow_private_addresses)

    found = asyncio.run(run())
    host = urlsplit(found.feed_url).hostname or found.feed_url
    publisher = name or found.parsed.title or host
    with open_store() as store:
        source = store.sources.add_source(
            Source(
                None,
                publisher,
                found.parsed.link,
                (country or "").upper() or None,
                (language or found.parsed.language or "").split("-")[0].lower() or None,
            )
        )
        assert source.id is not None
        feed, created = store.sources.add_feed(
            source.id,
            found.feed_url,
            title=found.parsed.title,
            format=found.parsed.format,
            poll_interval_s=s.poll_interval,
        )
    verb = "added" if created else "already present:"
    out.print(
        f"{verb} {feed.url} ({found.parsed.format}, {len(found.parsed.entries)} entries) for {source.name}"
    )


@sources_app.command("import")
@guarded
def sources_import(file: Annotated[Path, typer.Argument(help="An OPML file.")]) -> None:
    """Add every feed listed in an OPML file."""
    from tidings.sources import read_opml

    try:
        data = file.read_bytes()
    except OSError as e:
        raise fail(f"cannot read {file}: {e}") from None
    specs = read_opml(data)
    added = load_specs(specs)
    out.print(f"imported {added} new feeds ({len(specs)} listed) from {file}")


def load_specs(specs: list[Any], store: Store | None = None) -> int:
    from tidings.fetch import check_url

    s = settings()

    def work(st: Store) -> int:
        n = 0
        for spec in specs:
            try:
                check_url(spec.feed_url, allow_private=True)  # syntax only; guard applies on fetch
            except TidingsError as e:
                console.print(f"[yellow]skipped[/] {spec.feed_url}: {e}")
                continue
            name = spec.name or urlsplit(spec.feed_url).hostname or spec.feed_url
            source = st.sources.add_source(Source(None, name, spec.home_url, spec.country, spec.language))
            assert source.id is not None
            _, created = st.sources.add_feed(
                source.id, spec.feed_url, title=spec.title, poll_interval_s=s.poll_interval
            )
            n += created
        return n

    if store is not None:
        return work(store)
    with open_store() as st:
        return work(st)


@sources_app.command("export")
@guarded
def sources_export(
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file.")] = None,
) -> None:
    """Write every publisher and feed as OPML."""
    from tidings.sources import SourceSpec, write_opml

    with open_store() as store:
        srcs = store.sources.list_sources()
        feeds = store.sources.feeds_for_sources([s.id for s in srcs if s.id is not None])
    groups = [
        (
            SourceSpec(feed_url="", name=s.name, home_url=s.home_url, country=s.country, language=s.language),
            [f.url for f in feeds[s.id]],
        )
        for s in srcs
        if s.id is not None and feeds[s.id]
    ]
    data = write_opml(groups)
    if output:
        output.write_bytes(data)
        console.print(f"wrote {sum(len(u) for _, u in groups)} feeds to {output}")
    else:
        sys.stdout.write(data.decode("utf-8"))


def _ago(dt: datetime | None) -> str:
    if dt is None:
        return "never"
    from tidings.store.schema import now_utc

    delta = (now_utc() - dt).total_seconds()
    future = delta < 0
    delta = abs(delta)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if delta >= size:
            text = f"{int(delta // size)}{unit}"
            break
    else:
        text = f"{int(delta)}s"
    return f"in {text}" if future else f"{text} ago"


@sources_app.command("list")
@guarded
def sources_list(
    as_json: Annotated[bool, typer.Option("--json", help="JSON Lines instead of a table.")] = False,
) -> None:
    """List feeds with their health: last success, last error, error count, next poll."""
    with open_store() as store:
        feeds = store.sources.list_feeds()
    if as_json:
        for f in feeds:
            row = dataclasses.asdict(f)
            out.print(json.dumps(row, default=_json_default, ensure_ascii=False))
        return
    table = Table(title=f"{len(feeds)} feeds", show_lines=False)
    for col in ("publisher", "feed", "status", "last success", "errors", "last error", "next poll"):
        table.add_column(col, overflow="fold")
    for f in feeds:
        status = f.status if f.error_count == 0 else f"[yellow]{f.status}[/]"
        table.add_row(
            f.source_name or "",
            f.url,
            status,
            _ago(f.last_success_at),
            str(f.error_count),
            (f.last_error or "")[:120],
            _ago(f.next_poll_at),
        )
    Console(width=None if sys.stdout.isatty() else 200, highlight=False).print(table)


@sources_app.command("remove")
@guarded
def sources_remove(url: Annotated[str, typer.Argument(help="The feed URL to remove.")]) -> None:
    """Stop following a feed (its stored articles are kept)."""
    with open_store() as store:
        feed = store.sources.get_feed_by_url(url)
        if feed is None or feed.id is None:
            raise fail(f"no feed with URL {url}")
        store.sources.delete_feed(feed.id)
    out.print(f"removed {url}")


# -- fetching ------------------------------------------------------------------


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


async def poll_once(store: Store, s: Settings, *, show_progress: bool = True) -> Any:
    from tidings.pipeline import Pipeline

    pipeline = Pipeline(s, store)
    due = store.sources.due_feeds()
    if not show_progress or not due:
        return await pipeline.poll_due(feeds=due)
    with _progress() as progress:
        task = progress.add_task("polling feeds", total=len(due), status="")
        new = 0

        def on_feed(result: Any) -> None:
            nonlocal new
            new += result.new_articles
            progress.update(task, advance=1, status=f"{new} new articles")

        return await pipeline.poll_due(feeds=due, on_feed=on_feed)


@app.command()
@guarded
def fetch(
    all_feeds: Annotated[bool, typer.Option("--all", help="Poll every feed, due or not.")] = False,
) -> None:
    """Poll every due feed once, fetch and extract new articles, and store them."""
    s = settings()
    with open_store() as store:
        if store.sources.count_sources() == 0:
            raise fail(
                "no sources yet: add one with `tidings sources add URL` "
                "(or run `tidings run`, which loads the default publishers)"
            )
        if all_feeds:
            store.sources.reschedule_all()
        summary = asyncio.run(poll_once(store, s))
        total = store.articles.count()
    out.print(
        f"polled {summary.feeds} feeds: {summary.new_articles} new articles "
        f"({summary.fallbacks} from feed text), {summary.not_modified} unchanged, "
        f"{summary.failed} failed; {total} articles stored"
    )
    for r in summary.results:
        if r.outcome == "error":
            console.print(f"  [yellow]failed[/] {r.url}: {r.error}")


# -- export and extract --------------------------------------------------------


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, tuple | set):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def article_record(article: Article, site_name: str) -> dict[str, Any]:
    """The JSON shape of an article in `tidings export` and the API."""
    return {
        "id": article.id,
        "url": article.url,
        "canonical_url": article.canonical_url,
        "title": article.title,
        "text": article.text,
        "publisher": article.publisher,
        "feed_url": article.feed_url,
        "published_at": article.published_at,
        "updated_at": article.updated_at,
        "fetched_at": article.fetched_at,
        "language": article.language,
        "author": article.author,
        "image": article.image,
        "extraction": article.extraction,
        "extraction_reason": article.extraction_reason,
        "story_id": article.story_id,
        "duplicate_of": article.duplicate_of,
        "attribution": attribution(site_name, article.publisher),
    }


@app.command()
@guarded
def export(
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file.")] = None,
) -> None:
    """Write every stored article as JSON Lines."""
    s = settings()
    with open_store() as store:
        handle = output.open("w", encoding="utf-8") if output else sys.stdout
        n = 0
        try:
            for article in store.articles.iter_all():
                record = {
                    **article_record(article, s.site_name),  # + the enrich stage's fields
                    **store.entities.enrichment_of(article.id or 0),
                }
                handle.write(json.dumps(record, default=_json_default, ensure_ascii=False) + "\n")
                n += 1
        finally:
            if output:
                handle.close()
    if output:
        console.print(f"wrote {n} articles to {output}")


@app.command()
@guarded
def reenrich() -> None:
    """Re-run enrichment (language, entities, countries, topic, keywords, summary) on every article."""
    from tidings.enrich import Enricher, load_recogniser

    s = settings()
    with open_store() as store:
        total = store.articles.count()
        enricher = Enricher(recogniser=load_recogniser(s.enrich_recogniser))
        done = 0
        with _progress() as progress:
            task = progress.add_task("enriching", total=total, status="")
            homes = {src.id: src.country for src in store.sources.list_sources()}
            for article in store.articles.iter_all():
                if article.id is not None:
                    home = homes.get(article.source_id) if article.source_id else None
                    store.entities.save(article.id, enricher.enrich_article(article, home_country=home))
                done += 1
                progress.update(task, advance=1, status=f"{done} articles")
    out.print(f"enriched {done} articles")


@app.command()
@guarded
def recluster() -> None:
    """Rebuild stories, storylines and duplicate groups from the stored articles, with current settings."""
    from tidings.stories import recluster as rebuild

    s = settings()
    with open_store() as store, _progress() as progress:
        task = progress.add_task("re-clustering", total=store.articles.count(), status="")

        def on_article(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total, status=f"{done} articles")

        done, made = rebuild(s, store, on_article)
    out.print(f"re-clustered {done} articles into {made} stories")


@app.command()
@guarded
def extract(
    inputs: Annotated[list[str], typer.Argument(help="HTML files or http(s) URLs.")],
    url: Annotated[str | None, typer.Option(help="Page URL to assume for files.")] = None,
) -> None:
    """Extract articles from pages and print one JSON object per page (JSON Lines)."""
    from tidings.extract import extract as run_extract
    from tidings.fetch import Fetcher

    s = settings()
    failures = 0

    async def fetch_pages(urls: list[str]) -> dict[str, Any]:
        results: dict[str, Any] = {}
        async with Fetcher(s) as fetcher:
            for u in urls:
                try:
                    results[u] = await fetcher.get(u)
                except TidingsError as e:
                    results[u] = e
        return results

    remote = [i for i in inputs if i.startswith(("http://", "https://"))]
    pages = asyncio.run(fetch_pages(remote)) if remote else {}
    for item in inputs:
        record: dict[str, Any] = {"input": item}
        if item in pages:
            resp = pages[item]
            if isinstance(resp, TidingsError):
                record["error"] = str(resp)
                failures += 1
                out.print(json.dumps(record, ensure_ascii=False))
                continue
            body, page_url, charset = resp.body, resp.url, resp.charset
        else:
            try:
                body = Path(item).read_bytes()
            except OSError as e:
                record["error"] = f"cannot read {item}: {e.strerror or e}"
                failures += 1
                out.print(json.dumps(record, ensure_ascii=False))
                continue
            page_url, charset = url or Path(item).resolve().as_uri(), None
        result = run_extract(body, page_url, charset=charset)
        record.update({"url": page_url, **dataclasses.asdict(result)})
        out.print(json.dumps(record, default=_json_default, ensure_ascii=False))
    if failures:
        raise typer.Exit(1)


# -- serving -------------------------------------------------------------------


@app.command()
@guarded
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    workers: Annotated[
        int | None,
        typer.Option(min=1, help="Processes sharing the port (default: the web_workers setting)."),
    ] = None,
) -> None:
    """Start the web reader."""
    import uvicorn

    from tidings.web import create_app

    s = settings().replace(**{k: v for k, v in (("host", host), ("port", port)) if v is not None})
    n = workers or s.web_workers
    store = Store(s.database_url)  # migrates the schema once, before any process serves
    console.print(f"tidings reader on http://{s.host}:{s.port}/" + (f" ({n} processes)" if n > 1 else ""))
    if n == 1:
        uvicorn.run(create_app(s, store), host=s.host, port=s.port, log_level="warning")
        return
    store.close()
    # each process builds its app from the same settings: the environment it inherits
    # and the settings file, named to it by absolute path
    if State.config_file is not None:
        os.environ["TIDINGS_CONFIG"] = str(State.config_file.resolve())
    uvicorn.run(
        "tidings.web:app_from_environment",
        factory=True,
        workers=n,
        host=s.host,
        port=s.port,
        log_level="warning",
    )


@app.command()
@guarded
def run(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    once: Annotated[bool, typer.Option(help="Poll once, then only serve.")] = False,
) -> None:
    """Poll feeds on their schedules and serve the reader, in one process."""
    import uvicorn

    from tidings.sources import default_sources
    from tidings.web import create_app

    s = settings().replace(**{k: v for k, v in (("host", host), ("port", port)) if v is not None})
    store = Store(s.database_url)
    if store.sources.count_sources() == 0 and s.load_default_sources:
        added = load_specs(default_sources(), store)
        console.print(f"loaded {added} feeds from the default publishers list")
    server = uvicorn.Server(
        uvicorn.Config(create_app(s, store), host=s.host, port=s.port, log_level="warning")
    )

    async def poller() -> None:
        from tidings.store.schema import now_utc

        while not server.should_exit:
            try:
                summary = await poll_once(store, s, show_progress=False)
                if summary.feeds:
                    console.print(
                        f"polled {summary.feeds} feeds: {summary.new_articles} new "
                        f"articles, {summary.failed} failed"
                    )
            except TidingsError as e:
                console.print(f"[red]poll failed:[/] {e}")
            if once:
                return
            nxt = store.sources.next_due_at()
            wait = 60.0 if nxt is None else (nxt - now_utc()).total_seconds()
            for _ in range(int(min(max(wait, 5.0), 60.0))):
                if server.should_exit:
                    return
                await asyncio.sleep(1)

    async def main() -> None:
        console.print(f"tidings reader on http://{s.host}:{s.port}/ (Ctrl+C to stop)")
        await asyncio.gather(server.serve(), poller())

    try:
        asyncio.run(main())
    finally:
        store.close()


@app.command()
@guarded
def worker(
    concurrency: Annotated[
        int | None, typer.Option(help="Jobs run at once (default: the worker_concurrency setting).")
    ] = None,
    burst: Annotated[
        bool, typer.Option("--burst", help="Enqueue due feeds, work until the queues are empty, then exit.")
    ] = False,
) -> None:
    """Take fetch, extract and post-store jobs from the PostgreSQL job queue (any number of these)."""
    from tidings.queue import JobQueue, libpq_url

    s = settings()
    libpq_url(s.database_url)  # a clear error on SQLite before anything starts
    with open_store() as store:
        stats = asyncio.run(JobQueue(s, store).work(concurrency=concurrency, burst=burst))
    out.print(
        f"worker stopped: {stats.polls} feed polls, {stats.articles} articles stored, "
        f"{stats.stalled_retried} jobs of dead workers retried"
    )


@app.command("migrate-db")
@guarded
def migrate_db(
    source: Annotated[
        str, typer.Option("--from", help="Database URL to copy from, e.g. sqlite:///tidings.db")
    ],
    target: Annotated[
        str, typer.Option("--to", help="Database URL to copy into, e.g. postgresql://tidings@db/tidings")
    ],
    replace: Annotated[
        bool,
        typer.Option(
            "--replace", help="Empty the target's tables first (to redo a copy that was interrupted)."
        ),
    ] = False,
) -> None:
    """Copy every row of one database into another (SQLite to PostgreSQL), then verify counts."""
    from tidings.migrate import copy_database, counts

    if source == target:
        raise fail("--from and --to are the same database")
    with Store(source) as src, Store(target) as dst, _progress() as progress:
        total = sum(counts(src).values())
        task = progress.add_task("copying rows", total=total, status="")

        def on_rows(table: str, n: int) -> None:
            progress.update(task, advance=n, status=table)

        result = copy_database(src, dst, replace=replace, on_rows=on_rows)
    table = Table(title="verification: rows per table")
    for col in ("table", "source", "target", ""):
        table.add_column(col)
    for r in result:
        table.add_row(r.table, str(r.source), str(r.target), "ok" if r.ok else "[red]MISMATCH[/]")
    out.print(table)
    if not all(r.ok for r in result):
        raise fail("row counts differ between the databases")
    out.print(f"copied {sum(r.target for r in result)} rows; every table's count matches")


@app.command("settings")
def show_settings() -> None:
    """Show every setting with its current value and where to change it."""
    s = settings()
    table = Table(title="settings (env TIDINGS_<NAME> or tidings.toml)")
    for col in ("name", "value", "default", "help"):
        table.add_column(col, overflow="fold")
    for o in OPTIONS:
        value = getattr(s, o.name)
        shown = "***" if o.name == "admin_token" and value else str(value)
        table.add_row(o.name, shown, str(o.default), o.help)
    out.print(table)


def main() -> None:
    app()
