"""Accounts API over a real app: authentication, users, sites, members, keys, shared links, audit.

The flows that touch every table run on both metadata backends (SQLite and PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated, Any

import pytest
from fastapi import Depends, FastAPI
from sqlalchemy import inspect, select, text
from starlette.testclient import TestClient

from footfall.accounts.permissions import Action
from footfall.api.deps import ServicesDep
from footfall.api.errors import install_error_handlers
from footfall.api.security import Principal, require, site_access
from footfall.meta.models import ApiKey
from tests.support.accounts import (
    OTHER_SITE,
    PASSWORD,
    SITE,
    World,
    accounts_world,
    postgres_metadata_url,
)

NEW_PASSWORD = "another quite long passphrase"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    """The accounts world on each metadata backend."""
    with ExitStack() as stack:
        overrides: dict[str, Any] = {}
        if request.param == "postgresql":
            overrides["database_url"] = stack.enter_context(postgres_metadata_url())
        yield stack.enter_context(accounts_world(tmp_path, **overrides))


@pytest.fixture
def sqlite_world(tmp_path: Path) -> Iterator[World]:
    """The accounts world on the embedded metadata database only."""
    with accounts_world(tmp_path) as found:
        yield found


def _ok(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["status"] == "success"
    return body


def _code(response: Any, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == "error" and body["error"]["message"]
    return str(body["error"]["code"])


def test_authenticate_issues_a_token_that_logout_revokes(world: World) -> None:
    client = world.client
    wrong = client.post("/api/v1/authenticate", json={"username": "admin", "password": "nope"})
    assert _code(wrong, 401) == "invalid_credentials"
    nobody = client.post("/api/v1/authenticate", json={"username": "ghost", "password": PASSWORD})
    assert _code(nobody, 401) == "invalid_credentials"
    body = _ok(
        client.post("/api/v1/authenticate", json={"username": "admin", "password": PASSWORD})
    )
    assert body["expires_at"].endswith("Z")
    token = body["token"]
    listed = _ok(client.get("/api/v1/sites", headers=world.bearer(token)))["sites"]
    assert {site["domain"] for site in listed} == {SITE, OTHER_SITE, "localhost"}
    _ok(client.post("/api/v1/logout", headers=world.bearer(token)))
    assert _code(client.get("/api/v1/sites", headers=world.bearer(token)), 401) == "unauthorized"


def test_user_lifecycle(world: World) -> None:
    client, admin = world.client, world.as_user("admin")
    new = {
        "username": "carol",
        "email": "carol@example.org",
        "password": PASSWORD,
        "role": "viewer",
    }
    created = _ok(client.post("/api/v1/users", json=new, headers=admin), 201)
    user_id = int(created["user_id"])
    assert created["user"]["role"] == "viewer" and "password_hash" not in created["user"]
    assert _code(client.post("/api/v1/users", json=new, headers=admin), 409) == "user_exists"
    common = new | {"username": "dave", "password": "1234567890"}
    assert (
        "common"
        in client.post("/api/v1/users", json=common, headers=admin).json()["error"]["message"]
    )
    short = new | {"username": "dave", "password": "short"}
    assert _code(client.post("/api/v1/users", json=short, headers=admin), 400) == "invalid_request"
    bad_role = new | {"username": "dave", "role": "owner"}
    assert (
        _code(client.post("/api/v1/users", json=bad_role, headers=admin), 400) == "invalid_request"
    )
    names = [user["username"] for user in _ok(client.get("/api/v1/users", headers=admin))["users"]]
    assert "carol" in names and names == sorted(names)

    token = _ok(
        client.post("/api/v1/authenticate", json={"username": "carol", "password": PASSWORD})
    )["token"]
    _ok(client.get("/api/v1/sites", headers=world.bearer(token)))
    changed = client.patch(
        f"/api/v1/users/{user_id}", json={"role": "analyst", "disabled": True}, headers=admin
    )
    assert _ok(changed)["user"]["role"] == "analyst"
    assert _code(client.get("/api/v1/sites", headers=world.bearer(token)), 401) == "unauthorized"
    again = client.post("/api/v1/authenticate", json={"username": "carol", "password": PASSWORD})
    assert _code(again, 401) == "invalid_credentials"

    admin_id = world.user_ids["admin"]
    demote = client.patch(f"/api/v1/users/{admin_id}", json={"role": "viewer"}, headers=admin)
    assert _code(demote, 409) == "last_admin"
    assert _code(client.delete(f"/api/v1/users/{admin_id}", headers=admin), 409) == "last_admin"
    _ok(client.delete(f"/api/v1/users/{user_id}", headers=admin))
    assert _code(client.get(f"/api/v1/users/{user_id}", headers=admin), 404) == "user_not_found"


def test_sites_members_and_settings(world: World) -> None:
    client, admin, viewer = world.client, world.as_user("admin"), world.as_user("viewer")
    created = client.post(
        "/api/v1/sites",
        json={"domain": "Shop.Example.NET", "timezone": "Europe/Berlin"},
        headers=admin,
    )
    assert _ok(created, 201)["site"]["domain"] == "shop.example.net"
    duplicate = client.post("/api/v1/sites", json={"domain": "shop.example.net"}, headers=admin)
    assert _code(duplicate, 409) == "site_exists"
    bad_zone = client.post(
        "/api/v1/sites", json={"domain": "x.org", "timezone": "Mars/Base"}, headers=admin
    )
    assert _code(bad_zone, 400) == "invalid_request"
    assert (
        _code(client.get("/api/v1/sites/shop.example.net", headers=viewer), 404) == "site_not_found"
    )

    grant = {"user_id": world.user_ids["viewer"], "role": "analyst"}
    _ok(client.post("/api/v1/sites/shop.example.net/members", json=grant, headers=admin), 201)
    mine = {
        site["domain"]: site["role"]
        for site in _ok(client.get("/api/v1/sites", headers=viewer))["sites"]
    }
    # The grant says analyst, but a viewer's own role caps what it may do there.
    assert mine == {SITE: "viewer", "shop.example.net": "viewer"}
    members = _ok(client.get("/api/v1/sites/shop.example.net/members", headers=admin))["members"]
    assert [(m["username"], m["role"]) for m in members] == [("viewer", "analyst")]

    change = {
        "allowed_hostnames": ["shop.example.net", "*"],
        "excluded_ip_ranges": ["10.0.0.0/8", "192.168.1.7"],
        "excluded_paths": ["/admin/*"],
    }
    site = _ok(client.patch("/api/v1/sites/shop.example.net", json=change, headers=admin))["site"]
    assert site["excluded_ip_ranges"] == ["10.0.0.0/8", "192.168.1.7/32"]
    info = world.app.state.sites.lookup("shop.example.net")
    assert info.excluded_paths == ("/admin/*",) and len(info.excluded_networks) == 2
    bad_range = client.patch(
        "/api/v1/sites/shop.example.net", json={"excluded_ip_ranges": ["10.0.0.300"]}, headers=admin
    )
    assert _code(bad_range, 400) == "invalid_request"
    bad_path = client.patch(
        "/api/v1/sites/shop.example.net", json={"excluded_paths": ["admin"]}, headers=admin
    )
    assert _code(bad_path, 400) == "invalid_request"

    member_url = f"/api/v1/sites/shop.example.net/members/{world.user_ids['viewer']}"
    _ok(client.delete(member_url, headers=admin))
    assert _code(client.delete(member_url, headers=admin), 404) == "member_not_found"
    assert (
        _code(client.get("/api/v1/sites/shop.example.net", headers=viewer), 404) == "site_not_found"
    )
    _ok(client.delete("/api/v1/sites/shop.example.net", headers=admin))
    assert (
        _code(client.get("/api/v1/sites/shop.example.net", headers=admin), 404) == "site_not_found"
    )
    assert world.app.state.sites.lookup("shop.example.net") is None


def test_cross_site_isolation_answers_404_not_403(sqlite_world: World) -> None:
    world = sqlite_world
    client = world.client
    foreign = client.get(f"/api/v1/sites/{OTHER_SITE}", headers=world.as_user("viewer"))
    missing = client.get("/api/v1/sites/no-such-site.org", headers=world.as_user("viewer"))
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json()["error"]["code"] == missing.json()["error"]["code"] == "site_not_found"
    # An analyst may create shared links, but not on a site that is not granted to it.
    url = f"/api/v1/sites/{OTHER_SITE}/shared-links"
    assert (
        _code(client.post(url, json={}, headers=world.as_user("analyst")), 404) == "site_not_found"
    )
    # A viewer granted the site sees it exists, so a too-low role there is a 403.
    url = f"/api/v1/sites/{SITE}/shared-links"
    assert _code(client.post(url, json={}, headers=world.as_user("viewer")), 403) == "forbidden"
    listed = _ok(client.get("/api/v1/sites", headers=world.as_user("analyst")))["sites"]
    assert [site["domain"] for site in listed] == [SITE]


def _raw_database_text(world: World) -> str:
    """Every value of every metadata table, as text, for a needle-in-haystack search."""
    engine = world.app.state.engine
    found = []
    with engine.connect() as connection:
        for table in inspect(engine).get_table_names():
            for row in connection.execute(text(f'SELECT * FROM "{table}"')):  # noqa: S608
                found.append(" ".join(str(value) for value in row))
    return "\n".join(found)


def test_api_keys_are_shown_once_stored_hashed_and_revocable(world: World) -> None:
    client, analyst = world.client, world.as_user("analyst")
    body = {"name": "reports script", "scopes": ["read"], "site": SITE}
    created = _ok(client.post("/api/v1/api-keys", json=body, headers=analyst), 201)
    raw, shown = created["key"], created["api_key"]
    assert raw.startswith("ff_") and shown["site"] == SITE and shown["scopes"] == ["read"]
    listed = _ok(client.get("/api/v1/api-keys", headers=analyst))["api_keys"]
    assert [key["id"] for key in listed] == [shown["id"]] and raw not in str(listed)
    assert raw not in _raw_database_text(world)
    secret = raw.split("_", 2)[2]  # ff_<prefix>_<secret>; the secret may hold "_" itself
    assert secret not in _raw_database_text(world)
    if "sqlite" in str(world.app.state.engine.url):
        files = Path(str(world.app.state.engine.url.database)).parent.glob("footfall.sqlite3*")
        assert all(secret.encode() not in path.read_bytes() for path in files)

    key = world.bearer(raw)
    assert [site["domain"] for site in _ok(client.get("/api/v1/sites", headers=key))["sites"]] == [
        SITE
    ]
    assert _code(client.get(f"/api/v1/sites/{OTHER_SITE}", headers=key), 404) == "site_not_found"
    assert _code(client.post("/api/v1/api-keys", json=body, headers=key), 403) == "forbidden"
    with world.app.state.engine.connect() as connection:
        used = connection.execute(
            select(ApiKey.last_used_at).where(ApiKey.id == shown["id"])
        ).scalar()
    assert used is not None

    write = {"name": "too much", "scopes": ["write"]}
    assert (
        _code(client.post("/api/v1/api-keys", json=write, headers=world.as_user("viewer")), 403)
        == "forbidden"
    )
    bad = {"name": "x", "scopes": ["root"]}
    assert (
        _code(client.post("/api/v1/api-keys", json=bad, headers=analyst), 400) == "invalid_request"
    )
    others = client.delete(f"/api/v1/api-keys/{shown['id']}", headers=world.as_user("viewer"))
    assert _code(others, 404) == "api_key_not_found"
    _ok(client.delete(f"/api/v1/api-keys/{shown['id']}", headers=analyst))
    assert _code(client.get("/api/v1/sites", headers=key), 401) == "unauthorized"
    listed = _ok(client.get("/api/v1/api-keys", headers=analyst))["api_keys"]
    assert listed[0]["revoked_at"] is not None


def _reports_probe(world: World) -> TestClient:
    """A route needing reports:read on one site, served with the world's services."""
    probe = FastAPI()
    mounted = [getattr(route, "app", None) for route in world.app.routes]
    probe.state.services = next(app for app in mounted if isinstance(app, FastAPI)).state.services
    install_error_handlers(probe)

    @probe.get("/probe/{domain}")
    def read(
        domain: str,
        services: ServicesDep,
        reader: Annotated[Principal, Depends(require(Action.REPORTS_READ))],
    ) -> dict[str, Any]:
        site = site_access(reader, services, domain, Action.REPORTS_READ)
        return {"domain": site.domain, "via": reader.via, "role": reader.role}

    return TestClient(probe)


