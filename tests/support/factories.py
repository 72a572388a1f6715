"""Event factories for store and query tests: valid `Event` rows with overridable fields.

Every factory returns a row the pipeline could have written: defaults are a Chrome-on-Windows
visitor from the US looking at https://example.com/ on site 1, arriving directly. `visit()` builds
a whole visit the way the pipeline stores one: one session_id, ascending times, and the visit's
source (referrer, source, channel, UTM tags) only on the events of the landing page; later
pages are internal navigations, which the pipeline records as "Direct / None" / "Direct" with no
referrer and no tags (the visit's source is the entry event's, for queries to work out).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import msgspec

from footfall.enrich.channels import DIRECT, DIRECT_SOURCE, EMAIL
from footfall.events import Event, Kind
from footfall.store.base import EventStore

DEFAULT_TS = datetime(2025, 1, 15, 12, 0, tzinfo=UTC)
DEFAULT_SITE_ID = 1
DEFAULT_VISITOR_ID = 1001

# Fields that describe where a visit came from: only the landing page's events carry them.
SOURCE_FIELDS: tuple[str, ...] = (
    "referrer",
    "referrer_source",
    "channel",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_content",
    "utm_term",
)
_INTERNAL_NAVIGATION: dict[str, Any] = {
    "referrer": "",
    "referrer_source": DIRECT_SOURCE,
    "channel": DIRECT,
    "utm_source": "",
    "utm_medium": "",
    "utm_campaign": "",
    "utm_content": "",
    "utm_term": "",
}
# Fields a visit sets on its events itself; visit_fields may not name them.
_PER_EVENT_FIELDS = frozenset({"event_id", "ts", "name", "kind", "pathname"})


def event_id() -> bytes:
    """A fresh 16-byte event id, as collectors draw them."""
    return uuid.uuid4().bytes


def _base(**overrides: Any) -> Event:
    values: dict[str, Any] = {
        "event_id": event_id(),
        "ts": DEFAULT_TS,
        "site_id": DEFAULT_SITE_ID,
        "name": "pageview",
        "kind": Kind.PAGEVIEW.value,
        "visitor_id": DEFAULT_VISITOR_ID,
        "session_id": 0,
        "hostname": "example.com",
        "pathname": "/",
        "referrer_source": DIRECT_SOURCE,
        "channel": DIRECT,
        "country": "US",
        "region": "US-CA",
        "city": "San Francisco",
        "browser": "Chrome",
        "browser_version": "131.0",
        "os": "Windows",
        "os_version": "10",
        "device": "Desktop",
        "screen_width": 1920,
    }
    values.update(overrides)
    if not values["session_id"]:
        values["session_id"] = session_id_for(values["site_id"], values["visitor_id"], values["ts"])
    return Event(**values)


def session_id_for(site_id: int, visitor_id: int, start: datetime) -> int:
    """A stable non-zero 63-bit session id for a visit starting at `start`."""
    key = f"{site_id}:{visitor_id}:{start.isoformat()}".encode()
    digest = int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big")
    return (digest & (2**63 - 1)) or 1


def pageview(**overrides: Any) -> Event:
    """A pageview of https://example.com/ at DEFAULT_TS; any Event field may be overridden."""
    return _base(**overrides)


def custom_event(name: str, **overrides: Any) -> Event:
    """A custom event `name` (kind "event"), e.g. custom_event("Signup", props_keys=["plan"],
    props_values=["pro"])."""
    return _base(name=name, kind=Kind.EVENT.value, **overrides)


def conversion(name: str, amount: str | Decimal | None, currency: str = "", **o: Any) -> Event:
    """A conversion `name` with revenue `amount` (exact, 4 decimals) in `currency`."""
    revenue = None if amount is None else Decimal(amount).quantize(Decimal("0.0001"))
    return _base(
        name=name,
        kind=Kind.CONVERSION.value,
        revenue_amount=revenue,
        revenue_currency=currency.upper() if revenue is not None else "",
        **o,
    )


def engagement(scroll_depth: int = 50, engagement_ms: int = 10_000, **overrides: Any) -> Event:
    """An engagement event (not interactive: it never un-bounces a visit)."""
    return _base(
        name="engagement",
        kind=Kind.ENGAGEMENT.value,
        scroll_depth=scroll_depth,
        engagement_ms=engagement_ms,
        interactive=False,
        **overrides,
    )


