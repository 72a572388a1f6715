"""What the dashboard shows, computed through the one query path: top stats, graph, panels.

Every number comes from a Stats API v2 query answered by `footfall.api.query.answer`, so the
dashboard and POST /api/v2/query can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from footfall.api.deps import Services
from footfall.api.errors import ApiError
from footfall.api.query import answer, parsed
from footfall.dashboard.state import GRAPH_METRICS, State
from footfall.meta.sites import SiteInfo
from footfall.query import QueryResult
from footfall.query.dates import Period

PANEL_ROWS = 10
TOP_METRICS = tuple(GRAPH_METRICS)
LOWER_IS_BETTER = frozenset({"bounce_rate"})
# Events that are not custom events: page views and the tracker's engagement pings.
_NOT_CUSTOM = ["pageview", "engagement"]


@dataclass(frozen=True)
class Stat:
    """One top stat with its change against the previous period."""

    metric: str
    label: str
    value: str
    change: str
    direction: str  # up (better) | down (worse) | same | none
    href: str


@dataclass(frozen=True)
class Row:
    """One panel row: a dimension value, its numbers, and the link filtering by it."""

    label: str
    values: list[str]
    share: float  # 0..100: the bar width, relative to the tab's first row
    href: str


@dataclass(frozen=True)
class Tab:
    """One tab of a panel: a breakdown by one dimension."""

    key: str
    label: str
    columns: list[str]
    rows: list[Row]
    note: str = ""


@dataclass(frozen=True)
class Panel:
    """A titled group of tabs."""

    key: str
    title: str
    tabs: list[Tab]


@dataclass(frozen=True)
class Graph:
    """The main graph's series (for uPlot) and its table fallback."""

    metric: str
    label: str
    interval: str
    labels: list[str]
    values: list[int | float]
    previous: list[int | float] | None

    def to_json(self) -> dict[str, Any]:
        """The data the graph script reads from the page."""
        return {
            "metric": self.metric,
            "label": self.label,
            "interval": self.interval,
            "labels": self.labels,
            "values": self.values,
            "previous": self.previous,
        }


@dataclass
class Dashboard:
    """Everything one dashboard view shows."""

    site: SiteInfo
    state: State
    period: Period
    stats: list[Stat]
    graph: Graph
    panels: list[Panel] = field(default_factory=list)


def format_value(metric: str, value: int | float) -> str:
    """A metric value as people read it."""
    if metric == "bounce_rate" or metric.endswith("conversion_rate"):
        return f"{value:g}%"
    if metric == "visit_duration":
        minutes, seconds = divmod(int(value), 60)
        return f"{minutes}m {seconds:02d}s" if minutes else f"{seconds}s"
    if metric == "views_per_visit":
        return f"{value:.2f}"
    return f"{int(value):,}"


def _change(metric: str, change: int | float | None) -> tuple[str, str]:
    if change is None:
        return "new", "none"
    unit = " pt" if metric == "bounce_rate" else "%"
    if change == 0:
        return f"0{unit}", "same"
    # The class colours good news green: fewer bounces are good news.
    better = change < 0 if metric in LOWER_IS_BETTER else change > 0
    return f"{change:+g}{unit}", "up" if better else "down"


