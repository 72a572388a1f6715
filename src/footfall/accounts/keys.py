"""API keys: created once and shown once, stored only as a hash, verified from a short cache.

A raw key reads `ff_<prefix>_<secret>`. The prefix is the public part used to find the row; the
secret is 32 random bytes, so a plain SHA-256 of the whole key is as strong as a slow hash here.

Every verifier of a process over one metadata database (the collector's and the API's) is
cleared by `invalidate()` on any of them, after a key is revoked or its user disabled or
deleted. In scale-out, `announce_key_changes` hooks the Redis invalidation bus in, so that the
other processes clear theirs too (`forget_api_keys`); their ttl bounds a lost message.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from footfall.meta.db import session_scope
from footfall.meta.models import ApiKey, Scope, Site, User, utcnow

log = logging.getLogger(__name__)

KEY_MARKER = "ff"
_PREFIX = re.compile(r"^[0-9a-f]{16}$")
_MAX_RAW_LENGTH = 128
# last_used_at is a hint for humans; writing it on every request would make reads cost writes.
TOUCH_INTERVAL_S = 60.0


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """What a verified key grants: whose it is, its scopes, and the one site it may be bound to."""

    id: int
    user_id: int
    scopes: tuple[str, ...]
    site_id: int | None

    def allows(self, scope: Scope | str) -> bool:
        """Whether this key carries `scope` (ingest, read or write)."""
        return str(scope) in self.scopes


def parse_scopes(scopes: Iterable[str]) -> list[str]:
    """The given scopes, checked, de-duplicated and sorted; ValueError when empty or unknown."""
    known = {scope.value for scope in Scope}
    chosen = sorted({scope.strip().lower() for scope in scopes})
    if not chosen:
        raise ValueError("an API key needs at least one scope: ingest, read or write")
    unknown = [scope for scope in chosen if scope not in known]
    if unknown:
        raise ValueError(f"unknown scope {unknown[0]!r}: use ingest, read or write")
    return chosen


def hash_key(raw: str) -> str:
    """The stored form of a raw key: hex SHA-256 of the whole key."""
    return hashlib.sha256(raw.encode()).hexdigest()


def create_api_key(
    session: Session, user_id: int, name: str, scopes: Iterable[str], site_id: int | None = None
) -> tuple[ApiKey, str]:
    """Create a key for `user_id`; returns the row and the raw key, which is never stored."""
    label = name.strip()
    if not label or len(label) > 100:
        raise ValueError("an API key needs a name of 1 to 100 characters")
    scope_list = parse_scopes(scopes)
    if session.get(User, user_id) is None:
        raise ValueError(f"no user with id {user_id}")
    if site_id is not None and session.get(Site, site_id) is None:
        raise ValueError(f"no site with id {site_id}")
    prefix = secrets.token_hex(8)
    raw = f"{KEY_MARKER}_{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey(
        prefix=prefix,
        key_hash=hash_key(raw),
        name=label,
        scopes=scope_list,
        site_id=site_id,
        user_id=user_id,
    )
    session.add(key)
    session.flush()
    return key, raw


def revoke_api_key(session: Session, key_id: int, when: datetime | None = None) -> bool:
    """Mark a key revoked; False when there is no such key. Once committed, call a verifier's
    `invalidate()` so that no process keeps accepting the key from its cache."""
    key = session.get(ApiKey, key_id)
    if key is None:
        return False
    if key.revoked_at is None:
        key.revoked_at = when or utcnow()
    return True


def _split(raw: str) -> str | None:
    """The prefix of a well-formed raw key, else None (malformed keys never reach the database)."""
    if len(raw) > _MAX_RAW_LENGTH:
        return None
    marker, _, rest = raw.partition("_")
    prefix, _, secret = rest.partition("_")
    if marker != KEY_MARKER or not secret or not _PREFIX.match(prefix):
        return None
    return prefix


@dataclass(slots=True)
class _Entry:
    info: KeyInfo | None
    expires_at: float


class _ProcessCaches:
    """The verifiers of this process by metadata database, and who hears of their changes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._verifiers: weakref.WeakKeyDictionary[Engine, weakref.WeakSet[ApiKeyVerifier]] = (
            weakref.WeakKeyDictionary()
        )
        self._announcers: weakref.WeakKeyDictionary[Engine, Callable[[], None]] = (
            weakref.WeakKeyDictionary()
        )

    def add(self, engine: Engine, verifier: ApiKeyVerifier) -> None:
        with self._lock:
            self._verifiers.setdefault(engine, weakref.WeakSet()).add(verifier)

    def forget(self, engine: Engine) -> None:
        with self._lock:
            verifiers = list(self._verifiers.get(engine, ()))
        for verifier in verifiers:
            verifier.forget()

    def set_announcer(self, engine: Engine, announce: Callable[[], None]) -> None:
        with self._lock:
            self._announcers[engine] = announce

    def announcer(self, engine: Engine) -> Callable[[], None] | None:
        with self._lock:
            return self._announcers.get(engine)


