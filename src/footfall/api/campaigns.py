"""Campaigns API (analysts and admins): campaigns, their open pixel and stats; link policies."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import JSONResponse

from footfall.accounts.permissions import Action
from footfall.api.deps import Services, ServicesDep
from footfall.api.errors import ApiError
from footfall.api.links import Directory, iso, links_json
from footfall.api.security import Principal, accessible_sites, require, site_access
from footfall.links import service
from footfall.links.stats import campaign_stats
from footfall.links.targets import TargetError
from footfall.meta.db import session_scope
from footfall.meta.link_models import Campaign, Link

router = APIRouter(prefix="/api/v1/campaigns", tags=["links"])
policy_router = APIRouter(prefix="/api/v1/link-policies", tags=["links"])
Reader = Annotated[Principal, Depends(require(Action.LINKS_READ))]
Writer = Annotated[Principal, Depends(require(Action.CAMPAIGNS_WRITE))]
LinkWriter = Annotated[Principal, Depends(require(Action.LINKS_WRITE))]


class NewCampaign(BaseModel):
    """A campaign to create."""

    name: str = Field(max_length=200)
    site: str = Field(max_length=253)
    code: str | None = Field(default=None, max_length=64)
    sends: int | None = Field(default=None, ge=0)


class CampaignChange(BaseModel):
    """Fields to change; omitted ones stay as they are."""

    name: str | None = Field(default=None, max_length=200)
    sends: int | None = Field(default=None, ge=0)


class LinkPolicyBody(BaseModel):
    """A site's allowed target hosts (`example.com`, `*.example.com`); empty allows any."""

    allowed_target_hosts: list[str] = Field(max_length=1000)


def pixel_url(services: Services, code: str) -> str:
    """The open pixel URL of a campaign (append `/<token>` before `.gif` per recipient)."""
    return f"{services.settings.base_url.rstrip('/')}/r/{code}.gif"


def campaign_json(services: Services, campaign: Campaign) -> dict[str, Any]:
    """A campaign as the API shows it."""
    site = services.sites.by_id(campaign.site_id)
    return {
        "id": campaign.id,
        "code": campaign.code,
        "name": campaign.name,
        "site": site.domain if site else None,
        "pixel_url": pixel_url(services, campaign.code),
        "sends": campaign.sends,
        "created_at": iso(campaign.created_at),
    }


def owned_campaign(
    principal: Principal, services: Services, session: Session, campaign_id: int, action: Action
) -> Campaign:
    """The campaign if the caller may do `action` on its site; 404 campaign_not_found else."""
    campaign = session.get(Campaign, campaign_id)
    site = services.sites.by_id(campaign.site_id) if campaign is not None else None
    if campaign is None or site is None:
        raise ApiError(404, "campaign_not_found", f"no campaign with id {campaign_id}")
    try:
        site_access(principal, services, site.domain, action)
    except ApiError as exc:
        if exc.status == 404:
            raise ApiError(
                404, "campaign_not_found", f"no campaign with id {campaign_id}"
            ) from None
        raise
    return campaign


@router.post("", status_code=201, summary="Create an e-mail campaign")
def create_campaign(
    body: NewCampaign, principal: Writer, services: ServicesDep, directory: Directory
) -> JSONResponse:
    """Create a campaign; the answer carries its code and open pixel URL."""
    site = site_access(principal, services, body.site, Action.CAMPAIGNS_WRITE)
    with session_scope(services.engine) as session:
        try:
            campaign = service.create_campaign(
                session, site_id=site.id, name=body.name, code=body.code, sends=body.sends
            )
        except service.CodeTaken as exc:
            raise ApiError(409, "code_taken", str(exc)) from None
        except ValueError as exc:
            raise ApiError(400, "invalid_request", str(exc)) from None
        answer = campaign_json(services, campaign)
    directory.invalidate()
    return JSONResponse(answer, status_code=201)


