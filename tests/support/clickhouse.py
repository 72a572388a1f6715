"""A real ClickHouse server for tests: Debian's clickhouse-server as a child process.

`clickhouse_server` (session-scoped, so one server per pytest-xdist worker) starts the binary on
free ports with its own temporary data dir and a minimal generated config (127.0.0.1 only, no
interserver port, small caches, logs in the temp dir, a server time zone other than UTC so that
nothing comes to depend on it), waits until it answers, and stops it at the end. Outside CI a
missing binary or driver skips the tests that need it; with CI=true it fails them
(tests/support/services.py).
"""

from __future__ import annotations

import ctypes
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.server import free_port
from tests.support.services import require

_CANDIDATES = ("clickhouse-server", "/usr/sbin/clickhouse-server", "/usr/bin/clickhouse-server")
_START_ATTEMPTS = 3
_START_TIMEOUT = 60.0
_PR_SET_PDEATHSIG = 1
# Not UTC, and with a fractional offset: no answer may depend on the server's own time zone.
SERVER_TIMEZONE = "Asia/Kathmandu"

_CONFIG = """<?xml version="1.0"?>
<yandex>
  <logger>
    <level>warning</level>
    <log>{root}/log/server.log</log>
    <errorlog>{root}/log/server.err.log</errorlog>
    <size>10M</size>
    <count>1</count>
  </logger>
  <listen_host>127.0.0.1</listen_host>
  <tcp_port>{tcp_port}</tcp_port>
  <http_port>{http_port}</http_port>
  <path>{root}/data/</path>
  <tmp_path>{root}/tmp/</tmp_path>
  <user_files_path>{root}/user_files/</user_files_path>
  <format_schema_path>{root}/format_schemas/</format_schema_path>
  <users_config>users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>{timezone}</timezone>
  <mark_cache_size>67108864</mark_cache_size>
  <uncompressed_cache_size>0</uncompressed_cache_size>
  <max_concurrent_queries>64</max_concurrent_queries>
</yandex>
"""

_USERS = """<?xml version="1.0"?>
<yandex>
  <profiles>
    <default>
      <max_memory_usage>2000000000</max_memory_usage>
      <max_threads>2</max_threads>
    </default>
  </profiles>
  <users>
    <default>
      <password></password>
      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
  </users>
  <quotas>
    <default>
      <interval>
        <duration>3600</duration>
        <queries>0</queries><errors>0</errors><result_rows>0</result_rows>
        <read_rows>0</read_rows><execution_time>0</execution_time>
      </interval>
    </default>
  </quotas>
</yandex>
"""


@dataclass(frozen=True)
class ClickHouseServer:
    """A running test server: where it listens and where it keeps its files."""

    host: str
    tcp_port: int
    http_port: int
    root: Path

    def url(self, database: str) -> str:
        """The FOOTFALL_EVENTS_URL of `database` on this server."""
        return f"clickhouse://{self.host}:{self.tcp_port}/{database}"

    def fresh_database_url(self) -> str:
        """The URL of a database name nobody uses yet (the store creates it)."""
        return self.url(f"test_{uuid.uuid4().hex}")

    def log(self) -> str:
        """What the server logged (errors first)."""
        parts = []
        for name in ("server.err.log", "server.log", "stdout.log"):
            path = self.root / "log" / name
            if path.exists():
                parts.append(f"--- {name}\n{path.read_text(errors='replace')[-4000:]}")
        return "\n".join(parts)


def server_command() -> list[str] | None:
    """How to run clickhouse-server here, or None when it is not installed."""
    for candidate in _CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return [found]
    combined = shutil.which("clickhouse")
    return [combined, "server"] if combined else None


def _driver_installed() -> bool:
    try:
        import clickhouse_driver  # noqa: F401
    except ImportError:
        return False
    return True


def _answers(server: ClickHouseServer) -> bool:
    from clickhouse_driver import Client
    from clickhouse_driver.errors import Error

    client = Client(server.host, port=server.tcp_port, connect_timeout=1, send_receive_timeout=5)
    try:
        return bool(client.execute("SELECT 1") == [(1,)])
    except (Error, OSError, EOFError):
        return False
    finally:
        client.disconnect()


