"""LiveServer: a real `footfall serve` process on a free port, for end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import duckdb
import httpx

FOOTFALL = str(Path(sys.executable).with_name("footfall"))


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    """Runs `footfall init` once, then `footfall serve` as a child process; restartable."""

    def __init__(
        self, data_dir: Path, env: dict[str, str] | None = None, serve_args: Sequence[str] = ()
    ) -> None:
        self.data_dir = data_dir
        self.serve_args = list(serve_args)  # e.g. ["--role", "collector"]
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "FOOTFALL_DATA_DIR": str(data_dir),
            "FOOTFALL_BASE_URL": self.url,
            "FOOTFALL_LOG_LEVEL": "warning",
            # Tests and benchmarks send floods from one address on purpose.
            "FOOTFALL_RATE_LIMIT_IP": "0",
            "FOOTFALL_RATE_LIMIT_SITE": "0",
            **(env or {}),
        }
        self.log_path = data_dir / "server.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._initialised = False

    def run_cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a `footfall` subcommand against this server's data dir."""
        return subprocess.run(
            [FOOTFALL, *args], env=self.env, capture_output=True, text=True, check=check
        )

    def start(self, timeout: float = 60.0) -> LiveServer:
        """Start (or restart) the server and wait until /readyz answers 200."""
        if not self._initialised:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            self.run_cli("init")
            self._initialised = True
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [FOOTFALL, "serve", "--port", str(self.port), *self.serve_args],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"footfall serve exited early:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"footfall serve did not become ready:\n{self.log()}")

    def kill(self) -> None:
        """SIGKILL: the process gets no chance to flush anything."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)
        self.process = None

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM and wait for a clean exit; returns the exit code."""
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=timeout)
        self.process = None
        # uvicorn re-raises SIGTERM after its graceful shutdown, the usual status for a service
        # stopped by its supervisor: that is a clean stop.
        return 0 if code == -signal.SIGTERM else code

    def log(self) -> str:
        """What the server printed so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def events(self, sql_where: str = "", params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Rows of the events table, read from the DuckDB file (only while stopped)."""
        if self.process is not None:
            raise RuntimeError("stop() the server before reading its DuckDB file")
        where = f" WHERE {sql_where}" if sql_where else ""
        with duckdb.connect(str(self.data_dir / "events.duckdb"), read_only=True) as con:
            cursor = con.execute(f"SELECT * FROM events{where} ORDER BY ts", list(params))
            columns = [description[0] for description in cursor.description]
            return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self.process is not None and self.process.poll() is None:
            self.stop()
