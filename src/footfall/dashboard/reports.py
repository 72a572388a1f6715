"""What the dashboard shows, computed through the one query path: top stats, graph, panels.

Every number comes from a Stats API v2 query answered by `footfall.api.query.answer`, so the
dashboard and POST /api/v2/query can never disagree.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from footfall.api.deps import Services
from footfall.api.errors import ApiError
from footfall.api.goals import site_goals
from footfall.api.query import answer, parsed
from footfall.dashboard.state import (
    DIMENSION_KEYS,
    GRAPH_METRICS,
    PAGE_GOAL_KEY,
    State,
    page_goal_fits,
)
from footfall.meta.sites import SiteInfo
from footfall.query import Condition, DateRange, QueryResult, page_regex
from footfall.query.dates import Period
from footfall.query.query import Filter

PANEL_ROWS = 10
TOP_METRICS = tuple(GRAPH_METRICS)
LOWER_IS_BETTER = frozenset({"bounce_rate"})
# Events that are not custom events: page views and the tracker's engagement pings.
_NOT_CUSTOM = ["pageview", "engagement"]
# Breakdowns that leave out visits whose value is unknown (no region or city found).
_KNOWN_ONLY = frozenset({"visit:region", "visit:city"})
NO_DATA = "No data for this period."
_NO_PLACE = "No visit of this period has a known {}."


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
    empty: str = NO_DATA  # shown instead of the table when there is no row
    loaded: bool = True  # False: not queried yet, the page fetches it when the tab opens


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
    """Runs the dashboard's queries for one site and one view.

    `window` replaces the view's date range (the real-time view's last 30 minutes, as an
    instant range that v2 JSON cannot spell); `now` pins the clock of every answer.
    """

    def __init__(
        self,
        services: Services,
        site: SiteInfo,
        state: State,
        *,
        window: DateRange | None = None,
        now: datetime | None = None,
    ) -> None:
        self.services, self.site, self.state = services, site, state
        self.window, self.now = window, now

    def run(
        self,
        *,
        conversions_only: bool = False,
        conditions: tuple[Filter, ...] = (),
        window: DateRange | None = None,
        **fields: Any,
    ) -> QueryResult:
        """Answer a v2 query (given as its JSON fields) with this view's range and filters;
        `conditions` are further filters given as query objects (page-goal patterns, which
        the v2 parser would hold to its pattern length limit)."""
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
        if conditions:
            query = replace(query, filters=query.filters + conditions)
        chosen = window or self.window
        if chosen is not None:
            query = replace(query, date_range=chosen)
        return answer(self.services, query, self.site, now=self.now)

    def stats(self) -> tuple[list[Stat], Period, int | float]:
        """The top stats, the resolved period and its unique visitors."""
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
        return stats, result.period, values[TOP_METRICS.index("visitors")]

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
        self,
        key: str,
        label: str,
        dimension: str,
        *,
        filters: list[list[Any]] | None = None,
        prefix: str = "",
        anchor: str = "",
        empty: str = NO_DATA,
    ) -> Tab:
        """Top values of `dimension` by unique visitors. Row labels start with `prefix`; row
        links end with `anchor` (`#tabpanel-...`: the tab to show after the click)."""
        known = [["is_not", dimension, [""]]] if dimension in _KNOWN_ONLY else []
        result = self.run(
            metrics=["visitors"],
            dimensions=[dimension],
            filters=[*(filters or []), *known],
            order_by=[["visitors", "desc"], [dimension, "asc"]],
            pagination={"limit": PANEL_ROWS},
        )
        top = max((row.metrics[0] for row in result.rows), default=0) or 1
        rows = []
        for row in result.rows:
            value = str(row.dimensions[0])
            # An unknown value ("(none)") is no filter a URL can carry.
            href = self.state.with_filter(dimension, value) if value else ""
            rows.append(
                Row(
                    prefix + value if value else "(none)",
                    [format_value("visitors", row.metrics[0])],
                    round(100 * row.metrics[0] / top, 1),
                    href + anchor if href else "",
                )
            )
        return Tab(key, label, ["Visitors"], rows, empty=empty)

    def drill_down(self, key: str, label: str, dimension: str, *, versions: str) -> Tab:
        """A tab of `dimension` (browsers, operating systems) whose rows filter the view by
        their value; while that filter is on, the tab lists the value's versions instead."""
        anchor = f"#tabpanel-devices-{key}"
        chosen = self.state.filter_value(DIMENSION_KEYS[dimension])
        if chosen is None:
            return self.breakdown(key, label, dimension, anchor=anchor)
        return self.breakdown(
            key,
            f"{chosen} versions",
            versions,
            prefix=f"{chosen} ",
            anchor=anchor,
            empty=f"No version of {chosen} in this period.",
        )

    def goals(self, total_visitors: int | float) -> Tab:
        """Conversions of each goal (custom events, page paths) and conversion type, with the
        converted visitors, the conversions and the conversion rate."""
        result = self.run(
            metrics=["visitors", "events"],
            dimensions=["event:name"],
            filters=[["is_not", "event:name", ["pageview"]]],
            order_by=[["visitors", "desc"], ["event:name", "asc"]],
            pagination={"limit": PANEL_ROWS},
            conversions_only=True,
        )
        found: list[tuple[str, int | float, int | float, str]] = [
            (
                str(row.dimensions[0]),
                row.metrics[0],
                row.metrics[1],
                self.state.with_filter("event:name", str(row.dimensions[0])),
            )
            for row in result.rows
        ]
        for goal in site_goals(self.services, self.site.id):
            if goal.page_path is None:
                continue
            pageviews = (
                Condition("is", "event:name", ("pageview",)),
                Condition("matches", "event:page", (page_regex(goal.page_path),)),
            )
            counted = self.run(metrics=["visitors", "events"], conditions=pageviews).rows
            visitors, events = counted[0].metrics if counted else (0, 0)
            if visitors:
                fits = page_goal_fits(goal.page_path)
                href = self.state.with_key(PAGE_GOAL_KEY, goal.page_path) if fits else ""
                found.append((goal.label, visitors, events, href))
        found.sort(key=lambda entry: (-entry[1], entry[0]))
        top = max((entry[1] for entry in found), default=0) or 1
        rows = []
        for label, visitors, events, href in found[:PANEL_ROWS]:
            rate = round(100 * visitors / total_visitors, 2) if total_visitors else 0.0
            values = [format_value("visitors", visitors), format_value("events", events)]
            rows.append(Row(label, [*values, f"{rate:g}%"], round(100 * visitors / top, 1), href))
        return Tab("goals", "Goals", ["Visitors", "Conversions", "Conv. rate"], rows)

    def custom_events(self) -> Tab:
        """Custom events by unique visitors."""
        custom = [["is_not", "event:name", _NOT_CUSTOM]]
        return self.breakdown("events", "Custom events", "event:name", filters=custom)

    def prop_values(self, key: str) -> Tab:
        """The values of the property `key` (a bad key is said in the tab, not raised)."""
        try:
            return self.breakdown("props", f"Property {key}", f"event:props:{key}")
        except ApiError as exc:
            return Tab("props", f"Property {key}", ["Visitors"], [], note=exc.message)

    def layout(self, total_visitors: Callable[[], int | float]) -> list[PanelSpec]:
        """Every panel and tab of the dashboard, each tab with the call that computes it;
        `total_visitors` gives the period's visitors (for conversion rates) when asked."""

        def breakdown(key: str, label: str, dimension: str, **options: Any) -> TabSpec:
            return TabSpec(key, label, lambda: self.breakdown(key, label, dimension, **options))

        def drill_down(key: str, label: str, dimension: str, versions: str) -> TabSpec:
            chosen = self.state.filter_value(DIMENSION_KEYS[dimension])
            title = f"{chosen} versions" if chosen is not None else label

            def build() -> Tab:
                return self.drill_down(key, label, dimension, versions=versions)

            # Filtered by one of its values, the tab shows that value's versions: wanted now.
            return TabSpec(key, title, build, wanted=chosen is not None)

        page_views = [["is", "event:name", ["pageview"]]]
        props = [TabSpec("events", "Custom events", self.custom_events)]
        if self.state.prop:
            key = self.state.prop
            values = TabSpec("props", f"Property {key}", lambda: self.prop_values(key), wanted=True)
            props.append(values)
        return [
            PanelSpec(
                "sources",
                "Top sources",
                [
                    breakdown("channels", "Channels", "visit:channel"),
                    breakdown("sources", "Sources", "visit:source"),
                    breakdown("referrers", "Referrers", "visit:referrer"),
                    breakdown("utm_source", "UTM source", "visit:utm_source"),
                    breakdown("utm_medium", "UTM medium", "visit:utm_medium"),
                    breakdown("utm_campaign", "UTM campaign", "visit:utm_campaign"),
                ],
            ),
            PanelSpec(
                "pages",
                "Top pages",
                [
                    breakdown("top", "Top pages", "event:page", filters=page_views),
                    breakdown("entry", "Entry pages", "visit:entry_page"),
                    breakdown("exit", "Exit pages", "visit:exit_page"),
                ],
            ),
            PanelSpec(
                "locations",
                "Locations",
                [
                    breakdown("countries", "Countries", "visit:country"),
                    breakdown(
                        "regions", "Regions", "visit:region", empty=_NO_PLACE.format("region")
                    ),
                    breakdown("cities", "Cities", "visit:city", empty=_NO_PLACE.format("city")),
                ],
            ),
            PanelSpec(
                "devices",
                "Devices",
                [
                    drill_down("browsers", "Browsers", "visit:browser", "visit:browser_version"),
                    drill_down("os", "Operating systems", "visit:os", "visit:os_version"),
                    breakdown("devices", "Device types", "visit:device"),
                ],
            ),
            PanelSpec(
                "goals",
                "Goal conversions",
                [TabSpec("goals", "Goals", lambda: self.goals(total_visitors()))],
            ),
            PanelSpec("props", "Custom events", props),
        ]

    def panels(self, total_visitors: int | float, *, every_tab: bool = True) -> list[Panel]:
        """The breakdown panels. With `every_tab` False only each panel's first tab and the
        tabs the view asks for are queried; the others are placeholders the page loads when
        they are opened."""
        panels = []
        for spec in self.layout(lambda: total_visitors):
            tabs = [
                tab.build()
                if every_tab or index == 0 or tab.wanted
                else Tab(tab.key, tab.label, [], [], loaded=False)
                for index, tab in enumerate(spec.tabs)
            ]
            panels.append(Panel(spec.key, spec.title, tabs))
        return panels

    def tab(self, panel: str, key: str) -> tuple[Panel, Tab] | None:
        """One tab of one panel (what the page fetches when a tab opens); None if unknown."""
        for spec in self.layout(self.total_visitors):
            chosen = next((tab for tab in spec.tabs if tab.key == key), None)
            if spec.key != panel or chosen is None:
                continue
            built = chosen.build()
            others = [Tab(tab.key, tab.label, [], [], loaded=False) for tab in spec.tabs]
            tabs = [built if tab.key == key else tab for tab in others]
            return Panel(spec.key, spec.title, tabs), built
        return None

    def total_visitors(self) -> int | float:
        """The period's unique visitors."""
        rows = self.run(metrics=["visitors"]).rows
        return rows[0].metrics[0] if rows else 0


@dataclass(frozen=True)
class TabSpec:
    """A tab of the dashboard's layout: its key, its label, and the call computing it."""

    key: str
    label: str
    build: Callable[[], Tab]
    wanted: bool = False  # the view asks for it (a drill-down, a property): never deferred


@dataclass(frozen=True)
class PanelSpec:
    """A panel of the dashboard's layout."""

    key: str
    title: str
    tabs: list[TabSpec]


def build_dashboard(
    services: Services, site: SiteInfo, state: State, *, every_tab: bool = True
) -> Dashboard:
    """Run the queries of one dashboard view (call from a worker thread: it reads the store);
    with `every_tab` False, only the first tab of each panel (the page loads the others)."""
    reporter = Reporter(services, site, state)
    stats, period, total = reporter.stats()
    panels = reporter.panels(total, every_tab=every_tab)
    return Dashboard(site, state, period, stats, reporter.graph(), panels)