def _start(
    command: list[str], root: Path, server: ClickHouseServer | None = None
) -> tuple[ClickHouseServer, subprocess.Popen[bytes]]:
    """Start the server on fresh ports (or again on `server`'s data dir and ports); raises
    RuntimeError if it exits or never answers."""
    server = server or ClickHouseServer("127.0.0.1", free_port(), free_port(), root)
    for folder in ("data", "tmp", "user_files", "format_schemas", "log"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    config = root / "config.xml"
    config.write_text(
        _CONFIG.format(
            root=root,
            tcp_port=server.tcp_port,
            http_port=server.http_port,
            timezone=SERVER_TIMEZONE,
        )
    )
    (root / "users.xml").write_text(_USERS)
    with (root / "log" / "stdout.log").open("ab") as output:
        process = subprocess.Popen(
            [*command, f"--config-file={config}"],
            cwd=root,
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
        )
    deadline = time.monotonic() + _START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"clickhouse-server exited with {process.returncode}")
        if _answers(server):
            return server, process
        time.sleep(0.1)
    _stop(process)
    raise RuntimeError(f"clickhouse-server did not answer within {_START_TIMEOUT:.0f} s")


def _die_with_parent() -> None:
    """In the child before exec: the kernel sends SIGTERM when the test process dies, so a
    killed or timed-out pytest worker leaves no server behind (Linux; elsewhere a no-op)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)


class PrivateServer:
    """A clickhouse-server of one test's own, which the test may kill and start again on the
    same data dir and ports (outage tests); `server` says where it listens."""

    def __init__(self, root: Path) -> None:
        command = server_command()
        require(command is not None, "clickhouse-server is not installed (apt-get install it)")
        require(_driver_installed(), "the clickhouse-driver package is not installed")
        assert command is not None
        self._command = command
        self.server, self._process = _start(command, root)

    @property
    def pid(self) -> int:
        """The server's process id."""
        return self._process.pid

    def kill(self) -> None:
        """SIGKILL the server and wait for it to be gone (connections are refused then)."""
        self._process.kill()
        self._process.wait(timeout=30)

    def pause(self) -> None:
        """SIGSTOP: the server hangs (connections are accepted and never answered)."""
        self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT after `pause`."""
        self._process.send_signal(signal.SIGCONT)

    def start(self) -> None:
        """Start the killed server again on its data dir and ports; waits until it answers."""
        self.server, self._process = _start(self._command, self.server.root, self.server)

    def close(self) -> None:
        """Stop the server for good."""
        self.resume()
        _stop(self._process)


# The one server of this process: every test module that imports the fixture gets its own
# fixture definition, and all of them must share one server.
_shared: dict[str, ClickHouseServer] = {}
_processes: list[subprocess.Popen[bytes]] = []


def _start_with_retries(command: list[str], factory: pytest.TempPathFactory) -> ClickHouseServer:
    failures = []
    for attempt in range(_START_ATTEMPTS):
        # Another process may take a port between free_port() and the bind: try new ones.
        root = factory.mktemp(f"clickhouse{attempt}")
        try:
            server, process = _start(command, root)
        except RuntimeError as exc:
            failures.append(f"{exc}\n{ClickHouseServer('127.0.0.1', 0, 0, root).log()}")
            continue
        _processes.append(process)
        return server
    pytest.fail("clickhouse-server did not start:\n" + "\n".join(failures))


def _stop_all() -> None:
    while _processes:
        _stop(_processes.pop())
    _shared.clear()


@pytest.fixture(scope="session")
def clickhouse_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> ClickHouseServer:
    """The ClickHouse server of this test process (each xdist worker starts its own, once),
    stopped when the test session ends."""
    command = server_command()
    require(command is not None, "clickhouse-server is not installed (apt-get install it)")
    require(_driver_installed(), "the clickhouse-driver package is not installed")
    assert command is not None
    if "server" not in _shared:
        _shared["server"] = _start_with_retries(command, tmp_path_factory)
        request.config.add_cleanup(_stop_all)
    return _shared["server"]
