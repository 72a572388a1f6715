"""Users: validation of name, role, password and email; uniqueness; counting."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from footfall.accounts.passwords import verify_password
from footfall.accounts.users import count_users, create_user, get_user
from footfall.meta.db import session_scope


def test_create_user_stores_a_hash_and_the_role(meta_engine: Engine) -> None:
    with session_scope(meta_engine) as session:
        user = create_user(session, "alice", "a long password", "analyst", email="a@example.com")
    with session_scope(meta_engine) as session:
        stored = get_user(session, "alice")
        assert stored is not None
        assert stored.id == user.id
        assert stored.role == "analyst"
        assert stored.email == "a@example.com"
        assert stored.disabled is False
        assert stored.created_at.tzinfo is not None
        assert "a long password" not in stored.password_hash
        assert verify_password(stored.password_hash, "a long password")[0]
        assert count_users(session) == 1


@pytest.mark.parametrize(
    ("username", "password", "role", "email", "message"),
    [
        ("a", "a long password", "admin", None, "username must be"),
        ("bad name", "a long password", "admin", None, "username must be"),
        ("-dash", "a long password", "admin", None, "username must be"),
        ("bob", "short", "admin", None, "at least 10"),
        ("bob", "a long password", "owner", None, "unknown role 'owner'"),
        ("bob", "a long password", "viewer", "not-an-email", "is not an email"),
    ],
)
def test_invalid_fields_are_rejected(
    meta_engine: Engine, username: str, password: str, role: str, email: str | None, message: str
) -> None:
    with session_scope(meta_engine) as session:
        with pytest.raises(ValueError, match=message):
            create_user(session, username, password, role, email=email)
        assert count_users(session) == 0


def test_duplicate_username_is_rejected(meta_engine: Engine) -> None:
    with session_scope(meta_engine) as session:
        create_user(session, "carol", "a long password", "viewer")
    with session_scope(meta_engine) as session, pytest.raises(ValueError, match="already exists"):
        create_user(session, "carol", "another password", "admin")
    with session_scope(meta_engine) as session:
        assert count_users(session) == 1
