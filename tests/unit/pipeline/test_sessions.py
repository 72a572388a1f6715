"""The sessionizer: timeouts, explicit keys, midnight salt handover, late events, eviction."""

from __future__ import annotations

import random

import pytest

from footfall.pipeline.sessions import Sessionizer

MINUTE = 60_000
T0 = 1_780_000_000_000
SITE = 1


class FakeClock:
    """Processing time, moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make(timeout_s: int = 1800, max_visitors: int = 1000) -> tuple[Sessionizer, FakeClock]:
    clock = FakeClock()
    return Sessionizer(timeout_s, max_visitors, clock=clock, rng=random.Random(7)), clock


def session(
    s: Sessionizer, visitor: int, ts_ms: int, *, key: int | None = None, engagement: bool = False
) -> int:
    _, session_id = s.assign(SITE, visitor, None, key, ts_ms, engagement=engagement)
    return session_id


def test_gaps_under_the_timeout_share_a_session() -> None:
    s, _ = make()
    first = session(s, 10, T0)
    assert session(s, 10, T0 + 29 * MINUTE) == first
    assert session(s, 10, T0 + 58 * MINUTE) == first  # each gap is under 30 minutes


def test_a_gap_of_the_timeout_starts_a_new_session() -> None:
    s, _ = make()
    first = session(s, 10, T0)
    second = session(s, 10, T0 + 30 * MINUTE)
    assert second != first
    assert session(s, 10, T0 + 31 * MINUTE) == second


def test_session_ids_are_non_zero_63_bit() -> None:
    s, _ = make()
    ids = {session(s, visitor, T0) for visitor in range(200)}
    assert len(ids) == 200
    assert all(0 < i < 2**63 for i in ids)


def test_visitors_and_sites_are_separate() -> None:
    s, _ = make()
    a = session(s, 10, T0)
    b = session(s, 11, T0)
    _, c = s.assign(2, 10, None, None, T0)
    assert len({a, b, c}) == 3


def test_explicit_session_key_is_the_session_id_and_takes_precedence() -> None:
    s, _ = make()
    automatic = session(s, 10, T0)
    assert session(s, 10, T0 + MINUTE, key=555) == 555
    assert session(s, 10, T0 + 2 * MINUTE, key=777) == 777  # a new key, a new visit
    # Later events without a key continue the keyed visit under the usual rule.
    assert session(s, 10, T0 + 3 * MINUTE) == 777
    assert automatic not in (555, 777)
    # Two hours on, the same key still names the same session.
    assert session(s, 10, T0 + 120 * MINUTE, key=777) == 777


def test_visit_across_midnight_continues_under_yesterdays_visitor_id() -> None:
    s, _ = make()
    yesterday_id, today_id = 100, 200
    before = session(s, yesterday_id, T0)
    used, after = s.assign(SITE, today_id, yesterday_id, None, T0 + 5 * MINUTE)
    assert (used, after) == (yesterday_id, before)
    # The visitor's next event still belongs to that visit, still under yesterday's id.
    used, later = s.assign(SITE, today_id, yesterday_id, None, T0 + 10 * MINUTE)
    assert (used, later) == (yesterday_id, before)


def test_after_midnight_a_new_visit_takes_todays_id() -> None:
    s, _ = make()
    session(s, 100, T0)
    used, fresh = s.assign(SITE, 200, 100, None, T0 + 60 * MINUTE)
    assert used == 200
    assert s.assign(SITE, 200, 100, None, T0 + 61 * MINUTE) == (200, fresh)


def test_late_events_join_the_session() -> None:
    s, _ = make()
    first = session(s, 10, T0 + 10 * MINUTE)
    assert session(s, 10, T0 + 20 * MINUTE) == first
    # Arrives after, happened before: within a timeout of the visit, same visit.
    assert session(s, 10, T0 + 5 * MINUTE) == first
    assert session(s, 10, T0 - 15 * MINUTE) == first
    # The visit now starts earlier, so its bounds moved with the late event.
    assert session(s, 10, T0 - 40 * MINUTE) == first


def test_an_event_far_older_than_the_visit_is_a_past_visit_and_leaves_it_current() -> None:
    s, _ = make()
    current = session(s, 10, T0)
    past = session(s, 10, T0 - 120 * MINUTE)
    assert past != current
    assert session(s, 10, T0 + MINUTE) == current


def test_engagement_extends_a_live_visit() -> None:
    s, _ = make()
    first = session(s, 10, T0)
    assert session(s, 10, T0 + 25 * MINUTE, engagement=True) == first
    # 50 minutes after the pageview, but 25 after the engagement: still the same visit.
    assert session(s, 10, T0 + 50 * MINUTE) == first


def test_engagement_after_the_visit_ended_joins_it_without_extending_it() -> None:
    s, _ = make()
    first = session(s, 10, T0)
    assert session(s, 10, T0 + 45 * MINUTE, engagement=True) == first
    # The engagement did not extend the visit: a pageview now starts a new one.
    assert session(s, 10, T0 + 46 * MINUTE) != first


def test_engagement_without_any_known_visit_gets_a_session() -> None:
    s, _ = make()
    assert session(s, 10, T0, engagement=True) > 0


def test_idle_entries_are_evicted_after_two_timeouts_of_processing_time() -> None:
    s, clock = make(timeout_s=60)
    for visitor in range(5):
        session(s, visitor, T0)
    assert len(s) == 5
    clock.now += 119
    session(s, 99, T0)
    assert len(s) == 6
    clock.now += 2
    session(s, 98, T0)
    assert len(s) == 2  # the five idle ones went, the recent ones stay


def test_eviction_is_by_processing_time_so_replays_of_old_events_keep_sessions() -> None:
    s, _ = make(timeout_s=60)
    # Events from a day ago replayed quickly: visits stay intact.
    day_ago = T0 - 24 * 60 * MINUTE
    first = session(s, 10, day_ago)
    for visitor in range(50):
        session(s, 1000 + visitor, day_ago + 10_000)
    assert session(s, 10, day_ago + 20_000) == first


def test_number_of_visitors_is_capped() -> None:
    s, _ = make(max_visitors=100)
    for visitor in range(1000):
        session(s, visitor, T0)
    assert len(s) == 100
    # The most recently seen visitors are the ones kept.
    recent = session(s, 999, T0)
    assert session(s, 999, T0 + MINUTE) == recent


def test_restore_continues_stored_visits_and_never_overrides_newer_ones() -> None:
    s, _ = make()
    s.restore(SITE, 10, 4242, T0)
    assert session(s, 10, T0 + 10 * MINUTE) == 4242
    s.restore(SITE, 10, 5151, T0 - MINUTE)  # older than what is known: ignored
    assert session(s, 10, T0 + 11 * MINUTE) == 4242


@pytest.mark.parametrize(("timeout_s", "max_visitors"), [(0, 10), (10, 0)])
def test_invalid_bounds_are_refused(timeout_s: int, max_visitors: int) -> None:
    with pytest.raises(ValueError):
        Sessionizer(timeout_s, max_visitors)
