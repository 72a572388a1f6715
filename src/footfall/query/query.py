"""The `Query`: what a report asks for, validated once, frozen, independent of any store."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from footfall.links.classify import default_rules

METRICS: tuple[str, ...] = (
    "visitors",
    "visits",
    "pageviews",
    "views_per_visit",
    "bounce_rate",
    "visit_duration",
    "events",
    "conversion_rate",
    "group_conversion_rate",
    "revenue",
    "time_on_page",
    "percentage",
    "recipients",
)

# Metrics computed over whole visits (the session subquery); the rest are event-level.
VISIT_METRICS = frozenset({"visits", "views_per_visit", "bounce_rate", "visit_duration"})

# Visit dimensions taken from the visit's first event (the rest are the same on every event).
SESSION_DIMENSIONS: dict[str, str] = {
    "visit:entry_page": "s_entry_page",
    "visit:exit_page": "s_exit_page",
    "visit:source": "s_source",
    "visit:referrer": "s_referrer",
    "visit:channel": "s_channel",
    "visit:utm_source": "s_utm_source",
    "visit:utm_medium": "s_utm_medium",
    "visit:utm_campaign": "s_utm_campaign",
    "visit:utm_content": "s_utm_content",
    "visit:utm_term": "s_utm_term",
    # The visit's attribution: its first event that came through a tracked link.
    "visit:link_code": "s_link_code",
    "visit:link_campaign": "s_link_campaign",
    "visit:link_recipient": "s_link_recipient",
}

# Dimensions read straight from an event column.
EVENT_COLUMNS: dict[str, str] = {
    "event:name": "name",
    "event:page": "pathname",
    "event:hostname": "hostname",
    "event:revenue_currency": "revenue_currency",
    "event:kind": "kind",
    "visit:device": "device",
    "visit:browser": "browser",
    "visit:browser_version": "browser_version",
    "visit:os": "os",
    "visit:os_version": "os_version",
    "visit:country": "country",
    "visit:region": "region",
    "visit:city": "city",
    "link:code": "link_id",
    "link:campaign": "campaign_id",
    "link:platform": "platform",
    "link:recipient": "recipient",
}

# Human or machine: flagged at collection, or a click of a scanner burst (one recipient's
# clicks on two or more different links of a campaign within BURST_MS of each other; the
# window is the one of the machine rules' data file).
LINK_TRAFFIC = "link:traffic"
BURST_MS = round(default_rules().burst_seconds * 1000)

# Filtered by stored id (their names live in the metadata database, not in the events).
ID_DIMENSIONS = frozenset({"link:code", "link:campaign", "visit:link_code", "visit:link_campaign"})

TIME_DIMENSIONS: tuple[str, ...] = (
    "time",
    "time:minute",
    "time:hour",
    "time:day",
    "time:week",
    "time:month",
)

PROPS_PREFIX = "event:props:"

FILTER_OPERATORS: tuple[str, ...] = (
    "is",
    "is_not",
    "contains",
    "contains_not",
    "matches",
    "matches_not",
)

DATE_RANGES: tuple[str, ...] = (
    "day",
    "7d",
    "28d",
    "30d",
    "month",
    "6mo",
    "12mo",
    "year",
    "all",
    "realtime",
)

COMPARISON_MODES: tuple[str, ...] = ("previous_period", "year_over_year", "custom")


class QueryError(ValueError):
    """A query that cannot be answered; `field` names the part of the request at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Condition:
    """One leaf filter: `[operator, dimension, [values...]]`."""

    operator: str
    dimension: str
    values: tuple[str, ...]
    case_sensitive: bool = True


@dataclass(frozen=True)
class Logical:
    """`["and", [...]]`, `["or", [...]]` or `["not", filter]`."""

    operator: str  # and | or | not
    children: tuple[Filter, ...]


Filter = Condition | Logical


@dataclass(frozen=True)
class DateRange:
    """A named range (`30d`), explicit inclusive dates, or an exact instant window.

    `name` is one of DATE_RANGES, "custom" (dates `start`..`end`, inclusive, in the site's time
    zone) or "instant" (`start_at` <= ts < `end_at`, used by the seed /analytics window).
    """

    name: str
    start: date | None = None
    end: date | None = None
    start_at: datetime | None = None
    end_at: datetime | None = None


@dataclass(frozen=True)
class Comparison:
    """Compare with the previous period, the same period a year earlier, or custom dates."""

    mode: str
    start: date | None = None
    end: date | None = None


@dataclass(frozen=True)
class Query:
    """A validated query (API.md section 2, Stats API v2 shape)."""

    site: str
    metrics: tuple[str, ...]
    date_range: DateRange
    dimensions: tuple[str, ...] = ()
    filters: tuple[Filter, ...] = ()
    order_by: tuple[tuple[str, str], ...] = ()
    limit: int = 10_000
    offset: int = 0
    total_rows: bool = False
    time_labels: bool = False
    comparison: Comparison | None = None
    include_bots: bool = False
    conversions_only: bool = False  # only conversion events (kind conversion or a goal match)
    burst_ms: int = BURST_MS  # the scanner-burst window of link:traffic
    echo: dict[str, object] = field(default_factory=dict, compare=False, hash=False)

    def filter_dimensions(self) -> set[str]:
        """Every dimension some filter refers to."""
        found: set[str] = set()
        stack: list[Filter] = list(self.filters)
        while stack:
            item = stack.pop()
            if isinstance(item, Condition):
                found.add(item.dimension)
            else:
                stack.extend(item.children)
        return found

    def counts_machines(self) -> bool:
        """Whether rows flagged as machines are read (all of them, or to tell them apart)."""
        used = set(self.dimensions) | self.filter_dimensions()
        return self.include_bots or LINK_TRAFFIC in used

    def needs_sessions(self) -> bool:
        """Whether the plan needs the per-visit subquery."""
        used = set(self.dimensions) | self.filter_dimensions()
        return bool(VISIT_METRICS & set(self.metrics)) or bool(used & set(SESSION_DIMENSIONS))
