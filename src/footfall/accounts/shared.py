"""Shared links: unguessable read-only URLs for one site's dashboard, optionally with a password."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from footfall.accounts.passwords import hash_password, validate_password, verify_password
from footfall.meta.models import SharedLink, utcnow

_MAX_TOKEN_LENGTH = 64


def create_shared_link(
    session: Session,
    site_id: int,
    name: str,
    *,
    password: str | None = None,
    created_by: int | None = None,
) -> SharedLink:
    """A new link for `site_id` with a 256-bit random token; ValueError for a bad name/password."""
    label = name.strip()
    if not label or len(label) > 100:
        raise ValueError("a shared link needs a name of 1 to 100 characters")
    password_hash = None
    if password:
        validate_password(password)
        password_hash = hash_password(password)
    link = SharedLink(
        site_id=site_id,
        token=secrets.token_urlsafe(32),
        name=label,
        password_hash=password_hash,
        created_by=created_by,
    )
    session.add(link)
    session.flush()
    return link


def live_shared_link(session: Session, token: str) -> SharedLink | None:
    """The unrevoked link with this token, or None."""
    if not token or len(token) > _MAX_TOKEN_LENGTH:
        return None
    link = session.scalars(select(SharedLink).where(SharedLink.token == token)).first()
    if link is None or link.revoked_at is not None:
        return None
    return link


def check_shared_password(link: SharedLink, password: str) -> bool:
    """Whether `password` opens `link` (always true for a link without a password)."""
    if link.password_hash is None:
        return True
    matches, _ = verify_password(link.password_hash, password)
    return matches


def site_shared_links(session: Session, site_id: int) -> list[SharedLink]:
    """The live links of a site, newest first."""
    query = (
        select(SharedLink)
        .where(SharedLink.site_id == site_id, SharedLink.revoked_at.is_(None))
        .order_by(SharedLink.id.desc())
    )
    return list(session.scalars(query))


def revoke_shared_link(
    session: Session, site_id: int, link_id: int, when: datetime | None = None
) -> bool:
    """Revoke a link of `site_id`; False when that site has no such live link."""
    link = session.get(SharedLink, link_id)
    if link is None or link.site_id != site_id or link.revoked_at is not None:
        return False
    link.revoked_at = when or utcnow()
    return True
