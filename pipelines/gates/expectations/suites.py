"""Great Expectations suites (expectations/*.json) run inside PostgreSQL against a built version.

One ephemeral GX context, one SQL datasource (`add_postgres`), one table asset per relation of
the unpublished version; every relation is validated once with the union of the suites that
apply to it (its tier's suite and its dataset's), and the results are split back into one
GateResult per suite × relation. Result format BOOLEAN_ONLY: GX computes aggregates in the
database (one bundled query per relation plus uniqueness and custom queries) and never fetches
a row. When an expectation fails, the gate counts the offending rows itself and shows at most
three value *shapes* (digits → 9, letters → a, other characters → 字), never a value.

Suite conventions (expectations/README.md): GX 1.x ExpectationSuite JSON; `meta.huiliu` on an
expectation may restrict it to `audiences`, or select `columns` by catalog class, policy
action, type and name (`"column": "*"` is then filled in per column); `{"$PARAMETER": name}`
values are supplied per run (today, division code sets, the city's row count) and put in by
the gate before GX sees the suite; `{city}` in a query names the city relation of the same
dataset in the same version.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import logging
import os
import queue
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import psycopg
from psycopg import sql

from pipelines.gates.policy import AUDIENCES, Policy
from pipelines.publish.gates import GateResult
from pipelines.publish.layout import Layout
from pipelines.topology import PROJECT_ROOT

if TYPE_CHECKING:
    from pipelines.publish.build import BuiltVersion

EXPECTATIONS_DIR = PROJECT_ROOT / "expectations"
RESULT_FORMAT = "BOOLEAN_ONLY"
COUNTY_TZ = ZoneInfo("Asia/Shanghai")
TEXT_TYPES = ("text", "character varying", "character")
TOKEN_SUFFIX = "_token"
SHAPE_SAMPLES = 3
_AUDIENCE_RE = re.compile(rf"^({'|'.join(AUDIENCES)})__([a-z0-9_]+)$")


@dataclass(frozen=True)
class Suite:
    """One JSON suite: a tier's (applies by audience) or a dataset's (applies by dataset)."""

    name: str
    path: Path
    audiences: tuple[str, ...] | None
    dataset: str | None
    expectations: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class Relation:
    """A relation to validate: <schema>.<audience>__<dataset> with its columns and types."""

    schema: str
    name: str
    columns: tuple[tuple[str, str], ...]

    @property
    def audience(self) -> str:
        return _AUDIENCE_RE.match(self.name).group(1)  # type: ignore[union-attr]

    @property
    def dataset(self) -> str:
        return _AUDIENCE_RE.match(self.name).group(2)  # type: ignore[union-attr]

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"

    def type_of(self, column: str) -> str | None:
        return dict(self.columns).get(column)


def load_suites(directory: Path = EXPECTATIONS_DIR) -> list[Suite]:
    """Every suite under expectations/tiers and expectations/datasets."""
    out = []
    for path in sorted(directory.glob("*/*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        h = doc.get("meta", {}).get("huiliu", {})
        auds = tuple(h["audiences"]) if "audiences" in h else None
        out.append(Suite(doc["name"], path, auds, h.get("dataset"), tuple(doc["expectations"])))
    return out


def relations_of(conn: psycopg.Connection, schema: str, names: Iterable[str] | None = None) -> list[Relation]:
    """The <audience>__<dataset> relations of a schema (or the named ones), with column types."""
    rows = conn.execute(
        "SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_attribute a ON a.attrelid = c.oid "
        "WHERE n.nspname = %s AND c.relkind IN ('r', 'v', 'm', 'p') AND a.attnum > 0 AND NOT a.attisdropped "
        "ORDER BY c.relname, a.attnum", (schema,)).fetchall()
    cols: dict[str, list[tuple[str, str]]] = {}
    for rel, col, typ in rows:
        cols.setdefault(rel, []).append((col, typ))
    wanted = list(names) if names is not None else sorted(cols)
    return [Relation(schema, n, tuple(cols.get(n, ()))) for n in wanted if _AUDIENCE_RE.match(n)]


# --- expanding suites for one relation -----------------------------------------------------


def _column_facts(rel: Relation, column: str, policy: Policy) -> tuple[str | None, str | None]:
    """(class, action) of a relation column; a `x_token` beside a tokenized `x` is class token."""
    if column.endswith(TOKEN_SUFFIX) and policy.get(rel.dataset, column[: -len(TOKEN_SUFFIX)]):
        return "token", "keep"
    return policy.klass(rel.dataset, column), policy.action(rel.audience, rel.dataset, column)


def _selected(rel: Relation, column: str, typ: str, selector: Mapping[str, Any], policy: Policy) -> bool:
    """Does a `meta.huiliu.columns` selector pick this column? (class, action, type, exclude, unless)"""
    klass, action = _column_facts(rel, column, policy)
    if "class" in selector and klass not in selector["class"]:
        return False
    if "action" in selector and action not in selector["action"]:
        return False
    if "type" in selector and not any(typ.startswith(t) for t in _types(selector["type"])):
        return False
    if any(re.search(p, column) for p in selector.get("exclude", ())):
        return False
    unless = selector.get("unless")
    return not (unless and _selected(rel, column, typ, unless, policy))


def _types(names: Sequence[str]) -> tuple[str, ...]:
    return tuple(t for n in names for t in (TEXT_TYPES if n == "text" else (n,)))


def _columns_named(kwargs: Mapping[str, Any]) -> list[str]:
    out = [kwargs["column"]] if isinstance(kwargs.get("column"), str) else []
    return out + [c for c in kwargs.get("column_list", ()) if isinstance(c, str)]


def expand(suite: Suite, rel: Relation, policy: Policy) -> list[dict[str, Any]]:
    """The concrete GX expectation configurations of `suite` for `rel` (may be empty).

    An expectation about a column the relation lacks is dropped only when the policy leaves
    that column out for this audience; otherwise it stays and fails (a column went missing).
    """
    if suite.audiences is not None and rel.audience not in suite.audiences:
        return []
    if suite.dataset is not None and suite.dataset != rel.dataset:
        return []
    present = {c for c, _ in rel.columns}
    city = sql.Identifier(rel.schema, f"city__{rel.dataset}").as_string(None)
    out = []
    for index, raw in enumerate(suite.expectations):
        h = raw.get("meta", {}).get("huiliu", {})
        if "audiences" in h and rel.audience not in h["audiences"]:
            continue
        selector = h.get("columns")
        targets: list[str | None] = [None] if selector is None else [
            c for c, t in rel.columns if _selected(rel, c, t, selector, policy)]
        for column in targets:
            cfg = copy.deepcopy(raw)
            kwargs = cfg.setdefault("kwargs", {})
            if column is not None:
                kwargs["column"] = column
            if isinstance(kwargs.get("unexpected_rows_query"), str):
                kwargs["unexpected_rows_query"] = kwargs["unexpected_rows_query"].replace("{city}", city)
            missing = [c for c in _columns_named(kwargs) if c not in present]
            if missing and all(_dropped(rel, c, policy) for c in missing):
                continue
            meta = cfg.setdefault("meta", {})
            meta["huiliu"] = {**meta.get("huiliu", {}), "suite": suite.name, "index": index}
            meta["huiliu"].pop("columns", None)
            meta["huiliu"].pop("audiences", None)
            out.append(cfg)
    return out


def _dropped(rel: Relation, column: str, policy: Policy) -> bool:
    """The policy leaves this column (or the column this token stands beside) out for the audience."""
    base = column[: -len(TOKEN_SUFFIX)] if column.endswith(TOKEN_SUFFIX) else column
    return policy.action(rel.audience, rel.dataset, base) == "drop"


# --- Great Expectations ----------------------------------------------------------------------

_GX: dict[str, Any] = {}
_GX_LOCK = threading.Lock()


def _gx() -> Any:
    """great_expectations, imported once (5 s) and with the count-only query expectation registered."""
    with _GX_LOCK:
        if "gx" not in _GX:
            _GX.update(_import_gx())
    return _GX["gx"]


def _import_gx() -> dict[str, Any]:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx

    class ExpectQueryToReturnNoRows(gx.expectations.UnexpectedRowsExpectation):
        """UnexpectedRowsExpectation that asks the database for the count only, never the rows."""

        metric_dependencies = ("unexpected_rows_query.row_count",)

        def _validate(self, metrics: dict, runtime_configuration: dict | None = None,
                      execution_engine: Any = None) -> dict:
            count = metrics["unexpected_rows_query.row_count"]
            return {"success": count == 0, "result": {"observed_value": count}}

    for name in ("great_expectations", "great_expectations.core", "great_expectations.expectations"):
        logging.getLogger(name).setLevel(logging.ERROR)
    return {"gx": gx, "no_rows": ExpectQueryToReturnNoRows}


def warm_up() -> None:
    """Import Great Expectations now (it takes about 5 s) so the gate itself does not wait for it."""
    _gx()


def sqlalchemy_url(conn: psycopg.Connection) -> str:
    """conn's database as a SQLAlchemy URL over TCP (GX's add_postgres rejects socket-only URLs)."""
    info = conn.info
    host = info.host or ""
    if not host or host.startswith("/"):
        raise ValueError(f"the expectation gate needs a TCP host, the connection uses {host or 'a socket'!r}")
    auth = quote(info.user or "", safe="")
    if info.password:
        auth += ":" + quote(info.password, safe="")
    return f"postgresql+psycopg2://{auth}@{host}:{info.port}/{quote(info.dbname, safe='')}"


@dataclass
class Parameters:
    """Values for the suites' $PARAMETERs, computed once per run."""

    today: dt.date
    known_division_codes: list[str]
    unit_division_codes: list[str]
    city_rows: dict[str, int]

    def for_relation(self, rel: Relation) -> dict[str, Any]:
        return {
            "today": self.today.isoformat(),
            "tomorrow": (self.today + dt.timedelta(days=1)).isoformat(),
            "known_division_codes": self.known_division_codes,
            "unit_division_codes": self.unit_division_codes,
            "city_rows": self.city_rows.get(rel.dataset, -1),
        }


