"""Parsing the Stats API v2 JSON into a `Query`, with 400-worthy errors naming the field."""

from __future__ import annotations

import re
import threading
from datetime import date
from typing import Any

import duckdb

from footfall.query.query import (
    COMPARISON_MODES,
    DATE_RANGES,
    EVENT_COLUMNS,
    FILTER_OPERATORS,
    ID_DIMENSIONS,
    LINK_TRAFFIC,
    METRICS,
    PROPS_PREFIX,
    SESSION_DIMENSIONS,
    TIME_DIMENSIONS,
    VISIT_METRICS,
    Comparison,
    Condition,
    DateRange,
    Filter,
    Logical,
    Query,
    QueryError,
)

MAX_LIMIT = 10_000
MAX_PATTERN_LENGTH = 256
MAX_FILTER_VALUES = 1_000
MAX_VALUE_LENGTH = 2_000
MAX_FILTER_DEPTH = 8
MAX_PROP_KEY_LENGTH = 300

_KNOWN_KEYS = frozenset(
    {
        "site_id",
        "metrics",
        "date_range",
        "dimensions",
        "filters",
        "order_by",
        "include",
        "pagination",
    }
)
# Constructs RE2 (both stores' regex engine) rejects; refused up front with a clear message.
_NOT_RE2 = re.compile(r"\\[1-9]|\(\?[=!]|\(\?<[=!]")
_RE2 = duckdb.connect(":memory:")
_RE2_LOCK = threading.Lock()
_ID = re.compile(r"[0-9]{1,18}")


def parse_query(payload: Any, *, default_site: str | None = None) -> Query:
    """Validate a v2 query body; raises QueryError(field, message) on anything wrong."""
    if not isinstance(payload, dict):
        raise QueryError("body", "expected a JSON object")
    unknown = sorted(set(payload) - _KNOWN_KEYS)
    if unknown:
        raise QueryError(unknown[0], "unknown field")
    site = payload.get("site_id", default_site)
    if not isinstance(site, str) or not site:
        raise QueryError("site_id", "required: the site's domain")
    metrics = _metrics(payload.get("metrics"))
    dimensions = _dimensions(payload.get("dimensions", []))
    filters = _filters(payload.get("filters", []))
    date_range = parse_date_range(payload.get("date_range"), "date_range")
    order_by = _order_by(payload.get("order_by"), metrics, dimensions)
    include = _object(payload.get("include", {}), "include")
    limit, offset = _pagination(_object(payload.get("pagination", {}), "pagination"))
    comparison = _comparison(include.get("comparisons"))
    if comparison is not None and date_range.name in {"all", "realtime"}:
        raise QueryError("include.comparisons", f"not available for date_range {date_range.name}")
    for key in include:
        if key not in {"comparisons", "total_rows", "time_labels", "imports"}:
            raise QueryError(f"include.{key}", "unknown option")
    if "percentage" in metrics and not dimensions:
        raise QueryError("metrics", "percentage needs at least one dimension")
    _check_recipients(metrics, dimensions, filters)
    return Query(
        site=site,
        metrics=metrics,
        date_range=date_range,
        dimensions=dimensions,
        filters=filters,
        order_by=order_by,
        limit=limit,
        offset=offset,
        total_rows=_flag(include, "total_rows"),
        time_labels=_flag(include, "time_labels"),
        comparison=comparison,
        echo={key: payload[key] for key in payload if key != "site_id"},
    )


def parse_date_range(raw: Any, field: str) -> DateRange:
    """A named range or `["YYYY-MM-DD", "YYYY-MM-DD"]` (inclusive, in the site's zone)."""
    if isinstance(raw, str):
        if raw not in DATE_RANGES:
            raise QueryError(field, f"unknown date range {raw!r}; use one of {_list(DATE_RANGES)}")
        return DateRange(raw)
    if isinstance(raw, list) and len(raw) == 2 and all(isinstance(x, str) for x in raw):
        start, end = _date(raw[0], field), _date(raw[1], field)
        if end < start:
            raise QueryError(field, "the end date is before the start date")
        return DateRange("custom", start=start, end=end)
    raise QueryError(field, 'expected a name like "30d" or ["YYYY-MM-DD", "YYYY-MM-DD"]')