@router.get("", summary="List campaigns")
def list_campaigns(
    principal: Reader,
    services: ServicesDep,
    site: Annotated[str | None, Query(max_length=253)] = None,
) -> dict[str, Any]:
    """The e-mail campaigns of the sites the caller may read, newest first."""
    if site is not None:
        site_ids = [site_access(principal, services, site, Action.LINKS_READ).id]
    else:
        site_ids = [info.id for info, _ in accessible_sites(principal, services)]
    with session_scope(services.engine) as session:
        rows = session.scalars(
            select(Campaign)
            .where(Campaign.site_id.in_(site_ids), Campaign.redirect_url.is_(None))
            .order_by(Campaign.id.desc())
        )
        return {"campaigns": [campaign_json(services, campaign) for campaign in rows]}


@router.get("/{campaign_id}", summary="Read a campaign")
def get_campaign(campaign_id: int, principal: Reader, services: ServicesDep) -> dict[str, Any]:
    """One campaign."""
    with session_scope(services.engine) as session:
        campaign = owned_campaign(principal, services, session, campaign_id, Action.LINKS_READ)
        return campaign_json(services, campaign)


@router.patch("/{campaign_id}", summary="Change a campaign")
def change_campaign(
    campaign_id: int, body: CampaignChange, principal: Writer, services: ServicesDep
) -> dict[str, Any]:
    """Rename a campaign or record how many messages were sent."""
    with session_scope(services.engine) as session:
        campaign = owned_campaign(principal, services, session, campaign_id, Action.CAMPAIGNS_WRITE)
        if body.name is not None:
            name = service.check_name(body.name)
            if name is None:
                raise ApiError(400, "invalid_request", "name must not be empty")
            campaign.name = name
        if "sends" in body.model_fields_set:
            campaign.sends = body.sends
        session.flush()
        return campaign_json(services, campaign)


@router.get("/{campaign_id}/stats", summary="Opens and clicks of a campaign")
def stats(
    campaign_id: int,
    principal: Reader,
    services: ServicesDep,
    machine: Literal["exclude", "include"] = "exclude",
) -> dict[str, Any]:
    """Opens, clicks, rates and breakdowns; human only unless `machine=include`."""
    with session_scope(services.engine) as session:
        campaign = owned_campaign(principal, services, session, campaign_id, Action.LINKS_READ)
        links = session.scalars(
            select(Link).where(Link.campaign_id == campaign.id).order_by(Link.id)
        ).all()
        shown = [
            {key: item[key] for key in ("id", "code", "short_url", "url", "name", "archived")}
            for item in links_json(services, session, links)
        ]
        sends = campaign.sends
        site = services.sites.by_id(campaign.site_id)
    if site is None:
        raise ApiError(404, "campaign_not_found", f"no campaign with id {campaign_id}")
    return campaign_stats(
        services.store, site, campaign_id, shown, sends=sends, include_machine=machine == "include"
    )


@policy_router.get("/{domain}", summary="A site's allowed link target hosts")
def get_policy(domain: str, principal: Reader, services: ServicesDep) -> dict[str, Any]:
    """The hosts links of this site may point to (empty: any valid http/https target)."""
    site = site_access(principal, services, domain, Action.LINKS_READ)
    with session_scope(services.engine) as session:
        hosts = service.allowed_target_hosts(session, site.id)
    return {"site": site.domain, "allowed_target_hosts": hosts}


@policy_router.put("/{domain}", summary="Set a site's allowed link target hosts")
def put_policy(
    domain: str, body: LinkPolicyBody, principal: LinkWriter, services: ServicesDep
) -> dict[str, Any]:
    """Replace the allow-list; existing links keep their targets, new targets are checked."""
    site = site_access(principal, services, domain, Action.LINKS_WRITE)
    with session_scope(services.engine) as session:
        try:
            hosts = service.set_allowed_target_hosts(session, site.id, body.allowed_target_hosts)
        except TargetError as exc:
            raise ApiError(400, "invalid_request", str(exc)) from None
    return {"site": site.domain, "allowed_target_hosts": hosts}
