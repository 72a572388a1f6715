"""Test support for tracked links: an app with users of each role and their bearer headers."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import event
from starlette.applications import Starlette
from starlette.testclient import TestClient

from footfall.accounts.members import grant_site
from footfall.accounts.users import create_user
from footfall.meta.db import session_scope
from footfall.meta.sites import get_site
from tests.support.app import running_app

PASSWORD = "links-test-password-7f3a"
SITE = "example.com"
ROLES = ("admin", "analyst", "viewer")


@dataclass
class LinksWorld:
    """A running app, one user per role (named after it) and their bearer tokens."""

    client: TestClient
    app: Starlette
    tokens: dict[str, str] = field(default_factory=dict)
    site_id: int = 0  # the id of SITE

    def auth(self, role: str = "analyst") -> dict[str, str]:
        """Authorization header of the user with this role."""
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def campaign(self, name: str = "November letter", **extra: Any) -> dict[str, Any]:
        """Create a campaign on SITE as the analyst."""
        response = self.client.post(
            "/api/v1/campaigns", json={"name": name, "site": SITE, **extra}, headers=self.auth()
        )
        assert response.status_code == 201, response.text
        return dict(response.json())

    def link(self, url: str, **extra: Any) -> dict[str, Any]:
        """Create a link on SITE as the analyst."""
        response = self.client.post(
            "/api/v1/links", json={"url": url, "site": SITE, **extra}, headers=self.auth()
        )
        assert response.status_code in (200, 201), response.text
        return dict(response.json())


@contextmanager
def links_world(tmp_path: Path, **overrides: Any) -> Iterator[LinksWorld]:
    """The whole app with an admin, an analyst and a viewer (granted SITE), logged in."""
    with running_app(tmp_path / "data", **overrides) as (client, app):
        with session_scope(app.state.engine) as session:
            site = get_site(session, SITE)
            assert site is not None
            site_id = site.id
            for role in ROLES:
                user = create_user(session, role, PASSWORD, role)
                if role != "admin":
                    grant_site(session, site.id, user.id, role)
        world = LinksWorld(client, app, site_id=site_id)
        for role in ROLES:
            response = client.post(
                "/api/v1/authenticate", json={"username": role, "password": PASSWORD}
            )
            assert response.status_code == 200, response.text
            world.tokens[role] = response.json()["token"]
        yield world


# Threads of the in-process directories' periodic background reloads (footfall.meta.snapshot):
# a reload once per ttl, whatever the traffic, is no read per request.
_RELOADERS = frozenset({"footfall-site-directory", "footfall-link-directory"})


@contextmanager
def counting_statements(engine: Any) -> Iterator[list[str]]:
    """Collect every SQL statement the engine runs inside the block, except background reloads
    of the in-process directories."""
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if threading.current_thread().name not in _RELOADERS:
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)
