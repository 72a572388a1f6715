"""`footfall migrate`: bring the metadata schema, and a ClickHouse event store's, to the newest."""

from __future__ import annotations

import typer
from rich.console import Console

from footfall.meta.migrate import current_revision, upgrade
from footfall.settings import Settings, url_scheme
from footfall.store import open_event_store


def migrate(ctx: typer.Context) -> None:
    """Run the schema migrations: metadata (users, sites, keys) and ClickHouse event tables."""
    settings: Settings = ctx.obj.settings
    console = Console(highlight=False, soft_wrap=True)
    before = current_revision(settings.database_url)
    after = upgrade(settings.database_url)
    if before == after:
        console.print(f"metadata schema already at revision {after}")
    else:
        console.print(f"metadata schema migrated from {before or 'empty'} to revision {after}")
    if url_scheme(settings.events_url) != "clickhouse":
        # The embedded DuckDB store lays out its schema itself whenever it opens.
        return
    from footfall.store.clickhouse import ClickHouseEventStore  # only when ClickHouse is used

    store = open_event_store(settings)
    try:
        assert isinstance(store, ClickHouseEventStore)
        report = store.migrations
    finally:
        store.close()
    if report.applied:
        versions = ", ".join(str(version) for version in report.applied)
        console.print(
            f"ClickHouse schema migrated from version {report.before or 'empty'} to "
            f"{report.after} (ran {versions})"
        )
    else:
        console.print(f"ClickHouse schema already at version {report.after}")