def known_division_codes(conn: psycopg.Connection) -> list[str]:
    return [r[0] for r in conn.execute(
        "SELECT code FROM governance.divisions WHERE level = 'village' "
        "UNION ALL SELECT code || '000' FROM governance.divisions WHERE level = 'town' ORDER BY 1").fetchall()]


def city_rows(conn: psycopg.Connection, schema: str, relations: Iterable[Relation]) -> dict[str, int]:
    """Rows of each dataset's city relation in `schema` (one count per dataset)."""
    out = {}
    for d in sorted({r.dataset for r in relations}):
        row = conn.execute("SELECT to_regclass(%s)", (f"{schema}.city__{d}",)).fetchone()
        if row and row[0]:
            out[d] = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(
                sql.Identifier(schema, f"city__{d}"))).fetchone()[0]
    return out


def _label(cfg: Mapping[str, Any]) -> str:
    """expect_x(column, …) or expect_x:name — how results and reports name an expectation."""
    kw = cfg.get("kwargs", {})
    cols = _columns_named(kw)
    name = cfg.get("meta", {}).get("huiliu", {}).get("name")
    if name:
        return f"{cfg['type']}:{name}"
    return f"{cfg['type']}({', '.join(cols)})" if cols else cfg["type"]


def gate_workers() -> int:
    """Relations validated at once: HUILIU_GATE_WORKERS, else one per core (2–4)."""
    configured = os.environ.get("HUILIU_GATE_WORKERS", "")
    return max(1, int(configured)) if configured.isdigit() else min(4, max(2, os.cpu_count() or 2))


