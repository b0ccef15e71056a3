"""dbt staging, current state and governance models (dbt_project/), against a private database.

One `dbt build` over small, made-up raw fixtures (every identity number, phone and name here
is invented), then assertions on: each row rule with its reason and failing column, the rule
order, normalisation, duplicate_key, the delta fold (three dates inserted out of order), late
and superseded snapshots, gaps, file_row_counts and kept_aside_rows.

Run: .venv/bin/python -m pytest tests/test_staging.py -q
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import jinja2
import psycopg
import pytest
import yaml
from support.staging import (
    DBT_PROJECT,
    RawFixtures,
    create_database,
    fetch_dicts,
    fullwidth,
    make_id,
    make_id15,
    make_uscc,
    run_dbt,
    with_wrong_check,
)

from pipelines.contract import DATASETS, id_check_char, upgrade_id15
from pipelines.warehouse import database_url

TEST_DB = "huiliu_test_staging"

VILLAGE = "330683001002"
VILLAGE_2 = "330683001003"
TOWN_LEVEL = "330683001000"  # town 330683001 + 000: valid, the village is unknown
NOT_OURS = "330102001001"  # a real-looking code of another county
TS = "2026-11-22T18:03:11+08:00"

# --- made-up people ---------------------------------------------------------------------
ID_A = make_id("19900307", "123")
ID_X = "33068319850612100X"  # check character X
ID15, ID15_AS_18 = make_id15("900307", "321", area="330683")
ID_FW = make_id("19780101", "456")
ID_DUP = make_id("19600101", "011")
ID_TIE = make_id("19600101", "022")
ID_LEGACY_DUP15, ID_LEGACY_DUP18 = make_id15("550505", "033", area="330683")
ID_IMPOSSIBLE = "33068319900230123" + id_check_char("33068319900230123")  # 30 February
ID_FUTURE = make_id("20990101", "123")
ID_TOO_OLD = make_id("18791231", "123")
ID_LATE_OLD = make_id("19700101", "001")  # only in the late, older snapshot
ID_SUPERSEDED = make_id("19700101", "002")  # only in the superseded snapshot

USCC_OK = make_uscc("91330683MA2BCDEF1")
USCC_OK_2 = make_uscc("91330683MA2BCDEF2")
USCC_OK_3 = make_uscc("91330683MA2BCDEF3")


def person(id_number: str | None, **over: str | None) -> dict[str, str | None]:
    row = {
        "id_number": id_number, "name": "张三", "gender": "1", "birth_date": "1990-03-07",
        "ethnicity": "01", "household_id": "H0001", "relation_to_head": "02",
        "address": "浙江省嵊州市剡湖街道新北社区1号", "division_code": VILLAGE,
        "phone": "13800138000", "updated_at": TS,
    }
    row.update(over)
    return row


# household_registration 2026-11-22: line numbers start at 2 (header = line 1)
HOUSEHOLD_ROWS: list[tuple[dict | list, str | None, str | None]] = [
    # (record, expected reason, expected column)
    (person(ID_A, phone="+86 138-0013-8000"), None, None),  # line 2
    (person(ID_X.lower(), name="阿依古丽·买买提"), None, None),  # 3: lower x, name with ·
    (person(ID15, gender="2"), None, None),  # 4: legacy 15 digits
    (person(fullwidth(ID_FW), division_code=fullwidth(VILLAGE), phone=fullwidth("13912345678"),
            name="\u3000李四\u3000", birth_date=fullwidth("1978-01-01")), None, None),  # 5
    (person(make_id("19880808", "808"), name="  王𠀾  "), None, None),  # 6: four-byte char
    (["a"] * 10, "field_count", None),  # 7: 10 fields instead of 11
    (person("   ", gender="3"), "missing_required", "id_number"),  # 8: blank id (+ bad code)
    (person(with_wrong_check(ID_A), division_code=None), "missing_required", "division_code"),
    (person(with_wrong_check(make_id("19900307", "124"))), "bad_id_number", "id_number"),  # 10
    (person(ID_IMPOSSIBLE), "bad_id_number", "id_number"),  # 11: 19900230
    (person(make_id("19910101", "111"), birth_date="1990-02-30"), "bad_date", "birth_date"),
    (person(make_id("19910101", "112"), updated_at="2026-11-22 18:03:11"), "bad_date",
     "updated_at"),  # 13: no T, no offset
    (person(make_id("19910101", "113"), birth_date="19900101", division_code=NOT_OURS),
     "bad_date", "birth_date"),  # 14: bad date before unknown division
    (person(make_id("19910101", "114"), division_code=NOT_OURS), "unknown_division",
     "division_code"),  # 15
    (person(make_id("19910101", "115"), division_code=TOWN_LEVEL), None, None),  # 16
    (person(make_id("19910101", "116"), gender="3"), "bad_code", "gender"),  # 17
    (person(with_wrong_check(make_id("19910101", "117")), gender="3"), "bad_id_number",
     "id_number"),  # 18: bad id before bad code
    (person(ID_DUP, updated_at="2026-11-22T08:00:00+08:00"), "duplicate_key", "id_number"),
    (person(ID_DUP, updated_at="2026-11-22T09:00:00+08:00", name="新"), None, None),  # 20
    (person(ID_TIE, updated_at="2026-11-22T09:00:00+08:00"), "duplicate_key", "id_number"),
    (person(ID_TIE, updated_at="2026-11-22T01:00:00Z"), "duplicate_key", "id_number"),  # tie
    (person(ID_TIE, updated_at="2026-11-21T09:00:00+08:00"), "duplicate_key", "id_number"),
    (person(ID_LEGACY_DUP15, updated_at="2026-11-22T10:00:00+08:00"), None, None),  # 24
    (person(ID_LEGACY_DUP18, updated_at="2026-11-22T09:00:00+08:00"), "duplicate_key",
     "id_number"),  # 25: the same person written as 18 characters, older
    (person(ID_A, gender="7", updated_at="2026-11-23T00:00:00+08:00"), "bad_code", "gender"),
    (person(make_id("19920202", "202"), phone=" 0575-8301 2345 "), None, None),  # 27
    (person(make_id("19920202", "203"), phone="   ", updated_at="2026-11-22T10:03:11.250Z"),
     None, None),  # 28: blank phone; Z and fraction
    (person(ID_FUTURE), "bad_id_number", "id_number"),  # 29: born in 2099
    (person(ID_TOO_OLD), "bad_id_number", "id_number"),  # 30: born in 1879
    (person(make_id("20000229", "301"), birth_date="2000-02-29"), None, None),  # 31: leap day
    (person(make_id("19000228", "302"), birth_date="1900-02-29"), "bad_date", "birth_date"),
    (person(make_id("19910101", "118"), updated_at="2026-11-22T24:00:00+08:00"), "bad_date",
     "updated_at"),  # 33
    (person(make_id("19910101", "119"), phone="8613700137000"), None, None),  # 34
]

DELTA_DATES = ("2026-11-21", "2026-11-22", "2026-11-23", "2026-11-25")  # 11-24 missing
P = {i: make_id("19800101", f"{500 + i:03d}") for i in range(1, 11)}


def floater(op: str | None, id_number: str | None, updated_at: str, **over: str | None) -> dict:
    row = {
        "op": op, "id_number": id_number, "name": "赵六", "phone": "13600136000",
        "origin_division_code": "330102", "residence_address": "嵊州市某路",
        "division_code": VILLAGE, "registered_on": "2026-01-02", "employer": None,
        "remarks": "无", "updated_at": updated_at,
    }
    row.update(over)
    return row


# floating_population delta files by date; each event: (record, expected reason)
FLOATING = {
    "2026-11-21": [
        (floater("I", P[1], "2026-11-21T10:00:00+08:00", phone="13600000001"), None),
        (floater("I", P[2], "2026-11-21T10:00:00+08:00"), None),
        (floater("D", P[8], "2026-11-21T10:00:00+08:00"), None),  # D of an absent key
        (floater("i", P[9], "2026-11-21T10:00:00+08:00"), "bad_op"),  # lower-case op
        (floater(None, P[9], "2026-11-21T10:00:00+08:00"), "missing_required"),
    ],
    "2026-11-22": [
        (floater("U", P[1], "2026-11-22T10:00:00+08:00", phone="13600000002"), None),
        (floater("D", P[3], "2026-11-22T10:00:00+08:00"), None),  # no-op, I comes next day
        # P4: update written before the insert, but later by updated_at: the update wins
        (floater("U", P[4], "2026-11-22T12:00:00+08:00", name="周九新"), None),
        (floater("I", P[4], "2026-11-22T09:00:00+08:00", name="周九"), None),
        # P5: same updated_at: the later line wins
        (floater("I", P[5], "2026-11-22T09:00:00+08:00", division_code=VILLAGE), None),
        (floater("U", P[5], "2026-11-22T09:00:00+08:00", division_code=VILLAGE_2), None),
    ],
    "2026-11-23": [
        (floater("D", P[2], "2026-11-23T10:00:00+08:00"), None),
        (floater("I", P[3], "2026-11-23T10:00:00+08:00"), None),
        (floater("I", P[8], "2026-11-23T10:00:00+08:00"), None),
        (floater("X", P[6], "2026-11-23T10:00:00+08:00"), "bad_op"),
    ],
    "2026-11-25": [
        (floater("U", P[6], "2026-11-25T10:00:00+08:00", division_code=TOWN_LEVEL), None),
        # kept aside: does not touch P1's state
        (floater("U", P[1], "2026-11-25T10:00:00+08:00", division_code=NOT_OURS),
         "unknown_division"),
        (floater("U", ID15, "2026-11-25T11:00:00+08:00"), None),  # legacy id, key normalised
    ],
}
# an earlier delivery of 2026-11-22, superseded by the one above: never folded
FLOATING_SUPERSEDED = [
    (floater("D", P[1], "2026-11-22T11:00:00+08:00"), None),
    (floater("I", P[7], "2026-11-22T11:00:00+08:00"), None),
]


def reference_fold(files: list[tuple[str, list]]) -> dict[str, dict]:
    """The contract's fold, in Python: (batch_date, updated_at, line) order, last event wins."""
    events = []
    for batch_date, rows in files:
        for i, (row, reason) in enumerate(rows):
            if reason is None:
                ts = dt.datetime.fromisoformat(row["updated_at"].replace("Z", "+00:00"))
                key = row["id_number"]
                key = key if len(key) == 18 else upgrade_id15(key)
                events.append(((batch_date, ts, i + 2), key, row))
    state: dict[str, dict] = {}
    for _, key, row in sorted(events, key=lambda e: e[0]):
        if row["op"] == "D":
            state.pop(key, None)
        else:
            state[key] = row
    return state


