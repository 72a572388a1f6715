"""What metrics and dimensions read: needed aggregates, sort keys, row conditions."""

from __future__ import annotations

from footfall.events import Kind
from footfall.query.query import (
    EVENT_COLUMNS,
    SESSION_DIMENSIONS,
    TIME_DIMENSIONS,
    Condition,
    Filter,
    Query,
)
from footfall.query.sql.expr import (
    BinOp,
    Case,
    Col,
    Expr,
    InSelect,
    Lit,
    Select,
    Value,
    and_all,
    eq,
    fn,
)

NOT_ENGAGEMENT = BinOp("!=", Col("kind"), Lit(Kind.ENGAGEMENT.value))

# Which raw aggregates each metric reads; the others are planned as constant zeros.
NEEDS: dict[str, tuple[str, ...]] = {
    "visitors": ("m_visitors",),
    "percentage": ("m_visitors",),
    "visits": ("m_visits",),
    "pageviews": ("m_pageviews",),
    "events": ("m_events",),
    "views_per_visit": ("m_pageviews", "m_visits"),
    "bounce_rate": ("m_bounces", "m_visits"),
    "visit_duration": ("m_duration", "m_visits"),
    "conversion_rate": ("m_converted", "m_visitors"),
    "group_conversion_rate": ("m_converted", "m_visitors"),
    "revenue": ("m_revenue",),
    "time_on_page": ("m_eng_ms", "m_eng_pages"),
    "recipients": ("m_recipients",),
}


# The outer aggregate each per-visit partial feeds.
PARTIAL_OF = {
    "pv": "m_pageviews",
    "conv": "m_converted",
    "rev": "m_revenue",
    "eng_ms": "m_eng_ms",
    "eng_pages": "m_eng_pages",
    "bounce": "m_bounces",
    "dur": "m_duration",
}


def dimensions_of(item: Filter) -> set[str]:
    if isinstance(item, Condition):
        return {item.dimension}
    found: set[str] = set()
    for child in item.children:
        found |= dimensions_of(child)
    return found


def present(dimension: str) -> Expr | None:
    # Engagement rows update a page's engagement; they are not an event of their own.
    if dimension in {"event:name", "event:kind"}:
        return NOT_ENGAGEMENT
    # Rows without a link are not a "link" group; grouping by link:* shows tracked links only.
    if dimension in {"link:code", "link:campaign"}:
        return BinOp("!=", Col(EVENT_COLUMNS[dimension]), Lit(0))
    if dimension in {"link:platform", "link:recipient"}:
        return BinOp("!=", Col(EVENT_COLUMNS[dimension]), Value(""))
    if dimension in {"visit:link_code", "visit:link_campaign"}:
        return BinOp("!=", Col(SESSION_DIMENSIONS[dimension]), Lit(0))
    if dimension == "visit:link_recipient":
        return BinOp("!=", Col(SESSION_DIMENSIONS[dimension]), Value(""))
    return None


_RATIOS: dict[str, tuple[str, str]] = {
    "bounce_rate": ("m_bounces", "m_visits"),
    "visit_duration": ("m_duration", "m_visits"),
    "views_per_visit": ("m_pageviews", "m_visits"),
    "conversion_rate": ("m_converted", "m_visitors"),
    "group_conversion_rate": ("m_converted", "m_visitors"),
    "time_on_page": ("m_eng_ms", "m_eng_pages"),
}
_COUNTS: dict[str, str] = {
    "visitors": "m_visitors",
    "percentage": "m_visitors",
    "visits": "m_visits",
    "pageviews": "m_pageviews",
    "events": "m_events",
    "recipients": "m_recipients",
}


# A visit's link attribution comes from its first event that came through a tracked link.
_ATTRIBUTED = BinOp("!=", Col("link_id"), Lit(0))
_ATTRIBUTION = {
    "s_link_code": ("link_id", "arg_min_if_num"),
    "s_link_campaign": ("campaign_id", "arg_min_if_num"),
    "s_link_recipient": ("recipient", "arg_min_if"),
}


