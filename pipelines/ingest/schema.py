"""DDL of the raw and governance relations that ingestion owns.

`raw.<dataset>` keeps every record of every loaded file as text, exactly as delivered
(decoded, unquoted, empty → NULL), with the physical line where the record starts.
Row rules are judged downstream, in dbt staging, so the raw history never changes.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from pipelines.contract import DATASETS
from pipelines.lock import DDL_LOCK, serialized
from pipelines.topology import Grant, Topology

BATCH_FILES_DDL = """
CREATE TABLE IF NOT EXISTS governance.batch_files (
    file_id          bigserial PRIMARY KEY,
    source           text        NOT NULL,
    batch_date       date        NOT NULL,
    delivery         text        NOT NULL,
    dataset          text        NOT NULL,
    path             text        NOT NULL,
    encoding         text,
    mode             text,
    status           text        NOT NULL CONSTRAINT batch_files_status_check CHECK (status IN (
                                     'loaded', 'rejected', 'superseded', 'unlisted')),
    reason           text,
    message          text,
    rows_received    integer,
    rows_loaded      integer     NOT NULL DEFAULT 0,
    rows_kept_aside  integer     NOT NULL DEFAULT 0,
    received_at      timestamptz NOT NULL DEFAULT now(),
    superseded_by    bigint REFERENCES governance.batch_files (file_id),
    UNIQUE (delivery, dataset, path)
);
CREATE INDEX IF NOT EXISTS batch_files_batch ON governance.batch_files (source, batch_date, dataset);
COMMENT ON TABLE governance.batch_files IS '每个交付文件一行: 状态、拒收原因、接收/入库/留置行数';
-- When staging's counts were last written back (NULL: not yet): a file of no rows is counted too.
-- Added once, checked first: ALTER TABLE takes its exclusive lock before IF NOT EXISTS looks, and a
-- run inside a COPY holds batch_files, so every other run's start would queue behind it.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'governance.batch_files'::regclass
                   AND attname = 'counted_at' AND NOT attisdropped) THEN
        ALTER TABLE governance.batch_files ADD COLUMN counted_at timestamptz;
    END IF;
END $$;
-- A database made before `unlisted` existed: its status check is replaced, once.
DO $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM pg_constraint
        WHERE conrelid = 'governance.batch_files'::regclass AND conname = 'batch_files_status_check'
          AND pg_get_constraintdef(oid) LIKE '%''unlisted''%'
    ) THEN
        ALTER TABLE governance.batch_files DROP CONSTRAINT IF EXISTS batch_files_status_check;
        ALTER TABLE governance.batch_files ADD CONSTRAINT batch_files_status_check
            CHECK (status IN ('loaded', 'rejected', 'superseded', 'unlisted'));
    END IF;
END $$;
"""

# RFC 4180 fields of one record that holds quotes (records without quotes are split with
# string_to_array, much faster). A quoted field loses its quotes and "" becomes ".
# A record that is not a sequence of RFC 4180 fields gives NULL.
CSV_FIELDS_DDL = r"""
CREATE OR REPLACE FUNCTION raw.csv_fields(rec text) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT CASE WHEN (',' || rec) ~ '^(,("([^"]|"")*"|[^,"]*))*$' THEN (
    SELECT coalesce(array_agg(
        CASE WHEN left(m[1], 1) = '"'
             THEN replace(substr(m[1], 2, length(m[1]) - 2), '""', '"')
             ELSE m[1] END ORDER BY ord), '{}')
    FROM regexp_matches(',' || rec, ',("(?:[^"]|"")*"|[^,"]*)', 'g') WITH ORDINALITY AS t(m, ord)
    ) END  -- NULL: a stray quote makes the record malformed (kept aside as field_count)
