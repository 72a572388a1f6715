"""Rendering the SQL tree to text plus bound parameters; subclasses only spell functions.

The renderer walks the tree once, collecting every `Value` into the parameter container in the
store's own style, so no user value ever reaches the SQL text.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from footfall.query.sql.expr import (
    BinOp,
    Case,
    Col,
    Expr,
    Func,
    InList,
    InSelect,
    Lit,
    Not,
    Scalar,
    Select,
    Value,
)

_OPERATORS = frozenset({"=", "!=", "<", "<=", ">", ">=", "AND", "OR", "+", "-", "*", "/"})

# A spelling receives the rendered arguments and returns the function call's SQL.
Spelling = Callable[[list[str]], str]


class UnknownFunctionError(LookupError):
    """The planner asked for a logical function this dialect does not spell."""


class Dialect(ABC):
    """Base renderer: standard SQL for the shared parts; `functions` maps logical names."""

    name = "sql"
    functions: dict[str, Spelling] = {}

    def render(self, select: Select) -> tuple[str, Any]:
        """The SQL text of `select` and its parameters in the store's style."""
        state = _Params(self)
        sql = self._select(select, state)
        return sql, state.container()

    # Hooks a dialect overrides.

    @abstractmethod
    def placeholder(self, index: int) -> str:
        """How the parameter number `index` (0-based) is written."""

    @abstractmethod
    def bind(self, values: list[Any]) -> Any:
        """The parameter container given to the store's execute()."""

    def value(self, placeholder: str, value: Any) -> str:
        """How a bound value appears in SQL (a dialect may wrap timestamps)."""
        return placeholder

    def literal(self, value: str | int | float | bool) -> str:
        """A constant from this code (never user input)."""
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, str):
            if "'" in value or "\\" in value or "%" in value:
                raise ValueError("literals are fixed identifiers; bind anything else")
            return f"'{value}'"
        return repr(value)

    def join_keyword(self) -> str:
        """The keyword for an inner join returning every match."""
        return "INNER JOIN"

    def limit(self, limit: int | None, offset: int) -> str:
        """The LIMIT/OFFSET clause."""
        if limit is None:
            return f" OFFSET {int(offset)}" if offset else ""
        return f" LIMIT {int(limit)}" + (f" OFFSET {int(offset)}" if offset else "")

    # The walk.

    def _select(self, select: Select, state: _Params) -> str:
        columns = ", ".join(f"{self._expr(e, state)} AS {alias}" for e, alias in select.columns)
        if isinstance(select.source, Select):
            source = f"({self._select(select.source, state)})"
        elif isinstance(select.source, tuple):
            parts = [self._select(part, state) for part in select.source]
            source = "(" + " UNION ALL ".join(parts) + ")"
        else:
            source = select.source
        sql = f"SELECT {columns} FROM {source}"
        if select.join is not None:
            joined = self._select(select.join, state)
            sql += f" {self.join_keyword()} ({joined}) USING ({select.join_using})"
        if select.where is not None:
            sql += f" WHERE {self._expr(select.where, state)}"
        if select.group_by:
            sql += " GROUP BY " + ", ".join(self._expr(e, state) for e in select.group_by)
        if select.order_by:
            terms = [f"{self._expr(e, state)} {_direction(d)}" for e, d in select.order_by]
            sql += " ORDER BY " + ", ".join(terms)
        return sql + self.limit(select.limit, select.offset)

    def _expr(self, expr: Expr, state: _Params) -> str:
        match expr:
            case Col(name):
                return name
            case Value(value):
                return self.value(state.add(value), value)
            case Lit(value):
                return self.literal(value)
            case Func(name, args):
                spelling = self.functions.get(name)
                if spelling is None:
                    raise UnknownFunctionError(f"{self.name} does not spell {name!r}")
                return spelling([self._expr(arg, state) for arg in args])
        return self._compound(expr, state)

    def _compound(self, expr: Expr, state: _Params) -> str:
        match expr:
            case BinOp(op, left, right):
                if op not in _OPERATORS:
                    raise ValueError(f"unknown operator {op!r}")
                return f"({self._expr(left, state)} {op} {self._expr(right, state)})"
            case Not(operand):
                return f"(NOT {self._expr(operand, state)})"
            case InList(operand, values):
                if not values:
                    return self.literal(False)
                items = ", ".join(self._expr(v, state) for v in values)
                return f"({self._expr(operand, state)} IN ({items}))"
            case InSelect(operand, subquery):
                return f"({self._expr(operand, state)} IN ({self._select(subquery, state)}))"
            case Scalar(subquery):
                return f"({self._select(subquery, state)})"
            case Case(cond, then, otherwise):
                return (
                    f"(CASE WHEN {self._expr(cond, state)} THEN {self._expr(then, state)} "
                    f"ELSE {self._expr(otherwise, state)} END)"
                )
        raise TypeError(f"not an SQL expression: {expr!r}")


class _Params:
    def __init__(self, dialect: Dialect) -> None:
        self._dialect = dialect
        self._values: list[Any] = []

    def add(self, value: Any) -> str:
        self._values.append(value)
        return self._dialect.placeholder(len(self._values) - 1)

    def container(self) -> Any:
        return self._dialect.bind(self._values)


def _direction(direction: str) -> str:
    if direction.lower() not in {"asc", "desc"}:
        raise ValueError(f"unknown sort direction {direction!r}")
    return direction.upper()


def naive_utc(moment: datetime) -> datetime:
    """A naive UTC datetime (what both stores compare `ts` against)."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)
