"""Session and credential security over a real app: cookies, CSRF, fixation, logout, expiry,
revocation, brute-force lockout, password change and where HTTP Basic is accepted."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import pytest
from fastapi import Depends, FastAPI
from starlette.testclient import TestClient

from footfall.accounts.permissions import Action
from footfall.accounts.throttle import USERNAME_POLICY
from footfall.api.errors import install_error_handlers
from footfall.api.security import SESSION_COOKIE, Principal, require
from tests.support.accounts import PASSWORD, SITE, World, accounts_world

NEW_PASSWORD = "a brand new long passphrase"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with accounts_world(tmp_path) as found:
        yield found


def _hidden(html: str, name: str) -> str:
    return html.split(f'name="{name}" value="', 1)[1].split('"', 1)[0]


def _login(client: TestClient, username: str, password: str = PASSWORD) -> Any:
    form = client.get("/login")
    assert form.status_code == 200
    data = {"csrf_token": _hidden(form.text, "csrf_token"), "username": username}
    return client.post("/login", data=data | {"password": password}, follow_redirects=False)


def _session_csrf(client: TestClient) -> str:
    page = client.get("/account")
    assert page.status_code == 200, page.text
    return _hidden(page.text, "csrf_token")


def test_login_starts_a_hardened_session(world: World) -> None:
    client = world.client
    answer = _login(client, "viewer")
    assert answer.status_code == 303 and answer.headers["location"] == "/account"
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # http base URL in tests
    page = client.get("/account")
    assert "viewer" in page.text and SITE in page.text
    assert page.headers["cache-control"] == "no-store"


def test_session_cookie_is_secure_behind_https(tmp_path: Path) -> None:
    with accounts_world(tmp_path, base_url="https://stats.example.org") as world:
        client = TestClient(world.app, base_url="https://testserver")
        answer = _login(client, "viewer")
        assert answer.status_code == 303
        assert "Secure" in answer.headers["set-cookie"]


def test_login_form_needs_its_csrf_token(world: World) -> None:
    client = world.client
    client.get("/login")
    forged = {"csrf_token": "forged", "username": "viewer", "password": PASSWORD}
    answer = client.post("/login", data=forged, follow_redirects=False)
    assert answer.status_code == 400 and SESSION_COOKIE not in answer.headers.get("set-cookie", "")


def test_wrong_password_and_open_redirects_are_refused(world: World) -> None:
    client = world.client
    assert _login(client, "viewer", "not the password").status_code == 401
    form = client.get("/login", params={"next": "//evil.example/"})
    assert 'name="next" value="/account"' in form.text


def test_login_replaces_any_existing_session_id(world: World) -> None:
    attacker = TestClient(world.app)
    assert _login(attacker, "analyst").status_code == 303
    planted = attacker.cookies[SESSION_COOKIE]
    victim = world.client
    form = victim.get("/login")
    victim.cookies.set(SESSION_COOKIE, planted)
    data = {"csrf_token": _hidden(form.text, "csrf_token"), "username": "viewer"}
    answer = victim.post("/login", data=data | {"password": PASSWORD}, follow_redirects=False)
    assert answer.status_code == 303
    fresh = answer.cookies[SESSION_COOKIE]
    assert fresh != planted
    # The id the browser came with is dead: it cannot be ridden into the victim's session.
    stale = TestClient(world.app, cookies={SESSION_COOKIE: planted})
    assert stale.get("/account", follow_redirects=False).status_code == 303
    assert "viewer" in TestClient(world.app, cookies={SESSION_COOKIE: fresh}).get("/account").text


def test_logout_invalidates_the_session_everywhere(world: World) -> None:
    client = world.client
    _login(client, "viewer")
    raw = client.cookies[SESSION_COOKIE]
    without_csrf = client.post("/logout", follow_redirects=False)
    assert without_csrf.status_code == 403 and without_csrf.json()["error"]["code"] == "csrf_failed"
    answer = client.post(
        "/logout", data={"csrf_token": _session_csrf(client)}, follow_redirects=False
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/login"
    copy = TestClient(world.app, cookies={SESSION_COOKIE: raw})
    redirect = copy.get("/account", follow_redirects=False)
    assert redirect.status_code == 303 and redirect.headers["location"].startswith("/login")
    assert copy.get("/api/v1/sites").status_code == 401


def test_cookie_authenticated_api_writes_need_the_csrf_header(world: World) -> None:
    client = world.client
    _login(client, "analyst")
    assert client.get("/api/v1/sites").status_code == 200  # safe methods need no token
    body = {"name": "from the browser", "scopes": ["read"]}
    refused = client.post("/api/v1/api-keys", json=body)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "csrf_failed"
    wrong = client.post("/api/v1/api-keys", json=body, headers={"x-csrf-token": "guess"})
    assert wrong.status_code == 403
    token = _session_csrf(client)
    created = client.post("/api/v1/api-keys", json=body, headers={"x-csrf-token": token})
    assert created.status_code == 201, created.text


def test_expired_forged_and_revoked_tokens_are_refused(world: World) -> None:
    client = world.client
    assert (
        client.get("/api/v1/sites", headers=world.bearer(world.tokens["expired"])).status_code
        == 401
    )
    good = world.tokens["viewer"]
    body, _, signature = good.rpartition(".")
    forged_expiry = body.rsplit(".", 1)[0] + ".9999999999." + signature
    for bad in (forged_expiry, body + ".AAAA", good[:-1] + ("A" if good[-1] != "A" else "B")):
        answer = client.get("/api/v1/sites", headers=world.bearer(bad))
        assert answer.status_code == 401, bad
        assert answer.headers["www-authenticate"] == "Bearer"
    assert client.get("/api/v1/sites", headers=world.bearer(good)).status_code == 200
    assert client.post("/api/v1/logout", headers=world.bearer(good)).status_code == 200
    assert client.get("/api/v1/sites", headers=world.bearer(good)).status_code == 401


def test_brute_force_is_locked_out_with_back_off(world: World) -> None:
    client = world.client
    attempt = {"username": "viewer", "password": "wrong guess!"}
    for _ in range(USERNAME_POLICY.free_failures):
        assert client.post("/api/v1/authenticate", json=attempt).status_code == 401
    # The next failure earns a lockout; from then on even the right password waits.
    assert client.post("/api/v1/authenticate", json=attempt).status_code == 401
    right = {"username": "viewer", "password": PASSWORD}
    locked = client.post("/api/v1/authenticate", json=right)
    assert locked.status_code == 429 and locked.json()["error"]["code"] == "too_many_attempts"
    assert int(locked.headers["retry-after"]) >= 1
    assert _login(client, "viewer").status_code == 429  # the dashboard shares the counters
    # Another user from the same address is not locked out by someone else's guesses.
    other = client.post("/api/v1/authenticate", json={"username": "analyst", "password": PASSWORD})
    assert other.status_code == 200


def test_password_change_ends_other_sessions_and_tokens(world: World) -> None:
    client = world.client
    other_browser = TestClient(world.app)
    _login(other_browser, "viewer")
    _login(client, "viewer")
    csrf = _session_csrf(client)
    wrong = {
        "csrf_token": csrf,
        "current": "not it at all",
        "new": NEW_PASSWORD,
        "repeat": NEW_PASSWORD,
    }
    assert client.post("/account/password", data=wrong).status_code == 400
    common = {"csrf_token": csrf, "current": PASSWORD, "new": "1234567890", "repeat": "1234567890"}
    assert "common" in client.post("/account/password", data=common).text
    good = {"csrf_token": csrf, "current": PASSWORD, "new": NEW_PASSWORD, "repeat": NEW_PASSWORD}
    changed = client.post("/account/password", data=good, follow_redirects=False)
    assert changed.status_code == 303 and "password-changed" in changed.headers["location"]
    # This browser stays logged in, on a new session.
    assert "password was changed" in client.get(changed.headers["location"]).text
    assert other_browser.get("/account", follow_redirects=False).status_code == 303
    assert client.get("/api/v1/sites", headers=world.as_user("viewer")).status_code == 401
    new_login = {"username": "viewer", "password": NEW_PASSWORD}
    assert client.post("/api/v1/authenticate", json=new_login).status_code == 200


def _basic(username: str, password: str) -> dict[str, str]:
    encoded = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"authorization": f"Basic {encoded}"}


def test_basic_auth_only_where_a_route_allows_it(world: World) -> None:
    assert world.client.get("/api/v1/sites", headers=_basic("admin", PASSWORD)).status_code == 401
    probe = FastAPI()
    mounted = [getattr(route, "app", None) for route in world.app.routes]
    probe.state.services = next(app for app in mounted if isinstance(app, FastAPI)).state.services
    install_error_handlers(probe)

    @probe.get("/legacy")
    def legacy(
        who: Annotated[Principal, Depends(require(Action.LINKS_READ, allow_basic=True))],
    ) -> dict[str, str]:
        return {"username": who.username, "via": who.via}

    client = TestClient(probe)
    assert client.get("/legacy", headers=_basic("analyst", PASSWORD)).json() == {
        "username": "analyst",
        "via": "basic",
    }
    wrong = client.get("/legacy", headers=_basic("analyst", "nope"))
    assert wrong.status_code == 401 and "Basic" in wrong.headers["www-authenticate"]
    assert client.get("/legacy", headers=_basic("viewer", PASSWORD)).status_code == 403
    assert client.get("/legacy", headers={"authorization": "Basic !!"}).status_code == 401
