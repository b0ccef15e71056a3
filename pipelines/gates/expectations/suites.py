"""Expectation suites (expectations/*.json) and what they mean for one relation of a version.

Suite conventions (expectations/README.md): GX 1.x ExpectationSuite JSON; `meta.huiliu` on an
expectation may restrict it to `audiences`, or select `columns` by catalog class, policy
action, type and name (`"column": "*"` is then filled in per column); `{"$PARAMETER": name}`
values are supplied per run (today, division code sets, the city's row count) and put in here,
before GX sees the suite; `{city}` in a query names the city relation of the same dataset in
the same version.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from pipelines.govern.policy import Policy
from pipelines.naming import Source
from pipelines.paths import PROJECT_ROOT

EXPECTATIONS_DIR = PROJECT_ROOT / "expectations"
TEXT_TYPES = ("text", "character varying", "character")
TOKEN_SUFFIX = "_token"


@dataclass(frozen=True)
class Suite:
    """One JSON suite: a tier's (applies by audience) or a dataset's (applies by dataset)."""

    name: str
    path: Path
    audiences: tuple[str, ...] | None
    dataset: str | None
    expectations: tuple[dict[str, Any], ...]

    @property
    def kind(self) -> str:
        """`tier` (expectations/tiers/) or `dataset` (expectations/datasets/)."""
        return "dataset" if self.dataset is not None else "tier"


@dataclass(frozen=True)
class Relation:
    """A relation to validate: <schema>.<audience>__<dataset> with its columns and types."""

    schema: str
    source: Source
    columns: tuple[tuple[str, str], ...]

    @property
    def name(self) -> str:
        return self.source.name

    @property
    def audience(self) -> str:
        return self.source.audience

    @property
    def dataset(self) -> str:
        return self.source.dataset

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


def relations_of(conn: psycopg.Connection, schema: str, sources: Iterable[Source] | None = None
                 ) -> list[Relation]:
    """The given sources' relations in `schema` (default: every <audience>__<dataset> there), with types.

    A source without a relation comes back with no columns (the gate then fails it).
    """
    rows = conn.execute(
        "SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_attribute a ON a.attrelid = c.oid "
        "WHERE n.nspname = %s AND c.relkind IN ('r', 'v', 'm', 'p') AND a.attnum > 0 AND NOT a.attisdropped "
        "ORDER BY c.relname, a.attnum", (schema,)).fetchall()
    cols: dict[str, list[tuple[str, str]]] = {}
    for rel, col, typ in rows:
        cols.setdefault(rel, []).append((col, typ))
    if sources is None:
        sources = [s for s in (Source.parse(n) for n in sorted(cols)) if s is not None]
    return [Relation(schema, s, tuple(cols.get(s.name, ()))) for s in sources]


def city_relation(rel: Relation) -> sql.Identifier:
    """The city relation of the same dataset beside `rel` (what `{city}` in a query names)."""
    return sql.Identifier(rel.schema, Source("city", rel.dataset).name)


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
            "this_year": self.today.year,
            "known_division_codes": self.known_division_codes,
            "unit_division_codes": self.unit_division_codes,
            "city_rows": self.city_rows.get(rel.dataset, -1),
        }


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


def columns_named(kwargs: Mapping[str, Any]) -> list[str]:
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
    city = city_relation(rel).as_string(None)
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
            missing = [c for c in columns_named(kwargs) if c not in present]
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


def label(cfg: Mapping[str, Any]) -> str:
    """expect_x(column, …) or expect_x:name — how results and reports name an expectation."""
    kw = cfg.get("kwargs", {})
    cols = columns_named(kw)
    name = cfg.get("meta", {}).get("huiliu", {}).get("name")
    if name:
        return f"{cfg['type']}:{name}"
    return f"{cfg['type']}({', '.join(cols)})" if cols else cfg["type"]
