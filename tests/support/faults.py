"""A fault planted inside a real publish: the town tier corrupted after dbt built it, before any gate.

An event trigger fires when the table holding the town's household rows is adopted into the new
version (ALTER TABLE … SET SCHEMA version_N), once: a clear identity number in a text column, a row
moved under another town, a duplicated key. That table is the town relation itself, or, when the
town relation is a twin (a view over an identical audience's table, pipelines/twins.py), the table
it reads, so every audience reading those rows is corrupted alike. The gates must refuse that
publish and name what failed where.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import psycopg

PLANTED_ID = "33068319900307123X"  # a well-formed, made-up identity number
TOWN_HR = "town__household_registration"

# Fires inside the publish step when the table behind the town relation is adopted into the new
# version (ALTER TABLE … SET SCHEMA version_N), i.e. after dbt built it and before any gate looks at
# it. "Behind" is read from the catalog: the table is named like the town relation, or a view of
# that name depends on it through its rewrite rule.
FAULT_TRIGGER = f"""
CREATE SCHEMA gates_fault;
CREATE TABLE gates_fault.armed (armed boolean NOT NULL);
INSERT INTO gates_fault.armed VALUES (true);
CREATE FUNCTION gates_fault.corrupt() RETURNS event_trigger LANGUAGE plpgsql AS $$
DECLARE cmd record;
BEGIN
  FOR cmd IN SELECT * FROM pg_event_trigger_ddl_commands() c
             WHERE c.object_type = 'table' AND c.object_identity ~ '^version_[0-9]+\\.'
               AND (c.object_identity ~ '\\.{TOWN_HR}$' OR EXISTS (
                    SELECT FROM pg_class v JOIN pg_rewrite r ON r.ev_class = v.oid
                    JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
                     AND d.refclassid = 'pg_class'::regclass AND d.refobjid = c.objid
                    WHERE v.relkind = 'v' AND v.relname = '{TOWN_HR}')) LOOP
    IF NOT (SELECT armed FROM gates_fault.armed) THEN RETURN; END IF;
    UPDATE gates_fault.armed SET armed = false;
    -- a clear identity number in a text column
    EXECUTE format('UPDATE %s SET relation_to_head = coalesce(relation_to_head, '''') || %L '
                   'WHERE ctid = (SELECT min(ctid) FROM %s)', cmd.object_identity, ' 身份证{PLANTED_ID}',
                   cmd.object_identity);
    -- a row moved under another town (a valid village code, so only the city can tell)
    EXECUTE format('UPDATE %s t SET division_code = (SELECT d.code FROM governance.divisions d '
                   'WHERE d.level = ''village'' AND d.town_code <> left(t.division_code, 9) '
                   'ORDER BY d.code LIMIT 1) WHERE ctid = (SELECT max(ctid) FROM %s '
                   'WHERE division_code NOT LIKE ''%%000'')', cmd.object_identity, cmd.object_identity);
    -- a duplicated key
    EXECUTE format('INSERT INTO %s SELECT * FROM %s ORDER BY id_number_token OFFSET 7 LIMIT 1',
                   cmd.object_identity, cmd.object_identity);
  END LOOP;
END $$;
CREATE EVENT TRIGGER gates_fault ON ddl_command_end WHEN TAG IN ('ALTER TABLE')
  EXECUTE FUNCTION gates_fault.corrupt();
"""


@contextlib.contextmanager
def town_tier_corrupted(conn: psycopg.Connection) -> Iterator[None]:
    """Armed for the next publish (it disarms itself after firing); removed on the way out."""
    conn.execute(FAULT_TRIGGER)
    try:
        yield
    finally:
        conn.execute("DROP EVENT TRIGGER IF EXISTS gates_fault")
        conn.execute("DROP SCHEMA IF EXISTS gates_fault CASCADE")
