"""Shared fixtures: a live `footfall serve` process, temporary data dirs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.server import LiveServer


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[LiveServer]:
    """A started server on a fresh data dir (site `localhost` exists); stopped afterwards."""
    server = LiveServer(tmp_path / "data")
    server.start()
    try:
        yield server
    finally:
        server.stop()
