"""Build a version out of sight: adopt the unpublished tiers.* tables into version_NNNNNN.

dbt has already written each table once, out of every unit's sight (`tiers`), so the
default is to move it (ALTER TABLE … SET SCHEMA, no copy: the data is scanned by dbt once and
by us only to index and count it). A table another relation depends on (a dbt view over
it, say) is copied instead, and `adopt="copy"` copies everything (ordered by division_code,
so a unit's rows sit together) and leaves tiers.* in place. The move (or copy) is one
transaction holding ACCESS EXCLUSIVE on every source: the version is one consistent set even
if someone runs dbt at the same time. Then, on a few connections in parallel, each table
gets the index its unit filters need (division_code for villages, left(division_code, 9)
for towns — once per tier, never per unit), ANALYZE, and one GROUP BY count. A twin (a view
showing another source's table, pipelines/twins.py) moves with its table and is neither
indexed nor counted: its table is, once for both. Version tables never change after this,
so autovacuum is off for them (it would also hold locks the switch needs). Nothing in a
version schema is readable by any unit: PUBLIC has no right on it, and unit views reach it
only through the published views, which still read the old version.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Literal

import psycopg
from psycopg import sql

from pipelines.naming import BUILD_SCHEMA, PUBLISHED_SCHEMA, Source, columns, ident, version_schema
from pipelines.publish import catalog
from pipelines.publish.catalog import Shape, shapes
from pipelines.publish.counts import VersionCounts, count_source
from pipelines.publish.layout import FilterKind, Layout, UnitView
from pipelines.twins import twin_tables

Adopt = Literal["move", "copy"]

# Sources something else reads, other than their own twins (which move with them).
DEPENDENTS = """
SELECT DISTINCT src.relname
FROM pg_class src
JOIN pg_namespace sn ON sn.oid = src.relnamespace AND sn.nspname = %s
JOIN pg_depend d ON d.refclassid = 'pg_class'::regclass AND d.refobjid = src.oid
                AND d.classid = 'pg_rewrite'::regclass
JOIN pg_rewrite r ON r.oid = d.objid AND r.ev_class <> src.oid
JOIN pg_class dep ON dep.oid = r.ev_class
WHERE src.relname = ANY(%s) AND NOT (dep.relnamespace = sn.oid AND dep.relname = ANY(%s))
"""

GRANTEES = """
SELECT c.relname, array_agg(DISTINCT x.grantee::regrole::text)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, aclexplode(c.relacl) x
WHERE n.nspname = %s AND x.grantee <> c.relowner AND x.grantee <> 0
GROUP BY 1
"""


class BuildError(RuntimeError):
    """The unpublished build (tiers.*) cannot be published as it stands."""


@dataclass
class BuiltVersion:
    """A version built out of sight; also the gates' Candidate (pipelines/gates/base.py)."""

    number: int
    schema: str
    layout: Layout
    shapes: dict[str, Shape]  # per source: columns, types and the dbt COMMENTs
    counts: VersionCounts
    moved: list[str] = field(default_factory=list)  # sources adopted from tiers (not copied)
    timings: dict[str, float] = field(default_factory=dict)
    held: dict[str, int] = field(default_factory=dict)  # dataset → city rows kept from the last publish
    twins: dict[str, str] = field(default_factory=dict)  # source → the source whose table it shows

    @property
    def sources(self) -> tuple[Source, ...]:
        return self.layout.relations

    @property
    def town_codes(self) -> tuple[str, ...]:
        return self.layout.town_codes

    @property
    def village_codes(self) -> tuple[str, ...]:
        return self.layout.village_codes

    def columns(self, source: Source) -> tuple[str, ...] | None:
        shape = self.shapes.get(source.name)
        return tuple(shape.names) if shape else None

    def rows(self, source: Source) -> Mapping[str | None, int]:
        return self.counts.by_source.get(source.name, {})

    def unit_rows(self, tier: str, dataset: str) -> dict[str, int]:
        return {u.schema: self.counts.view_rows(v) for u in self.layout.of_tier(tier)
                for v in u.views if v.dataset == dataset}

    def routed_rows(self, dataset: str) -> dict[str, tuple[int, int]]:
        city = self.counts.by_rule.get(Source("city", dataset).name, {})

        def admitted(view: UnitView) -> int:
            return sum(n for (c, rule), n in city.items() if c is not None and view.filter.admits(c, rule))

        views = [v for v in self.layout.views if v.dataset == dataset]
        return {v.schema: (self.counts.view_rows(v), admitted(v)) for v in views}


