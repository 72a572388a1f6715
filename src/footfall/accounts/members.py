"""Per-site grants: which users may see which sites, and with which role there."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from footfall.accounts.users import parse_role
from footfall.meta.models import Site, SiteMember, User


def grant_site(session: Session, site_id: int, user_id: int, role: str) -> SiteMember:
    """Grant (or change) `user_id`'s role on `site_id`; ValueError for unknown ids or roles."""
    checked = parse_role(role)
    if session.get(Site, site_id) is None:
        raise ValueError(f"no site with id {site_id}")
    if session.get(User, user_id) is None:
        raise ValueError(f"no user with id {user_id}")
    member = session.scalars(
        select(SiteMember).where(SiteMember.site_id == site_id, SiteMember.user_id == user_id)
    ).first()
    if member is None:
        member = SiteMember(site_id=site_id, user_id=user_id, role=checked.value)
        session.add(member)
    else:
        member.role = checked.value
    session.flush()
    return member


def revoke_site(session: Session, site_id: int, user_id: int) -> bool:
    """Remove a user's grant on a site; False when there was none."""
    result = session.execute(
        delete(SiteMember).where(SiteMember.site_id == site_id, SiteMember.user_id == user_id)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def grant_role(session: Session, site_id: int, user_id: int) -> str | None:
    """The role granted to `user_id` on `site_id`, or None when the site is not granted."""
    return session.scalar(
        select(SiteMember.role).where(SiteMember.site_id == site_id, SiteMember.user_id == user_id)
    )


def granted_sites(session: Session, user_id: int) -> dict[int, str]:
    """Every site granted to `user_id`, as {site id: role}."""
    rows = session.execute(
        select(SiteMember.site_id, SiteMember.role).where(SiteMember.user_id == user_id)
    )
    return dict(rows.all())


def site_members(session: Session, site_id: int) -> list[tuple[SiteMember, User]]:
    """The grants on a site with their users, ordered by username."""
    query = (
        select(SiteMember, User)
        .join(User, User.id == SiteMember.user_id)
        .where(SiteMember.site_id == site_id)
        .order_by(User.username)
    )
    return [(member, user) for member, user in session.execute(query)]
