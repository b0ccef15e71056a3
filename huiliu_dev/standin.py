"""Stand-in tiers.<audience>__<dataset> tables, shaped like dbt's, for tests and the benchmark.

They hold synthetic rows only (tokens are md5 of a counter, names are `N` + a number), with
the properties the publish layer relies on: a text `division_code`, column lists that differ
by audience (the village audience has no amount; masked audiences a masked label), and
COMMENTs in the `label | class | grade | action` form. Counts per division are planted
exactly, so tests can compare every unit view with what was planted.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping

import psycopg
from psycopg import sql

from pipelines.derived import RELATIONS, WARNINGS, relation_label
from pipelines.naming import AUDIENCES, BUILD_SCHEMA, ident, source_name
from pipelines.tiers.screenings import rules as screening_rules
from pipelines.topology import Topology

# (name, type, expression over the base rows r, comment, audiences (None = all)); r holds
# record_id, division_code and the two costly values (token, payload), computed once per dataset.
_COLUMNS: list[tuple[str, str, str, str, frozenset[str] | None]] = [
    ("record_id", "bigint", "r.record_id", "记录号 | code | 1 | keep", None),
    ("subject_token", "text", "r.token", "主体标识令牌 | identity_number | 4 | token", None),
    ("display_name", "text", "'N' || r.record_id", "姓名 | person_name | 3 | keep",
     frozenset({"city", "owner", "clear_names"})),
    ("display_name", "text", "'N' || repeat('*', length(r.record_id::text))", "姓名 | person_name | 3 | mask",
     frozenset({"granted", "town", "village"})),
    ("amount", "numeric(12,2)", "(r.record_id % 1000) / 10.0", "金额 | amount | 2 | keep",
     frozenset({"city", "owner", "granted", "clear_names", "town"})),
    ("payload", "text", "r.payload", "说明 | free_text | 2 | keep", None),
    ("division_code", "text", "r.division_code", "区划代码 | division | 1 | keep", None),
    ("updated_on", "date", "date '2026-11-01' - (r.record_id % 400)::int", "更新日期 | date | 1 | keep", None),
]


def _standin_rule() -> str:
    """A rule whose warnings every town and village view keeps (the stand-in's warnings all carry it)."""
    rules = screening_rules()
    both = [c for c, r in rules.items() if {"town", "village"} <= set(r.routes)]
    return (both or list(rules))[0]


def standin_columns(audience: str) -> list[tuple[str, str, str, str]]:
    return [(n, t, e, c) for n, t, e, c, who in _COLUMNS if who is None or audience in who]


def planted_counts(topology: Topology, seed: int = 1, *, scale: int = 1) -> dict[str, dict[str, int]]:
    """relation → division code → rows: 0–6 per village (some villages empty), 1–3 per town code;
    the ledgers and topic libraries too (the layout reads them like the datasets)."""
    rng = random.Random(seed)
    out: dict[str, dict[str, int]] = {}
    for d in RELATIONS:
        per = {v.code: rng.choice((0, 1, 2, 3, 4, 5, 6)) * scale for v in topology.villages}
        per.update({t.code + "000": rng.choice((1, 2, 3)) * scale for t in topology.towns})
        out[d] = per
    return out


def spread(topology: Topology, total: int, seed: int = 7, town_level_share: float = 0.03) -> dict[str, int]:
    """`total` rows over the county: a few percent at town level, the rest over villages, uneven."""
    rng = random.Random(seed)
    weights = {v.code: rng.uniform(0.3, 1.7) for v in topology.villages}
    weights.update({t.code + "000": rng.uniform(0.3, 1.7) * town_level_share * len(topology.villages)
                    / max(1, len(topology.towns)) for t in topology.towns})
    scale = total / sum(weights.values())
    out = {code: int(w * scale) for code, w in weights.items()}
    first = next(iter(out))
    out[first] += total - sum(out.values())
    return out


def create_standin(conn: psycopg.Connection, per_division: Mapping[str, Mapping[str, int]], *,
                   audiences: Iterable[str] = AUDIENCES,
                   extra_columns: Mapping[str, list[tuple[str, str, str]]] | None = None) -> dict[str, int]:
    """(Re)create tiers.<audience>__<dataset> for every dataset in `per_division`; returns rows per dataset.

    `extra_columns` maps a source name to (name, type, expression) columns appended to it,
    to imitate a policy change that alters one audience's column list.
    """
    extra_columns = extra_columns or {}
    conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(ident(BUILD_SCHEMA)))
    totals = {}
    for dataset, per in per_division.items():
        with conn.transaction():
            conn.execute("CREATE TEMP TABLE standin_plan (division_code text, n int) ON COMMIT DROP")
            with conn.cursor().copy("COPY standin_plan FROM STDIN") as copy:
                for code, n in per.items():
                    copy.write_row((code, n))
            # dbt's output is in no useful order: scatter the rows once (a cheap permutation)
            conn.execute(
                "CREATE TEMP TABLE standin_base ON COMMIT DROP AS "
                "SELECT record_id, division_code, md5('subject' || record_id) AS token, "
                "       md5(record_id::text) || md5(division_code) AS payload "
                "FROM (SELECT row_number() OVER () AS record_id, division_code "
                "      FROM standin_plan p, generate_series(1, p.n)) b "
                "ORDER BY (record_id * 2654435761) % 4294967296"
            )
            for audience in audiences:
                source = source_name(audience, dataset)
                cols = standin_columns(audience) + [(n, t, e, f"{n} | test | 1 | keep")
                                                    for n, t, e in extra_columns.get(source, [])]
                if dataset == WARNINGS:  # unit views keep their rules' rows: one routed to all towns, villages
                    rule = sql.Literal(_standin_rule()).as_string(conn)
                    cols.append(("rule", "text", rule, "规则代码 | code | 1 | keep"))
                target = ident(BUILD_SCHEMA, source)
                conn.execute(sql.SQL("DROP TABLE IF EXISTS {} CASCADE").format(target))
                select = sql.SQL(", ").join(
                    sql.SQL("({})::{} AS {}").format(sql.SQL(e), sql.SQL(t), ident(n)) for n, t, e, _ in cols)
                conn.execute(sql.SQL("CREATE TABLE {} AS SELECT {} FROM standin_base r").format(target, select))
                label = relation_label(dataset)
                conn.execute(sql.SQL("COMMENT ON TABLE {} IS {}").format(
                    target, sql.Literal(f"{label}（{audience} 策略，替身数据）")))
                for n, _, _, comment in cols:
                    conn.execute(sql.SQL("COMMENT ON COLUMN {}.{} IS {}").format(
                        target, ident(n), sql.Literal(comment)))
            totals[dataset] = sum(per.values())
    return totals