def next_version(conn: psycopg.Connection) -> int:
    """The next version number: never one already used by a version schema or in publish_log."""
    conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(ident(PUBLISHED_SCHEMA)))
    conn.execute(sql.SQL("REVOKE ALL ON SCHEMA {} FROM PUBLIC").format(ident(PUBLISHED_SCHEMA)))
    seq = ident(PUBLISHED_SCHEMA, "version_seq")
    conn.execute(sql.SQL("CREATE SEQUENCE IF NOT EXISTS {}").format(seq))
    used = max(catalog.version_schemas(conn), default=0)
    if conn.execute("SELECT to_regclass('governance.publish_log') IS NOT NULL").fetchone()[0]:
        logged = conn.execute("SELECT coalesce(max(version), 0) FROM governance.publish_log").fetchone()[0]
        used = max(used, logged)
    number = conn.execute(sql.SQL("SELECT nextval({})").format(sql.Literal(f"{PUBLISHED_SCHEMA}.version_seq"))
                          ).fetchone()[0]
    if number <= used:  # the sequence was lost (schema `published` dropped by hand): move past history
        conn.execute(sql.SQL("SELECT setval({}, %s)").format(sql.Literal(f"{PUBLISHED_SCHEMA}.version_seq")),
                     (used + 1,))
        number = used + 1
    return number


def comment_statements(target: sql.Composable, shape: Shape, kind: str = "TABLE",
                       table_comment: str | None = None) -> list[sql.Composed]:
    """COMMENT ON <kind> target / COMMENT ON COLUMN target.col for a shape's comments."""
    out = []
    text = table_comment if table_comment is not None else shape.comment
    if text:
        out.append(sql.SQL("COMMENT ON {} {} IS {}").format(sql.SQL(kind), target, sql.Literal(text)))
    for col, comment in shape.column_comments.items():
        out.append(sql.SQL("COMMENT ON COLUMN {}.{} IS {}").format(
            target, ident(col), sql.Literal(comment)))
    return out


def check_sources(found: dict[str, Shape], wanted: list[str]) -> None:
    missing = [s for s in wanted if s not in found]
    if missing:
        names = ", ".join(f"{BUILD_SCHEMA}.{s}" for s in missing[:6]) + (" …" if len(missing) > 6 else "")
        raise BuildError(f"the unpublished build lacks {len(missing)} relation(s) the layout reads: {names} "
                         "(run `dbt build --select path:models/tiers`)")
    for s in wanted:
        typ = dict(found[s].columns).get("division_code")
        if typ is None or not (typ == "text" or typ.startswith("character")):
            raise BuildError(f"{BUILD_SCHEMA}.{s} needs a text column division_code (found {typ})")


