"""Browser tests: the built site served on 127.0.0.1, driven with Debian's Chromium.

Every test page gets a guard: any request that leaves 127.0.0.1 is aborted and fails the
test, and so does any console error, uncaught page error or PyScript ``.py-error`` box
(a PyScript/Pyodide mismatch shows only there). Tests that break the runtime on purpose
use ``guard.expect_failures()``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sitebuild import Server, build_site

pytestmark = pytest.mark.browser


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Path:
    result = build_site(tmp_path_factory.mktemp("rlhf-site"))
    if result.returncode != 0:
        pytest.fail(f"mkdocs build --strict failed:\n{result.log[-4000:]}")
    return result.site


@pytest.fixture(scope="session")
def server(site):
    srv = Server(site)
    yield srv
    srv.close()


class Guard:
    """Collects what must not happen on a page; ``check()`` fails the test if it did."""

    def __init__(self, page, origin: str):
        self.page = page
        self.origin = origin
        self.external: list[str] = []
        self.console_errors: list[str] = []
        self.page_errors: list[str] = []
        self.failures_expected = False
        page.route("**/*", self._route)
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.page_errors.append(str(exc)))

    def _route(self, route):
        url = route.request.url
        if url.startswith(self.origin + "/") or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            self.external.append(url)
            route.abort()

    def _console(self, msg):
        if msg.type == "error":
            self.console_errors.append(msg.text)

    def expect_failures(self) -> None:
        """This test breaks the runtime on purpose: console errors are expected."""
        self.failures_expected = True

    def check(self) -> None:
        assert not self.external, f"requests outside 127.0.0.1: {self.external}"
        if self.failures_expected:
            return
        assert not self.page_errors, f"uncaught page errors: {self.page_errors}"
        assert not self.console_errors, f"console errors: {self.console_errors}"
        py_errors = (
            self.page.locator(".py-error").all_inner_texts() if not self.page.is_closed() else []
        )
        assert not py_errors, f"PyScript errors on the page: {py_errors}"


@pytest.fixture(scope="session")
def context(browser):
    """One browser context for the session: pages share the HTTP and compiled-wasm caches,
    so only the first page pays for a cold start (bench/browser.py measures cold starts).
    No service worker: the guard's routing must see every request (Playwright bypasses a
    worker for routed pages anyway); tests/browser/test_learner.py tests the worker in
    contexts of its own."""
    ctx = browser.new_context(service_workers="block")
    yield ctx
    ctx.close()


#: Runs before the page's scripts on each navigation: the first page load of a tab erases
#: what the site saved in this browser (progress.js), so each test page starts as a first
#: visit whatever earlier tests saved; reloads in the same tab keep it.
FRESH_PROGRESS_JS = """(() => {
  try {
    if (sessionStorage.getItem("rlhf-test-fresh")) return;
    sessionStorage.setItem("rlhf-test-fresh", "1");
    for (const key of Object.keys(localStorage))
      if (key.startsWith("rlhf-mini:")) localStorage.removeItem(key);
  } catch (e) {}  // about:blank has no storage
})();"""


def open_page(context, server):
    pg = context.new_page()
    pg.set_default_timeout(90_000)
    pg.add_init_script(FRESH_PROGRESS_JS)
    pg.guard = Guard(pg, server.origin)
    return pg


@pytest.fixture
def page(context, server):
    pg = open_page(context, server)
    yield pg
    try:
        pg.guard.check()
    finally:
        pg.close()


@pytest.fixture(scope="module")
def shared_pages(context, server):
    """``shared_pages(url)``: one guarded page per URL for a whole test module (booting
    Python once, not once per test); guards are checked when the module ends."""
    opened: dict[str, object] = {}

    def get(url: str):
        if url not in opened:
            pg = open_page(context, server)
            pg.goto(server.url(url))
            opened[url] = pg
        return opened[url]

    yield get
    try:
        for pg in opened.values():
            pg.guard.check()
    finally:
        for pg in opened.values():
            pg.close()
