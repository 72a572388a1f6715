"""The cookieless salts of an imported line: those of the UTC day the line was logged.

A live event is hashed with today's salt (and yesterday's, to join a visit across midnight).
An imported line is hashed the same way, with the salts of its own day, so that a visitor's
lines of one day form its visits there, and lines of different days stay unlinkable as live
events are. Today and yesterday have stored salts (meta.salts), shared with the collectors, so
imported and collected events of those days join up. Older days have none: the daily deletion
that makes old hashes unrecomputable must not be undone by an import. Their salts are derived
from `run_key`, a random key that exists only in the memory of one import run (and its worker
processes) and is forgotten when it ends; so those days are as unlinkable afterwards as any
other, but a visitor's lines of such a day hash alike only within one run (docs/cli.md).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from datetime import date, timedelta

_DAY_MS = 86_400_000
_EPOCH = date(1970, 1, 1)


class LineSalts:
    """A collector SaltSource: the (day's, previous day's) salts of the line being converted."""

    def __init__(
        self, kept: Callable[[], dict[date, bytes]], now_ms: Callable[[], int], run_key: bytes
    ) -> None:
        self._kept = kept
        self._now_ms = now_ms
        self._run_key = run_key
        self._by_day: dict[int, bytes] = {}
        self._day = -1
        self._pair: tuple[bytes, bytes | None] = (b"", None)

    def salts(self) -> tuple[bytes, bytes | None]:
        """The salts of the UTC day of the clock (the line's time)."""
        day = self._now_ms() // _DAY_MS
        if day != self._day:
            self._pair = (self.salt(day), self.salt(day - 1))
            self._day = day
        return self._pair

    def salt(self, day: int) -> bytes:
        """The salt of a UTC day (days since 1970-01-01): the stored one while it is kept, else
        one derived from this run's key; fixed for the rest of the run once looked up."""
        found = self._by_day.get(day)
        if found is None:
            moment = _EPOCH + timedelta(days=day)
            found = self._kept().get(moment)
            if found is None:
                label = moment.isoformat().encode()
                found = hmac.new(self._run_key, label, hashlib.sha256).digest()
            self._by_day[day] = found
        return found