def _adopt(conn: psycopg.Connection, schema: str, sources: dict[str, frozenset[FilterKind]],
           found: dict[str, Shape], adopt: Adopt, twins: Mapping[str, str],
           hold: frozenset[str] = frozenset()) -> list[str]:
    """Move (or copy) every source into `schema`; returns the moved ones.

    A twin (a view showing another source's table, pipelines/twins.py) follows its table: moved
    with it, or in copy mode a view over the table's copy. A source of a held dataset is copied
    from what is published now instead (its columns as the new build has them: a held dataset
    whose columns changed cannot be held).
    """
    pinned = {r[0] for r in conn.execute(DEPENDENTS, (BUILD_SCHEMA, list(sources), list(twins))).fetchall()}
    pinned |= set(catalog.views_in(conn, BUILD_SCHEMA)) - set(twins)  # a view that is no twin: its rows copied
    moved = []
    for s, kinds in sorted(sources.items(), key=lambda item: item[0] in twins):  # tables before twins
        target, origin = ident(schema, s), ident(BUILD_SCHEMA, s)
        source = Source.parse(s)
        if source is not None and source.dataset in hold:
            _copy_published(conn, target, s, found[s], kinds)
            continue
        if s in twins and twins[s] in moved:  # its table moved: the view follows it
            conn.execute(sql.SQL("ALTER VIEW {} SET SCHEMA {}").format(origin, ident(schema)))
            moved.append(s)
            continue
        if s in twins:  # its table copied (copy mode, or pinned): a view over the copy
            conn.execute(sql.SQL("CREATE VIEW {} AS SELECT {} FROM {}").format(
                target, columns(found[s].names), ident(schema, twins[s])))
            for stmt in comment_statements(target, found[s], kind="VIEW"):
                conn.execute(stmt)
            continue
        if adopt == "move" and s not in pinned:
            conn.execute(sql.SQL("ALTER TABLE {} SET SCHEMA {}").format(origin, ident(schema)))
            conn.execute(sql.SQL("ALTER TABLE {} SET (autovacuum_enabled = false)").format(target))
            moved.append(s)
            continue
        order = sql.SQL(" ORDER BY division_code") if kinds & {"town", "village"} else sql.SQL("")
        conn.execute(sql.SQL("CREATE TABLE {} WITH (autovacuum_enabled = false) AS SELECT {} FROM {}{}").format(
            target, columns(found[s].names), origin, order))
        for stmt in comment_statements(target, found[s]):
            conn.execute(stmt)
    # moved tables keep dbt's grants, if any: nobody but the owner reads a version table
    conn.execute(sql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA {} FROM PUBLIC").format(ident(schema)))
    for rel, grantees in conn.execute(GRANTEES, (schema,)).fetchall():
        conn.execute(sql.SQL("REVOKE ALL ON {} FROM {}").format(
            ident(schema, rel), sql.SQL(", ").join(sql.Identifier(g) for g in grantees)))
    return moved


def adoptable_twins(conn: psycopg.Connection, sources: Mapping[str, object], hold: frozenset[str]
                    ) -> dict[str, str]:
    """The build's twins whose table the version adopts too, neither of a held dataset."""
    def held(name: str) -> bool:
        source = Source.parse(name)
        return source is not None and source.dataset in hold

    return {v: t for v, t in twin_tables(conn, BUILD_SCHEMA, sources).items()
            if t in sources and not held(v) and not held(t)}


def _copy_published(conn: psycopg.Connection, target: sql.Composed, s: str, shape: Shape,
                    kinds: frozenset[FilterKind]) -> None:
    published = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (f"{PUBLISHED_SCHEMA}.{s}",)).fetchone()[0]
    origin = ident(PUBLISHED_SCHEMA if published else BUILD_SCHEMA, s)
    where = sql.SQL("") if published else sql.SQL(" WHERE false")  # a relation new since then: empty
    order = sql.SQL(" ORDER BY division_code") if kinds & {"town", "village"} else sql.SQL("")
    try:
        with conn.transaction():
            conn.execute(sql.SQL("CREATE TABLE {} WITH (autovacuum_enabled = false) AS SELECT {} FROM {}{}{}"
                                 ).format(target, columns(shape.names), origin, where, order))
    except psycopg.errors.UndefinedColumn as exc:
        raise BuildError(f"{s} cannot keep its previous published state: its columns changed since "
                         f"({exc.diag.message_primary})") from exc
    for stmt in comment_statements(target, shape):
        conn.execute(stmt)


def _finish(url: str, schema: str, source: str, kinds: frozenset[FilterKind], routed: bool
            ) -> tuple[dict, dict[str, float], dict | None]:
    """Index, ANALYZE and count one version table on a connection of its own."""
    t: dict[str, float] = {}
    target = ident(schema, source)
    with psycopg.connect(url, autocommit=True, application_name="huiliu publish build") as conn:
        conn.execute("SET jit = off")  # seconds of compile for one-pass statements
        start = time.monotonic()
        if "village" in kinds:
            conn.execute(sql.SQL("CREATE INDEX ON {} (division_code)").format(target))
        if "town" in kinds:
            conn.execute(sql.SQL("CREATE INDEX ON {} (left(division_code, 9))").format(target))
        t["index"] = time.monotonic() - start
        start = time.monotonic()
        conn.execute(sql.SQL("ANALYZE {}").format(target))
        t["analyze"] = time.monotonic() - start
        start = time.monotonic()
        counts, by_rule = count_source(conn, schema, source, routed)
        t["count"] = time.monotonic() - start
    return counts, t, by_rule


