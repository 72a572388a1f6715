"""`footfall links create/list` and `footfall campaign create`: tracked links from a shell.

A running server picks up links made here within its link directory's refresh interval (10 s).
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from footfall.cli.metadata import metadata_session
from footfall.links import service
from footfall.meta.link_models import Campaign
from footfall.meta.sites import get_site
from footfall.settings import Settings


def _site_id(session: Session, domain: str) -> int:
    site = get_site(session, domain)
    if site is None:
        raise ValueError(f"no site {domain!r}: create it with `footfall site create`")
    return site.id


def _campaign_id(session: Session, site_id: int, site: str, campaign: str | None) -> int | None:
    """The id of the campaign named (by code or name) on the site; None when none is named."""
    if campaign is None:
        return None
    found = service.campaign_by_name_or_code(session, site_id, campaign)
    if found is None:
        raise ValueError(f"no campaign {campaign!r} on {site}")
    return found.id


def create_link(
    ctx: typer.Context,
    url: Annotated[str, typer.Option(help="Target URL (absolute http/https).")],
    site: Annotated[str, typer.Option(help="The site the link belongs to.")],
    campaign: Annotated[str | None, typer.Option(help="Campaign code or name.")] = None,
    code: Annotated[str | None, typer.Option(help="Custom short code.")] = None,
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
) -> None:
    """Create a tracked link and print its short URL."""
    settings: Settings = ctx.obj.settings
    with metadata_session(settings) as session:
        site_id = _site_id(session, site)
        campaign_id = _campaign_id(session, site_id, site, campaign)
        link = service.create_link(
            session, site_id=site_id, url=url, campaign_id=campaign_id, code=code, name=name
        )
    Console(highlight=False, soft_wrap=True).print(
        f"{settings.base_url.rstrip('/')}/u/{escape(link.code)} -> {escape(link.url)} "
        f"(id {link.id})"
    )


def list_links(
    ctx: typer.Context,
    site: Annotated[str, typer.Option(help="The site whose links to list.")],
    campaign: Annotated[str | None, typer.Option(help="Only this campaign (code or name).")] = None,
) -> None:
    """List a site's live links, newest first."""
    settings: Settings = ctx.obj.settings
    with metadata_session(settings) as session:
        site_id = _site_id(session, site)
        campaign_id = _campaign_id(session, site_id, site, campaign)
        links = service.list_links(session, [site_id], campaign_id=campaign_id)
        codes: dict[int, str] = dict(
            session.execute(
                select(Campaign.id, Campaign.code).where(Campaign.site_id == site_id)
            ).all()
        )
        rows = [
            (str(link.id), link.code, link.url, codes.get(link.campaign_id or 0, ""))
            for link in links
        ]
    table = Table("id", "code", "target", "campaign")
    for row in rows:
        table.add_row(*(escape(cell) for cell in row))
    Console(highlight=False, soft_wrap=True).print(table)


def create_campaign(
    ctx: typer.Context,
    name: Annotated[str, typer.Option(help="Campaign name.")],
    site: Annotated[str, typer.Option(help="The site the campaign belongs to.")],
    code: Annotated[str | None, typer.Option(help="Custom campaign code.")] = None,
) -> None:
    """Create an e-mail campaign and print its code and open pixel URL."""
    settings: Settings = ctx.obj.settings
    with metadata_session(settings) as session:
        campaign = service.create_campaign(
            session, site_id=_site_id(session, site), name=name, code=code
        )
    base = settings.base_url.rstrip("/")
    Console(highlight=False, soft_wrap=True).print(
        f"created campaign {escape(campaign.name)} (id {campaign.id}, code "
        f"{escape(campaign.code)}); open pixel {base}/r/{escape(campaign.code)}.gif"
    )
