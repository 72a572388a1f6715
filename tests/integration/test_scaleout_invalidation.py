"""Hot-path caches across processes: a site or link written through one process's directory is
reloaded at once by every other process's directory (Redis pub/sub), not after its ttl."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from footfall.meta.db import make_engine, session_scope
from footfall.meta.migrate import upgrade
from footfall.meta.sites import create_site
from footfall.queue.broadcast import InvalidationBus, SharedSiteDirectory
from tests.support.redis import dead_redis_url, redis_url

__all__ = ["dead_redis_url", "redis_url"]  # fixtures

# Far longer than the test: only the broadcast can make the other directory reload.
TTL_S = 3600.0


@pytest.fixture
def buses(redis_url: str) -> Iterator[tuple[InvalidationBus, InvalidationBus]]:
    first, second = InvalidationBus(redis_url), InvalidationBus(redis_url)
    for bus in (first, second):
        bus.start()
        assert bus.wait_subscribed(10)
    yield first, second
    first.close()
    second.close()


def _eventually(check: Callable[[], bool], within_s: float = 20.0) -> bool:
    deadline = time.monotonic() + within_s
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_a_site_written_in_one_process_shows_at_once_in_the_others(
    tmp_path: Path, buses: tuple[InvalidationBus, InvalidationBus]
) -> None:
    url = f"sqlite:///{tmp_path / 'meta.sqlite3'}"
    upgrade(url)
    engine = make_engine(url)
    try:
        writer = SharedSiteDirectory(engine, buses[0], ttl_s=TTL_S)
        reader = SharedSiteDirectory(engine, buses[1], ttl_s=TTL_S)
        assert writer.lookup("new.example") is None
        assert reader.lookup("new.example") is None  # its snapshot is loaded now, and kept
        with session_scope(engine) as session:
            create_site(session, "new.example")
        writer.invalidate()
        assert writer.lookup("new.example") is not None
        assert _eventually(lambda: reader.lookup("new.example") is not None)
    finally:
        engine.dispose()


def test_publishing_without_redis_is_logged_not_raised(
    dead_redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    bus = InvalidationBus(dead_redis_url)
    try:
        with caplog.at_level(logging.WARNING, logger="footfall.queue.broadcast"):
            bus.publish("sites")  # the write that called it has succeeded: never fail it now
    finally:
        bus.close()
    assert "could not broadcast sites invalidation" in caplog.text
