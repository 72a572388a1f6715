"""`footfall site ...`: register sites from the command line."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from footfall.meta.db import make_engine, session_scope
from footfall.meta.migrate import ensure_current
from footfall.meta.sites import create_site
from footfall.settings import Settings


def create(
    ctx: typer.Context,
    domain: Annotated[str, typer.Option(help="The site's domain, e.g. example.com.")],
    name: Annotated[str | None, typer.Option(help="Display name (default: the domain).")] = None,
    timezone: Annotated[
        str, typer.Option(help="IANA time zone reports count days in, e.g. Europe/Berlin.")
    ] = "UTC",
) -> None:
    """Register a site so that its events are accepted."""
    settings: Settings = ctx.obj.settings
    engine = make_engine(settings.database_url)
    try:
        ensure_current(engine)
        with session_scope(engine) as session:
            site = create_site(session, domain, name=name, timezone=timezone)
    finally:
        engine.dispose()
    Console(highlight=False, soft_wrap=True).print(
        f"created site {escape(site.domain)} (id {site.id}, time zone {escape(site.timezone)})"
    )
