"""Turning raw aggregates into metric values and the v2 answer (JSON or CSV)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Protocol

from footfall.query.dates import Period
from footfall.query.plan import AGGREGATES
from footfall.query.query import Query

# Metrics that are already percentages: their change is a difference in points.
_POINTS = frozenset({"bounce_rate", "conversion_rate", "group_conversion_rate", "percentage"})


class DimensionLabels(Protocol):
    """Maps stored ids to names for the link:* dimensions."""

    def link_code(self, link_id: int) -> str:
        """The code of a tracked link."""
        ...

    def campaign_name(self, campaign_id: int) -> str:
        """The name of a campaign."""
        ...


@dataclass(frozen=True)
class Aggregates:
    """The raw sums and counts of one row (see footfall.query.plan.AGGREGATES)."""

    visitors: int = 0
    visits: int = 0
    pageviews: int = 0
    events: int = 0
    converted: int = 0
    revenue: Decimal = Decimal(0)
    bounces: int = 0
    duration: int = 0
    eng_ms: int = 0
    eng_pages: int = 0
    recipients: int = 0

    @classmethod
    def from_row(cls, values: tuple[Any, ...] | list[Any]) -> Aggregates:
        """From the AGGREGATES columns of a result row (NULL sums of no rows are zero)."""
        numbers = dict(zip(AGGREGATES, values, strict=True))
        revenue = numbers.pop("m_revenue")
        counts = {key[2:]: int(value or 0) for key, value in numbers.items()}
        return cls(revenue=Decimal(str(revenue or 0)), **counts)


def metric_value(metric: str, row: Aggregates, total: Aggregates | None) -> int | float:
    """The value of `metric` for `row`; `total` is the whole query's row (no dimensions)."""
    whole = total or row
    values: dict[str, Any] = {
        "visitors": row.visitors,
        "visits": row.visits,
        "pageviews": row.pageviews,
        "events": row.events,
        "views_per_visit": lambda: _ratio(row.pageviews, row.visits, 1, "0.01"),
        "bounce_rate": lambda: _ratio(row.bounces, row.visits, 100, "0.1"),
        "visit_duration": lambda: int(_ratio(row.duration, row.visits, 1, "1")),
        "conversion_rate": lambda: _ratio(row.converted, whole.visitors, 100, "0.01"),
        "group_conversion_rate": lambda: _ratio(row.converted, row.visitors, 100, "0.01"),
        "revenue": lambda: float(row.revenue.quantize(Decimal("0.01"), ROUND_HALF_UP)),
        "time_on_page": lambda: int(_ratio(row.eng_ms, row.eng_pages * 1000, 1, "1")),
        "percentage": lambda: _ratio(row.visitors, whole.visitors, 100, "0.1"),
        "recipients": row.recipients,
    }
    value = values[metric]
    return value() if callable(value) else int(value)


def change(metric: str, current: int | float, previous: int | float) -> int | float | None:
    """How `current` differs from `previous`: points for rates, else percent (None: n/a)."""
    if metric in _POINTS:
        return float(Decimal(str(current - previous)).quantize(Decimal("0.1"), ROUND_HALF_UP))
    if previous == 0:
        return None if current else 0
    return int(_ratio(current - previous, previous, 100, "1"))


def _ratio(top: float, bottom: float, scale: int, step: str) -> float:
    if not bottom:
        return 0.0 if step != "1" else 0
    exact = Decimal(str(top)) * scale / Decimal(str(bottom))
    return float(exact.quantize(Decimal(step), ROUND_HALF_UP))


@dataclass
class ResultRow:
    """One answer row; `comparison` holds the compared period's row and the change."""

    dimensions: list[Any]
    metrics: list[int | float]
    comparison: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        """The v2 row object."""
        body: dict[str, Any] = {"dimensions": self.dimensions, "metrics": self.metrics}
        if self.comparison is not None:
            body["comparison"] = self.comparison
        return body


@dataclass
class QueryResult:
    """What `run_query` answers: rows, meta, and the resolved query."""

    query: Query
    period: Period
    rows: list[ResultRow]
    meta: dict[str, Any] = field(default_factory=dict)
    comparison_period: Period | None = None

    def to_json(self) -> dict[str, Any]:
        """The Stats API v2 answer: {"results", "meta", "query"}."""
        query = self.query
        include: dict[str, Any] = {}
        if query.comparison is not None and self.comparison_period is not None:
            include["comparisons"] = {
                "mode": query.comparison.mode,
                "date_range": self.comparison_period.iso(),
            }
        if query.total_rows:
            include["total_rows"] = True
        if query.time_labels:
            include["time_labels"] = True
        echoed = {
            "site_id": query.site,
            "metrics": list(query.metrics),
            "date_range": self.period.iso(),
            "dimensions": list(query.dimensions),
            "filters": query.echo.get("filters", []),
            "order_by": [list(item) for item in query.order_by],
            "include": include,
            "pagination": {"limit": query.limit, "offset": query.offset},
        }
        return {
            "results": [row.to_json() for row in self.rows],
            "meta": self.meta,
            "query": echoed,
        }

    def to_csv(self) -> str:
        """The rows as CSV with a header of dimension and metric names."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow([*self.query.dimensions, *self.query.metrics])
        for row in self.rows:
            writer.writerow([*row.dimensions, *row.metrics])
        return buffer.getvalue()
