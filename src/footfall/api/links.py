"""Links API (analysts and admins): create, list, read, change, archive links; QR codes.

Every write invalidates this process's link directory, so `/u/` redirects follow at once.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Annotated, Any, Literal

import segno
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import JSONResponse, Response

from footfall.accounts.permissions import Action
from footfall.api.deps import Services, ServicesDep
from footfall.api.errors import ApiError
from footfall.api.security import Principal, accessible_sites, require, site_access
from footfall.links import service
from footfall.links.directory import LinkDirectory
from footfall.links.stats import any_clicks, link_counts
from footfall.links.targets import UTM_KEYS, TargetError
from footfall.meta.db import session_scope
from footfall.meta.link_models import Campaign, Link
from footfall.meta.sites import SiteInfo

router = APIRouter(prefix="/api/v1/links", tags=["links"])
Reader = Annotated[Principal, Depends(require(Action.LINKS_READ))]
Writer = Annotated[Principal, Depends(require(Action.LINKS_WRITE))]


class Utm(BaseModel):
    """UTM parameters appended to the target."""

    utm_source: str | None = Field(default=None, max_length=200)
    utm_medium: str | None = Field(default=None, max_length=200)
    utm_campaign: str | None = Field(default=None, max_length=200)
    utm_term: str | None = Field(default=None, max_length=200)
    utm_content: str | None = Field(default=None, max_length=200)


class NewLink(BaseModel):
    """A link to create."""

    url: str = Field(max_length=16_000)
    site: str | None = Field(default=None, max_length=253)  # default: the campaign's site
    campaign: str | None = Field(default=None, max_length=200)
    name: str | None = Field(default=None, max_length=200)
    code: str | None = Field(default=None, max_length=64)
    tags: list[str] = Field(default_factory=list, max_length=100)
    utm: Utm | None = None
    reuse: bool = False  # return the campaign's live link to the same target, if there is one


class LinkChange(BaseModel):
    """Fields to change; omitted ones stay as they are."""

    url: str | None = Field(default=None, max_length=16_000)
    campaign: str | None = Field(default=None, max_length=200)
    name: str | None = Field(default=None, max_length=200)
    tags: list[str] | None = Field(default=None, max_length=100)
    utm: Utm | None = None


def iso(moment: Any) -> str | None:
    """A UTC timestamp as ISO 8601 with `Z`."""
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


def short_url(services: Services, code: str) -> str:
    """The public short URL of a link code."""
    return f"{services.settings.base_url.rstrip('/')}/u/{code}"


def link_directory(request: Request) -> LinkDirectory:
    """The process's link directory (set by create_app on the API's state)."""
    directory: LinkDirectory = request.app.state.links
    return directory


Directory = Annotated[LinkDirectory, Depends(link_directory)]


def links_json(services: Services, session: Session, links: Sequence[Link]) -> list[dict[str, Any]]:
    """Links as the API shows them, with their human click counts from the event store."""
    counts: dict[int, tuple[int, int]] = {}
    by_site: dict[int, list[int]] = {}
    for link in links:
        by_site.setdefault(link.site_id, []).append(link.id)
    for site_id, ids in by_site.items():
        owner = services.sites.by_id(site_id)
        if owner is not None:
            counts.update(link_counts(services.store, owner, ids))
    campaign_ids = {link.campaign_id for link in links if link.campaign_id is not None}
    codes: dict[int, str] = dict(
        session.execute(
            select(Campaign.id, Campaign.code).where(Campaign.id.in_(campaign_ids))
        ).all()
    )
    result = []
    for link in links:
        site = services.sites.by_id(link.site_id)
        clicks, unique = counts.get(link.id, (0, 0))
        result.append(
            {
                "id": link.id,
                "code": link.code,
                "short_url": short_url(services, link.code),
                "url": link.url,
                "site": site.domain if site else None,
                "campaign": codes.get(link.campaign_id) if link.campaign_id else None,
                "name": link.name,
                "tags": list(link.tags),
                "created_at": iso(link.created_at),
                "updated_at": iso(link.updated_at),
                "archived": link.archived_at is not None,
                "click_count": clicks,
                "unique_clicks": unique,
                "qr_url": f"{services.settings.base_url.rstrip('/')}/api/v1/links/{link.id}/qr",
            }
        )
    return result


def _bad(exc: ValueError) -> ApiError:
    if isinstance(exc, service.CodeTaken):
        return ApiError(409, "code_taken", str(exc))
    if isinstance(exc, TargetError):
        return ApiError(400, "invalid_url", str(exc))
    return ApiError(400, "invalid_request", str(exc))


def _utm(utm: Utm | None) -> dict[str, str]:
    if utm is None:
        return {}
    values = utm.model_dump()
    return {key: values[key] for key in UTM_KEYS if values.get(key)}


def resolve_campaign(session: Session, site: SiteInfo, key: str | None) -> int | None:
    """The id of the site's campaign named or coded `key` (None for none); 404 if unknown."""
    if not key:
        return None
    campaign = service.campaign_by_name_or_code(session, site.id, key)
    if campaign is None:
        raise ApiError(404, "campaign_not_found", f"no campaign {key!r} on {site.domain}")
    return campaign.id


