"""The permission table: roles, key scopes, shared links and per-site roles."""

from __future__ import annotations

import pytest

from footfall.accounts.permissions import (
    ROLE_ACTIONS,
    Action,
    role_allows,
    scopes_allow,
    site_role,
)
from footfall.meta.models import Role

ANALYST_ONLY = {
    Action.GOALS_WRITE,
    Action.LINKS_READ,
    Action.LINKS_WRITE,
    Action.CAMPAIGNS_WRITE,
    Action.SEGMENTS_WRITE,
    Action.EXPORTS_CREATE,
    Action.SHARED_LINKS_WRITE,
}
ADMIN_ONLY = {Action.USERS_MANAGE, Action.SITES_MANAGE, Action.AUDIT_READ}


def test_each_role_has_exactly_the_actions_of_the_contract() -> None:
    viewer = {Action.SITES_READ, Action.REPORTS_READ, Action.KEYS_OWN}
    assert ROLE_ACTIONS[Role.VIEWER] == viewer
    assert ROLE_ACTIONS[Role.ANALYST] == viewer | ANALYST_ONLY
    assert ROLE_ACTIONS[Role.ADMIN] == viewer | ANALYST_ONLY | ADMIN_ONLY == set(Action)


@pytest.mark.parametrize("action", sorted(ADMIN_ONLY))
def test_only_admins_manage(action: Action) -> None:
    assert role_allows("admin", action)
    assert not role_allows("analyst", action)
    assert not role_allows("viewer", action)
    assert not role_allows("owner", action)


def test_key_scopes() -> None:
    assert scopes_allow(["read"], Action.REPORTS_READ)
    assert not scopes_allow(["read"], Action.LINKS_WRITE)
    assert scopes_allow(["write"], Action.LINKS_WRITE)
    assert not scopes_allow(["write"], Action.USERS_MANAGE)
    assert not scopes_allow(["read", "write"], Action.KEYS_OWN)  # keys never mint keys
    assert not any(scopes_allow(["ingest"], action) for action in Action)
    assert not scopes_allow(["root"], Action.REPORTS_READ)


def test_site_role_is_the_lower_of_role_and_grant() -> None:
    assert site_role("admin", None) is Role.ADMIN
    assert site_role("analyst", None) is None
    assert site_role("analyst", "viewer") is Role.VIEWER
    assert site_role("viewer", "admin") is Role.VIEWER
    assert site_role("analyst", "analyst") is Role.ANALYST