def build_version(conn: psycopg.Connection, url: str, layout: Layout, *, adopt: Adopt = "move",
                  workers: int = 2, hold: Mapping[str, int] | None = None,
                  log: Callable[[str], None] = lambda _m: None) -> BuiltVersion:
    """Adopt, index, analyse and count every source of `layout` into a new version.

    `hold`: datasets that keep their previous published state (→ the city rows published then).
    """
    hold = dict(hold or {})
    t0 = time.monotonic()
    sources = layout.sources
    wanted = list(sources)
    number = next_version(conn)
    schema = version_schema(number)
    with conn.transaction():
        check_sources(shapes(conn, BUILD_SCHEMA, wanted), wanted)
        mode = "ACCESS EXCLUSIVE" if adopt == "move" else "ACCESS SHARE"
        conn.execute(sql.SQL("LOCK TABLE {} IN {} MODE").format(
            sql.SQL(", ").join(ident(BUILD_SCHEMA, s) for s in wanted), sql.SQL(mode)))
        found = shapes(conn, BUILD_SCHEMA, wanted)  # re-read under the lock
        check_sources(found, wanted)
        twins = adoptable_twins(conn, sources, frozenset(hold))
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(ident(schema)))
        conn.execute(sql.SQL("REVOKE ALL ON SCHEMA {} FROM PUBLIC").format(ident(schema)))
        conn.execute("SET LOCAL jit = off")
        moved = _adopt(conn, schema, sources, found, adopt, twins, frozenset(hold))
    timings = {"adopt": time.monotonic() - t0}
    built = BuiltVersion(number, schema, layout, found, VersionCounts({}), moved, timings, hold, twins)
    try:
        # a twin's rows are its table's: the table gets the indexes both need, one count serves both
        tables = [s for s in wanted if s not in twins]
        kinds = {s: frozenset(sources[s].union(*(sources[v] for v, t in twins.items() if t == s)))
                 for s in tables}
        routed = {twins.get(s, s) for s in layout.routed_sources}
        biggest_first = sorted(tables, key=lambda s: -_pages(conn, schema, s))
        with ThreadPoolExecutor(max(1, workers)) as pool:
            results = pool.map(lambda s: _finish(url, schema, s, kinds[s], s in routed), biggest_first)
            done = dict(zip(biggest_first, results, strict=True))
    except BaseException:
        discard_version(conn, built, log=log)
        raise
    counted = {s: done[twins.get(s, s)] for s in wanted}
    built.counts = VersionCounts({s: counted[s][0] for s in wanted},
                                 {s: counted[s][2] for s in wanted if counted[s][2] is not None})
    for _, t, _ in done.values():
        for k, v in t.items():
            timings[k] = timings.get(k, 0.0) + v  # summed over workers (CPU-ish time)
    timings["build"] = time.monotonic() - t0
    log(f"built {schema}: {len(wanted)} sources ({len(moved)} adopted, {len(twins)} of them twins, "
        f"{len(wanted) - len(moved)} copied) in {timings['build']:.1f} s")
    return built


def _pages(conn: psycopg.Connection, schema: str, source: str) -> int:
    return conn.execute("SELECT c.relpages FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                        "WHERE n.nspname = %s AND c.relname = %s", (schema, source)).fetchone()[0]


def restore_build(conn: psycopg.Connection, schema: str, names: list[str] | None = None) -> list[str]:
    """Give an unpublished version's tables (and twin views) back to tiers (where dbt left nothing newer)."""
    in_version = catalog.tables_in(conn, schema)
    twins = twin_tables(conn, schema, catalog.views_in(conn, schema))
    present = set(catalog.tables_in(conn, BUILD_SCHEMA)) | set(catalog.views_in(conn, BUILD_SCHEMA))
    candidates = names if names is not None else [*in_version, *twins]
    back = [n for n in candidates if n in in_version and n not in present]
    back += [n for n in candidates if n in twins and n not in present and twins[n] in back]  # with its table
    for n in sorted(back, key=lambda n: n in twins):
        if n in twins:
            conn.execute(sql.SQL("ALTER VIEW {} SET SCHEMA {}").format(ident(schema, n), ident(BUILD_SCHEMA)))
            continue
        conn.execute(sql.SQL("ALTER TABLE {} SET SCHEMA {}").format(ident(schema, n), ident(BUILD_SCHEMA)))
        conn.execute(sql.SQL("ALTER TABLE {} RESET (autovacuum_enabled)").format(ident(BUILD_SCHEMA, n)))
    return back


def discard_version(conn: psycopg.Connection, built: BuiltVersion, log: Callable[[str], None] = lambda _m: None
                    ) -> None:
    """Undo a build that will not be published: placeholders go, adopted tables go back to tiers.

    Refuses (and keeps the version) if a published view reads it as more than a placeholder,
    which would mean the switch did commit.
    """
    readers = conn.execute(catalog.VERSION_READERS, (PUBLISHED_SCHEMA, built.schema)).fetchall()
    if any("WHERE false" not in d for _, d in readers):
        log(f"{built.schema} is published; not discarding it")
        return
    with conn.transaction():
        for name, _ in readers:  # placeholders of sources new in this build, with their unit views
            conn.execute(sql.SQL("DROP VIEW IF EXISTS {} CASCADE").format(ident(PUBLISHED_SCHEMA, name)))
        restored = restore_build(conn, built.schema, built.moved)
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(ident(built.schema)))
    if restored:
        log(f"gave {len(restored)} unpublished table(s) back to {BUILD_SCHEMA}")


def drop_version(conn: psycopg.Connection, schema: str, lock_timeout_ms: int = 5000) -> bool:
    """DROP SCHEMA … CASCADE, giving up (False) rather than queueing behind a long reader."""
    try:
        with conn.transaction():
            conn.execute(f"SET LOCAL lock_timeout = {int(lock_timeout_ms)}")
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(ident(schema)))
        return True
    except (psycopg.errors.LockNotAvailable, psycopg.errors.DeadlockDetected):
        return False
