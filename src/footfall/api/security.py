"""The permission layer of every API route: who is calling (`Principal`) and may it (`require`).

A route names the one action it needs with `Depends(require(Action.X))`, or declares itself
open with `Depends(public())`; nothing else in a handler checks roles. Routes about one site then
call `site_access`, which answers 404 for a site the caller may not see, so that site names do
not leak, and 403 only when the caller sees the site but its role there is too low.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import threading
import weakref
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, quote

from fastapi import FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from footfall.accounts.keys import ApiKeyVerifier, KeyInfo
from footfall.accounts.login import LockedOut, check_login
from footfall.accounts.members import grant_role, granted_sites
from footfall.accounts.permissions import (
    SHARED_LINK_ACTIONS,
    Action,
    role_allows,
    scopes_allow,
    site_role,
)
from footfall.accounts.shared import live_shared_link
from footfall.accounts.throttle import LoginThrottler
from footfall.accounts.tokens import BEARER, SESSION, csrf_matches, sign_value, verify_token
from footfall.api.deps import Services, ServicesDep
from footfall.api.errors import ApiError
from footfall.collect.http import resolve_client_ip
from footfall.meta.db import session_scope
from footfall.meta.models import Role, User
from footfall.meta.sites import SiteInfo

SESSION_COOKIE = "footfall_session"
LOGIN_PATH = "/login"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
SHARED_PARAM = "auth"
SHARED_COOKIE_PREFIX = "footfall_share_"
PERMISSION_ATTR = "__footfall_permission__"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Principal:
    """Who is calling: a user (by token, session, API key or Basic) or a shared-link visitor."""

    user_id: int | None
    username: str
    role: str
    via: str
    api_key_scopes: tuple[str, ...] | None
    # The one site this caller is bound to: a site-bound API key's, or a shared link's.
    api_key_site_id: int | None

    def may(self, action: Action) -> bool:
        """Whether the role, and the key scopes or shared link, allow `action` on some site."""
        if self.via == "shared_link":
            return action in SHARED_LINK_ACTIONS
        if not role_allows(self.role, action):
            return False
        return self.api_key_scopes is None or scopes_allow(self.api_key_scopes, action)


@dataclass(frozen=True)
class Permission:
    """What a route declared: the action it needs (None: public), whether Basic is accepted,
    and whether a visitor without credentials is sent to the login page instead of a 401."""

    action: Action | None
    allow_basic: bool = False
    login_redirect: bool = False


class AccountRuntime:
    """Per-database helpers kept for the life of the process: the key cache and the throttler."""

    def __init__(self, engine: Engine, secret: str, key_cache_ttl: float) -> None:
        # Revocations clear it at once in every process (accounts.keys); the ttl bounds the rest.
        self.keys = ApiKeyVerifier(engine, ttl_s=key_cache_ttl)
        self.throttler = LoginThrottler(engine, secret)


_runtimes: weakref.WeakKeyDictionary[Engine, AccountRuntime] = weakref.WeakKeyDictionary()


_runtimes_lock = threading.Lock()


def account_runtime(services: Services) -> AccountRuntime:
    """The key verifier and login throttler of this process's metadata database."""
    with _runtimes_lock:
        runtime = _runtimes.get(services.engine)
        if runtime is None:
            settings = services.settings
            runtime = AccountRuntime(services.engine, settings.secret_key, settings.key_cache_ttl)
            _runtimes[services.engine] = runtime
        return runtime


def client_ip(request: Request, services: Services) -> str:
    """The caller's address, believing X-Forwarded-For only from trusted proxies."""
    peer = request.client.host if request.client else ""
    forwarded = request.headers.get("x-forwarded-for", "")
    return resolve_client_ip(peer, forwarded, services.settings.trusted_proxies)


def _unauthorized(message: str, allow_basic: bool) -> ApiError:
    challenge = 'Bearer, Basic realm="footfall"' if allow_basic else "Bearer"
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": challenge})


def _user_principal(
    services: Services, user_id: int, via: str, key: KeyInfo | None = None
) -> Principal:
    with session_scope(services.engine) as session:
        user = session.get(User, user_id)
        if user is None or user.disabled:
            raise _unauthorized("this credential's user no longer exists or is disabled", False)
        username, role = user.username, user.role
    return Principal(
        user_id=user_id,
        username=username,
        role=role,
        via=via,
        api_key_scopes=tuple(key.scopes) if key is not None else None,
        api_key_site_id=key.site_id if key is not None else None,
    )


