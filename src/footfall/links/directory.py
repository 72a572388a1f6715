"""LinkDirectory: every live link and campaign in memory, so a redirect reads no database.

The first lookup loads the snapshot (plain column rows, a few milliseconds for 100,000 links).
Once it is older than `ttl_s`, the next lookup starts a reload on a background thread and keeps
answering from the old snapshot meanwhile; that is how other processes' changes arrive.
`invalidate()` reloads at once, for changes made by this process. A code that is not in the
snapshot is unknown: misses never reach the database, so scanning for codes costs nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine, select

from footfall.meta.link_models import Campaign, Link
from footfall.meta.snapshot import Snapshots

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LinkTarget:
    """What a redirect needs about a link."""

    id: int
    site_id: int
    campaign_id: int | None
    url: str


@dataclass(frozen=True, slots=True)
class CampaignTarget:
    """What the pixel and /track/ need about a campaign."""

    id: int
    site_id: int
    redirect_url: str | None


@dataclass(frozen=True, slots=True)
class _Links:
    links: dict[str, LinkTarget]
    campaigns_by_code: dict[str, CampaignTarget]
    campaigns_by_id: dict[int, CampaignTarget]


_LINK_COLUMNS = select(Link.code, Link.id, Link.site_id, Link.campaign_id, Link.url).where(
    Link.archived_at.is_(None)
)
_CAMPAIGN_COLUMNS = select(Campaign.code, Campaign.id, Campaign.site_id, Campaign.redirect_url)


class LinkDirectory:
    """In-process snapshot of links and campaigns; thread-safe, lookups never block on I/O
    except the very first one."""

    def __init__(
        self, engine: Engine, ttl_s: float = 10.0, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._engine = engine
        self._snapshots = Snapshots(
            self._load, ttl_s=ttl_s, name="footfall-link-directory", clock=clock
        )

    def link(self, code: str) -> LinkTarget | None:
        """The live (not archived) link with this code, or None."""
        return self._snapshots.current().links.get(code)

    def campaign(self, code: str) -> CampaignTarget | None:
        """The campaign with this code, or None."""
        return self._snapshots.current().campaigns_by_code.get(code)

    def campaign_by_id(self, campaign_id: int) -> CampaignTarget | None:
        """The campaign with this id, or None."""
        return self._snapshots.current().campaigns_by_id.get(campaign_id)

    def invalidate(self) -> None:
        """Reload now: call after this process created, changed or deleted links or campaigns."""
        self._snapshots.invalidate()

    def wait_refreshed(self, timeout_s: float | None = None) -> None:
        """Wait for a background reload in flight, if any (for shutdown and tests)."""
        self._snapshots.wait_refreshed(timeout_s)

    def _load(self) -> _Links:
        with self._engine.connect() as connection:
            links = {
                code: LinkTarget(link_id, site_id, campaign_id, url)
                for code, link_id, site_id, campaign_id, url in connection.execute(_LINK_COLUMNS)
            }
            campaigns = [
                (code, CampaignTarget(campaign_id, site_id, redirect_url))
                for code, campaign_id, site_id, redirect_url in connection.execute(
                    _CAMPAIGN_COLUMNS
                )
            ]
        return _Links(
            links=links,
            campaigns_by_code=dict(campaigns),
            campaigns_by_id={target.id: target for _, target in campaigns},
        )