# --- the build ----------------------------------------------------------------------------


class Built(dict):
    """The build's results; its repr stays short (no connection details in failure output)."""

    def __repr__(self) -> str:
        return f"<dbt build on {TEST_DB}: {len(self['files'])} files>"


@pytest.fixture(scope="module")
def built():
    admin = database_url("postgres")
    url = create_database(admin, TEST_DB)
    files: dict[str, int] = {}
    with psycopg.connect(url, autocommit=True) as conn:
        fx = RawFixtures(conn)
        # snapshot household: the current file, then a superseded delivery of the same date
        # (inserted later, so with a higher file_id), then a late snapshot of an older date,
        # then a rejected file of a newer date that (wrongly) left rows in raw.
        files["h_current"] = fx.add_file(
            "household_registration", "2026-11-22", rows=[r for r, _, _ in HOUSEHOLD_ROWS])
        files["h_superseded"] = fx.add_file(
            "household_registration", "2026-11-22", status="superseded",
            rows=[person(ID_SUPERSEDED)])
        files["h_late_old"] = fx.add_file(
            "household_registration", "2026-11-20", rows=[person(ID_LATE_OLD), person(ID_A)])
        files["h_rejected"] = fx.add_file(
            "household_registration", "2026-11-23", status="rejected", reason="sha256_mismatch",
            rows=[person(make_id("19700101", "003"))])
        # delta floating_population: dates inserted out of order, one superseded delivery,
        # a rejected file on the missing date
        for date in ("2026-11-23", "2026-11-21", "2026-11-25", "2026-11-22"):
            files[f"f_{date}"] = fx.add_file(
                "floating_population", date, rows=[r for r, _ in FLOATING[date]])
        files["f_superseded"] = fx.add_file(
            "floating_population", "2026-11-22", status="superseded",
            rows=[r for r, _ in FLOATING_SUPERSEDED])
        files["f_rejected"] = fx.add_file(
            "floating_population", "2026-11-24", status="rejected", reason="bad_header")
        # social_insurance (delta, composite key)
        si = {"op": "I", "id_number": ID_A, "name": "张三", "insurance_type": "110", "status": "1",
              "employer_uscc": None, "started_on": "2020-01-01", "division_code": VILLAGE,
              "updated_at": TS}
        files["s_1"] = fx.add_file("social_insurance", "2026-11-22", rows=[
            si,  # 2
            {**si, "insurance_type": "310", "employer_uscc": USCC_OK.lower()},  # 3
            {**si, "insurance_type": "999"},  # 4 bad_code
            {**si, "insurance_type": None},  # 5 missing_required insurance_type
            {**si, "insurance_type": "120", "employer_uscc": USCC_OK[:-1] + "0"
             if USCC_OK[-1] != "0" else USCC_OK[:-1] + "1"},  # 6 bad_uscc
            {**si, "insurance_type": "390", "status": "4"},  # 7 bad_code status
            {**si, "insurance_type": "410", "started_on": "2020-13-01"},  # 8 bad_date
        ])
        files["s_2"] = fx.add_file("social_insurance", "2026-11-23", rows=[
            {**si, "op": "D", "updated_at": "2026-11-23T08:00:00+08:00"},  # 110 deleted
            {**si, "op": "U", "insurance_type": "310", "status": "2",
             "updated_at": "2026-11-23T08:00:00+08:00"},
        ])
        # enterprise_registry (snapshot)
        ent = {"uscc": USCC_OK, "enterprise_name": "嵊州市某某有限公司", "legal_rep_name": "钱七",
               "legal_rep_id_number": ID_A, "legal_rep_phone": "138 0013 8000",
               "registered_capital": "100.5", "industry_code": "C1234", "status": "存续",
               "established_on": "2010-05-06", "address": "某地址", "division_code": TOWN_LEVEL,
               "updated_at": TS}
        files["e_1"] = fx.add_file("enterprise_registry", "2026-11-22", rows=[
            ent,  # 2
            {**ent, "uscc": USCC_OK_2.lower(), "registered_capital": " 2000 "},  # 3: lower-case
            {**ent, "uscc": USCC_OK_3[:-1] + ("0" if USCC_OK_3[-1] != "0" else "1")},  # 4
            {**ent, "uscc": "91330683MA2BCDEFI1", "legal_rep_id_number": with_wrong_check(ID_A)},
            {**ent, "uscc": make_uscc("91330683MA2BCDEF4"), "registered_capital": "12,5"},  # 6
            {**ent, "uscc": make_uscc("91330683MA2BCDEF5"), "status": "破产"},  # 7
            {**ent, "uscc": make_uscc("91330683MA2BCDEF6"), "legal_rep_id_number": None},  # 8
        ])
        # elderly_subsidy (snapshot, composite key)
        eld = {"id_number": ID_A, "name": "张三", "period": "2026-10", "amount": "200.00",
               "bank_account": "6228480000000000000", "division_code": VILLAGE,
               "paid_on": "2026-10-15", "updated_at": TS}
        files["o_1"] = fx.add_file("elderly_subsidy", "2026-11-22", rows=[
            eld,  # 2
            {**eld, "period": "2026-09"},  # 3: another period of the same person
            {**eld, "period": "2026-13"},  # 4 bad_date
            {**eld, "period": "2026-08", "amount": "abc"},  # 5 bad_number
            {**eld, "period": "2026-10", "id_number": ID_A.lower(),
             "updated_at": "2026-11-21T00:00:00+08:00"},  # 6 duplicate_key (older)
        ])
        # disability_certificates (snapshot) and death_records (delta)
        dis = {"certificate_no": ID_X.lower() + "41", "id_number": ID_X, "name": "孙八",
               "disability_type": "4", "disability_grade": "1", "guardian_name": None,
               "guardian_phone": None, "division_code": VILLAGE, "issued_on": "2015-01-01",
               "updated_at": TS}
        files["d_1"] = fx.add_file("disability_certificates", "2026-11-22", rows=[
            dis, {**dis, "certificate_no": ID_A + "81", "id_number": ID_A, "disability_type": "8"},
        ])
        dead = {"op": "I", "id_number": ID_FW, "name": "周九", "died_on": "2026-11-01",
                "division_code": VILLAGE, "source_org": "医院", "updated_at": TS}
        files["r_1"] = fx.add_file("death_records", "2026-11-22", rows=[
            dead, {**dead, "id_number": ID_A, "died_on": "2026-11-31"},
        ])

    result = run_dbt(url, "build")
    print(f"\n[test_staging] dbt build on the fixtures: {result.seconds:.1f} s")
    assert result.returncode == 0, result.stdout[-6000:]
    conn = psycopg.connect(url, autocommit=True)
    yield Built({"conn": conn, "files": files, "build": result})
    conn.close()


