"""Who may do what: the actions routes require, what each role and key scope grants, site roles."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from footfall.meta.models import Role, Scope


class Action(StrEnum):
    """Something a route does; every API route names the one it requires."""

    SITES_READ = "sites:read"
    REPORTS_READ = "reports:read"
    GOALS_WRITE = "goals:write"
    LINKS_READ = "links:read"
    LINKS_WRITE = "links:write"
    CAMPAIGNS_WRITE = "campaigns:write"
    SEGMENTS_WRITE = "segments:write"
    EXPORTS_CREATE = "exports:create"
    SHARED_LINKS_WRITE = "shared_links:write"
    USERS_MANAGE = "users:manage"
    SITES_MANAGE = "sites:manage"
    AUDIT_READ = "audit:read"
    KEYS_OWN = "keys:own"


_VIEWER = frozenset({Action.SITES_READ, Action.REPORTS_READ, Action.KEYS_OWN})
_ANALYST = _VIEWER | {
    Action.GOALS_WRITE,
    Action.LINKS_READ,
    Action.LINKS_WRITE,
    Action.CAMPAIGNS_WRITE,
    Action.SEGMENTS_WRITE,
    Action.EXPORTS_CREATE,
    Action.SHARED_LINKS_WRITE,
}

ROLE_ACTIONS: dict[Role, frozenset[Action]] = {
    Role.VIEWER: _VIEWER,
    Role.ANALYST: frozenset(_ANALYST),
    Role.ADMIN: frozenset(Action),
}

# A key acts for its owner but never beyond its scopes; ingest grants no API route at all
# (it is checked by the collection endpoints themselves), and no key may manage keys.
SCOPE_ACTIONS: dict[Scope, frozenset[Action]] = {
    Scope.INGEST: frozenset(),
    Scope.READ: frozenset({Action.SITES_READ, Action.REPORTS_READ, Action.LINKS_READ}),
    Scope.WRITE: frozenset(_ANALYST - {Action.KEYS_OWN}),
}

# A shared link is an anonymous viewer of one site that may only read its reports.
SHARED_LINK_ACTIONS: frozenset[Action] = frozenset({Action.REPORTS_READ})

_RANK = {Role.VIEWER: 0, Role.ANALYST: 1, Role.ADMIN: 2}


def role_allows(role: str | Role, action: Action) -> bool:
    """Whether `role` (admin, analyst, viewer) may do `action`; unknown roles may do nothing."""
    try:
        return action in ROLE_ACTIONS[Role(role)]
    except ValueError:
        return False


def scopes_allow(scopes: Iterable[str], action: Action) -> bool:
    """Whether an API key with `scopes` may do `action` (before its owner's role is checked)."""
    for scope in scopes:
        try:
            if action in SCOPE_ACTIONS[Scope(scope)]:
                return True
        except ValueError:
            continue
    return False


def site_role(user_role: str | Role, grant_role: str | Role | None) -> Role | None:
    """A user's role on one site: admins hold every site; others the lower of role and grant.

    None means the site is not granted to the user at all (it must then look nonexistent).
    """
    role = Role(user_role)
    if role is Role.ADMIN:
        return Role.ADMIN
    if grant_role is None:
        return None
    grant = Role(grant_role)
    return role if _RANK[role] <= _RANK[grant] else grant