_caches = _ProcessCaches()


def forget_api_keys(engine: Engine) -> None:
    """Clear every API-key cache of this process over `engine` (another process changed keys)."""
    _caches.forget(engine)


def announce_key_changes(engine: Engine, announce: Callable[[], None]) -> None:
    """Call `announce` whenever this process invalidates its key caches over `engine` (the
    scale-out roles publish on the invalidation bus; the receivers call `forget_api_keys`)."""
    _caches.set_announcer(engine, announce)


class ApiKeyVerifier:
    """Checks raw keys; a key seen within `ttl_s` is answered from memory without a database read.

    Revocation, deletion and disabled users take effect at once after `invalidate()`, in every
    verifier of this process over the same database and, through the hook of
    `announce_key_changes`, in the other processes; otherwise within `ttl_s`. Unknown keys are
    cached too, in a bounded table, so guessing does not turn into database load. `verify` may
    read the database on a cold key: from async code, call it in a worker thread.
    """

    def __init__(
        self,
        engine: Engine,
        ttl_s: float = 30.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = 10_000,
    ) -> None:
        self._engine = engine
        self._ttl_s = ttl_s
        self._clock = clock
        self._max_entries = max_entries
        self._cache: OrderedDict[str, _Entry] = OrderedDict()
        self._touched: dict[int, float] = {}
        self._lock = threading.Lock()
        # Bumped by every forget(): a database answer read before it is not cached after it.
        self._generation = 0
        _caches.add(engine, self)

    def verify(self, raw_key: str) -> KeyInfo | None:
        """The grants of a valid, unrevoked key of an enabled user, else None."""
        prefix = _split(raw_key)
        if prefix is None:
            return None
        digest = hash_key(raw_key)
        now = self._clock()
        with self._lock:
            entry = self._cache.get(digest)
            if entry is not None and entry.expires_at > now:
                self._cache.move_to_end(digest)
                info = entry.info
            else:
                entry = None
            generation = self._generation
        if entry is None:
            info = self._load(prefix, digest)
            self._remember(digest, _Entry(info, now + self._ttl_s), generation)
        if info is not None:
            self._touch(info.id, now)
        return info

    def invalidate(self) -> None:
        """After this process revoked or changed keys: clear every key cache of this process
        over the same database, and tell the other processes (when announce_key_changes set a
        hook for it)."""
        _caches.forget(self._engine)
        announce = _caches.announcer(self._engine)
        if announce is not None:
            announce()

    def forget(self) -> None:
        """Forget every cached answer of this verifier (and any being read right now)."""
        with self._lock:
            self._cache.clear()
            self._generation += 1

    def _remember(self, digest: str, entry: _Entry, generation: int) -> None:
        with self._lock:
            if generation != self._generation:
                return  # read before a change was announced: maybe stale, ask again next time
            self._cache[digest] = entry
            self._cache.move_to_end(digest)
            while len(self._cache) > self._max_entries:
                self._cache.popitem(last=False)

    def _load(self, prefix: str, digest: str) -> KeyInfo | None:
        query = (
            select(ApiKey, User.disabled)
            .join(User, User.id == ApiKey.user_id)
            .where(ApiKey.prefix == prefix)
        )
        with Session(self._engine) as session:
            row = session.execute(query).first()
            if row is None:
                return None
            key, disabled = row
            if not hmac.compare_digest(key.key_hash, digest):
                return None
            if key.revoked_at is not None or disabled:
                return None
            return KeyInfo(
                id=key.id,
                user_id=key.user_id,
                scopes=tuple(sorted(key.scopes)),
                site_id=key.site_id,
            )

    def _touch(self, key_id: int, now: float) -> None:
        with self._lock:
            last = self._touched.get(key_id)
            if last is not None and now - last < TOUCH_INTERVAL_S:
                return
            self._touched[key_id] = now
        try:
            with session_scope(self._engine) as session:
                session.execute(
                    update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=utcnow())
                )
        except SQLAlchemyError:
            # A missed usage stamp must not turn a valid key away.
            log.warning("could not record last use of API key %s", key_id, exc_info=True)
