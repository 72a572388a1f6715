"""LinkDirectory over a real SQLite file: misses stay in memory, refreshes follow other writers."""

from __future__ import annotations

from pathlib import Path

from footfall.links import service
from footfall.links.directory import LinkDirectory
from footfall.meta.db import make_engine, session_scope
from footfall.meta.link_models import Link
from footfall.meta.migrate import upgrade
from footfall.meta.sites import create_site
from tests.support.links import counting_statements


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_snapshot_refresh_and_invalidate(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'meta.sqlite3'}"
    upgrade(url)
    engine = make_engine(url)
    clock = Clock()
    directory = LinkDirectory(engine, ttl_s=10, clock=clock)
    try:
        with session_scope(engine) as session:
            site = create_site(session, "example.com")
            campaign = service.create_campaign(session, site_id=site.id, name="c", code="camp")
            first = service.create_link(
                session, site_id=site.id, url="https://example.com/1", campaign_id=campaign.id
            )
            site_id, first_code = site.id, first.code
        target = directory.link(first_code)
        assert target is not None and target.url == "https://example.com/1"
        assert target.campaign_id == campaign.id
        assert directory.campaign("camp") is not None
        assert directory.campaign_by_id(campaign.id) is not None

        # Another process adds a link: unknown codes are answered from memory, never the database.
        with session_scope(engine) as session:
            later = service.create_link(
                session, site_id=site_id, url="https://example.com/2", code="later"
            )
            later_id = later.id
        with counting_statements(engine) as statements:
            assert directory.link("later") is None
            assert directory.link("never") is None
        assert statements == []

        # After the ttl, one lookup starts a background reload; answers come from it afterwards.
        clock.now += 11
        directory.link("later")
        directory.wait_refreshed(5)
        assert directory.link("later") is not None

        # Archiving (by this process) and invalidate(): the code stops resolving at once.
        with session_scope(engine) as session:
            link = session.get(Link, later_id)
            assert link is not None
            service.archive_link(link)
        directory.invalidate()
        assert directory.link("later") is None
    finally:
        engine.dispose()
