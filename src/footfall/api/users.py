"""Users API (admins only): create, list, read, change and delete users; every change audited."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from footfall.accounts.audit import record
from footfall.accounts.members import granted_sites
from footfall.accounts.passwords import hash_password, validate_password
from footfall.accounts.permissions import Action
from footfall.accounts.tokens import revoke_user_tokens
from footfall.accounts.users import check_email, create_user, parse_role
from footfall.api.deps import ServicesDep
from footfall.api.errors import ApiError
from footfall.api.security import Principal, account_runtime, require
from footfall.meta.db import session_scope
from footfall.meta.models import Role, Site, User

router = APIRouter(prefix="/api/v1/users", tags=["accounts"])
Admin = Annotated[Principal, Depends(require(Action.USERS_MANAGE))]


class NewUser(BaseModel):
    """A user to create."""

    username: str = Field(max_length=64)
    email: str | None = Field(default=None, max_length=254)
    password: str = Field(max_length=1024)
    role: str


class UserChange(BaseModel):
    """Fields to change; omitted ones stay as they are."""

    email: str | None = Field(default=None, max_length=254)
    password: str | None = Field(default=None, max_length=1024)
    role: str | None = None
    disabled: bool | None = None


def iso(moment: datetime | None) -> str | None:
    """A UTC timestamp as ISO 8601 with `Z`."""
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


def user_json(session: Session, user: User) -> dict[str, Any]:
    """A user as the API shows it (never the password hash), with its site grants."""
    grants = granted_sites(session, user.id)
    rows = session.execute(select(Site.id, Site.domain).where(Site.id.in_(grants)))
    domains: dict[int, str] = dict(rows.all())
    return {
        "id": user.id,
        "username": user.username,
        "email": user.email,
        "role": user.role,
        "disabled": user.disabled,
        "created_at": iso(user.created_at),
        "sites": [{"domain": domains[site_id], "role": role} for site_id, role in grants.items()],
    }


def _bad(exc: ValueError) -> ApiError:
    return ApiError(400, "invalid_request", str(exc))


def _get(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise ApiError(404, "user_not_found", f"no user with id {user_id}")
    return user


def _other_admins(session: Session, user_id: int) -> int:
    query = select(func.count()).where(
        User.role == Role.ADMIN.value, User.disabled.is_(False), User.id != user_id
    )
    return session.scalar(query) or 0


@router.post("", status_code=201)
def create(body: NewUser, services: ServicesDep, admin: Admin) -> dict[str, Any]:
    """Create a user (password at least 10 characters, not a common one)."""
    with session_scope(services.engine) as session:
        try:
            user = create_user(session, body.username, body.password, body.role, body.email)
        except ValueError as exc:
            if "already exists" in str(exc):
                raise ApiError(409, "user_exists", str(exc)) from None
            raise _bad(exc) from None
        record(
            session,
            admin.user_id,
            admin.username,
            "user.create",
            f"user:{user.id}",
            {"username": user.username, "role": user.role},
        )
        return {"status": "success", "user_id": str(user.id), "user": user_json(session, user)}


@router.get("")
def list_users(services: ServicesDep, admin: Admin) -> dict[str, Any]:
    """Every user, ordered by username."""
    with session_scope(services.engine) as session:
        users = session.scalars(select(User).order_by(User.username))
        return {"status": "success", "users": [user_json(session, user) for user in users]}


@router.get("/{user_id}")
def read(user_id: int, services: ServicesDep, admin: Admin) -> dict[str, Any]:
    """One user."""
    with session_scope(services.engine) as session:
        return {"status": "success", "user": user_json(session, _get(session, user_id))}


def _apply(session: Session, user: User, body: UserChange) -> dict[str, Any]:
    """Apply a change; returns what changed (never the password) for the audit log."""
    changed: dict[str, Any] = {}
    if body.email is not None:
        user.email = check_email(body.email)
        changed["email"] = user.email
    if body.role is not None:
        role = parse_role(body.role).value
        if user.role == Role.ADMIN.value != role and not _other_admins(session, user.id):
            raise ApiError(409, "last_admin", "the last admin cannot lose the admin role")
        user.role = role
        changed["role"] = role
    if body.disabled is not None:
        if body.disabled and user.role == Role.ADMIN.value and not _other_admins(session, user.id):
            raise ApiError(409, "last_admin", "the last admin cannot be disabled")
        user.disabled = body.disabled
        changed["disabled"] = body.disabled
    if body.password is not None:
        validate_password(body.password)
        user.password_hash = hash_password(body.password)
        changed["password"] = "changed"
    if body.password is not None or body.disabled:
        # A new password or a disabled account ends every session and token held so far.
        revoke_user_tokens(session, user.id)
    return changed


@router.patch("/{user_id}")
def update(user_id: int, body: UserChange, services: ServicesDep, admin: Admin) -> dict[str, Any]:
    """Change a user's email, password, role or disabled flag."""
    with session_scope(services.engine) as session:
        user = _get(session, user_id)
        try:
            changed = _apply(session, user, body)
        except ValueError as exc:
            raise _bad(exc) from None
        record(session, admin.user_id, admin.username, "user.update", f"user:{user.id}", changed)
        session.flush()
        answer = {"status": "success", "user": user_json(session, user)}
    account_runtime(services).keys.invalidate()
    return answer


@router.delete("/{user_id}")
def delete(user_id: int, services: ServicesDep, admin: Admin) -> dict[str, Any]:
    """Delete a user with its grants, keys and sessions (not the last admin)."""
    with session_scope(services.engine) as session:
        user = _get(session, user_id)
        if user.role == Role.ADMIN.value and not _other_admins(session, user.id):
            raise ApiError(409, "last_admin", "the last admin cannot be deleted")
        record(
            session,
            admin.user_id,
            admin.username,
            "user.delete",
            f"user:{user.id}",
            {"username": user.username},
        )
        session.delete(user)
    account_runtime(services).keys.invalidate()
    return {"status": "success"}
