"""`footfall demo`: create a demo site and fill it with realistic synthetic traffic."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Annotated

import duckdb
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from footfall.meta.db import make_engine, session_scope
from footfall.meta.migrate import upgrade
from footfall.meta.sites import create_site, get_site
from footfall.settings import Settings
from footfall.store import DuckDBEventStore, EventStore, StoreLockedError, open_event_store
from footfall.store.demo import DemoSpec, DemoSummary, generate_into_duckdb, generate_into_store


class _RateColumn(ProgressColumn):
    """Events per second over the run so far."""

    def render(self, task: Task) -> Text:
        elapsed = task.elapsed or 0.0
        rate = task.completed / elapsed if elapsed > 0 else 0.0
        return Text(f"{rate:,.0f} events/s", style="progress.data.speed", no_wrap=True)


def demo(
    ctx: typer.Context,
    events: Annotated[int, typer.Option(min=1, help="Number of events to generate.")] = 1_000_000,
    days: Annotated[
        int, typer.Option(min=1, max=3660, help="Spread them over this many days, ending now.")
    ] = 30,
    site: Annotated[
        str, typer.Option(help="Domain of the demo site (created when missing).")
    ] = "demo.localhost",
    seed: Annotated[
        int | None, typer.Option(help="Same seed, same traffic (default: a random seed).")
    ] = None,
) -> None:
    """Create the demo site and fill it with realistic synthetic visits, pageviews and goals."""
    settings: Settings = ctx.obj.settings if ctx.obj is not None else Settings.load()
    console = Console(highlight=False, soft_wrap=True)
    run_seed = seed if seed is not None else secrets.randbelow(1 << 31)
    store = _open_store(settings)
    try:
        site_id, domain, zone = _ensure_site(settings, site)
        spec = DemoSpec(
            site_id=site_id,
            hostname=domain,
            events=events,
            days=days,
            seed=run_seed,
            end=datetime.now(UTC),
        )
        summary = _generate(store, spec, zone, console)
    finally:
        store.close()
    console.print(
        f"[green]✓[/green] {summary.events:,} events, {summary.visitors:,} visitors, "
        f"{summary.visits:,} visits for [bold]{escape(domain)}[/bold] over {days} days "
        f"in {summary.seconds:.1f} s ({summary.rate:,.0f} events/s, seed {run_seed})"
    )


def _open_store(settings: Settings) -> EventStore:
    try:
        return open_event_store(settings)
    except StoreLockedError as exc:
        # One actionable line rather than DuckDB's lock message (reported by the CLI wrapper).
        raise OSError(
            f"the event store {settings.duckdb_path} is in use, probably by `footfall serve`: "
            "stop the server first (or use a different --data-dir)"
        ) from exc


def _ensure_site(settings: Settings, domain: str) -> tuple[int, str, str]:
    """Migrate the metadata database if needed and return the site's id, domain and zone."""
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        with session_scope(engine) as session:
            site = get_site(session, domain) or create_site(session, domain)
            return site.id, site.domain, site.timezone
    finally:
        engine.dispose()


def _generate(store: EventStore, spec: DemoSpec, zone: str, console: Console) -> DemoSummary:
    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(bar_width=16),
        TextColumn("{task.completed:,.0f}/{task.total:,.0f}"),
        _RateColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task(escape(spec.hostname), total=spec.events)

        def advance(rows: int) -> None:
            progress.advance(task, rows)

        if isinstance(store, DuckDBEventStore):
            # Same process, same file: DuckDB hands back a connection to the store's own
            # database instance, on which the generator runs its own transactions.
            with duckdb.connect(str(store.path)) as con:
                summary = generate_into_duckdb(con, spec, advance)
            # The bulk SQL bypassed `insert`: reopen the rollup from the first demo day, then
            # roll the demo's visits up now so its dashboard is quick from the start.
            first_day = datetime.fromtimestamp(spec.start_ms / 1000, UTC) - timedelta(days=1)
            store.inserted_since(first_day)
            # The dashboard reads the site's days from the rollup's per-day sums: ask for
            # them now, so the roll-up builds them too.
            store.summarised(spec.site_id, zone)
            # About 12 s per million events: say what the wait is for.
            progress.console.print("Rolling up the visits, so that the dashboard is quick…")
            store.roll_up()
            return summary
        return generate_into_store(store, spec, advance)
