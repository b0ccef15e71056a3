"""Which datasets keep their previous published state: too many rows held back, or a volume drop.

A night's bad delivery of one dataset must not stop the county: the other datasets publish,
and the faulty one stays as it was published last, with the reason in governance.publish_log.
Two causes, both judged on the current state before the version is built:

- **value quality**: the rows a value expectation held back (governance.quality_kept_aside)
  exceed the suite's `value_threshold` (default 1 %) of the dataset's current-state rows;
- **volume**: the rows the dataset would publish fall below `1 - volume_max_drop` (default
  50 %) of what it published last (a header-only snapshot, a 90 % cut), unless the operator
  accepted that drop for this run (`huiliu run --accept-drop DATASET`, recorded in
  governance.accepted_drops).

A dataset never published before cannot be held (there is nothing to keep): it publishes what
passed. Counts decide; the operator is shown where a few offending rows are and their values'
masked shapes (redact.shape), never a value.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

from pipelines.contract import DATASETS
from pipelines.gates.expectations.suites import (
    DEFAULT_VALUE_THRESHOLD,
    DEFAULT_VOLUME_MAX_DROP,
    EXPECTATIONS_DIR,
    load_suites,
)
from pipelines.redact import shape

ACCEPTED_DROPS_DDL = """
CREATE TABLE IF NOT EXISTS governance.accepted_drops (
    accepted_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    run_id        text,
    dataset       text        NOT NULL,
    rows_before   bigint      NOT NULL,
    rows_after    bigint      NOT NULL,
    accepted_by   text        NOT NULL
);
COMMENT ON TABLE governance.accepted_drops IS
    '操作员确认接受的数据量骤降: 数据集、前后行数、确认人、运行';
"""


@dataclass(frozen=True)
class Policy:
    """Per dataset, from its suite's meta.huiliu (expectations/datasets/<dataset>.json)."""

    value_threshold: float = DEFAULT_VALUE_THRESHOLD
    volume_max_drop: float = DEFAULT_VOLUME_MAX_DROP


@dataclass(frozen=True)
class DatasetState:
    dataset: str
    current_rows: int  # the current state (after the row rules)
    quality_rows: int  # of them, held back by a value expectation
    published_rows: int | None  # the city relation's rows at the last publish (None: never published)

    @property
    def publishable(self) -> int:
        return self.current_rows - self.quality_rows


@dataclass(frozen=True)
class Hold:
    dataset: str
    cause: str  # "value_quality" | "volume"
    reason: str  # what the operator reads: counts and the threshold, never a value
    state: DatasetState


@dataclass
class Holds:
    held: dict[str, Hold] = field(default_factory=dict)
    states: dict[str, DatasetState] = field(default_factory=dict)
    accepted: list[str] = field(default_factory=list)  # volume drops the operator accepted
    kept: list[KeptBy] = field(default_factory=list)

    def as_json(self) -> dict[str, dict]:
        return {d: {"cause": h.cause, "reason": h.reason} for d, h in self.held.items()}

    def held_rows(self) -> list[tuple[str, str, str]]:
        """The held datasets as rows of HELD_COLUMNS (the check's and the publish's table)."""
        return [(d, h.cause, h.reason) for d, h in self.held.items()]


def load_policies(directory: Path = EXPECTATIONS_DIR) -> dict[str, Policy]:
    return {s.dataset: Policy(s.value_threshold, s.volume_max_drop)
            for s in load_suites(directory) if s.dataset}


def dataset_states(conn: psycopg.Connection) -> dict[str, DatasetState]:
    """Counts of the current state, the rows held back, and the last publish, per dataset."""
    quality = dict(conn.execute("SELECT dataset, count(*) FROM governance.quality_kept_aside GROUP BY 1"
                                ).fetchall()) if _exists(conn, "governance.quality_kept_aside") else {}
    published: dict[str, int] = {}
    if _exists(conn, "governance.publish_log"):
        row = conn.execute("SELECT rows_by_tier -> 'city' FROM governance.publish_log "
                           "ORDER BY publish_id DESC LIMIT 1").fetchone()
        published = {k: int(v) for k, v in (row[0] or {}).items()} if row else {}
    out = {}
    for d in DATASETS:
        table = f"intermediate.int_{d}__current"
        if not _exists(conn, table):
            continue
        n = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(
            sql.Identifier(*table.split(".")))).fetchone()[0]
        out[d] = DatasetState(d, n, int(quality.get(d, 0)), published.get(d))
    return out


