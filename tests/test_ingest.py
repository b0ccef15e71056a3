"""Ingestion per the batch contract: file rejections, raw parsing, deliveries."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import psycopg
import pytest
from support.batchkit import csv_bytes, write_batch

from pipelines.contract import DATASETS
from pipelines.ingest.batches import ingest_day

DAY = "2026-11-02"
HR = list(DATASETS["household_registration"].column_names)
ID1, ID2 = "330683199001011236", "33068319850615002X"  # valid checksums


def hr_row(id_number: str = ID1, name: str = "张三", address: str = "嵊州市甘霖镇1号") -> list[str]:
    values = {
        "id_number": id_number, "name": name, "gender": "1", "birth_date": "1990-01-01",
        "ethnicity": "01", "household_id": "H001", "relation_to_head": "01",
        "address": address, "division_code": "330683100201", "phone": "13800138000",
        "updated_at": "2026-11-02T10:00:00+08:00",
    }
    return [values[c] for c in HR]


def ingest(conn: psycopg.Connection, landing: Path, day: str = DAY) -> dict[str, tuple]:
    outcomes = ingest_day(conn, landing, dt.date.fromisoformat(day))
    return {o.dataset: o for o in outcomes}


def raw_rows(conn: psycopg.Connection, dataset: str = "household_registration") -> list[tuple]:
    return conn.execute(
        f"SELECT line_number, field_count, id_number, name, address FROM raw.{dataset} "
        "ORDER BY file_id, line_number").fetchall()


def files(conn: psycopg.Connection) -> list[tuple]:
    return conn.execute("SELECT dataset, status, reason, rows_received FROM "
                        "governance.batch_files ORDER BY file_id").fetchall()


def test_good_file_loads_every_record_with_its_start_line(conn, tmp_path):
    rows = [hr_row(ID1, address="嵊州市,甘霖镇\n尹家村 1号"), hr_row(ID2, name='王"小"二')]
    data = csv_bytes(HR, rows, newline="\r\n") + b"\r\n\r\n"  # blank lines at the end
    write_batch(tmp_path, "province", DAY, {"household_registration": data})
    out = ingest(conn, tmp_path)["household_registration"]
    assert (out.status, out.records_stored) == ("loaded", 2)
    got = raw_rows(conn)
    assert [r[0] for r in got] == [2, 4]  # the first record spans lines 2-3
    assert got[0][4] == "嵊州市,甘霖镇\n尹家村 1号"
    assert got[1][3] == '王"小"二'
    assert files(conn) == [("household_registration", "loaded", None, 2)]


def test_header_in_any_order_bom_and_gb18030_with_four_byte_names(conn, tmp_path):
    shuffled = list(reversed(HR))
    row = list(reversed(hr_row(name="𠀾𡒄·阿依")))
    utf8 = b"\xef\xbb\xbf" + csv_bytes(shuffled, [row])
    write_batch(tmp_path, "province", DAY, {"household_registration": utf8})
    ingest(conn, tmp_path)
    assert raw_rows(conn)[0][3] == "𠀾𡒄·阿依"

    gb = csv_bytes(HR, [hr_row(ID2, name="𠀾小明")], encoding="gb18030")
    write_batch(tmp_path, "province", "2026-11-03", {"household_registration": gb},
                overrides={"household_registration": {"encoding": "gb18030"}})
    assert ingest(conn, tmp_path, "2026-11-03")["household_registration"].status == "loaded"
    assert raw_rows(conn)[-1][3] == "𠀾小明"


def test_blank_line_inside_and_wrong_field_count_are_records(conn, tmp_path):
    data = csv_bytes(HR, [hr_row()]) + b"\n" + b"a,b\n" + csv_bytes(HR, [hr_row(ID2)])[
        len(",".join(HR)) + 1:]
    write_batch(tmp_path, "province", DAY, {"household_registration": data},
                rows={"household_registration": 4})
    assert ingest(conn, tmp_path)["household_registration"].status == "loaded"
    assert [(r[0], r[1]) for r in raw_rows(conn)] == [(2, 11), (3, 0), (4, 2), (5, 11)]
    assert raw_rows(conn)[2][2] is None  # a record of the wrong width keeps no values


def _reject(conn, tmp_path, data: bytes, reason: str, **kw) -> str:
    write_batch(tmp_path, "province", DAY, {"household_registration": data}, **kw)
    out = ingest(conn, tmp_path)["household_registration"]
    assert (out.status, out.reason) == ("rejected", reason), out.message
    assert raw_rows(conn) == []
    assert "household_registration.csv" in out.message
    return out.message


GOOD = csv_bytes(HR, [hr_row(), hr_row(ID2)])


def test_sha256_mismatch(conn, tmp_path):
    msg = _reject(conn, tmp_path, GOOD, "sha256_mismatch",
                  overrides={"household_registration": {"sha256": "0" * 64}})
    assert "sha256" in msg


def test_bad_encoding_names_line_and_column(conn, tmp_path):
    data = csv_bytes(HR, [hr_row(), hr_row(ID2, name="李四")], encoding="gb18030")
    msg = _reject(conn, tmp_path, data, "bad_encoding")  # declared utf-8
    assert "line 2, column" in msg


def test_bad_header_missing_unknown_repeated(conn, tmp_path):
    assert "lacks name" in _reject(conn, tmp_path, csv_bytes(
        [c for c in HR if c != "name"], [hr_row()[:1] + hr_row()[2:]]), "bad_header")
    assert "unknown column 'nickname'" in _reject(
        conn, tmp_path, csv_bytes([*HR, "nickname"], [[*hr_row(), "x"]]), "bad_header")
    assert "repeated" in _reject(
        conn, tmp_path, csv_bytes([*HR, "name"], [[*hr_row(), "x"]]), "bad_header")


def test_truncated_inside_open_quote(conn, tmp_path):
    data = csv_bytes(HR, [hr_row()]) + b'330683198506150021,"unterminated name'
    msg = _reject(conn, tmp_path, data, "truncated", rows={"household_registration": 2})
    assert "line 3" in msg


def test_row_count_mismatch(conn, tmp_path):
    msg = _reject(conn, tmp_path, GOOD, "row_count_mismatch",
                  rows={"household_registration": 3})
    assert "declares 3 rows" in msg and "holds 2 records" in msg


def test_manifest_faults_reject_every_file(conn, tmp_path):
    write_batch(tmp_path, "province", DAY, {"household_registration": GOOD},
                manifest_extra={"batch_date": "2026-11-01"})
    assert {o.reason for o in ingest(conn, tmp_path).values()} == {"manifest_mismatch"}
    (tmp_path / "province" / DAY / "manifest.json").write_text("{not json")
    out = ingest(conn, tmp_path)["household_registration"]
    assert out.reason == "manifest_unreadable" and out.rows_received is None
    assert raw_rows(conn) == []


def test_unknown_dataset_and_missing_file(conn, tmp_path):
    d = write_batch(tmp_path, "province", DAY, {"household_registration": GOOD})
    manifest = json.loads((d / "manifest.json").read_text())
    manifest["files"].append(dict(manifest["files"][0], dataset="pets", path="pets.csv"))
    manifest["files"].append(dict(manifest["files"][0], dataset="social_insurance",
                                  path="social_insurance.csv", mode="delta"))
    (d / "manifest.json").write_text(json.dumps(manifest))
    got = ingest(conn, tmp_path)
    assert got["pets"].reason == "unknown_dataset"
    assert got["social_insurance"].reason == "file_missing"
    assert got["household_registration"].status == "loaded"  # the other files still load


def test_same_delivery_twice_changes_nothing(conn, tmp_path):
    write_batch(tmp_path, "province", DAY, {"household_registration": GOOD})
    ingest(conn, tmp_path)
    before = (files(conn), raw_rows(conn))
    assert ingest(conn, tmp_path)["household_registration"].status == "skipped"
    assert (files(conn), raw_rows(conn)) == before


def test_newer_delivery_supersedes_only_when_it_loads(conn, tmp_path):
    write_batch(tmp_path, "province", DAY, {"household_registration": GOOD})
    ingest(conn, tmp_path)
    # a corrected re-send whose file is broken: the first delivery stands
    write_batch(tmp_path, "province", DAY, {"household_registration": GOOD},
                rows={"household_registration": 5})
    ingest(conn, tmp_path)
    assert [f[1] for f in files(conn)] == ["loaded", "rejected"]
    # a corrected re-send that loads: the first delivery is superseded
    write_batch(tmp_path, "province", DAY,
                {"household_registration": csv_bytes(HR, [hr_row()])})
    ingest(conn, tmp_path)
    assert [f[1] for f in files(conn)] == ["superseded", "rejected", "loaded"]


@pytest.mark.parametrize("path", ["../x.csv", "sub/x.csv"])
def test_paths_outside_the_batch_are_refused(conn, tmp_path, path):
    d = write_batch(tmp_path, "province", DAY, {"household_registration": GOOD})
    manifest = json.loads((d / "manifest.json").read_text())
    manifest["files"][0]["path"] = path
    (d / "manifest.json").write_text(json.dumps(manifest))
    assert ingest(conn, tmp_path)["household_registration"].reason == "file_missing"