def staged(built, dataset: str, file_key: str) -> dict[int, dict]:
    rows = fetch_dicts(
        built["conn"],
        f"SELECT * FROM staging.stg_{dataset} WHERE file_id = %s ORDER BY line_number",
        (built["files"][file_key],),
    )
    return {r["line_number"]: r for r in rows}


def current(built, dataset: str) -> list[dict]:
    return fetch_dicts(built["conn"], f"SELECT * FROM intermediate.int_{dataset}__current")


# --- the contract, in dbt, matches pipelines/contract.py ------------------------------------


class _Return(Exception):
    def __init__(self, value):
        self.value = value


def _render_dbt_macro(path: Path, call: str):
    env = jinja2.Environment(extensions=["jinja2.ext.do"])

    def _return(value):
        raise _Return(value)

    env.globals["return"] = _return
    template = env.from_string(path.read_text() + "{{ " + call + " }}")
    try:
        template.render()
    except _Return as r:
        return r.value
    raise AssertionError(f"{call} returned nothing")


def test_dbt_contract_matches_pipelines_contract():
    spec = _render_dbt_macro(DBT_PROJECT / "macros" / "contract.sql", "huiliu_contract()")
    assert list(spec) == list(DATASETS)
    for name, ds in DATASETS.items():
        got = spec[name]
        assert (got["source"], got["mode"], got["owner"]) == (ds.source, ds.mode, ds.owner)
        assert tuple(got["key"]) == ds.key
        cols = [(c[0], c[1], tuple(c[2]) if len(c) > 2 else ()) for c in got["columns"]]
        assert cols == [(c.name, c.kind, c.codes) for c in ds.columns], name


