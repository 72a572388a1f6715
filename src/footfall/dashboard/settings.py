"""Site settings page: tracking snippet and install check, goals, shared links, exclusions.

Each form posts with the session's CSRF token and runs the same functions as the HTTP API
(validation, permission checks and audit records included), then redirects back to the page.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import parse_qs, quote
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from footfall.accounts.permissions import Action
from footfall.accounts.tokens import csrf_token
from footfall.api import goals as goals_api
from footfall.api import shared_links as shared_api
from footfall.api import sites as sites_api
from footfall.api import users as users_api
from footfall.api.deps import Services, ServicesDep
from footfall.api.errors import ApiError
from footfall.api.query import answer
from footfall.api.security import SESSION_COOKIE, Principal, require, site_access

# A module import: footfall.api imports this module while footfall.dashboard.pages imports api.
from footfall.dashboard import pages as dashboard_pages
from footfall.meta.models import Role
from footfall.meta.sites import SiteInfo
from footfall.query import parse_query

router = APIRouter(include_in_schema=False)
Analyst = Annotated[Principal, Depends(require(Action.GOALS_WRITE, login_redirect=True))]
Sharer = Annotated[Principal, Depends(require(Action.SHARED_LINKS_WRITE, login_redirect=True))]
Admin = Annotated[Principal, Depends(require(Action.SITES_MANAGE, login_redirect=True))]

_MAX_FORM_BYTES = 16384
_NOTICES = {
    "goal-added": "The goal was added.",
    "goal-deleted": "The goal was deleted.",
    "link-created": "The shared link was created.",
    "link-revoked": "The shared link was revoked: its URL no longer works.",
    "exclusions-saved": "The exclusions were saved.",
    "member-granted": "The site was granted.",
    "member-removed": "The grant was withdrawn.",
}


async def read_form(request: Request) -> dict[str, str]:
    """The urlencoded form fields (first value of each), at most 16 KB."""
    body = await request.body()
    if len(body) > _MAX_FORM_BYTES:
        raise ApiError(413, "body_too_large", f"forms are limited to {_MAX_FORM_BYTES} bytes")
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {name: values[0] for name, values in fields.items()}


def page_context(request: Request, services: Services, principal: Principal) -> dict[str, Any]:
    """What every logged-in page needs: the user, the CSRF token of its session, the bundle."""
    raw = request.cookies.get(SESSION_COOKIE, "")
    return {
        "username": principal.username,
        "csrf_token": csrf_token(services.settings.secret_key, raw) if raw else "",
        "static": dashboard_pages.STATIC_PATH,
        "can_manage_users": principal.may(Action.USERS_MANAGE),
    }


def snippet(services: Services, site: SiteInfo) -> str:
    """The script tag that tracks `site` (docs/tracker.md)."""
    base = services.settings.base_url.rstrip("/")
    return f'<script defer data-domain="{site.domain}" src="{base}/js/script.js"></script>'


def received_recently(services: Services, site: SiteInfo, now: datetime | None = None) -> bool:
    """Whether the site recorded a pageview in the last 24 hours (its hours, via the query path)."""
    zone = ZoneInfo(site.timezone)
    local_now = (now or datetime.now(zone)).astimezone(zone).replace(tzinfo=None)
    since = (local_now - timedelta(hours=24)).replace(minute=0, second=0, microsecond=0)
    days = [since.date().isoformat(), local_now.date().isoformat()]
    query = parse_query(
        {
            "site_id": site.domain,
            "metrics": ["pageviews"],
            "date_range": days,
            "dimensions": ["time:hour"],
        }
    )
    for row in answer(services, query, site, now=now).to_json()["results"]:
        hour = datetime.fromisoformat(row["dimensions"][0])
        if since <= hour <= local_now and row["metrics"][0] > 0:
            return True
    return False


def _may(principal: Principal, services: Services, domain: str, action: Action) -> bool:
    if not principal.may(action):
        return False
    try:
        site_access(principal, services, domain, action)
    except ApiError:
        return False
    return True


def _settings_context(services: Services, principal: Principal, site: SiteInfo) -> dict[str, Any]:
    goals = goals_api.list_goals(site.domain, services, principal)["goals"]
    context: dict[str, Any] = {
        "site": site,
        "snippet": snippet(services, site),
        "installed": received_recently(services, site),
        "goals": goals,
    }
    if _may(principal, services, site.domain, Action.SHARED_LINKS_WRITE):
        context["shared_links"] = shared_api.list_links(site.domain, services, principal)[
            "shared_links"
        ]
    if _may(principal, services, site.domain, Action.SITES_MANAGE):
        found = sites_api.read(site.domain, services, principal)["site"]
        context["members"] = sites_api.members(site.domain, services, principal)["members"]
        if principal.may(Action.USERS_MANAGE):
            context["users"] = users_api.list_users(services, principal)["users"]
        context["roles"] = [role.value for role in Role]
        context["exclusions"] = {
            key: "\n".join(found.get(key) or [])
            for key in ("excluded_ip_ranges", "excluded_paths", "allowed_hostnames")
        }
    return context


def _page(
    request: Request,
    services: Services,
    principal: Principal,
    domain: str,
    *,
    error: str | None = None,
    notice: str = "",
) -> Response:
    site = site_access(principal, services, domain, Action.GOALS_WRITE)
    context = page_context(request, services, principal) | _settings_context(
        services, principal, site
    )
    context["error"] = error
    context["notice"] = _NOTICES.get(notice)
    return dashboard_pages.render(request, "settings.html", context, status=400 if error else 200)


def _back(domain: str, notice: str) -> Response:
    return RedirectResponse(
        f"/sites/{quote(domain, safe='')}/settings?notice={notice}", status_code=303
    )


def refusal(exc: Exception) -> str:
    """The message to show for a refused form; access errors (401, 403, 404) propagate."""
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        return f"{'.'.join(str(part) for part in first['loc'])}: {first['msg']}"
    if isinstance(exc, ApiError):
        if exc.status in {401, 403, 404}:
            raise exc
        return exc.message
    return str(exc)


@router.get("/sites/{domain}/settings")
def settings_page(
    request: Request, services: ServicesDep, principal: Analyst, domain: str, notice: str = ""
) -> Response:
    """The site's settings (analysts and admins of the site; exclusions for admins)."""
    return _page(request, services, principal, domain, notice=notice)


