"""The dashboard's URL state: parsing is forgiving, links round-trip, filters become queries."""

from __future__ import annotations

from datetime import date
from urllib.parse import parse_qsl

from starlette.datastructures import QueryParams

from footfall.dashboard.state import State, parse_state


def _state(query: str) -> State:
    return parse_state(QueryParams(query))


def test_defaults_and_garbage_fall_back() -> None:
    assert _state("") == State()
    bad = _state("period=forever&metric=drop&interval=second&country=" + "x" * 600)
    assert bad == State()
    backwards = _state("period=custom&from=2025-02-01&to=2025-01-01")
    assert backwards.period == "30d" and backwards.start is None


def test_custom_range_and_filters_become_a_query() -> None:
    state = _state("period=custom&from=2025-01-01&to=2025-01-31&source=Google&props.plan=pro")
    assert state.date_range() == ["2025-01-01", "2025-01-31"]
    assert state.query_filters() == [
        ["is", "visit:source", ["Google"]],
        ["is", "event:props:plan", ["pro"]],
    ]
    assert state.granularity() == "day"
    assert _state("period=day").granularity() == "hour"
    assert _state("period=12mo&interval=hour").granularity() == "day"


def test_links_round_trip_through_the_url() -> None:
    state = _state("period=7d&metric=pageviews&compare=off&country=DE")
    link = state.with_filter("visit:source", "A&B=C")
    again = parse_state(QueryParams(link[1:]))
    assert again.filters == (("country", "DE"), ("source", "A&B=C"))
    assert again.period == "7d" and again.metric == "pageviews" and not again.compare
    removed = parse_state(QueryParams(again.without_filter("country")[1:]))
    assert removed.filters == (("source", "A&B=C"),)
    assert state.with_filter("time:day", "x") == ""  # not a filterable dimension
    assert ("period", "7d") in state.hidden_fields("metric")
    assert all(name != "metric" for name, _ in state.hidden_fields("metric"))
    assert dict(parse_qsl(state.href(start=date(2025, 1, 1))[1:]))["period"] == "7d"
