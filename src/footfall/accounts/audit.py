"""The audit log: every administrative change, with who made it and when, readable by admins."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from footfall.meta.models import AuditEntry


def record(
    session: Session,
    actor_id: int | None,
    actor: str,
    action: str,
    target: str,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Add one entry in the caller's transaction, so it is kept exactly when the change is."""
    entry = AuditEntry(
        actor_id=actor_id,
        actor=actor[:64],
        action=action[:64],
        target=target[:300],
        details=details or {},
    )
    session.add(entry)
    return entry


def entries(
    session: Session, *, limit: int = 100, before_id: int | None = None
) -> list[AuditEntry]:
    """The newest entries first; pass the last id seen as `before_id` for the next page."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if before_id is not None:
        query = query.where(AuditEntry.id < before_id)
    return list(session.scalars(query))
