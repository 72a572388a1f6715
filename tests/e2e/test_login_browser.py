"""Dashboard login in a real browser against a real `footfall serve`: log in, change the
password, log out, with screenshots of each page."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import Tab
from tests.support.server import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ADMIN, PASSWORD, NEW_PASSWORD = "root", "first admin passphrase", "second admin passphrase"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    env = {"FOOTFALL_ADMIN_USER": ADMIN, "FOOTFALL_ADMIN_PASSWORD": PASSWORD}
    with LiveServer(tmp_path / "data", env=env) as live:
        yield live


def _log_in(tab: Tab, server: LiveServer, password: str) -> None:
    tab.page.get_by_label("Username").fill(ADMIN)
    tab.page.get_by_label("Password").fill(password)
    tab.page.get_by_role("button", name="Log in").click()


def test_login_password_change_and_logout(tab: Tab, server: LiveServer) -> None:
    page = tab.page
    page.goto(f"{server.url}/account")
    assert page.url == f"{server.url}/login?next=/account"
    tab.screenshot("login-form")
    _log_in(tab, server, "wrong password!")
    assert page.get_by_role("alert").inner_text() == "Wrong username or password."
    _log_in(tab, server, PASSWORD)
    page.wait_for_url(f"{server.url}/account")
    assert f"Signed in as {ADMIN} (admin)" in page.inner_text("main")
    assert "localhost" in page.inner_text("main")
    tab.screenshot("account")
    cookies = {cookie["name"]: cookie for cookie in tab.context.cookies()}
    assert (
        cookies["footfall_session"]["httpOnly"] and cookies["footfall_session"]["sameSite"] == "Lax"
    )

    page.get_by_role("link", name="Change your password").click()
    page.get_by_label("Current password").fill(PASSWORD)
    page.get_by_label("New password", exact=False).first.fill(NEW_PASSWORD)
    page.get_by_label("New password again").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    page.wait_for_url(f"{server.url}/account?notice=password-changed")
    assert "password was changed" in page.get_by_role("status").inner_text()

    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(f"{server.url}/login")
    page.goto(f"{server.url}/account")
    assert page.url.startswith(f"{server.url}/login")
    _log_in(tab, server, NEW_PASSWORD)
    page.wait_for_url(f"{server.url}/account")
    assert tab.errors == []