def test_sources_document_every_raw_column():
    doc = yaml.safe_load((DBT_PROJECT / "models" / "staging" / "_sources.yml").read_text())
    raw = next(s for s in doc["sources"] if s["name"] == "raw")
    tables = {t["name"]: [c["name"] for c in t["columns"]] for t in raw["tables"]}
    assert set(tables) == set(DATASETS)
    for name, ds in DATASETS.items():
        assert tables[name] == ["file_id", "line_number", "field_count", *ds.column_names]


def test_staging_columns_follow_the_contract(built):
    for name, ds in DATASETS.items():
        cols = [r[0] for r in built["conn"].execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'staging'"
            " AND table_name = %s ORDER BY ordinal_position", (f"stg_{name}",))]
        assert cols == ["file_id", "source", "batch_date", "delivery", "file_status",
                        "line_number", *ds.column_names, "kept_aside_reason",
                        "kept_aside_column"], name
        cur = [r[0] for r in built["conn"].execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema ="
            " 'intermediate' AND table_name = %s ORDER BY ordinal_position",
            (f"int_{name}__current",))]
        assert cur == [c for c in ds.column_names if c != "op"] + ["batch_date", "file_id", "line_number"]


def test_build_ran_unit_tests(built):
    """dbt build ran the YAML unit tests of the macros (models/*/_unit_tests.yml), all passing."""
    out = built["build"].stdout
    passed = re.findall(r"PASS \S+::\S+", out)
    assert len(passed) >= 6, out[-3000:]
    assert re.search(r"ERROR=0 ", out)


