"""The reader in real headless Chromium (Debian's ``chromium``, driven by Playwright).

The app runs under a real uvicorn server on 127.0.0.1 against the database
test_web.py's ``build_site`` fills with the real pipeline, XSS corpus and
sanitiser cases included. Every page load fails the test on a console error
(which includes Content-Security-Policy violations and failed requests), on
an uncaught exception, on any dialog, and on the injected ``window.__pwned``
global that the hostile payloads try to set.

Skipped, with the reason, when Playwright or a Chromium binary is missing
(``.ci/run`` installs Debian's chromium; ``playwright install`` is never needed).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tidings.web import create_app

from .test_web import ADMIN_TOKEN, EVIL_PUBLISHER, Site, site  # noqa: F401  (module fixture)

pytestmark = pytest.mark.browser

CHROMIUM = (
    os.environ.get("TIDINGS_CHROMIUM")
    or shutil.which("chromium")
    or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)
)
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def base_url(browser: Any, site: Site) -> Iterator[str]:  # noqa: F811
    """The reader on a real socket (asks for the browser first, so a missing one skips early)."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(site.settings, site.store), log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="Playwright for Python is not installed (pip install -e '.[test]')"
    )
    if not CHROMIUM:
        pytest.skip("no Chromium binary found (apt-get install chromium, or set TIDINGS_CHROMIUM)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield b
        finally:
            b.close()


@dataclass
class Watch:
    """Everything a page did that it must not do."""

    base: str
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def attach(self, page: Any) -> None:
        def console(msg: Any) -> None:
            if msg.type == "error" and (not page.url or page.url.startswith(self.base)):
                self.errors.append(f"{page.url}: {msg.text}")

        page.on("console", console)
        page.on("pageerror", lambda exc: self.errors.append(f"{page.url}: uncaught {exc}"))

        def dialog(d: Any) -> None:
            self.dialogs.append(f"{page.url}: {d.type} {d.message}")
            d.dismiss()

        page.on("dialog", dialog)

    def check(self, page: Any) -> None:
        assert page.evaluate("typeof window.__pwned") == "undefined", page.url
        assert not self.dialogs, self.dialogs
        assert not self.errors, self.errors


@pytest.fixture
def tab(browser: Any, base_url: str) -> Iterator[tuple[Any, Watch]]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    watch = Watch(base_url)
    watch.attach(page)
    try:
        yield page, watch
    finally:
        context.close()


def visit(page: Any, watch: Watch, url: str) -> Any:
    response = page.goto(url, wait_until="load")
    assert response is not None and response.status == 200, (url, response and response.status)
    watch.check(page)
    return response


def test_each_page_type_loads_clean(site: Site, base_url: str, tab) -> None:  # noqa: F811
    page, watch = tab
    evil = next(s for s in site.store.sources.list_sources() if s.name == EVIL_PUBLISHER)
    for path, heading in (
        ("/", "Top stories"),
        (f"/story/{site.story_id}", "India and Canada agree on a security work plan"),
        (f"/article/{site.ids['picture']}", "Picture story with a real image"),
        (f"/publisher/{evil.id}", "Evil"),
        ("/category/world", "World"),
        ("/search?q=tram", "Search"),
        ("/admin", "Admin"),
        # the enrichment pages (web/browse.py) and the feeds' own links
        (f"/entity/{site.entity_id}", "Canada"),
        ("/country/ca", "Canada"),
        ("/topic/world", "World"),
    ):
        visit(page, watch, base_url + path)
        assert heading in page.locator("h1").first.inner_text(), path
        assert page.locator("main#main").count() == 1 and page.locator("header nav").count() == 1
        for img in page.locator("img").all():
            assert img.get_attribute("alt") is not None, path
    # the lead image came through the reader's proxy and decoded as a picture
    visit(page, watch, f"{base_url}/article/{site.ids['picture']}")
    page.locator("figure.lead img").scroll_into_view_if_needed()
    page.wait_for_function("document.querySelector('figure.lead img').complete")
    assert page.evaluate("document.querySelector('figure.lead img').naturalWidth") == 1


def test_home_to_story_to_article_to_original(site: Site, base_url: str, tab) -> None:  # noqa: F811
    page, watch = tab
    visit(page, watch, base_url + "/")
    page.get_by_role("link", name="India and Canada agree on a security work plan").first.click()
    page.wait_for_url(f"{base_url}/story/{site.story_id}")
    watch.check(page)
    assert page.get_by_text("First reported by").is_visible()
    page.locator(".coverage-list .card-title a").first.click()
    page.wait_for_url(re.compile(r".*/article/\d+$"))
    watch.check(page)
    article_id = int(page.url.rsplit("/", 1)[1])
    article = site.store.articles.get(article_id)
    assert article is not None and page.locator("h1").inner_text() == article.title
    assert "This story is auto aggregated" in page.locator(".attribution").inner_text()
    page.get_by_role("link", name=re.compile("^Read the original at")).click()
    page.wait_for_url(article.url)
    assert page.url == article.url  # the publisher's own page, on the fixture server


def test_search_and_paginate(site: Site, base_url: str, tab) -> None:  # noqa: F811
    page, watch = tab
    visit(page, watch, base_url + "/")
    page.fill("#site-q", '"tram line"')
    page.press("#site-q", "Enter")
    page.wait_for_url(re.compile(r".*/search\?q="))
    watch.check(page)
    first = page.locator(".result").first
    assert "City council approves new tram line" in first.inner_text()
    assert page.locator(".result mark").count() >= 1
    # filters from the form: a publisher that never wrote about trams
    page.select_option("#f-pub", label="The Gazette")
    page.get_by_role("button", name="Search", exact=True).last.click()
    page.wait_for_load_state()
    watch.check(page)
    assert "Nothing found" in page.locator("main h2").inner_text()
    # home pagination: follow "Older articles" to the end, every article exactly once
    visit(page, watch, base_url + "/")
    seen: list[str] = []
    while True:
        seen += page.locator(".cards:not(.stories) .card-title a").evaluate_all(
            "els => els.map(e => e.getAttribute('href'))"
        )
        older = page.locator("a[rel=next]")
        if older.count() == 0:
            break
        older.click()
        page.wait_for_load_state()
        watch.check(page)
    assert len(seen) == site.store.articles.count() == len(set(seen))


def test_phone_viewport(site: Site, browser: Any, base_url: str) -> None:  # noqa: F811
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, device_scale_factor=2
    )
    page = context.new_page()
    watch = Watch(base_url)
    watch.attach(page)
    try:
        for path in (
            "/",
            f"/story/{site.story_id}",
            f"/article/{site.ids['india']}",
            "/search?q=council",
            f"/publisher/{site.store.sources.list_sources()[0].id}",
        ):
            visit(page, watch, base_url + path)
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, (path, overflow)  # no sideways scrolling on a phone
            assert page.locator("#site-q").is_visible()
            size = page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
            assert size >= 16, path
    finally:
        context.close()