def validate_relations(conn: psycopg.Connection, relations: Sequence[Relation], params: Parameters, *,
                       policy: Policy | None = None, suites: Sequence[Suite] | None = None,
                       log: Callable[[str], None] = lambda _m: None,
                       workers: int | None = None) -> list[GateResult]:
    """Validate each relation in the database against its suites; one GateResult per suite × relation.

    The database does the work (one scan per relation and a few aggregates), so relations are
    validated on several connections at once; the largest go first to balance the workers.
    The threads share nothing of GX's that changes: every `$PARAMETER` is resolved here, on
    the calling thread, before any worker starts (GX's own parameter parser is one pyparsing
    grammar per process, not thread-safe), and each worker validates through a datasource,
    hence an execution engine, of its own.
    """
    gx = _gx()
    from great_expectations.data_context.types.base import ProgressBarsConfig

    policy = policy or Policy.from_catalog(conn)
    suites = list(suites) if suites is not None else load_suites()
    by_name = {s.name: s for s in suites}
    results: dict[int, list[GateResult]] = {}
    jobs = []
    for i, rel in enumerate(relations):
        plan = [(s, cfgs) for s in suites if (cfgs := expand(s, rel, policy))]
        if not plan:
            results[i] = [GateResult(f"expectations@{rel.name}", False,
                                     f"no suite applies to {rel.qualified}", {"relation": rel.qualified})]
            continue
        try:
            values = params.for_relation(rel)
            plan = [(s, [resolve_parameters(c, values) for c in cfgs]) for s, cfgs in plan]
        except ParameterError as exc:
            results[i] = _unvalidated(rel, plan, str(exc))
            continue
        combined = gx.ExpectationSuite(name=rel.name, expectations=[c for _, cfgs in plan for c in cfgs])
        jobs.append((i, rel, plan, combined))
    jobs.sort(key=lambda j: _size(conn, j[1]), reverse=True)
    count = min(workers or gate_workers(), len(jobs)) or 1

    ctx = gx.get_context(mode="ephemeral")  # set up on this thread only
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    url = sqlalchemy_url(conn)
    engines: queue.SimpleQueue[tuple[Any, dict[int, Any]]] = queue.SimpleQueue()
    for w in range(count):  # a datasource per worker: each its own engine, inspector and batches
        source = ctx.data_sources.add_postgres(f"huiliu_version_{w}", connection_string=url)
        engines.put((source, {i: source.add_table_asset(rel.name, table_name=rel.name, schema_name=rel.schema
                                                        ).add_batch_definition_whole_table("whole")
                              for i, rel, _, _ in jobs}))

    def run(job: tuple) -> tuple[int, list[GateResult]]:
        i, rel, plan, combined = job
        t = time.monotonic()
        engine = engines.get()  # never waits: as many engines as workers
        try:
            outcome = engine[1][i].get_batch().validate(combined, result_format=RESULT_FORMAT)
        except Exception as exc:  # a relation GX cannot validate fails its suites, not the run
            return i, _unvalidated(rel, plan, redact(f"{type(exc).__name__}: {exc}"))
        finally:
            engines.put(engine)
        per_suite: dict[str, list[Any]] = {}
        for r in outcome.results:
            per_suite.setdefault(r.expectation_config.meta["huiliu"]["suite"], []).append(r)
        if all(r.success for r in outcome.results):
            out = [_suite_result(None, by_name[n], rel, rs, params) for n, rs in per_suite.items()]
        else:  # probing failures needs a connection of this thread's own
            with psycopg.connect(conn.info.dsn, password=conn.info.password, autocommit=True) as probe_conn:
                out = [_suite_result(probe_conn, by_name[n], rel, rs, params) for n, rs in per_suite.items()]
        log(f"expectations {rel.qualified}: {len(outcome.results)} in {time.monotonic() - t:.2f} s")
        return i, out

    try:
        with ThreadPoolExecutor(max_workers=count, thread_name_prefix="huiliu-gx") as pool:
            results.update(pool.map(run, jobs))
    finally:
        while not engines.empty():
            engines.get()[0].get_execution_engine().close()  # the engines' pooled connections
    return [r for i in sorted(results) for r in results[i]]


