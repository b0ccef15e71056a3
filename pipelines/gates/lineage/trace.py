"""Lineage proof: no sensitive source column reaches a tier unmasked, proven on compiled SQL.

Column-level lineage with sqlglot over the compiled SQL of every dbt model that feeds a
`tiers.<audience>__<dataset>` relation: each output column is traced back through CTEs,
derived tables, every side of a UNION and every value of a CASE or COALESCE, and through
upstream models (int_*__protected, int_*__current, stg_*) to the source columns (raw.*).
A flow is protected once it passes an approved function (APPROVED_FUNCTIONS, the one list);
an unprotected flow from a source column of grade ≥ 3 is a leak unless the audience's
action for that column is keep. References the tracer cannot resolve fail closed.

What is not a value flow: CASE conditions and operands, NULLIF's second argument, window
PARTITION BY / ORDER BY and aggregate FILTERs; they choose rows or branches, the branch
values are what reach the output. WHERE, JOIN and GROUP BY never are.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import Scope, build_scope

from pipelines.gates.policy import AUDIENCES, Policy
from pipelines.publish.gates import GateResult
from pipelines.topology import PROJECT_ROOT

if TYPE_CHECKING:
    from pipelines.publish.build import BuiltVersion
    from pipelines.publish.gates import Gate

# The desensitization functions a flow may pass to count as protected (schema-qualified,
# lower case). Defined in dbt_project/macros/privacy/functions.sql. Plain hashes (md5,
# sha256) are deliberately absent: an unkeyed hash of an identity number is reversible.
APPROVED_FUNCTIONS: frozenset[str] = frozenset({
    "privacy.mask_name",
    "privacy.mask_phone",
    "privacy.mask_id",
    "privacy.mask_account",
    "privacy.mask_free_text",
    "privacy.token",
    "privacy.generalize_address",
    "privacy.generalize_date",
})
SENSITIVE_GRADE = 3
DIALECT = "postgres"
DBT_DIR = PROJECT_ROOT / "dbt_project"
TIER_SCHEMA = "tiers"
COMPILE_SELECT = "+path:models/tiers,resource_type:model"

_TIER_NAME = re.compile(rf"^({'|'.join(AUDIENCES)})__([a-z0-9_]+)$")
_DATASET_OF = (
    re.compile(r"^raw\.([a-z0-9_]+)$"),
    re.compile(r"^staging\.stg_([a-z0-9_]+)$"),
    re.compile(r"^intermediate\.int_([a-z0-9_]+?)__[a-z0-9_]+$"),
    re.compile(rf"^{TIER_SCHEMA}\.(?:{'|'.join(AUDIENCES)})__([a-z0-9_]+)$"),
)
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
    guard: str | None = None  # the approved function on the path, None = unprotected
    problem: str | None = None  # why the tracer could not follow it

    @property
    def leaf(self) -> Hop:
        return self.hops[-1]


@dataclass(frozen=True)
class Leak:
    """A sensitive source column that reaches a tier relation without an approved function."""

    relation: str  # tiers.<audience>__<dataset>
    column: str
    audience: str
    source: str  # raw.<table>.<column>, or "?" when unresolved
    grade: int | None
    action: str | None
    path: tuple[str, ...]  # relation.column ← … ← source (CTE hops where a rename happens)
    problem: str | None = None

    def describe(self) -> str:
        chain = " ← ".join(self.path)
        if self.problem:
            return f"{self.relation}.{self.column}: cannot be proven ({self.problem}): {chain}"
        return (f"{chain}: grade {self.grade} source reaches the {self.audience} audience unmasked "
                f"(policy: {self.action})")

    def as_json(self) -> dict[str, object]:
        return {"relation": self.relation, "column": self.column, "audience": self.audience,
                "source": self.source, "grade": self.grade, "action": self.action,
                "path": " ← ".join(self.path), "problem": self.problem}


def dataset_of(relation: str) -> str | None:
    """The contract dataset a relation holds (raw.x, staging.stg_x, int_x__*, tiers.a__x)."""
    for pattern in _DATASET_OF:
        m = pattern.match(relation)
        if m:
            return m.group(1)
    return None


def tier_parts(key: str) -> tuple[str, str] | None:
    """(audience, dataset) of a tiers.<audience>__<dataset> model key, else None."""
    schema, _, name = key.rpartition(".")
    m = _TIER_NAME.match(name)
    if not m or schema not in ("", TIER_SCHEMA):
        return None
    return m.group(1), m.group(2)


def _function_name(node: exp.Expression) -> str | None:
    if isinstance(node, exp.Dot) and isinstance(node.expression, exp.Func):
        fn = node.expression
        name = fn.name if isinstance(fn, exp.Anonymous) else fn.sql_name()
        return f"{node.this.sql(dialect=DIALECT)}.{name}".replace('"', "").lower()
    if isinstance(node, exp.Anonymous) and not isinstance(node.parent, exp.Dot):
        return str(node.name).replace('"', "").lower()
    return None


def _context(column: exp.Column, root: exp.Expression) -> tuple[bool, str | None]:
    """(does the column's value reach root?, the approved function around it, if any)."""
    node: exp.Expression = column
    value, guard = True, None
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
        if guard is None and name in APPROVED_FUNCTIONS:
            guard = name
        node = parent
    return value, guard


def _key(name: str) -> str:
    """schema.name for a model key (a database prefix is dropped; bare tier names get tiers.)."""
    parts = name.replace('"', "").split(".")
    if len(parts) >= 2:
        return ".".join(parts[-2:])
    return f"{TIER_SCHEMA}.{parts[0]}" if _TIER_NAME.match(parts[0]) else parts[0]


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


class _Tracer:
    """Parses, qualifies (stars expanded) and traces a set of models, memoising every step."""

    def __init__(self, models: Mapping[str, str]) -> None:
        self.sql = {_key(k): v for k, v in models.items()}
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
                value, guard = _context(sub.expression, proj)
                if value and isinstance(sub.expression, exp.Select) and sub.expression.selects:
                    first = sub.expression.selects[0].alias_or_name
                    for f in self._scope_flows(key, sub, first, Hop(key, first, "subquery")):
                        flows.add(Flow((hop,) + f.hops, guard or f.guard, f.problem))
        for col in proj.find_all(exp.Column):
            if col.find_ancestor(exp.Select) is not own:
                continue  # inside a subquery: traced above
            value, guard = _context(col, proj)
            if not value:
                continue
            for f in self._column_flows(key, scope, col):
                flows.add(Flow((hop,) + f.hops, guard or f.guard, f.problem))
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


def _display(hops: Sequence[Hop]) -> tuple[str, ...]:
    """Relation hops always; a CTE hop only where the column is renamed inside it."""
    out = []
    for i, h in enumerate(hops):
        renamed = i + 1 < len(hops) and hops[i + 1].column != h.column
        if h.cte is None or renamed:
            out.append(str(h))
    return tuple(out)


def tier_models(models: Mapping[str, str]) -> list[str]:
    """Keys (schema.name) of the tier relations among `models`."""
    return sorted(k for k in (_key(m) for m in models) if tier_parts(k))


def prove(models: Mapping[str, str], policy: Policy, only: Iterable[str] | None = None) -> list[Leak]:
    """Every leak from the tier models among `models` (compiled SQL by schema.name); [] = proven.

    `only` restricts the proof to these tier models (schema.name or bare names).
    """
    return _prove(_Tracer(models), policy, only)


def _prove(tracer: _Tracer, policy: Policy, only: Iterable[str] | None) -> list[Leak]:
    wanted = {_key(o) for o in only} if only is not None else None
    leaks: dict[tuple, Leak] = {}
    for key in tier_models(tracer.sql):
        if wanted is not None and key not in wanted:
            continue
        audience, _dataset = tier_parts(key)  # type: ignore[misc]
        if tracer.load(key) is None:
            leaks[(key, "*", "")] = Leak(key, "*", audience, UNRESOLVED, None, None, (key,),
                                         f"cannot be parsed: {tracer.errors.get(key)}")
            continue
        for column in tracer.columns[key]:
            for flow in sorted(tracer.model_flows(key, column), key=lambda f: len(f.hops)):
                if flow.guard:
                    continue
                leaf = flow.leaf
                if flow.problem or leaf.relation == UNRESOLVED:
                    leak = Leak(key, column, audience, UNRESOLVED, None, None, _display(flow.hops),
                                flow.problem or "unresolved")
                else:
                    ds = dataset_of(leaf.relation)
                    grade = policy.grade(ds, leaf.column) if ds else None
                    if grade is None or grade < SENSITIVE_GRADE:
                        continue
                    action = policy.action(audience, ds, leaf.column)  # type: ignore[arg-type]
                    if action == "keep":
                        continue
                    leak = Leak(key, column, audience, f"{leaf.relation}.{leaf.column}", grade, action,
                                _display(flow.hops))
                leaks.setdefault((key, column, leak.source), leak)  # the shortest path per source
    return list(leaks.values())


def flows(models: Mapping[str, str], key: str, column: str) -> list[Flow]:
    """Every path of one output column back to its sources, shortest first (for tests and audits)."""
    return sorted(_Tracer(models).model_flows(_key(key), column), key=lambda f: (len(f.hops), str(f.hops)))


def output_columns(models: Mapping[str, str], key: str) -> list[str] | None:
    """The output columns of one model as the tracer sees them (stars expanded)."""
    tracer = _Tracer(models)
    return list(tracer.columns[_key(key)]) if tracer.load(_key(key)) is not None else None


# --- where the compiled SQL comes from -------------------------------------------------


def compiled_models(manifests: Iterable[Path | str]) -> dict[str, str]:
    """schema.name → compiled SQL of every compiled model in dbt manifests (later ones win)."""
    out: dict[str, str] = {}
    for path in manifests:
        p = Path(path)
        if p.is_dir():
            p = p / "manifest.json"
        nodes = json.loads(p.read_text(encoding="utf-8")).get("nodes", {})
        for node in nodes.values():
            if node.get("resource_type") == "model" and node.get("compiled_code"):
                out[f"{node['schema']}.{node['name']}"] = node["compiled_code"]
    return out


def _dbt_env(conn: psycopg.Connection) -> dict[str, str]:
    info = conn.info
    return {
        "HUILIU_PG_HOST": info.host or "127.0.0.1",
        "HUILIU_PG_PORT": str(info.port or 5432),
        "HUILIU_PG_USER": info.user or "",
        "HUILIU_PG_PASSWORD": info.password or "",
        "HUILIU_PG_DBNAME": info.dbname,
    }


def _seed_partial_parse(target: Path, dbname: str) -> None:
    """Start a new target path from the partial-parse state of a recent dbt run on the same database.

    dbt keeps partial parsing only when the profile (hence the database) is unchanged, so the
    candidates are the newest target paths whose manifest names this database; dbt still
    checks the state and parses in full when it does not fit. A hit saves ~8 s.
    """
    mine = target / "partial_parse.msgpack"
    if mine.exists():
        return
    candidates = sorted((p for p in (DBT_DIR / "target").glob("*/partial_parse.msgpack") if p.parent != target),
                        key=lambda p: p.stat().st_mtime, reverse=True)
    needle = f'"database": "{dbname}"'
    for path in candidates[:10]:
        try:
            if needle in (path.parent / "manifest.json").read_text(encoding="utf-8"):
                shutil.copyfile(path, mine)
                return
        except OSError:
            continue


class Compilation:
    """A `dbt compile` of the tier models and everything upstream, running in the background.

    The tier SQL depends on governance.column_catalog at compile time, so compiling under the
    publish lock, right after the tiers were built, yields the SQL that built them. One target
    path per database keeps dbt's partial parsing (about 9 s instead of 17 s); compile runs no
    hooks and writes nothing to the database.
    """

    def __init__(self, conn: psycopg.Connection, target_path: Path | None = None) -> None:
        self.target = target_path or DBT_DIR / "target" / f"gates_lineage_{conn.info.dbname}"
        self.target.mkdir(parents=True, exist_ok=True)
        _seed_partial_parse(self.target, conn.info.dbname)
        self._logs = tempfile.TemporaryDirectory(prefix="huiliu_dbt_log_")
        env = {**os.environ, **_dbt_env(conn), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
        dbt = str(Path(sys.executable).parent / "dbt")
        self.started = time.monotonic()
        self._proc = subprocess.Popen(
            [dbt, "compile", "--select", COMPILE_SELECT, "--target-path", str(self.target), "--log-path",
             self._logs.name, "--quiet", "--project-dir", str(DBT_DIR), "--profiles-dir", str(DBT_DIR)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def cancel(self) -> None:
        """Stop the compile (the gate is abandoned)."""
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.communicate()
        self._logs.cleanup()

    def result(self, timeout: float = 600) -> dict[str, str]:
        """schema.name → compiled SQL; raises RuntimeError when dbt failed."""
        try:
            out, _ = self._proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.communicate()
            raise RuntimeError(f"dbt compile did not finish in {timeout:.0f} s") from None
        finally:
            self.seconds = time.monotonic() - self.started
            self._logs.cleanup()
        if self._proc.returncode != 0:
            raise RuntimeError("dbt compile failed: " + " | ".join((out or "").strip().splitlines()[-5:]))
        return compiled_models([self.target])


def compile_models(conn: psycopg.Connection, target_path: Path | None = None) -> tuple[dict[str, str], Path]:
    """`dbt compile` of the tier models and their upstream against conn's database (see Compilation)."""
    c = Compilation(conn, target_path)
    return c.result(), c.target


# --- the gate ----------------------------------------------------------------------------


def _approved_in_database(conn: psycopg.Connection) -> list[str]:
    """Problems with the approved functions themselves: missing, or executable by PUBLIC."""
    rows = conn.execute(
        "SELECT n.nspname || '.' || p.proname, has_function_privilege('public', p.oid, 'EXECUTE') "
        "FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'privacy'").fetchall()
    found = {name: public for name, public in rows}
    problems = [f"{f} is missing" for f in sorted(APPROVED_FUNCTIONS) if f not in found]
    problems += [f"{f} is executable by PUBLIC" for f in sorted(APPROVED_FUNCTIONS) if found.get(f)]
    return problems


def lineage_result(conn: psycopg.Connection, version: BuiltVersion, models: Mapping[str, str],
                   origin: str) -> GateResult:
    """Prove the version's tier relations from `models`, and bind the proof to what was built."""
    t0 = time.monotonic()
    policy = Policy.from_catalog(conn)
    sources = list(version.layout.sources)
    keys = [f"{TIER_SCHEMA}.{s}" for s in sources]
    tracer = _Tracer(models)
    leaks = _prove(tracer, policy, keys)
    mismatched: dict[str, str] = {}
    columns = 0
    for source, key in zip(sources, keys, strict=True):
        compiled = list(tracer.columns[key]) if key in tracer.sql and tracer.load(key) is not None else None
        built = list(version.shapes[source].names) if source in version.shapes else None
        if compiled is None:
            mismatched[source] = "no compiled SQL for it"
        elif built is not None and compiled != built:
            mismatched[source] = f"compiled columns {compiled} differ from the built {built}"
        columns += len(compiled or [])
    problems = _approved_in_database(conn)
    passed = not leaks and not mismatched and not problems
    details: dict[str, object] = {
        "relations": len(sources), "columns": columns, "compiled_from": origin,
        "approved_functions": sorted(APPROVED_FUNCTIONS), "seconds": round(time.monotonic() - t0, 2),
    }
    if leaks:
        details["leaks"] = [leak.as_json() for leak in leaks]
    if mismatched:
        details["not_bound"] = mismatched
    if problems:
        details["function_problems"] = problems
    if passed:
        summary = f"{columns} columns of {len(sources)} tier relations proven: every sensitive flow is masked"
    else:
        parts = []
        if leaks:
            parts.append(f"{len(leaks)} leak(s): " + "; ".join(leak.describe() for leak in leaks[:3])
                         + (" …" if len(leaks) > 3 else ""))
        if mismatched:
            parts.append(f"{len(mismatched)} relation(s) not described by the compiled SQL")
        if problems:
            parts.append("; ".join(problems))
        summary = " | ".join(parts)
    return GateResult("lineage_proof", passed, summary, details)


def lineage_gate(conn: psycopg.Connection, version: BuiltVersion) -> list[GateResult]:
    """Gate: compile the tier models against this database (dbt compile) and prove them."""
    try:
        compilation = Compilation(conn)
    except OSError as exc:
        return [GateResult("lineage_proof", False, f"dbt compile could not start: {exc}", {})]
    return [finish_lineage(conn, version, compilation)]


def finish_lineage(conn: psycopg.Connection, version: BuiltVersion, compilation: Compilation) -> GateResult:
    """Wait for a background compile and prove the version's relations from it."""
    try:
        models = compilation.result()
    except RuntimeError as exc:
        return GateResult("lineage_proof", False, f"no compiled SQL to prove: {exc}", {})
    result = lineage_result(conn, version, models, str(compilation.target))
    result.details["compile_seconds"] = round(compilation.seconds, 2)
    return result


def lineage_gate_from(*manifests: Path | str) -> Gate:
    """A lineage gate over given dbt target paths/manifests (e.g. the tiers build's own), no compile."""

    def gate(conn: psycopg.Connection, version: BuiltVersion) -> list[GateResult]:
        try:
            models = compiled_models(manifests)
        except (OSError, ValueError) as exc:
            return [GateResult("lineage_proof", False, f"no compiled SQL to prove: {exc}", {})]
        return [lineage_result(conn, version, models, ", ".join(str(m) for m in manifests))]

    return gate