def test_keyboard_and_no_javascript(site: Site, browser: Any, base_url: str, tab) -> None:  # noqa: F811
    page, watch = tab
    visit(page, watch, base_url + "/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    page.keyboard.press("Escape")
    page.locator("body").click(position={"x": 5, "y": 400})
    page.keyboard.press("j")
    assert page.evaluate("document.activeElement.closest('.card') !== null")
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "site-q"
    # without JavaScript the reader still works: pages, links and the search form
    context = browser.new_context(java_script_enabled=False)
    plain = context.new_page()
    try:
        plain.goto(base_url + "/")
        plain.fill("#site-q", "festival")
        plain.press("#site-q", "Enter")
        plain.wait_for_url(re.compile(r".*/search\?q=festival"))
        assert "Harbour festival moves to June" in plain.locator("main").inner_text()
    finally:
        context.close()


def test_xss_corpus_runs_no_script(site: Site, base_url: str, tab) -> None:  # noqa: F811
    """Every stored article (hostile publisher and sanitiser cases) and every list page."""
    page, watch = tab
    page.add_init_script(
        "window.alert = window.confirm = window.prompt = function () { window.__pwned = 'dialog'; };"
    )
    evil = next(s for s in site.store.sources.list_sources() if s.name == EVIL_PUBLISHER)
    paths = [
        "/",
        f"/publisher/{evil.id}",
        "/search?q=script",
        "/search?q=alert",
        "/search?q=onerror",
        "/search?q=%22javascript%22",
        "/admin",
    ]
    paths += [f"/article/{a.id}" for a in site.store.articles.iter_all()]
    for path in paths:
        visit(page, watch, base_url + path)
        # the hostile text is on the page as text, not as markup
        assert page.locator("main script, main iframe, main object, main embed").count() == 0
    visit(page, watch, f"{base_url}/article/{site.ids['xss_title']}")
    assert "<script>window.__pwned=1</script>" in page.locator("h1").inner_text()
    assert EVIL_PUBLISHER in page.locator("article header .meta").inner_text()


def test_admin_in_the_browser(site: Site, base_url: str, tab) -> None:  # noqa: F811
    page, watch = tab
    visit(page, watch, base_url + "/admin")
    page.fill("#token", "wrong")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    assert "Wrong token" in page.locator("main").inner_text()
    watch.errors.clear()  # the 401 itself is logged by Chromium as a failed resource
    page.fill("#token", ADMIN_TOKEN)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r".*/admin\?m="))
    watch.check(page)
    page.fill("#name", "Browser Added")
    page.fill("#feed_url", site.server.url("/gazette/atom.xml?browser=1"))
    page.get_by_role("button", name="Add source").click()
    page.wait_for_url(re.compile(r".*/admin\?m=added"))
    watch.check(page)
    assert "Browser Added" in page.locator("table.feeds").inner_text()
    feed_url = site.server.url("/gazette/atom.xml?browser=1")
    page.get_by_role("button", name=f"Remove feed {feed_url}").click()
    page.wait_for_url(re.compile(r".*/admin\?m=removed"))
    watch.check(page)
    assert feed_url not in page.locator("table.feeds").inner_text()
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_load_state()
    assert page.locator("#token").is_visible()


def test_api_docs_self_hosted_under_the_csp(site: Site, base_url: str, tab) -> None:  # noqa: F811
    """Swagger UI renders from our own files, under the strict CSP, and its "Try it out" works."""
    page, watch = tab
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("requestfailed", lambda r: watch.errors.append(f"failed request {r.url}"))
    response = visit(page, watch, base_url + "/api/docs")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.locator(".opblock-summary-path", has_text="/api/articles").first.wait_for()
    page.locator("#operations-api-list_articles_api_articles_get .opblock-summary").click()
    page.get_by_role("button", name="Try it out").click()
    page.locator("button.execute").click()
    page.locator(".live-responses-table .response-col_status", has_text="200").first.wait_for()
    assert '"items"' in page.locator(".live-responses-table .microlight").first.inner_text()
    page.wait_for_load_state("networkidle")
    watch.check(page)
    assert base_url + "/api/docs/swagger-ui-bundle.js" in requests
    assert any(u.startswith(base_url + "/api/docs/img/") for u in requests), requests
    outside = [u for u in requests if not u.startswith(base_url + "/")]
    assert not outside, outside
