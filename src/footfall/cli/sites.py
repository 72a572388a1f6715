"""`footfall site ...`: register sites from the command line."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from footfall.cli.metadata import metadata_session
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
    with metadata_session(settings) as session:
        site = create_site(session, domain, name=name, timezone=timezone)
    Console(highlight=False, soft_wrap=True).print(
        f"created site {escape(site.domain)} (id {site.id}, time zone {escape(site.timezone)})"
    )
