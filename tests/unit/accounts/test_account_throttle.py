"""Login throttling: free failures, doubling lockouts, forgetting, per-IP and per-username keys."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, select

from footfall.accounts.throttle import LoginThrottler, ThrottlePolicy
from footfall.meta.db import session_scope
from footfall.meta.models import LoginThrottle, utcnow

POLICY = ThrottlePolicy(free_failures=2, first_lockout_s=4.0, max_lockout_s=30.0)


def test_policy_back_off_doubles_up_to_its_ceiling() -> None:
    assert [POLICY.lockout_s(n) for n in range(1, 8)] == [0, 0, 4, 8, 16, 30, 30]


def test_lockout_is_per_username_and_per_ip(meta_engine: Engine) -> None:
    loose = ThrottlePolicy(free_failures=100, first_lockout_s=1, max_lockout_s=1)
    throttler = LoginThrottler(meta_engine, "s", ip_policy=loose, username_policy=POLICY)
    now = utcnow()
    for _ in range(2):
        assert throttler.failed("10.0.0.1", "Alice", now=now) == 0
    assert throttler.failed("10.0.0.2", "alice", now=now) == 4.0  # usernames ignore case
    assert throttler.retry_after("10.0.0.3", "ALICE", now=now) == 4.0
    assert throttler.retry_after("10.0.0.1", "bob", now=now) == 0
    assert throttler.retry_after("10.0.0.1", "alice", now=now + timedelta(seconds=5)) == 0


def test_failures_are_forgotten_and_success_resets_the_username(meta_engine: Engine) -> None:
    throttler = LoginThrottler(meta_engine, "s", ip_policy=POLICY, username_policy=POLICY)
    now = utcnow()
    for _ in range(2):
        throttler.failed("10.0.0.1", "carol", now=now)
    later = now + timedelta(seconds=POLICY.forget_after_s + 1)
    assert throttler.failed("10.0.0.1", "carol", now=later) == 0  # counting starts again
    throttler.succeeded("10.0.0.1", "carol")
    with session_scope(meta_engine) as session:
        rows = session.scalars(select(LoginThrottle)).all()
        # The IP's count stays; no raw address or name is stored.
        assert [row.failures for row in rows] == [1]
        assert all("10.0.0.1" not in row.key and "carol" not in row.key for row in rows)
