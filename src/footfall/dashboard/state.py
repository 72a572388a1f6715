"""The dashboard's state in the URL query string: period, filters, graph metric, and their links.

Everything the dashboard shows is a function of this state, so a URL is shareable and the
browser's back button restores the previous view. Invalid values fall back to the defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import QueryParams

from footfall.query import page_regex
from footfall.query.params import MAX_PATTERN_LENGTH

# URL key -> query dimension of the filters a row click can add.
FILTER_KEYS: dict[str, str] = {
    "channel": "visit:channel",
    "source": "visit:source",
    "referrer": "visit:referrer",
    "utm_source": "visit:utm_source",
    "utm_medium": "visit:utm_medium",
    "utm_campaign": "visit:utm_campaign",
    "page": "event:page",
    "entry_page": "visit:entry_page",
    "exit_page": "visit:exit_page",
    "country": "visit:country",
    "region": "visit:region",
    "city": "visit:city",
    "browser": "visit:browser",
    "browser_version": "visit:browser_version",
    "os": "visit:os",
    "os_version": "visit:os_version",
    "device": "visit:device",
    "goal": "event:name",
}
DIMENSION_KEYS = {dimension: key for key, dimension in FILTER_KEYS.items()}
PROP_PREFIX = "props."
# A goal defined by a page path (`/thanks*`): its pageviews, not a dimension of its own.
PAGE_GOAL_KEY = "page_goal"

PERIODS: dict[str, str] = {
    "realtime": "Realtime",
    "day": "Today",
    "7d": "Last 7 days",
    "28d": "Last 28 days",
    "30d": "Last 30 days",
    "month": "This month",
    "6mo": "Last 6 months",
    "12mo": "Last 12 months",
    "year": "This year",
    "all": "All time",
    "custom": "Custom range",
}
GRAPH_METRICS: dict[str, str] = {
    "visitors": "Unique visitors",
    "visits": "Visits",
    "pageviews": "Pageviews",
    "views_per_visit": "Views per visit",
    "bounce_rate": "Bounce rate",
    "visit_duration": "Visit duration",
}
INTERVALS = ("hour", "day", "week", "month")
DEFAULT_PERIOD = "30d"
MAX_FILTER_VALUE = 500


@dataclass(frozen=True)
class State:
    """One dashboard view: `filters` are (url key, value) pairs, in URL order."""

    period: str = DEFAULT_PERIOD
    start: date | None = None
    end: date | None = None
    filters: tuple[tuple[str, str], ...] = ()
    metric: str = "visitors"
    interval: str = ""
    compare: bool = True
    prop: str = ""

    def date_range(self) -> str | list[str]:
        """The v2 `date_range` of this view."""
        if self.period == "custom" and self.start and self.end:
            return [self.start.isoformat(), self.end.isoformat()]
        return self.period

    @property
    def realtime(self) -> bool:
        """Whether this is the real-time view (the last 30 minutes, updating live)."""
        return self.period == "realtime"

    def comparable(self) -> bool:
        """Whether the previous period exists for this range (not for all time or realtime)."""
        return self.compare and self.period not in {"all", "realtime"}

    def granularity(self) -> str:
        """The graph's bucket size: the chosen one, else one that suits the range."""
        if self.interval == "hour" and self._long():
            # Hours over months would draw thousands of points: days say the same.
            return "day"
        if self.realtime:
            return "minute"
        if self.interval:
            return self.interval
        if self.period == "day":
            return "hour"
        if self.period in {"6mo", "12mo", "year", "all"}:
            return "month"
        if self.period == "custom" and self.start and self.end:
            days = (self.end - self.start).days
            return "hour" if days < 2 else "day" if days <= 92 else "month"
        return "day"

    def _long(self) -> bool:
        if self.period in {"6mo", "12mo", "year", "all"}:
            return True
        return bool(self.start and self.end and (self.end - self.start).days > 31)

    def query_filters(self) -> list[list[Any]]:
        """The v2 `filters` of this view (every filter must hold)."""
        found: list[list[Any]] = []
        for key, value in self.filters:
            if key.startswith(PROP_PREFIX):
                found.append(["is", f"event:props:{key[len(PROP_PREFIX) :]}", [value]])
            elif key == PAGE_GOAL_KEY:
                found.append(["is", "event:name", ["pageview"]])
                found.append(["matches", "event:page", [page_regex(value)]])
            else:
                found.append(["is", FILTER_KEYS[key], [value]])
        return found

    def params(self) -> list[tuple[str, str]]:
        """This state as URL query parameters (defaults left out)."""
        items: list[tuple[str, str]] = []
        if self.period != DEFAULT_PERIOD:
            items.append(("period", self.period))
        if self.period == "custom" and self.start and self.end:
            items += [("from", self.start.isoformat()), ("to", self.end.isoformat())]
        if self.metric != "visitors":
            items.append(("metric", self.metric))
        if self.interval:
            items.append(("interval", self.interval))
        if not self.compare:
            items.append(("compare", "off"))
        if self.prop:
            items.append(("prop", self.prop))
        items.extend(self.filters)
        return items

    def href(self, **changes: Any) -> str:
        """The query string (with its `?`) of this state changed by `changes`."""
        return "?" + urlencode(replace(self, **changes).params())

    def with_filter(self, dimension: str, value: str) -> str:
        """The link that adds `dimension = value` to this view's filters."""
        key = DIMENSION_KEYS.get(dimension)
        if key is None and dimension.startswith("event:props:"):
            key = PROP_PREFIX + dimension[len("event:props:") :]
        if key is None:
            return ""
        return self.with_key(key, value)

    def with_key(self, key: str, value: str) -> str:
        """The link that sets the filter `key` (a URL key: `page_goal`, `props.plan`...)."""
        kept = tuple(item for item in self.filters if item[0] != key)
        return self.href(filters=(*kept, (key, value)))

    def filter_value(self, key: str) -> str | None:
        """The value of the active filter on `key`, if any."""
        return next((value for name, value in self.filters if name == key), None)

    def without_filter(self, key: str) -> str:
        """The link that removes the filter on `key`."""
        return self.href(filters=tuple(item for item in self.filters if item[0] != key))

    def hidden_fields(self, *skip: str) -> list[tuple[str, str]]:
        """Parameters a GET form must carry over (all but those the form itself sets)."""
        return [(name, value) for name, value in self.params() if name not in skip]


