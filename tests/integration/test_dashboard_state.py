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


def test_realtime_range_has_minutes_and_no_comparison() -> None:
    state = _state("period=realtime&country=DE&compare=on")
    assert state.realtime and state.date_range() == "realtime"
    assert state.granularity() == "minute" and not state.comparable()
    assert state.href(period="day") == "?period=day&country=DE"
    assert not _state("period=7d").realtime


def test_drill_down_place_and_page_goal_filters() -> None:
    state = _state(
        "browser=Chrome&browser_version=131.0&os=Windows&os_version=11"
        "&region=US-CA&city=San+Francisco&page_goal=/thanks/*"
    )
    assert state.query_filters() == [
        ["is", "visit:browser", ["Chrome"]],
        ["is", "visit:browser_version", ["131.0"]],
        ["is", "visit:os", ["Windows"]],
        ["is", "visit:os_version", ["11"]],
        ["is", "visit:region", ["US-CA"]],
        ["is", "visit:city", ["San Francisco"]],
        ["is", "event:name", ["pageview"]],
        ["matches", "event:page", ["^/thanks/[^/]*$"]],
    ]
    assert state.filter_value("browser") == "Chrome" and state.filter_value("device") is None
    again = parse_state(QueryParams(state.with_key("page_goal", "/a.b")[1:]))
    assert again.filter_value("page_goal") == "/a.b"
    assert state.with_filter("visit:browser_version", "130.0").count("browser_version=") == 1


def test_a_page_goal_too_long_for_a_pattern_is_ignored() -> None:
    # Every "." becomes "\." in the pattern: 200 characters make a pattern over 256.
    assert _state("page_goal=/" + "." * 200).filters == ()
    assert _state("page_goal=/" + "a" * 200).filters == (("page_goal", "/" + "a" * 200),)