class Reporter:
    """Runs the dashboard's queries for one site and one view."""

    def __init__(self, services: Services, site: SiteInfo, state: State) -> None:
        self.services, self.site, self.state = services, site, state

    def run(self, *, conversions_only: bool = False, **fields: Any) -> QueryResult:
        """Answer a v2 query (given as its JSON fields) with this view's range and filters."""
        extra = fields.pop("filters", [])
        payload = {
            "site_id": self.site.domain,
            "date_range": self.state.date_range(),
            "filters": [*self.state.query_filters(), *extra],
            **fields,
        }
        query = parsed(payload)
        if conversions_only:
            query = replace(query, conversions_only=True)
        return answer(self.services, query, self.site)

    def stats(self) -> tuple[list[Stat], Period]:
        """The top stats and the resolved period."""
        fields: dict[str, Any] = {"metrics": list(TOP_METRICS)}
        if self.state.comparable():
            fields["include"] = {"comparisons": {"mode": "previous_period"}}
        result = self.run(**fields)
        row = result.rows[0] if result.rows else None
        values = row.metrics if row else [0] * len(TOP_METRICS)
        changes = row.comparison["change"] if row and row.comparison else None
        stats = []
        for index, metric in enumerate(TOP_METRICS):
            text, direction = _change(metric, changes[index]) if changes else ("", "none")
            stats.append(
                Stat(
                    metric,
                    GRAPH_METRICS[metric],
                    format_value(metric, values[index]),
                    text,
                    direction,
                    self.state.href(metric=metric),
                )
            )
        return stats, result.period

    def graph(self) -> Graph:
        """The selected metric over time, bucketed by the view's interval."""
        metric, interval = self.state.metric, self.state.granularity()
        dimension = f"time:{interval}"
        fields: dict[str, Any] = {
            "metrics": [metric],
            "dimensions": [dimension],
            "order_by": [[dimension, "asc"]],
        }
        if self.state.comparable():
            fields["include"] = {"comparisons": {"mode": "previous_period"}}
        result = self.run(**fields)
        previous = None
        if self.state.comparable():
            previous = [
                row.comparison["metrics"][0] if row.comparison else 0 for row in result.rows
            ]
        return Graph(
            metric,
            GRAPH_METRICS[metric],
            interval,
            [str(row.dimensions[0]) for row in result.rows],
            [row.metrics[0] for row in result.rows],
            previous,
        )

    def breakdown(
        self, key: str, label: str, dimension: str, *, filters: list[list[Any]] | None = None
    ) -> Tab:
        """Top values of `dimension` by unique visitors."""
        result = self.run(
            metrics=["visitors"],
            dimensions=[dimension],
            filters=filters or [],
            order_by=[["visitors", "desc"], [dimension, "asc"]],
            pagination={"limit": PANEL_ROWS},
        )
        top = max((row.metrics[0] for row in result.rows), default=0) or 1
        rows = [
            Row(
                str(row.dimensions[0]) or "(none)",
                [format_value("visitors", row.metrics[0])],
                round(100 * row.metrics[0] / top, 1),
                self.state.with_filter(dimension, str(row.dimensions[0])),
            )
            for row in result.rows
        ]
        return Tab(key, label, ["Visitors"], rows)

    def goals(self, total_visitors: int | float) -> Tab:
        """Conversions by goal or conversion type, with their conversion rate."""
        result = self.run(
            metrics=["visitors", "events"],
            dimensions=["event:name"],
            filters=[["is_not", "event:name", ["pageview"]]],
            order_by=[["visitors", "desc"], ["event:name", "asc"]],
            pagination={"limit": PANEL_ROWS},
            conversions_only=True,
        )
        rows = []
        top = max((row.metrics[0] for row in result.rows), default=0) or 1
        for row in result.rows:
            visitors, events = row.metrics
            rate = round(100 * visitors / total_visitors, 2) if total_visitors else 0.0
            rows.append(
                Row(
                    str(row.dimensions[0]),
                    [
                        format_value("visitors", visitors),
                        format_value("events", events),
                        f"{rate:g}%",
                    ],
                    round(100 * visitors / top, 1),
                    self.state.with_filter("event:name", str(row.dimensions[0])),
                )
            )
        return Tab("goals", "Goals", ["Uniques", "Total", "Conv. rate"], rows)

    def props(self) -> list[Tab]:
        """Custom events, and the values of the chosen property key."""
        custom = [["is_not", "event:name", _NOT_CUSTOM]]
        tabs = [self.breakdown("events", "Custom events", "event:name", filters=custom)]
        if self.state.prop:
            key = self.state.prop
            try:
                tab = self.breakdown("props", f"Property {key}", f"event:props:{key}")
            except ApiError as exc:
                tab = Tab("props", f"Property {key}", ["Visitors"], [], note=exc.message)
            tabs.append(tab)
        return tabs

    def panels(self, total_visitors: int | float) -> list[Panel]:
        """The breakdown panels, each with its tabs."""
        tab = self.breakdown
        return [
            Panel(
                "sources",
                "Top sources",
                [
                    tab("channels", "Channels", "visit:channel"),
                    tab("sources", "Sources", "visit:source"),
                    tab("referrers", "Referrers", "visit:referrer"),
                    tab("utm_source", "UTM source", "visit:utm_source"),
                    tab("utm_medium", "UTM medium", "visit:utm_medium"),
                    tab("utm_campaign", "UTM campaign", "visit:utm_campaign"),
                ],
            ),
            Panel(
                "pages",
                "Top pages",
                [
                    tab(
                        "top",
                        "Top pages",
                        "event:page",
                        filters=[["is", "event:name", ["pageview"]]],
                    ),
                    tab("entry", "Entry pages", "visit:entry_page"),
                    tab("exit", "Exit pages", "visit:exit_page"),
                ],
            ),
            Panel("locations", "Locations", [tab("countries", "Countries", "visit:country")]),
            Panel(
                "devices",
                "Devices",
                [
                    tab("browsers", "Browsers", "visit:browser"),
                    tab("os", "Operating systems", "visit:os"),
                    tab("devices", "Device types", "visit:device"),
                ],
            ),
            Panel("goals", "Goal conversions", [self.goals(total_visitors)]),
            Panel("props", "Custom events", self.props()),
        ]


def build_dashboard(services: Services, site: SiteInfo, state: State) -> Dashboard:
    """Run every query of one dashboard view (call from a worker thread: it reads the store)."""
    reporter = Reporter(services, site, state)
    stats, period = reporter.stats()
    visitors = reporter.run(metrics=["visitors"]).rows
    total = visitors[0].metrics[0] if visitors else 0
    return Dashboard(site, state, period, stats, reporter.graph(), reporter.panels(total))


@dataclass(frozen=True)
class Sparkline:
    """A site's daily visitors of the last 30 days, as SVG polyline points."""

    total: int | float
    points: str


SPARK_WIDTH, SPARK_HEIGHT = 120, 32


def sparkline(services: Services, site: SiteInfo) -> Sparkline:
    """Visitors per day over the last 30 days, scaled into a SPARK_WIDTH x SPARK_HEIGHT box."""
    payload = {
        "site_id": site.domain,
        "metrics": ["visitors"],
        "date_range": "30d",
        "dimensions": ["time:day"],
        "order_by": [["time:day", "asc"]],
    }
    daily = [row.metrics[0] for row in answer(services, parsed(payload), site).rows]
    total_payload = {"site_id": site.domain, "metrics": ["visitors"], "date_range": "30d"}
    total = answer(services, parsed(total_payload), site).rows
    top = max(daily, default=0) or 1
    step = SPARK_WIDTH / max(len(daily) - 1, 1)
    points = " ".join(
        f"{index * step:.1f},{SPARK_HEIGHT - 2 - (SPARK_HEIGHT - 4) * value / top:.1f}"
        for index, value in enumerate(daily)
    )
    return Sparkline(total[0].metrics[0] if total else 0, points)
