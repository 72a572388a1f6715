"""Enrichment: queued raw events become stored rows, through an ordered list of named steps.

Each step takes the draft row being built and returns it; adding a step is adding one function
to STEPS. The steps, in order:

- split_url: hostname, pathname and query of the page URL (hash routing keeps the fragment).
- referrer: the referrer URL without query or fragment, and its classification; a referrer
  from the page's own hostname ("www." aside) is no referrer.
- campaign: utm_* tags, ref/source and ad click ids from the page URL's query.
- source_and_channel: visit:source and visit:channel by the channel rules; tracked email
  links and open pixels count as email.
- user_agent: browser, version, OS, version and device class; the caller's browser/device
  hints (server APIs) win over the parsed header.
- properties: the property limits again, for records written by anything but a collector.
- revenue: an exact decimal from the amount text, rounded to the stores' 4 decimal places;
  an amount that is not a finite number below 10**14 is dropped silently (no revenue).
- timestamp: ts_ms to a UTC datetime, exactly to the millisecond.

Sessions come last, for the whole batch at once (`Enricher.process`): events are sessionized
in time order, whatever order they arrived in, and returned in arrival order. Engagement events
extend a live visit (the visitor is still on the page) and otherwise join the visitor's last
visit if it is still remembered (see Sessionizer.assign).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from functools import lru_cache
from urllib.parse import urlsplit

from footfall.enrich.channels import channel_for, source_for
from footfall.enrich.props import limit_props
from footfall.enrich.referrers import ReferrerInfo, classify_referrer, referrer_host
from footfall.enrich.urls import split_page_url, strip_www
from footfall.enrich.useragent import UserAgentInfo, parse_user_agent
from footfall.enrich.utm import NO_CAMPAIGN, Campaign, extract_campaign
from footfall.enrich.visitor import session_hash
from footfall.events import Event, Kind, RawEvent
from footfall.pipeline.sessions import Sessionizer

__all__ = ["STEPS", "Draft", "Enricher", "Step"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_REFERRER_LENGTH = 2000
_MAX_HINT_LENGTH = 100
_REVENUE_QUANTUM = Decimal("0.0001")
_REVENUE_LIMIT = Decimal(10) ** 14
_NO_USER_AGENT = UserAgentInfo()

_BROWSER_HINTS = {
    "chrome": "Chrome",
    "google chrome": "Chrome",
    "chromium": "Chromium",
    "safari": "Safari",
    "mobile safari": "Safari",
    "firefox": "Firefox",
    "mozilla firefox": "Firefox",
    "edge": "Edge",
    "microsoft edge": "Edge",
    "opera": "Opera",
    "samsung internet": "Samsung Internet",
    "samsung browser": "Samsung Internet",
    "samsungbrowser": "Samsung Internet",
    "internet explorer": "Internet Explorer",
    "ie": "Internet Explorer",
    "brave": "Brave",
    "vivaldi": "Vivaldi",
    "yandex": "Yandex Browser",
    "yandex browser": "Yandex Browser",
    "uc browser": "UC Browser",
    "duckduckgo": "DuckDuckGo",
    "silk": "Silk",
}
_DEVICE_HINTS = {
    "desktop": "Desktop",
    "computer": "Desktop",
    "laptop": "Desktop",
    "mobile": "Mobile",
    "phone": "Mobile",
    "smartphone": "Mobile",
    "tablet": "Tablet",
}


@dataclass(slots=True)
class Draft:
    """A row being built from one raw event; steps fill its fields in order."""

    raw: RawEvent
    hostname: str = ""
    pathname: str = "/"
    query: str = ""
    referrer: str = ""
    referrer_info: ReferrerInfo | None = None
    campaign: Campaign = NO_CAMPAIGN
    source: str = ""
    channel: str = ""
    agent: UserAgentInfo = _NO_USER_AGENT
    props_keys: list[str] = field(default_factory=list)
    props_values: list[str] = field(default_factory=list)
    revenue_amount: Decimal | None = None
    revenue_currency: str = ""
    ts: datetime = _EPOCH


Step = Callable[[Draft], Draft]


def split_url(draft: Draft) -> Draft:
    """Hostname, pathname and query of the page URL."""
    draft.hostname, draft.pathname, draft.query = split_page_url(
        draft.raw.url, draft.raw.hash_routing
    )
    return draft


def _clean_referrer(text: str) -> tuple[str, str]:
    """(referrer URL without credentials, query or fragment; its host without "www.")."""
    try:
        parts = urlsplit(text)
        host = parts.hostname or ""
    except ValueError:
        return "", ""
    if parts.scheme and host:
        netloc = parts.netloc.rpartition("@")[2].lower()
        url = f"{parts.scheme.lower()}://{netloc}{parts.path}"
    else:
        # A bare host ("example.com/page"), as some callers send it.
        url = text.partition("?")[0].partition("#")[0]
        host = referrer_host(url)
    return url[:_MAX_REFERRER_LENGTH], strip_www(host.rstrip("."))


_clean_referrer_cached = lru_cache(maxsize=10_000)(_clean_referrer)


def referrer(draft: Draft) -> Draft:
    """The external referrer, if any: cleaned URL and classification."""
    text = (draft.raw.referrer or "").strip()
    if not text:
        return draft
    # Referrers repeat, so answers are cached, but only for ones short enough to keep as keys.
    cleaned = _clean_referrer_cached if len(text) <= _MAX_REFERRER_LENGTH else _clean_referrer
    url, host = cleaned(text)
    if not host or host == strip_www(draft.hostname):
        return draft
    draft.referrer = url
    draft.referrer_info = classify_referrer(host)
    return draft


def campaign(draft: Draft) -> Draft:
    """Campaign tags from the page URL's query."""
    draft.campaign = extract_campaign(draft.query)
    return draft