def decide_holds(conn: psycopg.Connection, *, accept_drop: Iterable[str] = (), run_id: str | None = None,
                 accepted_by: str = "operator", policies: dict[str, Policy] | None = None) -> Holds:
    """The datasets to keep at their previous state, with their reasons; records accepted drops."""
    policies = load_policies() if policies is None else policies
    accept = set(accept_drop)
    unknown = accept - set(DATASETS)
    if unknown:
        raise ValueError(f"--accept-drop names no dataset of the contract: {', '.join(sorted(unknown))}")
    holds = Holds(states=dataset_states(conn), kept=kept_by_expectation(conn))
    for d, s in holds.states.items():
        p = policies.get(d, Policy())
        if s.published_rows is None:
            continue  # never published: nothing to keep, what passed publishes
        if s.current_rows and s.quality_rows > p.value_threshold * s.current_rows:
            holds.held[d] = Hold(d, "value_quality", (
                f"{s.quality_rows} of {s.current_rows} current rows "
                f"({s.quality_rows / s.current_rows:.1%}) fail a "
                f"value expectation, over the suite's threshold of {p.value_threshold:.1%}; "
                f"{d} keeps its previous published state ({s.published_rows} rows)"), s)
        elif s.publishable < (1 - p.volume_max_drop) * s.published_rows:
            if d in accept:
                holds.accepted.append(d)
                continue
            holds.held[d] = Hold(d, "volume", (
                f"{d} would publish {s.publishable} rows, down from {s.published_rows} "
                f"(more than {p.volume_max_drop:.0%} fewer); it keeps its previous published state. "
                f"If the drop is real: huiliu run --accept-drop {d}"), s)
    if holds.accepted:
        conn.execute(ACCEPTED_DROPS_DDL)
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO governance.accepted_drops "
                "(run_id, dataset, rows_before, rows_after, accepted_by) VALUES (%s, %s, %s, %s, %s)",
                [(run_id, d, holds.states[d].published_rows, holds.states[d].publishable, accepted_by)
                 for d in holds.accepted])
    return holds


@dataclass(frozen=True)
class KeptBy:
    """Rows one value expectation held back in a dataset, with a few of them for the operator:
    where each is (file and line, to find it in the delivery) and its value's masked shape."""

    dataset: str
    expectation: str
    column: str
    rows: int
    examples: tuple[str, ...] = ()

    def row(self) -> tuple[str, str, str, int, str]:
        return (self.dataset, self.expectation, self.column, self.rows, "; ".join(self.examples))


HELD_COLUMNS = ["dataset", "cause", "reason"]
KEPT_COLUMNS = ["dataset", "expectation", "column", "rows kept aside", "e.g. (file line: masked value)"]


def kept_by_expectation(conn: psycopg.Connection, examples: int = 3) -> list[KeptBy]:
    """Rows held back per dataset and value expectation (what `huiliu run` and the UI show)."""
    if not _exists(conn, "governance.quality_kept_aside"):
        return []
    counts = conn.execute(
        "SELECT dataset, expectation, column_name, count(*) FROM governance.quality_kept_aside "
        "GROUP BY 1, 2, 3 ORDER BY 1, 2").fetchall()
    found: dict[tuple[str, str], list[str]] = {}
    for dataset in sorted({r[0] for r in counts} & set(DATASETS)):
        for expectation, where, value in conn.execute(_EXAMPLES[dataset], (dataset, examples)):
            found.setdefault((dataset, expectation), []).append(f"{where}: {shape(value)!r}")
    return [KeptBy(d, e, c, n, tuple(found.get((d, e), ()))) for d, e, c, n in counts]


def _examples_sql(dataset: str) -> sql.Composed:
    """The first rows of each expectation, with the value of its column (the contract's columns
    only: a column name read from the table is matched, never spliced in)."""
    value = sql.SQL("CASE q.column_name {} END").format(sql.SQL(" ").join(
        sql.SQL("WHEN {} THEN r.{}").format(sql.Literal(c), sql.Identifier(c))
        for c in DATASETS[dataset].column_names))
    return sql.SQL(
        "SELECT q.expectation, b.source || '/' || b.batch_date || '/' || b.path || ' line ' "
        "|| q.line_number, {value} FROM (SELECT *, row_number() OVER (PARTITION BY expectation "
        "ORDER BY file_id, line_number) AS n FROM governance.quality_kept_aside WHERE dataset = %s) q "
        "JOIN governance.batch_files b USING (file_id) "
        "JOIN raw.{raw} r ON r.file_id = q.file_id AND r.line_number = q.line_number "
        "WHERE q.n <= %s ORDER BY q.expectation, q.n").format(value=value, raw=sql.Identifier(dataset))


_EXAMPLES = {d: _examples_sql(d) for d in DATASETS}


def _exists(conn: psycopg.Connection, name: str) -> bool:
    return conn.execute("SELECT to_regclass(%s) IS NOT NULL", (name,)).fetchone()[0]
