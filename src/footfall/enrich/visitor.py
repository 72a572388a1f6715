"""Cookieless identifiers: keyed BLAKE2b hashes for visitors, users and caller-given sessions.

Each hash is keyed with a secret (the daily salt for visitors, the instance secret otherwise),
personalised per purpose so that the three kinds never collide by construction, and fed the
site id plus length-prefixed UTF-8 fields, so that no two different inputs share a byte stream
("ab" + "c" and "a" + "bc" differ). Results are never 0, which the stores read as "none":
visitor and user ids use all 64 bits (UInt64), session ids 63 bits like the sessionizer's random
ones, so every session id also fits a signed 64-bit integer.
"""

from __future__ import annotations

from functools import lru_cache
from hashlib import blake2b

__all__ = ["session_hash", "user_hash", "visitor_hash", "visitor_hashes"]

_MAX_KEY_BYTES = 64  # BLAKE2b's key size limit
_MASK_63 = (1 << 63) - 1


def _key(secret: bytes) -> bytes:
    if not secret:
        raise ValueError("a hash key (salt or secret) must not be empty")
    if len(secret) <= _MAX_KEY_BYTES:
        return secret
    # Longer secrets are condensed rather than cut, so that every byte of them counts.
    return blake2b(secret, digest_size=_MAX_KEY_BYTES, person=b"footfall.key").digest()


def _digest(secret: bytes, person: bytes, site_id: int, fields: tuple[str, ...]) -> int:
    hasher = blake2b(digest_size=8, key=_key(secret), person=person)
    hasher.update(site_id.to_bytes(8, "big", signed=True))
    for field in fields:
        data = field.encode("utf-8", "surrogatepass")
        hasher.update(len(data).to_bytes(4, "big"))
        hasher.update(data)
    return int.from_bytes(hasher.digest(), "big")


def visitor_hash(salt: bytes, site_id: int, ip: str, user_agent: str) -> int:
    """The cookieless visitor id: hash of (salt, site, IP, User-Agent), 1..2**64-1."""
    return _digest(salt, b"footfall.visitor", site_id, (ip, user_agent)) or 1


@lru_cache(maxsize=1 << 13)
def visitor_hashes(
    today: bytes, yesterday: bytes | None, site_id: int, ip: str, user_agent: str
) -> tuple[int, int | None]:
    """(visitor id under today's salt, the same under yesterday's or None), cached.

    A visitor sends several events from one address and browser (pages, then engagement and
    custom events; an access log holds a page's every request), and two keyed hashes cost
    about as much as the rest of the collector's steps together. The cache lives in memory
    only (8,192 recent visitors, about 4 MB) and is keyed by the salts, so a new day's salt
    never reads yesterday's answers.
    """
    current = visitor_hash(today, site_id, ip, user_agent)
    previous = visitor_hash(yesterday, site_id, ip, user_agent) if yesterday else None
    return current, previous


def user_hash(secret: bytes, site_id: int, user_id: str) -> int:
    """The visitor id of a caller-identified user: hash of (secret, site, user_id), 1..2**64-1."""
    return _digest(secret, b"footfall.user", site_id, (user_id,)) or 1


def session_hash(secret: bytes, site_id: int, session_key: str) -> int:
    """The session id of a caller-given session key: hash of (secret, site, key), 1..2**63-1."""
    return (_digest(secret, b"footfall.session", site_id, (session_key,)) & _MASK_63) or 1
