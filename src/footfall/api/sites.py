"""Sites API: admins create, change and delete sites and grant them; others read theirs."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from footfall.accounts.audit import record
from footfall.accounts.members import grant_site, revoke_site, site_members
from footfall.accounts.permissions import Action
from footfall.api.deps import Services, ServicesDep
from footfall.api.errors import ApiError
from footfall.api.security import Principal, accessible_sites, require, site_access
from footfall.api.users import iso
from footfall.meta.db import session_scope
from footfall.meta.models import Role, Site, check_timezone
from footfall.meta.sites import SiteInfo, check_domain, create_site

router = APIRouter(prefix="/api/v1/sites", tags=["sites"])
Reader = Annotated[Principal, Depends(require(Action.SITES_READ))]
Admin = Annotated[Principal, Depends(require(Action.SITES_MANAGE))]
_MAX_LIST = 500


class NewSite(BaseModel):
    """A site to register."""

    domain: str = Field(max_length=253)
    name: str | None = Field(default=None, max_length=200)
    timezone: str = Field(default="UTC", max_length=64)


class SiteChange(BaseModel):
    """Site settings to change; omitted ones stay as they are."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    timezone: str | None = Field(default=None, max_length=64)
    allowed_hostnames: list[str] | None = Field(default=None, max_length=_MAX_LIST)
    excluded_ip_ranges: list[str] | None = Field(default=None, max_length=_MAX_LIST)
    excluded_paths: list[str] | None = Field(default=None, max_length=_MAX_LIST)


class Grant(BaseModel):
    """A user to grant a site to, with its role there."""

    user_id: int
    role: str = Role.VIEWER.value


def site_json(site: Site, role: str | None = None) -> dict[str, Any]:
    """A site as the API shows it."""
    found: dict[str, Any] = {
        "domain": site.domain,
        "name": site.name,
        "timezone": site.timezone,
        "created_at": iso(site.created_at),
        "allowed_hostnames": list(site.allowed_hostnames),
        "excluded_ip_ranges": list(site.excluded_ip_ranges),
        "excluded_paths": list(site.excluded_paths),
    }
    if role is not None:
        found["role"] = role
    return found


def _row(session: Session, info: SiteInfo) -> Site:
    site = session.get(Site, info.id)
    if site is None:  # deleted by another process since the directory's snapshot
        raise ApiError(404, "site_not_found", f"no site {info.domain!r}")
    return site


def _write_done(services: Services) -> None:
    services.sites.invalidate()


@router.post("", status_code=201)
def create(body: NewSite, services: ServicesDep, admin: Admin) -> dict[str, Any]:
    """Register a site."""
    with session_scope(services.engine) as session:
        try:
            site = create_site(session, body.domain, body.name, body.timezone)
        except ValueError as exc:
            code = "site_exists" if "already exists" in str(exc) else "invalid_request"
            raise ApiError(409 if code == "site_exists" else 400, code, str(exc)) from None
        record(session, admin.user_id, admin.username, "site.create", f"site:{site.domain}")
        answer = {"status": "success", "site": site_json(site, Role.ADMIN.value)}
    _write_done(services)
    return answer


@router.get("")
def list_sites(services: ServicesDep, principal: Reader) -> dict[str, Any]:
    """The sites granted to the caller (every site for an admin), with its role on each."""
    found = accessible_sites(principal, services)
    with session_scope(services.engine) as session:
        sites = [site_json(_row(session, info), role.value) for info, role in found]
    return {"status": "success", "sites": sites}


@router.get("/{domain}")
def read(domain: str, services: ServicesDep, principal: Reader) -> dict[str, Any]:
    """One site and its settings."""
    info = site_access(principal, services, domain, Action.SITES_READ)
    with session_scope(services.engine) as session:
        return {"status": "success", "site": site_json(_row(session, info))}


def _checked_hosts(hosts: list[str]) -> list[str]:
    return [check_domain(host) if host.strip() != "*" else "*" for host in hosts]


def _checked_ranges(ranges: list[str]) -> list[str]:
    checked = []
    for entry in ranges:
        try:
            checked.append(str(ipaddress.ip_network(entry.strip(), strict=False)))
        except ValueError:
            raise ValueError(f"{entry!r} is not an IP address or CIDR range") from None
    return checked


