"""Rate limits of the public collection endpoints: token buckets per client IP and per site.

A bucket holds up to `burst` tokens and refills at `rate` tokens per second; each event takes
one. An empty bucket means 429 with Retry-After (the seconds until a token is back). Buckets live
in this process; a shared store (Redis, for scale-out collectors) plugs in behind `Limiter`.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger(__name__)

# Idle buckets are forgotten beyond this many keys (an attacker rotating source addresses must
# not grow memory without bound); a forgotten bucket starts full again, as a new one would.
MAX_KEYS = 100_000
# A limit of N events per second lets this many seconds' worth arrive at once.
BURST_SECONDS = 10.0


@dataclass(frozen=True)
class RateLimit:
    """`rate` events per second on average, up to `burst` at once."""

    rate: float
    burst: float

    @classmethod
    def per_second(cls, rate: float) -> RateLimit | None:
        """The limit for a setting in events per second; None (no limit) for 0."""
        if rate <= 0:
            return None
        return cls(rate=rate, burst=max(1.0, rate * BURST_SECONDS))


class Limiter(Protocol):
    """Takes `cost` tokens from `key`'s bucket; 0.0 when allowed, else seconds to wait."""

    def take(self, key: Hashable, cost: float = 1.0) -> float: ...


class TokenBuckets:
    """In-process token buckets, one per key, for code running on one event loop thread."""

    def __init__(
        self,
        limit: RateLimit,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = MAX_KEYS,
    ) -> None:
        self._rate = limit.rate
        self._burst = limit.burst
        self._clock = clock
        self._max_keys = max_keys
        # key -> [tokens left, time of that count]; lists, since they are updated in place.
        self._buckets: dict[Hashable, list[float]] = {}

    def take(self, key: Hashable, cost: float = 1.0) -> float:
        """Take `cost` tokens if the bucket has them (0.0), else the seconds until it will."""
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self._max_keys:
                self._forget_idle(now)
            bucket = self._buckets[key] = [self._burst, now]
            tokens = self._burst
        else:
            tokens = min(self._burst, bucket[0] + (now - bucket[1]) * self._rate)
            bucket[1] = now
        if tokens >= cost:
            bucket[0] = tokens - cost
            return 0.0
        bucket[0] = tokens
        return (cost - tokens) / self._rate

    def __len__(self) -> int:
        return len(self._buckets)

    def _forget_idle(self, now: float) -> None:
        full_after = self._burst / self._rate
        idle = [key for key, (_, seen) in self._buckets.items() if now - seen >= full_after]
        for key in idle:
            del self._buckets[key]
        if len(self._buckets) >= self._max_keys:
            # Every bucket is busy: start over rather than grow (each key gets its burst again).
            log.warning("rate limiter tracks %d busy keys; resetting it", len(self._buckets))
            self._buckets.clear()


@dataclass(frozen=True)
class CollectLimits:
    """The limits the collection endpoints apply; either may be None (not limited)."""

    per_ip: Limiter | None
    per_site: Limiter | None

    @classmethod
    def in_process(
        cls,
        ip_rate: float,
        site_rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> CollectLimits:
        """Limits from two settings in events per second (0 turns that limit off)."""
        ip_limit, site_limit = RateLimit.per_second(ip_rate), RateLimit.per_second(site_rate)
        return cls(
            per_ip=TokenBuckets(ip_limit, clock=clock) if ip_limit else None,
            per_site=TokenBuckets(site_limit, clock=clock) if site_limit else None,
        )

    def ip_wait(self, ip: str) -> float:
        """Seconds this client must wait before its next event (0.0: go ahead)."""
        return self.per_ip.take(ip) if self.per_ip is not None else 0.0

    def site_wait(self, site_ids: Sequence[int], cost: float = 1.0) -> float:
        """Seconds before these sites take `cost` more events each (0.0: go ahead)."""
        per_site = self.per_site
        if per_site is None:
            return 0.0
        if len(site_ids) == 1:  # nearly every request: skip building a set
            return per_site.take(site_ids[0], cost)
        return max((per_site.take(site_id, cost) for site_id in set(site_ids)), default=0.0)


def retry_after(wait: float) -> str:
    """A Retry-After header value: whole seconds, at least 1."""
    return str(max(1, math.ceil(wait)))


RATE_LIMITED = "rate_limited"


def rate_limited_message(scope: str) -> str:
    """The error message of a 429 for a per-`scope` limit (client or site)."""
    return f"too many events from this {scope}; slow down and retry after Retry-After seconds"
