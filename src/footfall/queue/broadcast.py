"""Cross-process invalidation of the hot-path caches through Redis pub/sub (scale-out roles).

Every api and collector process keeps in-process snapshots of sites and links, and caches
verified API keys. A process that writes one of them reloads its own copy and publishes the
cache's name on the channel `footfall:invalidate`; every subscribed process reloads (or
forgets) its copy too. A message lost while Redis is away costs nothing worse than the caches'
own ttl (a few seconds for sites and links, FOOTFALL_KEY_CACHE_TTL for keys).
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable

import redis
from sqlalchemy import Engine

from footfall.links.directory import LinkDirectory
from footfall.meta.sites import SiteDirectory

log = logging.getLogger(__name__)

CHANNEL = "footfall:invalidate"
# The name published after a process revoked API keys, or disabled or deleted a user.
API_KEYS = "api_keys"
_RECONNECT_S = 1.0


class InvalidationBus:
    """Publishes snapshot names and calls the local reload of each name received."""

    def __init__(self, url: str) -> None:
        self._redis = redis.Redis.from_url(url.split("?", 1)[0], socket_connect_timeout=2.0)
        self._reloads: dict[str, Callable[[], None]] = {}
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._subscribed = threading.Event()
        # Marks this process's own messages, which it has acted on already.
        self._origin = secrets.token_hex(8)

    def register(self, name: str, reload: Callable[[], None]) -> None:
        """Call `reload` whenever any process publishes `name`."""
        self._reloads[name] = reload

    def share(self, name: str, reload: Callable[[], None]) -> Callable[[], None]:
        """Register `reload` for `name`; returns what a process calls after changing that data
        itself (it publishes `name`, and the other processes call their `reload`)."""
        self.register(name, reload)
        return lambda: self.publish(name)

    def publish(self, name: str) -> None:
        """Tell every process to reload `name` (logged, never raised, when Redis is away)."""
        try:
            self._redis.publish(CHANNEL, f"{name} {self._origin}")
        except redis.RedisError as exc:
            log.warning(
                "could not broadcast %s invalidation (%s); others catch up by ttl", name, exc
            )

    def start(self) -> None:
        """Start listening on a background thread."""
        self._thread = threading.Thread(
            target=self._listen, name="footfall-invalidate", daemon=True
        )
        self._thread.start()

    def wait_subscribed(self, timeout_s: float) -> bool:
        """True once the listener has subscribed (for tests and orderly start-up)."""
        return self._subscribed.wait(timeout_s)

    def close(self) -> None:
        """Stop listening and release the connection."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=3.0)
        self._redis.close()

    def _listen(self) -> None:
        while not self._stopping.is_set():
            try:
                # redis-py leaves pubsub() unannotated.
                with self._redis.pubsub(ignore_subscribe_messages=True) as pubsub:  # type: ignore[no-untyped-call]
                    pubsub.subscribe(CHANNEL)
                    self._subscribed.set()
                    while not self._stopping.is_set():
                        message = pubsub.get_message(timeout=0.5)
                        if message is not None:
                            self._deliver(message["data"])
            except redis.RedisError as exc:
                self._subscribed.clear()
                log.warning("invalidation channel lost (%s); resubscribing", exc)
                self._stopping.wait(_RECONNECT_S)

    def _deliver(self, data: object) -> None:
        text = data.decode() if isinstance(data, bytes) else str(data)
        name, _, origin = text.partition(" ")
        if origin == self._origin:
            return
        reload = self._reloads.get(name)
        if reload is None:
            return
        try:
            reload()
        except Exception:
            log.exception("reloading %s after a broadcast failed; its ttl catches up", name)


class SharedSiteDirectory(SiteDirectory):
    """A SiteDirectory whose `invalidate()` reaches every process on the bus."""

    NAME = "sites"

    def __init__(self, engine: Engine, bus: InvalidationBus, *, ttl_s: float = 5.0) -> None:
        super().__init__(engine, ttl_s)
        self._bus = bus
        bus.register(self.NAME, super().invalidate)

    def invalidate(self) -> None:
        """Reload here and in every other process."""
        super().invalidate()
        self._bus.publish(self.NAME)


class SharedLinkDirectory(LinkDirectory):
    """A LinkDirectory whose `invalidate()` reaches every process on the bus."""

    NAME = "links"

    def __init__(self, engine: Engine, bus: InvalidationBus, *, ttl_s: float = 10.0) -> None:
        super().__init__(engine, ttl_s)
        self._bus = bus
        bus.register(self.NAME, super().invalidate)

    def invalidate(self) -> None:
        """Reload here and in every other process."""
        super().invalidate()
        self._bus.publish(self.NAME)
