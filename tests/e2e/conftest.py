"""Browser fixtures: Debian's Chromium driven by Playwright, and the local page host."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Route, sync_playwright

from tests.e2e.pagehost import TRACKER_PATH, PageHost
from tests.support.services import require

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
OUTPUT_DIR = Path(__file__).resolve().parents[1] / "output"
# The test pages link out only to this reserved domain; a glob (unlike a predicate) is matched
# inside the Playwright driver, so requests to other hosts are never held up waiting for Python.
OUTSIDE = "http://example.invalid/**"


def desktop_user_agent(version: str) -> str:
    """A normal desktop Chrome User-Agent: headless Chromium's own says HeadlessChrome, a bot."""
    major = version.split(".", 1)[0]
    return (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        f"Chrome/{major}.0.0.0 Safari/537.36"
    )


@dataclass
class Tab:
    """A page in a fresh browser context, with the uncaught errors it raised so far."""

    context: BrowserContext
    page: Page
    errors: list[str] = field(default_factory=list)

    def screenshot(self, name: str) -> Path:
        """Save a full-page screenshot to tests/output/<name>.png (git-ignored)."""
        OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
        path = OUTPUT_DIR / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


def _stand_in(route: Route) -> None:
    # Outbound links point at example.invalid: answer them here so no request leaves the machine.
    route.fulfill(status=200, content_type="text/html", body="<title>Elsewhere</title>elsewhere")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless; skips (fails in CI) when it or the built tracker is missing."""
    require(CHROMIUM.exists(), f"Debian's chromium is not installed at {CHROMIUM}")
    require(
        TRACKER_PATH.exists(),
        f"{TRACKER_PATH} is not built: run `make install` (npm ci && npm run build in frontend/)",
    )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def tab(browser: Browser) -> Iterator[Tab]:
    """A new context (no shared state) with a desktop Chrome User-Agent and a 1280x800 window."""
    context = browser.new_context(
        user_agent=desktop_user_agent(browser.version), viewport={"width": 1280, "height": 800}
    )
    context.route(OUTSIDE, _stand_in)
    page = context.new_page()
    page.set_default_timeout(10_000)
    opened = Tab(context, page)
    page.on("pageerror", lambda error: opened.errors.append(str(error)))
    try:
        yield opened
    finally:
        context.close()


@pytest.fixture
def pagehost() -> Iterator[PageHost]:
    """The local website under test, on http://localhost:<free port>."""
    with PageHost() as host:
        yield host