def _is_email_link(raw: RawEvent) -> bool:
    if raw.kind == Kind.OPEN:
        return True
    return raw.kind == Kind.CLICK and bool(raw.campaign_id or raw.recipient)


def source_and_channel(draft: Draft) -> Draft:
    """visit:source and visit:channel (footfall.enrich.channels)."""
    draft.source = source_for(draft.referrer_info, draft.campaign)
    draft.channel = channel_for(draft.referrer_info, draft.campaign, _is_email_link(draft.raw))
    return draft


def user_agent(draft: Draft) -> Draft:
    """Browser, OS and device from the header, overridden by the caller's hints."""
    raw = draft.raw
    agent = parse_user_agent(raw.user_agent) if raw.user_agent else _NO_USER_AGENT
    browser, version, device = agent.browser, agent.browser_version, agent.device
    hint = (raw.browser_hint or "").strip()
    if hint:
        named = _BROWSER_HINTS.get(hint.lower(), hint[:_MAX_HINT_LENGTH])
        if named != browser:
            browser, version = named, ""
    device = _DEVICE_HINTS.get((raw.device_hint or "").strip().lower(), device)
    draft.agent = UserAgentInfo(browser, version, agent.os, agent.os_version, device)
    return draft


def properties(draft: Draft) -> Draft:
    """Custom properties within the limits (footfall.enrich.props)."""
    draft.props_keys, draft.props_values = limit_props(draft.raw.props_keys, draft.raw.props_values)
    return draft


def _amount(text: str) -> Decimal | None:
    try:
        value = Decimal(text.strip())
    except (InvalidOperation, ValueError):
        return None
    if not value.is_finite() or abs(value) >= _REVENUE_LIMIT:
        return None
    return value.quantize(_REVENUE_QUANTUM, rounding=ROUND_HALF_EVEN)


def revenue(draft: Draft) -> Draft:
    """Revenue amount (exact decimal) and upper-case ISO 4217 currency code."""
    raw = draft.raw
    amount = _amount(raw.revenue_amount) if raw.revenue_amount else None
    if amount is None:
        return draft
    currency = (raw.revenue_currency or "").strip().upper()
    draft.revenue_amount = amount
    draft.revenue_currency = currency if len(currency) == 3 and currency.isalpha() else ""
    return draft


