"""Screenings and data collisions: every planted case found, no look-alike flagged, warnings routed
to the units that act on them, and a warning's life across runs — acknowledged, back when its
evidence changes, resolved when the data no longer shows it — with ids that never move.

Planted people and enterprises in one village, delivered as province and city batches and run
through `huiliu run` four times in a database of its own (one Dagster instance): the first date,
a re-delivery of it after a unit acknowledged a warning, a second date with one more payment
after a death, a third without the payments after it.
"""

from __future__ import annotations

import datetime as dt
import subprocess
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import psycopg
import pytest
import yaml
from psycopg import sql
from support.batchkit import csv_bytes, write_batch
from support.runs import HUILIU, fresh_databases, huiliu_env
from support.staging import make_id, make_uscc

from pipelines.contract import DATASETS
from pipelines.tiers.screenings import RULES_DIR, ScreeningError, load_rules

DAY1, DAY2, DAY3 = dt.date(2026, 11, 1), dt.date(2026, 11, 2), dt.date(2026, 11, 3)
VILLAGE, TOWN = "330683001002", "330683001"
TS = "2026-09-30T10:00:00+08:00"
KEY = "screening-test-token-key-not-a-secret"

# key → (name, birth date, household); everyone is registered in VILLAGE
PEOPLE = {
    "u1": ("甲一", "19960101", "H01"),  # 30, no pension insurance: uninsured
    "u2": ("甲二", "20101101", "H01"),  # 16 on the batch date: uninsured
    "u3": ("甲三", "19860101", "H02"),  # 110 with status 3 (ended): uninsured
    "u60": ("乙一", "19661101", "H02"),  # 60: not of working age
    "u15": ("乙二", "20101105", "H03"),  # still 15
    "u120": ("乙三", "19860101", "H03"),  # insured under 120 only (status 1)
    "u2s": ("乙四", "19860101", "H04"),  # 110 with status 2 (suspended) counts as insured
    "s1": ("丙一", "19410101", "H04"),  # died 2026-08-15; paid for 2026-08 and 2026-09
    "s2": ("丙二", "19400101", "H05"),  # died 2026-09-10; paid for 2026-08 and 2026-09 only
    "x1": ("丁一", "19700101", "H05"),  # died, certificate still in the snapshot
    "x2": ("丁二", "19700202", "H06"),  # died, no certificate any more
    "m1": ("戊一", "19441115", "H06"),  # 81 (82 by birth year): paid for 2026-09 only
    "m2": ("戊二", "19450101", "H07"),  # 81, paid for the latest period
    "m3": ("戊三", "19461105", "H07"),  # 79, no payment: too young
    "a1": ("己一", "19430101", "H08"),  # 83 and alone in H08
    "a2": ("己二", "19420101", "H09"),  # 84 with a son in H09
    "a2s": ("己三", "19700101", "H09"),
    "d1": ("庚一", "19860101", "H10"),  # grade 1, uninsured, guardian recorded
    "d2": ("庚二", "19860101", "H10"),  # grade 2, insured 120 status 1, guardian recorded
    "d3": ("庚三", "19860101", "H11"),  # grade 3, uninsured
    "d4": ("庚四", "19600101", "H11"),  # grade 2, aged 66, guardian recorded
    "g1": ("辛一", "19860101", "H12"),  # grade 1 without a guardian, insured
    "g2": ("辛二", "19860101", "H12"),  # grade 2 with a guardian, insured
}
FLOATING = {  # key → (name, registered_on, updated_at, origin county)
    "f1": (
        "壬一",
        "2026-01-10",
        "2026-01-10T09:00:00+08:00",
        "330102",
    ),  # stale: registered > 180 days, never updated
    "f2": ("壬二", "2026-01-10", "2026-06-01T09:00:00+08:00", "330102"),  # updated since
    "f3": ("壬三", "2026-06-01", "2026-06-01T09:00:00+08:00", "330102"),  # registered recently
    "f4": ("癸一", "2026-09-01", "2026-09-01T09:00:00+08:00", "330102"),  # from outside the county
    "f5": ("癸二", "2026-09-01", "2026-09-01T09:00:00+08:00", "330683"),  # from inside it
}
INSURED_120 = ("u120", "d2", "g1", "g2", "x1", "x2", "a2s", "u60")  # 120 with status 1
INSURANCE = [(k, "120", "1") for k in INSURED_120] + [("u3", "110", "3"), ("u2s", "110", "2")]
DISABLED = {
    "x1": ("4", "3", "某监护人"),
    "d1": ("1", "1", "某监护人"),
    "d2": ("4", "2", "某监护人"),
    "d3": ("4", "3", ""),
    "d4": ("4", "2", "某监护人"),
    "g1": ("5", "1", ""),
    "g2": ("5", "2", "某监护人"),
}
DEATHS = {"s1": "2026-08-15", "s2": "2026-09-10", "x1": "2026-07-01", "x2": "2026-07-02"}
PAYMENTS = [
    ("s1", "2026-08"),
    ("s1", "2026-09"),
    ("s2", "2026-08"),
    ("s2", "2026-09"),
    ("m1", "2026-09"),
    ("m2", "2026-10"),
    ("a1", "2026-10"),
    ("a2", "2026-10"),
]
ENTERPRISES = {  # number → (status, legal representative)
    1: ("存续", "x1"),  # dead representative
    2: ("注销", "x1"),  # closed: not flagged
    4: ("在业", "f4"),  # representative floats in from another county
    5: ("存续", "f5"),  # from inside the county
    6: ("注销", "f4"),  # closed
}
EXPECTED = {
    "uninsured": {"u1", "u2", "u3", "d1", "d3"},
    "subsidy_after_death": {"s1"},
    "disability_after_death": {"x1"},
    "legal_rep_dead": {"e1"},
    "elderly_subsidy_missing": {"m1"},
    "elderly_alone_80": {"a1"},
    "severe_disability_uninsured": {"d1"},
    "floating_registration_stale": {"f1"},
    "severe_disability_no_guardian": {"g1"},
    "legal_rep_floating_outside": {"e4"},
}


