"""Dashboard pages: the site list with sparklines and each site's dashboard (also shared links).

Pages are complete without JavaScript (filters, ranges and tabs are links and GET forms); the
bundled script only enhances them (graph, tabs, live visitors, the real-time view's refresh).
Their Content-Security-Policy allows no inline script or style: the graph data travels in a
JSON script block.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from starlette.responses import FileResponse, Response
from starlette.templating import Jinja2Templates

from footfall.accounts.permissions import Action
from footfall.accounts.tokens import csrf_token
from footfall.api.deps import Services, ServicesDep
from footfall.api.errors import ApiError
from footfall.api.security import (
    SESSION_COOKIE,
    Principal,
    accessible_sites,
    public,
    require,
    site_access,
)

# A module import: importing footfall.dashboard.realtime first imports footfall.api, which
# imports this module while realtime is only partly initialised.
from footfall.dashboard import realtime as dashboard_realtime
from footfall.dashboard.reports import Reporter, build_dashboard
from footfall.dashboard.sparkline import SPARK_HEIGHT, SPARK_WIDTH, sparkline
from footfall.dashboard.state import GRAPH_METRICS, INTERVALS, PERIODS, parse_state
from footfall.meta.sites import SiteInfo

STATIC_DIR = Path(__file__).parent / "static"
STATIC_PATH = "/dashboard/static"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)

# The bundle built at install time (frontend/build.mjs): the only files served from STATIC_DIR.
STATIC_FILES = {"dashboard.js": "text/javascript", "dashboard.css": "text/css"}
# The page's script asks for a part alone with this header: `realtime` (the real-time view's
# live part) or `tab:<panel>/<tab>` (one tab of a panel, queried when it is first opened).
PARTIAL_HEADER = "x-footfall-partial"
TAB_PARTIAL = "tab:"

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
Reader = Annotated[Principal, Depends(require(Action.REPORTS_READ, login_redirect=True))]
Member = Annotated[Principal, Depends(require(Action.SITES_READ, login_redirect=True))]


def render(
    request: Request, template: str, context: dict[str, Any], *, status: int = 200
) -> Response:
    """A dashboard page with its security headers (strict CSP, no framing, no caching)."""
    response = templates.TemplateResponse(request, template, context, status_code=status)
    response.headers["content-security-policy"] = CSP
    response.headers["cache-control"] = "no-store"
    response.headers["x-frame-options"] = "DENY"
    response.headers["x-content-type-options"] = "nosniff"
    return response


def user_context(request: Request, services: Services, principal: Principal) -> dict[str, Any]:
    """The page header's account part: who is logged in and the logout form's CSRF token."""
    raw = request.cookies.get(SESSION_COOKIE, "")
    return {
        "username": principal.username,
        "csrf_token": csrf_token(services.settings.secret_key, raw) if raw else "",
        "static": STATIC_PATH,
    }


def dashboard_context(
    request: Request, services: Services, site: SiteInfo, *, shared_token: str | None = None
) -> dict[str, Any]:
    """The template context of one site's dashboard (read-only when `shared_token` is set):
    the real-time view for the "realtime" range, else the dashboard of the chosen range."""
    state = parse_state(request.query_params)
    stream = f"/api/v1/realtime/stream?{urlencode({'site': site.domain})}"
    if shared_token is not None:
        stream += f"&{urlencode({'auth': shared_token})}"
    context: dict[str, Any] = {
        "site": site,
        "state": state,
        "periods": PERIODS,
        "stream_url": stream,
        "shared": shared_token is not None,
        "static": STATIC_PATH,
        "realtime": None,
    }
    if state.realtime:
        realtime = dashboard_realtime.build_realtime(services, site, state)
        refresh = dashboard_realtime.REFRESH_SECONDS
        return context | {"realtime": realtime, "refresh_seconds": refresh}
    partial = request.headers.get(PARTIAL_HEADER, "")
    if partial.startswith(TAB_PARTIAL):
        panel, _, key = partial.removeprefix(TAB_PARTIAL).partition("/")
        found = Reporter(services, site, state).tab(panel, key)
        if found is None:
            raise ApiError(404, "not_found", f"the dashboard has no tab {panel}/{key}")
        return context | {"panel": found[0], "tab": found[1]}
    # The page queries each panel's first tab; `tabs=all` (the no-script link) every tab.
    every_tab = request.query_params.get("tabs") == "all"
    view = build_dashboard(services, site, state, every_tab=every_tab)
    return context | {
        "view": view,
        "metrics": GRAPH_METRICS,
        "intervals": INTERVALS,
        # "<" escaped: the JSON sits in a script block, which "</script>" would end.
        "graph_json": json.dumps(view.graph.to_json()).replace("<", "\\u003c"),
    }


def render_dashboard(request: Request, template: str, context: dict[str, Any]) -> Response:
    """A dashboard page, or only the part its script asks for (the real-time view's live part,
    a tab fetched when first opened)."""
    if context["realtime"] is not None and request.headers.get(PARTIAL_HEADER) == "realtime":
        response = render(request, "_realtime.html", context)
    elif "tab" in context:
        response = render(request, "_tab.html", context)
    else:
        response = render(request, template, context)
    response.headers["vary"] = PARTIAL_HEADER
    return response


@router.get("/sites")
def site_list(request: Request, services: ServicesDep, principal: Member) -> Response:
    """Every site the user may see, with its visitors of the last 30 days."""
    sites = [
        (site, role.value, sparkline(services, site))
        for site, role in accessible_sites(principal, services)
    ]
    context = user_context(request, services, principal) | {
        "sites": sites,
        "spark_width": SPARK_WIDTH,
        "spark_height": SPARK_HEIGHT,
    }
    return render(request, "sites.html", context)


def _may_export(principal: Principal, services: Services, domain: str) -> bool:
    try:
        site_access(principal, services, domain, Action.EXPORTS_CREATE)
    except ApiError:
        return False
    return True


@router.get("/sites/{domain}")
def site_dashboard(
    request: Request, services: ServicesDep, principal: Reader, domain: str
) -> Response:
    """One site's dashboard; the view (range, filters, metric) comes from the query string."""
    site = site_access(principal, services, domain, Action.REPORTS_READ)
    context = user_context(request, services, principal) | dashboard_context(
        request, services, site
    )
    context["can_export"] = principal.may(Action.EXPORTS_CREATE) and _may_export(
        principal, services, domain
    )
    return render_dashboard(request, "dashboard.html", context)


@router.get(STATIC_PATH + "/{name}", dependencies=[Depends(public())])
def static_file(name: str) -> Response:
    """The dashboard's script and stylesheet (public: they hold no data)."""
    media_type = STATIC_FILES.get(name)
    path = STATIC_DIR / name
    if media_type is None or not path.is_file():
        raise ApiError(404, "not_found", f"no static file {name!r} (run `make frontend`)")
    headers = {"cache-control": "public, max-age=300", "x-content-type-options": "nosniff"}
    return FileResponse(path, media_type=media_type, headers=headers)
