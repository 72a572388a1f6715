"""The one query path: v2 JSON -> `Query` -> plan -> SQL for the store's dialect -> results."""

from footfall.query.goals import GoalSpec, page_regex
from footfall.query.params import parse_date_range, parse_query
from footfall.query.query import Comparison, Condition, DateRange, Logical, Query, QueryError
from footfall.query.result import DimensionLabels, QueryResult, ResultRow
from footfall.query.run import dialect_for, run_query

__all__ = [
    "Comparison",
    "Condition",
    "DateRange",
    "DimensionLabels",
    "GoalSpec",
    "Logical",
    "Query",
    "QueryError",
    "QueryResult",
    "ResultRow",
    "dialect_for",
    "page_regex",
    "parse_date_range",
    "parse_query",
    "run_query",
]