# --- row rules, their order, failing columns --------------------------------------------------


def test_household_row_rules_reason_and_column(built):
    rows = staged(built, "household_registration", "h_current")
    assert len(rows) == len(HOUSEHOLD_ROWS)
    for i, (_, reason, column) in enumerate(HOUSEHOLD_ROWS):
        line = i + 2
        got = rows[line]
        assert (got["kept_aside_reason"], got["kept_aside_column"]) == (reason, column), (
            f"line {line}: {got['kept_aside_reason']}/{got['kept_aside_column']}")


def test_rule_order_first_broken_rule_wins(built):
    rows = staged(built, "household_registration", "h_current")
    # blank id (missing_required) + bad gender
    assert rows[8]["kept_aside_reason"] == "missing_required"
    # bad check character + missing division: missing_required, on division_code
    assert (rows[9]["kept_aside_reason"], rows[9]["kept_aside_column"]) == (
        "missing_required", "division_code")
    # bad date before unknown division; bad id before bad code
    assert rows[14]["kept_aside_reason"] == "bad_date"
    assert rows[18]["kept_aside_reason"] == "bad_id_number"
    # enterprise: bad legal_rep_id_number (bad_id_number) before a bad uscc (bad_uscc)
    ent = staged(built, "enterprise_registry", "e_1")
    assert (ent[5]["kept_aside_reason"], ent[5]["kept_aside_column"]) == (
        "bad_id_number", "legal_rep_id_number")


