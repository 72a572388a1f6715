"""POST /api/v1/authenticate (username and password for a bearer token) and token logout."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from footfall.accounts.login import LockedOut, check_login
from footfall.accounts.permissions import Action
from footfall.accounts.tokens import BEARER, issue_token, revoke_token
from footfall.api.deps import Services, ServicesDep
from footfall.api.errors import ApiError
from footfall.api.security import (
    Principal,
    account_runtime,
    client_ip,
    locked_out_error,
    public,
    require,
)
from footfall.meta.db import session_scope

router = APIRouter(prefix="/api/v1", tags=["accounts"])


class Credentials(BaseModel):
    """A user's username and password."""

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


def _issue(services: Services, ip: str, credentials: Credentials) -> dict[str, Any]:
    try:
        found = check_login(
            services.engine,
            account_runtime(services).throttler,
            ip,
            credentials.username,
            credentials.password,
        )
    except LockedOut as exc:
        raise locked_out_error(exc) from None
    if found is None:
        raise ApiError(401, "invalid_credentials", "wrong username or password")
    with session_scope(services.engine) as session:
        row, raw = issue_token(
            session,
            services.settings.secret_key,
            found.user_id,
            kind=BEARER,
            lifetime_s=services.settings.token_lifetime,
        )
        expires_at = row.expires_at
    return {
        "status": "success",
        "token": raw,
        "token_type": "Bearer",
        "expires_at": expires_at.isoformat().replace("+00:00", "Z"),
    }


@router.post("/authenticate", dependencies=[Depends(public())])
async def authenticate(
    credentials: Credentials, request: Request, services: ServicesDep
) -> dict[str, Any]:
    """Exchange a username and password for a bearer token (24 h unless revoked earlier)."""
    return await run_in_threadpool(_issue, services, client_ip(request, services), credentials)


@router.post("/logout")
def logout(
    request: Request,
    services: ServicesDep,
    principal: Annotated[Principal, Depends(require(Action.KEYS_OWN))],
) -> dict[str, Any]:
    """Revoke the bearer token this request carries (it is refused from now on)."""
    if principal.via != "token":
        raise ApiError(400, "not_a_token", "log out by sending the bearer token to revoke")
    raw = request.headers["authorization"].partition(" ")[2].strip()
    with session_scope(services.engine) as session:
        revoke_token(session, raw)
    return {"status": "success"}