async def _act(
    request: Request,
    services: Services,
    principal: Principal,
    domain: str,
    notice: str,
    action: Callable[[dict[str, str]], object],
) -> Response:
    """Run `action(form)` in a thread; on a refused value show the page again with why."""
    form = await read_form(request)
    try:
        await run_in_threadpool(action, form)
    except (ValidationError, ApiError, ValueError) as exc:
        error = refusal(exc)
    else:
        return _back(domain, notice)
    return await run_in_threadpool(lambda: _page(request, services, principal, domain, error=error))


@router.post("/sites/{domain}/settings/goals")
async def add_goal(
    request: Request, services: ServicesDep, principal: Analyst, domain: str
) -> Response:
    """Add a goal: a custom event name or a page path, as the form's `kind` says."""

    def create(form: dict[str, str]) -> None:
        value = form.get("value", "").strip()
        field = "page_path" if form.get("kind") == "page" else "event_name"
        body = goals_api.NewGoal.model_validate({field: value or None})
        goals_api.create_goal(domain, body, services, principal)

    return await _act(request, services, principal, domain, "goal-added", create)


@router.post("/sites/{domain}/settings/goals/{goal_id}/delete")
async def delete_goal(
    request: Request, services: ServicesDep, principal: Analyst, domain: str, goal_id: int
) -> Response:
    """Delete a goal."""

    def delete(_: dict[str, str]) -> None:
        goals_api.delete_goal(domain, goal_id, services, principal)

    return await _act(request, services, principal, domain, "goal-deleted", delete)


@router.post("/sites/{domain}/settings/shared-links")
async def create_shared_link(
    request: Request, services: ServicesDep, principal: Sharer, domain: str
) -> Response:
    """Create a shared link, with a password when the form gives one."""

    def create(form: dict[str, str]) -> None:
        fields = {"name": form.get("name", "").strip(), "password": form.get("password") or None}
        body = shared_api.NewSharedLink.model_validate(fields)
        shared_api.create(domain, body, services, principal)

    return await _act(request, services, principal, domain, "link-created", create)


@router.post("/sites/{domain}/settings/shared-links/{link_id}/revoke")
async def revoke_shared_link(
    request: Request, services: ServicesDep, principal: Sharer, domain: str, link_id: int
) -> Response:
    """Revoke a shared link."""

    def revoke(_: dict[str, str]) -> None:
        shared_api.revoke(domain, link_id, services, principal)

    return await _act(request, services, principal, domain, "link-revoked", revoke)


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


@router.post("/sites/{domain}/settings/exclusions")
async def save_exclusions(
    request: Request, services: ServicesDep, principal: Admin, domain: str
) -> Response:
    """Replace the excluded IP ranges and paths and the allowed hostnames (one per line)."""

    def save(form: dict[str, str]) -> None:
        fields = {
            key: _lines(form.get(key, ""))
            for key in ("excluded_ip_ranges", "excluded_paths", "allowed_hostnames")
        }
        sites_api.update(domain, sites_api.SiteChange.model_validate(fields), services, principal)

    return await _act(request, services, principal, domain, "exclusions-saved", save)


@router.post("/sites/{domain}/settings/members")
async def grant_member(
    request: Request, services: ServicesDep, principal: Admin, domain: str
) -> Response:
    """Grant the site to a user with a role there (replaces an earlier grant)."""

    def grant(form: dict[str, str]) -> None:
        fields = {"user_id": form.get("user_id", ""), "role": form.get("role", "")}
        sites_api.add_member(domain, sites_api.Grant.model_validate(fields), services, principal)

    return await _act(request, services, principal, domain, "member-granted", grant)


@router.post("/sites/{domain}/settings/members/{user_id}/remove")
async def remove_member(
    request: Request, services: ServicesDep, principal: Admin, domain: str, user_id: int
) -> Response:
    """Withdraw a user's grant on the site."""

    def remove(_: dict[str, str]) -> None:
        sites_api.remove_member(domain, user_id, services, principal)

    return await _act(request, services, principal, domain, "member-removed", remove)
