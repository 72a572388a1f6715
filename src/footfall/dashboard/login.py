"""Dashboard pages of the accounts: log in and out, the account page, password change, and the
password page of protected shared links. Plain HTML forms, each with a CSRF token.

A session is a server-side row (see footfall.accounts.tokens) named by an HttpOnly, SameSite=Lax
cookie; logging in always creates a new one (no fixation), logging out revokes it.
"""

from __future__ import annotations

import hmac
import secrets
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from footfall.accounts.login import LockedOut, LoggedIn, check_login
from footfall.accounts.passwords import hash_password, validate_password, verify_password
from footfall.accounts.permissions import Action
from footfall.accounts.shared import check_shared_password, live_shared_link
from footfall.accounts.tokens import (
    SESSION,
    SESSION_LIFETIME_S,
    csrf_token,
    issue_token,
    revoke_token,
    revoke_user_tokens,
)
from footfall.api.deps import Services, ServicesDep
from footfall.api.errors import ApiError
from footfall.api.security import (
    LOGIN_PATH,
    SESSION_COOKIE,
    SHARED_COOKIE_PREFIX,
    Principal,
    accessible_sites,
    account_runtime,
    authenticate,
    client_ip,
    public,
    require,
    shared_link_proof,
)

# A module import: footfall.api imports this module while footfall.dashboard.pages imports api.
from footfall.dashboard import pages as dashboard_pages
from footfall.meta.db import session_scope
from footfall.meta.models import User

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")

HOME = "/account"
# Login and shared-link forms come before any session: their CSRF token is double-submitted,
# once in this cookie and once in the form.
FORM_COOKIE = "footfall_form_csrf"
_MAX_FORM_BYTES = 16384
_NOTICES = {"password-changed": "Your password was changed; other sessions were logged out."}
Member = Annotated[Principal, Depends(require(Action.SITES_READ, login_redirect=True))]
Owner = Annotated[Principal, Depends(require(Action.KEYS_OWN, login_redirect=True))]


def _secure(services: Services) -> bool:
    return services.settings.base_url.lower().startswith("https://")


async def _form(request: Request) -> dict[str, str]:
    body = await request.body()
    if len(body) > _MAX_FORM_BYTES:
        raise ApiError(413, "body_too_large", f"forms are limited to {_MAX_FORM_BYTES} bytes")
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {name: values[0] for name, values in fields.items()}


