"""Account fixtures for API tests: users of every role, grants, tokens and keys in a real app."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy.engine import make_url
from starlette.applications import Starlette
from starlette.testclient import TestClient

from footfall.accounts.keys import create_api_key, revoke_api_key
from footfall.accounts.members import grant_site
from footfall.accounts.passwords import hash_password
from footfall.accounts.tokens import issue_token
from footfall.meta.db import session_scope
from footfall.meta.models import User, utcnow
from footfall.meta.sites import get_site
from tests.support.app import running_app
from tests.support.services import require

POSTGRES_URL = os.environ.get(
    "FOOTFALL_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)

PASSWORD = "a long and unusual passphrase"
SITE = "example.com"
OTHER_SITE = "other.com"


@dataclass
class World:
    """Users and credentials: `tokens[name]` is a bearer token, `keys[name]` a raw API key."""

    client: TestClient
    app: Starlette
    user_ids: dict[str, int] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)

    def bearer(self, credential: str) -> dict[str, str]:
        """Authorization header for a token or key."""
        return {"authorization": f"Bearer {credential}"}

    def as_user(self, name: str) -> dict[str, str]:
        """Authorization header of a named user's bearer token."""
        return self.bearer(self.tokens[name])


# name -> (global role, site grants)
USERS: dict[str, tuple[str, dict[str, str]]] = {
    "admin": ("admin", {}),
    "analyst": ("analyst", {SITE: "analyst"}),
    "viewer": ("viewer", {SITE: "viewer"}),
    "outsider": ("viewer", {OTHER_SITE: "viewer"}),
    "analyst_elsewhere": ("analyst", {OTHER_SITE: "analyst"}),
}


@cache
def _password_hash() -> str:
    # Hashed once per process: argon2 is slow on purpose, and every world has several users.
    return hash_password(PASSWORD)


def populate(app: Starlette, world: World) -> None:
    """Create USERS with their grants, a live token each, and a few keys."""
    secret = app.state.settings.secret_key
    with session_scope(app.state.engine) as session:
        sites = {domain: get_site(session, domain) for domain in (SITE, OTHER_SITE)}
        for name, (role, grants) in USERS.items():
            user = User(username=name, password_hash=_password_hash(), role=role)
            session.add(user)
            session.flush()
            world.user_ids[name] = user.id
            for domain, grant in grants.items():
                site = sites[domain]
                assert site is not None
                grant_site(session, site.id, user.id, grant)
            _, world.tokens[name] = issue_token(session, secret, user.id)
        admin = world.user_ids["admin"]
        _, world.tokens["expired"] = issue_token(
            session, secret, admin, now=utcnow() - timedelta(days=2)
        )
        _, world.keys["read"] = create_api_key(session, admin, "read", ["read"])
        _, world.keys["write"] = create_api_key(session, admin, "write", ["read", "write"])
        _, world.keys["ingest"] = create_api_key(session, admin, "ingest", ["ingest"])
        revoked, world.keys["revoked"] = create_api_key(session, admin, "gone", ["read", "write"])
        revoke_api_key(session, revoked.id)


@contextmanager
def accounts_world(tmp_path: Path, **overrides: Any) -> Iterator[World]:
    """A running app with sites example.com and other.com and the users of USERS."""
    with running_app(tmp_path / "data", sites=(SITE, OTHER_SITE, "localhost"), **overrides) as (
        client,
        app,
    ):
        world = World(client, app)
        populate(app, world)
        yield world


@contextmanager
def postgres_metadata_url() -> Iterator[str]:
    """A PostgreSQL metadata URL on a fresh, uniquely named schema, dropped afterwards."""
    schema = f"footfall_accounts_{uuid.uuid4().hex[:12]}"
    admin_url = make_url(POSTGRES_URL).set(drivername="postgresql")
    try:
        admin = psycopg.connect(admin_url.render_as_string(hide_password=False), autocommit=True)
    except psycopg.OperationalError as exc:
        require(False, f"PostgreSQL not reachable at {POSTGRES_URL}: {exc}")
        raise
    with admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
        try:
            url = admin_url.update_query_dict({"options": f"-csearch_path={schema}"})
            yield url.render_as_string(hide_password=False)
        finally:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
