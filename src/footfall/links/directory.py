"""LinkDirectory: every live link and campaign in memory, so a redirect reads no database.

The first lookup loads the snapshot (plain column rows, a few milliseconds for 100,000 links).
Once it is older than `ttl_s`, the next lookup starts a reload on a background thread and keeps
answering from the old snapshot meanwhile; that is how other processes' changes arrive.
`invalidate()` reloads at once, for changes made by this process. A code that is not in the
snapshot is unknown: misses never reach the database, so scanning for codes costs nothing.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine, select

from footfall.meta.link_models import Campaign, Link

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
class _Snapshot:
    links: dict[str, LinkTarget]
    campaigns_by_code: dict[str, CampaignTarget]
    campaigns_by_id: dict[int, CampaignTarget]
    taken_at: float
    generation: int


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
        self._ttl_s = ttl_s
        self._clock = clock
        self._snapshot: _Snapshot | None = None
        self._lock = threading.Lock()
        self._generations = itertools.count(1)
        self._refresher: threading.Thread | None = None

    def link(self, code: str) -> LinkTarget | None:
        """The live (not archived) link with this code, or None."""
        return self._current().links.get(code)

    def campaign(self, code: str) -> CampaignTarget | None:
        """The campaign with this code, or None."""
        return self._current().campaigns_by_code.get(code)

    def campaign_by_id(self, campaign_id: int) -> CampaignTarget | None:
        """The campaign with this id, or None."""
        return self._current().campaigns_by_id.get(campaign_id)

    def invalidate(self) -> None:
        """Reload now: call after this process created, changed or deleted links or campaigns."""
        self._install(self._load())

    def wait_refreshed(self, timeout_s: float | None = None) -> None:
        """Wait for a background reload in flight, if any (for shutdown and tests)."""
        refresher = self._refresher
        if refresher is not None:
            refresher.join(timeout_s)

    def _current(self) -> _Snapshot:
        snapshot = self._snapshot
        if snapshot is None:
            loaded = self._load()
            self._install(loaded)
            return self._snapshot or loaded
        if self._clock() - snapshot.taken_at >= self._ttl_s:
            self._start_refresh()
        return snapshot

    def _start_refresh(self) -> None:
        with self._lock:
            if self._refresher is not None and self._refresher.is_alive():
                return
            self._refresher = threading.Thread(
                target=self._refresh, name="footfall-link-directory", daemon=True
            )
            self._refresher.start()

    def _refresh(self) -> None:
        try:
            self._install(self._load())
        except Exception:
            # Keep redirecting from the old snapshot; try again after another ttl.
            log.exception("reloading the link directory failed; keeping the previous snapshot")
            with self._lock:
                old = self._snapshot
                if old is not None:
                    self._snapshot = _Snapshot(
                        old.links,
                        old.campaigns_by_code,
                        old.campaigns_by_id,
                        self._clock(),
                        old.generation,
                    )

    def _install(self, snapshot: _Snapshot) -> None:
        # A slow background load must not overwrite a newer one made by invalidate().
        with self._lock:
            if self._snapshot is None or snapshot.generation > self._snapshot.generation:
                self._snapshot = snapshot

    def _load(self) -> _Snapshot:
        with self._lock:
            generation = next(self._generations)
        taken_at = self._clock()
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
        return _Snapshot(
            links=links,
            campaigns_by_code=dict(campaigns),
            campaigns_by_id={target.id: target for _, target in campaigns},
            taken_at=taken_at,
            generation=generation,
        )
