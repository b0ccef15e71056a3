"""A file whose values turn up in a message: none of them reaches batch_files, Dagster or the server log."""

from __future__ import annotations

import csv
import io

import dagster as dg
import psycopg
from support.batchkit import write_batch

from pipelines.contract import DATASETS, id_check_char
from pipelines.ingest.assets import county_divisions, ingest_batches
from pipelines.resources import Landing, Warehouse

DAY = "2026-11-03"
BODY = "33068319580514712"  # made up for the test, with a valid check character
PLANTED_ID = BODY + id_check_char(BODY)
PLANTED_NAME = "测试甲乙"
PLANTED_PHONE = "13912345678"


def _headerless() -> bytes:
    values = {c: "x" for c in DATASETS["household_registration"].column_names}
    values.update(id_number=PLANTED_ID, name=PLANTED_NAME, phone=PLANTED_PHONE, division_code="330683100201")
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(values.values())  # no header: the first line is a person
    return buf.getvalue().encode("utf-8")


def _server_logs(c: psycopg.Connection) -> str:
    names = [r[0] for r in c.execute("SELECT name FROM pg_ls_logdir() ORDER BY name")]
    return "".join(c.execute("SELECT pg_read_file(%s)", (f"log/{n}",)).fetchone()[0] for n in names)


def test_a_headerless_files_values_reach_no_message_log_or_metadata(published, tmp_path) -> None:
    write_batch(tmp_path, "province", DAY, {"household_registration": _headerless()},
                rows={"household_registration": 0})
    instance = dg.DagsterInstance.ephemeral()
    resources = {"warehouse": Warehouse(url=published.url), "landing": Landing(path=str(tmp_path))}
    result = dg.materialize([county_divisions, ingest_batches], partition_key=DAY, instance=instance,
                            resources=resources)
    assert result.success
    with published.connect() as c:
        status, reason, message = c.execute("SELECT status, reason, message FROM governance.batch_files "
                                            "WHERE batch_date = %s", (DAY,)).fetchone()
        logs = _server_logs(c)
    assert (status, reason) == ("rejected", "bad_header")
    assert "line 1, column 1: unknown column a value shaped '999999999999999999'" in message
    events = " ".join(f"{e.dagster_event} {e.user_message or ''}" for e in instance.all_logs(result.run_id))
    for planted in (PLANTED_ID, PLANTED_ID[:14], PLANTED_NAME, PLANTED_PHONE):
        assert planted not in message
        assert planted not in events
        assert planted not in logs
