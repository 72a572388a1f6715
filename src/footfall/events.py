"""The event model shared by every layer: what collectors queue and what the stores keep.

`RawEvent` is what a collector knows when it answers (already validated, IP already reduced to a
visitor hash and a country); it travels through the queue as msgpack. The pipeline turns it into
an `Event`, one row of the wide `events` table of DESIGN.md section 2.
"""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

import msgspec


class Kind(enum.StrEnum):
    """What an event row records."""

    PAGEVIEW = "pageview"
    EVENT = "event"
    CONVERSION = "conversion"
    ENGAGEMENT = "engagement"
    CLICK = "click"
    OPEN = "open"


class DropReason(enum.StrEnum):
    """Why an accepted request stored nothing; sent as `X-Footfall-Dropped` and counted."""

    UNKNOWN_SITE = "unknown_site"
    BOT = "bot"
    EXCLUDED_IP = "excluded_ip"
    EXCLUDED_PATH = "excluded_path"
    HOSTNAME_NOT_ALLOWED = "hostname_not_allowed"


class RawEvent(msgspec.Struct, array_like=True, omit_defaults=True, forbid_unknown_fields=False):
    """A validated event as queued by a collector, before enrichment.

    Fields are optional with defaults so that records written by an older release still decode
    (array_like: never reorder fields, only append new ones at the end).
    """

    event_id: bytes  # 16 random bytes, the dedupe key
    ts_ms: int  # event time, epoch milliseconds UTC
    site_id: int
    kind: str  # a Kind value
    name: str
    visitor_id: int  # keyed hash, UInt64 (current daily salt, or site + user_id)
    visitor_id_prev: int | None = None  # the same hash under yesterday's salt (cookieless only)
    user_id: str | None = None
    session_key: str | None = None  # caller-given session id, takes precedence over the timeout
    url: str = ""  # full page URL as sent (pathname, hostname and UTM come from it)
    referrer: str | None = None
    user_agent: str = ""
    country: str | None = None
    region: str | None = None
    city: str | None = None
    props_keys: list[str] = msgspec.field(default_factory=list)
    props_values: list[str] = msgspec.field(default_factory=list)
    revenue_amount: str | None = None  # decimal as text, exact
    revenue_currency: str | None = None
    interactive: bool = True
    screen_width: int | None = None
    hash_routing: bool = False
    scroll_depth: int | None = None  # engagement: percent of the page seen
    engagement_ms: int | None = None  # engagement: milliseconds the page was in the foreground
    browser_hint: str | None = None  # server APIs: the caller's word on browser / device
    device_hint: str | None = None
    link_id: int | None = None
    campaign_id: int | None = None
    recipient: str | None = None
    platform: str | None = None
    is_bot: bool = False  # kept but flagged (link clicks and opens from bots)


class Event(msgspec.Struct, kw_only=True):
    """One row of the `events` table (DESIGN.md section 2), as written to either store."""

    event_id: bytes
    ts: datetime  # timezone-aware UTC, millisecond precision
    site_id: int
    name: str
    kind: str
    visitor_id: int
    session_id: int
    user_id: str | None = None
    hostname: str = ""
    pathname: str = "/"
    referrer: str = ""
    referrer_source: str = ""
    channel: str = ""
    utm_source: str = ""
    utm_medium: str = ""
    utm_campaign: str = ""
    utm_content: str = ""
    utm_term: str = ""
    country: str = ""
    region: str = ""
    city: str = ""
    browser: str = ""
    browser_version: str = ""
    os: str = ""
    os_version: str = ""
    device: str = ""
    screen_width: int = 0
    props_keys: list[str] = msgspec.field(default_factory=list)
    props_values: list[str] = msgspec.field(default_factory=list)
    revenue_amount: Decimal | None = None
    revenue_currency: str = ""
    link_id: int = 0
    campaign_id: int = 0
    recipient: str = ""
    platform: str = ""
    is_bot: bool = False
    interactive: bool = True
    scroll_depth: int = 0
    engagement_ms: int = 0
    batch_id: int = 0


EVENT_COLUMNS: tuple[str, ...] = tuple(Event.__struct_fields__)

_raw_encoder = msgspec.msgpack.Encoder()
_raw_decoder = msgspec.msgpack.Decoder(RawEvent)


def encode_raw(event: RawEvent) -> bytes:
    """Serialise a raw event for the queue."""
    return _raw_encoder.encode(event)


def decode_raw(record: bytes) -> RawEvent:
    """Deserialise a queued raw event; raises msgspec.DecodeError on a damaged record."""
    return _raw_decoder.decode(record)