def test_field_count_rows_have_no_column(built):
    row = staged(built, "household_registration", "h_current")[7]
    assert row["kept_aside_reason"] == "field_count"
    assert row["kept_aside_column"] is None
    assert row["id_number"] is None


def test_other_datasets_rules(built):
    si = staged(built, "social_insurance", "s_1")
    assert [(si[n]["kept_aside_reason"], si[n]["kept_aside_column"]) for n in range(2, 9)] == [
        (None, None), (None, None), ("bad_code", "insurance_type"),
        ("missing_required", "insurance_type"), ("bad_uscc", "employer_uscc"),
        ("bad_code", "status"), ("bad_date", "started_on")]
    assert si[3]["employer_uscc"] == USCC_OK  # upper-cased
    ent = staged(built, "enterprise_registry", "e_1")
    assert [(ent[n]["kept_aside_reason"], ent[n]["kept_aside_column"]) for n in range(2, 9)] == [
        (None, None), (None, None), ("bad_uscc", "uscc"), ("bad_id_number", "legal_rep_id_number"),
        ("bad_number", "registered_capital"), ("bad_code", "status"), (None, None)]
    assert ent[3]["uscc"] == USCC_OK_2
    assert ent[3]["registered_capital"] == 2000
    assert ent[2]["legal_rep_phone"] == "13800138000"
    eld = staged(built, "elderly_subsidy", "o_1")
    assert [(eld[n]["kept_aside_reason"], eld[n]["kept_aside_column"]) for n in range(2, 7)] == [
        (None, None), (None, None), ("bad_date", "period"), ("bad_number", "amount"),
        ("duplicate_key", "id_number,period")]
    dis = staged(built, "disability_certificates", "d_1")
    assert (dis[3]["kept_aside_reason"], dis[3]["kept_aside_column"]) == (
        "bad_code", "disability_type")
    assert dis[2]["certificate_no"] == ID_X + "41"  # upper-cased like the identity number
    dead = staged(built, "death_records", "r_1")
    assert dead[2]["kept_aside_reason"] is None and dead[2]["id_number"] == ID_FW
    assert (dead[3]["kept_aside_reason"], dead[3]["kept_aside_column"]) == ("bad_date", "died_on")
    fl = staged(built, "floating_population", "f_2026-11-21")
    assert (fl[5]["kept_aside_reason"], fl[5]["kept_aside_column"]) == ("bad_op", "op")
    assert (fl[6]["kept_aside_reason"], fl[6]["kept_aside_column"]) == ("missing_required", "op")


# --- normalisation -----------------------------------------------------------------------------


