"""API-key revocation reaches every cache at once: the collector's and the API's in one process,
and, through Redis pub/sub, those of other processes (a real api and a real collector process).
Every cache here keeps a key for an hour (FOOTFALL_KEY_CACHE_TTL), so only the invalidation can
explain a refusal."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import redis
from sqlalchemy import Engine

from footfall.accounts.keys import ApiKeyVerifier, create_api_key, forget_api_keys
from footfall.accounts.tokens import issue_token
from footfall.meta.db import make_engine, session_scope
from footfall.meta.migrate import upgrade
from footfall.meta.models import User
from footfall.queue.broadcast import CHANNEL
from tests.support.app import running_app
from tests.support.clickhouse import ClickHouseServer
from tests.support.redis import redis_url
from tests.support.scaleout import SECRET
from tests.support.server import LiveServer
from tests.support.stores import clickhouse_server

__all__ = ["clickhouse_server", "redis_url"]  # fixtures

HOUR = 3600
BATCH = [{"event_type": "page_view", "metadata": {"page_url": "https://localhost/pricing"}}]


def _user(engine: Engine, name: str, role: str) -> tuple[int, str, str]:
    """A user with an ingest key and a bearer token: (user id, raw key, raw token)."""
    with session_scope(engine) as session:
        user = User(username=name, password_hash="-", role=role)
        session.add(user)
        session.flush()
        key, raw_key = create_api_key(session, user.id, f"{name}'s key", ["ingest", "read"])
        _, raw_token = issue_token(session, SECRET, user.id)
        return user.id, raw_key, raw_token


def _key_id(engine: Engine, raw_key: str) -> int:
    prefix = raw_key.split("_")[1]
    with session_scope(engine) as session:
        from footfall.meta.models import ApiKey

        key = session.query(ApiKey).filter(ApiKey.prefix == prefix).one()
        return key.id


def _eventually(check: Callable[[], bool], within_s: float = 20.0) -> bool:
    deadline = time.monotonic() + within_s
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _auth(credential: str) -> dict[str, str]:
    return {"authorization": f"Bearer {credential}"}


def test_revoking_through_the_api_clears_the_collectors_cache_in_the_same_process(
    tmp_path: Path,
) -> None:
    with running_app(
        tmp_path / "data", sites=("localhost",), secret_key=SECRET, key_cache_ttl=HOUR
    ) as (client, app):
        engine = app.state.engine
        _, admin_key, admin_token = _user(engine, "admin1", "admin")
        _, key, _ = _user(engine, "alice", "viewer")
        assert client.post("/api/v1/events/batch", json=BATCH, headers=_auth(key)).is_success
        assert client.get("/api/v1/sites", headers=_auth(key)).status_code == 200
        answer = client.delete(
            f"/api/v1/api-keys/{_key_id(engine, key)}", headers=_auth(admin_token)
        )
        assert answer.status_code == 200, answer.text
        refused = client.post("/api/v1/events/batch", json=BATCH, headers=_auth(key))
        assert refused.status_code == 401
        assert client.get("/api/v1/sites", headers=_auth(key)).status_code == 401
        # The admin's own key is untouched by the flush of the caches.
        assert client.post("/api/v1/events/batch", json=BATCH, headers=_auth(admin_key)).is_success


def test_a_read_that_crosses_an_invalidation_is_not_cached(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'meta.sqlite3'}"
    upgrade(url)
    engine = make_engine(url)
    try:
        _, key, _ = _user(engine, "bob", "viewer")
        verifier = ApiKeyVerifier(engine, ttl_s=HOUR)
        original = verifier._load

        def load_then_revoked_elsewhere(prefix: str, digest: str) -> object:
            found = original(prefix, digest)
            forget_api_keys(engine)  # the revocation's broadcast arrives mid-read
            return found

        verifier._load = load_then_revoked_elsewhere  # type: ignore[method-assign]
        assert verifier.verify(key) is not None
        verifier._load = original  # type: ignore[method-assign]
        with session_scope(engine) as session:
            from footfall.accounts.keys import revoke_api_key

            revoke_api_key(session, _key_id(engine, key))
        assert verifier.verify(key) is None  # the answer read before was not kept
    finally:
        engine.dispose()


@pytest.fixture
def processes(
    tmp_path: Path, redis_url: str, clickhouse_server: ClickHouseServer
) -> Iterator[tuple[LiveServer, LiveServer, Engine]]:
    """An api process and a collector process sharing metadata, Redis and ClickHouse."""
    database_url = f"sqlite:///{tmp_path / 'meta.sqlite3'}"
    env = {
        "FOOTFALL_QUEUE_URL": redis_url,
        "FOOTFALL_EVENTS_URL": clickhouse_server.fresh_database_url(),
        "FOOTFALL_DATABASE_URL": database_url,
        "FOOTFALL_SECRET_KEY": SECRET,
        "FOOTFALL_KEY_CACHE_TTL": str(HOUR),
    }
    api = LiveServer(tmp_path / "api", env=env, serve_args=["--role", "api"])
    collector = LiveServer(tmp_path / "collector", env=env, serve_args=["--role", "collector"])
    engine = make_engine(database_url)
    try:
        api.start()
        collector.start()
        bus = redis.Redis.from_url(redis_url)
        # Both processes listen on the invalidation channel before anything is revoked.
        listening = _eventually(lambda: bus.pubsub_numsub(CHANNEL)[0][1] >= 2)
        bus.close()
        assert listening, api.log() + collector.log()
        yield api, collector, engine
    finally:
        collector.stop()
        api.stop()
        engine.dispose()


def _ingest(server: LiveServer, key: str) -> int:
    return httpx.post(
        f"{server.url}/api/v1/events/batch", json=BATCH, headers=_auth(key), timeout=10
    ).status_code


def test_a_key_revoked_in_the_api_process_is_refused_by_the_collector_process(
    processes: tuple[LiveServer, LiveServer, Engine],
) -> None:
    api, collector, engine = processes
    _, _, admin_token = _user(engine, "admin2", "admin")
    _, key, _ = _user(engine, "carol", "viewer")
    _, other_key, _ = _user(engine, "dave", "viewer")
    assert _ingest(collector, key) == 200  # now cached in the collector for an hour
    assert _ingest(collector, other_key) == 200
    revoked = httpx.delete(
        f"{api.url}/api/v1/api-keys/{_key_id(engine, key)}", headers=_auth(admin_token), timeout=10
    )
    assert revoked.status_code == 200, revoked.text
    assert _eventually(lambda: _ingest(collector, key) == 401), collector.log()
    assert _ingest(collector, other_key) == 200


def test_a_user_disabled_in_the_api_process_loses_its_keys_in_the_collector_process(
    processes: tuple[LiveServer, LiveServer, Engine],
) -> None:
    api, collector, engine = processes
    _, _, admin_token = _user(engine, "admin3", "admin")
    user_id, key, token = _user(engine, "erin", "viewer")
    assert _ingest(collector, key) == 200
    assert httpx.get(f"{api.url}/api/v1/sites", headers=_auth(token), timeout=10).is_success
    disabled = httpx.patch(
        f"{api.url}/api/v1/users/{user_id}",
        json={"disabled": True},
        headers=_auth(admin_token),
        timeout=10,
    )
    assert disabled.status_code == 200, disabled.text
    assert _eventually(lambda: _ingest(collector, key) == 401), collector.log()
    # Tokens and sessions are checked against the database on every request: refused at once.
    refused = httpx.get(f"{api.url}/api/v1/sites", headers=_auth(token), timeout=10)
    assert refused.status_code == 401