$$;
"""

DIVISIONS_DDL = """
CREATE TABLE IF NOT EXISTS governance.divisions (
    code       text PRIMARY KEY,
    level      text NOT NULL CHECK (level IN ('town', 'village')),
    name       text NOT NULL,
    town_code  text NOT NULL
);
COMMENT ON TABLE governance.divisions IS '本县统计用区划代码 (镇街 9 位, 村社区 12 位), 来自 partitions.yaml';
"""


GRANTS_DDL = """
CREATE TABLE IF NOT EXISTS governance.grants (
    unit        text NOT NULL,
    dataset     text NOT NULL,
    level       text NOT NULL,
    approval    text NOT NULL,
    expires     date NOT NULL,
    PRIMARY KEY (unit, dataset)
);
ALTER TABLE governance.grants ADD COLUMN IF NOT EXISTS grantor text NOT NULL DEFAULT 'partitions.yaml';
COMMENT ON TABLE governance.grants IS
    '权限申请: 单位、数据集、级别、审批号、到期日 (含当日, 次日 00:00 Asia/Shanghai 失效)、批准人';
-- The county's date, for grants (NULL today = the date in Asia/Shanghai now). Only the pipeline
-- writes it; a test injects a date here instead of waiting for midnight.
CREATE TABLE IF NOT EXISTS governance.county_clock (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    today     date
);
INSERT INTO governance.county_clock VALUES (true, NULL) ON CONFLICT DO NOTHING;
REVOKE ALL ON governance.county_clock FROM PUBLIC;
CREATE OR REPLACE VIEW governance.county_today AS
    SELECT coalesce((SELECT c.today FROM governance.county_clock c),
                    (now() AT TIME ZONE 'Asia/Shanghai')::date) AS today;
COMMENT ON VIEW governance.county_today IS '本县今日 (Asia/Shanghai), 权限到期按此判断';
ALTER TABLE governance.grants ADD COLUMN IF NOT EXISTS application_id bigint;
-- Permission applications (huiliu access grant …): approved ones join partitions.yaml's grants.
CREATE TABLE IF NOT EXISTS governance.access_applications (
    application_id bigserial PRIMARY KEY,
    unit           text NOT NULL,
    dataset        text NOT NULL,
    level          text NOT NULL CHECK (level IN ('granted', 'clear_names')),
    reason         text NOT NULL,
    status         text NOT NULL DEFAULT 'requested' CHECK (status IN ('requested', 'approved', 'revoked')),
    requested_at   timestamptz NOT NULL DEFAULT now(),
    requested_by   text NOT NULL,
    approval       text,
    expires        date,
    approved_by    text,
    approved_at    timestamptz,
    revoked_by     text,
    revoked_at     timestamptz,
    CHECK (status = 'requested' OR approval IS NOT NULL OR revoked_at IS NOT NULL)
);
COMMENT ON TABLE governance.access_applications IS
    '权限申请 (huiliu access grant): 申请、批准 (审批号、到期日含当日、批准人)、撤销; 批准后立即生效';
CREATE OR REPLACE VIEW governance.grants_in_force AS
    SELECT g.unit, g.dataset, g.level, g.approval, g.expires, g.grantor
    FROM governance.grants g, governance.county_today t WHERE g.expires >= t.today;
