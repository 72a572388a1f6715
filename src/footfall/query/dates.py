"""Date ranges resolved in the site's time zone: UTC bounds for SQL and labels for time buckets."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from footfall.query.query import Comparison, DateRange

REALTIME_WINDOW = timedelta(minutes=30)
_DAYS = {"day": 1, "7d": 7, "28d": 28, "30d": 30}
_MONTHS = {"6mo": 6, "12mo": 12}


@dataclass(frozen=True)
class Period:
    """A resolved range: `start_at` <= ts < `end_at` (aware UTC) and its local first/last day."""

    start_at: datetime
    end_at: datetime
    first_day: date
    last_day: date
    zone: str

    @property
    def days(self) -> int:
        """Number of local days covered."""
        return (self.last_day - self.first_day).days + 1

    @property
    def whole_days(self) -> bool:
        """Whether the period runs from a local midnight to a local midnight."""
        zone = ZoneInfo(self.zone)
        return self.start_at == _midnight(self.first_day, zone) and self.end_at == _midnight(
            self.last_day + timedelta(days=1), zone
        )

    def iso(self) -> list[str]:
        """The bounds as ISO 8601 UTC strings (echoed in the answer's `query`)."""
        return [_iso(self.start_at), _iso(self.end_at - timedelta(seconds=1))]


def resolve(
    date_range: DateRange, zone_name: str, now: datetime, earliest: date | None = None
) -> Period:
    """The period `date_range` means at `now` for a site in `zone_name`.

    Named ranges end today in the site's zone (`7d` is today and the six days before; `month`,
    `year`, `6mo`, `12mo` run to the end of the current month or year); `all` starts on the
    day of the site's first event (`earliest`).
    """
    zone = ZoneInfo(zone_name)
    today = now.astimezone(zone).date()
    name = date_range.name
    if name == "instant":
        assert date_range.start_at is not None and date_range.end_at is not None
        return _instant(date_range.start_at, date_range.end_at, zone)
    if name == "realtime":
        return _instant(now - REALTIME_WINDOW, now, zone)
    if name == "custom":
        assert date_range.start is not None and date_range.end is not None
        return days(date_range.start, date_range.end, zone_name)
    if name in _DAYS:
        return days(today - timedelta(days=_DAYS[name] - 1), today, zone_name)
    if name == "month":
        return days(today.replace(day=1), _month_end(today), zone_name)
    if name in _MONTHS:
        first = _add_months(today.replace(day=1), 1 - _MONTHS[name])
        return days(first, _month_end(today), zone_name)
    if name == "year":
        return days(date(today.year, 1, 1), date(today.year, 12, 31), zone_name)
    if name == "all":
        return days(min(earliest or today, today), today, zone_name)
    raise ValueError(f"unknown date range {name!r}")


def compare_period(period: Period, comparison: Comparison) -> Period:
    """The period a comparison looks at."""
    if comparison.mode == "previous_period":
        last = period.first_day - timedelta(days=1)
        return days(last - timedelta(days=period.days - 1), last, period.zone)
    if comparison.mode == "year_over_year":
        return days(_year_before(period.first_day), _year_before(period.last_day), period.zone)
    assert comparison.start is not None and comparison.end is not None
    return days(comparison.start, comparison.end, period.zone)


def days(first: date, last: date, zone_name: str) -> Period:
    """Whole local days `first`..`last` (inclusive)."""
    zone = ZoneInfo(zone_name)
    return Period(
        _midnight(first, zone), _midnight(last + timedelta(days=1), zone), first, last, zone_name
    )


def bucket_labels(period: Period, granularity: str) -> list[str]:
    """Every bucket label of `period` at `granularity`, as the dialects spell them."""
    zone = ZoneInfo(period.zone)
    if granularity in {"minute", "hour"}:
        step = timedelta(minutes=1) if granularity == "minute" else timedelta(hours=1)
        labels: dict[str, None] = {}
        moment = _floor_utc(period.start_at, zone, granularity)
        while moment < period.end_at:
            local = moment.astimezone(zone)
            if granularity == "minute":
                local = local.replace(second=0, microsecond=0)
            else:
                local = local.replace(minute=0, second=0, microsecond=0)
            labels[local.strftime("%Y-%m-%d %H:%M:%S")] = None
            moment += step
        return list(labels)
    found: dict[str, None] = {}
    day = period.first_day
    while day <= period.last_day:
        if granularity == "week":
            label = day - timedelta(days=day.weekday())
        elif granularity == "month":
            label = day.replace(day=1)
        else:
            label = day
        found[label.isoformat()] = None
        day += timedelta(days=1)
    return list(found)


def granularity_for(dimension: str, period: Period, realtime: bool) -> str:
    """The bucket size of a time dimension (`time` picks one from the period's length)."""
    if dimension != "time":
        return dimension.split(":", 1)[1]
    if realtime:
        return "minute"
    if period.days <= 1:
        return "hour"
    if period.days <= 40:
        return "day"
    return "month"


def offsets(period: Period) -> list[tuple[datetime, int]]:
    """The site zone's UTC offsets over `period`: [(from this instant, offset seconds), ...].

    Reports bucket `ts + offset` instead of converting every row's time zone in SQL, which
    costs more than the rest of a query; DST changes within the period become segments.
    """
    zone = ZoneInfo(period.zone)

    def offset(moment: datetime) -> int:
        delta = moment.astimezone(zone).utcoffset()
        return int(delta.total_seconds()) if delta is not None else 0

    segments = [(period.start_at, offset(period.start_at))]
    step = timedelta(hours=1)
    moment = period.start_at
    while moment < period.end_at:
        following = moment + step
        if offset(following) != segments[-1][1]:
            # Changes fall on whole minutes: find the first minute with the new offset.
            low, high = moment, following
            while high - low > timedelta(minutes=1):
                middle = low + (high - low) / 2
                middle = middle.replace(second=0, microsecond=0)
                if middle <= low:
                    break
                if offset(middle) == segments[-1][1]:
                    low = middle
                else:
                    high = middle
            segments.append((high, offset(high)))
        moment = following
    return segments


def _instant(start: datetime, end: datetime, zone: ZoneInfo) -> Period:
    start_utc, end_utc = start.astimezone(UTC), end.astimezone(UTC)
    return Period(
        start_utc,
        end_utc,
        start_utc.astimezone(zone).date(),
        (end_utc - timedelta(microseconds=1)).astimezone(zone).date(),
        zone.key,
    )


def _floor_utc(moment: datetime, zone: ZoneInfo, granularity: str) -> datetime:
    local = moment.astimezone(zone)
    if granularity == "minute":
        return local.replace(second=0, microsecond=0).astimezone(UTC)
    # Zones with half-hour offsets have hours starting at :30 UTC; floor in local time.
    return local.replace(minute=0, second=0, microsecond=0).astimezone(UTC)


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)


def _month_end(day: date) -> date:
    return _add_months(day.replace(day=1), 1) - timedelta(days=1)


def _add_months(first_of_month: date, months: int) -> date:
    index = first_of_month.year * 12 + first_of_month.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _year_before(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
