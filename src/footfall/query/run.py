"""`run_query`: plan, render for the store's dialect, execute, and shape the answer."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any, cast

from footfall.meta.sites import SiteInfo
from footfall.query.dates import Period, bucket_labels, compare_period, resolve
from footfall.query.goals import GoalSpec
from footfall.query.plan import open_since, plan
from footfall.query.query import ID_DIMENSIONS, TIME_DIMENSIONS, Query
from footfall.query.result import (
    Aggregates,
    DimensionLabels,
    QueryResult,
    ResultRow,
    change,
    metric_value,
)
from footfall.query.sql.clickhouse import ClickHouseDialect
from footfall.query.sql.dialect import Dialect
from footfall.query.sql.duckdb import DuckDBDialect
from footfall.query.sql.expr import Col, Select, Value, eq, fn
from footfall.store.base import EventStore, RollupStore, Snapshot

_LINK_DIMENSIONS = frozenset({"link:code", "visit:link_code"})
DIALECTS: dict[str, Dialect] = {"duckdb": DuckDBDialect(), "clickhouse": ClickHouseDialect()}


def dialect_for(store: EventStore) -> Dialect:
    """The SQL spelling the store speaks (its `dialect_name`)."""
    return DIALECTS[store.dialect_name]


def run_query(
    store: EventStore,
    query: Query,
    site: SiteInfo,
    *,
    now: datetime | None = None,
    labels: DimensionLabels | None = None,
    goals: Sequence[GoalSpec] = (),
) -> QueryResult:
    """Answer `query` for `site` from `store` (the one query path of every report)."""
    if store.has_visit_rollup and isinstance(store, RollupStore):
        # Its statements read one state of the rollup, and share what they derive from it.
        with store.snapshot() as snapshot:
            return _answer(_Runner(store, query, site, goals, labels, snapshot), now)
    return _answer(_Runner(store, query, site, goals, labels), now)


def _answer(runner: _Runner, now: datetime | None) -> QueryResult:
    query, site = runner.query, runner.site
    moment = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    earliest = runner.earliest() if query.date_range.name == "all" else None
    period = resolve(query.date_range, site.timezone, moment, earliest)
    rows, meta = runner.rows(period, paginate=True)
    result = QueryResult(query, period, rows, meta)
    if query.comparison is not None:
        other = compare_period(period, query.comparison)
        result.comparison_period = other
        previous, _ = runner.rows(other, paginate=False)
        _attach_comparison(query, rows, previous)
    return result


class _Runner:
    def __init__(
        self,
        store: EventStore,
        query: Query,
        site: SiteInfo,
        goals: Sequence[GoalSpec],
        labels: DimensionLabels | None,
        snapshot: Snapshot | None = None,
    ) -> None:
        self.store, self.query, self.site = store, query, site
        self.goals, self.labels = goals, labels
        self.snapshot = snapshot
        self.dialect = dialect_for(store)

    def execute(self, select: Select) -> list[tuple[Any, ...]]:
        sql, params = self.dialect.render(select)
        if self.snapshot is not None:
            return self.snapshot.execute(sql, params)
        return self.store.execute(sql, params)

    def _open_since(self) -> datetime | None:
        """When the site's open visits' events start, kept by the store until it changes."""
        snapshot = self.snapshot
        if snapshot is None:
            return None

        def compute() -> datetime:
            found = self.execute(open_since(self.site.id))
            value = found[0][0] if found else None
            assert isinstance(value, datetime)
            return value

        return cast(datetime, snapshot.remember(("open_since", self.site.id), compute))

    def earliest(self) -> date | None:
        first = fn("local_date", fn("min", Col("ts")), Value(self.site.timezone))
        select = Select(
            columns=((first, "first_day"), (fn("count"), "n")),
            source="events",
            where=eq(Col("site_id"), Value(self.site.id)),
        )
        found = self.execute(select)
        if not found or not found[0][1]:
            return None
        return date.fromisoformat(str(found[0][0]))

    def rows(self, period: Period, *, paginate: bool) -> tuple[list[ResultRow], dict[str, Any]]:
        query = self.query
        fill = _fills_buckets(query)
        planned = plan(
            query,
            self.site.id,
            period,
            self.goals,
            paginate=paginate and not fill,
            rollup=self.store.has_visit_rollup,
            summarised=self._summarised(),
            since=self._open_since,
        )
        width = len(query.dimensions)
        raw = [
            (list(row[:width]), Aggregates.from_row(row[width:]))
            for row in self.execute(planned.rows)
        ]
        meta: dict[str, Any] = {}
        labels: list[str] = []
        if planned.granularity is not None:
            labels = bucket_labels(period, planned.granularity)
            if query.time_labels:
                meta["time_labels"] = labels
        if fill:
            found = {str(dims[0]): aggregates for dims, aggregates in raw}
            raw = [([label], found.get(label, Aggregates())) for label in labels]
            if paginate:
                raw = raw[query.offset : query.offset + query.limit + 1]
        if paginate:
            meta["has_more"] = len(raw) > query.limit
            raw = raw[: query.limit]
        if query.total_rows and paginate:
            counted = self.execute(planned.count)
            meta["total_rows"] = len(labels) if fill else int(counted[0][0]) if counted else 0
        total = self._total(planned.totals) if _needs_total(query) else None
        rows = [
            ResultRow(
                [
                    self._label(name, value)
                    for name, value in zip(query.dimensions, dims, strict=True)
                ],
                [metric_value(metric, aggregates, total) for metric in query.metrics],
            )
            for dims, aggregates in raw
        ]
        return rows, meta

    def _summarised(self) -> bool:
        """Whether the store keeps per-day sums of the site's visits in its zone (asking
        for them otherwise)."""
        store = self.store
        if not store.has_visit_rollup or not isinstance(store, RollupStore):
            return False
        return store.summarised(self.site.id, self.site.timezone)

    def _total(self, select: Select) -> Aggregates:
        found = self.execute(select)
        return Aggregates.from_row(found[0]) if found else Aggregates()

    def _label(self, dimension: str, value: Any) -> Any:
        """Stored link and campaign ids as their codes and names (when labels are given)."""
        if dimension not in ID_DIMENSIONS or self.labels is None:
            return value
        if dimension in _LINK_DIMENSIONS:
            return self.labels.link_code(int(value))
        return self.labels.campaign_name(int(value))


def _fills_buckets(query: Query) -> bool:
    # A lone time dimension in time order answers every bucket, empty ones as zeros.
    if len(query.dimensions) != 1 or query.dimensions[0] not in TIME_DIMENSIONS:
        return False
    return all(name == query.dimensions[0] for name, _ in query.order_by)


def _needs_total(query: Query) -> bool:
    return bool(query.dimensions) and bool({"percentage", "conversion_rate"} & set(query.metrics))


def _attach_comparison(query: Query, rows: list[ResultRow], previous: list[ResultRow]) -> None:
    timed = [i for i, name in enumerate(query.dimensions) if name in TIME_DIMENSIONS]
    by_key: dict[tuple[Any, ...], tuple[int, ResultRow]] = {}
    for index, row in enumerate(previous):
        by_key.setdefault(_key(row, timed), (index, row))
    for index, row in enumerate(rows):
        if timed:
            # Buckets of the two periods pair up by position (day 3 with day 3).
            match = previous[index] if index < len(previous) else None
        else:
            found = by_key.get(_key(row, timed))
            match = found[1] if found else None
        values = match.metrics if match else [0 for _ in query.metrics]
        row.comparison = {
            "dimensions": match.dimensions if match else row.dimensions,
            "metrics": values,
            "change": [
                change(metric, current, old)
                for metric, current, old in zip(query.metrics, row.metrics, values, strict=True)
            ],
        }


def _key(row: ResultRow, timed: list[int]) -> tuple[Any, ...]:
    return tuple(value for i, value in enumerate(row.dimensions) if i not in timed)


__all__ = ["DIALECTS", "dialect_for", "run_query"]
