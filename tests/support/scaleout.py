"""A scale-out cluster on this machine: `footfall serve --role collector/api` and `footfall worker`
processes over real Redis, ClickHouse and PostgreSQL, for end-to-end tests."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support.server import FOOTFALL, LiveServer, free_port

SECRET = "scale-out-test-secret-0123456789abcdef"


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
) -> Iterator[Cluster]:
    """Start api, then the site, collectors and workers; stop them all afterwards."""
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
            worker = WorkerProcess(root / f"worker{index}", env)
            cluster.workers.append(worker)
            worker.start()
        yield cluster
    finally:
        for worker in cluster.workers:
            worker.stop()
        for collector in cluster.collectors:
            collector.stop()
        cluster.api.stop()
