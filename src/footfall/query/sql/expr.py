"""The SQL tree the planner builds: columns, bound values, logical functions and SELECTs.

Nodes say what is meant ("count the distinct visitors", "the hour bucket in this time zone");
a dialect (footfall.query.sql.dialect) only spells them. User values only ever enter the tree as
`Value` nodes, which every dialect renders as bound parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Col:
    """A column of the row source, by name."""

    name: str


@dataclass(frozen=True)
class Value:
    """A value bound as a parameter, never spliced into the SQL text."""

    value: Any


@dataclass(frozen=True)
class Lit:
    """A constant written by this code (numbers, fixed kind names): never user input."""

    value: str | int | float | bool


@dataclass(frozen=True)
class Func:
    """A logical function; each dialect maps `name` to its own spelling (see Dialect)."""

    name: str
    args: tuple[Expr, ...]


@dataclass(frozen=True)
class BinOp:
    """A binary operator: comparison, arithmetic or boolean."""

    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Not:
    """Boolean negation."""

    operand: Expr


@dataclass(frozen=True)
class InList:
    """`expr IN (values...)`, every value bound."""

    operand: Expr
    values: tuple[Value, ...]


@dataclass(frozen=True)
class InSelect:
    """`expr IN (SELECT ...)`: the subquery's single column."""

    operand: Expr
    select: Select


@dataclass(frozen=True)
class Scalar:
    """`(SELECT ...)`: a subquery giving one value."""

    select: Select


@dataclass(frozen=True)
class Case:
    """`CASE WHEN cond THEN then ELSE otherwise END`."""

    cond: Expr
    then: Expr
    otherwise: Expr


Expr = Col | Value | Lit | Func | BinOp | Not | InList | InSelect | Scalar | Case


@dataclass(frozen=True)
class Select:
    """One SELECT: aliased columns, a table or subquery, an optional inner join on one column.

    Column aliases are never the name of a source column (ClickHouse would resolve the source
    column to the alias), and nothing is qualified by a table name, which old ClickHouse joins
    do not resolve: joined subqueries give their columns distinct names instead.
    """

    columns: tuple[tuple[Expr, str], ...]
    source: str | Select | tuple[Select, ...]  # a tuple: its SELECTs' rows, UNION ALL
    join: Select | None = None  # INNER JOIN (join) USING (join_using)
    join_using: str | None = None
    where: Expr | None = None
    group_by: tuple[Expr, ...] = ()
    order_by: tuple[tuple[Expr, str], ...] = ()
    limit: int | None = None
    offset: int = 0


def and_all(parts: list[Expr]) -> Expr | None:
    """The conjunction of `parts` (None when empty)."""
    if not parts:
        return None
    combined = parts[0]
    for part in parts[1:]:
        combined = BinOp("AND", combined, part)
    return combined


def or_all(parts: list[Expr]) -> Expr:
    """The disjunction of `parts` (false when empty)."""
    if not parts:
        return Lit(False)
    combined = parts[0]
    for part in parts[1:]:
        combined = BinOp("OR", combined, part)
    return combined


def eq(left: Expr, right: Expr) -> BinOp:
    """`left = right`."""
    return BinOp("=", left, right)


def fn(name: str, *args: Expr) -> Func:
    """A logical function call."""
    return Func(name, args)
