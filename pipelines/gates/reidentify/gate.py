"""The re-identification gate: attack the unpublished version the way a unit would.

For every audience but the owner, everything its relations show of a person is put
together: the masked identity number in every relation that carries its token (a masked
certificate number in the same row adds what it embeds), the best birth information any of
them shows (a date, a year) and a gender. What that leaves of the number (attack.py) is
computed per distinct combination, in the database, one pass per audience; only where fewer
than ten candidates would be left are the people behind it looked up in the protected layer,
to confirm that the inference is right. Masked phones and bank accounts are attacked column
by column. Any recovered value refuses the publish; results name relation, columns and
counts, never a value.

A twin (pipelines/twins.py) is read as its table, so two audiences that see the same rows
through the same columns (a town and its villages, usually) compose the very same query: it
runs once and the second audience's result is that outcome under its own relation names. A
masked value's shape is computed once per distinct value (a few hundred per column), not per row.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
from psycopg import sql

from pipelines.contract import DATASETS
from pipelines.gates.base import Candidate, GateResult
from pipelines.gates.reidentify.attack import (
    BIRTH_DATE,
    BIRTH_NONE,
    BIRTH_YEAR,
    ID_LENGTH,
    Knowledge,
    digit_candidates,
    recovered,
)
from pipelines.govern.policy import Policy
from pipelines.naming import AUDIENCES, PROTECTED_SCHEMA, Source, ident, protected_name, tier_of
from pipelines.twins import twin_tables

MASKED = ("mask", "token")
ATTACKED_AUDIENCES = tuple(a for a in AUDIENCES if a != "owner")  # the owner sees its own data in clear

COLUMNS = """
SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_attribute a ON a.attrelid = c.oid
WHERE n.nspname = %s AND c.relkind IN ('r', 'v', 'm', 'p') AND a.attnum > 0 AND NOT a.attisdropped
"""


def _columns(conn: psycopg.Connection, schema: str) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for rel, col, typ in conn.execute(COLUMNS, (schema,)).fetchall():
        out.setdefault(rel, {})[col] = typ
    return out


def _bits(expr: sql.Composable) -> sql.Composed:
    """A masked value's shape as bit(18): 1 where a character is visible, 0 where it is a star."""
    return sql.SQL("rpad(regexp_replace(translate(upper(left({e}, {n})), '0123456789X', '11111111111'), "
                   "'[^1]', '0', 'g'), {n}, '0')::bit({n})").format(e=expr, n=sql.Literal(ID_LENGTH))