COMMENT ON VIEW governance.grants_in_force IS '当前有效的权限申请 (按本县日期, 读取时判断)';
"""

UNITS_DDL = """
CREATE TABLE IF NOT EXISTS governance.units (
    schema_name text PRIMARY KEY,
    tier        text NOT NULL CHECK (tier IN ('city', 'department', 'town', 'village')),
    code        text NOT NULL,
    name        text NOT NULL,
    town_code   text
);
COMMENT ON TABLE governance.units IS '各单位及其 schema 与角色名, 来自 partitions.yaml';
"""


def ensure_schemas(conn: psycopg.Connection) -> None:
    """Create raw and governance relations if missing (idempotent, and safe from two runs at once)."""
    with serialized(conn, DDL_LOCK):  # two runs starting together take turns
        conn.execute("CREATE SCHEMA IF NOT EXISTS raw")
        conn.execute("CREATE SCHEMA IF NOT EXISTS governance")
        conn.execute(BATCH_FILES_DDL)
        conn.execute(DIVISIONS_DDL)
        conn.execute(UNITS_DDL)
        ensure_grants(conn)
        conn.execute(CSV_FIELDS_DDL)
        for ds in DATASETS.values():
            cols = [sql.SQL("{} text").format(sql.Identifier(c)) for c in ds.column_names]
            conn.execute(
                sql.SQL(
                    "CREATE TABLE IF NOT EXISTS raw.{} (file_id bigint NOT NULL, "
                    "line_number integer NOT NULL, field_count integer NOT NULL, {})"
                ).format(sql.Identifier(ds.name), sql.SQL(", ").join(cols))
            )
            conn.execute(
                sql.SQL("CREATE INDEX IF NOT EXISTS {} ON raw.{} (file_id)").format(
                    sql.Identifier(f"{ds.name}_file"), sql.Identifier(ds.name)
                )
            )


def ensure_grants(conn: psycopg.Connection) -> None:
    """governance.grants, the county clock and grants_in_force (granted unit views read them)."""
    conn.execute("CREATE SCHEMA IF NOT EXISTS governance")
    conn.execute(GRANTS_DDL)


# For a (unit, dataset) both partitions.yaml and an approved application grant, the application —
# the later decision — holds; of two approved applications, the later approval.
APPROVED_APPLICATIONS = """
SELECT DISTINCT ON (unit, dataset) unit, dataset, level, approval, expires, approved_by, application_id
FROM governance.access_applications WHERE status = 'approved'
ORDER BY unit, dataset, approved_at DESC, application_id DESC
"""


def sync_grants(conn: psycopg.Connection, topology: Topology) -> None:
    """governance.grants := the topology's and the approved applications' (approval, grantor and last
    valid day of each)."""
    grants = [(g.unit, g.dataset, g.level, g.approval, g.expires, g.grantor) for g in topology.grants]
    _replace(conn, "governance.grants", ("unit", "dataset", "level", "approval", "expires", "grantor"), grants)
    conn.execute(
        "INSERT INTO governance.grants (unit, dataset, level, approval, expires, grantor, application_id) "
        f"SELECT * FROM ({APPROVED_APPLICATIONS}) a ON CONFLICT (unit, dataset) DO UPDATE SET "
        "level = excluded.level, approval = excluded.approval, expires = excluded.expires, "
        "grantor = excluded.grantor, application_id = excluded.application_id")


def application_grants(conn: psycopg.Connection) -> tuple[Grant, ...]:
    """The approved applications as grants (Topology.with_grants puts them beside partitions.yaml's)."""
    return tuple(Grant(unit, dataset, level, approval, expires, grantor)
                 for unit, dataset, level, approval, expires, grantor, _ in
                 conn.execute(APPROVED_APPLICATIONS).fetchall())


def sync_divisions(conn: psycopg.Connection, topology: Topology) -> int:
    """Replace governance.divisions, units and grants with the topology's."""
    divisions = [(t.code, "town", t.name, t.code) for t in topology.towns]
    divisions += [(v.code, "village", v.name, v.town_code) for v in topology.villages]
    units = [("city", "city", topology.county_code, topology.county_name, None)]
    units += [(u.schema, u.tier, u.code, u.name, u.town_code) for u in topology.units]
    # the county's ~400 entries, not batch rows; two runs replacing them at once take turns
    with serialized(conn, "huiliu.divisions"):
        _replace(conn, "governance.divisions", ("code", "level", "name", "town_code"), divisions)
        _replace(conn, "governance.units", ("schema_name", "tier", "code", "name", "town_code"),
                 units)
        sync_grants(conn, topology)
    return len(divisions)


def _replace(conn: psycopg.Connection, table: str, columns: tuple[str, ...], rows: list[tuple]
             ) -> None:
    schema, name = table.split(".")
    target = sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(name))
    conn.execute(sql.SQL("DELETE FROM {}").format(target))
    cols = sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    with conn.cursor() as cur, cur.copy(
        sql.SQL("COPY {} ({}) FROM STDIN").format(target, cols)
    ) as copy:
        for row in rows:
            copy.write_row(row)
