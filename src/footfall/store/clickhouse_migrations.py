"""Versioned schema migrations of the ClickHouse store, recorded in its `schema_migrations` table.

Each migration is a numbered function over a `Schema` (a client plus the table layout: single
server or cluster). `migrate` creates `schema_migrations` when missing, runs every migration
whose number is not recorded there, in order, and records each once it has run. It runs when a
store opens (every process start) and from `footfall migrate`.

ClickHouse has no transactions and no locks, so every migration is idempotent: it checks what
is there before it changes anything (18.16 knows no `ADD COLUMN IF NOT EXISTS`), and a change
another process made meanwhile counts as done. Two processes starting together may both run a
migration and both record it; the version is then listed twice, which reads the same.

Layouts (docs/clickhouse.md): on one server `events` is a MergeTree table. With
FOOTFALL_CLICKHOUSE_CLUSTER set, `events_local` holds each shard's rows (ReplicatedMergeTree, or
MergeTree with FOOTFALL_CLICKHOUSE_REPLICATED=false) and `events` is a Distributed table over
it, sharded by visitor_id. Replicated layouts run their DDL `ON CLUSTER` (which needs ZooKeeper
or ClickHouse Keeper, as replication does); the others run it on the connected server only, so
`footfall migrate` is run once per server.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from clickhouse_driver.errors import ServerException  # type: ignore[import-untyped]

from footfall.store.clickhouse_schema import (
    COLUMN_TYPES,
    ORDER_BY,
    PARTITION_BY,
    QUEUE_POSITION_COLUMNS,
    all_columns,
)

log = logging.getLogger(__name__)

MIGRATIONS_TABLE = "schema_migrations"
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
# ClickHouse's error for a column that exists already (a concurrent migration added it).
_ILLEGAL_COLUMN = 44


class _Client(Protocol):
    def execute(self, query: str, params: Any = None) -> Any: ...


@dataclass(frozen=True)
class Layout:
    """Where the tables live: one server, or a cluster named in the servers' remote_servers."""

    database: str
    cluster: str = ""
    replicated: bool = True

    def __post_init__(self) -> None:
        if self.cluster and not _IDENTIFIER.fullmatch(self.cluster):
            raise ValueError(
                f"FOOTFALL_CLICKHOUSE_CLUSTER={self.cluster!r}: a cluster name is letters, "
                "digits and _ (as in the servers' remote_servers)"
            )

    @property
    def clustered(self) -> bool:
        """True when `events` is a Distributed table over `events_local`."""
        return bool(self.cluster)

    @property
    def on_cluster(self) -> str:
        """The ` ON CLUSTER name` clause of DDL statements (replicated clusters only)."""
        return f" ON CLUSTER {self.cluster}" if self.clustered and self.replicated else ""

    @property
    def shard_table(self) -> str:
        """The table that stores events on a server (`events` on one server)."""
        return "events_local" if self.clustered else "events"

    def qualified(self, table: str) -> str:
        """`database`.`table`: DDL run ON CLUSTER must not depend on each server's default."""
        return f"{self.database}.{table}"

    def engine(self, table: str, *, replacing_version: str = "", sharded: bool = True) -> str:
        """The MergeTree engine of `table` for this layout.

        Replicated tables keep their ZooKeeper path under /clickhouse/tables/{shard}/<database>
        (sharded) or /clickhouse/tables/<database> (one copy on every server).
        """
        family = "ReplacingMergeTree" if replacing_version else "MergeTree"
        if not (self.clustered and self.replicated):
            return f"{family}({replacing_version})"
        shard = "{shard}/" if sharded else ""
        path = f"'/clickhouse/tables/{shard}{self.database}/{table}', '{{replica}}'"
        extra = f", {replacing_version}" if replacing_version else ""
        return f"Replicated{family}({path}{extra})"


class Schema:
    """What a migration works with: the client, the layout and idempotent DDL helpers."""

    def __init__(self, client: _Client, layout: Layout) -> None:
        self.client = client
        self.layout = layout

    def run(self, statement: str) -> None:
        """Run one DDL statement."""
        log.debug("clickhouse migration: %s", statement)
        self.client.execute(statement)

    def columns(self, table: str) -> list[str]:
        """The columns of `table` in this database, in order (empty when there is no table)."""
        rows = self.client.execute(
            "SELECT name FROM system.columns WHERE database = %(database)s AND table = %(table)s",
            {"database": self.layout.database, "table": table},
        )
        return [str(name) for (name,) in rows]

    def add_missing_columns(self, table: str, columns: list[tuple[str, str]]) -> list[str]:
        """Add the `(name, type)` columns `table` lacks, each after its predecessor in the list;
        returns the names added here (a column another process adds meanwhile is skipped)."""
        added: list[str] = []
        previous = ""
        for name, kind in columns:
            if name not in self.columns(table):
                after = f" AFTER {previous}" if previous else ""
                try:
                    self.run(
                        f"ALTER TABLE {self.layout.qualified(table)}{self.layout.on_cluster} "
                        f"ADD COLUMN {name} {kind}{after}"
                    )
                    added.append(name)
                except ServerException as exc:
                    # Also the code of other column errors: only a concurrent add is fine.
                    if exc.code != _ILLEGAL_COLUMN or name not in self.columns(table):
                        raise
            previous = name
        return added