class Audience:
    """One audience's relations in a schema, with what the policy says each column is."""

    def __init__(self, schema: str, sources: Sequence[Source], types: Mapping[str, Mapping[str, str]],
                 policy: Policy, reads: Mapping[str, str] | None = None) -> None:
        self.schema, self.policy = schema, policy
        # by dataset: two audiences reading the same tables then compose the very same query
        self.relations = [(s, types.get(s.name, {})) for s in sorted(sources, key=lambda s: s.dataset)]
        self.reads = {s.name: (reads or {}).get(s.name, s.name) for s in sources}  # a twin: its table
        self.named = {table: name for name, table in self.reads.items()}

    def own(self, relation_column: str) -> str:
        """`table.column` as this audience names it (its twin's name where it reads a twin's table)."""
        table, _, column = relation_column.partition(".")
        return f"{self.named.get(table, table)}.{column}"

    def _of(self, source: Source, cols: Mapping[str, str], klass: str, masked: bool = False) -> list[str]:
        return [c for c in cols if self.policy.klass(source.dataset, c) == klass
                and (not masked or self.policy.action(source.audience, source.dataset, c) in MASKED)]

    def id_facts(self) -> sql.Composable | None:
        """UNION ALL of (key, masked, bits, birth_kind, birth, gender, src): one row per masked id seen."""
        parts = []
        for s, cols in self.relations:
            table = ident(self.schema, self.reads[s.name])
            birth_kind, birth = self._birth(s, cols)
            genders = self._of(s, cols, "gender")
            gender = sql.SQL("r.{} IS NOT NULL").format(ident(genders[0])) if genders else sql.SQL("false")
            ids = [c for c in self._of(s, cols, "identity_number", masked=True) if f"{c}_token" in cols]
            certs = self._of(s, cols, "certificate_number", masked=True)
            for key_col in ids:
                for shown in [key_col, *certs]:
                    # a shape per distinct masked value (a few hundred), joined back: not a regex per row
                    parts.append(sql.SQL(
                        "SELECT r.{key} AS key, r.{shown} AS masked, s.bits AS bits, {kind} AS birth_kind, "
                        "{birth} AS birth, {gender} AS gender, {src} AS src FROM {table} r "
                        "JOIN (SELECT m, {bits} AS bits FROM (SELECT DISTINCT {shown} AS m FROM {table} "
                        "WHERE {shown} IS NOT NULL) d OFFSET 0) s ON s.m = r.{shown} "
                        "WHERE r.{key} IS NOT NULL").format(
                        key=ident(f"{key_col}_token"), shown=ident(shown), bits=_bits(sql.SQL("m")),
                        kind=birth_kind, birth=birth, gender=gender,
                        src=sql.Literal(f"{self.reads[s.name]}.{shown}"), table=table))
        return sql.SQL(" UNION ALL ").join(parts) if parts else None

    def _birth(self, s: Source, cols: Mapping[str, str]) -> tuple[sql.Composable, sql.Composable]:
        """(kind, text) of the best birth information a row shows: a date beats a year (by its type)."""
        kind, birth = BIRTH_NONE, sql.SQL("NULL::text")
        for b in self._of(s, cols, "birth_date"):
            if cols[b] == "date":
                kind, birth = BIRTH_DATE, sql.SQL("to_char(r.{}, 'YYYYMMDD')").format(ident(b))
            elif cols[b] in ("integer", "smallint", "bigint") and kind == BIRTH_NONE:
                kind, birth = BIRTH_YEAR, sql.SQL("r.{}::text").format(ident(b))
        return sql.Literal(kind), birth

    def digit_columns(self) -> list[tuple[Source, str, str]]:
        return [(s, c, k) for s, cols in self.relations for k in ("phone", "bank_account")
                for c in self._of(s, cols, k, masked=True)]


def _clear_ids(protected: Mapping[str, Mapping[str, str]], policy: Policy) -> sql.Composable:
    """(token, value) of every identity number the protected layer holds: the truth to confirm against."""
    parts = []
    for d in DATASETS:
        cols = protected.get(protected_name(d), {})
        for c in cols:
            if policy.klass(d, c) == "identity_number" and f"{c}_token" in cols:
                parts.append(sql.SQL("SELECT {t} AS token, {c} AS value FROM {rel}").format(
                    t=ident(f"{c}_token"), c=ident(c), rel=ident(PROTECTED_SCHEMA, protected_name(d))))
    return sql.SQL(" UNION ALL ").join(parts) if parts else sql.SQL("SELECT NULL::text, NULL::text WHERE false")


