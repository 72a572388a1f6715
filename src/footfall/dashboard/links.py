"""Tracked links of a site: the list with human clicks (total and unique), a create form and
delete (archive once clicked), through the same functions as the links API."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from footfall.accounts.permissions import Action
from footfall.api import campaigns as campaigns_api
from footfall.api import links as links_api
from footfall.api.deps import Services, ServicesDep
from footfall.api.errors import ApiError
from footfall.api.links import Directory
from footfall.api.security import Principal, require, site_access

# Module imports: footfall.api imports this module while footfall.dashboard.pages imports api.
from footfall.dashboard import pages as dashboard_pages
from footfall.dashboard import settings as dashboard_settings

router = APIRouter(include_in_schema=False)
Reader = Annotated[Principal, Depends(require(Action.LINKS_READ, login_redirect=True))]
Writer = Annotated[Principal, Depends(require(Action.LINKS_WRITE, login_redirect=True))]

_NOTICES = {
    "created": "Link created.",
    "deleted": "Link deleted.",
    "archived": "Link archived: it had clicks, which stay in the reports; it no longer redirects.",
}


def _base(domain: str) -> str:
    return f"/sites/{quote(domain, safe='')}/links"


def _list_page(
    request: Request,
    services: Services,
    principal: Principal,
    domain: str,
    *,
    notice: str = "",
    error: str | None = None,
    entered: dict[str, str] | None = None,
) -> Response:
    site = site_access(principal, services, domain, Action.LINKS_READ)
    links = links_api.list_links(principal, services, site=site.domain)["links"]
    campaigns = campaigns_api.list_campaigns(principal, services, site=site.domain)["campaigns"]
    context = dashboard_settings.page_context(request, services, principal) | {
        "site": site,
        "links": links,
        "campaigns": campaigns,
        "may_write": principal.may(Action.LINKS_WRITE),
        "notice": _NOTICES.get(notice, ""),
        "entered": entered or {},
        "error": error,
    }
    return dashboard_pages.render(request, "links.html", context, status=400 if error else 200)


@router.get("/sites/{domain}/links")
def links_page(
    request: Request, services: ServicesDep, principal: Reader, domain: str, notice: str = ""
) -> Response:
    """The site's tracked links with their human clicks, newest first."""
    return _list_page(request, services, principal, domain, notice=notice)


@router.post("/sites/{domain}/links")
async def create_link(
    request: Request, services: ServicesDep, principal: Writer, domain: str, directory: Directory
) -> Response:
    """Create a link (target, optional name, custom code and campaign), then list the links."""
    form = await dashboard_settings.read_form(request)
    fields: dict[str, Any] = {
        "url": form.get("url", "").strip(),
        "site": domain,
        "name": form.get("name", "").strip() or None,
        "code": form.get("code", "").strip() or None,
        "campaign": form.get("campaign", "").strip() or None,
    }
    try:
        body = links_api.NewLink.model_validate(fields)
        await run_in_threadpool(links_api.create_link, body, principal, services, directory)
    except (ValidationError, ApiError) as exc:
        error = dashboard_settings.refusal(exc)
        return await run_in_threadpool(
            lambda: _list_page(request, services, principal, domain, error=error, entered=form)
        )
    return RedirectResponse(f"{_base(domain)}?notice=created", status_code=303)


@router.post("/sites/{domain}/links/{link_id}/delete")
async def delete_link(
    request: Request,
    services: ServicesDep,
    principal: Writer,
    domain: str,
    link_id: int,
    directory: Directory,
) -> Response:
    """Delete a link, or archive it when it has clicks (as DELETE /api/v1/links/{id} does)."""
    site = site_access(principal, services, domain, Action.LINKS_WRITE)
    link = await run_in_threadpool(links_api.get_link, link_id, principal, services)
    if link["site"] != site.domain:
        raise ApiError(404, "link_not_found", f"no link with id {link_id}")
    done = await run_in_threadpool(links_api.delete_link, link_id, principal, services, directory)
    return RedirectResponse(f"{_base(domain)}?notice={done['result']}", status_code=303)