def ident(key: str) -> str:
    birth = PEOPLE[key][1] if key in PEOPLE else "19900307"
    return make_id(birth, f"{list(PEOPLE | FLOATING).index(key) + 1:03d}")


def uscc(n: int) -> str:
    return make_uscc(f"91330683MA2BCE{n:03d}")


def _csv(dataset: str, records: list[dict[str, str]]) -> bytes:
    cols = list(DATASETS[dataset].column_names)
    return csv_bytes(cols, [[r.get(c, "") for c in cols] for r in records])


def _subsidy(payments: list[tuple[str, str]]) -> bytes:
    return _csv(
        "elderly_subsidy",
        [
            {
                "id_number": ident(k),
                "name": PEOPLE[k][0],
                "period": p,
                "amount": "100",
                "bank_account": "6222020000000000001",
                "division_code": VILLAGE,
                "paid_on": f"{p}-15",
                "updated_at": TS,
            }
            for k, p in payments
        ],
    )


def _deliver_day1(landing: Path, created_at: str | None = None) -> None:
    d = DAY1.isoformat()
    extra = {"created_at": created_at} if created_at else None
    household = [
        {
            "id_number": ident(k),
            "name": n,
            "gender": "1",
            "birth_date": f"{b[:4]}-{b[4:6]}-{b[6:]}",
            "ethnicity": "01",
            "household_id": f"330683{int(h[1:]):08d}",
            "relation_to_head": "02",
            "address": "嵊州市某村",
            "division_code": VILLAGE,
            "phone": "",
            "updated_at": TS,
        }
        for k, (n, b, h) in PEOPLE.items()
    ]
    insurance = [
        {
            "op": "I",
            "id_number": ident(k),
            "name": PEOPLE[k][0],
            "insurance_type": t,
            "status": s,
            "started_on": "2015-01-01",
            "division_code": VILLAGE,
            "updated_at": TS,
        }
        for k, t, s in INSURANCE
    ]
    disability = [
        {
            "certificate_no": ident(k) + t + g,
            "id_number": ident(k),
            "name": PEOPLE[k][0],
            "disability_type": t,
            "disability_grade": g,
            "guardian_name": guardian,
            "division_code": VILLAGE,
            "issued_on": "2020-01-01",
            "updated_at": TS,
        }
        for k, (t, g, guardian) in DISABLED.items()
    ]
    enterprises = [
        {
            "uscc": uscc(n),
            "enterprise_name": f"嵊州市筛查{n}有限公司",
            "legal_rep_name": "某人",
            "legal_rep_id_number": ident(rep),
            "legal_rep_phone": "13800138000",
            "registered_capital": "100",
            "industry_code": "C1234",
            "status": status,
            "established_on": "2010-05-06",
            "address": "某地址",
            "division_code": VILLAGE,
            "updated_at": TS,
        }
        for n, (status, rep) in ENTERPRISES.items()
    ]
    write_batch(
        landing,
        "province",
        d,
        {
            "household_registration": _csv("household_registration", household),
            "enterprise_registry": _csv("enterprise_registry", enterprises),
            "social_insurance": _csv("social_insurance", insurance),
            "disability_certificates": _csv("disability_certificates", disability),
        },
        manifest_extra=extra,
    )
    floating = [
        {
            "op": "I",
            "id_number": ident(k),
            "name": n,
            "phone": "13600136000",
            "origin_division_code": o,
            "residence_address": "嵊州市某路",
            "division_code": VILLAGE,
            "registered_on": reg,
            "remarks": "无",
            "updated_at": upd,
        }
        for k, (n, reg, upd, o) in FLOATING.items()
    ]
    deaths = [
        {
            "op": "I",
            "id_number": ident(k),
            "name": PEOPLE[k][0],
            "died_on": on,
            "division_code": VILLAGE,
            "source_org": "医院",
            "updated_at": TS,
        }
        for k, on in DEATHS.items()
    ]
    write_batch(
        landing,
        "city",
        d,
        {
            "floating_population": _csv("floating_population", floating),
            "elderly_subsidy": _subsidy(PAYMENTS),
            "death_records": _csv("death_records", deaths),
        },
        manifest_extra=extra,
    )


