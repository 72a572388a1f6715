"""Bearer tokens and dashboard sessions: signed, expiring, stored only as a hash, revocable.

A raw token reads `<kind>.<random id>.<expiry epoch>.<signature>`, the signature an HMAC of the
rest under the instance secret. A forged or expired token is refused before any database read;
a genuine one must also have an unrevoked row whose user is enabled.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from footfall.meta.models import AuthToken, User, utcnow

BEARER = "bearer"
SESSION = "session"
_MARKERS = {BEARER: "fft", SESSION: "ffs"}
_KINDS = {marker: kind for kind, marker in _MARKERS.items()}

# Proposed setting FOOTFALL_TOKEN_LIFETIME (seconds); read from here until settings carry it.
TOKEN_LIFETIME_S = 24 * 3600
# Dashboard sessions last longer than API tokens: people keep a dashboard tab open for days.
SESSION_LIFETIME_S = 7 * 24 * 3600
_MAX_RAW_LENGTH = 200


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """Whom a verified token or session belongs to, and until when it is good."""

    token_id: int
    kind: str
    user_id: int
    username: str
    role: str
    expires_at: datetime


def token_hash(raw: str) -> str:
    """The stored form of a raw token: hex SHA-256 (the token carries 128 random bits)."""
    return hashlib.sha256(raw.encode()).hexdigest()


def _sign(secret: str, message: str) -> str:
    digest = hmac.new(secret.encode(), message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def issue_token(
    session: Session,
    secret: str,
    user_id: int,
    *,
    kind: str = BEARER,
    lifetime_s: int | None = None,
    now: datetime | None = None,
) -> tuple[AuthToken, str]:
    """Create a token (or session) for `user_id`; returns the row and the raw token."""
    if kind not in _MARKERS:
        raise ValueError(f"unknown token kind {kind!r}")
    issued = now or utcnow()
    default = TOKEN_LIFETIME_S if kind == BEARER else SESSION_LIFETIME_S
    expires_at = issued + timedelta(seconds=lifetime_s if lifetime_s is not None else default)
    body = f"{_MARKERS[kind]}.{secrets.token_urlsafe(16)}.{int(expires_at.timestamp())}"
    raw = f"{body}.{_sign(secret, body)}"
    row = AuthToken(
        token_hash=token_hash(raw),
        kind=kind,
        user_id=user_id,
        created_at=issued,
        expires_at=expires_at,
    )
    session.add(row)
    session.flush()
    return row, raw


def _checked_kind(secret: str, raw: str, now: datetime) -> str | None:
    """The kind of a well-formed, correctly signed, unexpired token, else None."""
    if len(raw) > _MAX_RAW_LENGTH:
        return None
    body, _, signature = raw.rpartition(".")
    parts = body.split(".")
    if len(parts) != 3 or parts[0] not in _KINDS or not parts[2].isdigit():
        return None
    if not hmac.compare_digest(_sign(secret, body), signature):
        return None
    if int(parts[2]) <= now.timestamp():
        return None
    return _KINDS[parts[0]]


def verify_token(
    session: Session, secret: str, raw: str, *, kind: str = BEARER, now: datetime | None = None
) -> TokenInfo | None:
    """Who `raw` authenticates, or None when forged, expired, revoked or of a disabled user."""
    moment = now or utcnow()
    if _checked_kind(secret, raw, moment) != kind:
        return None
    query = (
        select(AuthToken, User)
        .join(User, User.id == AuthToken.user_id)
        .where(AuthToken.token_hash == token_hash(raw), AuthToken.kind == kind)
    )
    row = session.execute(query).first()
    if row is None:
        return None
    token, user = row
    if token.revoked_at is not None or token.expires_at <= moment or user.disabled:
        return None
    return TokenInfo(token.id, kind, user.id, user.username, user.role, token.expires_at)


def revoke_token(session: Session, raw: str, *, now: datetime | None = None) -> bool:
    """Revoke the token or session `raw`; False when no such live token exists."""
    result = session.execute(
        update(AuthToken)
        .where(AuthToken.token_hash == token_hash(raw), AuthToken.revoked_at.is_(None))
        .values(revoked_at=now or utcnow())
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def revoke_user_tokens(session: Session, user_id: int, *, now: datetime | None = None) -> int:
    """Revoke every live token and session of a user (password change, disabling); the count."""
    result = session.execute(
        update(AuthToken)
        .where(AuthToken.user_id == user_id, AuthToken.revoked_at.is_(None))
        .values(revoked_at=now or utcnow())
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def csrf_token(secret: str, session_raw: str) -> str:
    """The CSRF token tied to one dashboard session (derived, so nothing extra is stored)."""
    return _sign(secret, f"csrf:{token_hash(session_raw)}")


def csrf_matches(secret: str, session_raw: str, candidate: str) -> bool:
    """Whether `candidate` is this session's CSRF token (constant-time comparison)."""
    return hmac.compare_digest(csrf_token(secret, session_raw), candidate)


def sign_value(secret: str, purpose: str, value: str) -> str:
    """An HMAC tag of `value` for `purpose` (e.g. proof that a shared link's password was given)."""
    return _sign(secret, f"{purpose}:{value}")
