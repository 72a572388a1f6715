"""`footfall migrate`: bring the metadata schema to the newest revision."""

from __future__ import annotations

import typer
from rich.console import Console

from footfall.meta.migrate import current_revision, upgrade
from footfall.settings import Settings


def migrate(ctx: typer.Context) -> None:
    """Run the metadata schema migrations (users, sites, keys) up to the newest revision."""
    settings: Settings = ctx.obj.settings
    console = Console(highlight=False, soft_wrap=True)
    before = current_revision(settings.database_url)
    after = upgrade(settings.database_url)
    if before == after:
        console.print(f"metadata schema already at revision {after}")
    else:
        console.print(f"metadata schema migrated from {before or 'empty'} to revision {after}")
