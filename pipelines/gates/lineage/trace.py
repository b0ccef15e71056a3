"""Column-level lineage with sqlglot over compiled SQL: every path of an output column to its sources.

Each output column is traced back through CTEs, derived tables, every side of a UNION and
every value of a CASE or COALESCE, and through upstream models to the source columns. A
path records the approved functions it passes (APPROVED, the one list, with their classes);
references the tracer cannot resolve become paths with a problem, never silence.

What is not a value flow: CASE conditions and operands, NULLIF's second argument, window
PARTITION BY / ORDER BY and aggregate FILTERs; they choose rows or branches, the branch
values are what reach the output. WHERE, JOIN and GROUP BY never are.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import Scope, build_scope

from pipelines.naming import BUILD_SCHEMA, Source

# The desensitization functions (schema-qualified, lower case; defined in
# dbt_project/macros/privacy/functions.sql), each with the classes it protects: a function
# only protects what it was written for (mask_free_text leaves a name as it is, mask_phone
# keeps most of an identity number). None = any class (a keyed token reveals nothing). Plain
# hashes (md5, sha256) are deliberately absent: an unkeyed hash of an identity number is
# reversible.
APPROVED: dict[str, frozenset[str] | None] = {
    "privacy.mask_name": frozenset({"person_name"}),
    "privacy.mask_phone": frozenset({"phone"}),
    "privacy.mask_id": frozenset({"identity_number", "certificate_number", "household_id"}),
    "privacy.mask_account": frozenset({"bank_account"}),
    # free text, and any column in which content detection found numbers (it is masked as free text)
    "privacy.mask_free_text": frozenset({"free_text", "identity_number_in_text", "mobile_number",
                                         "bank_card_number"}),
    "privacy.token": None,
    "privacy.token_with": None,  # the same HMAC, its pads passed in (privacy_key.hmac_pads joined once)
    "privacy.generalize_address": frozenset({"address"}),
    "privacy.generalize_date": frozenset({"birth_date", "date", "death_detail"}),
}
APPROVED_FUNCTIONS: frozenset[str] = frozenset(APPROVED)


def protects(function: str, klass: str | None) -> bool:
    """Is `function` approved for values of `klass` (None: a class nobody can name)?"""
    if function not in APPROVED:
        return False
    classes = APPROVED[function]
    return classes is None or (klass is not None and klass in classes)
DIALECT = "postgres"
TIER_SCHEMA = BUILD_SCHEMA
UNRESOLVED = "?"


@dataclass(frozen=True)
class Hop:
    """One step of a path: a relation's output column, or a CTE's inside it."""

    relation: str  # schema.name of a model or a source table; "?" when unresolved
    column: str
    cte: str | None = None

    def __str__(self) -> str:
        where = f"{self.relation}[{self.cte}]" if self.cte else self.relation
        return f"{where}.{self.column}"


@dataclass(frozen=True)
class Flow:
    """A path from an output column (first hop) to a source column (last hop)."""

    hops: tuple[Hop, ...]
    guards: tuple[str, ...] = ()  # the approved functions on the path, innermost last
    problem: str | None = None  # why the tracer could not follow it

    @property
    def leaf(self) -> Hop:
        return self.hops[-1]

    @property
    def guard(self) -> str | None:
        """The outermost approved function on the path, None = unprotected."""
        return self.guards[0] if self.guards else None


def _function_name(node: exp.Expression) -> str | None:
    if isinstance(node, exp.Dot) and isinstance(node.expression, exp.Func):
        fn = node.expression
        name = fn.name if isinstance(fn, exp.Anonymous) else fn.sql_name()
        return f"{node.this.sql(dialect=DIALECT)}.{name}".replace('"', "").lower()
    if isinstance(node, exp.Anonymous) and not isinstance(node.parent, exp.Dot):
        return str(node.name).replace('"', "").lower()
    return None


def _context(column: exp.Column, root: exp.Expression) -> tuple[bool, tuple[str, ...]]:
    """(does the column's value reach root?, the approved functions around it, outermost first)."""
    node: exp.Expression = column
    value, guards = True, []
    while node is not root and node.parent is not None:
        parent = node.parent
        key = node.arg_key
        if isinstance(parent, exp.If) and key == "this":
            value = False  # CASE WHEN <condition>
        elif isinstance(parent, exp.Case) and key == "this":
            value = False  # CASE <operand> WHEN …
        elif isinstance(parent, exp.Nullif) and key == "expression":
            value = False
        elif isinstance(parent, exp.Window) and key in ("partition_by", "order"):
            value = False
        elif isinstance(parent, exp.Filter) and key == "expression":
            value = False
        name = _function_name(parent)
        if name in APPROVED:
            guards.insert(0, name)
        node = parent
    return value, tuple(guards)


def model_key(name: str) -> str:
    """schema.name for a model key (a database prefix is dropped; bare tier names get tiers.)."""
    parts = name.replace('"', "").split(".")
    if len(parts) >= 2:
        return ".".join(parts[-2:])
    return f"{TIER_SCHEMA}.{parts[0]}" if Source.parse(parts[0]) else parts[0]


# Parsing and qualifying the staging models is most of a proof's time; a gate and its tests
# prove the same SQL repeatedly. Qualified trees are only read after building, never changed.
_QUALIFIED: dict[tuple, tuple[Scope | None, list[str]]] = {}
_TABLES: dict[str, list[tuple[str, str]]] = {}


def _parse(text: str) -> exp.Expression:
    return sqlglot.parse_one(text, dialect=DIALECT)


def _tables(text: str) -> list[tuple[str, str]]:
    """(schema, name) of every table a model's SQL reads (CTE names included; harmless)."""
    if text not in _TABLES:
        _TABLES[text] = [(t.db, t.name) for t in _parse(text).find_all(exp.Table)]
    return _TABLES[text]


class Tracer:
    """Parses, qualifies (stars expanded) and traces a set of models, memoising every step."""

    def __init__(self, models: Mapping[str, str]) -> None:
        self.sql = {model_key(k): v for k, v in models.items()}
        self.by_name = {k.rpartition(".")[2]: k for k in self.sql}
        self.schema: dict[str, dict[str, dict[str, str]]] = {}
        self.roots: dict[str, Scope] = {}
        self.columns: dict[str, list[str]] = {}
        self.errors: dict[str, str] = {}
        self._busy: set[tuple] = set()
        self._memo: dict[tuple, frozenset[Flow]] = {}

    def model_of(self, db: str, name: str) -> str | None:
        if db:
            k = f"{db}.{name}"
            return k if k in self.sql else None
        return self.by_name.get(name)

    def load(self, key: str, seen: frozenset[str] = frozenset()) -> Scope | None:
        """The qualified root scope of a model (its upstream models loaded first), memoised across tracers."""
        if key in self.roots or key in self.errors:
            return self.roots.get(key)
        text = self.sql[key]
        try:
            tables = _tables(text)
            upstream = []
            for db, name in tables:
                model = self.model_of(db, name)
                if model and model != key and model not in seen:
                    self.load(model, seen | {key})
                if model and model != key:
                    upstream.append((model, tuple(self.columns.get(model, ()))))
            cache_key = (text, tuple(sorted(set(upstream))))
            if cache_key not in _QUALIFIED:
                tree = _parse(text)
                for t in tree.find_all(exp.Table):
                    t.set("catalog", None)
                q = qualify(tree, dialect=DIALECT, schema=self.schema or None, validate_qualify_columns=False,
                            quote_identifiers=False, identify=False)
                if len(_QUALIFIED) > 1024:
                    _QUALIFIED.clear()
                _QUALIFIED[cache_key] = (build_scope(q), list(q.named_selects))
            root, columns = _QUALIFIED[cache_key]
        except (SqlglotError, ValueError, KeyError) as exc:
            self.errors[key] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
            return None
        if root is None:
            self.errors[key] = "not a query"
            return None
        self.roots[key] = root
        self.columns[key] = columns
        schema, _, name = key.rpartition(".")
        self.schema.setdefault(schema, {})[name] = dict.fromkeys(columns, "text")
        return root

    def model_flows(self, key: str, column: str) -> frozenset[Flow]:
        root = self.load(key)
        if root is None:
            return frozenset({Flow((Hop(key, column), Hop(UNRESOLVED, column)),
                                   problem=f"{key} cannot be parsed: {self.errors.get(key)}")})
        return self._scope_flows(key, root, column, Hop(key, column))

    def _scope_flows(self, key: str, scope: Scope, column: str, hop: Hop) -> frozenset[Flow]:
        memo = (key, id(scope), column)
        if memo in self._memo:
            return self._memo[memo]
        if memo in self._busy:
            return frozenset({Flow((hop, Hop(UNRESOLVED, column)), problem="recursive reference")})
        self._busy.add(memo)
        try:
            expr = scope.expression
            if isinstance(expr, exp.SetOperation):
                names = expr.named_selects
                if column not in names:
                    flows = self._unresolved(hop, f"no column {column} in a set operation")
                else:
                    flows = frozenset(f for side in _branches(scope)
                                      for f in self._side_flows(key, side, names.index(column), hop))
            elif isinstance(expr, exp.Select):
                proj = next((p for p in expr.selects if p.alias_or_name == column), None)
                flows = (self._unresolved(hop, f"no output column {column}") if proj is None
                         else self._expression_flows(key, scope, proj, hop))
            else:
                flows = self._unresolved(hop, f"unsupported {type(expr).__name__}")
        finally:
            self._busy.discard(memo)
        self._memo[memo] = flows
        return flows

    def _side_flows(self, key: str, scope: Scope, index: int, hop: Hop) -> frozenset[Flow]:
        expr = scope.expression
        if isinstance(expr, exp.SetOperation):
            return frozenset(f for side in _branches(scope) for f in self._side_flows(key, side, index, hop))
        if not isinstance(expr, exp.Select) or index >= len(expr.selects):
            return self._unresolved(hop, "a set operation's sides differ in width")
        return self._expression_flows(key, scope, expr.selects[index], hop)

    @staticmethod
    def _unresolved(hop: Hop, problem: str) -> frozenset[Flow]:
        return frozenset({Flow((hop, Hop(UNRESOLVED, hop.column)), problem=problem)})

    def _expression_flows(self, key: str, scope: Scope, proj: exp.Expression, hop: Hop) -> frozenset[Flow]:
        flows: set[Flow] = set()
        own = scope.expression
        for sub in scope.subquery_scopes:  # scalar subqueries inside this projection
            if sub.expression.find_ancestor(exp.Select) is own and _inside(sub.expression, proj):
                value, guards = _context(sub.expression, proj)
                if value and isinstance(sub.expression, exp.Select) and sub.expression.selects:
                    first = sub.expression.selects[0].alias_or_name
                    for f in self._scope_flows(key, sub, first, Hop(key, first, "subquery")):
                        flows.add(Flow((hop,) + f.hops, guards + f.guards, f.problem))
        for col in proj.find_all(exp.Column):
            if col.find_ancestor(exp.Select) is not own:
                continue  # inside a subquery: traced above
            value, guards = _context(col, proj)
            if not value:
                continue
            for f in self._column_flows(key, scope, col):
                flows.add(Flow((hop,) + f.hops, guards + f.guards, f.problem))
        if isinstance(proj.unalias(), exp.Star) or any(isinstance(c.this, exp.Star)
                                                       for c in proj.find_all(exp.Column)):
            flows |= self._unresolved(hop, "a * that cannot be expanded (unknown relation)")
        return frozenset(flows)

    def _column_flows(self, key: str, scope: Scope, col: exp.Column) -> frozenset[Flow]:
        name = col.name
        if col.table:
            source = scope.sources.get(col.table)
        else:
            source = next(iter(scope.sources.values())) if len(scope.sources) == 1 else None
        if source is None:
            problem = f"cannot resolve {col.sql(dialect=DIALECT)}"
            return frozenset({Flow((Hop(UNRESOLVED, name),), problem=problem)})
        if isinstance(source, Scope):
            return self._scope_flows(key, source, name, Hop(key, name, _scope_name(source)))
        if isinstance(source, exp.Table):
            upstream = self.model_of(source.db, source.name)
            if upstream:
                return self.model_flows(upstream, name)
            relation = f"{source.db}.{source.name}" if source.db else source.name
            return frozenset({Flow((Hop(relation, name),))})
        return frozenset({Flow((Hop(UNRESOLVED, name),), problem="unsupported source")})


def _branches(scope: Scope) -> list[Scope]:
    """The two sides of a set operation's scope (the attribute's name changed across sqlglot versions)."""
    return list(getattr(scope, "set_operation_scopes", None) or getattr(scope, "union_scopes", None) or [])


def _inside(node: exp.Expression, root: exp.Expression) -> bool:
    while node is not None:
        if node is root:
            return True
        node = node.parent
    return False


def _scope_name(scope: Scope) -> str:
    parent = scope.expression.parent
    if isinstance(parent, (exp.CTE, exp.Subquery)) and parent.alias:
        return parent.alias
    return "subquery"
