"""ClickHouse schema migrations on a real clickhouse-server: versions recorded in
`schema_migrations`, applied once (also by processes starting together), `footfall migrate`,
and the cluster form (DDL as documented; a one-shard Distributed table over localhost)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from clickhouse_driver import Client
from clickhouse_driver.errors import ServerException
from typer.testing import CliRunner

from footfall.cli import app
from footfall.settings import Settings
from footfall.store import open_event_store
from footfall.store.clickhouse import ClickHouseEventStore
from footfall.store.clickhouse_migrations import (
    MIGRATIONS,
    Layout,
    Migration,
    Schema,
    SchemaMismatchError,
    events_table_ddl,
    migrate,
    migrations_table_ddl,
    queue_position_ddl,
)
from footfall.store.clickhouse_schema import COLUMN_TYPES, all_columns
from tests.support import factories
from tests.support.clickhouse import ClickHouseServer
from tests.support.stores import clickhouse_server, drop_clickhouse_store, stored_events

__all__ = ["clickhouse_server"]  # fixture

CLUSTER = "footfall_test_one_shard"


@pytest.fixture
def database(clickhouse_server: ClickHouseServer) -> Iterator[tuple[str, Client]]:
    """A database name nobody uses yet and a client on the server; dropped afterwards."""
    url = clickhouse_server.fresh_database_url()
    name = url.rsplit("/", 1)[1]
    client = Client(clickhouse_server.host, port=clickhouse_server.tcp_port)
    try:
        yield url, client
    finally:
        client.execute(f"DROP DATABASE IF EXISTS {name}")
        client.disconnect()


def _versions(client: Client, database: str) -> list[int]:
    rows = client.execute(f"SELECT version FROM {database}.schema_migrations ORDER BY version")
    return [int(version) for (version,) in rows]


def test_a_new_database_gets_every_migration_recorded_once(
    database: tuple[str, Client],
) -> None:
    url, client = database
    store = ClickHouseEventStore(url)
    try:
        assert store.migrations.before == 0
        assert store.migrations.applied == tuple(m.version for m in MIGRATIONS)
        assert store.migrations.after == MIGRATIONS[-1].version
        assert _versions(client, store.database) == [m.version for m in MIGRATIONS]
        columns = [row[0] for row in store.execute("DESCRIBE TABLE events")]
        assert columns == [name for name, _ in all_columns()]
        assert store.execute("SELECT count() FROM queue_position") == [(0,)]
    finally:
        store.close()
    reopened = ClickHouseEventStore(url)
    try:
        assert reopened.migrations.applied == ()
        assert reopened.migrations.before == reopened.migrations.after == MIGRATIONS[-1].version
        assert _versions(client, reopened.database) == [m.version for m in MIGRATIONS]
    finally:
        reopened.close()


def test_a_table_from_before_migrations_is_brought_up_to_date(
    database: tuple[str, Client],
) -> None:
    url, client = database
    name = url.rsplit("/", 1)[1]
    # What an earlier release created: no schema_migrations, an events table lacking columns.
    client.execute(f"CREATE DATABASE {name}")
    client.execute(events_table_ddl(Layout(name))[0])
    client.execute(f"ALTER TABLE {name}.events DROP COLUMN platform")
    client.execute(f"ALTER TABLE {name}.events DROP COLUMN engagement_ms")
    row = factories.pageview(ts=datetime(2025, 3, 1, 12, tzinfo=UTC))
    client.execute(f"INSERT INTO {name}.events (event_id, ts, site_id) VALUES", [(b"o" * 16, 1, 1)])
    store = ClickHouseEventStore(url)
    try:
        assert store.migrations.applied == (1,)
        described = store.execute("DESCRIBE TABLE events")
        assert [(r[0], r[1]) for r in described if r[0] in COLUMN_TYPES] == list(
            COLUMN_TYPES.items()
        )
        assert store.execute("SELECT count() FROM events") == [(1,)]  # kept its rows
        factories.populate(store, [row])
        assert row in stored_events(store)
    finally:
        drop_clickhouse_store(store)


def test_later_migrations_run_once_and_in_order(database: tuple[str, Client]) -> None:
    url, client = database
    store = ClickHouseEventStore(url)
    calls: list[int] = []

    def add_note(schema: Schema) -> None:
        calls.append(2)
        schema.add_missing_columns("events", [("note", "String")])

    def index_note(schema: Schema) -> None:
        calls.append(3)
        assert "note" in schema.columns("events")

    later = (*MIGRATIONS, Migration(2, "note", add_note), Migration(3, "after note", index_note))
    try:
        report = migrate(client, store.layout, later)
        assert report.applied == (2, 3) and report.before == 1 and report.after == 3
        again = migrate(client, store.layout, later)
        assert again.applied == () and again.after == 3
        assert calls == [2, 3]
        assert _versions(client, store.database) == [1, 2, 3]
        names = [row[0] for row in store.execute("DESCRIBE TABLE events")]
        assert "note" in names
    finally:
        store.close()


def test_processes_opening_a_new_database_together_all_succeed(
    database: tuple[str, Client],
) -> None:
    url, client = database
    opened: list[ClickHouseEventStore] = []
    failures: list[BaseException] = []
    start = threading.Barrier(4)

    def open_store() -> None:
        start.wait()
        try:
            opened.append(ClickHouseEventStore(url))
        except BaseException as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=open_store) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    try:
        assert failures == []
        assert len(opened) == 4
        assert set(_versions(client, opened[0].database)) == {1}
        columns = [row[0] for row in opened[0].execute("DESCRIBE TABLE events")]
        assert columns == [name for name, _ in all_columns()]
    finally:
        for store in opened:
            store.close()


def test_a_column_without_its_migration_is_reported(database: tuple[str, Client]) -> None:
    url, client = database
    store = ClickHouseEventStore(url)
    try:
        store.execute("ALTER TABLE events DROP COLUMN platform")
        with pytest.raises(SchemaMismatchError, match="lacks platform"):
            migrate(client, store.layout)
    finally:
        store.close()


def test_footfall_migrate_runs_the_clickhouse_migrations(
    database: tuple[str, Client], tmp_path: Path
) -> None:
    url, client = database
    env = {name: None for name in os.environ if name.startswith("FOOTFALL_")}
    env["FOOTFALL_EVENTS_URL"] = url
    args = ["--data-dir", str(tmp_path / "data"), "migrate"]
    first = CliRunner().invoke(app, args, env=env)
    assert first.exit_code == 0, first.output
    assert "ClickHouse schema migrated from version empty to 1 (ran 1)" in first.output
    assert _versions(client, url.rsplit("/", 1)[1]) == [1]
    second = CliRunner().invoke(app, args, env=env)
    assert second.exit_code == 0, second.output
    assert "ClickHouse schema already at version 1" in second.output


def test_footfall_migrate_leaves_duckdb_alone(tmp_path: Path) -> None:
    env = {name: None for name in os.environ if name.startswith("FOOTFALL_")}
    result = CliRunner().invoke(app, ["--data-dir", str(tmp_path / "data"), "migrate"], env=env)
    assert result.exit_code == 0, result.output
    assert "ClickHouse" not in result.output
    assert not (tmp_path / "data" / "events.duckdb").exists()


# -- the cluster form ---------------------------------------------------------------------------


def test_the_replicated_cluster_ddl_is_the_documented_one() -> None:
    layout = Layout("footfall", "prod")
    local, distributed = events_table_ddl(layout)
    assert local.startswith("CREATE TABLE IF NOT EXISTS footfall.events_local ON CLUSTER prod (")
    assert local.endswith(
        "ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/footfall/events_local', "
        "'{replica}')\nPARTITION BY toYYYYMM(ts)\nORDER BY (site_id, toDate(ts), visitor_id, ts)"
    )
    for name, kind in all_columns():
        assert f"\n    {name} {kind}" in local
    assert distributed == (
        "CREATE TABLE IF NOT EXISTS footfall.events ON CLUSTER prod AS footfall.events_local\n"
        "ENGINE = Distributed(prod, footfall, events_local, visitor_id)"
    )
    assert queue_position_ddl(layout) == (
        "CREATE TABLE IF NOT EXISTS footfall.queue_position ON CLUSTER prod (slot UInt8 "
        "DEFAULT 0, position String, recorded_ns UInt64) ENGINE = ReplicatedReplacingMergeTree("
        "'/clickhouse/tables/footfall/queue_position', '{replica}', recorded_ns) ORDER BY slot"
    )
    assert migrations_table_ddl(layout) == (
        "CREATE TABLE IF NOT EXISTS footfall.schema_migrations ON CLUSTER prod (version UInt32, "
        "name String, applied_at DateTime('UTC')) ENGINE = ReplicatedMergeTree("
        "'/clickhouse/tables/footfall/schema_migrations', '{replica}') ORDER BY version"
    )


def test_the_unreplicated_cluster_ddl_runs_on_the_connected_server() -> None:
    layout = Layout("footfall", "prod", replicated=False)
    local, distributed = events_table_ddl(layout)
    assert local.startswith("CREATE TABLE IF NOT EXISTS footfall.events_local (")
    assert "ENGINE = MergeTree()\n" in local
    assert "ON CLUSTER" not in local + distributed + queue_position_ddl(layout)
    assert "Distributed(prod, footfall, events_local, visitor_id)" in distributed


def test_the_replicated_ddl_parses_on_clickhouse_18_16(
    database: tuple[str, Client], one_shard_cluster: str
) -> None:
    """The test server runs no ZooKeeper, so ON CLUSTER statements cannot run there; 18.16
    refuses them for that reason only, after parsing them, never for their syntax."""
    url, client = database
    layout = Layout(url.rsplit("/", 1)[1], one_shard_cluster)
    statements = [*events_table_ddl(layout), queue_position_ddl(layout)]
    for statement in [*statements, migrations_table_ddl(layout)]:
        with pytest.raises(ServerException, match="DDL background thread is not initialized"):
            client.execute(statement)


def test_cluster_names_are_identifiers() -> None:
    with pytest.raises(ValueError, match="FOOTFALL_CLICKHOUSE_CLUSTER"):
        Layout("footfall", "prod; DROP TABLE x")


@pytest.fixture
def one_shard_cluster(clickhouse_server: ClickHouseServer) -> str:
    """A cluster of one shard, this server, added to its configuration (which the server reloads
    on the fly); its queries and inserts go over the network (prefer_localhost_replica=0)."""
    folder = clickhouse_server.root / "config.d"
    folder.mkdir(exist_ok=True)
    (folder / f"{CLUSTER}.xml").write_text(
        f'<?xml version="1.0"?>\n<yandex><remote_servers><{CLUSTER}><shard><replica>'
        f"<host>{clickhouse_server.host}</host><port>{clickhouse_server.tcp_port}</port>"
        f"</replica></shard></{CLUSTER}></remote_servers></yandex>\n"
    )
    client = Client(clickhouse_server.host, port=clickhouse_server.tcp_port)
    try:
        deadline = time.monotonic() + 60
        while not client.execute(
            "SELECT count() FROM system.clusters WHERE cluster = %(c)s", {"c": CLUSTER}
        )[0][0]:
            assert time.monotonic() < deadline, "the server did not load the cluster"
            time.sleep(0.2)
    finally:
        client.disconnect()
    return CLUSTER


def test_a_one_shard_distributed_table_over_localhost(
    database: tuple[str, Client], one_shard_cluster: str, tmp_path: Path
) -> None:
    url, client = database
    settings = Settings.load(
        environ={
            "FOOTFALL_DATA_DIR": str(tmp_path),
            "FOOTFALL_EVENTS_URL": f"{url}?prefer_localhost_replica=0",
            "FOOTFALL_CLICKHOUSE_CLUSTER": one_shard_cluster,
            "FOOTFALL_CLICKHOUSE_REPLICATED": "false",
        }
    )
    store = open_event_store(settings)
    try:
        assert isinstance(store, ClickHouseEventStore)
        assert store.migrations.applied == (1,)
        engines = dict(
            store.execute(
                "SELECT name, engine FROM system.tables WHERE database = %(db)s",
                {"db": store.database},
            )
        )
        assert engines == {
            "events": "Distributed",
            "events_local": "MergeTree",
            "queue_position": "ReplacingMergeTree",
            "schema_migrations": "MergeTree",
        }
        old = factories.pageview(ts=datetime(2024, 1, 15, tzinfo=UTC))
        rows = [old, *factories.visit(7, datetime(2025, 6, 1, 9, tzinfo=UTC), ("/", "/a", "/b"))]
        assert store.insert(rows) == 4
        # Synchronous distributed insert: the shard holds the rows when insert returns, so a
        # replay's dedupe (GLOBAL IN over the batch's ids) finds every one of them.
        assert store.execute("SELECT count() FROM events_local") == [(4,)]
        assert store.insert(rows, dedupe=True) == 0
        assert stored_events(store) == sorted(rows, key=lambda event: event.ts)
        assert store.delete_before(datetime(2025, 1, 1, tzinfo=UTC)) == 1
        assert store.execute("SELECT count() FROM events") == [(3,)]
        again = ClickHouseEventStore(url, cluster=one_shard_cluster, replicated=False)
        assert again.migrations.applied == ()
        again.close()
    finally:
        store.close()
