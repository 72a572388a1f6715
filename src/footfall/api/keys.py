"""API keys API: every user creates, lists and revokes its own keys; a raw key is shown once."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from sqlalchemy import select

from footfall.accounts.audit import record
from footfall.accounts.keys import create_api_key, parse_scopes, revoke_api_key
from footfall.accounts.permissions import Action
from footfall.api.deps import ServicesDep
from footfall.api.errors import ApiError
from footfall.api.security import Principal, account_runtime, require, site_access
from footfall.api.users import iso
from footfall.meta.db import session_scope
from footfall.meta.models import ApiKey, Role, Scope, Site

router = APIRouter(prefix="/api/v1/api-keys", tags=["accounts"])
Owner = Annotated[Principal, Depends(require(Action.KEYS_OWN))]


class NewKey(BaseModel):
    """A key to create: a name, its scopes and optionally the one site it is bound to."""

    name: str = Field(max_length=100)
    scopes: list[str] = Field(max_length=3)
    site: str | None = Field(default=None, max_length=253)


def key_json(key: ApiKey, domain: str | None) -> dict[str, Any]:
    """A key as the API shows it: never the secret, nor its hash."""
    return {
        "id": key.id,
        "name": key.name,
        "prefix": key.prefix,
        "scopes": list(key.scopes),
        "site": domain,
        "created_at": iso(key.created_at),
        "last_used_at": iso(key.last_used_at),
        "revoked_at": iso(key.revoked_at),
    }


def _owner_id(principal: Principal) -> int:
    if principal.user_id is None:  # only users hold KEYS_OWN; kept for the type checker
        raise ApiError(403, "forbidden", "only users have API keys")
    return principal.user_id


@router.post("", status_code=201)
def create(body: NewKey, services: ServicesDep, owner: Owner) -> dict[str, Any]:
    """Create a key for the caller; the answer's `key` is the only time it is ever shown."""
    user_id = _owner_id(owner)
    try:
        scopes = parse_scopes(body.scopes)
    except ValueError as exc:
        raise ApiError(400, "invalid_request", str(exc)) from None
    if Scope.WRITE.value in scopes and owner.role == Role.VIEWER.value:
        raise ApiError(403, "forbidden", "a viewer cannot hold a key with the write scope")
    site = site_access(owner, services, body.site, Action.SITES_READ) if body.site else None
    with session_scope(services.engine) as session:
        try:
            key, raw = create_api_key(
                session, user_id, body.name, scopes, site.id if site else None
            )
        except ValueError as exc:
            raise ApiError(400, "invalid_request", str(exc)) from None
        record(
            session,
            user_id,
            owner.username,
            "api_key.create",
            f"api_key:{key.id}",
            {"scopes": scopes, "site": site.domain if site else None},
        )
        shown = key_json(key, site.domain if site else None)
    return {"status": "success", "key": raw, "api_key": shown}


@router.get("")
def list_keys(services: ServicesDep, owner: Owner) -> dict[str, Any]:
    """The caller's keys, newest first, revoked ones included."""
    query = (
        select(ApiKey, Site.domain)
        .outerjoin(Site, Site.id == ApiKey.site_id)
        .where(ApiKey.user_id == _owner_id(owner))
        .order_by(ApiKey.id.desc())
    )
    with session_scope(services.engine) as session:
        keys = [key_json(key, domain) for key, domain in session.execute(query)]
    return {"status": "success", "api_keys": keys}


@router.delete("/{key_id}")
def revoke(key_id: int, services: ServicesDep, owner: Owner) -> dict[str, Any]:
    """Revoke one of the caller's keys (admins may revoke anyone's); refused from now on."""
    user_id = _owner_id(owner)
    with session_scope(services.engine) as session:
        key = session.get(ApiKey, key_id)
        if key is None or (key.user_id != user_id and owner.role != Role.ADMIN.value):
            raise ApiError(404, "api_key_not_found", f"no API key {key_id} of yours")
        revoke_api_key(session, key_id)
        record(session, user_id, owner.username, "api_key.revoke", f"api_key:{key_id}")
    account_runtime(services).keys.invalidate()
    return {"status": "success"}
