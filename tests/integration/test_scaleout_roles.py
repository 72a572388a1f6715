"""`create_app` by role: what each scale-out role serves and refuses, in-process."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis
from starlette.testclient import TestClient

from footfall.asgi import RoleError, check_role, create_app
from footfall.meta.db import session_scope
from footfall.meta.sites import create_site
from tests.support.app import BROWSER_UA, settings_for
from tests.support.clickhouse import ClickHouseServer, clickhouse_server
from tests.support.redis import redis_url

__all__ = ["clickhouse_server", "redis_url"]  # fixtures


def test_scale_out_roles_need_shared_stores(tmp_path: Path, redis_url: str) -> None:
    embedded = settings_for(tmp_path / "data")
    with pytest.raises(RoleError, match="shared queue"):
        check_role("collector", embedded)
    shared_queue = settings_for(tmp_path / "data", queue_url=redis_url)
    check_role("collector", shared_queue)
    with pytest.raises(RoleError, match="clickhouse://"):
        check_role("api", shared_queue)
    check_role("all", embedded)


def test_a_collector_queues_to_redis_and_serves_no_api(tmp_path: Path, redis_url: str) -> None:
    app = create_app(settings_for(tmp_path / "data", queue_url=redis_url), role="collector")
    assert app.state.store is None and app.state.writer is None
    with session_scope(app.state.engine) as session:
        create_site(session, "example.com")
    app.state.sites.invalidate()
    with TestClient(app, headers={"user-agent": BROWSER_UA}) as client:
        event = {"n": "pageview", "u": "https://example.com/a", "d": "example.com"}
        assert client.post("/api/event", json=event).status_code == 202
        assert client.get("/readyz").status_code == 200
        assert client.get("/api/v1/sites").status_code == 404
        assert client.get("/docs").status_code == 404
    client_redis = redis.Redis.from_url(redis_url)
    queued = sum(client_redis.xlen(f"footfall:events:{shard}") for shard in range(4))
    assert queued == 1


def test_an_api_process_serves_the_api_and_no_collection(
    tmp_path: Path, redis_url: str, clickhouse_server: ClickHouseServer
) -> None:
    settings = settings_for(
        tmp_path / "data", queue_url=redis_url, events_url=clickhouse_server.fresh_database_url()
    )
    app = create_app(settings, role="api")
    with TestClient(app, headers={"user-agent": BROWSER_UA}) as client:
        assert client.get("/readyz").status_code == 200
        assert client.get("/api/v1/sites").status_code == 401  # the API, behind authentication
        assert client.post("/api/event", json={"n": "pageview"}).status_code in {404, 405}
        assert client.get("/js/script.js").status_code == 404