def _unvalidated(rel: Relation, plan: Sequence[tuple[Suite, Any]], error: str) -> list[GateResult]:
    """Every suite of a relation that could not be validated fails, naming why."""
    summary = f"could not validate {rel.qualified}: {error}"
    return [GateResult(f"{s.name}@{rel.name}", False, summary, {"relation": rel.qualified, "error": error})
            for s, _ in plan]


class ParameterError(ValueError):
    """A suite names a `$PARAMETER` the run does not supply, or an expression instead of a name."""


def resolve_parameters(cfg: dict[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """`cfg` with every `{"$PARAMETER": name}` in its kwargs replaced by the run's value.

    GX would evaluate them itself, with one module-level pyparsing grammar whose parse actions
    learn their arity on first call: two threads doing that at once break it for the process
    (every later validation raises TypeError). Resolved here, GX never parses a parameter.
    Only plain names are allowed: an auditor reads the value's meaning from the name alone.
    """
    kwargs = cfg.get("kwargs", {})
    for key, value in kwargs.items():
        if isinstance(value, Mapping) and "$PARAMETER" in value:
            name = value["$PARAMETER"]
            if not isinstance(name, str) or name not in values:
                label = cfg.get("meta", {}).get("huiliu", {}).get("suite", "?")
                raise ParameterError(f"suite {label}: {cfg['type']}.{key} names $PARAMETER {name!r}, "
                                     f"not one of {', '.join(sorted(values))}")
            kwargs[key] = copy.deepcopy(values[name])
    return cfg


def _size(conn: psycopg.Connection, rel: Relation) -> int:
    """Pages of a relation (0 for a view): how long its scan will take, roughly."""
    row = conn.execute("SELECT relpages FROM pg_class WHERE oid = to_regclass(%s)",
                       (sql.Identifier(rel.schema, rel.name).as_string(conn),)).fetchone()
    return int(row[0]) if row and row[0] else 0


def _suite_result(conn: psycopg.Connection | None, suite: Suite, rel: Relation, rs: list[Any],
                  params: Parameters) -> GateResult:
    failed = []
    for r in rs:
        if r.success:
            continue
        cfg = r.expectation_config.to_json_dict()
        entry: dict[str, Any] = {"expectation": _label(cfg), "relation": rel.qualified,
                                 "why": cfg.get("meta", {}).get("notes", "")}
        error = _exception(r.exception_info)
        if error:
            entry["error"] = error
        elif conn is not None:
            entry.update(probe(conn, rel, cfg, params.for_relation(rel)))
        failed.append(entry)
    name = f"{suite.name}@{rel.name}"
    details: dict[str, Any] = {
        "relation": rel.qualified, "suite": str(suite.path.relative_to(PROJECT_ROOT))
        if suite.path.is_relative_to(PROJECT_ROOT) else str(suite.path),
        "evaluated": len(rs), "checked": [_label(r.expectation_config.to_json_dict()) for r in rs]}
    if failed:
        details["failed"] = failed
        head = "; ".join(f"{f['expectation']}" for f in failed[:4]) + (" …" if len(failed) > 4 else "")
        return GateResult(name, False, f"{len(failed)} of {len(rs)} failed on {rel.qualified}: {head}", details)
    return GateResult(name, True, f"{len(rs)} expectations hold on {rel.qualified}", details)


_QUOTED = re.compile(r"\"([^\"]*)\"|'([^']*)'")
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_.]*$")


def redact(message: str) -> str:
    """First line of an error, quoted fragments that are not identifiers replaced by "…".

    A database error may quote the value it choked on ("invalid input syntax …: '张三'").
    """
    first = (message.strip().splitlines() or ["error"])[0]
    return _QUOTED.sub(lambda m: m.group(0) if _IDENTIFIER.match(m.group(1) or m.group(2) or "") else '"…"',
                       first)[:300]


def _exception(info: Mapping[str, Any] | None) -> str | None:
    """The exception GX caught for an expectation (flat or per metric), redacted."""
    if not info:
        return None
    found = [info] if "raised_exception" in info else [v for v in info.values() if isinstance(v, Mapping)]
    for item in found:
        if item.get("raised_exception"):
            return redact(str(item.get("exception_message") or "error"))
    return None


# --- what a failure looks like, without a value -----------------------------------------------

_SHAPE = ("regexp_replace(regexp_replace(regexp_replace(left({}::text, 40), '[0-9]', '9', 'g'), "
          "'[A-Za-z]', 'a', 'g'), '[^9a*·. :/-]', '字', 'g')")


_NOT_MATCH = ("expect_column_values_to_not_match_regex_list", "expect_column_values_to_not_match_regex")


def _param(value: Any, params: Mapping[str, Any]) -> Any:
    if isinstance(value, Mapping) and "$PARAMETER" in value:
        return params.get(value["$PARAMETER"])
    return value


def probe(conn: psycopg.Connection, rel: Relation, cfg: Mapping[str, Any], params: Mapping[str, Any]
          ) -> dict[str, Any]:
    """Rows behind a failed expectation, counted in the database, with masked shapes only."""
    kind, kw = cfg["type"], cfg.get("kwargs", {})
    table = sql.Identifier(rel.schema, rel.name)
    col = sql.Identifier(kw["column"]) if isinstance(kw.get("column"), str) else None
    cond: sql.Composable | None = None
    args: list[Any] = []
    try:
        if kind == "expect_column_values_to_not_be_null" and col:
            cond = sql.SQL("{} IS NULL").format(col)
        elif kind == "expect_column_values_to_match_regex" and col:
            cond, args = sql.SQL("{c} IS NOT NULL AND {c}::text !~ %s").format(c=col), [kw["regex"]]
        elif kind in _NOT_MATCH:
            patterns = list(kw.get("regex_list") or [kw.get("regex")])
            cond, args = sql.SQL("{}::text ~ ANY(%s)").format(col), [patterns]
            named = cfg.get("meta", {}).get("huiliu", {}).get("patterns") or {p: p for p in patterns}
            hits = conn.execute(sql.SQL("SELECT {} FROM {} WHERE {}").format(
                sql.SQL(", ").join(sql.SQL("count(*) FILTER (WHERE {}::text ~ %s)").format(col) for _ in named),
                table, cond), [*named.values(), *args]).fetchone()
            matched = {str(label): n for label, n in zip(named, hits, strict=True) if n}
        elif kind == "expect_column_values_to_be_in_set" and col:
            values = [str(v) for v in _param(kw["value_set"], params) or []]
            cond, args = sql.SQL("{c} IS NOT NULL AND {c}::text <> ALL(%s)").format(c=col), [values]
        elif kind == "expect_column_values_to_be_between" and col:
            typ = sql.SQL(rel.type_of(kw["column"]) or "text")
            lo, hi = _param(kw.get("min_value"), params), _param(kw.get("max_value"), params)
            cond = sql.SQL("{c} < %s::{t} OR {c} > %s::{t}").format(c=col, t=typ)
            args = [lo, hi]
        elif kind in ("expect_column_values_to_be_unique", "expect_compound_columns_to_be_unique"):
            cols = sql.SQL(", ").join(sql.Identifier(c) for c in _columns_named(kw))
            n, rows = conn.execute(sql.SQL(
                "SELECT count(*), coalesce(sum(n), 0) FROM (SELECT count(*) AS n FROM {} GROUP BY {} "
                "HAVING count(*) > 1) d").format(table, cols)).fetchone()
            return {"duplicated_keys": n, "rows_with_duplicated_keys": int(rows)}
        elif kind == "expect_table_row_count_to_equal":
            n = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(table)).fetchone()[0]
            return {"rows": n, "expected_rows": _param(kw.get("value"), params)}
        elif kind == "expect_query_to_return_no_rows":
            batch = sql.SQL("(SELECT * FROM {}) AS subselect").format(table).as_string(conn)
            query = kw["unexpected_rows_query"].replace("{batch}", batch)
            n = conn.execute(sql.SQL("SELECT count(*) FROM ({}) AS q").format(sql.SQL(query))).fetchone()[0]
            return {"unexpected_rows": n}
        if cond is None:
            return {}
        shape = sql.SQL(_SHAPE).format(col if col is not None else sql.SQL("NULL"))
        rows = conn.execute(sql.SQL(
            "SELECT {s}, count(*) FROM {t} WHERE {c} GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT {n}").format(
            s=shape, t=table, c=cond, n=sql.Literal(SHAPE_SAMPLES)), args).fetchall()
        out: dict[str, Any] = {"unexpected_rows": _count(conn, table, cond, args),
                               "shapes": [{"shape": s, "rows": n} for s, n in rows]}
        if kind in _NOT_MATCH:
            out["matched"] = matched
        return out
    except psycopg.Error as exc:
        return {"probe_error": type(exc).__name__}