def _safe_next(target: str) -> str:
    """Only a local path: an open redirect to another site would help phishing."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return HOME


def _form_token(request: Request) -> str:
    return request.cookies.get(FORM_COOKIE) or secrets.token_urlsafe(24)


def _form_token_ok(request: Request, form: dict[str, str]) -> bool:
    cookie, field = request.cookies.get(FORM_COOKIE, ""), form.get("csrf_token", "")
    return bool(cookie) and hmac.compare_digest(cookie.encode(), field.encode())


def _page(
    request: Request,
    services: Services,
    template: str,
    context: dict[str, Any],
    *,
    status: int = 200,
    form_token: str | None = None,
) -> Response:
    response = templates.TemplateResponse(request, template, context, status_code=status)
    response.headers["cache-control"] = "no-store"
    response.headers["x-frame-options"] = "DENY"
    if form_token is not None:
        response.set_cookie(
            FORM_COOKIE, form_token, httponly=True, samesite="strict", secure=_secure(services)
        )
    return response


def _login_page(
    request: Request,
    services: Services,
    *,
    next_path: str,
    error: str | None = None,
    entered: str = "",
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    token = _form_token(request)
    context = {"csrf_token": token, "next": next_path, "error": error, "entered": entered}
    response = _page(request, services, "login.html", context, status=status, form_token=token)
    response.headers.update(headers or {})
    return response


@router.get(LOGIN_PATH, dependencies=[Depends(public())])
async def login_form(request: Request, services: ServicesDep, next: str = HOME) -> Response:
    """The login page (or straight on, for a visitor already logged in)."""
    principal = await authenticate(request, services) if SESSION_COOKIE in request.cookies else None
    if principal is not None and principal.via == "session":
        return RedirectResponse(_safe_next(next), status_code=303)
    return _login_page(request, services, next_path=_safe_next(next))


def _start_session(services: Services, user: LoggedIn, old: str | None) -> str:
    with session_scope(services.engine) as session:
        if old:
            revoke_token(session, old)
        _, raw = issue_token(session, services.settings.secret_key, user.user_id, kind=SESSION)
    return raw


def _with_session(response: Response, services: Services, raw: str) -> Response:
    response.set_cookie(
        SESSION_COOKIE,
        raw,
        max_age=SESSION_LIFETIME_S,
        httponly=True,
        samesite="lax",
        secure=_secure(services),
        path="/",
    )
    return response


@router.post(LOGIN_PATH, dependencies=[Depends(public())])
async def login(request: Request, services: ServicesDep) -> Response:
    """Check the form's credentials; on success start a fresh session and go on."""
    form = await _form(request)
    next_path = _safe_next(form.get("next", HOME))
    username = form.get("username", "")[:64]
    if not _form_token_ok(request, form):
        # A stale or forged form: shown again with a fresh token (never a login).
        error = "The form expired; please try again."
        return _login_page(request, services, next_path=next_path, error=error, status=400)
    ip = client_ip(request, services)
    throttler = account_runtime(services).throttler
    try:
        user = await run_in_threadpool(
            check_login, services.engine, throttler, ip, username, form.get("password", "")
        )
    except LockedOut as exc:
        retry = str(max(1, int(exc.retry_after + 0.999)))
        error = f"Too many failed attempts: try again in {retry} seconds."
        return _login_page(
            request,
            services,
            next_path=next_path,
            error=error,
            entered=username,
            status=429,
            headers={"Retry-After": retry},
        )
    if user is None:
        error = "Wrong username or password."
        return _login_page(
            request, services, next_path=next_path, error=error, entered=username, status=401
        )
    raw = await run_in_threadpool(
        _start_session, services, user, request.cookies.get(SESSION_COOKIE)
    )
    return _with_session(RedirectResponse(next_path, status_code=303), services, raw)


