"""The collector's steps: from a validated `Incoming` to queued `RawEvent`s, or a drop reason.

These run on the hot path before the answer, so each is cheap and reads no database: sites come
from an in-process directory, salts from an in-process keeper, user agents from a cached parser.
The IP address is used for the exclusion check, the visitor hash and the country, then forgotten.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import itertools
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

from footfall.collect.payloads import Incoming
from footfall.enrich.bots import is_bot
from footfall.enrich.geo import locate
from footfall.enrich.props import limit_props
from footfall.enrich.visitor import user_hash, visitor_hashes
from footfall.events import DropReason, Kind, RawEvent, encode_raw
from footfall.links.tokens import TokenSigner, split_attribution
from footfall.queue.base import AsyncProducer, Producer

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class SiteLike(Protocol):
    """What the collector needs to know about a site (a snapshot, never a database row)."""

    @property
    def id(self) -> int: ...
    @property
    def allowed_hostnames(self) -> Sequence[str]: ...
    @property
    def excluded_networks(self) -> Sequence[IPNetwork]: ...
    @property
    def excluded_paths(self) -> Sequence[str]: ...


class SiteLookup(Protocol):
    """In-process site directory: `lookup` must never touch the database."""

    def lookup(self, domain: str) -> SiteLike | None: ...


class SaltSource(Protocol):
    """Today's and yesterday's cookieless salts, cached in process."""

    def salts(self) -> tuple[bytes, bytes | None]: ...


@dataclass(frozen=True)
class Client:
    """Who sent the request: the address (socket or trusted proxy header) and the user agent."""

    ip: str
    user_agent: str


@dataclass(frozen=True)
class Accepted:
    """Events queued for one request (one per site when `domain` listed several)."""

    events: list[RawEvent]


class Collector:
    """Turns validated requests into queued raw events; one instance per process."""

    def __init__(
        self,
        *,
        sites: SiteLookup,
        salts: SaltSource,
        producer: Producer,
        secret_key: bytes,
        clock_ms: Callable[[], int],
    ) -> None:
        self._sites = sites
        self._salts = salts
        self._producer = producer
        # Redis is awaited; the spool's append is one write(2), cheaper than any await.
        self._append_async = producer.append_async if isinstance(producer, AsyncProducer) else None
        self._secret = secret_key
        self._clock_ms = clock_ms
        self._signer = TokenSigner(secret_key)
        # Event ids: a random prefix per collector and a counter. Unique without a system call
        # per event (os.urandom releases the GIL, which costs a thread switch under load).
        self._id_prefix = os.urandom(8)
        self._id_counter = itertools.count()

    def now_ms(self) -> int:
        """The collector's clock, in epoch milliseconds."""
        return self._clock_ms()

    def site(self, domain: str) -> SiteLike | None:
        """Look a site up by domain (in-process snapshot)."""
        return self._sites.lookup(domain)

    def prepare(
        self, incoming: Incoming, client: Client, *, drop_bots: bool
    ) -> Accepted | DropReason:
        """Run the collector steps for every site the event names; nothing is queued yet.

        Returns the events to queue, or the reason the request stores nothing. With several
        domains, sites that are unknown or exclude the event are skipped; the request is dropped
        only when no site takes it (the first reason is reported).
        """
        user_agent = client.user_agent if incoming.user_agent is None else incoming.user_agent
        ip = incoming.ip or client.ip
        if drop_bots and is_bot(user_agent):
            return DropReason.BOT
        # A tracked link's parameter never reaches the stored URL, valid or not.
        incoming.url, found = split_attribution(incoming.url)
        if found is not None and incoming.kind is Kind.PAGEVIEW:
            incoming.attribution = found
        events: list[RawEvent] = []
        first_reason: DropReason | None = None
        for domain in incoming.domains:
            outcome = self._one_site(incoming, domain, ip, user_agent)
            if isinstance(outcome, DropReason):
                first_reason = first_reason or outcome
            else:
                events.append(outcome)
        if not events:
            return first_reason or DropReason.UNKNOWN_SITE
        return Accepted(events)

    def tracked(
        self,
        *,
        site_id: int,
        kind: Kind,
        url: str,
        referrer: str | None,
        client: Client,
        link_id: int | None,
        campaign_id: int | None,
        recipient: str | None,
        platform: str,
        is_bot: bool,
    ) -> RawEvent:
        """A tracked-link click or e-mail open (collect.links), ready for `enqueue`.

        Unlike page events these are never dropped: bots are kept but flagged, and a site's
        hostname, path and IP exclusions describe its pages, not its links.
        """
        visitor_id, visitor_id_prev = self._visitor(site_id, None, client.ip, client.user_agent)
        location = locate(client.ip)
        return RawEvent(
            event_id=self._next_id(),
            ts_ms=self._clock_ms(),
            site_id=site_id,
            kind=kind.value,
            name=kind.value,
            visitor_id=visitor_id,
            visitor_id_prev=visitor_id_prev,
            url=url,
            referrer=referrer,
            user_agent=client.user_agent,
            country=location.country or None,
            region=location.region or None,
            city=location.city or None,
            link_id=link_id,
            campaign_id=campaign_id,
            recipient=recipient,
            platform=platform,
            is_bot=is_bot,
        )

    async def enqueue(self, accepted: Accepted) -> None:
        """Append to the queue, returning once it holds the events (never blocking the event
        loop on a network round trip); raises QueueError (the route answers 503) rather than
        drop."""
        records = [encode_raw(event) for event in accepted.events]
        # Each event to its visitor's shard: a batch of several visitors must not split visits.
        shard_keys = [event.visitor_id for event in accepted.events]
        if self._append_async is not None:
            await self._append_async(records, shard_keys)
        else:
            self._producer.append(records, shard_keys)

    def _one_site(
        self, incoming: Incoming, domain: str, ip: str, user_agent: str
    ) -> RawEvent | DropReason:
        site = self._sites.lookup(domain)
        if site is None:
            return DropReason.UNKNOWN_SITE
        reason = _excluded(site, incoming.url, ip)
        if reason is not None:
            return reason
        visitor_id, visitor_id_prev = self._visitor(site.id, incoming.user_id, ip, user_agent)
        location = locate(ip)
        keys, values = limit_props(list(incoming.props), list(incoming.props.values()))
        attribution = (
            self._signer.read_attribution(site.id, incoming.attribution)
            if incoming.attribution
            else None
        )
        return RawEvent(
            event_id=self._next_id(),
            ts_ms=incoming.ts_ms if incoming.ts_ms is not None else self._clock_ms(),
            site_id=site.id,
            kind=incoming.kind.value,
            name=incoming.name,
            visitor_id=visitor_id,
            visitor_id_prev=visitor_id_prev,
            user_id=incoming.user_id,
            session_key=incoming.session_key,
            url=incoming.url,
            referrer=incoming.referrer,
            user_agent=user_agent,
            country=location.country or None,
            region=location.region or None,
            city=location.city or None,
            props_keys=keys,
            props_values=values,
            revenue_amount=incoming.revenue_amount,
            revenue_currency=incoming.revenue_currency,
            interactive=incoming.interactive,
            screen_width=incoming.screen_width,
            hash_routing=incoming.hash_routing,
            scroll_depth=incoming.scroll_depth,
            engagement_ms=incoming.engagement_ms,
            browser_hint=incoming.browser_hint,
            device_hint=incoming.device_hint,
            link_id=attribution.link_id if attribution else None,
            campaign_id=(attribution.campaign_id or None) if attribution else None,
            recipient=attribution.recipient if attribution else None,
        )

    def _next_id(self) -> bytes:
        return self._id_prefix + next(self._id_counter).to_bytes(8, "big")

    def _visitor(
        self, site_id: int, user_id: str | None, ip: str, user_agent: str
    ) -> tuple[int, int | None]:
        """(visitor id, the same under yesterday's salt): keyed by user id when one is given."""
        if user_id:
            return user_hash(self._secret, site_id, user_id), None
        today, yesterday = self._salts.salts()
        return visitor_hashes(today, yesterday, site_id, ip, user_agent)


