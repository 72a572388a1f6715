"""The documented HTTP API (FastAPI): routers for reports, accounts and links mount here."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI
from fastapi.openapi.utils import get_openapi
from starlette.responses import RedirectResponse, Response

from footfall import __version__
from footfall.api import audit as accounts_audit
from footfall.api import auth as accounts_auth
from footfall.api import campaigns as links_campaigns
from footfall.api import export as dashboard_export
from footfall.api import goals as query_goals
from footfall.api import keys as accounts_keys
from footfall.api import links as links_links
from footfall.api import o7tracker as links_o7tracker
from footfall.api import query as query_v2
from footfall.api import realtime as query_realtime
from footfall.api import reports as query_reports
from footfall.api import shared_links as accounts_shared_links
from footfall.api import sites as accounts_sites
from footfall.api import users as accounts_users
from footfall.api.deps import Services
from footfall.api.errors import install_error_handlers
from footfall.api.security import public
from footfall.collect import openapi as collect_openapi
from footfall.dashboard import admin as dashboard_admin
from footfall.dashboard import campaigns as dashboard_campaigns
from footfall.dashboard import errors as dashboard_errors
from footfall.dashboard import links as dashboard_links
from footfall.dashboard import login as dashboard_login
from footfall.dashboard import pages as dashboard_pages
from footfall.dashboard import settings as dashboard_settings


def create_api(services: Services) -> FastAPI:
    """The FastAPI application; its OpenAPI schema also documents the collection routes."""
    settings = services.settings
    api = FastAPI(
        title="Footfall",
        version=__version__,
        description="Self-hosted web, link and email campaign analytics. "
        "Errors: {status: error, error: {code, message}}.",
        docs_url="/docs",
        openapi_url="/openapi.json",
        redoc_url=None,
    )

    def openapi() -> dict[str, Any]:
        if api.openapi_schema is None:
            schema = get_openapi(
                title=api.title,
                version=api.version,
                description=api.description,
                routes=api.routes,
                servers=[{"url": settings.base_url}],
            )
            api.openapi_schema = collect_openapi.extend(schema)
        return api.openapi_schema

    api.openapi = openapi  # type: ignore[method-assign]
    api.state.services = services
    install_error_handlers(api)
    dashboard_errors.install(api)  # HTML error pages for browsers on dashboard pages

    # Routers, one line each (keep this block sorted):
    api.include_router(accounts_audit.router)
    api.include_router(accounts_auth.router)
    api.include_router(accounts_keys.router)
    api.include_router(accounts_shared_links.router)
    api.include_router(accounts_sites.router)
    api.include_router(accounts_users.router)
    api.include_router(dashboard_admin.router)
    api.include_router(dashboard_campaigns.router)
    api.include_router(dashboard_export.router)
    api.include_router(dashboard_links.router)
    api.include_router(dashboard_login.router)
    api.include_router(dashboard_pages.router)
    api.include_router(dashboard_settings.router)
    api.include_router(links_campaigns.policy_router)
    api.include_router(links_campaigns.router)
    api.include_router(links_links.router)
    api.include_router(links_o7tracker.alias_router)
    api.include_router(links_o7tracker.router)
    api.include_router(query_goals.router)
    api.include_router(query_realtime.router)
    api.include_router(query_reports.router)
    api.include_router(query_v2.router)

    @api.get("/", include_in_schema=False, dependencies=[Depends(public())])
    def home() -> Response:
        # The site list sends visitors without a session on to the login page.
        return RedirectResponse("/sites", status_code=307)

    return api
