"""Bad input, as the province and the city may deliver it: what is refused whole, what is
kept aside row by row while the rest loads, what must load as data, and huiliu's own failure.

Every delivery below goes into one landing, in a database of its own; each is ingested once
by the real loader (`ingest_day`), then the staging and governance models are built once with
dbt (as tests/test_staging.py does) and the per-file accounts are written back
(`govern.accounting.update_counts`). Every test reads that one result, and every file of it
keeps the contract's accounts: rows received = loaded + kept aside for a loaded file, nothing
loaded nor kept aside (and nothing in raw) for a rejected one.

Run: .venv/bin/python -m pytest tests/reliability -q
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
from psycopg.rows import dict_row
from support.batchkit import csv_bytes, write_batch
from support.staging import create_database, make_id, make_uscc, run_dbt, with_wrong_check

from pipelines.contract import DATASETS
from pipelines.govern.accounting import unbalanced_files, update_counts
from pipelines.ingest.batches import ingest_day
from pipelines.ingest.loader import FAULT_AT
from pipelines.tiers.dbt import DBT_DIR
from pipelines.warehouse import drop_database, with_database

HR = list(DATASETS["household_registration"].column_names)
VILLAGE = "330683001002"  # 新北社区, a village of the county (partitions.yaml)
NOT_OURS = "330102001001"
TS = "2026-09-30T10:00:00+08:00"  # before every batch date (updated_at_in_range)


def person(n: int, **over: str) -> dict[str, str]:
    row = {"id_number": make_id("19900307", f"{n:03d}"), "name": "张三", "gender": "1",
           "birth_date": "1990-03-07", "ethnicity": "01", "household_id": f"H{n:04d}",
           "relation_to_head": "02", "address": "浙江省嵊州市剡湖街道新北社区1号",
           "division_code": VILLAGE, "phone": "13800138000", "updated_at": TS}
    row.update(over)
    return row


def floater(n: int, **over: str) -> dict[str, str]:
    row = {"op": "I", "id_number": make_id("19800101", f"{n:03d}"), "name": "赵六",
           "phone": "13600136000", "origin_division_code": "330102",
           "residence_address": "嵊州市某路", "division_code": VILLAGE,
           "registered_on": "2026-01-02", "employer": "", "remarks": "无", "updated_at": TS}
    row.update(over)
    return row


def enterprise(n: int, **over: str) -> dict[str, str]:
    row = {"uscc": make_uscc(f"91330683MA2BCD{n:03d}"), "enterprise_name": "嵊州市某某有限公司",
           "legal_rep_name": "钱七", "legal_rep_id_number": make_id("19700101", f"{n:03d}"),
           "legal_rep_phone": "13800138000", "registered_capital": "100.5",
           "industry_code": "C1234", "status": "存续", "established_on": "2010-05-06",
           "address": "某地址", "division_code": VILLAGE, "updated_at": TS}
    row.update(over)
    return row


def death(n: int, **over: str) -> dict[str, str]:
    row = {"op": "I", "id_number": make_id("19300101", f"{n:03d}"), "name": "周九",
           "died_on": "2026-10-01", "division_code": VILLAGE, "source_org": "医院",
           "updated_at": TS}
    row.update(over)
    return row


def data(dataset: str, rows: list[dict[str, str] | list[str]], **kw) -> bytes:
    cols = list(DATASETS[dataset].column_names)
    return csv_bytes(cols, [[r[c] for c in cols] if isinstance(r, dict) else r for r in rows],
                     **kw)


def all_quoted(dataset: str, rows: list[dict[str, str]]) -> bytes:
    cols = list(DATASETS[dataset].column_names)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_ALL)
    w.writerow(cols)
    w.writerows([r[c] for c in cols] for r in rows)
    return buf.getvalue().encode()


def unquoted(rows: list[dict[str, str]]) -> bytes:
    """household_registration as a careless writer writes it: a value is quoted only when it
    holds a comma or a line break, so a quote in any other value is a stray quote."""
    def field(v: str) -> str:
        return '"' + v.replace('"', '""') + '"' if "," in v or "\n" in v else v
    lines = [",".join(HR)] + [",".join(field(r[c]) for c in HR) for r in rows]
    return ("\n".join(lines) + "\n").encode()


# --- the deliveries ---------------------------------------------------------------------------

# Files rejected whole: case → (batch date, dataset, reason); all of the province but one.
REJECTED = {
    "manifest_unreadable": ("2026-10-01", "household_registration", "manifest_unreadable"),
    "file_missing": ("2026-10-02", "household_registration", "file_missing"),
    "sha256_mismatch": ("2026-10-03", "household_registration", "sha256_mismatch"),
    "row_count_mismatch": ("2026-10-04", "household_registration", "row_count_mismatch"),
    "date_disagrees": ("2026-10-05", "household_registration", "manifest_mismatch"),
    "source_disagrees": ("2026-10-06", "household_registration", "manifest_mismatch"),
    "unknown_dataset": ("2026-10-07", "pets", "unknown_dataset"),
    "gb18030_declared_utf8": ("2026-10-08", "household_registration", "bad_encoding"),
    "truncated": ("2026-10-09", "household_registration", "truncated"),
    "missing_column": ("2026-10-10", "household_registration", "bad_header"),
    "extra_column": ("2026-10-11", "household_registration", "bad_header"),
    "repeated_column": ("2026-10-12", "household_registration", "bad_header"),
    "no_header": ("2026-10-13", "household_registration", "bad_header"),
}
WAITING = "2026-10-14"  # files, no manifest yet
UNLISTED = "2026-10-15"
RULES = "2026-10-20"  # province household + enterprise, city floating: one row per rule
ONE_STRAY = "2026-10-21"
TWO_STRAYS = "2026-10-22"
AS_DATA = "2026-10-23"
AS_DATA_ALL_QUOTED = "2026-10-24"
LOAD_ERROR = "2026-10-25"  # city: death_records forced to fail, floating_population loads

GOOD = data("household_registration", [person(1), person(2)])
NO_HEADER_FIRST = person(3, name="欧阳娜娜", address="嵊州市长乐镇开元村88号")

# household_registration of RULES: (record, reason, column); line numbers from 2
HOUSEHOLD_RULES: list[tuple[dict | list, str | None, str | None]] = [
    (person(10), None, None),
    (["a"] * 10, "field_count", None),
    (person(11, id_number=""), "missing_required", "id_number"),
    (person(12, division_code=""), "missing_required", "division_code"),
    (person(13, id_number=with_wrong_check(make_id("19900307", "013"))), "bad_id_number",
     "id_number"),
    (person(14, birth_date="1990-02-30"), "bad_date", "birth_date"),
    (person(15, updated_at="2026-09-30 10:00:00"), "bad_date", "updated_at"),
    (person(16, division_code=NOT_OURS), "unknown_division", "division_code"),
    (person(17, gender="3"), "bad_code", "gender"),
    # two rules broken: bad_id_number comes before bad_code
    (person(18, id_number=with_wrong_check(make_id("19900307", "018")), gender="3"),
     "bad_id_number", "id_number"),
    (person(19, updated_at="2026-09-30T08:00:00+08:00"), "duplicate_key", "id_number"),
    (person(19, updated_at="2026-09-30T09:00:00+08:00"), None, None),
]
ENTERPRISE_RULES = [
    (enterprise(1), None, None),
    (enterprise(2, uscc=make_uscc("91330683MA2BCD002")[:-1] + "I"), "bad_uscc", "uscc"),
    (enterprise(3, registered_capital="一百万"), "bad_number", "registered_capital"),
]
FLOATING_RULES = [
    (floater(1), None, None),
    (floater(2, op="X"), "bad_op", "op"),
    (floater(3, op=""), "missing_required", "op"),
]

# Values that must reach raw exactly as written (the address column; the name for 𠀀).
AS_DATA_VALUES = {
    "commas_quotes_newlines": '嵊州市,甘霖镇 "老街" 3号\n二楼, 东\n"里"间',
    "sql_and_format": "O'Brien; DROP TABLE raw.household_registration; -- $$ $q$ %s %(x)s {0}",
    "backslashes_tab": "C:\\temp\\new \\. \\N \t tab\\",
    "ten_megabytes": "嵊州" * (10 * 1024 * 1024 // 6) + ",末",
}
NAMES_OUTSIDE_BMP = ["𠀀", "𠀾𡒄·阿依", "王𪚥"]


def _stray_rows(strays: dict[int, str]) -> list[dict]:
    return [person(30 + i, name=strays.get(i, "李四")) for i in range(6)]


ONE_STRAY_ROWS = _stray_rows({1: '王"小'})  # line 3
# line 3 and line 6 (a quoted line break in between shifts the lines: row 2 spans 4-5)
TWO_STRAYS_ROWS = _stray_rows({1: '王"小', 3: '李四"'})
TWO_STRAYS_ROWS[2]["address"] = "甲\n乙"


@dataclass
class World:
    conn: psycopg.Connection
    landing: Path
    outcomes: dict[tuple[str, str, str], object] = field(default_factory=dict)
    again: list = field(default_factory=list)  # outcomes of UNLISTED ingested a second time

    def files(self, day: str, source: str = "province") -> dict[str, dict]:
        with self.conn.cursor(row_factory=dict_row) as cur:
            rows = cur.execute(
                "SELECT * FROM governance.batch_files WHERE batch_date = %s AND source = %s "
                "ORDER BY file_id", (day, source)).fetchall()
        return {r["path"]: r for r in rows}

    def kept_aside(self, file_id: int) -> dict[int, tuple[str, str | None]]:
        return {n: (r, c) for n, r, c in self.conn.execute(
            "SELECT line_number, reason, column_name FROM governance.kept_aside_rows "
            "WHERE file_id = %s", (file_id,))}

    def raw(self, dataset: str, file_id: int, columns: str = "line_number") -> list[tuple]:
        return self.conn.execute(f"SELECT {columns} FROM raw.{dataset} WHERE file_id = %s "
                                 "ORDER BY line_number", (file_id,)).fetchall()


def _deliver(landing: Path) -> None:
    p = "province"
    day = dict((k, v[0]) for k, v in REJECTED.items())
    d = write_batch(landing, p, day["manifest_unreadable"], {"household_registration": GOOD})
    (d / "manifest.json").write_text('{"source": "province", "files": [', encoding="utf-8")
    (d / "notes.txt").write_text("not a csv: an unreadable manifest names nothing")
    d = write_batch(landing, p, day["file_missing"], {"household_registration": GOOD})
    (d / "household_registration.csv").unlink()
    write_batch(landing, p, day["sha256_mismatch"], {"household_registration": GOOD},
                overrides={"household_registration": {"sha256": "0" * 64}})
    write_batch(landing, p, day["row_count_mismatch"], {"household_registration": GOOD},
                rows={"household_registration": 3})
    write_batch(landing, p, day["date_disagrees"], {"household_registration": GOOD},
                manifest_extra={"batch_date": "2026-09-30"})
    write_batch(landing, p, day["source_disagrees"], {"household_registration": GOOD},
                manifest_extra={"source": "city"})
    write_batch(landing, p, day["unknown_dataset"], {"pets": b"name\nmimi\n"})
    write_batch(landing, p, day["gb18030_declared_utf8"], {"household_registration": data(
        "household_registration", [person(1), person(2, name="李四")], encoding="gb18030")})
    cut = data("household_registration", [person(1), person(2, address="嵊州市甘霖镇\n尹家村"),
                                           person(4)])
    cut = cut[: cut.index("尹家".encode())]  # inside the quoted address of the record of line 3
    write_batch(landing, p, day["truncated"], {"household_registration": cut},
                rows={"household_registration": 3})
    write_batch(landing, p, day["missing_column"], {"household_registration": csv_bytes(
        [c for c in HR if c != "phone"], [[v for c, v in person(1).items() if c != "phone"]])})
    one = [person(1)[c] for c in HR]
    write_batch(landing, p, day["extra_column"], {"household_registration": csv_bytes(
        [*HR, "nickname"], [[*one, "小三"]])})
    write_batch(landing, p, day["repeated_column"], {"household_registration": csv_bytes(
        [*HR[:3], "name", *HR[3:]], [[*one[:3], "张", *one[3:]]])})
    headerless = data("household_registration", [NO_HEADER_FIRST, person(4)])
    write_batch(landing, p, day["no_header"],
                {"household_registration": headerless.split(b"\n", 1)[1]},
                rows={"household_registration": 2})

    d = write_batch(landing, p, WAITING, {"household_registration": GOOD})
    (d / "manifest.json").unlink()  # still arriving

    d = write_batch(landing, p, UNLISTED, {"household_registration": GOOD})
    (d / "enterprise_registry.csv").write_bytes(data("enterprise_registry", [enterprise(1)]))
    (d / "readme.txt").write_text("说明")
    (d / "household_registration.csv.bak").write_bytes(GOOD)
    (d / "old").mkdir()  # a folder is no file
    (d / "old" / "household_registration.csv").write_bytes(GOOD)

    write_batch(landing, p, RULES, {
        "household_registration": data("household_registration", [r for r, _, _ in HOUSEHOLD_RULES]),
        "enterprise_registry": data("enterprise_registry", [r for r, _, _ in ENTERPRISE_RULES]),
    })
    write_batch(landing, "city", RULES, {
        "floating_population": data("floating_population", [r for r, _, _ in FLOATING_RULES])})
    for day, rows in ((ONE_STRAY, ONE_STRAY_ROWS), (TWO_STRAYS, TWO_STRAYS_ROWS)):
        write_batch(landing, p, day, {"household_registration": unquoted(rows)},
                    rows={"household_registration": len(rows)})

    as_data = [person(40 + i, address=v) for i, v in enumerate(AS_DATA_VALUES.values())]
    as_data += [person(50 + i, name=v) for i, v in enumerate(NAMES_OUTSIDE_BMP)]
    write_batch(landing, p, AS_DATA, {"household_registration": data(
        "household_registration", as_data, newline="\r\n")},
        rows={"household_registration": len(as_data)})
    small = [r for r in as_data if len(r["address"]) < 1000]
    write_batch(landing, p, AS_DATA_ALL_QUOTED, {"household_registration": all_quoted(
        "household_registration", small)})

    write_batch(landing, "city", LOAD_ERROR, {
        "death_records": data("death_records", [death(1), death(2)]),
        "floating_population": data("floating_population", [floater(5), floater(6)]),
    })


@pytest.fixture(scope="module")
def world(warehouse_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    admin = with_database(warehouse_url, "postgres")
    name = f"{warehouse_url.rsplit('/', 1)[1]}_reliability"
    url = create_database(admin, name)
    landing = tmp_path_factory.mktemp("reliability_landing")
    _deliver(landing)
    conn = psycopg.connect(url, autocommit=True)
    w = World(conn, landing)
    days = sorted({v[0] for v in REJECTED.values()} | {
        WAITING, UNLISTED, RULES, ONE_STRAY, TWO_STRAYS, AS_DATA, AS_DATA_ALL_QUOTED})
    for day in days:
        for o in ingest_day(conn, landing, dt.date.fromisoformat(day)):
            w.outcomes[(o.source, o.batch_date, o.path)] = o
    w.again = ingest_day(conn, landing, dt.date.fromisoformat(UNLISTED))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(FAULT_AT, f"load_file:city/{LOAD_ERROR}/death_records.csv")
        for o in ingest_day(conn, landing, dt.date.fromisoformat(LOAD_ERROR)):
            w.outcomes[(o.source, o.batch_date, o.path)] = o
    target = DBT_DIR / "target" / "pytest_reliability"
    result = run_dbt(url, "run", "--select", "+kept_aside_rows", "+file_row_counts",
                     target_dir=target)
    assert result.returncode == 0, result.stdout[-6000:]
    update_counts(conn)
    yield w
    conn.close()
    drop_database(admin, name)


# --- every file keeps the contract's accounts ---------------------------------------------------


def test_every_file_keeps_its_accounts(world):
    files = world.conn.execute(
        "SELECT file_id, dataset, status, reason, rows_received, rows_loaded, rows_kept_aside "
        "FROM governance.batch_files ORDER BY file_id").fetchall()
    assert len(files) > 20
    for file_id, dataset, status, reason, received, loaded, kept in files:
        where = f"file {file_id} ({dataset}, {status}, {reason})"
        raw = (world.conn.execute(f"SELECT count(*) FROM raw.{dataset} WHERE file_id = %s",
                                  (file_id,)).fetchone()[0] if dataset in DATASETS else 0)
        if status == "loaded":
            assert reason is None and received == loaded + kept == raw, where
        else:
            assert (loaded, kept, raw) == (0, 0, 0), where
        if status == "unlisted":
            assert (reason, received) == (None, None), where
    counted = world.conn.execute(
        "SELECT count(*) FROM governance.file_row_counts c JOIN governance.batch_files b "
        "USING (file_id) WHERE (c.rows_loaded, c.rows_kept_aside) IS DISTINCT FROM "
        "(b.rows_loaded, b.rows_kept_aside)").fetchone()[0]
    assert counted == 0
    assert unbalanced_files(world.conn) == []  # what the files_reconcile check and the gate ask


# --- files rejected whole ------------------------------------------------------------------------


@pytest.mark.parametrize("case", list(REJECTED))
def test_file_rejected_whole(world, case):
    day, dataset, reason = REJECTED[case]
    source = "province"
    path = f"{dataset}.csv"
    out = world.outcomes[(source, day, path)]
    row = world.files(day)[path]
    assert (out.status, out.reason) == (row["status"], row["reason"]) == ("rejected", reason), \
        out.message
    assert row["message"] == out.message
    where = "manifest.json" if reason.startswith("manifest_") else path  # the manifest's fault
    assert f"{source}/{day}/{where}" in out.message
    declared = json.loads((world.landing / source / day / "manifest.json").read_text())["files"][
        0]["rows"] if reason != "manifest_unreadable" else None
    assert row["rows_received"] == declared
    assert (row["rows_loaded"], row["rows_kept_aside"]) == (0, 0)
    if dataset in DATASETS:
        assert world.conn.execute(f"SELECT count(*) FROM raw.{dataset} WHERE file_id = %s",
                                  (row["file_id"],)).fetchone()[0] == 0


def message(world, case: str) -> str:
    day, dataset, _ = REJECTED[case]
    return world.outcomes[("province", day, f"{dataset}.csv")].message


def test_rejection_messages_name_line_and_column(world):
    assert "line 2, column" in message(world, "gb18030_declared_utf8")
    assert "record starting at line 3 ends inside an open quote" in message(world, "truncated")
    assert "line 1: header lacks phone" in message(world, "missing_column")
    assert f"line 1, column {len(HR) + 1}: unknown column 'nickname'" in message(
        world, "extra_column")
    assert "line 1, column 4: 'name' repeated" in message(world, "repeated_column")
    assert "line 1, column 1: unknown column" in message(world, "no_header")
    assert "declares 3 rows" in message(world, "row_count_mismatch")
    assert "'pets'" in message(world, "unknown_dataset")
    assert "source='city'" in message(world, "source_disagrees")


def test_a_headerless_file_quotes_none_of_its_first_line(world):
    msg = message(world, "no_header")
    leaked = [v for v in NO_HEADER_FIRST.values() if len(v) >= 3 and v in msg]
    assert leaked == [] and "shaped" in msg


def test_an_unreadable_manifest_rejects_its_csv_files_only(world):
    files = world.files(REJECTED["manifest_unreadable"][0])
    assert list(files) == ["household_registration.csv"]  # notes.txt: not named, not a csv


def test_a_batch_without_manifest_waits(world):
    assert world.files(WAITING) == {}
    assert not any(day == WAITING for _, day, _ in world.outcomes)


def test_unlisted_files_are_recorded_once(world):
    files = world.files(UNLISTED)
    assert files["household_registration.csv"]["status"] == "loaded"
    unlisted = {p: (f["dataset"], f["status"], f["reason"], f["rows_received"],
                    f["rows_loaded"], f["rows_kept_aside"]) for p, f in files.items()
                if p != "household_registration.csv"}
    assert unlisted == {
        "enterprise_registry.csv": ("enterprise_registry", "unlisted", None, None, 0, 0),
        "household_registration.csv.bak": ("household_registration.csv", "unlisted", None, None,
                                           0, 0),
        "readme.txt": ("readme", "unlisted", None, None, 0, 0),
    }
    assert world.conn.execute(
        "SELECT count(*) FROM raw.enterprise_registry e JOIN governance.batch_files b "
        "USING (file_id) WHERE b.batch_date = %s", (UNLISTED,)).fetchone()[0] == 0
    assert sorted(o.status for o in world.again) == ["skipped"] * 4  # the same delivery again


def test_an_old_status_check_is_migrated(world):
    from pipelines.ingest.schema import ensure_schemas

    c = world.conn
    with c.transaction(force_rollback=True):
        c.execute("ALTER TABLE governance.batch_files DROP CONSTRAINT batch_files_status_check")
        c.execute("DELETE FROM governance.batch_files WHERE status = 'unlisted'")
        c.execute("ALTER TABLE governance.batch_files ADD CONSTRAINT batch_files_status_check "
                  "CHECK (status IN ('loaded', 'rejected', 'superseded'))")
        ensure_schemas(c)
        ensure_schemas(c)  # idempotent
        defs = c.execute("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE "
                         "conname = 'batch_files_status_check'").fetchall()
        assert len(defs) == 1 and "'unlisted'" in defs[0][0]


# --- rows kept aside, the rest loads -----------------------------------------------------------


@pytest.mark.parametrize("source, path, expected", [
    ("province", "household_registration.csv", HOUSEHOLD_RULES),
    ("province", "enterprise_registry.csv", ENTERPRISE_RULES),
    ("city", "floating_population.csv", FLOATING_RULES),
])
def test_each_rule_keeps_its_row_aside_with_line_and_column(world, source, path, expected):
    f = world.files(RULES, source)[path]
    assert f["status"] == "loaded"
    want = {i + 2: (reason, column) for i, (_, reason, column) in enumerate(expected) if reason}
    assert world.kept_aside(f["file_id"]) == want
    assert (f["rows_received"], f["rows_loaded"], f["rows_kept_aside"]) == (
        len(expected), len(expected) - len(want), len(want))


def test_the_rules_cover_the_contract(world):
    from pipelines.contract import ROW_REASONS

    used = {r for rows in (HOUSEHOLD_RULES, ENTERPRISE_RULES, FLOATING_RULES) for _, r, _ in rows}
    assert used - {None} == set(ROW_REASONS)


@pytest.mark.parametrize("day, rows, stray_lines, lines", [
    (ONE_STRAY, ONE_STRAY_ROWS, {3}, [2, 3, 4, 5, 6, 7]),
    (TWO_STRAYS, TWO_STRAYS_ROWS, {3, 6}, [2, 3, 4, 6, 7, 8]),
])
def test_stray_quotes_keep_their_record_aside_and_open_nothing(world, day, rows, stray_lines,
                                                                lines):
    f = world.files(day)["household_registration.csv"]
    assert (f["status"], f["reason"], f["rows_received"]) == ("loaded", None, len(rows))
    assert world.kept_aside(f["file_id"]) == {n: ("field_count", None) for n in stray_lines}
    got = world.raw("household_registration", f["file_id"], "line_number, field_count, address")
    assert [g[0] for g in got] == lines
    assert [g[2] for g in got if g[0] not in stray_lines] == [
        r["address"] for r, n in zip(rows, lines, strict=True) if n not in stray_lines]
    assert (f["rows_loaded"], f["rows_kept_aside"]) == (len(rows) - len(stray_lines),
                                                       len(stray_lines))


# --- must load as data ------------------------------------------------------------------------


@pytest.mark.parametrize("day", [AS_DATA, AS_DATA_ALL_QUOTED])
def test_values_round_trip_exactly_and_load(world, day):
    f = world.files(day)["household_registration.csv"]
    assert f["status"] == "loaded", f["message"]
    got = world.raw("household_registration", f["file_id"], "address, name")
    values = [v for v in AS_DATA_VALUES.values() if day == AS_DATA or len(v) < 1000]
    assert [a for a, _ in got[: len(values)]] == values
    assert [n for _, n in got[len(values):]] == NAMES_OUTSIDE_BMP
    assert world.kept_aside(f["file_id"]) == {}
    assert f["rows_loaded"] == f["rows_received"] == len(values) + len(NAMES_OUTSIDE_BMP)


# --- huiliu's own failure on one file -------------------------------------------------------------


def test_a_load_error_rejects_that_file_only(world):
    files = world.files(LOAD_ERROR, "city")
    failed, other = files["death_records.csv"], files["floating_population.csv"]
    assert (failed["status"], failed["reason"], failed["rows_received"]) == (
        "rejected", "load_error", 2)
    assert failed["message"] == (
        f"city/{LOAD_ERROR}/death_records.csv: load_error: InvalidTextRepresentation "
        "(huiliu failed on this file; see the run log)")
    assert world.raw("death_records", failed["file_id"]) == []
    assert world.conn.execute(  # no row of it either under another file_id
        "SELECT count(*) FROM raw.death_records").fetchone()[0] == 0
    assert (other["status"], other["rows_loaded"]) == ("loaded", 2)
