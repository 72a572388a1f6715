"""The real-time chart's geometry: one slot per minute, bars scaled to the busiest minute."""

from __future__ import annotations

from footfall.dashboard.realtime import CHART_HEIGHT, CHART_WIDTH, chart_minutes


def test_bars_scale_to_the_busiest_minute() -> None:
    labels = [f"2025-01-15 10:{minute:02d}:00" for minute in range(30)]
    counts = [(0, 0)] * 28 + [(1, 4), (2, 2)]
    minutes, peak = chart_minutes(labels, counts)
    assert peak == 4 and len(minutes) == 30
    assert [minute.label for minute in minutes[:2]] == ["10:00", "10:01"]
    assert minutes[0].x == 0 and minutes[29].x == CHART_WIDTH - CHART_WIDTH / 30
    busiest = minutes[28]
    assert busiest.pageviews_y == 0 and busiest.pageviews_height == CHART_HEIGHT
    assert busiest.visitors_height == CHART_HEIGHT / 4
    assert minutes[29].visitors_height == minutes[29].pageviews_height == CHART_HEIGHT / 2
    assert minutes[0].visitors_height == minutes[0].pageviews_height == 0
    assert busiest.title == "10:28: 1 visitors, 4 pageviews"


def test_a_quiet_half_hour_draws_no_bar() -> None:
    minutes, peak = chart_minutes(["2025-01-15 10:00:00"], [(0, 0)])
    assert peak == 0 and minutes[0].pageviews_y == CHART_HEIGHT
    assert minutes[0].pageviews_height == 0
