"""Scale-out end to end: 2 collectors + 2 workers + 1 api process over Redis, ClickHouse and
PostgreSQL; every acknowledged event lands exactly once, through a worker's SIGKILL and a Redis
outage."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from footfall.queue.redis import GROUP
from tests.support.accounts import postgres_metadata_url
from tests.support.clickhouse import ClickHouseServer, clickhouse_server
from tests.support.redis import redis_url
from tests.support.scaleout import (
    BROWSER,
    Load,
    WorkerProcess,
    cluster_env,
    running_cluster,
    wait_stored,
)
from tests.support.server import LiveServer, free_port
from tests.support.services import require

__all__ = ["clickhouse_server", "redis_url"]  # fixtures

pytestmark = pytest.mark.slow


@pytest.fixture
def database_url() -> Iterator[str]:
    with postgres_metadata_url() as url:
        yield url


def test_every_acknowledged_event_lands_once_through_a_worker_kill(
    tmp_path: Path, redis_url: str, clickhouse_server: ClickHouseServer, database_url: str
) -> None:
    events_url = clickhouse_server.fresh_database_url()
    env = cluster_env(f"{redis_url}?shards=4&claim_idle_ms=2000", events_url, database_url)
    with running_cluster(tmp_path, env, collectors=2, workers=2) as cluster:
        urls = [collector.url for collector in cluster.collectors]
        with Load(urls, "a") as load:
            load.wait_for(800)
            _kill_holding_entries(cluster.workers[0], redis_url)
            load.wait_for(1600)
        assert set(load.statuses) == {202}, "a collector refused events with Redis up"
        cluster.workers[0].start()
        stored = wait_stored(events_url, load.acknowledged)
        assert load.acknowledged <= set(stored), cluster.logs()
        assert len(stored) == len(set(stored)), "an event was stored twice"
        assert redis.Redis.from_url(redis_url).xlen("footfall:events:0") == 0
        ready = httpx.get(f"{cluster.api.url}/readyz", timeout=5)
        assert ready.status_code == 200, ready.text
        assert httpx.get(f"{cluster.api.url}/api/event", timeout=5).status_code == 404
        taken_over = sum(_redelivered(worker.metrics()) for worker in cluster.workers)
        assert taken_over >= 1, "the killed worker's entries were not taken over"
        assert "footfall_events_stored_total" in cluster.workers[1].metrics()


def _kill_holding_entries(worker: WorkerProcess, url: str) -> None:
    """SIGKILL the worker at a moment it holds entries read but not acknowledged (mid-batch)."""
    assert worker.process is not None
    mine = f"-{worker.process.pid}-"
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for shard in range(4):
            for consumer in client.xinfo_consumers(f"footfall:events:{shard}", GROUP):
                if mine in consumer["name"].decode() and consumer["pending"] > 0:
                    worker.kill()
                    return
    raise AssertionError("the worker never held unacknowledged entries")


def _redelivered(metrics: str) -> float:
    for line in metrics.splitlines():
        if line.startswith("footfall_worker_redelivered_batches "):
            return float(line.split()[1])
    return 0.0


def _private_redis(root: Path) -> tuple[subprocess.Popen[bytes], str]:
    binary = shutil.which("redis-server")
    require(binary is not None, "redis-server is not installed")
    assert binary is not None
    port = free_port()
    root.mkdir(parents=True)
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(root)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            if redis.Redis.from_url(url).ping():
                return process, url
        except redis.RedisError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("redis-server did not start")


def test_collectors_answer_503_never_2xx_while_redis_is_down(
    tmp_path: Path, clickhouse_server: ClickHouseServer, database_url: str
) -> None:
    process, url = _private_redis(tmp_path / "redis")
    env = cluster_env(url, clickhouse_server.fresh_database_url(), database_url)
    collector = LiveServer(tmp_path / "collector", env=env, serve_args=["--role", "collector"])
    try:
        collector.start()  # its `init` creates the site localhost
        event = {"n": "pageview", "u": "http://localhost/", "d": "localhost"}
        headers = {"user-agent": BROWSER}
        up = httpx.post(f"{collector.url}/api/event", json=event, headers=headers, timeout=10)
        assert up.status_code == 202
        process.kill()
        process.wait(timeout=10)
        answers = {
            httpx.post(
                f"{collector.url}/api/event", json=event, headers=headers, timeout=10
            ).status_code
            for _ in range(20)
        }
        assert answers == {503}
        assert httpx.get(f"{collector.url}/readyz", timeout=10).status_code == 503
    finally:
        collector.stop()
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
