"""A scale-out cluster on this machine: `footfall serve --role collector/api` and `footfall worker`
processes over real Redis, ClickHouse and PostgreSQL, for end-to-end tests."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from footfall.store.clickhouse import ClickHouseEventStore
from tests.support.server import FOOTFALL, LiveServer, free_port

SECRET = "scale-out-test-secret-0123456789abcdef"
BROWSER = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


class WorkerProcess:
    """`footfall worker` as a child process, with its /healthz port; restartable."""

    def __init__(self, data_dir: Path, env: dict[str, str], shards: str = "") -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.env = {**os.environ, "FOOTFALL_DATA_DIR": str(data_dir), **env}
        self.shards = shards
        self.log_path = data_dir / "worker.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> WorkerProcess:
        """Start the worker and wait until /healthz answers 200."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        args = [FOOTFALL, "worker", "--port", str(self.port)]
        if self.shards:
            args += ["--shards", self.shards]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                args, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"footfall worker exited early:\n{self.log()}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=2).is_success:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"footfall worker did not become healthy:\n{self.log()}")

    def metrics(self) -> str:
        """The worker's /metrics text."""
        return httpx.get(f"http://127.0.0.1:{self.port}/metrics", timeout=5).text

    def kill(self) -> None:
        """SIGKILL: whatever the worker holds stays pending in Redis."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)
        self.process = None

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM and wait."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=timeout)
        self.process = None

    def log(self) -> str:
        """What the worker printed so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@dataclass
class Cluster:
    """The processes of one scale-out deployment."""

    api: LiveServer
    collectors: list[LiveServer] = field(default_factory=list)
    workers: list[WorkerProcess] = field(default_factory=list)

    def logs(self) -> str:
        """Every process's output, for failure messages."""
        parts = [f"--- api\n{self.api.log()[-3000:]}"]
        parts += [f"--- collector {i}\n{c.log()[-3000:]}" for i, c in enumerate(self.collectors)]
        parts += [f"--- worker {i}\n{w.log()[-3000:]}" for i, w in enumerate(self.workers)]
        return "\n".join(parts)


def cluster_env(queue_url: str, events_url: str, database_url: str) -> dict[str, str]:
    """The settings every process of the cluster shares."""
    return {
        "FOOTFALL_QUEUE_URL": queue_url,
        "FOOTFALL_EVENTS_URL": events_url,
        "FOOTFALL_DATABASE_URL": database_url,
        "FOOTFALL_SECRET_KEY": SECRET,
        "FOOTFALL_FLUSH_INTERVAL": "0.2",
        "FOOTFALL_BATCH_SIZE": "500",
        "FOOTFALL_LOG_LEVEL": "info",
    }


@contextmanager
def running_cluster(
    root: Path,
    env: dict[str, str],
    *,
    collectors: int = 2,
    workers: int = 2,
    site: str = "localhost",
    worker_shards: Sequence[str] = (),
) -> Iterator[Cluster]:
    """Start api, then the site, collectors and workers; stop them all afterwards.

    `worker_shards` gives each worker its own shards (`--shards`, e.g. ["0-1", "2-3"]), so that
    every visitor's events reach one worker and one sessionizer; by default all workers share
    all shards through the consumer group.
    """
    if worker_shards and len(worker_shards) != workers:
        raise ValueError("worker_shards needs one entry per worker")
    cluster = Cluster(api=LiveServer(root / "api", env=env, serve_args=["--role", "api"]))
    try:
        cluster.api.start()
        for index in range(collectors):
            # The second collector runs two uvicorn worker processes behind one port.
            extra = ["--workers", "2"] if index == 1 else []
            collector = LiveServer(
                root / f"collector{index}", env=env, serve_args=["--role", "collector", *extra]
            )
            cluster.collectors.append(collector)
            collector.start()
        for index in range(workers):
            shards = worker_shards[index] if worker_shards else ""
            worker = WorkerProcess(root / f"worker{index}", env, shards)
            cluster.workers.append(worker)
            worker.start()
        yield cluster
    finally:
        for worker in cluster.workers:
            worker.stop()
        for collector in cluster.collectors:
            collector.stop()
        cluster.api.stop()


class Load:
    """Threads posting pageviews and custom events to the collectors in turn, recording the
    unique `n` prop of each one answered 202 and every other status seen (0: no answer at all,
    the connection failed or timed out)."""

    def __init__(self, urls: list[str], run: str, senders: int = 4) -> None:
        self.urls = urls
        self.run = run
        self.acknowledged: set[str] = set()
        self.statuses: list[int] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._send, args=(n,)) for n in range(senders)]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(60)

    def wait_for(self, count: int, within_s: float = 60.0) -> None:
        """Block until `count` events were acknowledged in all (fails after `within_s`)."""
        deadline = time.monotonic() + within_s
        while len(self.acknowledged) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(self.acknowledged) >= count, f"only {len(self.acknowledged)} acknowledged"

    def _send(self, sender: int) -> None:
        clients = [
            httpx.Client(base_url=url, headers={"user-agent": BROWSER}, timeout=10)
            for url in self.urls
        ]
        try:
            for count in itertools.count():
                if self._stop.is_set():
                    return
                unique = f"{self.run}-{sender}-{count}"
                payload = {
                    "n": "pageview" if count % 3 else "signup",
                    "u": f"http://localhost/page/{count % 7}",
                    "d": "localhost",
                    "p": {"n": unique},
                }
                client = clients[count % len(clients)]
                try:
                    response = client.post(
                        "/api/event",
                        json=payload,
                        headers={"x-forwarded-for": f"10.0.{sender}.{count % 50}"},
                    )
                except httpx.TransportError:
                    with self._lock:
                        self.statuses.append(0)
                    continue
                with self._lock:
                    self.statuses.append(response.status_code)
                    if response.status_code == 202 and "x-footfall-dropped" not in response.headers:
                        self.acknowledged.add(unique)
        finally:
            for client in clients:
                client.close()


def stored_labels(events_url: str) -> list[str]:
    """The `n` prop of every row of the ClickHouse events table ("" where it has none)."""
    store = ClickHouseEventStore(events_url)
    try:
        rows = store.execute("SELECT props_keys, props_values FROM events")
    finally:
        store.close()
    return [dict(zip(keys, values, strict=True)).get("n", "") for keys, values in rows]


def wait_stored(events_url: str, expected: set[str], within_s: float = 90.0) -> list[str]:
    """`stored_labels` once every expected label is among them (or `within_s` passed)."""
    deadline = time.monotonic() + within_s
    stored = stored_labels(events_url)
    while not expected <= set(stored) and time.monotonic() < deadline:
        time.sleep(0.5)
        stored = stored_labels(events_url)
    return stored
