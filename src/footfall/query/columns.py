"""What metrics and dimensions read: needed aggregates, sort keys, row conditions."""

from __future__ import annotations

from footfall.events import Kind
from footfall.query.query import EVENT_COLUMNS, TIME_DIMENSIONS, Condition, Filter, Query
from footfall.query.sql.expr import BinOp, Case, Col, Expr, Lit, Value, eq, fn

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
    if dimension == "event:name":
        return NOT_ENGAGEMENT
    # Rows without a link are not a "link" group; grouping by link:* shows tracked links only.
    if dimension in {"link:code", "link:campaign"}:
        return BinOp("!=", Col(EVENT_COLUMNS[dimension]), Lit(0))
    if dimension in {"link:platform", "link:recipient"}:
        return BinOp("!=", Col(EVENT_COLUMNS[dimension]), Value(""))
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
}


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
