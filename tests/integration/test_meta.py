"""Metadata: migrations on SQLite and PostgreSQL match the models; site directory; daily salts."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from ipaddress import ip_network
from pathlib import Path
from typing import Any

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from setuptools import find_packages
from sqlalchemy import Engine, event, inspect, select, text, update
from sqlalchemy.engine import make_url

import footfall
from footfall.meta.db import make_engine, session_scope
from footfall.meta.migrate import (
    SchemaNotCurrentError,
    current_revision,
    ensure_current,
    head_revision,
    upgrade,
)
from footfall.meta.models import Base, Salt, Site
from footfall.meta.salts import SaltKeeper
from footfall.meta.sites import SiteDirectory, create_site, get_site, list_sites

POSTGRES_URL = os.environ.get(
    "FOOTFALL_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class StatementCounter:
    def __init__(self, engine: Engine) -> None:
        self.count = 0
        self._engine = engine
        event.listen(engine, "before_cursor_execute", self._record)

    def _record(self, *_args: Any) -> None:
        self.count += 1

    def close(self) -> None:
        event.remove(self._engine, "before_cursor_execute", self._record)


def _postgres_url() -> Iterator[str]:
    """A URL whose default schema is a fresh, uniquely named one, dropped afterwards."""
    schema = f"footfall_test_{uuid.uuid4().hex[:12]}"
    admin_url = make_url(POSTGRES_URL).set(drivername="postgresql")
    try:
        admin = psycopg.connect(admin_url.render_as_string(hide_password=False), autocommit=True)
    except psycopg.OperationalError as exc:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL}: {exc}")
    with admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
        try:
            url = admin_url.update_query_dict({"options": f"-csearch_path={schema}"})
            yield url.render_as_string(hide_password=False)
        finally:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty metadata database of each supported kind."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'meta' / 'footfall.sqlite3'}"
    else:
        yield from _postgres_url()


@pytest.fixture
def engine(empty_url: str) -> Iterator[Engine]:
    upgrade(empty_url)
    engine = make_engine(empty_url)
    yield engine
    engine.dispose()


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path / 'footfall.sqlite3'}"
    upgrade(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


# --- migrations -----------------------------------------------------------------------------


def test_migrations_build_exactly_the_models(empty_url: str) -> None:
    assert current_revision(empty_url) is None
    assert upgrade(empty_url) == head_revision()
    assert current_revision(empty_url) == head_revision()
    assert upgrade(empty_url) == head_revision()  # a second run is a no-op

    engine = make_engine(empty_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
            tables = set(inspect(conn).get_table_names())
        assert {"sites", "users", "api_keys", "salts"} <= tables
        ensure_current(engine)
    finally:
        engine.dispose()


def test_ensure_current_names_the_fix(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'never-migrated.sqlite3'}")
    try:
        with pytest.raises(SchemaNotCurrentError, match="footfall migrate"):
            ensure_current(engine)
    finally:
        engine.dispose()


def test_concurrent_upgrades_agree(empty_url: str) -> None:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            upgrade(empty_url)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert current_revision(empty_url) == head_revision()


def test_migrations_ship_as_packages() -> None:
    source = Path(footfall.__file__).parents[1]
    packages = set(find_packages(str(source)))
    assert {"footfall.meta.migrations", "footfall.meta.migrations.versions"} <= packages
    assert (source / "footfall" / "meta" / "migrations" / "script.py.mako").is_file()


def test_sqlite_pragmas(sqlite_engine: Engine) -> None:
    with sqlite_engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000


def test_sqlite_ddl_is_transactional(sqlite_engine: Engine) -> None:
    # What keeps a failed migration from leaving a half-built schema behind.
    with pytest.raises(RuntimeError, match="abort"), sqlite_engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE scratch (x INTEGER)")
        raise RuntimeError("abort")
    assert "scratch" not in inspect(sqlite_engine).get_table_names()


def test_timestamps_come_back_timezone_aware(engine: Engine) -> None:
    with session_scope(engine) as session:
        create_site(session, "tz.example")
    with session_scope(engine) as session:
        site = get_site(session, "tz.example")
        assert site is not None
        assert site.created_at.utcoffset() == timedelta(0)
        assert abs(datetime.now(UTC) - site.created_at) < timedelta(hours=1)


# --- sites ----------------------------------------------------------------------------------


def test_create_site_normalizes_and_validates(engine: Engine) -> None:
    with session_scope(engine) as session:
        site = create_site(session, " WWW.Example.COM. ", timezone="Europe/Berlin")
        assert (site.domain, site.name, site.timezone) == (
            "example.com",
            "example.com",
            "Europe/Berlin",
        )
        assert site.allowed_hostnames == [] and site.excluded_paths == []
        create_site(session, "bücher.example", name="Books")
    with session_scope(engine) as session:
        assert [s.domain for s in list_sites(session)] == ["example.com", "xn--bcher-kva.example"]
        for domain, message in [
            ("example.com", "already exists"),
            ("www.example.com", "already exists"),
            ("", "must not be empty"),
            ("https://example.com/", "not a domain"),
            ("exa mple.com", "not a domain"),
            ("-bad-.com", "not a valid domain"),
        ]:
            with pytest.raises(ValueError, match=message):
                create_site(session, domain)
        with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
            create_site(session, "mars.example", timezone="Mars/Olympus")


def test_directory_lookups_never_touch_the_database(engine: Engine) -> None:
    with session_scope(engine) as session:
        site = create_site(session, "example.com", timezone="Europe/Berlin")
        site.excluded_ip_ranges = ["10.0.0.0/8", "not an ip", "2001:db8::/32"]
        site.excluded_paths = ["/admin/**"]
        site.allowed_hostnames = ["Example.com", "*.example.com"]
        other = create_site(session, "other.example")
    directory = SiteDirectory(engine, ttl_s=3600)
    assert directory.lookup("example.com") is not None  # warm-up loads the snapshot

    counter = StatementCounter(engine)
    try:
        for _ in range(500):
            info = directory.lookup("WWW.Example.com")
            assert directory.lookup("unknown.example") is None
            assert directory.by_id(other.id) is not None
        assert counter.count == 0
    finally:
        counter.close()
    assert info is not None
    assert (info.id, info.domain, info.timezone) == (site.id, "example.com", "Europe/Berlin")
    assert info.zone.key == "Europe/Berlin"
    assert info.excluded_networks == (ip_network("10.0.0.0/8"), ip_network("2001:db8::/32"))
    assert info.excluded_paths == ("/admin/**",)
    assert info.allowed_hostnames == ("example.com", "*.example.com")
    assert [s.domain for s in directory.all()] == ["example.com", "other.example"]


def test_directory_refreshes_in_the_background_after_ttl(engine: Engine) -> None:
    clock = FakeClock()
    directory = SiteDirectory(engine, ttl_s=5.0, clock=clock)
    assert directory.lookup("late.example") is None
    with session_scope(engine) as session:  # written by "another process": no invalidate()
        create_site(session, "late.example")

    clock.now += 4
    assert directory.lookup("late.example") is None  # within ttl: the snapshot stands
    clock.now += 2
    # The lookup that notices the stale snapshot still answers from it, then a refresh runs.
    assert directory.lookup("late.example") is None
    directory.wait_refreshed(timeout_s=30)
    assert directory.lookup("late.example") is not None


def test_directory_invalidate_reloads_at_once(engine: Engine) -> None:
    directory = SiteDirectory(engine, ttl_s=3600)
    assert directory.lookup("new.example") is None
    with session_scope(engine) as session:
        site_id = create_site(session, "new.example").id
    directory.invalidate()
    info = directory.lookup("new.example")
    assert info is not None and directory.by_id(site_id) == info


def test_directory_keeps_its_snapshot_when_a_refresh_fails(sqlite_engine: Engine) -> None:
    with session_scope(sqlite_engine) as session:
        create_site(session, "kept.example")
    clock = FakeClock()
    directory = SiteDirectory(sqlite_engine, ttl_s=5.0, clock=clock)
    assert directory.lookup("kept.example") is not None
    with sqlite_engine.begin() as conn:
        conn.execute(text("ALTER TABLE sites RENAME TO sites_elsewhere"))
    clock.now += 10
    directory.lookup("kept.example")
    directory.wait_refreshed(timeout_s=30)
    assert directory.lookup("kept.example") is not None


# --- salts ----------------------------------------------------------------------------------


def _at(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def _stored_days(engine: Engine) -> list[date]:
    with session_scope(engine) as session:
        return sorted(session.scalars(select(Salt.day)))


def test_two_keepers_on_one_database_agree(engine: Engine) -> None:
    day = date(2026, 3, 1)
    first = SaltKeeper(engine).salts(_at(day, 1))
    second = SaltKeeper(engine).salts(_at(day, 23))
    assert first == second
    today, yesterday = first
    assert len(today) == 32 and yesterday is None


def test_salts_rotate_daily_and_old_ones_are_deleted(engine: Engine) -> None:
    keeper = SaltKeeper(engine)
    day1, day2, day3 = date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 3)
    salt1, _ = keeper.salts(_at(day1))
    salt2, previous = keeper.salts(_at(day2, 0))
    assert salt2 != salt1 and previous == salt1
    assert _stored_days(engine) == [day1, day2]

    salt3, previous = keeper.salts(_at(day3))
    assert previous == salt2 and salt3 not in {salt1, salt2}
    assert _stored_days(engine) == [day2, day3]  # day 1's salt is gone: unlinkable
    assert SaltKeeper(engine).salts(_at(day3)) == (salt3, salt2)


def test_salts_are_cached_until_the_day_changes(engine: Engine) -> None:
    keeper = SaltKeeper(engine)
    current = keeper.salts()
    noon = _at(datetime.now(UTC).date())
    counter = StatementCounter(engine)
    try:
        for _ in range(200):
            assert keeper.salts() == current
        assert counter.count == 0
        with session_scope(engine) as session:  # another process's write is not re-read today
            session.execute(update(Salt).values(value=b"x" * 32))
        counter.count = 0
        assert keeper.salts(noon) == current
        assert counter.count == 0
    finally:
        counter.close()


def test_site_rows_keep_json_lists(sqlite_engine: Engine) -> None:
    with session_scope(sqlite_engine) as session:
        site = create_site(session, "lists.example")
        site.excluded_paths.append("/private/*")
    with session_scope(sqlite_engine) as session:
        stored = session.scalars(select(Site).where(Site.domain == "lists.example")).one()
        assert stored.excluded_paths == ["/private/*"]
