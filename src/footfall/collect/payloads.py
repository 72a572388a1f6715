"""Decoding and validating collection payloads (API.md section 1) into one `Incoming` shape.

Each endpoint has its own msgspec schema; all of them end as `Incoming`, so the collector steps that
follow never care which API an event came through. Errors are `BadInput` with a snake_case code and
a message naming the field, which the routes turn into a 400.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import msgspec

from footfall.events import Kind

_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f]")

MAX_NAME = 120
MAX_URL = 2_000
MAX_DOMAIN = 1_000
MAX_USER = 256
MAX_CURRENCY = 3
MAX_FUTURE_S = 300  # clocks drift; more than five minutes ahead is a caller's bug
MIN_EPOCH_S = 946_684_800  # 2000-01-01: anything older is a unit mistake (ms vs s)

PropValue = str | int | float | bool | None


class BadInput(ValueError):
    """A payload that must be refused with 400 and change nothing."""

    def __init__(self, message: str, code: str = "invalid_payload") -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Incoming:
    """A validated event, whichever endpoint it came from, before site lookup and hashing."""

    kind: Kind
    name: str
    domains: list[str]
    url: str = ""
    referrer: str | None = None
    props: dict[str, str] = field(default_factory=dict)
    revenue_amount: str | None = None
    revenue_currency: str | None = None
    interactive: bool = True
    screen_width: int | None = None
    hash_routing: bool = False
    scroll_depth: int | None = None
    engagement_ms: int | None = None
    ts_ms: int | None = None  # None: the time it arrived
    user_id: str | None = None
    session_key: str | None = None
    user_agent: str | None = None  # None: take the request's User-Agent
    ip: str | None = None  # None: take the request's address
    browser_hint: str | None = None
    device_hint: str | None = None
    attribution: str | None = None  # a tracked link's `ffl` value, taken out of `url`


# --- POST /api/event (Plausible-compatible, long and short keys) ---------------------------------


class _PlausibleEvent(msgspec.Struct, forbid_unknown_fields=False):
    name: str | None = None
    n: str | None = None
    url: str | None = None
    u: str | None = None
    domain: str | None = None
    d: str | None = None
    referrer: str | None = None
    r: str | None = None
    props: dict[str, PropValue] | str | None = None
    p: dict[str, PropValue] | str | None = None
    revenue: dict[str, Any] | str | None = None
    dollar: dict[str, Any] | str | None = msgspec.field(default=None, name="$")
    interactive: bool | None = None
    i: bool | None = None
    screen_width: int | None = None
    w: int | None = None
    h: int | bool | None = None
    sd: int | float | None = None
    e: int | float | None = None


_plausible_decoder = msgspec.json.Decoder(_PlausibleEvent)
_props_decoder = msgspec.json.Decoder(dict[str, PropValue])
_revenue_decoder = msgspec.json.Decoder(dict[str, Any])


def decode_plausible(body: bytes) -> Incoming:
    """Decode a `POST /api/event` body (JSON sent as application/json or text/plain)."""
    raw = _decode(_plausible_decoder, body)
    name = _required_text(_first(raw.name, raw.n), "name", MAX_NAME)
    url = _required_text(_first(raw.url, raw.u), "url", MAX_URL)
    _check_http_url(url, "url")
    domains = split_domains(_required_text(_first(raw.domain, raw.d), "domain", MAX_DOMAIN))
    referrer = _optional_text(_first(raw.referrer, raw.r), "referrer", MAX_URL)
    props = _props(_first(raw.props, raw.p))
    amount, currency = _revenue(_first(raw.revenue, raw.dollar))
    interactive = _first(raw.interactive, raw.i)
    incoming = Incoming(
        kind=_kind_of(name),
        name=name,
        domains=domains,
        url=url,
        referrer=referrer or None,
        props=props,
        revenue_amount=amount,
        revenue_currency=currency,
        interactive=True if interactive is None else interactive,
        screen_width=_screen(_first(raw.screen_width, raw.w)),
        hash_routing=bool(raw.h),
    )
    if incoming.kind is Kind.ENGAGEMENT:
        incoming.scroll_depth = _bounded_int(raw.sd, "sd", 0, 100)
        incoming.engagement_ms = _bounded_int(raw.e, "e", 0, 86_400_000)
        incoming.interactive = False
    return incoming


def _kind_of(name: str) -> Kind:
    if name == "pageview":
        return Kind.PAGEVIEW
    if name == "engagement":
        return Kind.ENGAGEMENT
    return Kind.EVENT


# --- POST /api/v1/events, /api/v1/conversions, /api/v1/events/batch ------------------------------


class _TrackEvent(msgspec.Struct, forbid_unknown_fields=False):
    event_type: str | None = None
    user_id: str | int | None = None
    session_id: str | int | None = None
    timestamp: str | int | float | None = None
    site: str | None = None
    metadata: dict[str, Any] | None = None


class _TrackConversion(msgspec.Struct, forbid_unknown_fields=False):
    conversion_type: str | None = None
    user_id: str | int | None = None
    session_id: str | int | None = None
    timestamp: str | int | float | None = None
    site: str | None = None
    metadata: dict[str, Any] | None = None


_track_event_decoder = msgspec.json.Decoder(_TrackEvent)
_track_conversion_decoder = msgspec.json.Decoder(_TrackConversion)
_any_decoder = msgspec.json.Decoder()

_METADATA_FIELDS = {"page_url", "referrer_url", "browser", "device", "user_agent", "ip"}
_CONVERSION_FIELDS = {"amount", "currency"}


def decode_track_event(body: bytes, now_ms: int) -> Incoming:
    """Decode a `POST /api/v1/events` body."""
    return track_event_from(_decode(_track_event_decoder, body), now_ms)


def track_event_from(raw: _TrackEvent | Any, now_ms: int) -> Incoming:
    """Validate one Track Event object (also used for each item of a batch)."""
    if not isinstance(raw, _TrackEvent):
        raw = _convert(raw, _TrackEvent)
    event_type = _required_text(raw.event_type, "event_type", MAX_NAME)
    kind = Kind.PAGEVIEW if event_type == "page_view" else Kind.EVENT
    name = "pageview" if kind is Kind.PAGEVIEW else event_type
    return _server_event(kind, name, raw, now_ms, reserved=_METADATA_FIELDS)


def decode_track_conversion(body: bytes, now_ms: int) -> Incoming:
    """Decode a `POST /api/v1/conversions` body: a conversion with revenue from the metadata."""
    raw = _decode(_track_conversion_decoder, body)
    name = _required_text(raw.conversion_type, "conversion_type", MAX_NAME)
    incoming = _server_event(
        Kind.CONVERSION, name, raw, now_ms, reserved=_METADATA_FIELDS | _CONVERSION_FIELDS
    )
    metadata = raw.metadata or {}
    if metadata.get("amount") is not None:
        incoming.revenue_amount, incoming.revenue_currency = _revenue(
            {"amount": metadata.get("amount"), "currency": metadata.get("currency")}
        )
    return incoming


def decode_batch(body: bytes, ndjson: bool, limit: int) -> list[Any]:
    """Split a batch body (JSON array, or NDJSON) into raw items, refusing more than `limit`."""
    if ndjson or not body.lstrip().startswith(b"["):
        lines = [line for line in body.splitlines() if line.strip()]
        if len(lines) > limit:
            raise BadInput(f"a batch holds at most {limit} events", "batch_too_large")
        items: list[Any] = []
        for number, line in enumerate(lines, start=1):
            try:
                items.append(_any_decoder.decode(line))
            except msgspec.DecodeError as exc:
                raise BadInput(f"line {number} is not valid JSON: {exc}", "malformed_json") from exc
        return items
    decoded = _decode(_any_decoder, body)
    if not isinstance(decoded, list):
        raise BadInput("expected a JSON array of events or NDJSON", "invalid_payload")
    if len(decoded) > limit:
        raise BadInput(f"a batch holds at most {limit} events", "batch_too_large")
    return decoded


def _server_event(
    kind: Kind,
    name: str,
    raw: _TrackEvent | _TrackConversion,
    now_ms: int,
    *,
    reserved: set[str],
) -> Incoming:
    metadata = raw.metadata or {}
    page_url = _optional_text(_meta_text(metadata, "page_url"), "metadata.page_url", MAX_URL)
    if page_url:
        _check_http_url(page_url, "metadata.page_url")
    site = _optional_text(raw.site, "site", MAX_DOMAIN)
    domains = split_domains(site) if site else []
    if not domains:
        host = _host_of(page_url) if page_url else ""
        if not host:
            raise BadInput("give `site`, or `metadata.page_url` on a registered site", "no_site")
        domains = [host]
    extra = {k: v for k, v in metadata.items() if k not in reserved}
    return Incoming(
        kind=kind,
        name=name,
        domains=domains,
        url=page_url or f"https://{domains[0]}/",
        referrer=_optional_text(
            _meta_text(metadata, "referrer_url"), "metadata.referrer_url", MAX_URL
        ),
        props=_props(extra, field_name="metadata"),
        ts_ms=parse_timestamp(raw.timestamp, now_ms),
        user_id=_identifier(raw.user_id, "user_id"),
        session_key=_identifier(raw.session_id, "session_id"),
        user_agent=_optional_text(_meta_text(metadata, "user_agent"), "metadata.user_agent", 1000)
        or "",
        ip=_optional_text(_meta_text(metadata, "ip"), "metadata.ip", 64),
        browser_hint=_optional_text(_meta_text(metadata, "browser"), "metadata.browser", 100),
        device_hint=_optional_text(_meta_text(metadata, "device"), "metadata.device", 100),
    )


# --- POST /analytics?timestamp=&user=&event= ----------------------------------------------------


def decode_user_analytics(query: dict[str, str], default_site: str, now_ms: int) -> Incoming:
    """Validate the user-analytics API's query parameters (epoch-second timestamp, user, event)."""
    timestamp = query.get("timestamp", "")
    if not timestamp.isdigit():
        raise BadInput("`timestamp` must be epoch seconds (a whole number)", "invalid_timestamp")
    user = _required_text(query.get("user"), "user", MAX_USER)
    event = _required_text(query.get("event"), "event", MAX_NAME)
    site = _optional_text(query.get("site"), "site", MAX_DOMAIN) or default_site
    return Incoming(
        kind=Kind.EVENT,
        name=event,
        domains=[site.lower()],
        url=f"https://{site}/",
        ts_ms=parse_timestamp(int(timestamp), now_ms),
        user_id=user,
        user_agent="",
    )


