"""Login throttling: failed logins per IP and per username earn lockouts that double each time.

Counters live in the metadata database, so every API process and restarts see the same ones.
Keys are HMACs of the IP or lower-cased username: the table never holds a raw IP address.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from footfall.meta.db import session_scope
from footfall.meta.models import LoginThrottle, utcnow


@dataclass(frozen=True)
class ThrottlePolicy:
    """How many failures are free, how long the first lockout is, and its ceiling."""

    free_failures: int
    first_lockout_s: float
    max_lockout_s: float
    # Failures older than this are forgotten, so a typo last week does not count today.
    forget_after_s: float = 3600.0

    def lockout_s(self, failures: int) -> float:
        """The lockout earned by `failures` consecutive failures (0 while under the free count)."""
        over = failures - self.free_failures - 1
        if over < 0:
            return 0.0
        return float(min(self.max_lockout_s, self.first_lockout_s * 2.0 ** min(over, 30)))


# Usernames are the target of guessing; an IP may host many honest users behind one NAT.
USERNAME_POLICY = ThrottlePolicy(free_failures=5, first_lockout_s=2.0, max_lockout_s=900.0)
IP_POLICY = ThrottlePolicy(free_failures=20, first_lockout_s=2.0, max_lockout_s=900.0)


class LoginThrottler:
    """Checks and records login attempts; `retry_after` says how long a caller must wait."""

    def __init__(
        self,
        engine: Engine,
        secret: str,
        *,
        ip_policy: ThrottlePolicy = IP_POLICY,
        username_policy: ThrottlePolicy = USERNAME_POLICY,
    ) -> None:
        self._engine = engine
        self._secret = secret.encode()
        self._policies = {"ip": ip_policy, "user": username_policy}

    def _keys(self, ip: str, username: str) -> list[tuple[str, ThrottlePolicy]]:
        keys = []
        for kind, value in (("ip", ip), ("user", username.strip().lower())):
            digest = hmac.new(self._secret, f"{kind}:{value}".encode(), hashlib.sha256)
            keys.append((digest.hexdigest(), self._policies[kind]))
        return keys

    def retry_after(self, ip: str, username: str, *, now: datetime | None = None) -> float:
        """Seconds until this IP and username may try again; 0 when they may now."""
        moment = now or utcnow()
        wait = 0.0
        with session_scope(self._engine) as session:
            for key, _policy in self._keys(ip, username):
                row = session.get(LoginThrottle, key)
                if row is not None and row.locked_until is not None and row.locked_until > moment:
                    wait = max(wait, (row.locked_until - moment).total_seconds())
        return wait

    def failed(self, ip: str, username: str, *, now: datetime | None = None) -> float:
        """Record a failed attempt; returns the lockout it earned, in seconds (0 for none)."""
        moment = now or utcnow()
        longest = 0.0
        for key, policy in self._keys(ip, username):
            longest = max(longest, self._count(key, policy, moment))
        return longest

    def succeeded(self, ip: str, username: str) -> None:
        """Forget the username's failures (the IP's stay: one good account must not reset them)."""
        key, _ = self._keys(ip, username)[1]
        with session_scope(self._engine) as session:
            row = session.get(LoginThrottle, key)
            if row is not None:
                session.delete(row)

    def _count(self, key: str, policy: ThrottlePolicy, moment: datetime) -> float:
        try:
            with session_scope(self._engine) as session:
                row = session.get(LoginThrottle, key)
                if row is None:
                    row = LoginThrottle(key=key, failures=0, last_failure_at=moment)
                    session.add(row)
                elif (moment - row.last_failure_at).total_seconds() > policy.forget_after_s:
                    row.failures = 0
                row.failures += 1
                row.last_failure_at = moment
                lockout = policy.lockout_s(row.failures)
                if lockout:
                    row.locked_until = moment + timedelta(seconds=lockout)
                return lockout
        except IntegrityError:
            # A concurrent first failure for the same key inserted the row; count on top of it.
            return self._count(key, policy, moment)
