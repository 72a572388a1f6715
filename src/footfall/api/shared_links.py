"""Shared links API: analysts and admins publish a site's dashboard read-only, and withdraw it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from footfall.accounts.audit import record
from footfall.accounts.permissions import Action
from footfall.accounts.shared import create_shared_link, revoke_shared_link, site_shared_links
from footfall.api.deps import Services, ServicesDep
from footfall.api.errors import ApiError
from footfall.api.security import Principal, require, site_access
from footfall.api.users import iso
from footfall.meta.db import session_scope
from footfall.meta.models import SharedLink

router = APIRouter(prefix="/api/v1/sites/{domain}/shared-links", tags=["sites"])
Writer = Annotated[Principal, Depends(require(Action.SHARED_LINKS_WRITE))]
SHARE_PATH = "/share/"


class NewSharedLink(BaseModel):
    """A shared link to create; with a password, visitors must give it first."""

    name: str = Field(default="Shared link", max_length=100)
    password: str | None = Field(default=None, max_length=1024)


def link_json(services: Services, link: SharedLink) -> dict[str, Any]:
    """A shared link as the API shows it, with its public URL."""
    return {
        "id": link.id,
        "name": link.name,
        "url": f"{services.settings.base_url.rstrip('/')}{SHARE_PATH}{link.token}",
        "password_protected": link.password_hash is not None,
        "created_at": iso(link.created_at),
    }


@router.post("", status_code=201)
def create(
    domain: str, body: NewSharedLink, services: ServicesDep, writer: Writer
) -> dict[str, Any]:
    """Create a public read-only URL for this site's dashboard."""
    site = site_access(writer, services, domain, Action.SHARED_LINKS_WRITE)
    with session_scope(services.engine) as session:
        try:
            link = create_shared_link(
                session, site.id, body.name, password=body.password, created_by=writer.user_id
            )
        except ValueError as exc:
            raise ApiError(400, "invalid_request", str(exc)) from None
        record(
            session,
            writer.user_id,
            writer.username,
            "shared_link.create",
            f"site:{site.domain}",
            {"shared_link_id": link.id},
        )
        return {"status": "success", "shared_link": link_json(services, link)}


@router.get("")
def list_links(domain: str, services: ServicesDep, writer: Writer) -> dict[str, Any]:
    """The site's live shared links."""
    site = site_access(writer, services, domain, Action.SHARED_LINKS_WRITE)
    with session_scope(services.engine) as session:
        links = [link_json(services, link) for link in site_shared_links(session, site.id)]
    return {"status": "success", "shared_links": links}


@router.delete("/{link_id}")
def revoke(domain: str, link_id: int, services: ServicesDep, writer: Writer) -> dict[str, Any]:
    """Revoke a shared link: its URL stops working at once."""
    site = site_access(writer, services, domain, Action.SHARED_LINKS_WRITE)
    with session_scope(services.engine) as session:
        if not revoke_shared_link(session, site.id, link_id):
            raise ApiError(404, "shared_link_not_found", f"no shared link {link_id} on {domain}")
        record(
            session,
            writer.user_id,
            writer.username,
            "shared_link.revoke",
            f"site:{site.domain}",
            {"shared_link_id": link_id},
        )
    return {"status": "success"}