@dataclass(frozen=True)
class Migration:
    """One numbered schema change."""

    version: int
    name: str
    apply: Callable[[Schema], None]


@dataclass(frozen=True)
class MigrationReport:
    """What `migrate` found and did: versions before and after, and the ones it ran."""

    before: int
    after: int
    applied: tuple[int, ...]


def events_table_ddl(layout: Layout) -> list[str]:
    """CREATE TABLE statements of the events table(s): `events` on one server; `events_local`
    and the Distributed `events` over it on a cluster."""
    body = ",\n    ".join(f"{name} {kind}" for name, kind in all_columns())
    shard = layout.qualified(layout.shard_table)
    statements = [
        f"CREATE TABLE IF NOT EXISTS {shard}{layout.on_cluster} (\n    {body}\n) "
        f"ENGINE = {layout.engine(layout.shard_table)}\n"
        f"PARTITION BY {PARTITION_BY}\nORDER BY {ORDER_BY}"
    ]
    if layout.clustered:
        # visitor_id is already a hash: it spreads rows evenly and keeps each visit on one shard.
        statements.append(
            f"CREATE TABLE IF NOT EXISTS {layout.qualified('events')}{layout.on_cluster} "
            f"AS {shard}\nENGINE = Distributed({layout.cluster}, {layout.database}, "
            f"{layout.shard_table}, visitor_id)"
        )
    return statements


def queue_position_ddl(layout: Layout) -> str:
    """CREATE TABLE of `queue_position`: one row per stored batch, the newest kept by merges."""
    engine = layout.engine("queue_position", replacing_version="recorded_ns", sharded=False)
    return (
        f"CREATE TABLE IF NOT EXISTS {layout.qualified('queue_position')}{layout.on_cluster} "
        f"({QUEUE_POSITION_COLUMNS}) ENGINE = {engine} ORDER BY slot"
    )


def migrations_table_ddl(layout: Layout) -> str:
    """CREATE TABLE of `schema_migrations` (one copy shared by every server of a cluster)."""
    return (
        f"CREATE TABLE IF NOT EXISTS {layout.qualified(MIGRATIONS_TABLE)}{layout.on_cluster} "
        "(version UInt32, name String, applied_at DateTime('UTC')) "
        f"ENGINE = {layout.engine(MIGRATIONS_TABLE, sharded=False)} ORDER BY version"
    )


def _0001_events_and_queue_position(schema: Schema) -> None:
    """The events table(s) and queue_position; an events table made by a release from before
    migrations existed gains the columns it lacks."""
    layout = schema.layout
    for statement in events_table_ddl(layout):
        schema.run(statement)
    schema.run(queue_position_ddl(layout))
    for table in dict.fromkeys([layout.shard_table, "events"]):
        schema.add_missing_columns(table, all_columns())


# In order; a new migration gets the next number and is never renumbered or edited once shipped.
MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "events and queue_position", _0001_events_and_queue_position),
)


class SchemaMismatchError(RuntimeError):
    """After migrating, the events table still lacks columns this release writes."""


def applied_versions(client: _Client, layout: Layout) -> set[int]:
    """The versions recorded in `schema_migrations` (empty when the table does not exist)."""
    exists = client.execute(
        "SELECT count() FROM system.tables WHERE database = %(database)s AND name = %(table)s",
        {"database": layout.database, "table": MIGRATIONS_TABLE},
    )
    if not exists[0][0]:
        return set()
    rows = client.execute(f"SELECT DISTINCT version FROM {layout.qualified(MIGRATIONS_TABLE)}")
    return {int(version) for (version,) in rows}


def migrate(
    client: _Client, layout: Layout, migrations: tuple[Migration, ...] = MIGRATIONS
) -> MigrationReport:
    """Run the migrations not yet recorded, in order, recording each; see the module docstring.

    Raises SchemaMismatchError when the events table still lacks a column afterwards (a column
    added to the Event without its migration).
    """
    before = applied_versions(client, layout)
    schema = Schema(client, layout)
    schema.run(migrations_table_ddl(layout))
    applied: list[int] = []
    for migration in migrations:
        if migration.version in before:
            continue
        log.info("clickhouse migration %d: %s", migration.version, migration.name)
        migration.apply(schema)
        client.execute(
            f"INSERT INTO {layout.qualified(MIGRATIONS_TABLE)} (version, name, applied_at) VALUES",
            [(migration.version, migration.name, int(time.time()))],
        )
        applied.append(migration.version)
    missing = [name for name in COLUMN_TYPES if name not in schema.columns("events")]
    if missing:
        raise SchemaMismatchError(
            f"the ClickHouse events table lacks {', '.join(missing)} after migrating: "
            "a migration adding them is missing from footfall.store.clickhouse_migrations"
        )
    after = max(before | set(applied), default=0)
    return MigrationReport(max(before, default=0), after, tuple(applied))