def timestamp(draft: Draft) -> Draft:
    """The event time as a UTC datetime with millisecond precision."""
    draft.ts = _EPOCH + timedelta(milliseconds=draft.raw.ts_ms)
    return draft


STEPS: tuple[Step, ...] = (
    split_url,
    referrer,
    campaign,
    source_and_channel,
    user_agent,
    properties,
    revenue,
    timestamp,
)


def _row(draft: Draft, visitor_id: int, session_id: int, batch_id: int) -> Event:
    raw, agent, tags = draft.raw, draft.agent, draft.campaign
    return Event(
        event_id=raw.event_id,
        ts=draft.ts,
        site_id=raw.site_id,
        name=raw.name,
        kind=raw.kind,
        visitor_id=visitor_id,
        session_id=session_id,
        user_id=raw.user_id,
        hostname=draft.hostname,
        pathname=draft.pathname,
        referrer=draft.referrer,
        referrer_source=draft.source,
        channel=draft.channel,
        utm_source=tags.utm_source,
        utm_medium=tags.utm_medium,
        utm_campaign=tags.utm_campaign,
        utm_content=tags.utm_content,
        utm_term=tags.utm_term,
        country=raw.country or "",
        region=raw.region or "",
        city=raw.city or "",
        browser=agent.browser,
        browser_version=agent.browser_version,
        os=agent.os,
        os_version=agent.os_version,
        device=agent.device,
        screen_width=max(raw.screen_width or 0, 0),
        props_keys=draft.props_keys,
        props_values=draft.props_values,
        revenue_amount=draft.revenue_amount,
        revenue_currency=draft.revenue_currency,
        link_id=raw.link_id or 0,
        campaign_id=raw.campaign_id or 0,
        recipient=raw.recipient or "",
        platform=raw.platform or "",
        is_bot=raw.is_bot,
        interactive=raw.interactive,
        scroll_depth=min(max(raw.scroll_depth or 0, 0), 100),
        engagement_ms=max(raw.engagement_ms or 0, 0),
        batch_id=batch_id,
    )


class Enricher:
    """Turns batches of raw events into rows: the STEPS, then sessions for the whole batch.

    Keeps the sessionizer's state between batches; one writer owns it (not thread-safe).
    """

    def __init__(
        self,
        *,
        secret_key: bytes,
        session_timeout_s: int = 1800,
        max_visitors: int = 1_000_000,
        steps: Sequence[Step] = STEPS,
    ) -> None:
        self._secret = secret_key
        self._steps = tuple(steps)
        self._sessions = Sessionizer(session_timeout_s, max_visitors)

    def process(self, raws: Sequence[RawEvent], batch_id: int = 0) -> list[Event]:
        """Enrich a batch; rows come back in the order of `raws`."""
        drafts = [self._draft(raw) for raw in raws]
        assigned: list[tuple[int, int]] = [(0, 0)] * len(drafts)
        for index in sorted(range(len(drafts)), key=lambda i: raws[i].ts_ms):
            assigned[index] = self._session(raws[index])
        return [
            _row(draft, visitor_id, session_id, batch_id)
            for draft, (visitor_id, session_id) in zip(drafts, assigned, strict=True)
        ]

    def restore_sessions(self, rows: Iterable[tuple[int, int, int, int]]) -> None:
        """Remember recent visits read back from the store, so a restart splits none.

        Rows are (site_id, visitor_id, session_id, last_ts_ms).
        """
        for site_id, visitor_id, session_id, last_ts_ms in rows:
            self._sessions.restore(site_id, visitor_id, session_id, last_ts_ms)

    def _draft(self, raw: RawEvent) -> Draft:
        draft = Draft(raw)
        for step in self._steps:
            draft = step(draft)
        return draft

    def _session(self, raw: RawEvent) -> tuple[int, int]:
        key_hash = (
            session_hash(self._secret, raw.site_id, raw.session_key) if raw.session_key else None
        )
        return self._sessions.assign(
            raw.site_id,
            raw.visitor_id,
            raw.visitor_id_prev,
            key_hash,
            raw.ts_ms,
            engagement=raw.kind == Kind.ENGAGEMENT,
        )
