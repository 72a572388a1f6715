"""The sessionizer: which visit (session_id) each event belongs to, in bounded memory.

A visitor's events with gaps under the timeout share a session id, a random non-zero 63-bit
integer drawn when a visit starts. Liveness is judged in event time: an event joins the
visitor's last visit when it falls less than a timeout after that visit's last event, or less
than a timeout before its first (late arrivals from slow clients or retried batches). An event
even older than that starts a visit of its own, which is not remembered (the later visit stays
the visitor's current one). A caller-given session key takes precedence: its hash is the
session id, and the visitor's later events without a key continue it under the usual rule.

Visits across midnight survive the daily salt change: when the visitor id under today's salt
has no live visit but the id under yesterday's salt has one, the event continues that visit and
is stored under yesterday's id, so one visit never has two visitor ids.

Memory stays bounded two ways. Entries sit in least-recently-touched order and are evicted
from the old end once untouched for two timeouts of processing time (a monotonic clock, so a
replay of old events or one event from a wrong clock neither keeps nor evicts anything early);
eviction is amortised over the calls, a few entries at a time. And there are never more than
`max_visitors` entries: beyond that the least recently touched go first. Not thread-safe: one
writer owns it.
"""

from __future__ import annotations

import random
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Sessionizer"]

_MAX_63 = (1 << 63) - 1
# Entries evicted per call at most, so that one call never stalls on a large expiry wave.
_EVICT_PER_CALL = 8


def _key(site_id: int, visitor_id: int) -> int:
    return (site_id << 64) | visitor_id


@dataclass(slots=True)
class _Visit:
    session_id: int
    first_ts_ms: int
    last_ts_ms: int
    touched: float  # monotonic seconds of the last assignment


class Sessionizer:
    """Assigns session ids to a stream of events (module docstring for the rules)."""

    def __init__(
        self,
        timeout_s: int = 1800,
        max_visitors: int = 1_000_000,
        *,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        if timeout_s <= 0 or max_visitors <= 0:
            raise ValueError("timeout_s and max_visitors must be positive")
        self._timeout_ms = timeout_s * 1000
        self._retention_s = 2.0 * timeout_s
        self._max_visitors = max_visitors
        self._clock = clock
        self._rng = rng or random.Random()
        # Keyed by _key(site_id, visitor_id): one int takes less memory than a tuple of two.
        self._visits: OrderedDict[int, _Visit] = OrderedDict()

    def __len__(self) -> int:
        return len(self._visits)

    def assign(
        self,
        site_id: int,
        visitor_id: int,
        visitor_id_prev: int | None,
        session_key_hash: int | None,
        ts_ms: int,
        *,
        engagement: bool = False,
    ) -> tuple[int, int]:
        """Return (visitor_id to store, session_id) for one event.

        Engagement events extend a live visit like any other event (the visitor is
        demonstrably still on the page). When the visitor's last visit has ended but is still
        remembered, they join it without extending it instead of starting a new visit: they
        report on a page view of that visit (a tab left open, then closed).
        """
        now = self._clock()
        self._expire(now)
        if session_key_hash:
            return visitor_id, self._keyed(site_id, visitor_id, session_key_hash, ts_ms, now)
        used, visit = visitor_id, self._live(site_id, visitor_id, ts_ms)
        if visit is None and visitor_id_prev:
            previous = self._live(site_id, visitor_id_prev, ts_ms)
            if previous is not None:
                used, visit = visitor_id_prev, previous
        if visit is None and engagement:
            ended = self._visits.get(_key(site_id, visitor_id))
            if ended is not None:
                return visitor_id, ended.session_id
        if visit is None:
            return visitor_id, self._start(site_id, visitor_id, ts_ms, now)
        visit.first_ts_ms = min(visit.first_ts_ms, ts_ms)
        visit.last_ts_ms = max(visit.last_ts_ms, ts_ms)
        visit.touched = now
        self._visits.move_to_end(_key(site_id, used))
        return used, visit.session_id

    def restore(self, site_id: int, visitor_id: int, session_id: int, last_ts_ms: int) -> None:
        """Remember a visit read back from the store, unless a later one is already known."""
        known = self._visits.get(_key(site_id, visitor_id))
        if known is not None and known.last_ts_ms >= last_ts_ms:
            return
        now = self._clock()
        self._remember(site_id, visitor_id, _Visit(session_id, last_ts_ms, last_ts_ms, now))

    def _live(self, site_id: int, visitor_id: int, ts_ms: int) -> _Visit | None:
        visit = self._visits.get(_key(site_id, visitor_id))
        if visit is None:
            return None
        if visit.first_ts_ms - self._timeout_ms < ts_ms < visit.last_ts_ms + self._timeout_ms:
            return visit
        return None

    def _keyed(self, site_id: int, visitor_id: int, session_id: int, ts_ms: int, now: float) -> int:
        visit = self._visits.get(_key(site_id, visitor_id))
        if visit is not None and visit.session_id == session_id:
            visit.first_ts_ms = min(visit.first_ts_ms, ts_ms)
            visit.last_ts_ms = max(visit.last_ts_ms, ts_ms)
            visit.touched = now
            self._visits.move_to_end(_key(site_id, visitor_id))
        elif visit is None or ts_ms >= visit.last_ts_ms:
            self._remember(site_id, visitor_id, _Visit(session_id, ts_ms, ts_ms, now))
        return session_id

    def _start(self, site_id: int, visitor_id: int, ts_ms: int, now: float) -> int:
        session_id = self._rng.randint(1, _MAX_63)
        known = self._visits.get(_key(site_id, visitor_id))
        if known is not None and ts_ms < known.first_ts_ms:
            # An event older than the visitor's current visit: a past visit, not remembered.
            return session_id
        self._remember(site_id, visitor_id, _Visit(session_id, ts_ms, ts_ms, now))
        return session_id

    def _remember(self, site_id: int, visitor_id: int, visit: _Visit) -> None:
        key = _key(site_id, visitor_id)
        self._visits[key] = visit
        self._visits.move_to_end(key)
        while len(self._visits) > self._max_visitors:
            self._visits.popitem(last=False)

    def _expire(self, now: float) -> None:
        visits = self._visits
        horizon = now - self._retention_s
        for _ in range(_EVICT_PER_CALL):
            if not visits:
                return
            oldest = next(iter(visits.values()))
            if oldest.touched >= horizon:
                return
            visits.popitem(last=False)
