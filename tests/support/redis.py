"""The `redis_url` fixture: a flushed Redis database of its own for each pytest-xdist worker."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest
import redis

from tests.support.services import require

REDIS_HOST = "127.0.0.1"
REDIS_PORT = 6379

__all__ = ["dead_redis_url", "private_redis", "redis_url"]


def _database() -> int:
    """Database 1 + the xdist worker number (gw0 -> 1); 0 is left to people's own use."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return 1 + int(worker.removeprefix("gw") or 0) % 15


def _answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


@pytest.fixture
def redis_url() -> Iterator[str]:
    """`redis://127.0.0.1:6379/<n>`, flushed before and after the test."""
    url = f"redis://{REDIS_HOST}:{REDIS_PORT}/{_database()}"
    require(_answers(url), f"Redis is not running on {REDIS_HOST}:{REDIS_PORT}")
    client = redis.Redis.from_url(url)
    client.flushdb()
    try:
        yield url
    finally:
        client.flushdb()
        client.close()


@pytest.fixture
def dead_redis_url() -> str:
    """A redis:// URL on a free local port where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"


@contextlib.contextmanager
def private_redis() -> Iterator[tuple[str, int]]:
    """A redis-server of the caller's own (no persistence), so that nothing else touches it
    (benchmarks); yields its URL and process id."""
    with socket.socket() as probe:
        probe.bind((REDIS_HOST, 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", REDIS_HOST]
        + ["--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://{REDIS_HOST}:{port}/0"
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                if redis.Redis.from_url(url).ping():
                    break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield url, process.pid
    finally:
        process.terminate()
        process.wait(timeout=10)
