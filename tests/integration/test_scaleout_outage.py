"""Scale-out through ClickHouse outages: 2 collectors + 2 workers + 1 api process over Redis and
PostgreSQL, with a ClickHouse server of the test's own that goes away while load runs: killed
for 30 s and started again on the same data dir and port, or frozen (SIGSTOP) and resumed.

The collectors never talk to ClickHouse, so they keep acknowledging events; the workers fail
their inserts, retry with back-off, release the batches they hold and take them over again
(with dedupe) once the server is back. Every acknowledged event must then be in ClickHouse
exactly once. The kill lasts the real 30 s of the issue's failure list; each test takes about
a minute.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import redis

from footfall.queue.redis import GROUP
from tests.support.accounts import postgres_metadata_url
from tests.support.clickhouse import PrivateServer
from tests.support.redis import redis_url
from tests.support.scaleout import Load, WorkerProcess, cluster_env, running_cluster, wait_stored

__all__ = ["redis_url"]  # fixtures

pytestmark = pytest.mark.slow

KILLED_S = 30.0
FROZEN_S = 10.0
# Driver timeouts (clickhouse-driver reads them from the URL): connect, each read and write,
# and the ping before reusing a pooled connection.
DRIVER_TIMEOUTS = "?connect_timeout=1&send_receive_timeout=1&sync_request_timeout=1"
SHARDS = 4
# Short, so that batches released during the outage are taken over soon after it.
CLAIM_IDLE_MS = 4000


@pytest.fixture
def database_url() -> Iterator[str]:
    with postgres_metadata_url() as url:
        yield url


@pytest.fixture
def clickhouse(tmp_path: Path) -> Iterator[PrivateServer]:
    server = PrivateServer(tmp_path / "clickhouse")
    try:
        yield server
    finally:
        server.close()


def test_every_acknowledged_event_lands_once_after_clickhouse_is_down_30_s(
    tmp_path: Path, redis_url: str, database_url: str, clickhouse: PrivateServer
) -> None:
    """Killed: connections are refused at once; the server comes back on its data dir."""
    _through_outage(
        tmp_path,
        redis_url,
        database_url,
        clickhouse,
        stop=clickhouse.kill,
        restart=clickhouse.start,
        seconds=KILLED_S,
    )


def test_every_acknowledged_event_lands_once_after_clickhouse_hangs(
    tmp_path: Path, redis_url: str, database_url: str, clickhouse: PrivateServer
) -> None:
    """Frozen (SIGSTOP): connections are accepted and never answered. The workers see that only
    through the driver's timeouts, which the events URL bounds (docs/scaling.md); with the
    driver's default of 300 s they would sit in one read for five minutes. 10 s of freeze is
    ten times those timeouts and five times the hold time, so inserts time out, batches are
    released and taken over just as in a longer one."""
    _through_outage(
        tmp_path,
        redis_url,
        database_url,
        clickhouse,
        stop=clickhouse.pause,
        restart=clickhouse.resume,
        seconds=FROZEN_S,
        url_options=DRIVER_TIMEOUTS,
    )


def _through_outage(
    tmp_path: Path,
    redis_url: str,
    database_url: str,
    clickhouse: PrivateServer,
    *,
    stop: Callable[[], None],
    restart: Callable[[], None],
    seconds: float,
    url_options: str = "",
) -> None:
    events_url = clickhouse.server.url("footfall_outage") + url_options
    queue_url = f"{redis_url}?shards={SHARDS}&claim_idle_ms={CLAIM_IDLE_MS}"
    env = cluster_env(queue_url, events_url, database_url)
    with running_cluster(tmp_path, env, collectors=2, workers=2) as cluster:
        urls = [collector.url for collector in cluster.collectors]
        with Load(urls, "outage") as load:
            load.wait_for(300)
            stop()
            back_at = time.monotonic() + seconds
            before = len(load.acknowledged)
            degraded = _wait_all_degraded(cluster.workers, seconds)
            time.sleep(max(0.0, back_at - time.monotonic()))
            during = len(load.acknowledged) - before
            restart()
            load.wait_for(len(load.acknowledged) + 300)
        assert degraded, "the workers never reported the failing store on /healthz"
        assert during > 0, "the collectors stopped acknowledging while ClickHouse was down"
        assert set(load.statuses) == {202}, "a collector refused events while ClickHouse was down"
        stored = wait_stored(events_url, load.acknowledged, within_s=120)
        missing = load.acknowledged - set(stored)
        assert not missing, f"{len(missing)} acknowledged events lost\n{cluster.logs()}"
        assert len(stored) == len(set(stored)), "an event was stored twice"
        assert _queued(redis_url) == 0, "entries are left in Redis"
        for worker in cluster.workers:
            assert _eventually_healthy(worker), worker.log()[-3000:]


def _wait_all_degraded(workers: list[WorkerProcess], within_s: float) -> bool:
    """True once every worker's /healthz has answered 503 (its store failing) at least once."""
    seen: set[int] = set()
    deadline = time.monotonic() + within_s
    while len(seen) < len(workers) and time.monotonic() < deadline:
        for index, worker in enumerate(workers):
            answer = httpx.get(f"http://127.0.0.1:{worker.port}/healthz", timeout=5)
            if answer.status_code == 503:
                seen.add(index)
        time.sleep(0.1)
    return len(seen) == len(workers)


def _eventually_healthy(worker: WorkerProcess, within_s: float = 30.0) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if httpx.get(f"http://127.0.0.1:{worker.port}/healthz", timeout=5).status_code == 200:
            return True
        time.sleep(0.2)
    return False


def _queued(url: str) -> int:
    """Entries still in the streams plus entries read and not acknowledged."""
    client = redis.Redis.from_url(url)
    try:
        total = 0
        for shard in range(SHARDS):
            stream = f"footfall:events:{shard}"
            total += int(client.xlen(stream))
            total += int(client.xpending(stream, GROUP)["pending"])
        return total
    finally:
        client.close()