def visit_attribute(alias: str) -> Expr:
    """The per-visit aggregate of a SESSION_DIMENSIONS column (grouped by session_id)."""
    # Milliseconds: ClickHouse's `ts` has whole seconds, and events of one second would tie.
    ts = fn("ts_epoch_ms")
    pageview = eq(Col("kind"), Lit(Kind.PAGEVIEW.value))
    if alias == "s_entry_page":
        return fn("arg_min_if", Col("pathname"), ts, pageview)
    if alias == "s_exit_page":
        return fn("arg_max_if", Col("pathname"), ts, pageview)
    if alias in _ATTRIBUTION:
        column, first = _ATTRIBUTION[alias]
        return fn(first, Col(column), ts, _ATTRIBUTED)
    column = "referrer_source" if alias == "s_source" else alias.removeprefix("s_")
    return fn("arg_min", Col(column), ts)


def in_burst(scope: list[Expr], burst_ms: int) -> Expr:
    """Whether the row is a click of a scanner burst: its recipient clicked another link of the
    same campaign within `burst_ms` (both clicks are the scanner's). `scope` is the site and
    period; bursts are judged among human clicks that carry a recipient."""
    clicks = and_all(
        [
            *scope,
            eq(Col("is_bot"), Lit(False)),
            eq(Col("kind"), Lit(Kind.CLICK.value)),
            BinOp("!=", Col("recipient"), Value("")),
            BinOp("!=", Col("campaign_id"), Lit(0)),
        ]
    )
    key = fn("burst_key")
    first = Select(
        columns=(
            (Col("event_id"), "burst_event"),
            (key, "bk"),
            (fn("ts_epoch_ms"), "a_ms"),
            (Col("link_id"), "a_link"),
        ),
        source="events",
        where=clicks,
    )
    # Distinct names on the joined side: old ClickHouse joins do not resolve qualified names.
    other = Select(
        columns=((key, "bk"), (fn("ts_epoch_ms"), "b_ms"), (Col("link_id"), "b_link")),
        source="events",
        where=clicks,
    )
    window = Lit(burst_ms)
    close: list[Expr] = [
        BinOp("!=", Col("a_link"), Col("b_link")),
        BinOp("<=", BinOp("-", Col("a_ms"), Col("b_ms")), window),
        BinOp("<=", BinOp("-", Col("b_ms"), Col("a_ms")), window),
    ]
    bursts = Select(
        columns=((Col("burst_event"), "burst_id"),),
        source=first,
        join=other,
        join_using="bk",
        where=and_all(close),
    )
    return InSelect(Col("event_id"), bursts)


def sort_key(metric: str) -> Expr:
    """The SQL value a metric sorts by (the same order as its final, rounded value)."""
    if metric in _RATIOS:
        top, bottom = _RATIOS[metric]
        return Case(
            eq(Col(bottom), Lit(0)),
            Lit(0.0),
            BinOp("/", fn("to_float", Col(top)), fn("to_float", Col(bottom))),
        )
    if metric == "revenue":
        return fn("to_float", Col("m_revenue"))
    return Col(_COUNTS[metric])


def order_terms(query: Query, aliases: list[str], has_time: bool) -> tuple[tuple[Expr, str], ...]:
    terms: list[tuple[Expr, str]] = []
    for name, direction in query.order_by:
        if name in query.dimensions:
            terms.append((Col(aliases[query.dimensions.index(name)]), direction))
        else:
            terms.append((sort_key(name), direction))
    if not terms:
        if has_time:
            time_index = next(i for i, d in enumerate(query.dimensions) if d in TIME_DIMENSIONS)
            terms.append((Col(aliases[time_index]), "asc"))
        terms.append((sort_key(query.metrics[0]), "desc"))
    # Dimensions break ties, so that both stores return the same page in the same order.
    terms += [(Col(alias), "asc") for alias in aliases]
    return tuple(terms)
