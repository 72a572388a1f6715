"""Users: creation with validated names, roles and passwords, and simple look-ups."""

from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from footfall.accounts.passwords import hash_password, validate_password
from footfall.meta.models import Role, User

_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{1,63}$")
# Deliberately loose: one @, something on each side, a dot in the domain, no spaces.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def validate_username(username: str) -> str:
    """Return `username` when acceptable, else raise ValueError saying what is allowed."""
    if not _USERNAME.match(username):
        raise ValueError(
            "username must be 2 to 64 characters: letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return username


def check_email(email: str | None) -> str | None:
    """The email address stripped (None when blank), or ValueError when it is not one."""
    if email is None or not email.strip():
        return None
    email = email.strip()
    if len(email) > 254 or not _EMAIL.match(email):
        raise ValueError(f"{email!r} is not an email address")
    return email


def parse_role(role: str) -> Role:
    """The Role named `role`, or ValueError listing the roles."""
    try:
        return Role(role.strip().lower())
    except ValueError:
        names = ", ".join(member.value for member in Role)
        raise ValueError(f"unknown role {role!r}: use one of {names}") from None


def create_user(
    session: Session, username: str, password: str, role: str, email: str | None = None
) -> User:
    """Add a user with an argon2id password hash; raises ValueError for any invalid field."""
    validate_username(username)
    checked_role = parse_role(role)
    validate_password(password)
    email = check_email(email)
    if get_user(session, username) is not None:
        raise ValueError(f"user {username} already exists")
    user = User(
        username=username,
        email=email,
        password_hash=hash_password(password),
        role=checked_role.value,
    )
    session.add(user)
    try:
        session.flush()
    except IntegrityError as exc:
        # Another process created the same username between our check and our insert.
        raise ValueError(f"user {username} already exists") from exc
    return user


def get_user(session: Session, username: str) -> User | None:
    """The user with exactly this username, or None."""
    return session.scalars(select(User).where(User.username == username)).first()


def count_users(session: Session) -> int:
    """How many users exist (disabled ones included)."""
    return session.scalar(select(func.count()).select_from(User)) or 0