def _owned_link(
    principal: Principal, services: Services, session: Session, link_id: int, action: Action
) -> Link:
    link = session.get(Link, link_id)
    site = services.sites.by_id(link.site_id) if link is not None else None
    if link is None or site is None:
        raise ApiError(404, "link_not_found", f"no link with id {link_id}")
    try:
        site_access(principal, services, site.domain, action)
    except ApiError as exc:
        if exc.status == 404:
            raise ApiError(404, "link_not_found", f"no link with id {link_id}") from None
        raise
    return link


def _campaign_site(services: Services, code: str | None) -> str:
    """The domain of the campaign with this code, for links created without `site`."""
    if not code:
        raise ApiError(400, "invalid_request", "site is required (or a campaign code)")
    with session_scope(services.engine) as session:
        site_id = session.scalar(select(Campaign.site_id).where(Campaign.code == code))
    site = services.sites.by_id(site_id) if site_id is not None else None
    if site is None:
        raise ApiError(404, "campaign_not_found", f"no campaign with code {code!r}")
    return site.domain


@router.post("", status_code=201, summary="Create a tracked link")
def create_link(
    body: NewLink, principal: Writer, services: ServicesDep, directory: Directory
) -> JSONResponse:
    """Create a link (or, with `reuse`, return the same target's live link in the campaign)."""
    if body.site is not None:
        site = site_access(principal, services, body.site, Action.LINKS_WRITE)
    else:
        try:
            domain = _campaign_site(services, body.campaign)
            site = site_access(principal, services, domain, Action.LINKS_WRITE)
        except ApiError as exc:
            if exc.status != 404:
                raise
            # The campaign's site is not the caller's: say no more than that it is unknown.
            raise ApiError(404, "campaign_not_found", "no such campaign") from None
    with session_scope(services.engine) as session:
        campaign_id = resolve_campaign(session, site, body.campaign)
        try:
            if body.reuse and body.code is None:
                target = service.checked_target(session, site.id, body.url, _utm(body.utm))
                existing = service.find_link(session, site.id, campaign_id, target)
                if existing is not None:
                    return JSONResponse(links_json(services, session, [existing])[0])
            link = service.create_link(
                session,
                site_id=site.id,
                url=body.url,
                campaign_id=campaign_id,
                name=body.name,
                code=body.code,
                tags=body.tags,
                utm=_utm(body.utm),
            )
        except ValueError as exc:
            raise _bad(exc) from None
        answer = links_json(services, session, [link])[0]
    directory.invalidate()
    return JSONResponse(answer, status_code=201)


