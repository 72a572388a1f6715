"""API keys: shown once, stored only hashed, verified from cache, revocable, scoped."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, inspect, select, text, update

from footfall.accounts.keys import ApiKeyVerifier, create_api_key, revoke_api_key
from footfall.accounts.users import create_user
from footfall.meta.db import session_scope
from footfall.meta.models import ApiKey, User
from footfall.meta.sites import create_site


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class StatementLog:
    """Every SQL statement an engine sends, as the database sees it."""

    def __init__(self, engine: Engine) -> None:
        self.statements: list[str] = []
        event.listen(engine, "before_cursor_execute", self._record)

    def _record(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        self.statements.append(statement)

    def writes(self) -> list[str]:
        return [s for s in self.statements if s.lstrip().upper().startswith("UPDATE")]


@pytest.fixture
def owner(meta_engine: Engine) -> tuple[int, int]:
    """(user id, site id) of a user and a site to hang keys on."""
    with session_scope(meta_engine) as session:
        user = create_user(session, "owner", "a long password", "admin")
        site = create_site(session, "example.com")
        return user.id, site.id


@pytest.fixture
def statements(meta_engine: Engine) -> Iterator[StatementLog]:
    log = StatementLog(meta_engine)
    yield log
    event.remove(meta_engine, "before_cursor_execute", log._record)


def _new_key(engine: Engine, user_id: int, *scopes: str, site_id: int | None = None) -> str:
    with session_scope(engine) as session:
        _, raw = create_api_key(session, user_id, "ci", scopes or ("ingest",), site_id=site_id)
    return raw


def test_raw_key_is_stored_nowhere(
    meta_engine: Engine, meta_url: str, owner: tuple[int, int]
) -> None:
    user_id, site_id = owner
    with session_scope(meta_engine) as session:
        key, raw = create_api_key(session, user_id, "deploy", ["read", "ingest"], site_id=site_id)
    assert re.fullmatch(r"ff_[0-9a-f]{16}_[A-Za-z0-9_-]{43}", raw)
    secret = raw.split("_", 2)[2]

    # Every column of every row of every table, as text and as bytes.
    with meta_engine.connect() as conn:
        for table in inspect(conn).get_table_names():
            for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                for value in row:
                    rendered = value.hex() if isinstance(value, bytes) else str(value)
                    assert secret not in rendered, f"secret found in {table}"
                    if isinstance(value, bytes):
                        assert secret.encode() not in value
    # And the database files themselves, write-ahead log included.
    folder = Path(meta_url.removeprefix("sqlite:///")).parent
    for path in folder.iterdir():
        assert secret.encode() not in path.read_bytes(), f"secret found in {path.name}"
    assert key.key_hash != raw and len(key.key_hash) == 64


def test_verify_returns_grants_and_rejects_lookalikes(
    meta_engine: Engine, owner: tuple[int, int], statements: StatementLog
) -> None:
    user_id, site_id = owner
    raw = _new_key(meta_engine, user_id, "ingest", "read", site_id=site_id)
    verifier = ApiKeyVerifier(meta_engine)
    info = verifier.verify(raw)
    assert info is not None
    assert info.user_id == user_id and info.site_id == site_id
    assert info.scopes == ("ingest", "read")
    assert info.allows("read") and info.allows("ingest") and not info.allows("write")

    marker, prefix, secret = raw.split("_", 2)
    forged = f"{marker}_{prefix}_{'A' if secret[0] != 'A' else 'B'}{secret[1:]}"
    assert verifier.verify(forged) is None  # right prefix, wrong secret
    statements.statements.clear()
    for malformed in ["", "ff_", "ff_xyz_abc", f"xx_{prefix}_{secret}", raw + "x" * 200]:
        assert verifier.verify(malformed) is None
    assert statements.statements == []  # malformed keys never reach the database


def test_warm_key_costs_no_statement(
    meta_engine: Engine, owner: tuple[int, int], statements: StatementLog
) -> None:
    raw = _new_key(meta_engine, owner[0])
    verifier = ApiKeyVerifier(meta_engine, clock=FakeClock())
    assert verifier.verify(raw) is not None
    statements.statements.clear()
    for _ in range(100):
        assert verifier.verify(raw) is not None
    assert statements.statements == []


def test_last_used_is_written_at_most_once_a_minute(
    meta_engine: Engine, owner: tuple[int, int], statements: StatementLog
) -> None:
    raw = _new_key(meta_engine, owner[0])
    clock = FakeClock()
    verifier = ApiKeyVerifier(meta_engine, ttl_s=30, clock=clock)

    def last_used() -> Any:
        with session_scope(meta_engine) as session:
            return session.scalars(select(ApiKey.last_used_at)).one()

    assert last_used() is None
    verifier.verify(raw)
    first = last_used()
    assert first is not None and first.tzinfo is not None
    assert len(statements.writes()) == 1

    clock.now += 45  # past the cache ttl (a read), within the minute (no write)
    verifier.verify(raw)
    assert len(statements.writes()) == 1

    clock.now += 20  # a minute and more since the last write
    verifier.verify(raw)
    assert len(statements.writes()) == 2
    assert last_used() >= first


def test_revocation_takes_effect_within_ttl(meta_engine: Engine, owner: tuple[int, int]) -> None:
    raw = _new_key(meta_engine, owner[0])
    clock = FakeClock()
    verifier = ApiKeyVerifier(meta_engine, ttl_s=30, clock=clock)
    info = verifier.verify(raw)
    assert info is not None
    with session_scope(meta_engine) as session:
        assert revoke_api_key(session, info.id)
        assert not revoke_api_key(session, info.id + 1000)

    clock.now += 10
    assert verifier.verify(raw) is not None  # still cached: another process revoked it
    clock.now += 25
    assert verifier.verify(raw) is None
    assert ApiKeyVerifier(meta_engine).verify(raw) is None


def test_invalidate_and_disabled_users(meta_engine: Engine, owner: tuple[int, int]) -> None:
    raw = _new_key(meta_engine, owner[0], "write")
    verifier = ApiKeyVerifier(meta_engine, clock=FakeClock())
    assert verifier.verify(raw) is not None
    with session_scope(meta_engine) as session:
        session.execute(update(User).where(User.id == owner[0]).values(disabled=True))
    assert verifier.verify(raw) is not None  # cached until told otherwise
    verifier.invalidate()
    assert verifier.verify(raw) is None


@pytest.mark.parametrize(
    ("scopes", "message"),
    [([], "at least one scope"), (["read", "admin"], "unknown scope 'admin'")],
)
def test_scopes_are_validated(
    meta_engine: Engine, owner: tuple[int, int], scopes: list[str], message: str
) -> None:
    with session_scope(meta_engine) as session, pytest.raises(ValueError, match=message):
        create_api_key(session, owner[0], "bad", scopes)


def test_key_needs_an_existing_user_site_and_a_name(
    meta_engine: Engine, owner: tuple[int, int]
) -> None:
    user_id, site_id = owner
    with session_scope(meta_engine) as session:
        with pytest.raises(ValueError, match="no user"):
            create_api_key(session, user_id + 99, "k", ["read"])
        with pytest.raises(ValueError, match="no site"):
            create_api_key(session, user_id, "k", ["read"], site_id=site_id + 99)
        with pytest.raises(ValueError, match="name"):
            create_api_key(session, user_id, "  ", ["read"])
        key, _ = create_api_key(session, user_id, "k", ["READ", "read", "write"])
        assert key.scopes == ["read", "write"]
