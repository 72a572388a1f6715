"""GET /api/v1/audit: the audit log of administrative changes, newest first, for admins."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from footfall.accounts.audit import entries
from footfall.accounts.permissions import Action
from footfall.api.deps import ServicesDep
from footfall.api.security import Principal, require
from footfall.api.users import iso
from footfall.meta.db import session_scope

router = APIRouter(prefix="/api/v1", tags=["accounts"])


@router.get("/audit")
def audit_log(
    services: ServicesDep,
    admin: Annotated[Principal, Depends(require(Action.AUDIT_READ))],
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before: Annotated[int | None, Query(ge=1, description="id of the last entry seen")] = None,
) -> dict[str, Any]:
    """Who changed what, and when; page with `before` = the last id of the previous page."""
    with session_scope(services.engine) as session:
        found = [
            {
                "id": entry.id,
                "at": iso(entry.at),
                "actor": entry.actor,
                "actor_id": entry.actor_id,
                "action": entry.action,
                "target": entry.target,
                "details": entry.details,
            }
            for entry in entries(session, limit=limit, before_id=before)
        ]
    return {"status": "success", "entries": found}