def check_dimension(name: Any, field: str) -> str:
    """`name` if it is a known dimension, else QueryError."""
    if not isinstance(name, str):
        raise QueryError(field, "expected a dimension name")
    if name in EVENT_COLUMNS or name in SESSION_DIMENSIONS or name in TIME_DIMENSIONS:
        return name
    if name == LINK_TRAFFIC:
        return name
    if name.startswith(PROPS_PREFIX):
        key = name[len(PROPS_PREFIX) :]
        if not key or len(key) > MAX_PROP_KEY_LENGTH:
            raise QueryError(field, f"a property key is 1 to {MAX_PROP_KEY_LENGTH} characters")
        return name
    raise QueryError(field, f"unknown dimension {name!r}")


def _metrics(raw: Any) -> tuple[str, ...]:
    if not isinstance(raw, list) or not raw:
        raise QueryError("metrics", "required: a non-empty list of metric names")
    for index, name in enumerate(raw):
        if name not in METRICS:
            raise QueryError(f"metrics[{index}]", f"unknown metric {name!r}")
    if len(set(raw)) != len(raw):
        raise QueryError("metrics", "a metric is listed twice")
    return tuple(raw)


def _dimensions(raw: Any) -> tuple[str, ...]:
    if not isinstance(raw, list):
        raise QueryError("dimensions", "expected a list of dimension names")
    names = tuple(check_dimension(name, f"dimensions[{i}]") for i, name in enumerate(raw))
    if len(set(names)) != len(names):
        raise QueryError("dimensions", "a dimension is listed twice")
    if sum(name in TIME_DIMENSIONS for name in names) > 1:
        raise QueryError("dimensions", "at most one time dimension")
    return names


def _filters(raw: Any) -> tuple[Filter, ...]:
    if not isinstance(raw, list):
        raise QueryError("filters", "expected a list of filters")
    return tuple(_filter(item, f"filters[{i}]", 1) for i, item in enumerate(raw))


def _filter(raw: Any, field: str, depth: int) -> Filter:
    if depth > MAX_FILTER_DEPTH:
        raise QueryError(field, f"filters nest at most {MAX_FILTER_DEPTH} deep")
    if not isinstance(raw, list) or not raw or not isinstance(raw[0], str):
        raise QueryError(field, 'expected ["operator", "dimension", [values]]')
    operator = raw[0]
    if operator in {"and", "or"}:
        if len(raw) != 2 or not isinstance(raw[1], list) or not raw[1]:
            raise QueryError(field, f'expected ["{operator}", [filter, ...]]')
        children = tuple(_filter(c, f"{field}[1][{i}]", depth + 1) for i, c in enumerate(raw[1]))
        return Logical(operator, children)
    if operator == "not":
        if len(raw) != 2:
            raise QueryError(field, 'expected ["not", filter]')
        return Logical("not", (_filter(raw[1], f"{field}[1]", depth + 1),))
    if operator not in FILTER_OPERATORS:
        raise QueryError(field, f"unknown operator {operator!r}")
    return _condition(raw, field)


def _condition(raw: list[Any], field: str) -> Condition:
    if len(raw) not in (3, 4):
        raise QueryError(field, 'expected ["operator", "dimension", [values]]')
    operator = raw[0]
    dimension = check_dimension(raw[1], f"{field}[1]")
    if dimension in TIME_DIMENSIONS:
        raise QueryError(f"{field}[1]", "filter time with date_range")
    values = _values(raw[2], operator, field)
    if dimension in ID_DIMENSIONS and (
        operator not in {"is", "is_not"} or not all(_ID.fullmatch(value) for value in values)
    ):
        raise QueryError(f"{field}[2]", f"{dimension} is filtered by id: is or is_not, numbers")
    case_sensitive = _case_sensitive(raw[3], field) if len(raw) == 4 else True
    return Condition(operator, dimension, values, case_sensitive)


def _check_recipients(
    metrics: tuple[str, ...], dimensions: tuple[str, ...], filters: tuple[Filter, ...]
) -> None:
    # Recipients are counted over events; visit figures group whole visits instead.
    if "recipients" not in metrics:
        return
    used = set(dimensions)
    for item in filters:
        stack: list[Filter] = [item]
        while stack:
            node = stack.pop()
            if isinstance(node, Condition):
                used.add(node.dimension)
            else:
                stack.extend(node.children)
    if VISIT_METRICS & set(metrics) or used & set(SESSION_DIMENSIONS):
        raise QueryError(
            "metrics", "recipients does not combine with visit metrics or visit:* source dimensions"
        )


