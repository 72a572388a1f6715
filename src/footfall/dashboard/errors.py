"""Error pages of the dashboard: a browser that meets a 4xx on a dashboard page (a site that
does not exist or is not shared with it, a role too low, an expired form) sees an HTML page in
the dashboard's layout; the API, and any client that does not ask for HTML, keeps the
contract's JSON body.

The handlers wrap the API's own (footfall.api.errors), so the status code, the message and the
headers are the same in both forms; only the body differs.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from footfall.accounts.permissions import Action
from footfall.api.errors import ApiError
from footfall.api.security import authenticate

# A module import: footfall.api imports this module while footfall.dashboard.pages imports api.
from footfall.dashboard import pages as dashboard_pages

# As Starlette stores exception handlers: plain or async functions.
Handler = Callable[[Request, Any], Response | Awaitable[Response]]

# Paths of dashboard pages, for requests no route matched (a mistyped page under a site).
DASHBOARD_PREFIXES = ("/sites", "/account", "/share/", "/admin/users", "/login", "/logout")
_NOT_PAGES = frozenset({"static_file"})
_TITLES = {
    400: "Bad request",
    401: "Not logged in",
    403: "Not allowed",
    404: "Page not found",
    405: "Not allowed",
    413: "Too large",
    429: "Too many attempts",
}
_HINTS = {
    403: "Your role does not allow this. An admin of the site can change your role.",
    404: "The address may be mistyped, or the site is not shared with you.",
}


def wants_html(request: Request) -> bool:
    """Whether the request is a browser's for a dashboard page (not the API, not a script)."""
    if "text/html" not in request.headers.get("accept", ""):
        return False
    endpoint = request.scope.get("endpoint")
    if inspect.isfunction(endpoint):
        # A matched route: a page of the dashboard's (the static bundle is no page).
        return endpoint.__module__.startswith("footfall.dashboard.") and (
            endpoint.__name__ not in _NOT_PAGES
        )
    # No route matched (the endpoint is the mounted application, or nothing).
    return request.url.path.startswith(DASHBOARD_PREFIXES)


async def _user_context(request: Request) -> dict[str, Any]:
    """The header's account links when the browser is logged in (nothing on any doubt)."""
    services = request.app.state.services
    try:
        principal = await authenticate(request, services)
    except ApiError:
        return {}
    if principal is None or principal.user_id is None:
        return {}
    context = dashboard_pages.user_context(request, services, principal)
    return context | {"can_manage_users": principal.may(Action.USERS_MANAGE)}


async def error_page(request: Request, status: int, message: str) -> Response:
    """The HTML error page for `status` with `message`, in the dashboard's layout."""
    context = await _user_context(request)
    context |= {
        "static": dashboard_pages.STATIC_PATH,
        "status": status,
        "title": _TITLES.get(status, "Something went wrong"),
        "message": message[:1].upper() + message[1:],
        "hint": _HINTS.get(status, ""),
    }
    return dashboard_pages.render(request, "error.html", context, status=status)


def _html_first(original: Handler, message_of: Callable[[Exception], tuple[int, str]]) -> Handler:
    async def handler(request: Request, exc: Any) -> Response:
        answer = original(request, exc)
        response = await answer if inspect.isawaitable(answer) else answer
        if response.status_code < 400 or not wants_html(request):
            return response
        status, message = message_of(exc)
        page = await error_page(request, status, message)
        for name, value in response.headers.items():
            # Keep what the API answer said beyond its body (WWW-Authenticate, Retry-After...).
            if name not in {"content-type", "content-length"} and name not in page.headers:
                page.headers[name] = value
        return page

    return handler


def _api_error(exc: Exception) -> tuple[int, str]:
    assert isinstance(exc, ApiError)
    return exc.status, exc.message


def _http_error(exc: Exception) -> tuple[int, str]:
    assert isinstance(exc, HTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else ""
    return exc.status_code, detail or _TITLES.get(exc.status_code, "error")


def _validation_error(exc: Exception) -> tuple[int, str]:
    return 400, "The address has a malformed part (an id that is not a number?)."


def install(api: FastAPI) -> None:
    """Serve HTML error pages to browsers on dashboard pages (after install_error_handlers)."""
    wrapped: list[tuple[type[Exception], Callable[[Exception], tuple[int, str]]]] = [
        (ApiError, _api_error),
        (HTTPException, _http_error),
        (RequestValidationError, _validation_error),
    ]
    for kind, message_of in wrapped:
        original = api.exception_handlers[kind]
        api.add_exception_handler(kind, _html_first(original, message_of))
