"""The role matrix, generated from the route table: every API route x every kind of caller.

Each route must declare its permission with `require(...)` or `public()`; a route that declares
neither fails here. The expected answers come from the table below, written out independently of
the permission code, so a wrong grant in that code fails this test too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient

from footfall.accounts.permissions import Action
from footfall.api.security import Permission, route_table
from tests.support.accounts import SITE, World, accounts_world

# The lowest role allowed each action (viewer < analyst < admin), as API.md section 3 states it.
LOWEST_ROLE = {
    Action.SITES_READ: "viewer",
    Action.REPORTS_READ: "viewer",
    Action.KEYS_OWN: "viewer",
    Action.GOALS_WRITE: "analyst",
    Action.LINKS_READ: "analyst",
    Action.LINKS_WRITE: "analyst",
    Action.CAMPAIGNS_WRITE: "analyst",
    Action.SEGMENTS_WRITE: "analyst",
    Action.EXPORTS_CREATE: "analyst",
    Action.SHARED_LINKS_WRITE: "analyst",
    Action.USERS_MANAGE: "admin",
    Action.SITES_MANAGE: "admin",
    Action.AUDIT_READ: "admin",
}
RANK = {"viewer": 0, "analyst": 1, "admin": 2}
# What a key with only the read scope may do (the admin's own role allows everything).
READ_SCOPE = {Action.SITES_READ, Action.REPORTS_READ, Action.LINKS_READ}
# Routes FastAPI's app declares outside any router, each with why it needs no permission.
UNDECLARED_OK: dict[tuple[str, str], str] = {}

CALLERS = (
    "anonymous",
    "outsider",
    "analyst_elsewhere",
    "viewer",
    "analyst",
    "admin",
    "revoked_key",
    "expired_token",
    "ingest_key",
    "read_key",
)
DENIED, UNAUTHENTICATED, SERVED, HIDDEN, LOGIN_REDIRECT = "403", "401", "served", "404", "303"


def _fastapi(app: Starlette) -> FastAPI:
    for route in app.routes:
        if isinstance(route, Mount) and isinstance(route.app, FastAPI):
            return route.app
    raise AssertionError("the FastAPI application is not mounted")


def _concrete(path: str) -> str:
    """The path with its parameters filled: the test site, or ids and codes that do not exist."""

    def fill(match: re.Match[str]) -> str:
        name = match.group(1).split(":")[0]
        return SITE if name == "domain" else "999999" if name.endswith("id") else "nonexistent"

    return re.sub(r"\{([^}]+)\}", fill, path)


def expected(caller: str, permission: Permission, path: str) -> str:
    """What `caller` must get from a route declaring `permission` (SERVED: neither 401 nor 403)."""
    action = permission.action
    if action is None:
        return SERVED
    if caller == "anonymous" and permission.login_redirect:
        return LOGIN_REDIRECT  # a dashboard page sends a visitor without credentials to log in
    if caller in {"anonymous", "revoked_key", "expired_token"}:
        return UNAUTHENTICATED
    if caller == "ingest_key":
        return DENIED
    if caller == "read_key":
        return SERVED if action in READ_SCOPE else DENIED
    role = {"outsider": "viewer", "analyst_elsewhere": "analyst"}.get(caller, caller)
    if RANK[role] < RANK[LOWEST_ROLE[action]]:
        return DENIED
    if caller in {"outsider", "analyst_elsewhere"} and "{domain}" in path:
        return HIDDEN  # a site not granted to the caller looks like no site at all
    return SERVED


def _headers(world: World, caller: str) -> dict[str, str]:
    if caller == "anonymous":
        return {}
    if caller.endswith("_key"):
        return world.bearer(world.keys[caller.removesuffix("_key")])
    if caller == "expired_token":
        return world.bearer(world.tokens["expired"])
    return world.as_user(caller)


def _destructiveness(row: tuple[str, str, Permission | None]) -> int:
    method, path, _ = row
    if path.endswith("/logout"):
        return 3 if path.startswith("/api/") else 2
    return int(method == "DELETE")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with accounts_world(tmp_path_factory.mktemp("matrix")) as found:
        yield found


def test_every_route_declares_its_permission(world: World) -> None:
    missing = [
        f"{method} {path}"
        for method, path, permission in route_table(_fastapi(world.app))
        if permission is None and (method, path) not in UNDECLARED_OK
    ]
    assert not missing, f"routes without require(...) or public(): {missing}"


def test_an_undeclared_route_is_caught() -> None:
    api = FastAPI()

    @api.get("/api/v1/forgotten")
    def forgotten() -> None:
        return None

    assert route_table(api) == [("GET", "/api/v1/forgotten", None)]


def test_role_matrix(world: World) -> None:
    table = [
        row for row in route_table(_fastapi(world.app)) if (row[0], row[1]) not in UNDECLARED_OK
    ]
    assert len(table) >= 15, "the accounts routes alone are more than this"
    # Deletions late, so that no earlier row sees a site or user an admin deleted; logouts
    # last, the API's (which revokes the caller's bearer token) last of all.
    table.sort(key=_destructiveness)
    wrong = []
    # Server errors are reported in the table too, rather than ending the test at the first.
    client = TestClient(world.app, raise_server_exceptions=False)
    for method, path, permission in table:
        assert permission is not None
        for caller in CALLERS:
            response = client.request(
                method,
                _concrete(path),
                headers=_headers(world, caller),
                json={},
                follow_redirects=False,
            )
            want = expected(caller, permission, path)
            got = str(response.status_code)
            ok = got not in {"401", "403"} and got < "500" if want == SERVED else got == want
            # The empty body may fail validation before the site is looked up: that reveals
            # nothing about the site either.
            ok = ok or (want == HIDDEN and got == "400")
            if ok and got in {"401", "403", "404"} and want != SERVED and path.startswith("/api/"):
                ok = response.json()["status"] == "error"
            if not ok:
                wrong.append(f"{caller:14} {method:6} {path}: want {want}, got {got}")
    assert not wrong, "\n".join(wrong)
