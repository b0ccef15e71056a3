"""The expectation gate: every suite on every relation of a candidate version, inside PostgreSQL.

A gate that cannot run fails (closed): one result naming why, and nothing is published.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence

import psycopg
from psycopg import sql

from pipelines.clock import today_in_county
from pipelines.gates.base import Candidate, Divisions, GateResult, unit_division_codes
from pipelines.gates.expectations.gx import validate_relations
from pipelines.gates.expectations.probes import redact
from pipelines.gates.expectations.suites import Parameters, Relation, city_relation, relations_of
from pipelines.naming import Source


def known_division_codes(conn: psycopg.Connection) -> list[str]:
    return [r[0] for r in conn.execute(
        "SELECT code FROM governance.divisions WHERE level = 'village' "
        "UNION ALL SELECT code || '000' FROM governance.divisions WHERE level = 'town' ORDER BY 1").fetchall()]


def city_rows(conn: psycopg.Connection, relations: Iterable[Relation]) -> dict[str, int]:
    """Rows of each dataset's city relation beside `relations` (one count per dataset)."""
    out = {}
    for rel in {r.dataset: r for r in relations}.values():
        city = city_relation(rel)
        if conn.execute("SELECT to_regclass(%s)", (city.as_string(conn),)).fetchone()[0]:
            out[rel.dataset] = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(city)).fetchone()[0]
    return out


def parameters(conn: psycopg.Connection, version: Candidate, relations: Sequence[Relation],
               today: dt.date | None = None) -> Parameters:
    """The run's parameters; the city's row counts come from the counts taken while building."""
    built = set(version.sources)
    counts = {r.dataset: sum(version.rows(Source("city", r.dataset)).values()) for r in relations
              if Source("city", r.dataset) in built}
    missing = [r for r in relations if r.dataset not in counts]
    if missing:
        counts.update(city_rows(conn, missing))
    return Parameters(today or today_in_county(), known_division_codes(conn), unit_division_codes(version),
                      counts, state_batch_dates(conn))


def state_batch_dates(conn: psycopg.Connection) -> dict[str, dt.date]:
    """Per dataset, the latest batch date of its loaded files: date bounds are judged against it,
    never the wall clock, so a re-run converges to the same verdict."""
    if conn.execute("SELECT to_regclass('governance.batch_files')").fetchone()[0] is None:
        return {}
    return dict(conn.execute("SELECT dataset, max(batch_date) FROM governance.batch_files "
                             "WHERE status = 'loaded' GROUP BY dataset").fetchall())


def check_relations(conn: psycopg.Connection, schema: str, names: Sequence[str], divisions: Divisions, *,
                    today: dt.date | None = None, log: Callable[[str], None] = lambda _m: None
                    ) -> list[GateResult]:
    """The suites on named relations of any schema (e.g. a scratch copy); its city relations give the counts."""
    sources = [s for s in (Source.parse(n) for n in names) if s is not None]
    relations = relations_of(conn, schema, sources)
    params = Parameters(today or today_in_county(), known_division_codes(conn), unit_division_codes(divisions),
                        city_rows(conn, relations), state_batch_dates(conn))
    return validate_relations(conn, relations, params, log=log)


def expectation_gate(conn: psycopg.Connection, version: Candidate) -> list[GateResult]:
    """Gate: every suite on every relation of the unpublished version, inside PostgreSQL.

    A gate that cannot run fails (closed): one result naming why, and nothing is published.
    """
    relations = relations_of(conn, version.schema, version.sources)
    absent = [r.name for r in relations if not r.columns]
    if absent:
        summary = f"relations missing from {version.schema}: {', '.join(absent)}"
        return [GateResult("expectations", False, summary, {"missing": absent})]
    try:
        return validate_relations(conn, relations, parameters(conn, version, relations))
    except Exception as exc:  # the gate fails closed whatever stopped it
        error = redact(f"{type(exc).__name__}: {exc}")
        return [GateResult("expectations", False, f"the expectation suites could not run: {error}", {})]