def _values(values: Any, operator: str, field: str) -> tuple[str, ...]:
    if not isinstance(values, list) or not values or len(values) > MAX_FILTER_VALUES:
        raise QueryError(f"{field}[2]", f"expected 1 to {MAX_FILTER_VALUES} values")
    clean: list[str] = []
    for index, value in enumerate(values):
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise QueryError(f"{field}[2][{index}]", "expected a string or a number")
        text = str(value)
        if len(text) > MAX_VALUE_LENGTH:
            raise QueryError(f"{field}[2][{index}]", "value too long")
        if operator.startswith("matches"):
            _check_pattern(text, f"{field}[2][{index}]")
        clean.append(text)
    return tuple(clean)


def _case_sensitive(modifiers: Any, field: str) -> bool:
    if not isinstance(modifiers, dict) or set(modifiers) - {"case_sensitive"}:
        raise QueryError(f"{field}[3]", 'expected {"case_sensitive": true|false}')
    flag = modifiers.get("case_sensitive", True)
    if not isinstance(flag, bool):
        raise QueryError(f"{field}[3].case_sensitive", "expected true or false")
    return flag


def _check_pattern(pattern: str, field: str) -> None:
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise QueryError(field, f"a pattern is at most {MAX_PATTERN_LENGTH} characters")
    if _NOT_RE2.search(pattern):
        raise QueryError(field, "back-references and look-around are not supported (RE2)")
    # Both stores use RE2: ask DuckDB's RE2 whether it takes the pattern, so that a pattern
    # Python's `re` accepts but RE2 refuses (possessive or atomic groups...) is a 400 here
    # rather than an error from the store.
    with _RE2_LOCK:
        try:
            _RE2.execute("SELECT regexp_matches('', ?)", [pattern])
        except duckdb.Error as exc:
            reason = str(exc).splitlines()[0]
            raise QueryError(field, f"invalid regular expression: {reason}") from None


def _order_by(
    raw: Any, metrics: tuple[str, ...], dimensions: tuple[str, ...]
) -> tuple[tuple[str, str], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise QueryError("order_by", 'expected [["metric or dimension", "asc|desc"], ...]')
    result: list[tuple[str, str]] = []
    for index, item in enumerate(raw):
        field = f"order_by[{index}]"
        if not isinstance(item, list) or len(item) != 2:
            raise QueryError(field, 'expected ["metric or dimension", "asc|desc"]')
        name, direction = item
        if name not in metrics and name not in dimensions:
            raise QueryError(field, f"{name!r} is not among the query's metrics or dimensions")
        if direction not in ("asc", "desc"):
            raise QueryError(field, 'direction is "asc" or "desc"')
        result.append((name, direction))
    return tuple(result)


def _pagination(raw: dict[str, Any]) -> tuple[int, int]:
    for key in raw:
        if key not in {"limit", "offset"}:
            raise QueryError(f"pagination.{key}", "unknown option")
    limit, offset = raw.get("limit", MAX_LIMIT), raw.get("offset", 0)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise QueryError("pagination.limit", f"expected an integer from 1 to {MAX_LIMIT}")
    if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset <= 10**7:
        raise QueryError("pagination.offset", "expected a non-negative integer")
    return limit, offset


def _comparison(raw: Any) -> Comparison | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise QueryError("include.comparisons", 'expected {"mode": "previous_period"}')
    mode = raw.get("mode")
    if mode not in COMPARISON_MODES:
        raise QueryError("include.comparisons.mode", f"use one of {_list(COMPARISON_MODES)}")
    for key in raw:
        if key not in {"mode", "date_range", "match_day_of_week"}:
            raise QueryError(f"include.comparisons.{key}", "unknown option")
    if mode != "custom":
        return Comparison(mode)
    dates = parse_date_range(raw.get("date_range"), "include.comparisons.date_range")
    if dates.name != "custom":
        raise QueryError("include.comparisons.date_range", 'expected ["YYYY-MM-DD", "YYYY-MM-DD"]')
    return Comparison("custom", dates.start, dates.end)


def _object(raw: Any, field: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise QueryError(field, "expected an object")
    return raw


def _flag(include: dict[str, Any], key: str) -> bool:
    value = include.get(key, False)
    if not isinstance(value, bool):
        raise QueryError(f"include.{key}", "expected true or false")
    return value


def _date(raw: str, field: str) -> date:
    try:
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise QueryError(field, f"{raw!r} is not a date (YYYY-MM-DD)") from exc


def _list(names: tuple[str, ...]) -> str:
    return ", ".join(names)
