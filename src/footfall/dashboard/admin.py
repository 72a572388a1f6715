"""Account administration pages: users (admins) and the caller's own API keys.

Forms post with the session's CSRF token and run the same functions as the HTTP API, so
validation, the last-admin rule and audit records are the API's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from footfall.accounts.permissions import Action
from footfall.api import keys as keys_api
from footfall.api import users as users_api
from footfall.api.deps import Services, ServicesDep
from footfall.api.errors import ApiError
from footfall.api.security import Principal, accessible_sites, require

# Module imports: footfall.api imports this module while footfall.dashboard.pages imports api.
from footfall.dashboard import pages as dashboard_pages
from footfall.dashboard import settings as dashboard_settings
from footfall.meta.models import Role, Scope

router = APIRouter(include_in_schema=False)
Admin = Annotated[Principal, Depends(require(Action.USERS_MANAGE, login_redirect=True))]
Owner = Annotated[Principal, Depends(require(Action.KEYS_OWN, login_redirect=True))]

USERS_PATH = "/admin/users"
KEYS_PATH = "/account/keys"
ROLES = [role.value for role in Role]
SCOPES = [scope.value for scope in Scope]
_NOTICES = {
    "user-created": "The user was created.",
    "user-changed": "The user was changed.",
    "key-revoked": "The key was revoked: it is refused from now on.",
}


def _users_page(
    request: Request, services: Services, admin: Principal, *, error: str | None, notice: str
) -> Response:
    context = dashboard_settings.page_context(request, services, admin) | {
        "users": users_api.list_users(services, admin)["users"],
        "roles": ROLES,
        "error": error,
        "notice": _NOTICES.get(notice),
    }
    return dashboard_pages.render(
        request, "admin_users.html", context, status=400 if error else 200
    )


async def _submit(
    request: Request, target: str, notice: str, action: Callable[[dict[str, str]], Any]
) -> RedirectResponse | str:
    """Run `action(form)`; a redirect back on success, else the message to show."""
    form = await dashboard_settings.read_form(request)
    try:
        await run_in_threadpool(action, form)
    except (ValidationError, ApiError, ValueError) as exc:
        return dashboard_settings.refusal(exc)
    return RedirectResponse(f"{target}?notice={notice}", status_code=303)


@router.get(USERS_PATH)
def users_page(request: Request, services: ServicesDep, admin: Admin, notice: str = "") -> Response:
    """Every user with its role and state; forms to create, change role, disable or enable."""
    return _users_page(request, services, admin, error=None, notice=notice)


async def _users_answer(
    request: Request, services: Services, admin: Principal, done: RedirectResponse | str
) -> Response:
    if isinstance(done, RedirectResponse):
        return done
    return await run_in_threadpool(
        lambda: _users_page(request, services, admin, error=done, notice="")
    )


@router.post(USERS_PATH)
async def create_user(request: Request, services: ServicesDep, admin: Admin) -> Response:
    """Create a user with a role and an initial password."""

    def create(form: dict[str, str]) -> None:
        fields = {
            "username": form.get("username", "").strip(),
            "email": form.get("email", "").strip() or None,
            "password": form.get("password", ""),
            "role": form.get("role", ""),
        }
        users_api.create(users_api.NewUser.model_validate(fields), services, admin)

    done = await _submit(request, USERS_PATH, "user-created", create)
    return await _users_answer(request, services, admin, done)


@router.post(USERS_PATH + "/{user_id}")
async def change_user(
    request: Request, services: ServicesDep, admin: Admin, user_id: int
) -> Response:
    """Change a user's role, or disable or enable it (disabling ends its sessions and tokens)."""

    def change(form: dict[str, str]) -> None:
        fields: dict[str, Any] = {}
        if form.get("role"):
            fields["role"] = form["role"]
        if form.get("disabled") in {"true", "false"}:
            fields["disabled"] = form["disabled"] == "true"
        body = users_api.UserChange.model_validate(fields)
        users_api.update(user_id, body, services, admin)

    done = await _submit(request, USERS_PATH, "user-changed", change)
    return await _users_answer(request, services, admin, done)


def _keys_page(
    request: Request,
    services: Services,
    owner: Principal,
    *,
    error: str | None = None,
    notice: str = "",
    new_key: str | None = None,
) -> Response:
    context = dashboard_settings.page_context(request, services, owner) | {
        "keys": keys_api.list_keys(services, owner)["api_keys"],
        "scopes": SCOPES,
        "sites": [site.domain for site, _ in accessible_sites(owner, services)],
        "new_key": new_key,
        "error": error,
        "notice": _NOTICES.get(notice),
    }
    status = 400 if error else 201 if new_key else 200
    return dashboard_pages.render(request, "account_keys.html", context, status=status)


@router.get(KEYS_PATH)
def keys_page(request: Request, services: ServicesDep, owner: Owner, notice: str = "") -> Response:
    """The caller's API keys (revoked ones too) and a form to create one."""
    return _keys_page(request, services, owner, notice=notice)


@router.post(KEYS_PATH)
async def create_key(request: Request, services: ServicesDep, owner: Owner) -> Response:
    """Create a key; the page shows its secret this once (it is stored only as a hash)."""
    form = await dashboard_settings.read_form(request)
    fields = {
        "name": form.get("name", "").strip(),
        "scopes": [scope for scope in SCOPES if form.get(f"scope_{scope}")],
        "site": form.get("site") or None,
    }
    try:
        body = keys_api.NewKey.model_validate(fields)
        created = await run_in_threadpool(keys_api.create, body, services, owner)
    except (ValidationError, ApiError) as exc:
        error = dashboard_settings.refusal(exc)
        return await run_in_threadpool(lambda: _keys_page(request, services, owner, error=error))
    raw = str(created["key"])
    return await run_in_threadpool(lambda: _keys_page(request, services, owner, new_key=raw))


@router.post(KEYS_PATH + "/{key_id}/revoke")
async def revoke_key(
    request: Request, services: ServicesDep, owner: Owner, key_id: int
) -> Response:
    """Revoke one of the caller's own keys."""

    def revoke(_: dict[str, str]) -> None:
        own = {key["id"] for key in keys_api.list_keys(services, owner)["api_keys"]}
        if key_id not in own:
            raise ApiError(404, "api_key_not_found", f"no API key {key_id} of yours")
        keys_api.revoke(key_id, services, owner)

    done = await _submit(request, KEYS_PATH, "key-revoked", revoke)
    if isinstance(done, RedirectResponse):
        return done
    return await run_in_threadpool(lambda: _keys_page(request, services, owner, error=done))
