"""The ledgers' tags: set exactly where they should be, never on look-alikes.

Planted people and enterprises in a database of their own, delivered as batches (province and
city), ingested and built by dbt up to protected.prot_person_ledger and prot_enterprise_ledger:
an 80-year-old beside one born in the year that makes them 80 but still 79, two elderly in one
household beside one living alone, pension insurance ended (status 3) beside one in force, a
subsidy for an earlier period only, a death record for someone else with the same name, and
enterprises whose legal representative died, or whose namesake did. Tags are also refused
before any run when ledgers/tags.yaml asks for what the whitelist forbids.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import yaml
from support.batchkit import csv_bytes, write_batch
from support.runs import fresh_databases
from support.staging import make_id, make_uscc, run_dbt

from pipelines.contract import DATASETS
from pipelines.govern.token_key import install_key
from pipelines.ingest.batches import ingest_day
from pipelines.ingest.schema import ensure_schemas, sync_divisions
from pipelines.tiers.dbt import DBT_DIR
from pipelines.tiers.ledgers import TAGS_FILE, LedgerError, load_ledgers
from pipelines.topology import load_topology

DAY = dt.date(2026, 11, 1)
VILLAGE = "330683001002"
TS = "2026-09-30T10:00:00+08:00"
KEY = b"ledger-test-token-key-not-a-secret"

# id → (name, birth date, household); the tags each must carry, exactly
PEOPLE = {
    "p80": ("王一", "19461101", "H1"),  # 80 on the batch date
    "p30": ("王二", "19960101", "H1"),  # pension 120, status 1
    "p79": ("李三", "19461102", "H2"),  # born in the year of an 80-year-old, still 79
    "p75": ("李四", "19510601", "H2"),  # a second elderly in H2; a subsidy for an earlier period only
    "p70": ("赵五", "19560505", "H3"),  # alone in H3
    "p59": ("钱六", "19670101", "H4"),  # pension 110 with status 3; disabled
    "p16": ("钱七", "20101101", "H4"),  # 16 on the batch date: uninsured
    "p15": ("钱八", "20101102", "H4"),  # still 15
    "p85": ("孙九", "19410101", "H5"),  # a death record
    "p60": ("孙十", "19660101", "H5"),  # 60 on 1 Jan
}
FLOATING = {"f1": ("周一", "19900307")}
SAME_NAME_DEAD = ("李三", "19300101")  # dead, not in the ledger: p79's namesake
EXPECTED = {
    "p80": {"aged_80_plus", "aged_60_plus", "elderly_subsidy"},
    "p30": {"pension_insured"},
    "p79": {"aged_60_plus"},
    "p75": {"aged_60_plus"},
    "p70": {"aged_60_plus", "living_alone_60_plus"},
    "p59": {"disabled", "uninsured_16_59"},
    "p16": {"uninsured_16_59"},
    "p15": set(),
    "p85": {"aged_80_plus", "aged_60_plus", "deceased"},
    "p60": {"aged_60_plus"},
    "f1": {"floating"},
}


# uscc number → (status, legal representative's name, their identity number), and their tags
ENTERPRISES = {
    1: ("存续", "孙九", "p85"),  # the legal representative died
    2: ("在业", "孙九", "namesake"),  # a living namesake of the dead one
    3: ("注销", "周一", "f1"),  # closed; its representative floats in from another county
}
ENTERPRISE_TAGS = {1: {"active", "legal_rep_dead"}, 2: {"active"}, 3: set()}


def ident(key: str) -> str:
    name_birth = PEOPLE.get(key) or FLOATING[key]
    return make_id(name_birth[1], f"{list(PEOPLE | FLOATING).index(key) + 1:03d}")


def rows(dataset: str, records: list[dict[str, str]]) -> bytes:
    cols = list(DATASETS[dataset].column_names)
    return csv_bytes(cols, [[r.get(c, "") for c in cols] for r in records])


def _deliver(landing: Path) -> None:
    d = DAY.isoformat()
    household = [{"id_number": ident(k), "name": n, "gender": "1", "birth_date": f"{b[:4]}-{b[4:6]}-{b[6:]}",
                  "ethnicity": "01", "household_id": h, "relation_to_head": "02", "address": "嵊州市某村",
                  "division_code": VILLAGE, "phone": "", "updated_at": TS} for k, (n, b, h) in PEOPLE.items()]
    insurance = [{"op": "I", "id_number": ident(k), "name": PEOPLE[k][0], "insurance_type": t, "status": s,
                  "started_on": "2015-01-01", "division_code": VILLAGE, "updated_at": TS}
                 for k, t, s in (("p30", "120", "1"), ("p59", "110", "3"), ("p16", "310", "1"))]
    disability = [{"certificate_no": ident("p59") + "42", "id_number": ident("p59"), "name": PEOPLE["p59"][0],
                   "disability_type": "4", "disability_grade": "2", "division_code": VILLAGE,
                   "issued_on": "2020-01-01", "updated_at": TS}]
    enterprises = [{"uscc": make_uscc(f"91330683MA2BCD{n:03d}"), "enterprise_name": f"嵊州市某{n}有限公司",
                    "legal_rep_name": rep_name, "legal_rep_id_number": rep_id, "legal_rep_phone": "13800138000",
                    "registered_capital": "100.5", "industry_code": "c1234", "status": status,
                    "established_on": "2010-05-06", "address": "某地址", "division_code": VILLAGE,
                    "updated_at": TS}
                   for n, (status, rep_name, rep) in ENTERPRISES.items()
                   for rep_id in [make_id("19410101", "098") if rep == "namesake" else ident(rep)]]
    write_batch(landing, "province", d, {
        "household_registration": rows("household_registration", household),
        "enterprise_registry": rows("enterprise_registry", enterprises),
        "social_insurance": rows("social_insurance", insurance),
        "disability_certificates": rows("disability_certificates", disability),
    })
    floating = [{"op": "I", "id_number": ident("f1"), "name": FLOATING["f1"][0], "phone": "13600136000",
                 "origin_division_code": "330102", "residence_address": "嵊州市某路", "division_code": VILLAGE,
                 "registered_on": "2026-01-02", "remarks": "无", "updated_at": TS}]
    subsidy = [{"id_number": ident(k), "name": PEOPLE[k][0], "period": p, "amount": "100",
                "bank_account": "6222020000000000001", "division_code": VILLAGE, "paid_on": f"{p}-15",
                "updated_at": TS} for k, p in (("p80", "2026-10"), ("p80", "2026-09"), ("p75", "2026-09"))]
    deaths = [{"op": "I", "id_number": i, "name": n, "died_on": "2026-10-01", "division_code": VILLAGE,
               "source_org": "医院", "updated_at": TS}
              for i, n in ((ident("p85"), PEOPLE["p85"][0]),
                           (make_id(SAME_NAME_DEAD[1], "099"), SAME_NAME_DEAD[0]))]
    write_batch(landing, "city", d, {
        "floating_population": rows("floating_population", floating),
        "elderly_subsidy": rows("elderly_subsidy", subsidy),
        "death_records": rows("death_records", deaths),
    })


@pytest.fixture(scope="module")
def ledger(warehouse_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, dict]]:
    landing = tmp_path_factory.mktemp("ledger_landing")
    _deliver(landing)
    with fresh_databases(warehouse_url, "ledgers") as (url,), psycopg.connect(url, autocommit=True) as conn:
        ensure_schemas(conn)
        sync_divisions(conn, load_topology())
        install_key(conn, KEY)
        outcomes = ingest_day(conn, landing, DAY)
        assert {o.status for o in outcomes} == {"loaded"}, [(o.path, o.reason) for o in outcomes]
        result = run_dbt(url, "build", "--select", "+prot_person_ledger", "+prot_enterprise_ledger",
                         "--exclude-resource-type", "unit_test",
                         target_dir=DBT_DIR / "target" / "pytest_ledgers")
        assert result.returncode == 0, result.stdout[-4000:]
        yield {"person": _rows(conn, "prot_person_ledger", "id_number"),
               "enterprise": _rows(conn, "prot_enterprise_ledger", "uscc")}


def _rows(conn: psycopg.Connection, relation: str, key: str) -> dict[str, dict]:
    cur = conn.execute(f"SELECT * FROM protected.{relation}")
    cols = [c.name for c in cur.description]
    return {r[cols.index(key)]: dict(zip(cols, r, strict=True)) for r in cur.fetchall()}


def test_every_tag_is_set_exactly_where_it_should_be(ledger):
    people = ledger["person"]
    by_key = {k: people[ident(k)] for k in EXPECTED}
    assert len(people) == len(EXPECTED)  # one row per person, the namesake's death adds nobody
    got = {k: set(r["tags"]) for k, r in by_key.items()}
    assert got == EXPECTED
    for k, r in by_key.items():  # the boolean columns say the same as the array
        tags = load_ledgers()["person_ledger"].tags
        assert {t.code for t in tags if r[f"tag_{t.code}"]} == EXPECTED[k], k


def test_enterprise_tags_match_the_legal_representative_by_identity_never_by_name(ledger):
    found = {n: ledger["enterprise"][make_uscc(f"91330683MA2BCD{n:03d}")] for n in ENTERPRISES}
    assert {n: set(r["tags"]) for n, r in found.items()} == ENTERPRISE_TAGS
    assert [found[n]["legal_rep_floating_outside"] for n in ENTERPRISES] == [False, False, True]
    assert {r["industry_section"] for r in found.values()} == {"C"}


def test_ages_count_from_the_batch_date_and_below_the_city_from_the_birth_year(ledger):
    ledger = ledger["person"]
    p79, f1 = ledger[ident("p79")], ledger[ident("f1")]
    assert (p79["age"], p79["age_by_year"]) == (79, 80)
    assert (f1["birth_date"], f1["gender"], f1["is_registered"]) == (dt.date(1990, 3, 7), "1", False)
    assert ledger[ident("p59")]["pension_status"] == "3" and ledger[ident("p30")]["pension_status"] == "1"
    assert {r["household_size"] for k, r in ((k, ledger[ident(k)]) for k in ("p79", "p75"))} == {2}


def _refused(tmp_path: Path, tag: dict) -> str:
    doc = yaml.safe_load(TAGS_FILE.read_text(encoding="utf-8"))
    doc["person_ledger"]["tags"].append(tag)
    path = tmp_path / "tags.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    with pytest.raises(LedgerError) as refused:
        load_ledgers(path)
    return str(refused.value)


@pytest.mark.parametrize("predicate, says", [
    ("age >= 80 and household_registration.age > 1", "another relation is not allowed"),
    ("age >= 80 and id_number in (select id_number from city.death_records)", "a subquery is not allowed"),
    ("salary > 3000", "unknown column 'salary' at line 1, column 1"),
    ("age >= 80 and pg_read_file('/etc/passwd') is not null", "function 'pg_read_file' is not allowed"),
])
def test_a_tag_outside_the_whitelist_is_refused_naming_the_tag_and_the_node(tmp_path, predicate, says):
    message = _refused(tmp_path, {"code": "bad_tag", "label": "坏", "predicate": predicate})
    assert message.startswith("person_ledger: tag bad_tag: ") and says in message


def test_a_tag_is_graded_by_the_columns_it_reads():
    tags = {t.code: t for t in load_ledgers()["person_ledger"].tags}
    assert tags["aged_80_plus"].grade == 2  # age comes from the birth date (L2)
    assert tags["disabled"].grade == 4 and tags["deceased"].grade == 4  # health and death details
    assert tags["uninsured_16_59"].columns == ("age", "is_registered", "pension_status")