def attack_ids(conn: psycopg.Connection, audience: Audience, protected: Mapping[str, Mapping[str, str]]
               ) -> tuple[int, list[dict[str, Any]]]:
    """(people attacked, recovered identity numbers per relation column) for one audience."""
    facts = audience.id_facts()
    if facts is None:
        return 0, []
    people = sql.SQL("SELECT key, bit_or(bits) AS bits, max(birth_kind) AS birth_kind, "
                     "bool_or(gender) AS gender FROM facts GROUP BY key")
    combos = conn.execute(sql.SQL("WITH facts AS ({f}), people AS ({p}) SELECT bits::text, birth_kind, "
                                  "gender, count(*) FROM people GROUP BY 1, 2, 3").format(f=facts, p=people)
                          ).fetchall()
    attacked = sum(n for *_, n in combos)
    weak = [Knowledge(bits, kind, bool(gender)) for bits, kind, gender, _ in combos
            if recovered(Knowledge(bits, kind, bool(gender)).candidates)]
    if not weak:
        return attacked, []
    values = sql.SQL(", ").join(sql.SQL("({}::bit({}), {}, {})").format(
        sql.Literal(k.shape), sql.Literal(ID_LENGTH), sql.Literal(k.birth), sql.Literal(k.gender))
        for k in weak)
    rows = conn.execute(sql.SQL(
        "WITH facts AS MATERIALIZED ({f}), "
        "people AS ({p} HAVING (bit_or(bits), max(birth_kind), bool_or(gender)) IN ({weak})), "
        "clear AS ({clear}), "
        "confirmed AS (SELECT p.key FROM people p JOIN clear c ON c.token = p.key WHERE NOT EXISTS ("
        "  SELECT 1 FROM facts f WHERE f.key = p.key AND ("
        "    upper(left(c.value, {n})) NOT LIKE replace(upper(left(f.masked, {n})), '*', '_')"
        "    OR (f.birth_kind = {date} AND substr(c.value, 7, 8) IS DISTINCT FROM f.birth)"
        "    OR (f.birth_kind = {year} AND substr(c.value, 7, 4) IS DISTINCT FROM f.birth)))) "
        "SELECT f.src, count(DISTINCT f.key), min(b.bits::text), min(b.birth_kind), bool_or(b.gender) "
        "FROM facts f JOIN confirmed USING (key) JOIN people b USING (key) GROUP BY 1 ORDER BY 1").format(
        f=facts, p=people, weak=values, clear=_clear_ids(protected, audience.policy),
        n=sql.Literal(ID_LENGTH), date=sql.Literal(BIRTH_DATE), year=sql.Literal(BIRTH_YEAR))).fetchall()
    found = []
    for src, n, bits, kind, gender in rows:
        k = Knowledge(bits, kind, bool(gender))
        found.append({"relation_column": src, "class": "identity_number", "recovered": n,
                      "what_is_combined": k.describe(), "candidates_left": round(k.candidates, 2)})
    return attacked, found


def _key_join(source: Source, rel_cols: Mapping[str, str], prot_cols: Mapping[str, str]
              ) -> sql.Composable | None:
    """r ⋈ p on the dataset's key (by token where the tier holds one, else by the kept value)."""
    conds = []
    for k in DATASETS[source.dataset].key:
        if f"{k}_token" in rel_cols and f"{k}_token" in prot_cols:
            conds.append(sql.SQL("r.{t} = p.{t}").format(t=ident(f"{k}_token")))
        elif k in rel_cols and k in prot_cols:
            conds.append(sql.SQL("r.{k} = p.{k}").format(k=ident(k)))
        else:
            return None
    return sql.SQL(" AND ").join(conds)


def attack_digits(conn: psycopg.Connection, audience: Audience, types: Mapping[str, Mapping[str, str]],
                  protected: Mapping[str, Mapping[str, str]], done: dict[tuple, dict | None] | None = None
                  ) -> list[dict[str, Any]]:
    """Masked phones and bank accounts, column by column: recovered values per relation column.

    `done` keeps each (table, column, class) outcome across audiences: a twin's column is its
    table's, attacked once."""
    done = {} if done is None else done
    found = []
    for source, column, klass in audience.digit_columns():
        key = (audience.reads[source.name], column, klass)
        if key not in done:
            done[key] = _attack_column(conn, audience, source, column, klass, types, protected)
        if done[key] is not None:
            found.append({"relation_column": f"{source.name}.{column}", **done[key]})
    return found


