"""The site settings page in a real browser against a real `footfall serve`: the bundle shows
the Copy button and copies the snippet, a goal is added through the form, and the strict
Content-Security-Policy reports no violation."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import ConsoleMessage, expect

from footfall.dashboard.pages import STATIC_DIR
from tests.e2e.conftest import Tab
from tests.support.server import LiveServer
from tests.support.services import require

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ADMIN, PASSWORD = "root", "first admin passphrase"
SITE = "pages.localhost"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    require(
        STATIC_DIR.joinpath("dashboard.js").is_file(), "dashboard bundle not built (make frontend)"
    )
    env = {"FOOTFALL_ADMIN_USER": ADMIN, "FOOTFALL_ADMIN_PASSWORD": PASSWORD}
    live = LiveServer(tmp_path_factory.mktemp("pages") / "data", env=env)
    live.start()
    live.stop()
    live.run_cli("site", "create", "--domain", SITE)
    live.start()
    try:
        yield live
    finally:
        live.stop()


def test_settings_page_copies_the_snippet_and_adds_a_goal(server: LiveServer, tab: Tab) -> None:
    console: list[str] = []

    def listen(message: ConsoleMessage) -> None:
        if message.type == "error":
            console.append(message.text)

    tab.page.on("console", listen)
    tab.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    path = f"/sites/{SITE}/settings"
    tab.page.goto(f"{server.url}{path}")
    tab.page.get_by_label("Username").fill(ADMIN)
    tab.page.get_by_label("Password").fill(PASSWORD)
    tab.page.get_by_role("button", name="Log in").click()
    tab.page.wait_for_url(f"{server.url}{path}")

    copy = tab.page.locator('button[data-copy="snippet"]')
    expect(copy).to_be_visible()
    copy.click()
    expect(copy).to_have_text("Copied")
    copied = tab.page.evaluate("navigator.clipboard.readText()")
    assert copied == tab.page.locator("#snippet").inner_text()
    assert f'data-domain="{SITE}"' in copied and copied.startswith("<script defer")

    tab.page.get_by_label("Event name or path").fill("Signup")
    tab.page.get_by_role("button", name="Add goal").click()
    expect(tab.page.locator(".notice")).to_have_text("The goal was added.")
    expect(tab.page.locator(".goal-name")).to_have_text("Signup")
    assert console == [] and tab.errors == []


def test_links_page_creates_a_link_that_redirects(server: LiveServer, tab: Tab) -> None:
    path = f"/sites/{SITE}/links"
    tab.page.goto(f"{server.url}{path}")
    if tab.page.get_by_label("Username").count():
        tab.page.get_by_label("Username").fill(ADMIN)
        tab.page.get_by_label("Password").fill(PASSWORD)
        tab.page.get_by_role("button", name="Log in").click()
        tab.page.wait_for_url(f"{server.url}{path}")
    tab.page.get_by_label("Target URL").fill(f"https://{SITE}/spring-sale")
    tab.page.get_by_label("Name").fill("Spring sale")
    tab.page.get_by_label("Code").fill("spring")
    tab.page.get_by_role("button", name="Create link").click()
    expect(tab.page.locator(".notice")).to_have_text("Link created.")
    row = tab.page.locator("tr", has=tab.page.locator("code", has_text="spring"))
    expect(row).to_contain_text(f"https://{SITE}/spring-sale")
    expect(row.locator("td.num").first).to_have_text("0")
    tab.screenshot("links-page")
    # The short link redirects to the target (not followed: the target's host is not real).
    answer = tab.page.request.get(f"{server.url}/u/spring", max_redirects=0)
    assert answer.status == 302
    assert answer.headers["location"].startswith(f"https://{SITE}/spring-sale")
    assert tab.errors == []