def _run(landing: Path, url: str, day: dt.date, dagster_home: Path) -> subprocess.CompletedProcess:
    run = subprocess.run(
        [HUILIU, "run", "--landing", str(landing), "--date", day.isoformat()],
        capture_output=True,
        text=True,
        timeout=900,
        env=huiliu_env(url, HUILIU_TOKEN_KEY=KEY, DAGSTER_HOME=str(dagster_home)),
    )
    assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]
    return run


def _ack(url: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [HUILIU, "ack", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=huiliu_env(url, HUILIU_TOKEN_KEY=KEY),
    )


def _state(url: str) -> dict[str, object]:
    """After a run: who each warning is about (protected), and what city and units publish."""
    with psycopg.connect(url, autocommit=True) as conn:
        keys = {ident(k): k for k in PEOPLE | FLOATING} | {uscc(n): f"e{n}" for n in ENTERPRISES}
        prot = {
            r[0]: {
                "rule": r[1],
                "subject": keys.get(r[2], r[2]),
                "status": r[3],
                "first_seen": r[4],
                "last_seen": r[5],
                "acknowledged": r[6],
                "evidence": r[7],
            }
            for r in conn.execute(
                "SELECT warning_id, rule, subject_key, status, first_seen, last_seen, "
                "acknowledged, evidence FROM protected.prot_collision_warnings"
            )
        }
        units = {}
        for schema in (
            "city",
            f"village_{VILLAGE}",
            f"town_{TOWN}",
            "dept_rsj",
            "dept_mzj",
            "dept_cl",
            "dept_gaj",
            "dept_scjgj",
        ):
            cur = conn.execute(sql.SQL("SELECT * FROM {}").format(sql.Identifier(schema, "collision_warnings")))
            cols = [c.name for c in cur.description]
            units[schema] = {r[0]: dict(zip(cols, r, strict=True)) for r in cur.fetchall()}
        relations = {
            r[0]
            for r in conn.execute(
                "SELECT table_schema FROM information_schema.views WHERE table_name = 'collision_warnings'"
            )
        }
    return {"prot": prot, "units": units, "schemas": relations}


def _as_role(url: str, role: str) -> tuple[int, bool]:
    """(rows of its own collision_warnings, whether dept_rsj's were refused) read as a unit's role."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))
        seen = conn.execute(
            sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(role, "collision_warnings"))
        ).fetchone()[0]
        try:
            conn.execute("SELECT count(*) FROM dept_rsj.collision_warnings")
        except psycopg.errors.InsufficientPrivilege:
            return seen, True
        return seen, False


@pytest.fixture(scope="module")
def history(warehouse_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    """Four runs and an acknowledgement; the state after each, the CLI's answers, the database URL."""
    landing = tmp_path_factory.mktemp("screening_landing")
    home = tmp_path_factory.mktemp("screening_dagster")
    out: dict[str, object] = {}
    with fresh_databases(warehouse_url, "screenings") as (url,):
        _deliver_day1(landing)
        out["run1"] = _run(landing, url, DAY1, home)
        out["day1"] = _state(url)
        out["as_village"] = _as_role(url, f"village_{VILLAGE}")
        s1 = next(w for w, v in out["day1"]["prot"].items() if v["subject"] == "s1")
        out["s1"] = s1
        out["ack_wrong_unit"] = _ack(url, s1, "--unit", "dept_rsj", "--by", "某科员")
        out["ack_unknown"] = _ack(url, "W99999999", "--unit", "dept_mzj", "--by", "某科员")
        out["ack"] = _ack(url, s1, "--unit", "dept_mzj", "--by", "某科长", "--note", "已核实, 停发")
        _deliver_day1(landing, created_at=f"{DAY1.isoformat()}T23:30:00+08:00")  # the same files, re-sent
        _run(landing, url, DAY1, home)
        out["redelivered"] = _state(url)
        write_batch(
            landing,
            "city",
            DAY2.isoformat(),
            {  # one more payment after s1's death
                "elderly_subsidy": _subsidy([*PAYMENTS, ("s1", "2026-10")])
            },
        )
        _run(landing, url, DAY2, home)
        out["day2"] = _state(url)
        write_batch(
            landing,
            "city",
            DAY3.isoformat(),
            {  # the payments after s1's death withdrawn
                "elderly_subsidy": _subsidy([p for p in PAYMENTS if p != ("s1", "2026-09")])
            },
        )
        _run(landing, url, DAY3, home)
        out["day3"] = _state(url)
        with dg.DagsterInstance.from_config(str(home)) as instance:
            event = instance.get_latest_materialization_event(
                dg.AssetKey(["protected", "prot_collision_warnings"])
            )
            out["metadata"] = {k: v.value for k, v in event.asset_materialization.metadata.items()}
        with psycopg.connect(url, autocommit=True) as conn:
            out["acks"] = conn.execute(
                "SELECT warning_id, rule, unit, acknowledged_by, os_user, note, "
                "evidence_hash FROM governance.collision_acknowledgements"
            ).fetchall()
        yield out


def _found(state: dict, schema: str = "city") -> dict[str, set[str]]:
    prot = state["prot"]
    out: dict[str, set[str]] = {}
    for w, row in state["units"][schema].items():
        out.setdefault(row["rule"], set()).add(prot[w]["subject"])
    return out


def test_every_rule_finds_its_planted_cases_and_no_look_alike(history):
    assert _found(history["day1"]) == EXPECTED
    assert {v["status"] for v in history["day1"]["prot"].values()} == {"new"}
    assert (
        "new red warnings (collision_warnings): legal_rep_dead 1, subsidy_after_death 1"
        in history["run1"].stdout
    )


def test_warnings_reach_exactly_the_units_their_rules_route_to(history):
    day1 = history["day1"]
    rules = load_rules()

    def routed(unit: str) -> dict[str, set[str]]:
        tier = unit.split("_")[0] if unit.startswith(("town_", "village_")) else "department"
        return {r: s for r, s in EXPECTED.items() if rules[r].routed_to(tier, unit)}

    for unit in (
        f"village_{VILLAGE}",
        f"town_{TOWN}",
        "dept_rsj",
        "dept_mzj",
        "dept_cl",
        "dept_gaj",
        "dept_scjgj",
    ):
        assert _found(day1, unit) == routed(unit), unit
    assert set(_found(day1, "dept_rsj")) == {"uninsured", "severe_disability_uninsured"}
    assert "dept_tjj" not in day1["schemas"] and "dept_wjj" not in day1["schemas"]  # no rule routes there
    # a department acts on its warnings without clear identities it does not own: masked, with the token
    for row in day1["units"]["dept_rsj"].values():
        assert row["person_name"].endswith("*") and "*" in row["id_number"] and len(row["subject_token"]) == 64


def test_a_unit_role_reads_its_own_warnings_and_no_other_units(history):
    seen, refused = history["as_village"]
    assert seen == len(history["day1"]["units"][f"village_{VILLAGE}"]) == 4
    assert refused  # the village's role may not read a department's warnings


def test_evidence_follows_each_tiers_policy(history):
    day1 = history["day1"]
    m1 = {
        u: next(r for r in rows.values() if r["rule"] == "elderly_subsidy_missing")
        for u, rows in day1["units"].items()
        if u in ("city", f"village_{VILLAGE}", "dept_mzj")
    }
    exact = next(v for v in day1["prot"].values() if v["rule"] == "elderly_subsidy_missing")
    assert exact["evidence"]["age"] == 81  # the exact age, pipeline-only
    assert m1["city"]["evidence"]["age"] == 82  # the birth date's policy: counted from the birth year
    assert m1[f"village_{VILLAGE}"]["evidence"]["age"] == 82  # from the birth year below it
    assert m1["dept_mzj"]["evidence"]["age"] == 82
    assert m1["city"]["evidence"]["latest_subsidy_period"] == "2026-09"
    s1 = day1["units"]["dept_mzj"][history["s1"]]["evidence"]
    assert s1 == {"died_on": "2026-08-15", "latest_subsidy_period": "2026-09", "subsidy_periods_after_death": 1}


def test_acknowledged_back_when_the_evidence_changes_then_resolved(history):
    s1 = history["s1"]
    assert (
        history["ack_wrong_unit"].returncode == 1
        and "not routed to dept_rsj" in history["ack_wrong_unit"].stderr
    )
    assert history["ack_unknown"].returncode == 1 and "unknown warning" in history["ack_unknown"].stderr
    assert history["ack"].returncode == 0, history["ack"].stderr
    (ack,) = history["acks"]
    assert ack[:4] == (s1, "subsidy_after_death", "dept_mzj", "某科长") and ack[5] == "已核实, 停发"
    # re-delivered: gone from every unit while its evidence stands, the others unchanged
    again = history["redelivered"]
    assert all(s1 not in rows for rows in again["units"].values())
    assert again["prot"][s1]["acknowledged"] and again["prot"][s1]["status"] == "new"
    # a second payment after the death: back, still the same warning, open since the first date
    day2 = history["day2"]
    assert s1 in day2["units"]["dept_mzj"] and s1 in day2["units"]["city"]
    assert (day2["prot"][s1]["status"], day2["prot"][s1]["first_seen"]) == ("open", DAY1)
    assert day2["units"]["dept_mzj"][s1]["evidence"]["subsidy_periods_after_death"] == 2
    assert {v["status"] for w, v in day2["prot"].items()} == {"open"}
    # the payments after the death withdrawn: resolved, last seen on the second date
    day3 = history["day3"]["prot"][s1]
    assert (day3["status"], day3["last_seen"], day3["first_seen"]) == ("resolved", DAY2, DAY1)
    assert history["day3"]["units"]["city"][s1]["status"] == "resolved"
    assert {v["status"] for w, v in history["day3"]["prot"].items() if w != s1} == {"open"}
    meta = history["metadata"]
    assert meta["warnings resolved today"] == 1 and meta["warnings new today"] == 0
    assert meta["rule uninsured"] == len(EXPECTED["uninsured"]) and meta["warnings red"] == 1


def test_warning_ids_never_move_across_runs_and_re_deliveries(history):
    def ids(state: dict) -> dict[tuple[str, str], str]:
        return {(v["rule"], v["subject"]): w for w, v in state["prot"].items()}

    first = ids(history["day1"])
    assert len(first) == sum(len(s) for s in EXPECTED.values())
    for later in ("redelivered", "day2", "day3"):
        assert ids(history[later]) == first, later
    assert all(w.startswith("W") and w[1:].isdigit() for w in first.values())  # nothing of the subject in it


def _refused(tmp_path: Path, code: str, **changes: object) -> str:
    rules = tmp_path / "rules"
    rules.mkdir(exist_ok=True)
    for path in RULES_DIR.glob("*.yaml"):
        (rules / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    doc = yaml.safe_load((rules / f"{code}.yaml").read_text(encoding="utf-8")) | changes
    (rules / f"{code}.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ScreeningError) as refused:
        load_rules(rules)
    return str(refused.value)


@pytest.mark.parametrize(
    "code, changes, says",
    [
        (
            "uninsured",
            {"predicate": "age > 16 and id_number in (select id_number from city.death_records)"},
            "rule uninsured: a subquery is not allowed",
        ),
        ("uninsured", {"predicate": "age > 16 and salary > 3000"}, "rule uninsured: unknown column 'salary'"),
        (
            "legal_rep_dead",
            {"predicate": "status = '存续' and md5(status) = legal_rep_died_on"},
            "rule legal_rep_dead: function 'md5' is not allowed at line 1, column 19",
        ),
        (
            "subsidy_after_death",
            {"evidence": ["died_on", "id_number"]},
            "evidence column 'id_number' identifies someone",
        ),
        ("elderly_alone_80", {"routes": ["town", "dept_nowhere"]}, "route 'dept_nowhere'"),
        ("elderly_alone_80", {"severity": "orange"}, "severity must be one of red, yellow"),
    ],
)
def test_an_invalid_rule_is_refused_before_any_run_naming_the_rule_and_node(
    tmp_path: Path, code, changes, says
):
    assert says in _refused(tmp_path, code, **changes)


def test_the_committed_macro_is_what_the_rules_generate():
    from pipelines.tiers import screenings

    screenings.require_current()  # raises when screenings/*.yaml and macros/screening_rules.sql disagree
