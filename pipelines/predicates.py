"""Predicates that people write (tags, screening rules): parsed by sqlglot, held to a whitelist.

A predicate is a boolean SQL expression over one ledger's base columns, written in YAML by a
county's data office and compiled into a dbt model that every unit's data passes through. So it
may name only those columns and literals, compare, combine with AND/OR/NOT, and call a few pure
functions; never another relation, a subquery, a statement, or the wall clock (a re-run must give
the same tags: ages and deadlines count from the ledger's `batch_date`). What reaches dbt is
sqlglot's rendering of the checked tree, never the text as written.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

# Node types a predicate is made of. Anything else (Select, Subquery, Exists, Table, Dot, Star,
# Anonymous functions, CurrentDate, Window, Placeholder, …) is refused by name.
_LOGIC = (exp.And, exp.Or, exp.Not, exp.Paren, exp.Xor)
_COMPARE = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Is, exp.In, exp.Between,
            exp.Like, exp.ILike, exp.NullSafeEQ, exp.NullSafeNEQ)
_VALUES = (exp.Column, exp.Identifier, exp.Literal, exp.Boolean, exp.Null, exp.Neg, exp.Add,
           exp.Sub, exp.Mul, exp.Div, exp.Mod, exp.Interval, exp.Var, exp.Cast, exp.DataType,
           exp.DataTypeParam, exp.Tuple)
# The function whitelist: pure, deterministic, over one row.
FUNCTIONS = {
    exp.Coalesce: "coalesce", exp.Greatest: "greatest", exp.Least: "least", exp.Abs: "abs",
    exp.Extract: "extract / date_part", exp.Length: "length", exp.Lower: "lower",
    exp.Upper: "upper", exp.If: "case", exp.Case: "case",
}
_ALLOWED = _LOGIC + _COMPARE + _VALUES + tuple(FUNCTIONS)


class PredicateError(ValueError):
    """A predicate refused: names its owner (tag or rule), the offending node and its position."""


@dataclass(frozen=True)
class Predicate:
    owner: str
    text: str
    tree: exp.Expression
    columns: frozenset[str]  # the base columns it reads

    def sql(self, alias: str) -> str:
        """The checked tree as PostgreSQL, its columns qualified by `alias` (quoted)."""
        tree = self.tree.copy()
        for column in tree.find_all(exp.Column):
            column.set("table", exp.to_identifier(alias, quoted=True))
            column.this.set("quoted", True)
        return tree.sql(dialect="postgres")


def check(owner: str, text: object, columns: Collection[str]) -> Predicate:
    """Parse `text` and refuse anything but a boolean expression over `columns`."""
    if not isinstance(text, str) or not text.strip():
        raise PredicateError(f"{owner}: the predicate must be a non-empty SQL expression")
    try:
        statements = sqlglot.parse(text, read="postgres")
    except ParseError as exc:
        first = exc.errors[0] if exc.errors else {}
        where = f" at line {first.get('line')}, column {first.get('col')}" if first else ""
        raise PredicateError(f"{owner}: not a SQL expression{where}: {first.get('description', exc)}") from None
    statements = [s for s in statements if s is not None]
    if len(statements) != 1:
        raise PredicateError(f"{owner}: one expression expected, found {len(statements)} statements")
    tree = statements[0]
    for node in tree.walk():  # what it reaches out to first, then what it is made of
        _reach(owner, text, node)
    for node in tree.walk():
        _judge(owner, text, node, columns)
    if isinstance(tree, _VALUES) and not isinstance(tree, exp.Column | exp.Boolean):
        raise PredicateError(f"{owner}: {tree.sql()!r} is a value, not a condition{_at(text, tree)}")
    read = frozenset(c.name for c in tree.find_all(exp.Column))
    return Predicate(owner, text, tree, read)


def _reach(owner: str, text: str, node: exp.Expression) -> None:
    if isinstance(node, exp.Subquery | exp.Select | exp.Exists | exp.Union):
        raise PredicateError(f"{owner}: a subquery is not allowed: {_show(node)}{_at(text, node)}")
    if isinstance(node, exp.Table):
        raise PredicateError(f"{owner}: another relation is not allowed: {_show(node)}{_at(text, node)}")


def _judge(owner: str, text: str, node: exp.Expression, columns: Collection[str]) -> None:
    if isinstance(node, exp.Column):
        if node.table or node.args.get("db") or node.args.get("catalog"):
            raise PredicateError(f"{owner}: another relation is not allowed: {_show(node)} names "
                                 f"{node.table!r}{_at(text, node)}")
        if node.name not in columns:
            raise PredicateError(f"{owner}: unknown column {node.name!r}{_at(text, node)}; the ledger's "
                                 f"base columns are {', '.join(sorted(columns))}")
        return
    if isinstance(node, _ALLOWED):
        return
    if isinstance(node, exp.Func):
        name = (node.name if isinstance(node, exp.Anonymous) else node.sql_name()).lower()
        raise PredicateError(f"{owner}: function {name!r} is not allowed{_at(text, node, name)}; allowed: "
                             f"{', '.join(sorted(set(FUNCTIONS.values())))}")
    raise PredicateError(f"{owner}: {type(node).__name__} is not allowed: {_show(node)}{_at(text, node)}")


def _show(node: exp.Expression) -> str:
    text = node.sql(dialect="postgres")
    return repr(text if len(text) <= 60 else text[:57] + "...")


def _at(text: str, node: exp.Expression, word: str | None = None) -> str:
    """' at line L, column C' of the node's first token (sqlglot keeps positions on leaves; a
    keyword function such as current_date has none, so its word is looked up in the text)."""
    starts = [n.meta["start"] for n in node.walk() if n.meta and "start" in n.meta]
    if not starts and word and word in text.lower():
        starts = [text.lower().index(word)]
    if not starts:
        return ""
    start = min(starts)
    line = text.count("\n", 0, start) + 1
    column = start - (text.rfind("\n", 0, start) + 1) + 1
    return f" at line {line}, column {column}"