@router.post("/logout")
def logout(request: Request, services: ServicesDep, principal: Owner) -> Response:
    """End this session (its cookie stops working everywhere, not only in this browser)."""
    raw = request.cookies.get(SESSION_COOKIE)
    if principal.via == "session" and raw:
        with session_scope(services.engine) as session:
            revoke_token(session, raw)
    response = RedirectResponse(LOGIN_PATH, status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
    return response


def _session_context(request: Request, services: Services, principal: Principal) -> dict[str, Any]:
    raw = request.cookies.get(SESSION_COOKIE, "")
    return {
        "username": principal.username,
        "role": principal.role,
        "csrf_token": csrf_token(services.settings.secret_key, raw) if raw else "",
    }


@router.get(HOME)
def account(
    request: Request, services: ServicesDep, principal: Member, notice: str = ""
) -> Response:
    """Who is logged in, and the sites shared with them."""
    context = _session_context(request, services, principal)
    context["sites"] = [(site, role.value) for site, role in accessible_sites(principal, services)]
    context["notice"] = _NOTICES.get(notice)
    return _page(request, services, "account.html", context)


@router.get(f"{HOME}/password")
def password_form(request: Request, services: ServicesDep, principal: Owner) -> Response:
    """The password change form."""
    return _page(request, services, "password.html", _session_context(request, services, principal))


def _change_password(services: Services, user_id: int, form: dict[str, str]) -> str | None:
    """Change the password; an error message for the form, or None when it was changed."""
    new = form.get("new", "")
    if new != form.get("repeat", ""):
        return "The two new passwords differ."
    try:
        validate_password(new)
    except ValueError as exc:
        return f"The new {exc}."
    with session_scope(services.engine) as session:
        user = session.get(User, user_id)
        if user is None:
            return "Your account no longer exists."
        matches, _ = verify_password(user.password_hash, form.get("current", ""))
        if not matches:
            return "The current password is wrong."
        user.password_hash = hash_password(new)
        revoke_user_tokens(session, user_id)
    return None


@router.post(f"{HOME}/password")
async def change_password(request: Request, services: ServicesDep, principal: Owner) -> Response:
    """Change the password (current one required), end every other session, keep this one."""
    if principal.user_id is None or principal.via != "session":
        raise ApiError(400, "not_a_session", "change your password from a dashboard session")
    form = await _form(request)
    error = await run_in_threadpool(_change_password, services, principal.user_id, form)
    if error is not None:
        context = _session_context(request, services, principal) | {"error": error}
        return _page(request, services, "password.html", context, status=400)
    user = LoggedIn(principal.user_id, principal.username, principal.role)
    raw = await run_in_threadpool(_start_session, services, user, None)
    response = RedirectResponse(f"{HOME}?notice=password-changed", status_code=303)
    return _with_session(response, services, raw)


def _shared_link(services: Services, token: str) -> tuple[int, str, str, bool]:
    with session_scope(services.engine) as session:
        link = live_shared_link(session, token)
        if link is None:
            raise ApiError(404, "shared_link_not_found", "this shared link does not exist")
        site = services.sites.by_id(link.site_id)
        domain = site.domain if site else ""
        return link.id, link.name, domain, link.password_hash is not None


def _has_proof(request: Request, services: Services, link_id: int, token: str) -> bool:
    proof = request.cookies.get(f"{SHARED_COOKIE_PREFIX}{link_id}", "")
    expected = shared_link_proof(services, token)
    return bool(proof) and hmac.compare_digest(proof.encode(), expected.encode())


@router.get("/share/{token}", dependencies=[Depends(public())])
def shared(request: Request, services: ServicesDep, token: str) -> Response:
    """A shared link: its password form when it has one not given yet, else the site's
    dashboard, read-only (the query string picks the view, as on the logged-in dashboard)."""
    link_id, name, domain, protected = _shared_link(services, token)
    if protected and not _has_proof(request, services, link_id, token):
        form_token = _form_token(request)
        context = {"csrf_token": form_token, "token": token}
        return _page(request, services, "shared_password.html", context, form_token=form_token)
    site = services.sites.lookup(domain)
    if site is None:
        raise ApiError(404, "shared_link_not_found", "this shared link's site no longer exists")
    context = dashboard_pages.dashboard_context(request, services, site, shared_token=token)
    return dashboard_pages.render_dashboard(request, "shared.html", context | {"name": name})


def _check_shared(services: Services, ip: str, token: str, password: str) -> bool:
    throttler = account_runtime(services).throttler
    wait = throttler.retry_after(ip, f"shared:{token}")
    if wait > 0:
        raise LockedOut(wait)
    with session_scope(services.engine) as session:
        link = live_shared_link(session, token)
        ok = link is not None and check_shared_password(link, password)
    if not ok:
        throttler.failed(ip, f"shared:{token}")
    return ok


@router.post("/share/{token}", dependencies=[Depends(public())])
async def shared_password(request: Request, services: ServicesDep, token: str) -> Response:
    """Check a shared link's password; remember it in a cookie for this browser."""
    link_id, _, _, protected = await run_in_threadpool(_shared_link, services, token)
    form = await _form(request)
    target = f"/share/{token}"
    if not protected:
        return RedirectResponse(target, status_code=303)
    error = None
    if not _form_token_ok(request, form):
        error, status = "The form expired; please try again.", 400
    else:
        try:
            ip = client_ip(request, services)
            ok = await run_in_threadpool(
                _check_shared, services, ip, token, form.get("password", "")
            )
            error, status = (None, 303) if ok else ("Wrong password.", 401)
        except LockedOut as exc:
            error, status = f"Too many failed attempts: try again in {exc.retry_after:.0f} s.", 429
    if error is not None:
        form_token = _form_token(request)
        context = {"csrf_token": form_token, "token": token, "error": error}
        return _page(
            request, services, "shared_password.html", context, status=status, form_token=form_token
        )
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        f"{SHARED_COOKIE_PREFIX}{link_id}",
        shared_link_proof(services, token),
        max_age=SESSION_LIFETIME_S,
        httponly=True,
        samesite="lax",
        secure=_secure(services),
        path="/",
    )
    return response