def test_normalisation(built):
    rows = staged(built, "household_registration", "h_current")
    assert rows[2]["id_number"] == ID_A
    assert rows[2]["phone"] == "13800138000"  # +86 138-0013-8000
    assert rows[3]["id_number"] == ID_X  # lower-case x
    assert rows[3]["name"] == "阿依古丽·买买提"
    assert rows[4]["id_number"] == ID15_AS_18  # 15 -> 18
    assert rows[5]["id_number"] == ID_FW  # full-width digits
    assert rows[5]["division_code"] == VILLAGE
    assert rows[5]["phone"] == "13912345678"
    assert rows[5]["name"] == "李四"  # U+3000 trimmed
    assert rows[5]["birth_date"] == dt.date(1978, 1, 1)
    assert rows[6]["name"] == "王𠀾"  # four-byte character kept, spaces trimmed
    assert rows[27]["phone"] == "0575-8301 2345"  # a landline is data: trimmed only
    assert rows[28]["phone"] is None  # blank -> NULL
    assert rows[28]["updated_at"] == dt.datetime(2026, 11, 22, 10, 3, 11, 250000, dt.UTC)
    assert rows[34]["phone"] == "13700137000"  # 86 prefix
    assert rows[2]["updated_at"] == dt.datetime(2026, 11, 22, 10, 3, 11, tzinfo=dt.UTC)
    assert rows[2]["birth_date"] == dt.date(1990, 3, 7)
    # invalid values are not cast: NULL
    assert rows[12]["birth_date"] is None
    assert rows[13]["updated_at"] is None


def test_duplicate_key_latest_wins_and_tie_keeps_all_aside(built):
    rows = staged(built, "household_registration", "h_current")
    assert rows[19]["kept_aside_reason"] == "duplicate_key"
    assert rows[20]["kept_aside_reason"] is None
    # 09:00+08:00 and 01:00Z are the same instant: tied latest, all kept aside
    assert {rows[n]["kept_aside_reason"] for n in (21, 22, 23)} == {"duplicate_key"}
    # normalised keys: the 15-digit and the 18-character spelling are one person
    assert rows[24]["kept_aside_reason"] is None
    assert rows[25]["kept_aside_reason"] == "duplicate_key"
    # a row broken by another rule does not take part: ID_A stays loaded
    assert rows[2]["kept_aside_reason"] is None and rows[26]["kept_aside_reason"] == "bad_code"


# --- current state ---------------------------------------------------------------------------


def test_snapshot_current_state(built):
    state = {r["id_number"]: r for r in current(built, "household_registration")}
    expected = {rows["id_number"] for rows in staged(
        built, "household_registration", "h_current").values()
        if rows["kept_aside_reason"] is None}
    assert set(state) == expected
    assert ID_LATE_OLD not in state  # a late, older snapshot never overrides the newer one
    assert ID_SUPERSEDED not in state  # a superseded delivery never counts
    assert state[ID_DUP]["name"] == "新"
    assert ID_TIE not in state
    assert {r["file_id"] for r in state.values()} == {built["files"]["h_current"]}
    assert {r["batch_date"] for r in state.values()} == {dt.date(2026, 11, 22)}
    assert state[ID_A]["phone"] == "13800138000"
    elderly = current(built, "elderly_subsidy")
    assert sorted((r["id_number"], r["period"]) for r in elderly) == [
        (ID_A, "2026-09"), (ID_A, "2026-10")]


def test_delta_fold_equals_in_order_application(built):
    state = {r["id_number"]: r for r in current(built, "floating_population")}
    expected = reference_fold([(d, FLOATING[d]) for d in DELTA_DATES])
    assert set(state) == set(expected)
    for key, row in expected.items():
        got = state[key]
        for col in ("name", "phone", "division_code"):
            assert got[col] == row[col], (key, col)
    assert P[1] in state and state[P[1]]["phone"] == "13600000002"  # the kept-aside U ignored
    assert P[2] not in state  # deleted
    assert P[3] in state  # D of an absent key is a no-op; the later I counts
    assert state[P[4]]["name"] == "周九新"  # later updated_at wins within a batch
    assert state[P[5]]["division_code"] == VILLAGE_2  # tie on updated_at: later line wins
    assert state[P[6]]["division_code"] == TOWN_LEVEL
    assert P[7] not in state  # only in a superseded delivery
    assert P[8] in state
    assert ID15_AS_18 in state
    assert state[P[6]]["file_id"] == built["files"]["f_2026-11-25"]
    assert state[P[6]]["batch_date"] == dt.date(2026, 11, 25)
    assert "op" not in state[P[1]]


