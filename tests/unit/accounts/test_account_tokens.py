"""Bearer tokens and sessions: signed, expiring, hashed at rest, revocable, user-bound."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, select

from footfall.accounts.tokens import (
    BEARER,
    SESSION,
    csrf_matches,
    csrf_token,
    issue_token,
    revoke_token,
    revoke_user_tokens,
    token_hash,
    verify_token,
)
from footfall.accounts.users import create_user
from footfall.meta.db import session_scope
from footfall.meta.models import AuthToken, utcnow

SECRET = "test secret"


def _user(engine: Engine, name: str = "alice") -> int:
    with session_scope(engine) as session:
        return create_user(session, name, "a long and unusual passphrase", "analyst").id


def test_a_token_verifies_until_it_expires(meta_engine: Engine) -> None:
    user_id = _user(meta_engine)
    now = utcnow()
    with session_scope(meta_engine) as session:
        row, raw = issue_token(session, SECRET, user_id, lifetime_s=60, now=now)
        assert row.token_hash == token_hash(raw) and raw not in str(row.token_hash)
    with session_scope(meta_engine) as session:
        info = verify_token(session, SECRET, raw, now=now + timedelta(seconds=59))
        assert info is not None and (info.username, info.role) == ("alice", "analyst")
        assert verify_token(session, SECRET, raw, now=now + timedelta(seconds=61)) is None
        stored = session.scalars(select(AuthToken.token_hash)).all()
    assert stored == [token_hash(raw)]


def test_kind_secret_and_signature_all_matter(meta_engine: Engine) -> None:
    user_id = _user(meta_engine)
    with session_scope(meta_engine) as session:
        _, bearer = issue_token(session, SECRET, user_id, kind=BEARER)
        _, cookie = issue_token(session, SECRET, user_id, kind=SESSION)
    with session_scope(meta_engine) as session:
        assert verify_token(session, SECRET, bearer) is not None
        assert verify_token(session, SECRET, bearer, kind=SESSION) is None
        assert verify_token(session, SECRET, cookie, kind=SESSION) is not None
        assert verify_token(session, "another secret", bearer) is None
        assert verify_token(session, SECRET, bearer[:-2]) is None
        assert verify_token(session, SECRET, "") is None
        assert verify_token(session, SECRET, "x" * 500) is None


def test_revocation_one_and_all(meta_engine: Engine) -> None:
    user_id = _user(meta_engine)
    with session_scope(meta_engine) as session:
        _, first = issue_token(session, SECRET, user_id)
        _, second = issue_token(session, SECRET, user_id)
        _, third = issue_token(session, SECRET, user_id, kind=SESSION)
    with session_scope(meta_engine) as session:
        assert revoke_token(session, first)
        assert not revoke_token(session, first)
    with session_scope(meta_engine) as session:
        assert verify_token(session, SECRET, first) is None
        assert verify_token(session, SECRET, second) is not None
        assert revoke_user_tokens(session, user_id) == 2
    with session_scope(meta_engine) as session:
        assert verify_token(session, SECRET, second) is None
        assert verify_token(session, SECRET, third, kind=SESSION) is None


def test_csrf_token_is_bound_to_the_session() -> None:
    token = csrf_token(SECRET, "session-a")
    assert csrf_matches(SECRET, "session-a", token)
    assert not csrf_matches(SECRET, "session-b", token)
    assert not csrf_matches("other", "session-a", token)
