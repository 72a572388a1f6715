"""Sites: CRUD helpers and `SiteDirectory`, the in-memory snapshot hot-path lookups read."""

from __future__ import annotations

import ipaddress
import logging
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from footfall.meta.models import Site, check_timezone
from footfall.meta.snapshot import Snapshots

log = logging.getLogger(__name__)

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


@dataclass(frozen=True, slots=True)
class SiteInfo:
    """What the hot path needs to know about a site: a snapshot, never a database row."""

    id: int
    domain: str
    timezone: str
    allowed_hostnames: tuple[str, ...]
    excluded_networks: tuple[IPNetwork, ...]
    excluded_paths: tuple[str, ...]

    @property
    def zone(self) -> ZoneInfo:
        """The site's time zone (reports count days in it)."""
        return ZoneInfo(self.timezone)


def normalize_domain(domain: str) -> str:
    """The key a site is stored and looked up under: lowercase, no leading `www.`, no final dot.

    Internationalized names become their ASCII (punycode) form, as browsers send them.
    """
    key = domain.strip().lower().rstrip(".")
    if not key.isascii():
        try:
            key = key.encode("idna").decode("ascii")
        except UnicodeError:
            return key
    return key.removeprefix("www.")


def check_domain(domain: str) -> str:
    """Return the normalized domain, or raise ValueError saying what is wrong with it."""
    key = normalize_domain(domain)
    if not key:
        raise ValueError("domain must not be empty")
    if "/" in key or ":" in key or " " in key:
        raise ValueError(f"{domain!r} is not a domain: give a host name like example.com")
    if len(key) > 253 or not all(_LABEL.match(label) for label in key.split(".")):
        raise ValueError(f"{domain!r} is not a valid domain name")
    return key


def create_site(
    session: Session, domain: str, name: str | None = None, timezone: str = "UTC"
) -> Site:
    """Add a site; raises ValueError for an invalid or already registered domain or time zone."""
    key = check_domain(domain)
    check_timezone(timezone)
    if get_site(session, key) is not None:
        raise ValueError(f"site {key} already exists")
    label = (name or "").strip() or key
    if len(label) > 200:
        raise ValueError("site name must be at most 200 characters")
    site = Site(domain=key, name=label, timezone=timezone)
    session.add(site)
    try:
        session.flush()
    except IntegrityError as exc:
        # Another process registered the same domain between our check and our insert.
        raise ValueError(f"site {key} already exists") from exc
    return site


def get_site(session: Session, domain: str) -> Site | None:
    """The site registered under `domain` (normalized as lookups are), or None."""
    return session.scalars(select(Site).where(Site.domain == normalize_domain(domain))).first()


def list_sites(session: Session) -> list[Site]:
    """Every site, ordered by domain."""
    return list(session.scalars(select(Site).order_by(Site.domain)))


def site_info(site: Site) -> SiteInfo:
    """The hot-path snapshot of a site row (exclusion lists parsed once, here)."""
    return _info(
        site.id,
        site.domain,
        site.timezone,
        site.allowed_hostnames,
        site.excluded_ip_ranges,
        site.excluded_paths,
    )


def _info(
    site_id: int,
    domain: str,
    timezone: str,
    allowed_hostnames: Iterable[str] | None,
    excluded_ip_ranges: Iterable[str] | None,
    excluded_paths: Iterable[str] | None,
) -> SiteInfo:
    return SiteInfo(
        id=site_id,
        domain=domain,
        timezone=timezone,
        allowed_hostnames=tuple(host.strip().lower() for host in allowed_hostnames or ()),
        excluded_networks=_networks(domain, excluded_ip_ranges or ()),
        excluded_paths=tuple(excluded_paths or ()),
    )


def _networks(domain: str, ranges: Iterable[str]) -> tuple[IPNetwork, ...]:
    networks: list[IPNetwork] = []
    for entry in ranges:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            # One bad entry must not take every site's lookups down with it.
            log.warning("site %s: ignoring invalid excluded IP range %r", domain, entry)
    return tuple(networks)


_SNAPSHOT_COLUMNS = select(
    Site.id,
    Site.domain,
    Site.timezone,
    Site.allowed_hostnames,
    Site.excluded_ip_ranges,
    Site.excluded_paths,
)


@dataclass(frozen=True, slots=True)
class _Sites:
    by_domain: dict[str, SiteInfo]
    by_id: dict[int, SiteInfo]


class SiteDirectory:
    """Every site in memory, looked up without a database read (see meta.snapshot).

    The first lookup loads the snapshot. Once it is older than `ttl_s`, the next lookup starts a
    refresh on a background thread and keeps answering from the old snapshot meanwhile.
    `invalidate()` reloads at once, for writes made by this process.
    """

    def __init__(
        self, engine: Engine, ttl_s: float = 5.0, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._engine = engine
        self._snapshots = Snapshots(
            self._load, ttl_s=ttl_s, name="footfall-site-directory", clock=clock
        )

    def lookup(self, domain: str) -> SiteInfo | None:
        """The site registered under `domain` (`www.` and letter case ignored), or None."""
        by_domain = self._snapshots.current().by_domain
        # Most callers name a site as it is stored (a key normalizes to itself).
        found = by_domain.get(domain)
        return found if found is not None else by_domain.get(normalize_domain(domain))

    def by_id(self, site_id: int) -> SiteInfo | None:
        """The site with this id, or None."""
        return self._snapshots.current().by_id.get(site_id)

    def all(self) -> list[SiteInfo]:
        """Every site in the snapshot, ordered by domain."""
        return sorted(self._snapshots.current().by_id.values(), key=lambda info: info.domain)

    def invalidate(self) -> None:
        """Reload the snapshot now (call after this process created, changed or deleted sites)."""
        self._snapshots.invalidate()

    def wait_refreshed(self, timeout_s: float | None = None) -> None:
        """Wait for a background refresh in flight, if any (for shutdown and tests)."""
        self._snapshots.wait_refreshed(timeout_s)

    def _load(self) -> _Sites:
        # Plain column rows, not ORM objects: thousands of sites load in a few milliseconds.
        with self._engine.connect() as connection:
            infos = [_info(*row) for row in connection.execute(_SNAPSHOT_COLUMNS)]
        return _Sites(
            by_domain={info.domain: info for info in infos},
            by_id={info.id: info for info in infos},
        )