def test_shared_links_grant_read_only_access_to_one_site(sqlite_world: World) -> None:
    world = sqlite_world
    client, analyst = world.client, world.as_user("analyst")
    url = f"/api/v1/sites/{SITE}/shared-links"
    open_link = _ok(client.post(url, json={"name": "Public"}, headers=analyst), 201)["shared_link"]
    locked = _ok(
        client.post(url, json={"name": "Board", "password": NEW_PASSWORD}, headers=analyst), 201
    )["shared_link"]
    assert not open_link["password_protected"] and locked["password_protected"]
    open_token = open_link["url"].rsplit("/", 1)[1]
    locked_token = locked["url"].rsplit("/", 1)[1]
    assert len(open_token) >= 40

    probe = _reports_probe(world)
    answer = probe.get(f"/probe/{SITE}", params={"auth": open_token})
    assert answer.json() == {"domain": SITE, "via": "shared_link", "role": "viewer"}
    assert (
        _code(probe.get(f"/probe/{OTHER_SITE}", params={"auth": open_token}), 404)
        == "site_not_found"
    )
    assert _code(client.get("/api/v1/sites", params={"auth": open_token}), 403) == "forbidden"
    assert (
        _code(probe.get(f"/probe/{SITE}", params={"auth": locked_token}), 401)
        == "password_required"
    )
    assert _code(probe.get(f"/probe/{SITE}", params={"auth": "guessed"}), 401) == "unauthorized"

    page = client.get(f"/share/{locked_token}")
    assert page.status_code == 200 and 'type="password"' in page.text
    csrf = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    wrong = client.post(
        f"/share/{locked_token}",
        data={"csrf_token": csrf, "password": "wrong one!"},
        follow_redirects=False,
    )
    assert wrong.status_code == 401
    right = client.post(
        f"/share/{locked_token}",
        data={"csrf_token": csrf, "password": NEW_PASSWORD},
        follow_redirects=False,
    )
    assert right.status_code == 303
    proof = {
        name: value for name, value in client.cookies.items() if name.startswith("footfall_share_")
    }
    assert proof
    assert client.get(f"/share/{locked_token}").text.count(SITE) >= 1
    probe.cookies.update(proof)
    assert probe.get(f"/probe/{SITE}", params={"auth": locked_token}).status_code == 200

    links = _ok(client.get(url, headers=analyst))["shared_links"]
    assert {link["id"] for link in links} == {open_link["id"], locked["id"]}
    _ok(client.delete(f"{url}/{open_link['id']}", headers=analyst))
    assert _code(probe.get(f"/probe/{SITE}", params={"auth": open_token}), 401) == "unauthorized"
    assert client.get(f"/share/{open_token}").status_code == 404


def test_audit_log_records_admin_actions(sqlite_world: World) -> None:
    world = sqlite_world
    client, admin = world.client, world.as_user("admin")
    _ok(client.post("/api/v1/sites", json={"domain": "audited.org"}, headers=admin), 201)
    grant = {"user_id": world.user_ids["analyst"], "role": "viewer"}
    _ok(client.post("/api/v1/sites/audited.org/members", json=grant, headers=admin), 201)
    entries = _ok(client.get("/api/v1/audit", headers=admin))["entries"]
    assert [(e["actor"], e["action"], e["target"]) for e in entries[:2]] == [
        ("admin", "member.grant", "site:audited.org"),
        ("admin", "site.create", "site:audited.org"),
    ]
    assert entries[0]["details"] == {"user_id": world.user_ids["analyst"], "role": "viewer"}
    page = _ok(
        client.get("/api/v1/audit", params={"limit": 1, "before": entries[0]["id"]}, headers=admin)
    )
    assert [e["id"] for e in page["entries"]] == [entries[1]["id"]]
    assert _code(client.get("/api/v1/audit", headers=world.as_user("analyst")), 403) == "forbidden"
