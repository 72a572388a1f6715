"""The SQL tree rendered by both dialects: spelling differs, every user value is bound."""

from __future__ import annotations

from datetime import UTC, date, datetime

from footfall.query import GoalSpec, page_regex, parse_query
from footfall.query.dates import days
from footfall.query.plan import plan
from footfall.query.sql.clickhouse import ClickHouseDialect
from footfall.query.sql.duckdb import DuckDBDialect
from footfall.query.sql.expr import Col, InList, Select, Value, fn

EVIL = "x'); DROP TABLE events; --"


def _render(dialect: DuckDBDialect | ClickHouseDialect, metrics: list[str], **extra: object):
    query = parse_query({"site_id": "example.com", "metrics": metrics, "date_range": "7d", **extra})
    period = days(date(2025, 1, 1), date(2025, 1, 7), "Europe/Berlin")
    return dialect.render(plan(query, 7, period, [GoalSpec(event_name=EVIL)]).rows)


def test_user_values_never_reach_the_sql_text() -> None:
    extra = {
        "dimensions": [f"event:props:{EVIL}"],
        "filters": [["contains", "event:page", [EVIL]], ["is", f"event:props:{EVIL}", [EVIL]]],
    }
    for dialect in (DuckDBDialect(), ClickHouseDialect()):
        sql, params = _render(dialect, ["visitors", "conversion_rate"], **extra)
        assert "DROP" not in sql and "'x'" not in sql
        values = params if isinstance(params, list) else list(params.values())
        # the goal's name, the prop key (dimension, filter) and the two filter values
        assert values.count(EVIL) == 5


def test_each_dialect_spells_its_own_functions() -> None:
    duck_sql, duck_params = _render(
        DuckDBDialect(), ["visitors", "bounce_rate"], dimensions=["time:day"]
    )
    click_sql, click_params = _render(
        ClickHouseDialect(), ["visitors", "bounce_rate"], dimensions=["time:day"]
    )
    assert "count(DISTINCT CASE WHEN (ev > 0) THEN vid END)" in duck_sql
    assert "uniqExactIf(vid" in click_sql
    # Berlin is UTC+1 all week: local days are ts + 3600 s, bucketed as UTC.
    assert "CAST((ts + to_seconds(3600)) AS DATE)" in duck_sql
    assert "toDate((ts + 3600), 'UTC')" in click_sql
    assert "ALL INNER JOIN" in click_sql and " INNER JOIN" in duck_sql
    assert "LIMIT 0, 10001" in click_sql and "LIMIT 10001" in duck_sql
    assert isinstance(duck_params, list) and isinstance(click_params, dict)
    moment = datetime(2024, 12, 31, 23, 0)
    assert moment in duck_params
    assert "toDateTime(%(p" in click_sql and moment in click_params.values()


def test_parameters_are_numbered_in_tree_order() -> None:
    select = Select(
        columns=((fn("prop", Value("k")), "d0"),),
        source="events",
        where=InList(Col("name"), (Value("a"), Value("b"))),
    )
    sql, params = DuckDBDialect().render(select)
    assert sql == (
        "SELECT coalesce(list_element(props_values, list_position(props_keys, $1)), '') AS d0 "
        "FROM events WHERE (name IN ($2, $3))"
    )
    assert params == ["k", "a", "b"]
    sql, named = ClickHouseDialect().render(select)
    assert "indexOf(props_keys, %(p0)s)" in sql and "IN (%(p1)s, %(p2)s)" in sql
    assert named == {"p0": "k", "p1": "a", "p2": "b"}


def test_page_goal_patterns() -> None:
    assert page_regex("/thanks*") == "^/thanks[^/]*$"
    assert page_regex("/blog/**") == "^/blog/.*$"
    assert page_regex("/a.b(c)") == "^/a\\.b\\(c\\)$"


def test_dst_changes_become_offset_segments() -> None:
    query = parse_query(
        {"site_id": "s", "metrics": ["visitors"], "date_range": "7d", "dimensions": ["time:hour"]}
    )
    period = days(date(2025, 3, 29), date(2025, 3, 31), "Europe/Berlin")
    sql, params = DuckDBDialect().render(plan(query, 1, period).rows)
    assert "(CASE WHEN (ts < $1) THEN 3600 ELSE 7200 END)" in sql
    assert params[0] == datetime(2025, 3, 30, 1, 0)


def test_timestamps_are_utc_bounds_of_local_days() -> None:
    period = days(date(2025, 3, 30), date(2025, 3, 30), "Europe/Berlin")  # 23 hours long
    assert period.start_at == datetime(2025, 3, 29, 23, 0, tzinfo=UTC)
    assert period.end_at == datetime(2025, 3, 30, 22, 0, tzinfo=UTC)
