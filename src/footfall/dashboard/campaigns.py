"""Campaign pages of a site: the list with human opens and clicks, a create form, and one
campaign's stats (per link, per platform, per day) from the links' stats on the query path."""

from __future__ import annotations

import json
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from footfall.accounts.permissions import Action
from footfall.api import campaigns as campaigns_api
from footfall.api.deps import Services, ServicesDep
from footfall.api.errors import ApiError
from footfall.api.links import Directory
from footfall.api.security import Principal, require, site_access

# Module imports: footfall.api imports this module while footfall.dashboard.pages imports api.
from footfall.dashboard import pages as dashboard_pages
from footfall.dashboard import settings as dashboard_settings
from footfall.meta.sites import SiteInfo
from footfall.query import Condition, DateRange, Query, run_query

router = APIRouter(include_in_schema=False)
Reader = Annotated[Principal, Depends(require(Action.LINKS_READ, login_redirect=True))]
Writer = Annotated[Principal, Depends(require(Action.CAMPAIGNS_WRITE, login_redirect=True))]
_TOTALS = ("opens", "unique_opens", "clicks", "unique_clicks")


def human_counts(
    services: Services, site: SiteInfo, campaign_ids: list[int]
) -> dict[int, tuple[int, int, int, int]]:
    """{campaign id: (opens, unique opens, clicks, unique clicks)}, human traffic over all
    time, in one query for the whole list (the same filters as the campaign's own stats)."""
    if not campaign_ids:
        return {}
    query = Query(
        site=site.domain,
        metrics=("events", "recipients"),
        date_range=DateRange("all"),
        dimensions=("link:campaign", "event:kind"),
        filters=(
            Condition("is", "link:campaign", tuple(str(value) for value in campaign_ids)),
            Condition("is", "link:traffic", ("human",)),
            Condition("is", "event:kind", ("click", "open")),
        ),
    )
    found: dict[int, dict[str, tuple[int, int]]] = {}
    for row in run_query(services.store, query, site).rows:
        campaign, kind = (str(value) for value in row.dimensions)
        events, recipients = (int(value) for value in row.metrics)
        found.setdefault(int(campaign), {})[kind] = (events, recipients)
    return {
        campaign: (*kinds.get("open", (0, 0)), *kinds.get("click", (0, 0)))
        for campaign, kinds in found.items()
    }


def _list_page(
    request: Request,
    services: Services,
    principal: Principal,
    domain: str,
    *,
    error: str | None = None,
    entered: dict[str, str] | None = None,
) -> Response:
    site = site_access(principal, services, domain, Action.LINKS_READ)
    listed = campaigns_api.list_campaigns(principal, services, site=site.domain)["campaigns"]
    counts = human_counts(services, site, [campaign["id"] for campaign in listed])
    rows = [
        campaign | dict(zip(_TOTALS, counts.get(campaign["id"], (0, 0, 0, 0)), strict=True))
        for campaign in listed
    ]
    context = dashboard_settings.page_context(request, services, principal) | {
        "site": site,
        "campaigns": rows,
        "may_create": principal.may(Action.CAMPAIGNS_WRITE),
        "entered": entered or {},
        "error": error,
    }
    return dashboard_pages.render(request, "campaigns.html", context, status=400 if error else 200)


@router.get("/sites/{domain}/campaigns")
def campaigns_page(
    request: Request, services: ServicesDep, principal: Reader, domain: str
) -> Response:
    """The site's e-mail campaigns with their human opens and clicks, newest first."""
    return _list_page(request, services, principal, domain)


@router.post("/sites/{domain}/campaigns")
async def create_campaign(
    request: Request, services: ServicesDep, principal: Writer, domain: str, directory: Directory
) -> Response:
    """Create a campaign (name, optional code and number of messages sent), then show it."""
    form = await dashboard_settings.read_form(request)
    sends = form.get("sends", "").strip()
    fields = {
        "name": form.get("name", "").strip(),
        "site": domain,
        "code": form.get("code", "").strip() or None,
        "sends": sends or None,
    }
    try:
        body = campaigns_api.NewCampaign.model_validate(fields)
        answer = await run_in_threadpool(
            campaigns_api.create_campaign, body, principal, services, directory
        )
    except (ValidationError, ApiError) as exc:
        error = dashboard_settings.refusal(exc)
        return await run_in_threadpool(
            lambda: _list_page(request, services, principal, domain, error=error, entered=form)
        )
    created = json.loads(bytes(answer.body))
    target = f"/sites/{quote(domain, safe='')}/campaigns/{created['id']}"
    return RedirectResponse(target, status_code=303)


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


@router.get("/sites/{domain}/campaigns/{campaign_id}")
def campaign_page(
    request: Request, services: ServicesDep, principal: Reader, domain: str, campaign_id: int
) -> Response:
    """One campaign: totals and rates, clicks per link and platform, opens and clicks per day."""
    site = site_access(principal, services, domain, Action.LINKS_READ)
    campaign = campaigns_api.get_campaign(campaign_id, principal, services)
    if campaign["site"] != site.domain:
        raise ApiError(404, "campaign_not_found", f"no campaign with id {campaign_id}")
    found = campaigns_api.stats(campaign_id, principal, services)
    platforms = found["platforms"]
    top = max(platforms.values(), default=0)
    context = dashboard_settings.page_context(request, services, principal) | {
        "site": site,
        "campaign": campaign,
        "stats": found,
        "platforms": [(name, count, _share(count, top)) for name, count in platforms.items()],
    }
    return dashboard_pages.render(request, "campaign.html", context)