def _attack_column(conn: psycopg.Connection, audience: Audience, source: Source, column: str, klass: str,
                   types: Mapping[str, Mapping[str, str]], protected: Mapping[str, Mapping[str, str]]
                   ) -> dict[str, Any] | None:
    """One masked phone or bank account column: what can be recovered of it (None: nothing)."""
    table, col = ident(audience.schema, audience.reads[source.name]), ident(column)
    shape = sql.SQL("regexp_replace(translate({c}, '0123456789', '1111111111'), '[^1]', '0', 'g')").format(
        c=sql.SQL("r.{}").format(col))
    shapes = conn.execute(sql.SQL("SELECT {s}, count(*) FROM {t} r WHERE r.{c} IS NOT NULL GROUP BY 1"
                                  ).format(s=shape, t=table, c=col)).fetchall()
    weak = [s for s, _ in shapes if recovered(digit_candidates(s, klass))]
    if not weak:
        return None
    join = _key_join(source, types.get(source.name, {}), protected.get(protected_name(source.dataset), {}))
    if join is None:  # nothing to confirm against: the estimate stands (fail closed)
        n = sum(c for s, c in shapes if s in weak)
    else:
        n = conn.execute(sql.SQL(
            "SELECT count(*) FROM {t} r JOIN {p} p ON {j} WHERE {s} = ANY(%s) "
            "AND p.{c} LIKE replace(r.{c}, '*', '_')").format(
            t=table, p=ident(PROTECTED_SCHEMA, protected_name(source.dataset)), j=join, s=shape, c=col),
            (weak,)).fetchone()[0]
    if not n:
        return None
    return {"class": klass, "recovered": n,
            "what_is_combined": f"{len(weak)} masked shape(s) with fewer than ten candidates",
            "candidates_left": min(digit_candidates(s, klass) for s in weak)}


def reidentification_gate(conn: psycopg.Connection, version: Candidate) -> list[GateResult]:
    """Gate: no audience can put back together a masked identity number, phone or bank account."""
    policy = Policy.from_catalog(conn)
    types = _columns(conn, version.schema)
    protected = _columns(conn, PROTECTED_SCHEMA)
    twins = twin_tables(conn, version.schema, [s.name for s in version.sources])
    results = []
    attacks: dict[str, tuple[str, int, list[dict[str, Any]]]] = {}  # the facts query → its first outcome
    digits: dict[tuple, dict | None] = {}
    for audience in ATTACKED_AUDIENCES:
        sources = [s for s in version.sources if s.audience == audience]
        if not sources:
            continue
        t = time.monotonic()
        mine = Audience(version.schema, sources, types, policy, reads=twins)
        facts = mine.id_facts()
        query = facts.as_string(conn) if facts is not None else ""
        same_as = attacks[query][0] if query in attacks else None
        if same_as is None:  # an audience reading the same rows through the same columns: the same outcome
            attacks[query] = (audience, *attack_ids(conn, mine, protected))
        _, attacked, id_found = attacks[query]
        found = [{**f, "relation_column": mine.own(f["relation_column"])} for f in id_found]
        found += attack_digits(conn, mine, types, protected, digits)
        details: dict[str, Any] = {
            "audience": audience, "tier": tier_of(audience), "people_attacked": attacked,
            "relations": [s.name for s in sources], "seconds": round(time.monotonic() - t, 2)}
        if same_as is not None:
            details["identity_attack_as"] = same_as  # the very query that audience's attack ran
        name = f"reidentification@{audience}"
        if found:
            details["failed"] = [{"expectation": f"reidentification: {f['relation_column']} ({f['class']})",
                                  "relation": f"{version.schema}.{f['relation_column'].split('.')[0]}",
                                  "tier": tier_of(audience), **f} for f in found]
            total = sum(f["recovered"] for f in found)
            head = "; ".join(f"{f['relation_column']}: {f['recovered']}" for f in found[:4])
            results.append(GateResult(name, False, f"the {audience} audience can put back together {total} "
                                      f"masked value(s): {head}", details))
        else:
            results.append(GateResult(name, True, f"the {audience} audience cannot put back together any "
                                      f"masked identity number, phone or bank account ({attacked} people "
                                      "attacked)", details))
    return results