# --- shared validation --------------------------------------------------------------------------


def parse_timestamp(value: str | int | float | None, now_ms: int) -> int:
    """ISO 8601 (with zone, or UTC when none) or epoch seconds -> epoch ms; None -> now."""
    if value is None:
        return now_ms
    if isinstance(value, bool):
        raise BadInput("`timestamp` must be ISO 8601 or epoch seconds", "invalid_timestamp")
    if isinstance(value, int | float):
        if not math.isfinite(value) or value < MIN_EPOCH_S:
            raise BadInput("`timestamp` epoch seconds out of range", "invalid_timestamp")
        ts_ms = int(value * 1000)
    else:
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError as exc:
            raise BadInput(
                f"`timestamp` is not ISO 8601: {value[:40]!r}", "invalid_timestamp"
            ) from exc
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        ts_ms = int(parsed.timestamp() * 1000)
        if ts_ms < MIN_EPOCH_S * 1000:
            raise BadInput("`timestamp` is before the year 2000", "invalid_timestamp")
    if ts_ms > now_ms + MAX_FUTURE_S * 1000:
        raise BadInput("`timestamp` is in the future", "invalid_timestamp")
    return ts_ms


def split_domains(value: str) -> list[str]:
    """`a.com, b.com` -> ["a.com", "b.com"], lowercased, deduplicated, order kept."""
    seen: dict[str, None] = {}
    for part in value.split(","):
        domain = part.strip().lower()
        if domain:
            seen.setdefault(domain, None)
    if not seen:
        raise BadInput("`domain` is empty", "invalid_domain")
    return list(seen)


