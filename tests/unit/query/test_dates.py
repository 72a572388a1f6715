"""Date ranges in the site's time zone, comparisons and time bucket labels (DST included)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from footfall.query import Comparison, DateRange
from footfall.query.dates import bucket_labels, compare_period, days, resolve

NOW = datetime(2025, 3, 30, 22, 30, tzinfo=UTC)  # 00:30 on 31 March in Berlin


@pytest.mark.parametrize(
    ("name", "first", "last"),
    [
        ("day", date(2025, 3, 31), date(2025, 3, 31)),
        ("7d", date(2025, 3, 25), date(2025, 3, 31)),
        ("30d", date(2025, 3, 2), date(2025, 3, 31)),
        ("month", date(2025, 3, 1), date(2025, 3, 31)),
        ("6mo", date(2024, 10, 1), date(2025, 3, 31)),
        ("12mo", date(2024, 4, 1), date(2025, 3, 31)),
        ("year", date(2025, 1, 1), date(2025, 12, 31)),
    ],
)
def test_named_ranges_end_today_in_the_site_zone(name: str, first: date, last: date) -> None:
    period = resolve(DateRange(name), "Europe/Berlin", NOW)
    assert (period.first_day, period.last_day) == (first, last)


def test_realtime_all_and_comparisons() -> None:
    realtime = resolve(DateRange("realtime"), "UTC", NOW)
    assert realtime.end_at == NOW and (NOW - realtime.start_at).total_seconds() == 1800
    everything = resolve(DateRange("all"), "UTC", NOW, earliest=date(2024, 5, 6))
    assert everything.first_day == date(2024, 5, 6)
    week = days(date(2025, 3, 25), date(2025, 3, 31), "Europe/Berlin")
    previous = compare_period(week, Comparison("previous_period"))
    assert (previous.first_day, previous.last_day) == (date(2025, 3, 18), date(2025, 3, 24))
    leap = days(date(2024, 2, 29), date(2024, 2, 29), "UTC")
    year = compare_period(leap, Comparison("year_over_year"))
    assert year.first_day == date(2023, 2, 28)


def test_hour_buckets_across_both_dst_changes() -> None:
    spring = bucket_labels(days(date(2025, 3, 30), date(2025, 3, 30), "Europe/Berlin"), "hour")
    assert len(spring) == 23 and "2025-03-30 02:00:00" not in spring
    autumn = bucket_labels(days(date(2025, 10, 26), date(2025, 10, 26), "Europe/Berlin"), "hour")
    assert len(autumn) == 24  # 02:00 happens twice and is one bucket
    assert autumn.count("2025-10-26 02:00:00") == 1
    weeks = bucket_labels(days(date(2025, 3, 1), date(2025, 3, 31), "UTC"), "week")
    assert weeks[0] == "2025-02-24" and weeks[-1] == "2025-03-31"
