"""The ledgers' tags: set exactly where they should be, never on look-alikes.

Planted people and enterprises in a database of their own, delivered as batches (province and
city) and run through `huiliu run` (ingest, dbt, gates, publish): protected.prot_person_ledger and
prot_enterprise_ledger hold them at full precision, the units' schemas as each policy allows:
an 80-year-old beside one born in the year that makes them 80 but still 79, two elderly in one
household beside one living alone, pension insurance ended (status 3) beside one in force, a
subsidy for an earlier period only, a death record for someone else with the same name, and
enterprises whose legal representative died, or whose namesake did; three disabled persons of
one type in one village, a small cell for a department that may not see them. Tags are also
refused before any run when ledgers/tags.yaml asks for what the whitelist forbids.
"""

from __future__ import annotations

import datetime as dt
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import yaml
from support.batchkit import csv_bytes, write_batch
from support.runs import HUILIU, fresh_databases, huiliu_env
from support.staging import make_id, make_uscc

from pipelines.contract import DATASETS
from pipelines.tiers.ledgers import TAGS_FILE, LedgerError, load_ledgers

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
    "d1": ("吴一", "19900101", "H6"),  # with p59, the village's three disabled persons of type 4
    "d2": ("吴二", "19920101", "H6"),
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
    "d1": {"disabled", "uninsured_16_59"},
    "d2": {"disabled", "uninsured_16_59"},
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
                  "ethnicity": "01", "household_id": f"330683{int(h[1:]):08d}", "relation_to_head": "02",
                  "address": "嵊州市某村",
                  "division_code": VILLAGE, "phone": "", "updated_at": TS} for k, (n, b, h) in PEOPLE.items()]
    insurance = [{"op": "I", "id_number": ident(k), "name": PEOPLE[k][0], "insurance_type": t, "status": s,
                  "started_on": "2015-01-01", "division_code": VILLAGE, "updated_at": TS}
                 for k, t, s in (("p30", "120", "1"), ("p59", "110", "3"), ("p16", "310", "1"))]
    disability = [{"certificate_no": ident(k) + "42", "id_number": ident(k), "name": PEOPLE[k][0],
                   "disability_type": "4", "disability_grade": g, "division_code": VILLAGE,
                   "issued_on": "2020-01-01", "updated_at": TS}
                  for k, g in (("p59", "2"), ("d1", "3"), ("d2", "4"))]
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
def published(warehouse_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The planted day run through `huiliu run` in a database of its own; yields its URL."""
    landing = tmp_path_factory.mktemp("ledger_landing")
    _deliver(landing)
    with fresh_databases(warehouse_url, "ledgers") as (url,):
        run = subprocess.run([HUILIU, "run", "--landing", str(landing), "--date", DAY.isoformat()],
                             capture_output=True, text=True, timeout=900,
                             env=huiliu_env(url, HUILIU_TOKEN_KEY=KEY.decode()))
        assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]
        yield url


@pytest.fixture(scope="module")
def ledger(published: str) -> Iterator[dict[str, dict]]:
    with psycopg.connect(published, autocommit=True) as conn:
        yield {"person": _rows(conn, "protected.prot_person_ledger", "id_number"),
               "enterprise": _rows(conn, "protected.prot_enterprise_ledger", "uscc")}


def _rows(conn: psycopg.Connection, relation: str, key: str) -> dict[str, dict]:
    cur = conn.execute(f"SELECT * FROM {relation}")
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
    # the floating population's delivery has no birth date: none is decoded from the identity number
    assert (f1["birth_date"], f1["age"], f1["gender"], f1["is_registered"]) == (None, None, None, False)
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


def _columns(conn: psycopg.Connection, schema: str, relation: str) -> set[str]:
    return {r[0] for r in conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s",
        (schema, relation)).fetchall()}


def test_units_read_the_ledgers_as_their_policy_allows(published, ledger):
    village = f"village_{VILLAGE}"
    with psycopg.connect(published, autocommit=True) as conn:
        rows = _rows(conn, f"{village}.person_ledger", "id_number_token")
        assert len(rows) == len(EXPECTED)
        clear = {k: ledger["person"][ident(k)] for k in EXPECTED}
        seen = {k: rows[r["id_number_token"]] for k, r in clear.items()}
        # below the owner, ages (and the tags over them) count from the birth year: p79 is 80 there
        # and p15 is 16, so both get what their birth year says; everyone else as at full precision
        by_year = EXPECTED | {"p79": {"aged_80_plus", "aged_60_plus"}, "p15": {"uninsured_16_59"}}
        assert (seen["p79"]["age"], seen["p79"]["tag_aged_80_plus"], seen["p15"]["age"]) == (80, True, 16)
        assert {k: set(r["tags"]) for k, r in seen.items()} == by_year
        assert "birth_date" not in _columns(conn, village, "person_ledger")
        for k, r in seen.items():  # names and identity numbers masked, never clear
            assert r["name"] != clear[k]["name"] and r["id_number"] != clear[k]["id_number"]
        # a department sees what its access covers: gaj owns household and floating data, not the
        # disability, death, subsidy or insurance details; tjj is granted household data only
        gaj, tjj = _columns(conn, "dept_gaj", "person_ledger"), _columns(conn, "dept_tjj", "person_ledger")
        assert {"is_floating", "tag_floating", "tag_aged_80_plus"} <= gaj
        assert not {"disability_type", "died_on", "pension_status", "tag_disabled", "tag_deceased"} & gaj
        assert "is_floating" not in tjj and "tag_floating" not in tjj and "tag_living_alone_60_plus" in tjj
        assert not _columns(conn, "dept_rsj", "person_ledger")  # no household data, no person ledger
        scjgj = _columns(conn, "dept_scjgj", "enterprise_ledger")
        assert "tag_active" in scjgj and not {"legal_rep_died_on", "tag_legal_rep_dead"} & scjgj
        city = {r["uscc"]: set(r["tags"]) for r in _rows(conn, "city.enterprise_ledger", "uscc").values()}
        assert sorted(map(sorted, city.values())) == sorted(map(sorted, ENTERPRISE_TAGS.values()))


def test_a_small_cell_is_suppressed_for_a_department_that_may_not_see_the_rows(published):
    town = VILLAGE[:9] + "000"
    with psycopg.connect(published, autocommit=True) as conn:
        def cells(schema: str, code: str) -> dict[str, object]:
            return dict(conn.execute(
                f"SELECT category, value FROM {schema}.population_profile "
                "WHERE division_code = %s AND measure = 'disabled'", (code,)).fetchall())
        assert cells("city", VILLAGE) == {"4": 3, "合计": 3}
        assert cells(f"village_{VILLAGE}", VILLAGE) == {"4": 3, "合计": 3}  # the village sees its rows
        assert cells("dept_gaj", VILLAGE) == {"4": None, "合计": None}  # dept_gaj has no disability grant
        assert set(cells("dept_gaj", town).values()) == {None}
        assert cells("dept_gaj", VILLAGE) and conn.execute(
            "SELECT value FROM dept_gaj.population_profile WHERE division_code = %s AND measure = 'population' "
            "AND category = '合计'", (VILLAGE,)).fetchone()[0] == len(PEOPLE)  # its own data in full
        # no published total gives a suppressed cell back: wherever a cell of a measure is
        # suppressed, its division's total is too, and no town row of that measure is published
        leaks = conn.execute(
            "SELECT p.division_code, p.measure FROM dept_gaj.population_profile p "
            "WHERE p.suppressed AND p.category <> '合计' AND EXISTS ("
            "  SELECT 1 FROM dept_gaj.population_profile t "
            "  WHERE t.measure = p.measure AND t.category = '合计' AND t.value IS NOT NULL"
            "  AND (t.division_code = p.division_code OR t.division_code = left(p.division_code, 9) || '000'))"
        ).fetchall()
        assert leaks == []


def _as_form(value: object, labels: dict[str, str]) -> object:
    """A value as a form shows it: tags by their labels, booleans 是/否, dates as dates."""
    if isinstance(value, list):
        return "、".join(labels.get(v, v) for v in value)
    if isinstance(value, bool):
        return "是" if value else "否"
    return value


def test_a_villages_forms_hold_what_its_role_reads_and_nothing_it_may_not(published, tmp_path):
    import openpyxl

    from pipelines.access.errors import Refused
    from pipelines.forms.report import run_report
    from pipelines.forms.templates import load_templates

    village = f"village_{VILLAGE}"
    templates = load_templates()
    labels = {t.code: t.label for t in load_ledgers()["person_ledger"].tags}
    for code in ("aged_80_plus", "disabled"):
        t = templates[code]
        out = run_report(village, tmp_path / f"{code}.xlsx", template_code=code, url=published)
        sheet = openpyxl.load_workbook(out.path, read_only=True).active
        values = list(sheet.values)
        header = next(i for i, r in enumerate(values) if r and r[0] == "姓名")
        got = sorted((tuple(r) for r in values[header + 1:]), key=str)
        with psycopg.connect(published, autocommit=True) as conn:  # the same rows, as the village's role
            conn.execute(f"SET ROLE {village}")
            where = " AND ".join(f"tag_{tag}" for tag in t.tags)
            rows = conn.execute(f"SELECT {', '.join(t.columns)} FROM {village}.{t.ledger} WHERE {where}"
                                ).fetchall()
        want = sorted((tuple(_as_form(v, labels) for v in r) for r in rows), key=str)
        assert got == want and out.rows == len(rows) > 0, code
    # 3 disabled persons; p79 is 80 by birth year, so the village's 高龄 list has p80, p85 and p79
    assert (run_report(village, tmp_path / "a.csv", template_code="aged_80_plus", url=published).rows,
            run_report(village, tmp_path / "d.csv", template_code="disabled", url=published).rows) == (3, 3)
    with pytest.raises(Refused, match="birth_date"):  # in the ledger, published to no unit
        run_report(village, tmp_path / "x.xlsx", ledger="person_ledger", columns=["name", "birth_date"],
                   url=published)
    with pytest.raises(Refused, match="person_ledger"):  # dept_rsj has no household data, so no ledger
        run_report("dept_rsj", tmp_path / "y.xlsx", template_code="aged_80_plus", url=published)
    with psycopg.connect(published, autocommit=True) as conn:
        recorded = conn.execute("SELECT unit, template, rows FROM governance.report_exports ORDER BY export_id"
                                ).fetchall()
    assert recorded[:2] == [(village, "aged_80_plus", 3), (village, "disabled", 3)]