def _decode(decoder: msgspec.json.Decoder[Any], body: bytes) -> Any:
    try:
        return decoder.decode(body)
    except msgspec.ValidationError as exc:
        raise BadInput(f"invalid field: {exc}", "invalid_field") from exc
    except msgspec.DecodeError as exc:
        raise BadInput(f"body is not valid JSON: {exc}", "malformed_json") from exc


def _convert(value: Any, type_: type[Any]) -> Any:
    try:
        return msgspec.convert(value, type_)
    except msgspec.ValidationError as exc:
        raise BadInput(f"invalid field: {exc}", "invalid_field") from exc


def _first(*values: Any) -> Any:
    for value in values:
        if value is not None:
            return value
    return None


def _required_text(value: Any, name: str, limit: int) -> str:
    text = _optional_text(value, name, limit)
    if not text:
        raise BadInput(f"`{name}` is required", "missing_field")
    return text


def _optional_text(value: Any, name: str, limit: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadInput(f"`{name}` must be a string", "invalid_field")
    text = value.strip()
    if len(text) > limit:
        raise BadInput(f"`{name}` is longer than {limit} characters", "field_too_long")
    if _CONTROL_CHARACTERS.search(text):
        raise BadInput(f"`{name}` contains control characters", "invalid_field")
    return text


def _meta_text(metadata: dict[str, Any], key: str) -> Any:
    value = metadata.get(key)
    return None if value == "" else value


def _identifier(value: str | int | None, name: str) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    return _optional_text(str(value), name, MAX_USER) or None


def _check_http_url(url: str, name: str) -> None:
    if not _host_of(url):
        raise BadInput(f"`{name}` must be an absolute http(s) URL", "invalid_url")


def _host_of(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in {"http", "https"}:
        return ""
    authority = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    host = authority.rsplit("@", 1)[-1]
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.split(":", 1)[0].lower()


def _props(value: Any, field_name: str = "props") -> dict[str, str]:
    if value is None:
        return {}
    if isinstance(value, str):
        if not value.strip():
            return {}
        try:
            value = _props_decoder.decode(value)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise BadInput(f"`{field_name}` is not a JSON object: {exc}", "invalid_props") from exc
    if not isinstance(value, dict):
        raise BadInput(f"`{field_name}` must be an object", "invalid_props")
    props: dict[str, str] = {}
    for key, item in value.items():
        if item is None:
            continue
        if isinstance(item, dict | list):
            raise BadInput(
                f"`{field_name}.{key}` must be a string, number or boolean", "invalid_props"
            )
        props[str(key)] = _prop_text(item)
    return props


def _prop_text(value: str | int | float | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _revenue(value: Any) -> tuple[str | None, str | None]:
    if value is None:
        return None, None
    if isinstance(value, str):
        try:
            value = _revenue_decoder.decode(value)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise BadInput("`revenue` is not a JSON object", "invalid_revenue") from exc
    if not isinstance(value, dict):
        raise BadInput("`revenue` must be {amount, currency}", "invalid_revenue")
    amount_raw, currency = value.get("amount"), value.get("currency")
    if isinstance(amount_raw, bool) or not isinstance(amount_raw, str | int | float):
        raise BadInput("`revenue.amount` must be a number or a numeric string", "invalid_revenue")
    try:
        amount = Decimal(str(amount_raw).strip())
    except InvalidOperation as exc:
        raise BadInput("`revenue.amount` is not a number", "invalid_revenue") from exc
    if not amount.is_finite() or abs(amount) >= Decimal(10) ** 14:
        raise BadInput("`revenue.amount` is out of range", "invalid_revenue")
    if not isinstance(currency, str) or len(currency.strip()) != MAX_CURRENCY:
        raise BadInput("`revenue.currency` must be an ISO 4217 code", "invalid_revenue")
    code = currency.strip().upper()
    if not code.isalpha():
        raise BadInput("`revenue.currency` must be an ISO 4217 code", "invalid_revenue")
    return str(amount.quantize(Decimal("0.0001")).normalize()), code


def _screen(value: int | None) -> int | None:
    if value is None or value <= 0:
        return None
    return min(value, 100_000)


def _bounded_int(value: float | None, name: str, low: int, high: int) -> int | None:
    if value is None:
        return None
    if not math.isfinite(value):
        raise BadInput(f"`{name}` must be a number", "invalid_field")
    return max(low, min(high, int(value)))
