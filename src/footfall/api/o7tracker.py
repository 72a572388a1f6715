"""The o7tracker-compatible campaign admin API: `/admin/campaigns` (alias `/admin/campains`).

HTTP Basic (or any API credential) for analysts and admins. Campaigns made here belong to the
instance's default site and redirect `/track/{id}` clicks to their `redirect_url`; click counts
per platform come from the event store (human clicks only).
"""

from __future__ import annotations

from collections import Counter
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session
from starlette.responses import JSONResponse, Response

from footfall.accounts.permissions import Action
from footfall.api.deps import Services, ServicesDep
from footfall.api.errors import ApiError
from footfall.api.links import Directory, iso
from footfall.api.security import Principal, require, site_access
from footfall.links import service
from footfall.links.stats import redirect_click_counts
from footfall.links.targets import TargetError
from footfall.meta.db import session_scope
from footfall.meta.link_models import Campaign
from footfall.meta.sites import SiteInfo

Reader = Annotated[Principal, Depends(require(Action.LINKS_READ, allow_basic=True))]
Writer = Annotated[Principal, Depends(require(Action.CAMPAIGNS_WRITE, allow_basic=True))]
# o7tracker's names for the platforms it counts, and the stored platform each one reads.
_COUNTED = (("android", "Android"), ("iphone", "iPhone"), ("windowsphone", "WindowsPhone"))


class RedirectCampaignBody(BaseModel):
    """A redirect campaign: where `/track/{id}` sends clicks and which platforms it targets."""

    redirect_url: str | None = Field(default=None, max_length=16_000)
    platforms: list[str] | None = Field(default=None, max_length=10)


def _site(principal: Principal, services: Services, action: Action) -> SiteInfo:
    return site_access(principal, services, services.settings.default_site, action)


def campaign_json(campaign: Campaign, clicks: Counter[str]) -> dict[str, Any]:
    """A campaign in o7tracker's exact shape."""
    answer: dict[str, Any] = {
        "id": campaign.id,
        "redirect_url": campaign.redirect_url,
        "created_at": iso(campaign.created_at),
        "updated_at": iso(campaign.updated_at),
        "platforms": list(campaign.platforms),
        "click_count": sum(clicks.values()),
    }
    for name, stored in _COUNTED:
        answer[f"{name}_click_count"] = clicks.get(stored, 0)
    return answer


def _get(session: Session, site: SiteInfo, campaign_id: int) -> Campaign:
    campaign = session.get(Campaign, campaign_id)
    if campaign is None or campaign.redirect_url is None or campaign.site_id != site.id:
        raise ApiError(404, "campaign_not_found", f"no campaign with id {campaign_id}")
    return campaign


def _shown(services: Services, campaigns: list[Campaign]) -> list[dict[str, Any]]:
    counts = redirect_click_counts(services.store, [campaign.id for campaign in campaigns])
    return [campaign_json(c, counts.get(c.id, Counter())) for c in campaigns]


def _invalid(exc: ValueError) -> ApiError:
    code = "invalid_url" if isinstance(exc, TargetError) else "invalid_request"
    return ApiError(400, code, str(exc))


def create_campaign(
    body: RedirectCampaignBody, principal: Writer, services: ServicesDep, directory: Directory
) -> JSONResponse:
    """POST: a campaign redirecting to `redirect_url`, for the listed platforms."""
    site = _site(principal, services, Action.CAMPAIGNS_WRITE)
    if not body.redirect_url:
        raise ApiError(400, "invalid_request", "redirect_url is required")
    with session_scope(services.engine) as session:
        try:
            campaign = service.create_campaign(
                session,
                site_id=site.id,
                name=f"redirect to {body.redirect_url[:150]}",
                redirect_url=body.redirect_url,
                platforms=body.platforms or [],
            )
        except ValueError as exc:
            raise _invalid(exc) from None
        answer = _shown(services, [campaign])[0]
    directory.invalidate()
    return JSONResponse(answer, status_code=201)


def list_campaigns(
    principal: Reader,
    services: ServicesDep,
    platforms: Annotated[str | None, Query(max_length=200)] = None,
) -> list[dict[str, Any]]:
    """GET: every redirect campaign, or those targeting any of `platforms` (comma list)."""
    site = _site(principal, services, Action.LINKS_READ)
    wanted = [p for p in (platforms or "").split(",") if p.strip()]
    with session_scope(services.engine) as session:
        try:
            found = service.redirect_campaigns(session, wanted)
        except ValueError as exc:
            raise _invalid(exc) from None
        return _shown(services, [c for c in found if c.site_id == site.id])


def get_campaign(campaign_id: int, principal: Reader, services: ServicesDep) -> dict[str, Any]:
    """GET one campaign with its click counts."""
    site = _site(principal, services, Action.LINKS_READ)
    with session_scope(services.engine) as session:
        return _shown(services, [_get(session, site, campaign_id)])[0]


def update_campaign(
    campaign_id: int,
    body: RedirectCampaignBody,
    principal: Writer,
    services: ServicesDep,
    directory: Directory,
) -> dict[str, Any]:
    """PUT: change the redirect URL and/or the platforms."""
    site = _site(principal, services, Action.CAMPAIGNS_WRITE)
    with session_scope(services.engine) as session:
        campaign = _get(session, site, campaign_id)
        try:
            if body.redirect_url is not None:
                campaign.redirect_url = service.checked_target(session, site.id, body.redirect_url)
            if body.platforms is not None:
                campaign.platforms = service.check_platforms(body.platforms)
        except ValueError as exc:
            raise _invalid(exc) from None
        session.flush()
        answer = _shown(services, [campaign])[0]
    directory.invalidate()
    return answer


def delete_campaign(
    campaign_id: int, principal: Writer, services: ServicesDep, directory: Directory
) -> Response:
    """DELETE a campaign (its stored clicks stay in the event store)."""
    site = _site(principal, services, Action.CAMPAIGNS_WRITE)
    with session_scope(services.engine) as session:
        session.delete(_get(session, site, campaign_id))
    directory.invalidate()
    return Response(status_code=204)


def _router(prefix: str, tag: str) -> APIRouter:
    router = APIRouter(prefix=prefix, tags=[tag])
    router.add_api_route(
        "", create_campaign, methods=["POST"], status_code=201, summary="Create a redirect campaign"
    )
    router.add_api_route("", list_campaigns, methods=["GET"], summary="List redirect campaigns")
    router.add_api_route(
        "/{campaign_id}", get_campaign, methods=["GET"], summary="Read a redirect campaign"
    )
    router.add_api_route(
        "/{campaign_id}", update_campaign, methods=["PUT"], summary="Change a redirect campaign"
    )
    router.add_api_route(
        "/{campaign_id}",
        delete_campaign,
        methods=["DELETE"],
        status_code=204,
        summary="Delete a redirect campaign",
    )
    return router


router = _router("/admin/campaigns", "o7tracker")
alias_router = _router("/admin/campains", "o7tracker (alias)")