def _bearer(services: Services, raw: str) -> Principal:
    if raw.startswith("ff_"):
        key = account_runtime(services).keys.verify(raw)
        if key is None:
            raise _unauthorized("unknown, revoked or malformed API key", False)
        return _user_principal(services, key.user_id, "api_key", key)
    with session_scope(services.engine) as session:
        info = verify_token(session, services.settings.secret_key, raw, kind=BEARER)
    if info is None:
        raise _unauthorized("invalid, expired or revoked token", False)
    return Principal(info.user_id, info.username, info.role, "token", None, None)


def _basic(services: Services, ip: str, encoded: str) -> Principal:
    try:
        decoded = base64.b64decode(encoded, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise _unauthorized("malformed Basic credentials", True) from None
    username, sep, password = decoded.partition(":")
    if not sep:
        raise _unauthorized("malformed Basic credentials", True)
    try:
        found = check_login(
            services.engine, account_runtime(services).throttler, ip, username, password
        )
    except LockedOut as exc:
        raise locked_out_error(exc) from None
    if found is None:
        raise _unauthorized("wrong username or password", True)
    return Principal(found.user_id, found.username, found.role, "basic", None, None)


def locked_out_error(exc: LockedOut) -> ApiError:
    """The 429 answer for a throttled login, with Retry-After in whole seconds."""
    retry = str(max(1, int(exc.retry_after + 0.999)))
    return ApiError(429, "too_many_attempts", str(exc), headers={"Retry-After": retry})


def _session(services: Services, raw: str) -> Principal | None:
    with session_scope(services.engine) as session:
        info = verify_token(session, services.settings.secret_key, raw, kind=SESSION)
    if info is None:
        return None
    return Principal(info.user_id, info.username, info.role, "session", None, None)


def _shared(services: Services, request: Request, token: str) -> Principal:
    with session_scope(services.engine) as session:
        link = live_shared_link(session, token)
        if link is None:
            raise _unauthorized("unknown or revoked shared link", False)
        link_id, site_id, name, protected = link.id, link.site_id, link.name, link.password_hash
    if protected is not None:
        proof = request.cookies.get(f"{SHARED_COOKIE_PREFIX}{link_id}", "")
        expected = shared_link_proof(services, token)
        if not proof or not _equal(proof, expected):
            raise ApiError(401, "password_required", "this shared link needs its password")
    return Principal(None, f"shared link {name}", Role.VIEWER.value, "shared_link", None, site_id)


def shared_link_proof(services: Services, token: str) -> str:
    """The cookie value proving that a shared link's password was given."""
    return sign_value(services.settings.secret_key, "shared-link", token)


def _equal(left: str, right: str) -> bool:
    return hmac.compare_digest(left.encode(), right.encode())


async def _csrf_value(request: Request) -> str:
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        fields = parse_qs((await request.body()).decode("latin-1"))
        return (fields.get(CSRF_FIELD) or [""])[0]
    return ""


async def authenticate(
    request: Request, services: Services, *, allow_basic: bool = False
) -> Principal | None:
    """Who sent `request`, or None when it carries no credential at all.

    A credential that is present but wrong is an error (401), never a fall-back to another.
    A session cookie on an unsafe method also needs its CSRF token (header or form field).
    """
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if header:
        if scheme.lower() == "bearer" and value.strip():
            return await run_in_threadpool(_bearer, services, value.strip())
        if scheme.lower() == "basic" and allow_basic:
            ip = client_ip(request, services)
            return await run_in_threadpool(_basic, services, ip, value.strip())
        raise _unauthorized(f"unsupported Authorization scheme {scheme!r}", allow_basic)
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        principal = await run_in_threadpool(_session, services, cookie)
        if principal is not None:
            if request.method not in _SAFE_METHODS:
                candidate = await _csrf_value(request)
                if not candidate or not csrf_matches(
                    services.settings.secret_key, cookie, candidate
                ):
                    raise ApiError(403, "csrf_failed", "missing or wrong CSRF token")
            return principal
    token = request.query_params.get(SHARED_PARAM)
    if token:
        return await run_in_threadpool(_shared, services, request, token)
    return None


def require(
    action: Action, *, allow_basic: bool = False, login_redirect: bool = False
) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """FastAPI dependency factory: the authenticated caller, if it may do `action`.

    401 without valid credentials, 403 when its role (or key scope) lacks the action. HTTP Basic
    is accepted only with `allow_basic=True` (the o7tracker-compatible admin API). Dashboard
    pages pass `login_redirect=True`: a visitor without credentials is sent to the login page.
    """

    async def dependency(request: Request, services: ServicesDep) -> Principal:
        principal = await authenticate(request, services, allow_basic=allow_basic)
        if principal is None:
            if login_redirect:
                # The page with its query string, so filters and dates survive the login.
                page = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                target = quote(page, safe="/")
                location = f"{LOGIN_PATH}?next={target}"
                raise ApiError(303, "login_required", "log in first", {"Location": location})
            raise _unauthorized("authentication required", allow_basic)
        if not principal.may(action):
            raise ApiError(403, "forbidden", f"this needs the {action.value} permission")
        return principal

    setattr(dependency, PERMISSION_ATTR, Permission(action, allow_basic, login_redirect))
    return dependency


def public() -> Callable[..., None]:
    """FastAPI dependency marking a route anyone may call (it checks nothing)."""

    def dependency() -> None:
        return None

    setattr(dependency, PERMISSION_ATTR, Permission(None))
    return dependency


def _dependants(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for child in dependant.dependencies:
        yield from _dependants(child)


def route_permission(dependant: Dependant) -> Permission | None:
    """The permission a route declared through `require`/`public` (pass `route.dependant`)."""
    for node in _dependants(dependant):
        permission = getattr(node.call, PERMISSION_ATTR, None)
        if isinstance(permission, Permission):
            return permission
    return None


def route_table(api: FastAPI) -> list[tuple[str, str, Permission | None]]:
    """(method, path, declared permission) of every API route, included routers' too."""
    table: list[tuple[str, str, Permission | None]] = []
    for context in iter_route_contexts(api.routes):
        if isinstance(context.original_route, APIRoute):
            permission = route_permission(context.dependant)
            table.extend(
                (method, str(context.path), permission) for method in sorted(context.methods or ())
            )
    return table


def _not_found(domain: str) -> ApiError:
    return ApiError(404, "site_not_found", f"no site {domain!r} (or it is not shared with you)")


def site_access(principal: Principal, services: Services, domain: str, action: Action) -> SiteInfo:
    """The site `domain` if `principal` may do `action` on it.

    404 site_not_found when the site does not exist or is not granted to the caller (the two
    look alike); 403 when it is granted but the role there is too low. Reads the database: call
    it from a plain `def` route (FastAPI runs those in a worker thread).
    """
    site = services.sites.lookup(domain)
    if site is None:
        raise _not_found(domain)
    bound = principal.api_key_site_id
    if bound is not None and bound != site.id:
        raise _not_found(domain)
    if principal.via == "shared_link" or principal.user_id is None:
        if bound is None:
            raise _not_found(domain)
        role: Role | None = Role.VIEWER
    elif principal.role == Role.ADMIN:
        role = Role.ADMIN
    else:
        with session_scope(services.engine) as session:
            role = site_role(principal.role, grant_role(session, site.id, principal.user_id))
        if role is None:
            raise _not_found(domain)
    allowed = principal.may(action) and (
        principal.via == "shared_link" or role_allows(role or Role.VIEWER, action)
    )
    if not allowed:
        raise ApiError(
            403, "forbidden", f"your role on {site.domain} does not allow {action.value}"
        )
    return site


def accessible_sites(principal: Principal, services: Services) -> list[tuple[SiteInfo, Role]]:
    """Every site the caller may see, with its role there, ordered by domain."""
    every = services.sites.all()
    bound = principal.api_key_site_id
    if bound is not None:
        every = [site for site in every if site.id == bound]
    if principal.user_id is None:
        return [(site, Role.VIEWER) for site in every]
    if principal.role == Role.ADMIN:
        return [(site, Role.ADMIN) for site in every]
    with session_scope(services.engine) as session:
        grants = granted_sites(session, principal.user_id)
    found = []
    for site in every:
        role = site_role(principal.role, grants.get(site.id))
        if role is not None:
            found.append((site, role))
    return found
