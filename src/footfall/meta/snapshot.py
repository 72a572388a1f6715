"""In-process snapshots of metadata for the hot paths: never a database read per request.

A `Snapshots` holds one value loaded from the metadata database (every site, every link...).
The first read loads it; once it is older than `ttl_s` the next read starts a reload on a
background thread and keeps answering from the old value meanwhile; `invalidate()` reloads at
once, for writes made by this process. Other processes' writes show within `ttl_s`.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class _Taken(Generic[T]):
    value: T
    taken_at: float
    generation: int


class Snapshots(Generic[T]):
    """A value from `load`, kept fresh within `ttl_s` without blocking readers on a reload."""

    def __init__(
        self,
        load: Callable[[], T],
        *,
        ttl_s: float,
        name: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._load = load
        self._ttl_s = ttl_s
        self._name = name
        self._clock = clock
        self._taken: _Taken[T] | None = None
        self._lock = threading.Lock()
        self._generations = itertools.count(1)
        self._refresher: threading.Thread | None = None

    def current(self) -> T:
        """The value; loads it on first use, starts a background reload once it is stale."""
        taken = self._taken
        if taken is None:
            loaded = self._take()
            self._install(loaded)
            return (self._taken or loaded).value
        if self._clock() - taken.taken_at >= self._ttl_s:
            self._start_refresh()
        return taken.value

    def invalidate(self) -> None:
        """Reload now (call after this process changed what the value is built from)."""
        self._install(self._take())

    def wait_refreshed(self, timeout_s: float | None = None) -> None:
        """Wait for a background reload in flight, if any (for shutdown and tests)."""
        refresher = self._refresher
        if refresher is not None:
            refresher.join(timeout_s)

    def _take(self) -> _Taken[T]:
        with self._lock:
            generation = next(self._generations)
        taken_at = self._clock()
        return _Taken(self._load(), taken_at, generation)

    def _start_refresh(self) -> None:
        with self._lock:
            if self._refresher is not None and self._refresher.is_alive():
                return
            self._refresher = threading.Thread(target=self._refresh, name=self._name, daemon=True)
            self._refresher.start()

    def _refresh(self) -> None:
        try:
            self._install(self._take())
        except Exception:
            # Keep answering from the old value, and retry after another ttl rather than at once.
            log.exception("reloading %s failed; keeping the previous snapshot", self._name)
            with self._lock:
                old = self._taken
                if old is not None:
                    self._taken = _Taken(old.value, self._clock(), old.generation)

    def _install(self, taken: _Taken[T]) -> None:
        # A slow background load must not overwrite a newer one made by invalidate().
        with self._lock:
            if self._taken is None or taken.generation > self._taken.generation:
                self._taken = taken
