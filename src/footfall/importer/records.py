"""Classifying logged requests and turning the ones worth keeping into queued raw events.

Pageviews go through the collector's own steps (`Collector.prepare`), clicks (`/u/`) and opens
(`/r/`) through `Collector.tracked`, exactly as if the request had reached the collector, but at
the time the log gives, hashing visitors with the salts of that day (importer.salts). The client
address is used for the visitor hash and the country and is then forgotten, as on the live path.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from footfall.collect.collector import Accepted, Client, Collector
from footfall.collect.links import LinkLookup
from footfall.collect.payloads import MAX_URL, Incoming
from footfall.enrich.useragent import platform_of
from footfall.events import DropReason, Kind, RawEvent
from footfall.importer.parse import LogLine
from footfall.links.classify import is_machine
from footfall.links.tokens import TokenSigner

# Extensions of pages; any other extension is an asset (scripts, images, fonts, feeds, ...).
PAGE_EXTENSIONS = frozenset({"", "html", "htm", "xhtml", "shtml", "php", "asp", "aspx", "jsp"})


@dataclass
class Counts:
    """What an import did with the lines it read."""

    lines: int = 0
    pageviews: int = 0
    clicks: int = 0
    opens: int = 0
    assets: int = 0
    bots: int = 0
    errors: int = 0  # status 4xx/5xx
    excluded: int = 0  # dropped by the site's exclusions, unknown links and campaigns
    other: int = 0  # methods other than GET, redirects, collection endpoints
    malformed: int = 0

    @property
    def events(self) -> int:
        """Events queued."""
        return self.pageviews + self.clicks + self.opens

    def add(self, other: Counts) -> None:
        """Add another tally to this one."""
        for spec in fields(self):
            setattr(self, spec.name, getattr(self, spec.name) + getattr(other, spec.name))

    def as_dict(self) -> dict[str, int]:
        """The counts by name, for printing."""
        return {spec.name: getattr(self, spec.name) for spec in fields(self)}


class LogClock:
    """The collector's clock during an import: the time of the line being converted."""

    def __init__(self) -> None:
        self.now_ms = 0

    def __call__(self) -> int:
        return self.now_ms


def is_page(path: str) -> bool:
    """True for a page path (no extension, or a page extension), False for an asset."""
    last = path.rsplit("/", 1)[-1]
    dot = last.rfind(".")
    return dot < 0 or last[dot + 1 :].lower() in PAGE_EXTENSIONS


def pixel_parts(name: str) -> tuple[str, str | None]:
    """(campaign code, token or None) from `code.gif` or `code/token.gif`; ("", None) else."""
    if not name.endswith(".gif"):
        return "", None
    code, slash, token = name[: -len(".gif")].partition("/")
    return code, (token if slash else None)


class LineConverter:
    """Turns logged requests for one site into raw events, tallying what it skips."""

    def __init__(
        self,
        collector: Collector,
        clock: LogClock,
        links: LinkLookup,
        signer: TokenSigner,
        *,
        site: str,
        scheme: str = "https",
    ) -> None:
        self._collector = collector
        self._clock = clock
        self._links = links
        self._signer = signer
        self._site = site
        self._origin = f"{scheme}://{site}"

    def convert(self, line: LogLine | None, counts: Counts) -> RawEvent | None:
        """The event this request stands for, or None (the reason is added to `counts`)."""
        counts.lines += 1
        if line is None:
            counts.malformed += 1
            return None
        if line.status >= 400:
            counts.errors += 1
            return None
        # The collector's clock, and so the visitor hash's salt, is the line's time.
        self._clock.now_ms = line.ts_ms
        path = line.target.split("?", 1)[0]
        if path.startswith(("/u/", "/r/")):
            return self._tracked(line, path, counts)
        if line.method != "GET" or path.startswith("/api/"):
            counts.other += 1
            return None
        if not is_page(path):
            counts.assets += 1
            return None
        if not (200 <= line.status < 300 or line.status == 304):
            counts.other += 1
            return None
        return self._pageview(line, counts)

    def _pageview(self, line: LogLine, counts: Counts) -> RawEvent | None:
        url = self._origin + line.target
        if len(url) > MAX_URL:
            counts.malformed += 1
            return None
        incoming = Incoming(
            kind=Kind.PAGEVIEW,
            name="pageview",
            domains=[self._site],
            url=url,
            referrer=line.referrer,
            ts_ms=line.ts_ms,
        )
        outcome = self._collector.prepare(
            incoming, Client(line.ip, line.user_agent), drop_bots=True
        )
        if isinstance(outcome, Accepted):
            counts.pageviews += 1
            return outcome.events[0]
        if outcome is DropReason.BOT:
            counts.bots += 1
        else:
            counts.excluded += 1
        return None

    def _tracked(self, line: LogLine, path: str, counts: Counts) -> RawEvent | None:
        if line.method not in ("GET", "HEAD"):
            counts.other += 1
            return None
        client = Client(line.ip, line.user_agent)
        if path.startswith("/u/"):
            code, _, token = path[3:].partition("/")
            link = self._links.link(code) if code else None
            if link is None:
                counts.excluded += 1
                return None
            counts.clicks += 1
            kind, site_id, url = Kind.CLICK, link.site_id, link.url
            link_id, campaign_id = link.id, link.campaign_id
        else:
            code, token_or_none = pixel_parts(path[3:])
            campaign = self._links.campaign(code) if code else None
            if campaign is None:
                counts.excluded += 1
                return None
            counts.opens += 1
            token = token_or_none or ""
            kind, site_id, url = Kind.OPEN, campaign.site_id, ""
            link_id, campaign_id = None, campaign.id
        return self._collector.tracked(
            site_id=site_id,
            kind=kind,
            url=url,
            referrer=line.referrer,
            client=client,
            link_id=link_id,
            campaign_id=campaign_id,
            recipient=self._signer.verify(token) if token else None,
            platform=platform_of(line.user_agent),
            is_bot=is_machine(kind, line.method, line.user_agent),
        )