def _date(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def page_goal_fits(pattern: str) -> bool:
    """Whether a page goal's pattern can be a URL filter (the query API limits patterns)."""
    return len(pattern) <= MAX_FILTER_VALUE and len(page_regex(pattern)) <= MAX_PATTERN_LENGTH


def _filters(params: QueryParams) -> tuple[tuple[str, str], ...]:
    found: dict[str, str] = {}
    for key, value in params.multi_items():
        known = (
            key in FILTER_KEYS
            or key == PAGE_GOAL_KEY
            or (key.startswith(PROP_PREFIX) and len(key) > len(PROP_PREFIX))
        )
        if known and value and len(value) <= MAX_FILTER_VALUE:
            if key == PAGE_GOAL_KEY and not page_goal_fits(value):
                continue
            found[key] = value
    return tuple(found.items())


def parse_state(params: QueryParams) -> State:
    """The view a URL asks for; anything unknown or malformed is ignored."""
    period = params.get("period", DEFAULT_PERIOD)
    start, end = _date(params.get("from")), _date(params.get("to"))
    if period not in PERIODS or (period == "custom" and not (start and end and start <= end)):
        period, start, end = DEFAULT_PERIOD, None, None
    metric = params.get("metric", "visitors")
    interval = params.get("interval", "")
    prop = params.get("prop", "").strip()[:100]
    return State(
        period=period,
        start=start if period == "custom" else None,
        end=end if period == "custom" else None,
        filters=_filters(params),
        metric=metric if metric in GRAPH_METRICS else "visitors",
        interval=interval if interval in INTERVALS else "",
        compare=params.get("compare") != "off",
        prop=prop,
    )
