"""`footfall export`: a site's statistics over a date range into a file, with a progress bar."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from footfall.api.deps import Services
from footfall.exports import ExportRequest, export_bytes
from footfall.exports.csv_reports import REPORTS
from footfall.meta.db import make_engine
from footfall.meta.migrate import ensure_current
from footfall.meta.sites import SiteDirectory
from footfall.settings import Settings
from footfall.store import StoreLockedError, open_event_store


def export(
    ctx: typer.Context,
    site: Annotated[str, typer.Option(help="The site's domain.")],
    start: Annotated[datetime, typer.Option("--from", formats=["%Y-%m-%d"], help="First day.")],
    end: Annotated[datetime, typer.Option("--to", formats=["%Y-%m-%d"], help="Last day.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="File to write.", dir_okay=False)],
    format: Annotated[str, typer.Option(help="csv (a zip of reports), parquet or pdf.")] = "csv",
) -> None:
    """Export a site's statistics (dates in the site's time zone) into a file."""
    settings: Settings = ctx.obj.settings
    engine = make_engine(settings.database_url)
    try:
        ensure_current(engine)
        sites = SiteDirectory(engine)
        info = sites.lookup(site)
        if info is None:
            raise ValueError(f"no site {site!r}")
        request = ExportRequest(info, start.date(), end.date(), format)
        try:
            store = open_event_store(settings)
        except StoreLockedError as exc:
            raise OSError(
                f"the event store {settings.duckdb_path} is in use, probably by `footfall serve`: "
                "download the export from GET /api/v1/export instead"
            ) from exc
        try:
            data = _with_progress(Services(settings, engine, sites, store), request)
        finally:
            store.close()
    finally:
        engine.dispose()
    output.write_bytes(data)
    Console(highlight=False, soft_wrap=True).print(
        f"[green]✓[/green] {escape(str(output))}: {len(data):,} bytes ({format}, "
        f"{escape(info.domain)}, {request.start} to {request.end})"
    )


def _with_progress(services: Services, request: ExportRequest) -> bytes:
    steps = len(REPORTS) if request.format == "csv" else 1
    columns = (TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task(f"exporting {request.format}", total=steps)

        def advance(name: str) -> None:
            progress.update(task, advance=1, description=name)

        return export_bytes(services, request, advance)