def _checked_paths(paths: list[str]) -> list[str]:
    for path in paths:
        if not path.startswith("/") or len(path) > 500:
            raise ValueError(f"{path!r} is not a path: paths start with '/' ('*' matches any part)")
    return paths


def _apply(site: Site, body: SiteChange) -> dict[str, Any]:
    changed: dict[str, Any] = {}
    if body.name is not None:
        site.name = changed["name"] = body.name.strip()
    if body.timezone is not None:
        site.timezone = changed["timezone"] = check_timezone(body.timezone)
    if body.allowed_hostnames is not None:
        site.allowed_hostnames = changed["allowed_hostnames"] = _checked_hosts(
            body.allowed_hostnames
        )
    if body.excluded_ip_ranges is not None:
        site.excluded_ip_ranges = changed["excluded_ip_ranges"] = _checked_ranges(
            body.excluded_ip_ranges
        )
    if body.excluded_paths is not None:
        site.excluded_paths = changed["excluded_paths"] = _checked_paths(body.excluded_paths)
    return changed


@router.patch("/{domain}")
def update(domain: str, body: SiteChange, services: ServicesDep, admin: Admin) -> dict[str, Any]:
    """Change a site's name, time zone, allowed hostnames, excluded IP ranges or paths."""
    info = site_access(admin, services, domain, Action.SITES_MANAGE)
    with session_scope(services.engine) as session:
        site = _row(session, info)
        try:
            changed = _apply(site, body)
        except ValueError as exc:
            raise ApiError(400, "invalid_request", str(exc)) from None
        record(
            session, admin.user_id, admin.username, "site.update", f"site:{site.domain}", changed
        )
        answer = {"status": "success", "site": site_json(site)}
    _write_done(services)
    return answer


@router.delete("/{domain}")
def delete(domain: str, services: ServicesDep, admin: Admin) -> dict[str, Any]:
    """Delete a site's settings, grants, keys and shared links (stored events stay)."""
    info = site_access(admin, services, domain, Action.SITES_MANAGE)
    with session_scope(services.engine) as session:
        session.delete(_row(session, info))
        record(session, admin.user_id, admin.username, "site.delete", f"site:{info.domain}")
    _write_done(services)
    return {"status": "success"}


@router.get("/{domain}/members")
def members(domain: str, services: ServicesDep, admin: Admin) -> dict[str, Any]:
    """The users granted this site, with their role there."""
    info = site_access(admin, services, domain, Action.SITES_MANAGE)
    with session_scope(services.engine) as session:
        found = [
            {"user_id": user.id, "username": user.username, "role": member.role}
            for member, user in site_members(session, info.id)
        ]
    return {"status": "success", "members": found}


@router.post("/{domain}/members", status_code=201)
def add_member(domain: str, body: Grant, services: ServicesDep, admin: Admin) -> dict[str, Any]:
    """Grant the site to a user with a role (replaces an earlier grant)."""
    info = site_access(admin, services, domain, Action.SITES_MANAGE)
    with session_scope(services.engine) as session:
        try:
            member = grant_site(session, info.id, body.user_id, body.role)
        except ValueError as exc:
            status, code = (
                (404, "user_not_found") if "no user" in str(exc) else (400, "invalid_request")
            )
            raise ApiError(status, code, str(exc)) from None
        record(
            session,
            admin.user_id,
            admin.username,
            "member.grant",
            f"site:{info.domain}",
            {"user_id": body.user_id, "role": member.role},
        )
        return {"status": "success", "member": {"user_id": body.user_id, "role": member.role}}


@router.delete("/{domain}/members/{user_id}")
def remove_member(domain: str, user_id: int, services: ServicesDep, admin: Admin) -> dict[str, Any]:
    """Withdraw a user's grant on the site."""
    info = site_access(admin, services, domain, Action.SITES_MANAGE)
    with session_scope(services.engine) as session:
        if not revoke_site(session, info.id, user_id):
            raise ApiError(404, "member_not_found", f"user {user_id} has no grant on {info.domain}")
        record(
            session,
            admin.user_id,
            admin.username,
            "member.revoke",
            f"site:{info.domain}",
            {"user_id": user_id},
        )
    return {"status": "success"}