def _excluded(site: SiteLike, url: str, ip: str) -> DropReason | None:
    if site.allowed_hostnames:
        host = _hostname(url)
        if not any(_host_matches(host, pattern) for pattern in site.allowed_hostnames):
            return DropReason.HOSTNAME_NOT_ALLOWED
    if site.excluded_paths:
        path = _pathname(url)
        if any(_path_pattern(pattern).match(path) for pattern in site.excluded_paths):
            return DropReason.EXCLUDED_PATH
    if site.excluded_networks:
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return None
        if any(address in network for network in site.excluded_networks):
            return DropReason.EXCLUDED_IP
    return None


def _hostname(url: str) -> str:
    rest = url.partition("://")[2]
    authority = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    return authority.rsplit("@", 1)[-1].split(":", 1)[0].lower()


def _pathname(url: str) -> str:
    rest = url.partition("://")[2]
    slash = rest.find("/")
    if slash < 0:
        return "/"
    return rest[slash:].split("?", 1)[0].split("#", 1)[0] or "/"


def _host_matches(host: str, pattern: str) -> bool:
    pattern = pattern.lower()
    if pattern.startswith("*."):
        return host == pattern[2:] or host.endswith(pattern[1:])
    return host == pattern


@lru_cache(maxsize=4096)
def _path_pattern(pattern: str) -> re.Pattern[str]:
    """Glob (`/admin/*`, `/drafts/**`) to an anchored regex, compiled once per pattern."""
    return re.compile(fnmatch.translate(pattern))