def _count(conn: psycopg.Connection, table: sql.Composable, cond: sql.Composable, args: list[Any]) -> int:
    return conn.execute(sql.SQL("SELECT count(*) FROM {} WHERE {}").format(table, cond), args).fetchone()[0]


# --- the gate --------------------------------------------------------------------------------


def unit_division_codes(layout: Layout) -> list[str]:
    """The codes this publish lays out: every village, and every town's code + 000."""
    return sorted(set(layout.village_codes) | {t + "000" for t in layout.town_codes})


def county_today() -> dt.date:
    return dt.datetime.now(COUNTY_TZ).date()


def parameters(conn: psycopg.Connection, version: BuiltVersion, relations: Sequence[Relation],
               today: dt.date | None = None) -> Parameters:
    """The run's parameters; the city's row counts come from the counts taken while building."""
    counts = {}
    for rel in relations:
        city = f"city__{rel.dataset}"
        if city in version.counts.by_source:
            counts[rel.dataset] = version.counts.total(city)
    missing = [r for r in relations if r.dataset not in counts]
    if missing:
        counts.update(city_rows(conn, version.schema, missing))
    return Parameters(today or county_today(), known_division_codes(conn), unit_division_codes(version.layout),
                      counts)


def check_relations(conn: psycopg.Connection, schema: str, names: Sequence[str], layout: Layout, *,
                    today: dt.date | None = None) -> list[GateResult]:
    """The suites on named relations of any schema (e.g. a scratch copy); its city relations give the counts."""
    relations = relations_of(conn, schema, names)
    params = Parameters(today or county_today(), known_division_codes(conn), unit_division_codes(layout),
                        city_rows(conn, schema, relations))
    return validate_relations(conn, relations, params)


def expectation_gate(conn: psycopg.Connection, version: BuiltVersion) -> list[GateResult]:
    """Gate: every suite on every relation of the unpublished version, inside PostgreSQL.

    A gate that cannot run fails (closed): one result naming why, and nothing is published.
    """
    relations = relations_of(conn, version.schema, list(version.layout.sources))
    absent = [r.name for r in relations if not r.columns]
    if absent:
        summary = f"relations missing from {version.schema}: {', '.join(absent)}"
        return [GateResult("expectations", False, summary, {"missing": absent})]
    try:
        return validate_relations(conn, relations, parameters(conn, version, relations))
    except Exception as exc:  # the gate fails closed whatever stopped it
        error = redact(f"{type(exc).__name__}: {exc}")
        return [GateResult("expectations", False, f"the expectation suites could not run: {error}", {})]
