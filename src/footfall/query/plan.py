"""The planner: a `Query` over a period becomes SQL trees (one path for every report).

Three shapes give the same numbers, and the planner takes the cheapest that answers:
- event metrics only (no visit metric and no visit-source dimension or filter): one
  aggregation over the matching events;
- dimensions and filters on visit attributes only (source, channel, referrer, UTM, entry and
  exit page, or no dimension): one row per visit (session_id) with partial counts of its
  matching events and its whole-visit figures, then grouped;
- anything else: events grouped by the dimensions and their visit, joined on session_id to the
  whole-visit figures, then grouped by the dimensions.
A visit's attributes are those of its first event; bounce, duration, entry and exit pages are
taken over the whole visit.

On a store that keeps the per-visit rollup (footfall.store.visits), the one-row-per-visit
subquery reads closed visits lying wholly inside the period from the rollup and groups only the
rest from events: visits still open (an event at or after the watermark) and visits cut by the
period's bounds. Each visit comes from exactly one side, with the figures grouping its events
in the period would give, so the answers are identical; the rollup holds human visits only, so
queries counting machines never read it. Counts of one page, country, browser... dimension
(footfall.store.visit_values) read the rollup's rows per visit and value the same way, and
count each visitor at their first row with the value in the period instead of hashing ids.
Over whole local days, with the site summed in its zone (footfall.store.visit_days), those rows
are read as per-day sums instead, amended by the rows of the few visitors counted by visitor.

The SQL returns sums and counts only; ratios and rounding happen once, in Python
(footfall.query.result), so both stores give identical answers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from footfall.events import Kind
from footfall.query.columns import (
    NEEDS,
    PARTIAL_OF,
    dimensions_of,
    in_burst,
    order_terms,
    present,
    visit_attribute,
)
from footfall.query.dates import Period, granularity_for, offsets
from footfall.query.goals import GoalSpec, page_regex
from footfall.query.query import (
    EVENT_COLUMNS,
    ID_DIMENSIONS,
    LINK_TRAFFIC,
    PROPS_PREFIX,
    SESSION_DIMENSIONS,
    TIME_DIMENSIONS,
    Condition,
    Filter,
    Query,
)
from footfall.query.sql.dialect import naive_utc
from footfall.query.sql.expr import (
    BinOp,
    Case,
    Col,
    Expr,
    InList,
    InSelect,
    Lit,
    Not,
    Scalar,
    Select,
    Value,
    and_all,
    eq,
    fn,
    or_all,
)
from footfall.store.rollup_layout import LINKED_ATTRIBUTES, VALUE_DIMENSIONS, link_column
from footfall.store.visit_days import values_summary, visits_summary

# Raw aggregates every outer row carries, in this order (see footfall.query.result).
AGGREGATES: tuple[str, ...] = (
    "m_visitors",
    "m_visits",
    "m_pageviews",
    "m_events",
    "m_converted",
    "m_revenue",
    "m_bounces",
    "m_duration",
    "m_eng_ms",
    "m_eng_pages",
    "m_recipients",
)

# Per-visit figures the rollup keeps, by the alias the planner gives them.
_ROLLED_UP: dict[str, str] = {
    "session_id": "session_id",
    "vid": "vid",
    "ev": "ev",
    "pv": "pv",
    "eng_ms": "eng_ms",
    "eng_pages": "eng_pages",
    "bounce": "bounce",
    "s_bounce": "bounce",
    "dur": "dur",
    "s_duration": "dur",
    **{alias: alias for alias in SESSION_DIMENSIONS.values()},
}

# Visit dimensions whose `visits` rows link to the visitor's previous visit with the same
# value: their column and link.
_VISIT_LINKS: dict[str, tuple[str, str]] = {
    name: (alias, link_column(alias))
    for name, alias in SESSION_DIMENSIONS.items()
    if alias in LINKED_ATTRIBUTES
}

# What the rows per visit and value count (footfall.store.visit_values).
_VALUE_COUNTS = frozenset({"m_visitors", "m_visits", "m_pageviews", "m_events"})
# What the per-day sums of whole visits count (footfall.store.visit_days).
_VISIT_COUNTS = _VALUE_COUNTS | {"m_bounces", "m_duration"}
# Time buckets made of whole local days.
_DAY_BUCKETS = frozenset({"day", "week", "month"})
# The columns of linked rows, counted by `_first_counts`, and those of every row of the rest
# (one visit each, counted by visitor).
_LINKED_ROW = ("vid", "ev", "pv", "n", "fresh", "in_rest", "bounce", "dur")
_REST_ROW: tuple[tuple[Expr, str], ...] = (
    (Lit(1), "n"),
    (Lit(0), "fresh"),
    (Lit(1), "in_rest"),
    (Lit(0), "bounce"),
    (Lit(0), "dur"),
)
_PAGEVIEWS_ONLY = Condition("is", "event:name", (Kind.PAGEVIEW.value,))

_LONG_AGO = datetime(1970, 1, 1)
_TS = Col("ts")
_KIND = Col("kind")
_NOT_ENGAGEMENT = BinOp("!=", _KIND, Lit(Kind.ENGAGEMENT.value))
_IS_PAGEVIEW = eq(_KIND, Lit(Kind.PAGEVIEW.value))
_IS_ENGAGEMENT = eq(_KIND, Lit(Kind.ENGAGEMENT.value))


@dataclass(frozen=True)
class Plan:
    """The SQL trees for one query over one period."""

    rows: Select  # dimensions + AGGREGATES, ordered and paginated (limit + 1)
    totals: Select  # AGGREGATES over the whole query, no dimensions
    count: Select  # the number of distinct dimension rows
    granularity: str | None  # bucket size of the time dimension, if any


def open_visits(site_id: int) -> Select:
    """The site's open visits: those with a human event at or after the rollup's watermark."""
    where = [
        eq(Col("site_id"), Value(site_id)),
        eq(Col("is_bot"), Lit(False)),
        BinOp(">=", _TS, fn("watermark")),
    ]
    return _distinct_sessions("events", where)


def open_since(site_id: int) -> Select:
    """The time from which the site's open visits have their events: the rollup's `open_from`
    or the start of an open visit's (stale) row, if earlier. The store may keep it until its
    next write, and give it to `plan`."""
    return Select(
        columns=((fn("least", fn("open_from"), fn("min", Col("start_ts"))), "open_since"),),
        source="visits",
        join=open_visits(site_id),
        join_using="session_id",
        where=eq(Col("site_id"), Value(site_id)),
    )


def _distinct_sessions(source: str, where: Sequence[Expr]) -> Select:
    """The distinct session ids of `source` rows matching `where` (a set to join)."""
    return Select(
        columns=((Col("session_id"), "session_id"),),
        source=source,
        where=and_all(list(where)),
        group_by=(Col("session_id"),),
    )


def plan(
    query: Query,
    site_id: int,
    period: Period,
    goals: Sequence[GoalSpec] = (),
    *,
    paginate: bool = True,
    rollup: bool = False,
    summarised: bool = False,
    since: Callable[[], datetime | None] | None = None,
) -> Plan:
    """Plan `query` for the site over `period`; `rollup`: the store keeps the visit rollup,
    `summarised`: and its per-day sums of the site, in the period's zone; `since`: gives the
    site's `open_since`, asked only when the plan reads open visits (None: the plan reads it
    itself)."""
    granularity = None
    for dimension in query.dimensions:
        if dimension in TIME_DIMENSIONS:
            granularity = granularity_for(dimension, period, query.date_range.name == "realtime")
    builder = _Builder(query, site_id, period, goals, granularity, rollup, summarised, since)
    grouped = builder.grouped(query.dimensions)
    aliases = [f"d{index}" for index in range(len(query.dimensions))]
    ordered = Select(
        columns=tuple((Col(alias), alias) for alias in (*aliases, *AGGREGATES)),
        source=grouped,
        order_by=order_terms(query, aliases, granularity is not None),
        limit=query.limit + 1 if paginate else None,
        offset=query.offset if paginate else 0,
    )
    count = Select(columns=((fn("count"), "n"),), source=grouped)
    return Plan(ordered, builder.grouped(()), count, granularity)


class _Builder:
    def __init__(
        self,
        query: Query,
        site_id: int,
        period: Period,
        goals: Sequence[GoalSpec],
        granularity: str | None,
        rollup: bool,
        summarised: bool,
        since: Callable[[], datetime | None] | None = None,
    ) -> None:
        self.query = query
        self.site_id = site_id
        # Closed visits may come from the rollup (human visits only).
        self.rollup = rollup and not query.counts_machines()
        # And whole local days of them from its per-day sums.
        self.days = self.rollup and summarised and period.whole_days
        self.since = since
        self.period = period
        self.goals = goals
        self.granularity = granularity
        self.sessions = query.needs_sessions()
        self.needed = {"m_visitors"} | {a for m in query.metrics for a in NEEDS[m]}
        scope: list[Expr] = [
            eq(Col("site_id"), Value(site_id)),
            BinOp(">=", _TS, Value(naive_utc(period.start_at))),
            BinOp("<", _TS, Value(naive_utc(period.end_at))),
        ]
        self.scope = list(scope)
        if not query.counts_machines():
            self.scope.append(eq(Col("is_bot"), Lit(False)))
        self.period_scope = scope

    def grouped(self, dimensions: tuple[str, ...]) -> Select:
        """AGGREGATES per dimension row, by the cheapest plan that answers the query."""
        valued = self._valued(dimensions)
        if valued is not None:
            return self._by_value(dimensions[0], *valued)
        if self._counts_buckets(dimensions):
            return self._by_bucket()
        if self._counts_days(dimensions):
            return self._by_days()
        if not self.sessions:
            return self._direct(dimensions)
        split = self._split_filters()
        if split is not None and all(name in SESSION_DIMENSIONS for name in dimensions):
            return self._by_visit(dimensions, *split)
        return self._joined(dimensions)

    def _aggregate(self, name: str, expr: Expr) -> tuple[Expr, str]:
        needed = PARTIAL_OF.get(name, name) in self.needed
        return (expr if needed else Lit(0), name)

    def _event_where(self, dimensions: tuple[str, ...]) -> list[Expr]:
        where = list(self.scope)
        where += [self.filter(item) for item in self.query.filters]
        if self.query.conversions_only:
            where.append(self._conversion())
        where += [cond for name in dimensions if (cond := present(name)) is not None]
        return where

    def _direct(self, dimensions: tuple[str, ...]) -> Select:
        """No visit figures needed: one aggregation over the matching events."""
        conversion = self._conversion()
        columns: list[tuple[Expr, str]] = [
            (self.dimension(name), f"d{index}") for index, name in enumerate(dimensions)
        ]
        where = self._event_where(dimensions)
        engaged = bool({"m_eng_ms", "m_eng_pages"} & self.needed)
        if engaged:
            visitors = fn("uniq_if", Col("visitor_id"), _NOT_ENGAGEMENT)
            visits = fn("uniq_if", Col("session_id"), _NOT_ENGAGEMENT)
            events = fn("count_if", _NOT_ENGAGEMENT)
            recipients = fn("uniq_if", fn("recipient_key"), _NOT_ENGAGEMENT)
        else:
            # Without time on page, engagement rows are left out up front: exact distinct
            # counts without a FILTER clause run about twice as fast.
            where.append(_NOT_ENGAGEMENT)
            visitors = fn("uniq", Col("visitor_id"))
            visits = fn("uniq", Col("session_id"))
            events = fn("count")
            recipients = fn("uniq", fn("recipient_key"))
        add = self._aggregate
        columns += [
            add("m_visitors", visitors),
            add("m_visits", visits),
            add("m_pageviews", fn("count_if", _IS_PAGEVIEW)),
            add("m_events", events),
            add("m_converted", fn("uniq_if", Col("visitor_id"), conversion)),
            add("m_revenue", fn("sum_if", Col("revenue_amount"), conversion)),
            (Lit(0), "m_bounces"),
            (Lit(0), "m_duration"),
            add("m_eng_ms", fn("sum_if", Col("engagement_ms"), _IS_ENGAGEMENT)),
            add(
                "m_eng_pages",
                fn("uniq2_if", Col("session_id"), Col("pathname"), _IS_ENGAGEMENT),
            ),
            add("m_recipients", recipients),
        ]
        return Select(
            columns=tuple(columns),
            source="events",
            where=and_all(where),
            group_by=tuple(Col(f"d{index}") for index in range(len(dimensions))),
        )

    def _valued(self, dimensions: tuple[str, ...]) -> tuple[list[Expr], bool] | None:
        """Whether the rollup's linked rows answer the query: counts of one dimension of
        VALUE_DIMENSIONS or _VISIT_LINKS, filtered by its own values and, for the former,
        optionally to pageviews. Returns the value filters and whether only pageviews count;
        None when the rows do not answer."""
        if not self.rollup or len(dimensions) != 1:
            return None
        name = dimensions[0]
        if name not in VALUE_DIMENSIONS and name not in _VISIT_LINKS:
            return None
        if self.query.conversions_only or not self.needed <= _VALUE_COUNTS:
            return None
        values: list[Expr] = []
        pageviews = False
        for item in self.query.filters:
            if item == _PAGEVIEWS_ONLY and name in VALUE_DIMENSIONS:
                pageviews = True
            elif dimensions_of(item) == {name}:
                values.append(self.filter(item))
            else:
                return None
        return values, pageviews

    def _by_value(self, name: str, values: list[Expr], pageviews: bool) -> Select:
        """Counts per value of `name` from the rollup's linked rows (closed visits inside the
        period: rows per visit and value, or the `visits` rows for a visit attribute) and the
        other visits' events grouped the same way (one row per visit and value). A visitor
        counts at their first rolled-up row with the value in the period (no earlier one since
        its start: the row's link), unless they have a visit among the rest: those few
        visitors' rows are grouped by visitor and value, one visitor each. Exact, as in
        `_first_visits`: a visitor's other visits with the value in the period are either
        rolled up inside it, then linked, or among the rest. Over whole days the rolled-up
        rows come from the per-day sums when the site has them (`_summed`, `_corrections`)."""
        start, end = Value(naive_utc(self.period.start_at)), Value(naive_utc(self.period.end_at))
        if name in _VISIT_LINKS:
            column, link = _VISIT_LINKS[name]
            table, value, counted = "visits", Col(column), BinOp(">", Col("ev"), Lit(0))
            rests = [
                self._visit_values(visit_attribute(column), column, visits, conditions)
                for visits, conditions in self._unrolled()
            ]
        else:
            table, column = VALUE_DIMENSIONS[name]
            link, value = ("prev_pv_ts" if pageviews else "prev_ts"), Col("value")
            counted = BinOp(">", Col("pv" if pageviews else "ev"), Lit(0))
            rests = [
                self._event_values(Col(column), column, visits, conditions, pageviews)
                for visits, conditions in self._unrolled()
            ]
        previous = fn("coalesce", Col(link), Value(_LONG_AGO))
        inside: list[Expr] = [
            eq(Col("site_id"), Value(self.site_id)),
            BinOp(">=", Col("start_ts"), start),
            BinOp("<", Col("end_ts"), end),
            counted,
        ]
        read = Col("pv" if pageviews else "ev")
        if self.days:
            summed = self._summed(
                values_summary(table) if table != "visits" else visits_summary(column),
                Col("value"),
                column,
                pageviews=pageviews,
            )
            corrections = self._corrections(
                table, inside, value, column, BinOp("<", previous, start), read
            )
            return self._first_counts((summed, corrections, *rests), column, and_all(values))
        rest_visitors = Select(columns=((Col("vid"), "rest_vid"),), source=tuple(rests))
        in_rest = InSelect(Col("vid"), rest_visitors)
        closed = Select(
            columns=(
                (value, column),
                *self._closed_row(read, Col("pv"), BinOp("<", previous, start), in_rest),
            ),
            source=table,
            where=and_all([*inside, Not(InSelect(Col("session_id"), self._open_visits()))]),
        )
        return self._first_counts((closed, *rests), column, and_all(values))

    def _closed_row(
        self, ev: Expr, pv: Expr, earlier: Expr, in_rest: Expr
    ) -> tuple[tuple[Expr, str], ...]:
        """A rolled-up row's linked-row columns (after its key): it counts its visitor when
        its link lies earlier, unless the visitor is counted by visitor (`in_rest`)."""
        fresh = Case(BinOp("AND", earlier, Not(in_rest)), Lit(1), Lit(0))
        return (
            (Col("vid"), "vid"),
            (ev, "ev"),
            (pv, "pv"),
            (Lit(1), "n"),
            (fresh, "fresh"),
            (Case(in_rest, Lit(1), Lit(0)), "in_rest"),
            (Lit(0), "bounce"),
            (Lit(0), "dur"),
        )

    def _summed(
        self,
        table: str,
        key: Expr,
        alias: str,
        *,
        pageviews: bool = False,
        bucket: str | None = None,
    ) -> Select:
        """Linked rows (one per key) from the per-day sums `table`
        (footfall.store.visit_days): the visits starting and ending within the period's days,
        counting their visitors when linked to a day before the period's (or, per `bucket`,
        before their own bucket). With `pageviews`, the sums of the rows with a pageview,
        linked by them, counting pageviews as the events."""
        first = Value(self.period.first_day)
        long_ago = Value(_LONG_AGO.date())
        previous = fn("coalesce", Col("prev_day"), long_ago)
        earlier = BinOp("<", previous, first)
        where: list[Expr] = [
            eq(Col("site_id"), Value(self.site_id)),
            eq(Col("pageviews"), Lit(pageviews)),
            BinOp(">=", Col("start_day"), first),
            BinOp("<=", Col("end_day"), Value(self.period.last_day)),
        ]
        if bucket is not None:
            start, end = fn(bucket, Col("start_day")), fn(bucket, Col("end_day"))
            where.append(eq(start, end))
            earlier = BinOp("OR", earlier, BinOp("<", fn(bucket, previous), start))
        add = self._aggregate
        return Select(
            columns=(
                (key, alias),
                (Lit(0), "vid"),
                (fn("sum", Col("pv" if pageviews else "ev")), "ev"),
                (fn("sum", Col("pv")), "pv"),
                (fn("sum", Col("n")), "n"),
                (fn("sum", Case(earlier, Col("n"), Lit(0))), "fresh"),
                (Lit(0), "in_rest"),
                add("bounce", fn("sum", Col("bounces"))),
                add("dur", fn("sum", Col("dur"))),
            ),
            source=table,
            where=and_all(where),
            group_by=(Col(alias),),
        )

    def _corrections(
        self,
        table: str,
        inside: list[Expr],
        key: Expr,
        alias: str,
        earlier: Expr,
        ev: Expr,
        *,
        stats: bool = False,
        spanning: list[Expr] | None = None,
        summed: Expr | None = None,
    ) -> Select:
        """Linked rows that amend the per-day sums with the rows they hold of the visitors
        counted by visitor: those with a visit among the rest (open, across a bound of the
        period or, with `spanning`, of a bucket: conditions on `visits` rows). Each such row
        takes back its fresh count, and a stale one (an open visit's) its visit and sums;
        the others count their visitor among the rest's, by visitor. Counting a visitor by
        visitor is exact for any visitor: taking every visitor of those visits, not only
        those with a counted event in the period, only costs rows. Rows failing `summed`
        (what the sums hold of `inside`) amend nothing: tested per row rather than filtered,
        so DuckDB's estimates keep the visitors on the hashed side of the join."""
        start, end = Value(naive_utc(self.period.start_at)), Value(naive_utc(self.period.end_at))
        stale = InSelect(Col("session_id"), self._open_visits())
        visitors = [
            Select(
                columns=((Col("visitor_id"), "vid"),),
                source="events",
                where=self._open_visits().where,
            ),
            *(
                Select(columns=((Col("vid"), "vid"),), source="visits", where=and_all(rows))
                for rows in (self._crossing(start), self._crossing(end), spanning)
                if rows is not None
            ),
        ]
        # Joined, not tested with IN: DuckDB then hashes the few visitors, not the rows.
        by_visitor = Select(
            columns=((Col("vid"), "vid"),), source=tuple(visitors), group_by=(Col("vid"),)
        )

        def taken_back(expr: Expr) -> Expr:
            return only(Case(stale, BinOp("-", Lit(0), expr), Lit(0)))

        def only(expr: Expr) -> Expr:
            return expr if summed is None else Case(summed, expr, Lit(0))

        add = self._aggregate
        return Select(
            columns=(
                (key, alias),
                (Col("vid"), "vid"),
                (taken_back(ev), "ev"),
                (taken_back(Col("pv")), "pv"),
                (only(Case(stale, Lit(-1), Lit(0))), "n"),
                (only(Case(earlier, Lit(-1), Lit(0))), "fresh"),
                (only(Case(stale, Lit(0), Lit(1))), "in_rest"),
                add("bounce", taken_back(Col("bounce")) if stats else Lit(0)),
                add("dur", taken_back(Col("dur")) if stats else Lit(0)),
            ),
            source=table,
            join=by_visitor,
            join_using="vid",
            where=and_all(inside),
        )

    def _counts_buckets(self, dimensions: tuple[str, ...]) -> bool:
        """Whether the visit rollup answers the query by time bucket: visitors, visits,
        pageviews or events over time, unfiltered."""
        if not self.rollup or len(dimensions) != 1 or dimensions[0] not in TIME_DIMENSIONS:
            return False
        if self.granularity is None or self.query.filters or self.query.conversions_only:
            return False
        return self.needed <= _VALUE_COUNTS

    def _by_bucket(self) -> Select:
        """Counts per time bucket from the closed visits lying inside the period and inside
        one bucket, each counting its visitor when the visitor's previous visit falls in an
        earlier bucket (`prev_ev_ts`), and the rest (open visits, visits cut by the period or
        by a bucket's bound) grouped from events by bucket and visit. As in `_by_value`, the
        visitors with a visit among the rest are counted by visitor instead. By day, week or
        month, the closed visits come from the per-day sums when the site has them."""
        start, end = Value(naive_utc(self.period.start_at)), Value(naive_utc(self.period.end_at))
        site = eq(Col("site_id"), Value(self.site_id))
        inside: list[Expr] = [
            site,
            BinOp(">=", Col("start_ts"), start),
            BinOp("<", Col("end_ts"), end),
            BinOp(">", Col("ev"), Lit(0)),
        ]
        closed_inside = [*inside, Not(InSelect(Col("session_id"), self._open_visits()))]
        one_bucket = eq(self._bucket(Col("start_ts")), self._bucket(Col("end_ts")))
        spanning_rows = [*closed_inside, Not(one_bucket)]
        spanning = _distinct_sessions("visits", spanning_rows)
        no_bounds: list[Expr] = []  # inside the period: its scope bounds their events
        sets = [*self._unrolled(), (spanning, no_bounds)]
        rests = [
            self._event_values(self._bucket(_TS), "d0", visits, conditions, pageviews=False)
            for visits, conditions in sets
        ]
        # The visit lies inside one bucket: that of its start.
        bucket = self._bucket(Col("start_ts"))
        previous = Col("prev_ev_ts")
        # A previous visit before the period lies in an earlier bucket (the period's DST
        # segments do not reach it); one inside lies in its own visit's bucket.
        earlier = or_all(
            [
                BinOp("<", fn("coalesce", previous, Value(_LONG_AGO)), start),
                BinOp("<", self._bucket(previous), bucket),
            ]
        )
        if self.days and self.granularity in _DAY_BUCKETS:
            by_day = f"bucket_{self.granularity}"
            summed = self._summed(
                visits_summary(), fn(by_day, Col("start_day")), "d0", bucket=by_day
            )
            corrections = self._corrections(
                "visits",
                inside,
                bucket,
                "d0",
                earlier,
                Col("ev"),
                spanning=spanning_rows,
                summed=one_bucket,
            )
            return self._first_counts((summed, corrections, *rests), "d0", None)
        # The spanning visits' visitors are read from their rows, not from their events again.
        spanning_visitors = Select(
            columns=((Col("vid"), "rest_vid"),),
            source="visits",
            where=and_all(spanning_rows),
        )
        rest_visitors = Select(
            columns=((Col("rest_vid"), "rest_vid"),),
            source=(
                *(Select(columns=((Col("vid"), "rest_vid"),), source=rest) for rest in rests[:-1]),
                spanning_visitors,
            ),
        )
        closed = Select(
            columns=(
                (bucket, "d0"),
                *self._closed_row(
                    Col("ev"), Col("pv"), earlier, InSelect(Col("vid"), rest_visitors)
                ),
            ),
            source="visits",
            where=and_all([*closed_inside, one_bucket]),
        )
        return self._first_counts((closed, *rests), "d0", None)

    def _counts_days(self, dimensions: tuple[str, ...]) -> bool:
        """Whether the per-day sums of whole visits answer the query: no dimension, no
        filter, and figures among visitors, visits, pageviews, events, bounces and duration."""
        if not self.days or dimensions or self.query.filters or self.query.conversions_only:
            return False
        return self.needed <= _VISIT_COUNTS

    def _by_days(self) -> Select:
        """The whole period's figures from the per-day sums of whole visits, amended like
        `_by_value`'s, and the rest grouped from events, one row per visit."""
        start, end = Value(naive_utc(self.period.start_at)), Value(naive_utc(self.period.end_at))
        key = Lit("")
        rests = [
            self._visit_values(key, "d0", visits, conditions, stats=True)
            for visits, conditions in self._unrolled()
        ]
        inside: list[Expr] = [
            eq(Col("site_id"), Value(self.site_id)),
            BinOp(">=", Col("start_ts"), start),
            BinOp("<", Col("end_ts"), end),
            BinOp(">", Col("ev"), Lit(0)),
        ]
        earlier = BinOp("<", fn("coalesce", Col("prev_ev_ts"), Value(_LONG_AGO)), start)
        summed = self._summed(visits_summary(), key, "d0")
        corrections = self._corrections("visits", inside, key, "d0", earlier, Col("ev"), stats=True)
        counted = self._first_counts((summed, corrections, *rests), "d0", None)
        # One row, zeros included, as grouping visits gives.
        return Select(
            columns=tuple(
                (fn("coalesce", fn("sum", Col(alias)), Lit(0)), alias) for alias in AGGREGATES
            ),
            source=counted,
        )

    def _first_counts(self, sources: tuple[Select, ...], key: str, where: Expr | None) -> Select:
        """AGGREGATES per `key` over linked rows (key and _LINKED_ROW): a visitor counts at
        their fresh rows, or once per key when they have a row among the rest (`in_rest`);
        visits, events, pageviews, bounces and duration are the rows' sums."""
        rows = Select(
            columns=tuple((Col(alias), alias) for alias in (key, *_LINKED_ROW)),
            source=sources,
        )
        # First by key and, for the rest's visitors only, visitor: no distinct counting.
        in_rest = eq(Col("in_rest"), Lit(1))
        by_visitor = Select(
            columns=(
                (Col(key), "d0"),
                (Col("in_rest"), "rest"),
                (Case(in_rest, Col("vid"), Lit(0)), "rest_key"),
                (fn("sum", Col("fresh")), "firsts"),
                (fn("sum", Col("n")), "visits"),
                (fn("sum", Col("pv")), "pvs"),
                (fn("sum", Col("ev")), "evs"),
                (fn("sum", Col("bounce")), "bounces"),
                (fn("sum", Col("dur")), "durs"),
            ),
            source=rows,
            where=where,
            group_by=(Col("d0"), Col("rest"), Col("rest_key")),
        )
        add = self._aggregate
        visitors = BinOp("+", fn("sum", Col("firsts")), fn("count_if", eq(Col("rest"), Lit(1))))
        counts = {
            "m_visitors": add("m_visitors", visitors),
            "m_visits": add("m_visits", fn("sum", Col("visits"))),
            "m_pageviews": add("m_pageviews", fn("sum", Col("pvs"))),
            "m_events": add("m_events", fn("sum", Col("evs"))),
            "m_bounces": add("m_bounces", fn("sum", Col("bounces"))),
            "m_duration": add("m_duration", fn("sum", Col("durs"))),
        }
        return Select(
            columns=(
                (Col("d0"), "d0"),
                *(counts.get(alias, (Lit(0), alias)) for alias in AGGREGATES),
            ),
            source=by_visitor,
            group_by=(Col("d0"),),
        )

    def _event_values(
        self, key: Expr, alias: str, visits: Select, conditions: list[Expr], pageviews: bool
    ) -> Select:
        """Linked rows of the rest: one per visit of `visits` and `key` value (as `alias`),
        over the visit's counted events (its pageviews only, with `pageviews`) in the
        period."""
        counted = [_NOT_ENGAGEMENT, *([_IS_PAGEVIEW] if pageviews else [])]
        return Select(
            columns=(
                (key, alias),
                (fn("any", Col("visitor_id")), "vid"),
                (fn("count"), "ev"),
                (fn("count_if", _IS_PAGEVIEW), "pv"),
                *_REST_ROW,
            ),
            source="events",
            join=visits,
            join_using="session_id",
            where=and_all([*self.scope, *conditions, *counted]),
            group_by=(Col(alias), Col("session_id")),
        )

    def _visit_values(
        self, key: Expr, alias: str, visits: Select, conditions: list[Expr], stats: bool = False
    ) -> Select:
        """Linked rows of the rest: one per visit of `visits` with a counted event in the
        period, with `key` (a visit attribute as `_sessions` takes it) as `alias`, its counts
        and, with `stats`, its bounce and duration."""
        figures = self._session_stats() if stats else [(Lit(0), "bounce"), (Lit(0), "dur")]
        grouped = Select(
            columns=(
                (key, alias),
                (fn("any", Col("visitor_id")), "vid"),
                (fn("count_if", _NOT_ENGAGEMENT), "ev"),
                (fn("count_if", _IS_PAGEVIEW), "pv"),
                *figures,
            ),
            source="events",
            join=visits,
            join_using="session_id",
            where=and_all([*self.scope, *conditions]),
            group_by=(Col("session_id"),),
        )
        return Select(
            columns=(
                (Col(alias), alias),
                (Col("vid"), "vid"),
                (Col("ev"), "ev"),
                (Col("pv"), "pv"),
                *_REST_ROW[:3],
                (Col("bounce"), "bounce"),
                (Col("dur"), "dur"),
            ),
            source=grouped,
            where=BinOp(">", Col("ev"), Lit(0)),
        )

    def _outer(self, inner: Select, dims: list[Expr], where: Expr | None = None) -> Select:
        """The second level over per-visit rows (vid, ev, pv, conv, rev, bounce, dur, eng_*)."""
        visited = BinOp(">", Col("ev"), Lit(0))
        columns: list[tuple[Expr, str]] = [(dim, f"d{i}") for i, dim in enumerate(dims)]
        add = self._aggregate
        visitors: Expr = fn("uniq_if", Col("vid"), visited)
        if isinstance(inner.source, tuple) and any(a == "first_in" for _, a in inner.columns):
            # Rolled-up first visits count one each, the other visitors are the distinct ids
            # among the visits grouped from events: a subquery keeps distinct counting (and
            # its slower aggregation) to those few rows.
            rest = Select(
                columns=((fn("uniq", Col("vid")), "rest_visitors"),),
                source=inner.source[1:],
                where=visited,
            )
            visitors = BinOp("+", fn("count_if", eq(Col("first_in"), Lit(1))), Scalar(rest))
        columns += [
            add("m_visitors", visitors),
            add("m_visits", fn("count_if", visited)),
            add("m_pageviews", fn("sum", Col("pv"))),
            add("m_events", fn("sum", Col("ev"))),
            add("m_converted", fn("uniq_if", Col("vid"), BinOp(">", Col("conv"), Lit(0)))),
            add("m_revenue", fn("sum", Col("rev"))),
            add("m_bounces", fn("sum_if", Col("bounce"), visited)),
            add("m_duration", fn("sum_if", Col("dur"), visited)),
            add("m_eng_ms", fn("sum", Col("eng_ms"))),
            add("m_eng_pages", fn("sum", Col("eng_pages"))),
            # An event-level count only (parse_query refuses it with visit figures).
            (Lit(0), "m_recipients"),
        ]
        group = tuple(Col(f"d{i}") for i in range(len(dims)))
        return Select(columns=tuple(columns), source=inner, where=where, group_by=group)

    def _partials(self, matching: Expr | None) -> list[tuple[Expr, str]]:
        def only(cond: Expr) -> Expr:
            return cond if matching is None else BinOp("AND", matching, cond)

        conversion = self._conversion()
        add = self._aggregate
        return [
            (fn("any", Col("visitor_id")), "vid"),
            (fn("count_if", only(_NOT_ENGAGEMENT)), "ev"),
            add("pv", fn("count_if", only(_IS_PAGEVIEW))),
            add("conv", fn("count_if", only(conversion))),
            add("rev", fn("sum_if", Col("revenue_amount"), only(conversion))),
            add("eng_ms", fn("sum_if", Col("engagement_ms"), only(_IS_ENGAGEMENT))),
            add("eng_pages", fn("uniq_if", Col("pathname"), only(_IS_ENGAGEMENT))),
        ]

    def _split_filters(self) -> tuple[list[Expr], Expr | None] | None:
        """Top-level filters as (conditions on visit attributes, one condition on events);
        None when a filter mixes the two (then only the joined plan answers it)."""
        visit: list[Expr] = []
        events: list[Expr] = []
        for item in self.query.filters:
            used = dimensions_of(item)
            if used <= set(SESSION_DIMENSIONS):
                visit.append(self.filter(item))
            elif not used & set(SESSION_DIMENSIONS):
                events.append(self.filter(item))
            else:
                return None
        if self.query.conversions_only:
            events.append(self._conversion())
        return visit, and_all(events)

    def _by_visit(
        self, dimensions: tuple[str, ...], visit_filters: list[Expr], matching: Expr | None
    ) -> Select:
        """Dimensions and visit filters on visit attributes only: one row per visit, then
        group the visits (no join)."""
        # Undimensioned and unfiltered, the rollup counts visitors by their first visit.
        whole = not dimensions and not visit_filters and matching is None
        visits = self._sessions(
            self._partials(matching) + self._session_stats(),
            rollup=matching is None,
            first_visits=whole and "m_visitors" in self.needed,
        )
        where = list(visit_filters)
        if matching is not None:
            # Visits without a matching event are no part of the answer.
            where.append(BinOp(">", Col("hits"), Lit(0)))
            visits = Select(
                columns=(*visits.columns, (fn("count_if", matching), "hits")),
                source=visits.source,
                where=visits.where,
                group_by=visits.group_by,
            )
        where += [cond for name in dimensions if (cond := present(name)) is not None]
        dims: list[Expr] = [Col(SESSION_DIMENSIONS[name]) for name in dimensions]
        return self._outer(visits, dims, and_all(where))

    def _joined(self, dimensions: tuple[str, ...]) -> Select:
        """The general plan: events grouped by dimensions and visit, joined to whole visits."""
        columns: list[tuple[Expr, str]] = [
            (self.dimension(name), f"d{index}") for index, name in enumerate(dimensions)
        ]
        columns += self._partials(None)
        columns.append((fn("any", Col("s_bounce")), "bounce"))
        columns.append((fn("any", Col("s_duration")), "dur"))
        # By alias: the same expression rendered twice would bind its values twice, and the
        # stores would not see the two as one grouping expression.
        group = tuple(Col(f"d{index}") for index in range(len(dimensions))) + (Col("session_id"),)
        inner = Select(
            columns=tuple(columns),
            source="events",
            join=self._sessions(self._session_stats(prefix="s_")),
            join_using="session_id",
            where=and_all(self._event_where(dimensions)),
            group_by=group,
        )
        return self._outer(inner, [Col(f"d{i}") for i in range(len(dimensions))])

    def _session_stats(self, prefix: str = "") -> list[tuple[Expr, str]]:
        interactive = BinOp(
            "AND",
            BinOp(
                "OR",
                eq(_KIND, Lit(Kind.EVENT.value)),
                eq(_KIND, Lit(Kind.CONVERSION.value)),
            ),
            eq(Col("interactive"), Lit(True)),
        )
        bounce = Case(
            BinOp(
                "AND",
                eq(fn("count_if", _IS_PAGEVIEW), Lit(1)),
                eq(fn("count_if", interactive), Lit(0)),
            ),
            Lit(1),
            Lit(0),
        )
        duration = fn("seconds_between", fn("min", _TS), fn("max", _TS))
        add = self._aggregate
        if prefix:
            return [(bounce, f"{prefix}bounce"), (duration, f"{prefix}duration")]
        return [add("bounce", bounce), add("dur", duration)]

    def _sessions(
        self, extra: list[tuple[Expr, str]], *, rollup: bool = True, first_visits: bool = False
    ) -> Select:
        """One row per visit in the period: its attributes (from its first event) and `extra`.

        With the rollup (and `rollup`: `extra` reads whole visits), closed visits inside the
        period come from it and only the others are grouped from events. With `first_visits`
        the rows also say which rolled-up visit counts its visitor (first_in) and which rows
        come from events (from_rest), for `_outer` to count visitors without distinct ids.
        """
        columns: list[tuple[Expr, str]] = [(Col("session_id"), "session_id"), *extra]
        used = set(self.query.dimensions) | self.query.filter_dimensions()
        for name, alias in SESSION_DIMENSIONS.items():
            if name not in used:
                continue
            columns.append((visit_attribute(alias), alias))
        grouped = Select(
            columns=tuple(columns),
            source="events",
            where=and_all(list(self.scope)),
            group_by=(Col("session_id"),),
        )
        closed = self._closed_visits(columns) if rollup and self.rollup else None
        if closed is None:
            return grouped
        rests = [
            replace(
                grouped,
                join=visits,
                join_using="session_id",
                where=and_all([*self.scope, *conditions]),
            )
            for visits, conditions in self._unrolled()
        ]
        if first_visits:
            closed, rests = self._first_visits(closed, rests)
        return Select(
            columns=tuple((Col(alias), alias) for _, alias in closed.columns),
            source=(closed, *rests),
        )

    def _first_visits(self, closed: Select, rests: list[Select]) -> tuple[Select, list[Select]]:
        """Mark the rolled-up visit that counts its visitor: its first counted event's visit
        in the period (no visit of the visitor with a counted event between the period's
        start and it: `prev_ev_ts`), unless the visitor has a visit among the rest.

        Exact: a visit between them is either rolled up inside the period (then that one is
        first) or among the rest, where its counted event in the period makes its visitor a
        rest visitor.
        """
        start = Value(naive_utc(self.period.start_at))
        # No previous visit counts as one long before any period.
        previous = fn("coalesce", Col("prev_ev_ts"), Value(_LONG_AGO))
        rest_visitors = Select(
            columns=((Col("vid"), "rest_vid"),),
            source=tuple(rests),
            where=BinOp(">", Col("ev"), Lit(0)),
        )
        first = and_all(
            [
                BinOp(">", Col("ev"), Lit(0)),
                BinOp("<", previous, start),
                Not(InSelect(Col("vid"), rest_visitors)),
            ]
        )
        assert first is not None
        marked_closed = replace(
            closed,
            columns=(
                *closed.columns,
                (Case(first, Lit(1), Lit(0)), "first_in"),
                (Lit(0), "from_rest"),
            ),
        )
        marked = [
            replace(rest, columns=(*rest.columns, (Lit(0), "first_in"), (Lit(1), "from_rest")))
            for rest in rests
        ]
        return marked_closed, marked

    def _closed_visits(self, columns: list[tuple[Expr, str]]) -> Select | None:
        """The rollup's rows for `columns`: closed visits wholly inside the period; None when a
        column is not a whole-visit figure the rollup keeps."""
        taken: list[tuple[Expr, str]] = []
        for expr, alias in columns:
            if isinstance(expr, Lit):
                taken.append((expr, alias))
            elif alias in _ROLLED_UP:
                taken.append((Col(_ROLLED_UP[alias]), alias))
            else:
                return None
        start, end = Value(naive_utc(self.period.start_at)), Value(naive_utc(self.period.end_at))
        inside: list[Expr] = [
            eq(Col("site_id"), Value(self.site_id)),
            BinOp(">=", Col("start_ts"), start),
            BinOp("<", Col("end_ts"), end),
            # An open visit's row may be stale (a late event reopened it): never read it.
            Not(InSelect(Col("session_id"), self._open_visits())),
        ]
        return Select(columns=tuple(taken), source="visits", where=and_all(inside))

    def _open_visits(self) -> Select:
        return open_visits(self.site_id)

    def _unrolled(self) -> list[tuple[Select, list[Expr]]]:
        """Which events to group for the visits the rollup does not answer, as three disjoint
        sets of visits (each joined, one row per visit), each with the stretch of time its
        events lie in, so DuckDB reads only the row groups of that stretch:
        - open visits: from the earliest of F (open visits without a row) and the first event
          of any open visit's row (a reopened visit);
        - closed visits crossing the period's start (and not its end): up to their last end;
        - closed visits crossing the period's end: from their first start.
        Sets are joined rather than tested with IN: DuckDB then hashes the few visits of the
        set instead of every row it is matched against.
        """
        start, end = Value(naive_utc(self.period.start_at)), Value(naive_utc(self.period.end_at))
        site = eq(Col("site_id"), Value(self.site_id))

        crossing_rows = self._crossing

        def crossing(moment: Value) -> Select:
            return _distinct_sessions("visits", crossing_rows(moment))

        def bound(value: Expr, where: list[Expr], visits: Select | None = None) -> Scalar:
            # One bare scalar subquery per bound: DuckDB turns `ts >= (SELECT ...)` into a
            # filter that skips row groups, but not an expression around subqueries.
            return Scalar(
                Select(
                    columns=((value, "bound"),),
                    source="visits",
                    join=visits,
                    join_using="session_id" if visits is not None else None,
                    where=and_all(where),
                )
            )

        open_visits = self._open_visits()
        cut_start, cut_end = crossing(start), crossing(end)
        first_start = fn("min", Col("start_ts"))
        last_end = fn("max", Col("end_ts"))
        # The period's own bounds are in the scope. With no crossing row a bound falls outside
        # the period (not NULL, which DuckDB would not turn into a row-group filter).
        # Rows ending before the period hold no event of it (and DuckDB skips their groups).
        known = self.since() if self.since is not None else None
        open_since: Expr = (
            Value(naive_utc(known))
            if known is not None
            else bound(
                fn("least", fn("open_from"), first_start),
                [site, BinOp(">=", Col("end_ts"), start)],
                open_visits,
            )
        )
        # A crossing set's bound reads its own rows (no join: DuckDB skips row groups).
        last_cut_end = bound(fn("coalesce", last_end, Value(_LONG_AGO)), crossing_rows(start))
        first_cut_start = bound(fn("coalesce", first_start, end), crossing_rows(end))
        return [
            (open_visits, [BinOp(">=", _TS, open_since)]),
            (
                cut_start,
                [
                    BinOp("<=", _TS, last_cut_end),
                    Not(InSelect(Col("session_id"), open_visits)),
                    Not(InSelect(Col("session_id"), cut_end)),
                ],
            ),
            (
                cut_end,
                [
                    BinOp(">=", _TS, first_cut_start),
                    Not(InSelect(Col("session_id"), open_visits)),
                ],
            ),
        ]

    def _crossing(self, moment: Value) -> list[Expr]:
        """Conditions on `visits` rows: the site's visits across `moment`."""
        site = eq(Col("site_id"), Value(self.site_id))
        return [site, BinOp("<", Col("start_ts"), moment), BinOp(">=", Col("end_ts"), moment)]

    def dimension(self, name: str) -> Expr:
        """The expression a dimension groups or filters by."""
        if name in EVENT_COLUMNS:
            return Col(EVENT_COLUMNS[name])
        if name == LINK_TRAFFIC:
            burst = in_burst(self.period_scope, self.query.burst_ms)
            machine = BinOp("OR", eq(Col("is_bot"), Lit(True)), burst)
            return Case(machine, Lit("machine"), Lit("human"))
        if name in SESSION_DIMENSIONS:
            return Col(SESSION_DIMENSIONS[name])
        if name.startswith(PROPS_PREFIX):
            return fn("prop", Value(name[len(PROPS_PREFIX) :]))
        if name in TIME_DIMENSIONS and self.granularity is not None:
            return self._bucket(_TS)
        raise ValueError(f"no expression for dimension {name!r}")

    def _local_time(self, moment: Expr = _TS) -> Expr:
        """`moment` (`ts` by default) on the site's wall clock: plus the zone's offset, per
        DST segment of the period."""
        segments = offsets(self.period)
        shift: Expr = Lit(segments[-1][1])
        for (_, seconds), (boundary, _) in reversed(
            list(zip(segments, segments[1:], strict=False))
        ):
            shift = Case(BinOp("<", moment, Value(naive_utc(boundary))), Lit(seconds), shift)
        if shift == Lit(0):
            return moment
        return fn("shift", moment, shift)

    def _bucket(self, moment: Expr) -> Expr:
        """The time bucket `moment` falls in, on the site's wall clock."""
        return fn(f"bucket_{self.granularity}", self._local_time(moment))

    def filter(self, item: Filter) -> Expr:
        """A filter tree as one boolean expression."""
        if isinstance(item, Condition):
            return self._condition(item)
        children = [self.filter(child) for child in item.children]
        if item.operator == "not":
            return Not(children[0])
        if item.operator == "or":
            return or_all(children)
        combined = and_all(children)
        assert combined is not None
        return combined

    def _condition(self, item: Condition) -> Expr:
        subject = self.dimension(item.dimension)
        values = item.values
        if not item.case_sensitive:
            subject = fn("lower", subject)
            values = tuple(value.lower() for value in values)
        base = item.operator.removesuffix("_not")
        positive: Expr
        if item.dimension in ID_DIMENSIONS:
            # Stored ids: compared as numbers, whatever the case modifier says.
            ids = tuple(Value(int(value)) for value in item.values)
            positive = InList(self.dimension(item.dimension), ids)
        elif base == "is":
            positive = InList(subject, tuple(Value(value) for value in values))
        elif base == "contains":
            positive = or_all([fn("contains", subject, Value(value)) for value in values])
        else:
            positive = or_all([fn("matches", subject, Value(value)) for value in values])
        return Not(positive) if item.operator.endswith("_not") else positive

    def _conversion(self) -> Expr:
        matches: list[Expr] = [eq(_KIND, Lit(Kind.CONVERSION.value))]
        for goal in self.goals:
            if goal.event_name is not None:
                matches.append(
                    BinOp(
                        "AND",
                        eq(Col("name"), Value(goal.event_name)),
                        BinOp("!=", _KIND, Lit(Kind.PAGEVIEW.value)),
                    )
                )
            elif goal.page_path is not None:
                regex = Value(page_regex(goal.page_path))
                matches.append(BinOp("AND", _IS_PAGEVIEW, fn("matches", Col("pathname"), regex)))
        return or_all(matches)
