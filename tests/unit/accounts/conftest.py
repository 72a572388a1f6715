"""Fixtures for account tests: a migrated SQLite metadata database in the test's temp dir."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from footfall.meta.db import make_engine
from footfall.meta.migrate import upgrade


@pytest.fixture
def meta_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'meta.sqlite3'}"
    upgrade(url)
    return url


@pytest.fixture
def meta_engine(meta_url: str) -> Iterator[Engine]:
    engine = make_engine(meta_url)
    yield engine
    engine.dispose()