def test_delta_composite_key(built):
    state = {(r["id_number"], r["insurance_type"]): r for r in current(built, "social_insurance")}
    assert set(state) == {(ID_A, "310")}
    assert state[(ID_A, "310")]["status"] == "2"


def test_delta_gaps(built):
    gaps = fetch_dicts(
        built["conn"], "SELECT * FROM governance.delta_gaps ORDER BY dataset, gap_date")
    assert [(g["dataset"], g["gap_date"]) for g in gaps] == [
        ("floating_population", dt.date(2026, 11, 24))]
    assert gaps[0]["source"] == "city"


# --- governance --------------------------------------------------------------------------------


def test_file_row_counts(built):
    counts = {r["file_id"]: r for r in fetch_dicts(
        built["conn"], "SELECT * FROM governance.file_row_counts")}
    files = built["files"]
    h = counts[files["h_current"]]
    kept_aside = sum(1 for _, reason, _ in HOUSEHOLD_ROWS if reason)
    loaded = len(HOUSEHOLD_ROWS) - kept_aside
    assert (h["rows_loaded"], h["rows_kept_aside"]) == (loaded, kept_aside)
    assert h["rows_loaded"] + h["rows_kept_aside"] == h["rows_received"]
    assert (counts[files["h_rejected"]]["rows_loaded"],
            counts[files["h_rejected"]]["rows_kept_aside"]) == (0, 0)
    assert counts[files["h_superseded"]]["rows_loaded"] == 1
    assert counts[files["f_rejected"]]["file_status"] == "rejected"
    for r in counts.values():
        if r["file_status"] != "rejected":
            assert r["rows_loaded"] + r["rows_kept_aside"] == r["rows_received"], r
    assert (counts[files["s_1"]]["rows_loaded"], counts[files["s_1"]]["rows_kept_aside"]) == (2, 5)


def test_kept_aside_rows_hold_no_raw_values(built):
    conn = built["conn"]
    cols = [r[0] for r in conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'governance'"
        " AND table_name = 'kept_aside_rows' ORDER BY ordinal_position")]
    assert cols == ["source", "batch_date", "delivery", "dataset", "file_id", "line_number",
                    "reason", "column_name"]
    rows = fetch_dicts(conn, "SELECT * FROM governance.kept_aside_rows")
    by_file = {}
    for r in rows:
        by_file.setdefault(r["file_id"], []).append(r)
    h = sorted(by_file[built["files"]["h_current"]], key=lambda r: r["line_number"])
    expected = [(i + 2, reason, column) for i, (_, reason, column) in enumerate(HOUSEHOLD_ROWS)
                if reason]
    assert [(r["line_number"], r["reason"], r["column_name"]) for r in h] == expected
    assert {r["dataset"] for r in h} == {"household_registration"}
    assert {r["source"] for r in h} == {"province"}
    assert built["files"]["h_rejected"] not in by_file


def test_every_model_column_is_documented(built):
    ours = {f"stg_{d}" for d in DATASETS} | {f"int_{d}__current" for d in DATASETS} | {
        "kept_aside_rows", "file_row_counts", "delta_gaps"}
    documented = {}
    for folder in ("staging", "intermediate", "governance"):
        for path in (DBT_PROJECT / "models" / folder).glob("_*.yml"):
            for model in yaml.safe_load(path.read_text()).get("models", []):
                if model["name"] in ours:
                    assert all(c.get("description") for c in model["columns"]), model["name"]
                    documented[model["name"]] = [c["name"] for c in model["columns"]]
    assert set(documented) == ours
    for name, cols in documented.items():
        got = [r[0] for r in built["conn"].execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s"
            " ORDER BY ordinal_position", (name,))]
        assert got == cols, name
