"""The real-time view: current visitors, the last 30 minutes minute by minute, and what those
minutes' visitors read, where they came from and where they are.

Every number is an answer of the one query path (through `Reporter`), over an instant window
that ends at the current minute, so that the per-minute chart always has its 30 buckets
(empty minutes count zero). The page refreshes the view by fetching it again as a fragment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import ClassVar

from footfall.api.deps import Services
from footfall.api.realtime import MINUTES, VISITOR_WINDOW
from footfall.dashboard.reports import Panel, Reporter, format_value
from footfall.dashboard.state import State
from footfall.meta.sites import SiteInfo
from footfall.query import DateRange

# Seconds between two refreshes of an open real-time page (while its tab is visible). With the
# writer's default flush interval of 1 s, a new event shows within about 2 s.
REFRESH_SECONDS = 1.0
# The SVG chart's coordinate box (CSS scales it to the page's width).
CHART_WIDTH, CHART_HEIGHT = 600, 160
_SLOT = CHART_WIDTH / MINUTES
_QUIET = "Nobody in the last 30 minutes."


@dataclass(frozen=True)
class Minute:
    """One minute of the chart: its local start time, visitors and pageviews, and its bars."""

    label: str  # HH:MM on the site's clock
    visitors: int
    pageviews: int
    x: float  # left edge of the minute's slot
    visitors_y: float
    pageviews_y: float

    @property
    def visitors_height(self) -> float:
        """Height of the visitors bar in chart units."""
        return round(CHART_HEIGHT - self.visitors_y, 1)

    @property
    def pageviews_height(self) -> float:
        """Height of the pageviews bar in chart units."""
        return round(CHART_HEIGHT - self.pageviews_y, 1)

    @property
    def title(self) -> str:
        """The minute's tooltip."""
        return f"{self.label}: {self.visitors} visitors, {self.pageviews} pageviews"


@dataclass(frozen=True)
class Realtime:
    """Everything the real-time view shows."""

    site: SiteInfo
    state: State
    current: int | float  # visitors of the last 5 minutes
    visitors: int | float  # of the last 30 minutes
    pageviews: int | float
    minutes: list[Minute]
    peak: int  # the chart's top: the busiest minute's count
    panels: list[Panel]

    chart_width: ClassVar[int] = CHART_WIDTH
    chart_height: ClassVar[int] = CHART_HEIGHT
    slot_width: ClassVar[float] = _SLOT

    @property
    def current_text(self) -> str:
        """Current visitors as people read them."""
        return format_value("visitors", self.current)

    @property
    def visitors_text(self) -> str:
        """Unique visitors of the last 30 minutes as people read them."""
        return format_value("visitors", self.visitors)

    @property
    def pageviews_text(self) -> str:
        """Pageviews of the last 30 minutes as people read them."""
        return format_value("pageviews", self.pageviews)

    @property
    def quiet(self) -> bool:
        """Whether nobody came in the last 30 minutes."""
        return not self.visitors and not self.pageviews


def chart_minutes(labels: list[str], counts: list[tuple[int, int]]) -> tuple[list[Minute], int]:
    """The chart's minutes from bucket labels and (visitors, pageviews) per minute, with the
    scale's top (the busiest count): bars are drawn in chart units, the top at height 0."""
    peak = max((max(pair) for pair in counts), default=0)
    scale = CHART_HEIGHT / peak if peak else 0.0
    minutes = [
        Minute(
            label=label[11:16] if len(label) >= 16 else label,
            visitors=visitors,
            pageviews=pageviews,
            x=round(index * _SLOT, 1),
            visitors_y=round(CHART_HEIGHT - visitors * scale, 1),
            pageviews_y=round(CHART_HEIGHT - pageviews * scale, 1),
        )
        for index, (label, (visitors, pageviews)) in enumerate(zip(labels, counts, strict=True))
    ]
    return minutes, peak


def build_realtime(
    services: Services, site: SiteInfo, state: State, now: datetime | None = None
) -> Realtime:
    """Run the real-time view's queries (from a worker thread: they read the store)."""
    moment = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    minute = moment.replace(second=0)
    window = DateRange(
        "instant",
        start_at=minute - timedelta(minutes=MINUTES - 1),
        end_at=minute + timedelta(minutes=1),
    )
    reporter = Reporter(services, site, state, window=window, now=moment)
    recent = DateRange(
        "instant", start_at=moment - VISITOR_WINDOW, end_at=moment + timedelta(seconds=1)
    )
    current = reporter.run(metrics=["visitors"], window=recent).rows
    totals = reporter.run(metrics=["visitors", "pageviews"]).rows
    visitors, pageviews = totals[0].metrics if totals else (0, 0)
    series = reporter.run(
        metrics=["visitors", "pageviews"],
        dimensions=["time:minute"],
        order_by=[["time:minute", "asc"]],
    ).rows
    minutes, peak = chart_minutes(
        [str(row.dimensions[0]) for row in series],
        [(int(row.metrics[0]), int(row.metrics[1])) for row in series],
    )
    tab = reporter.breakdown
    pageview = [["is", "event:name", ["pageview"]]]
    panels = [
        Panel(
            "pages",
            "Top pages",
            [tab("top", "Page", "event:page", filters=pageview, empty=_QUIET)],
        ),
        Panel("sources", "Top sources", [tab("sources", "Source", "visit:source", empty=_QUIET)]),
        Panel(
            "locations", "Countries", [tab("countries", "Country", "visit:country", empty=_QUIET)]
        ),
    ]
    return Realtime(
        site=site,
        state=state,
        current=current[0].metrics[0] if current else 0,
        visitors=visitors,
        pageviews=pageviews,
        minutes=minutes,
        peak=peak,
        panels=panels,
    )