@router.get("", summary="List links")
def list_links(
    principal: Reader,
    services: ServicesDep,
    site: Annotated[str | None, Query(max_length=253)] = None,
    campaign: Annotated[str | None, Query(max_length=200)] = None,
    archived: bool = False,
) -> dict[str, Any]:
    """The links of the sites the caller may read (one site with `site=`), newest first."""
    if site is not None:
        sites = [site_access(principal, services, site, Action.LINKS_READ)]
    else:
        sites = [info for info, _ in accessible_sites(principal, services)]
    with session_scope(services.engine) as session:
        campaign_id = None
        if campaign is not None:
            ids = [
                found.id
                for info in sites
                if (found := service.campaign_by_name_or_code(session, info.id, campaign))
            ]
            if not ids:
                return {"links": []}
            campaign_id = ids[0]
        links = service.list_links(
            session,
            [info.id for info in sites],
            campaign_id=campaign_id,
            include_archived=archived,
        )
        return {"links": links_json(services, session, links)}


@router.get("/{link_id}", summary="Read a link")
def get_link(link_id: int, principal: Reader, services: ServicesDep) -> dict[str, Any]:
    """One link with its click counts."""
    with session_scope(services.engine) as session:
        link = _owned_link(principal, services, session, link_id, Action.LINKS_READ)
        return links_json(services, session, [link])[0]


@router.patch("/{link_id}", summary="Change a link")
def change_link(
    link_id: int, body: LinkChange, principal: Writer, services: ServicesDep, directory: Directory
) -> dict[str, Any]:
    """Change a link's target, campaign, name or tags (its code never changes)."""
    with session_scope(services.engine) as session:
        link = _owned_link(principal, services, session, link_id, Action.LINKS_WRITE)
        site = services.sites.by_id(link.site_id)
        assert site is not None  # checked by _owned_link
        try:
            if body.url is not None or body.utm is not None:
                url = body.url if body.url is not None else link.url
                link.url = service.checked_target(session, site.id, url, _utm(body.utm))
            if "campaign" in body.model_fields_set:
                link.campaign_id = resolve_campaign(session, site, body.campaign)
            if "name" in body.model_fields_set:
                link.name = service.check_name(body.name)
            if body.tags is not None:
                link.tags = service.check_tags(body.tags)
        except ValueError as exc:
            raise _bad(exc) from None
        session.flush()
        answer = links_json(services, session, [link])[0]
    directory.invalidate()
    return answer


@router.delete("/{link_id}", summary="Delete a link, or archive it when it has clicks")
def delete_link(
    link_id: int, principal: Writer, services: ServicesDep, directory: Directory
) -> dict[str, Any]:
    """Delete a link without clicks; a link with clicks is archived (stops redirecting)."""
    with session_scope(services.engine) as session:
        link = _owned_link(principal, services, session, link_id, Action.LINKS_WRITE)
        owner = services.sites.by_id(link.site_id)
        if owner is not None and any_clicks(services.store, owner, link.id):
            service.archive_link(link)
            outcome = "archived"
        else:
            session.delete(link)
            outcome = "deleted"
    directory.invalidate()
    return {"status": "success", "id": link_id, "result": outcome}


@router.get(
    "/{link_id}/qr",
    summary="QR code of a link's short URL",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}, "image/png": {}}}},
)
def link_qr(
    link_id: int,
    principal: Reader,
    services: ServicesDep,
    format: Literal["svg", "png"] = "svg",
    scale: Annotated[int, Query(ge=1, le=40)] = 8,
) -> Response:
    """The link's short URL as a QR code (SVG or PNG)."""
    with session_scope(services.engine) as session:
        link = _owned_link(principal, services, session, link_id, Action.LINKS_READ)
        code = link.code
    qr = segno.make(short_url(services, code), error="m")
    buffer = io.BytesIO()
    qr.save(buffer, kind=format, scale=scale, border=2)
    media = "image/svg+xml" if format == "svg" else "image/png"
    headers = {"Content-Disposition": f'inline; filename="{code}.{format}"'}
    return Response(buffer.getvalue(), media_type=media, headers=headers)