def click(link_id: int = 1, **overrides: Any) -> Event:
    """A tracked link click; with a campaign or recipient it is an email click (channel Email)."""
    emailed = bool(overrides.get("campaign_id") or overrides.get("recipient"))
    values: dict[str, Any] = {"channel": EMAIL} if emailed else {}
    values.update(overrides)
    return _base(name="click", kind=Kind.CLICK.value, link_id=link_id, **values)


def open(campaign_id: int = 1, recipient: str = "", **overrides: Any) -> Event:
    """An email open (tracking pixel) of `campaign_id` by `recipient`; channel Email."""
    values: dict[str, Any] = {"channel": EMAIL}
    values.update(overrides)
    return _base(
        name="open", kind=Kind.OPEN.value, campaign_id=campaign_id, recipient=recipient, **values
    )


def visit(
    visitor_id: int,
    start: datetime,
    pages: Sequence[str | tuple[str, float]] = ("/",),
    events: Sequence[Event | tuple[float, Event]] = (),
    *,
    page_gap: float = 60.0,
    **visit_fields: Any,
) -> list[Event]:
    """A whole visit, sorted by time, every row sharing one session_id.

    `pages` are pathnames, each `page_gap` seconds after the previous one, or (pathname, seconds
    after `start`). `events` are rows built with the other factories, placed 1 s apart after
    the last page, or (seconds after `start`, row); an event whose pathname is the default "/"
    takes the pathname of the page it was sent from. `visit_fields` (site_id, hostname, country,
    browser, user_id, referrer_source, channel, utm_*...) apply to every row, except the source
    fields (SOURCE_FIELDS), which only the landing page's rows carry, as in the pipeline.
    """
    if not pages:
        raise ValueError("a visit has at least one page")
    clashing = _PER_EVENT_FIELDS & visit_fields.keys()
    if clashing:
        raise ValueError(f"visit() sets {sorted(clashing)} per event; pass them in pages/events")
    site_id = visit_fields.get("site_id", DEFAULT_SITE_ID)
    visit_fields.setdefault("session_id", session_id_for(site_id, visitor_id, start))
    timed_pages = _page_times(pages, page_gap)
    timed_events = _event_times(events, timed_pages[-1][1])
    rows = [
        pageview(ts=start + timedelta(seconds=offset), pathname=path)
        for path, offset in timed_pages
    ]
    for offset, row in timed_events:
        pathname = row.pathname if row.pathname != "/" else _page_at(timed_pages, offset)
        rows.append(
            msgspec.structs.replace(row, ts=start + timedelta(seconds=offset), pathname=pathname)
        )
    rows.sort(key=lambda row: row.ts)
    # The landing page's rows end where the second page begins.
    landing_until = start + timedelta(seconds=timed_pages[1][1]) if len(timed_pages) > 1 else None
    built = []
    for row in rows:
        fields = dict(visit_fields, visitor_id=visitor_id)
        if landing_until is not None and row.ts >= landing_until:
            fields.update(_INTERNAL_NAVIGATION)
        built.append(msgspec.structs.replace(row, **fields))
    return built


def _page_times(pages: Sequence[str | tuple[str, float]], gap: float) -> list[tuple[str, float]]:
    timed: list[tuple[str, float]] = []
    for index, page in enumerate(pages):
        timed.append(page if isinstance(page, tuple) else (page, index * gap))
    if any(b[1] < a[1] for a, b in zip(timed, timed[1:], strict=False)):
        raise ValueError("pages must be in ascending time order")
    return timed


def _event_times(
    events: Sequence[Event | tuple[float, Event]], last_page: float
) -> list[tuple[float, Event]]:
    timed: list[tuple[float, Event]] = []
    for index, item in enumerate(events):
        timed.append(item if isinstance(item, tuple) else (last_page + index + 1, item))
    return timed


def _page_at(timed_pages: Sequence[tuple[str, float]], offset: float) -> str:
    current = timed_pages[0][0]
    for path, page_offset in timed_pages:
        if page_offset <= offset:
            current = path
    return current


def populate(store: EventStore, events: Iterable[Event]) -> int:
    """Insert `events` into `store` in one batch and check they all went in; returns the count."""
    rows = list(events)
    inserted = store.insert(rows)
    if inserted != len(rows):
        raise AssertionError(f"populate: the store took {inserted} of {len(rows)} rows")
    return inserted
