"""kill -9 under load: a real `footfall serve`, SIGKILLed several times while threads post
events, loses no acknowledged event and stores none twice (DESIGN.md section 3)."""

from __future__ import annotations

import itertools
import threading
from pathlib import Path

import httpx
import pytest

from tests.support.server import LiveServer

pytestmark = pytest.mark.slow

BROWSER = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
SENDERS = 4
ACKS_BEFORE_KILL = 1500
KILLS = 3
# Short intervals, so that kills land between inserts, checkpoints and spool retirement.
SERVER_ENV = {"FOOTFALL_FLUSH_INTERVAL": "0.05", "FOOTFALL_CHECKPOINT_INTERVAL": "0.3"}


class Load:
    """Threads posting events with unique `n` props, recording those answered 202."""

    def __init__(self, url: str, run: int) -> None:
        self.url = url
        self.run = run
        self.acknowledged: set[str] = set()
        self.dropped = 0
        self._lock = threading.Lock()
        self._enough = threading.Event()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._send, args=(n,)) for n in range(SENDERS)]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(60)

    def wait_for_acks(self) -> None:
        assert self._enough.wait(60), f"only {len(self.acknowledged)} events acknowledged"

    def _send(self, sender: int) -> None:
        headers = {"user-agent": BROWSER}
        with httpx.Client(base_url=self.url, headers=headers, timeout=10) as client:
            for count in itertools.count():
                if self._stop.is_set():
                    return
                unique = f"{self.run}-{sender}-{count}"
                payload = {
                    "n": "load",
                    "u": "http://localhost/crash",
                    "d": "localhost",
                    "p": {"n": unique},
                }
                try:
                    response = client.post("/api/event", json=payload)
                except httpx.TransportError:
                    return  # the server was killed: this request was never acknowledged
                self._record(unique, response)

    def _record(self, unique: str, response: httpx.Response) -> None:
        with self._lock:
            if response.status_code != 202:
                return
            if "x-footfall-dropped" in response.headers:
                self.dropped += 1
                return
            self.acknowledged.add(unique)
            if len(self.acknowledged) >= ACKS_BEFORE_KILL:
                self._enough.set()


def test_sigkill_under_load_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    server = LiveServer(tmp_path / "data", env=SERVER_ENV)
    acknowledged: set[str] = set()
    for run in range(KILLS):
        server.start()
        with Load(server.url, run) as load:
            load.wait_for_acks()
            server.kill()
        assert load.dropped == 0, "events were dropped; the test would prove nothing"
        acknowledged |= load.acknowledged

    server.start()
    assert server.stop() == 0
    stored: list[str] = []
    for row in server.events("name = ?", ["load"]):
        props = dict(zip(row["props_keys"], row["props_values"], strict=True))
        stored.append(props["n"])
    assert len(stored) == len(set(stored)), "an event was stored twice"
    assert acknowledged <= set(stored), f"lost: {sorted(acknowledged - set(stored))[:10]}"
    assert len(acknowledged) >= KILLS * ACKS_BEFORE_KILL
