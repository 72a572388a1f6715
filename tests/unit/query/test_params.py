"""Parsing v2 query bodies: what is accepted, and 400-worthy errors that name the field."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from footfall.query import Comparison, Condition, DateRange, Logical, QueryError, parse_query


def body(**overrides: Any) -> dict[str, Any]:
    return {"site_id": "example.com", "metrics": ["visitors"], "date_range": "30d", **overrides}


def test_link_dimensions_filters_by_id_and_recipients() -> None:
    query = parse_query(
        body(
            metrics=["events", "recipients"],
            dimensions=["link:traffic", "link:code"],
            filters=[["is", "link:campaign", [7, "8"]], ["is_not", "event:kind", ["open"]]],
        )
    )
    assert query.filters[0] == Condition("is", "link:campaign", ("7", "8"))
    # Telling machines apart reads the rows flagged as machines; other queries leave them out.
    assert query.counts_machines() and not query.needs_sessions()
    assert not parse_query(body(metrics=["events"])).counts_machines()
    visit = parse_query(
        body(dimensions=["visit:link_campaign"], filters=[["is", "visit:link_code", [3]]])
    )
    assert visit.needs_sessions()


def test_a_full_query_parses_into_a_frozen_query() -> None:
    query = parse_query(
        body(
            metrics=["visitors", "pageviews", "bounce_rate"],
            dimensions=["visit:source", "event:props:plan"],
            filters=[
                ["is", "visit:country", ["DE", "FR"]],
                ["or", [["contains", "event:page", ["/blog"]], ["not", ["is", "event:name", [1]]]]],
                ["matches", "event:page", ["^/a"], {"case_sensitive": False}],
            ],
            order_by=[["visitors", "desc"], ["visit:source", "asc"]],
            include={"comparisons": {"mode": "previous_period"}, "total_rows": True},
            pagination={"limit": 10, "offset": 20},
        )
    )
    assert query.metrics == ("visitors", "pageviews", "bounce_rate")
    assert query.filters[0] == Condition("is", "visit:country", ("DE", "FR"))
    either = query.filters[1]
    assert isinstance(either, Logical) and either.operator == "or"
    assert either.children[1] == Logical("not", (Condition("is", "event:name", ("1",)),))
    assert query.filters[2] == Condition("matches", "event:page", ("^/a",), case_sensitive=False)
    assert (query.limit, query.offset, query.total_rows) == (10, 20, True)
    assert query.comparison == Comparison("previous_period")
    assert query.needs_sessions()
    with pytest.raises(AttributeError):
        query.limit = 5  # type: ignore[misc]


def test_date_ranges() -> None:
    assert parse_query(body(date_range="realtime")).date_range == DateRange("realtime")
    custom = parse_query(body(date_range=["2024-07-01", "2024-07-31"])).date_range
    assert custom == DateRange("custom", start=date(2024, 7, 1), end=date(2024, 7, 31))
    compared = parse_query(
        body(
            include={"comparisons": {"mode": "custom", "date_range": ["2024-01-01", "2024-01-02"]}}
        )
    )
    assert compared.comparison == Comparison("custom", date(2024, 1, 1), date(2024, 1, 2))


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"metrics": []}, "metrics"),
        ({"metrics": ["visitors", "nope"]}, "metrics[1]"),
        ({"site_id": ""}, "site_id"),
        ({"date_range": "3d"}, "date_range"),
        ({"date_range": ["2024-07-31", "2024-07-01"]}, "date_range"),
        ({"date_range": ["2024-02-30", "2024-03-01"]}, "date_range"),
        ({"dimensions": ["visit:nope"]}, "dimensions[0]"),
        ({"dimensions": ["time:day", "time:hour"]}, "dimensions"),
        ({"dimensions": ["event:props:"]}, "dimensions[0]"),
        ({"filters": [["like", "event:page", ["/"]]]}, "filters[0]"),
        ({"filters": [["is", "event:page", []]]}, "filters[0][2]"),
        ({"filters": [["is", "event:page", [None]]]}, "filters[0][2][0]"),
        ({"filters": [["is", "time:day", ["x"]]]}, "filters[0][1]"),
        ({"filters": [["and", [["is", "bogus", ["x"]]]]]}, "filters[0][1][0][1]"),
        ({"filters": [["matches", "event:page", ["(a"]]]}, "filters[0][2][0]"),
        ({"filters": [["matches", "event:page", ["(a)\\1"]]]}, "filters[0][2][0]"),
        ({"filters": [["matches", "event:page", ["a" * 300]]]}, "filters[0][2][0]"),
        ({"filters": [["matches", "event:page", ["a*+"]]]}, "filters[0][2][0]"),
        ({"filters": [["matches", "event:page", ["(?>ab)"]]]}, "filters[0][2][0]"),
        ({"filters": [["is", "link:code", ["abc"]]]}, "filters[0][2]"),
        ({"filters": [["contains", "link:campaign", ["7"]]]}, "filters[0][2]"),
        ({"metrics": ["recipients", "bounce_rate"]}, "metrics"),
        ({"metrics": ["recipients"], "dimensions": ["visit:source"]}, "metrics"),
        ({"order_by": [["pageviews", "desc"]]}, "order_by[0]"),
        ({"order_by": [["visitors", "up"]]}, "order_by[0]"),
        ({"pagination": {"limit": 0}}, "pagination.limit"),
        ({"pagination": {"offset": -1}}, "pagination.offset"),
        ({"include": {"comparisons": {"mode": "sometime"}}}, "include.comparisons.mode"),
        ({"include": {"total_rows": "yes"}}, "include.total_rows"),
        ({"surprise": 1}, "surprise"),
        ({"metrics": ["percentage"]}, "metrics"),
    ],
)
def test_errors_name_the_field(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(QueryError) as caught:
        parse_query(body(**overrides))
    assert caught.value.field == field
    assert str(caught.value).startswith(field)


def test_deeply_nested_filters_are_refused() -> None:
    nested: list[Any] = ["is", "event:page", ["/"]]
    for _ in range(20):
        nested = ["not", nested]
    with pytest.raises(QueryError, match="nest"):
        parse_query(body(filters=[nested]))


def test_default_site_and_non_object_body() -> None:
    query = parse_query({"metrics": ["visitors"], "date_range": "day"}, default_site="a.org")
    assert query.site == "a.org"
    with pytest.raises(QueryError, match="body"):
        parse_query(["visitors"])
