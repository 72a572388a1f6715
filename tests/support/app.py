"""An in-process Footfall app over real stores in a temp dir, and helpers to await stored rows."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.testclient import TestClient

from footfall.asgi import create_app
from footfall.meta.db import session_scope
from footfall.meta.sites import create_site
from footfall.settings import Settings

BROWSER_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


def settings_for(data_dir: Path, **overrides: Any) -> Settings:
    """Settings isolated from the environment, flushing fast."""
    # Rate limits off: tests send floods from one address on purpose (test_ratelimit covers them).
    values: dict[str, Any] = {
        "data_dir": str(data_dir),
        "flush_interval": "0.05",
        "rate_limit_ip": "0",
        "rate_limit_site": "0",
    }
    values.update({key: str(value) for key, value in overrides.items()})
    environ = {f"FOOTFALL_{key.upper()}": value for key, value in values.items()}
    return Settings.load(environ=environ)


@contextmanager
def running_app(
    data_dir: Path, sites: Sequence[str] = ("example.com", "localhost"), **overrides: Any
) -> Iterator[tuple[TestClient, Starlette]]:
    """The whole app (collectors, writer, API) with its lifespan running, sites created."""
    app = create_app(settings_for(data_dir, **overrides))
    with session_scope(app.state.engine) as session:
        for domain in sites:
            create_site(session, domain)
    app.state.sites.invalidate()
    app.state.sites.wait_refreshed(5)
    with TestClient(app, headers={"user-agent": BROWSER_UA}) as client:
        yield client, app


def rows(app: Starlette, where: str = "", params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    """Stored events as dicts (in-process reader cursor)."""
    clause = f" WHERE {where}" if where else ""
    columns = [row[0] for row in app.state.store.execute("DESCRIBE events")]
    result = app.state.store.execute(f"SELECT * FROM events{clause} ORDER BY ts", list(params))
    return [dict(zip(columns, row, strict=True)) for row in result]


def wait_rows(
    app: Starlette, count: int, where: str = "", params: Sequence[Any] = (), timeout: float = 10
) -> list[dict[str, Any]]:
    """Wait until exactly `count` rows match (the writer flushes asynchronously)."""
    deadline = time.monotonic() + timeout
    found: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        found = rows(app, where, params)
        if len(found) >= count:
            return found
        time.sleep(0.02)
    raise AssertionError(f"expected {count} rows where {where!r}, found {len(found)}")


def flush_marker(client: TestClient, app: Starlette) -> None:
    """Send one good event and wait for it: everything queued before it is stored by then."""
    marker = f"marker-{time.monotonic_ns()}"
    response = client.post(
        "/api/event",
        json={"n": marker, "u": "https://example.com/marker", "d": "example.com"},
    )
    assert response.status_code == 202, response.text
    wait_rows(app, 1, "name = ?", [marker])
