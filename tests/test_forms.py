"""`huiliu report`: a unit's form holds exactly what that unit's role reads, and every export is recorded.

The ledgers are built elsewhere; here a database of its own holds just what a form reads:
governance.units and column_catalog, one NOLOGIN role per unit (unique to this test run: roles
are cluster-wide) and unit schemas whose `person_ledger` view shows a subset of the columns.
"""

from __future__ import annotations

import csv
import datetime as dt
import getpass
import hashlib
import os
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import openpyxl
import psycopg
import pytest
from psycopg import sql
from support.runs import HUILIU, fresh_databases, huiliu_env

from pipelines.access.errors import Refused
from pipelines.access.sessions import login_role, unit_connection
from pipelines.forms.report import list_templates, run_report
from pipelines.forms.templates import TemplateError, load_templates
from pipelines.warehouse import with_database

SUFFIX = hashlib.sha256(f"{os.getpid()}".encode()).hexdigest()[:6]
VILLAGE, TOWN, DEPT = f"village_f{SUFFIX}", f"town_f{SUFFIX}", f"dept_f{SUFFIX}"
BATCH = dt.date(2026, 11, 1)

LABELS = {"id_number": "公民身份号码", "name": "姓名", "gender": "性别", "age": "年龄", "age_band": "年龄段",
          "division_code": "区划代码", "household_id_token": "户号令牌", "household_size": "户内人数",
          "is_registered": "户籍人口", "is_floating": "流动人口", "disability_type": "残疾类别",
          "disability_grade": "残疾等级",
          "batch_date": "数据日期", "tags": "标签", "tag_aged_80_plus": "高龄", "tag_floating": "流动人口",
          "tag_disabled": "残疾", "tag_living_alone_60_plus": "独居老人"}  # the last: in no test view
SOURCE = """
CREATE TABLE {s}._src (id_number text, id_number_token text, name text, gender text, age integer,
    age_band text, division_code text, household_id_token text, household_size integer, is_registered boolean,
    is_floating boolean,
    disability_type text, disability_grade text, batch_date date, tags text[], tag_aged_80_plus boolean,
    tag_floating boolean, tag_disabled boolean)
"""
PEOPLE = [  # masked as below the owner; distinct (division_code, age) so the order is the data's
    ("3***************36", "tok1", "王*", "1", 86, "80-89", "330683100201", "h1", 1, False, None, None,
     ["aged_80_plus", "aged_60_plus"], True, False, False),
    ("3***************12", "tok2", "李*", "2", 91, "90-99", "330683100201", "h2", 2, None, "2", "3",
     ["aged_80_plus", "disabled"], True, False, True),
    ("3***************07", "tok3", "张*", "1", 34, "30-39", "330683100201", "h3", 3, True, None, None,
     ["floating"], False, True, False),
    ("3***************44", "tok4", "赵*", "2", 80, "80-89", "330683100202", "h4", 1, True, None, None,
     ["aged_80_plus", "floating"], True, True, False),
]
ALL = [c for c in LABELS if not c.startswith("tag_")]
ALL += ["id_number_token", "tag_aged_80_plus", "tag_floating", "tag_disabled"]
TOWN_VIEW = [c for c in ALL if c not in ("disability_type", "disability_grade", "tag_disabled")]


def _setup(db: psycopg.Connection) -> None:
    db.execute("CREATE SCHEMA governance")
    db.execute("CREATE TABLE governance.units (schema_name text PRIMARY KEY, tier text, code text, name text, "
               "town_code text)")
    db.execute("INSERT INTO governance.units VALUES (%s, 'village', '330683100201', '测试村', '330683100'), "
               "(%s, 'town', '330683100', '测试镇', '330683100'), (%s, 'department', 'gaj', '公安局', NULL)",
               (VILLAGE, TOWN, DEPT))
    db.execute("CREATE TABLE governance.column_catalog (dataset text, column_name text, label text)")
    with db.cursor() as cur:
        cur.executemany("INSERT INTO governance.column_catalog VALUES ('person_ledger', %s, %s)",
                        list(LABELS.items()))
    for unit, columns in ((VILLAGE, ALL), (TOWN, TOWN_VIEW), (DEPT, None)):
        s = sql.Identifier(unit)
        if not db.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (unit,)).fetchone():
            db.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(s))
        db.execute(sql.SQL("CREATE SCHEMA {}").format(s))
        db.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(s, s))
        if columns is None:  # a department without the household grant: no person_ledger at all
            continue
        db.execute(sql.SQL(SOURCE).format(s=s))
        with db.cursor() as cur:
            cur.executemany(sql.SQL(
                "INSERT INTO {}._src (id_number, id_number_token, name, gender, age, age_band, division_code, "
                "household_id_token, household_size, is_floating, disability_type, disability_grade, tags, "
                "tag_aged_80_plus, tag_floating, tag_disabled, batch_date, is_registered) VALUES ({}, %s, %s)"
            ).format(s, sql.SQL(", ").join([sql.Placeholder()] * 16)),
                [(*p, BATCH, p[9] is not True) for p in PEOPLE])
        db.execute(sql.SQL("CREATE VIEW {}.person_ledger AS SELECT {} FROM {}._src").format(
            s, sql.SQL(", ").join(map(sql.Identifier, columns)), s))
        db.execute(sql.SQL("GRANT SELECT ON {}.person_ledger TO {}").format(s, s))


@pytest.fixture(scope="module")
def url(warehouse_url: str) -> Iterator[str]:
    admin = with_database(warehouse_url, "postgres")
    with fresh_databases(warehouse_url, "forms") as [db_url]:
        database = db_url.rsplit("/", 1)[1]
        with psycopg.connect(db_url, autocommit=True) as db:
            _setup(db)
        yield db_url
    with psycopg.connect(admin, autocommit=True) as db:  # the database is gone: its grants with it
        for unit in (VILLAGE, TOWN, DEPT):
            for role in (login_role(unit, database), unit):
                db.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def _as_unit(url: str, unit: str, query: str) -> list[tuple]:
    with psycopg.connect(url, autocommit=True) as db:
        db.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(unit)))
        return db.execute(query).fetchall()


def _shown(value: object) -> object:
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, list):
        return "、".join(LABELS.get(f"tag_{t}", t) for t in value)
    return value


def _xlsx(path: Path) -> tuple[list[str], list[tuple], list[str]]:
    """The title block's lines, the header and the rows (the header is the row above the frozen pane)."""
    ws = openpyxl.load_workbook(path).active
    values = [tuple(v.date() if isinstance(v, dt.datetime) else v for v in row) for row in ws.values]
    header_row = int(ws.freeze_panes[1:]) - 1
    lines = [r[0] for r in values[:header_row - 1] if r and r[0]]
    return lines, values[header_row:], list(values[header_row - 1])


def test_a_template_holds_what_the_units_role_reads(url: str, tmp_path: Path) -> None:
    out = tmp_path / "高龄.xlsx"
    result = run_report(VILLAGE, out, template_code="aged_80_plus", url=url)
    expected = _as_unit(url, VILLAGE, "SELECT name, id_number, gender, age, division_code, household_size, "
                                      f"tags FROM {VILLAGE}.person_ledger WHERE tag_aged_80_plus "
                                      "ORDER BY division_code, age DESC")
    lines, rows, header = _xlsx(out)
    assert header == ["姓名", "公民身份号码", "性别", "年龄", "区划代码", "户内人数", "标签"]
    assert rows == [tuple(_shown(v) for v in r) for r in expected] and len(rows) == result.rows == 3
    assert rows[1][-1] == "高龄、aged_60_plus"  # a tag without a catalogued label shows its code
    assert lines[0] == "高龄老人花名册" and any("测试村" in line for line in lines)
    assert f"数据日期：{BATCH.isoformat()}" in lines and result.data_date == BATCH
    ws = openpyxl.load_workbook(out).active
    assert ws.column_dimensions["B"].width >= len("3***************36")  # widths fit the values
    assert ws.column_dimensions["A"].width >= 2 * len("姓名")  # a CJK character counts double


def test_a_custom_csv_starts_with_the_bom_and_labels_booleans_and_tokens(url: str, tmp_path: Path) -> None:
    out = tmp_path / "custom.csv"
    result = run_report(VILLAGE, out, ledger="person_ledger", tags=["floating"],
                        columns=["name", "is_floating", "tags", "id_number_token"], url=url)
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")
    with open(out, encoding="utf-8-sig", newline="") as f:
        header, *rows = list(csv.reader(f))
    assert header == ["姓名", "流动人口", "标签", "公民身份号码令牌"]  # a token: its column's label + 令牌
    assert rows == [["张*", "是", "流动人口", "tok3"], ["赵*", "是", "高龄、流动人口", "tok4"]]
    assert result.rows == 2 and result.template is None


def test_a_column_the_unit_may_not_see_is_refused(url: str, tmp_path: Path) -> None:
    out = tmp_path / "disabled.xlsx"
    with pytest.raises(Refused, match=r"may not see .*disability_type, disability_grade.*absent from its view"):
        run_report(TOWN, out, template_code="disabled", url=url)
    with pytest.raises(Refused, match="has no column no_such_column"):
        run_report(VILLAGE, out, ledger="person_ledger", columns=["name", "no_such_column"], url=url)
    with pytest.raises(Refused, match="column"):
        run_report(VILLAGE, out, ledger="person_ledger", columns=["name; DROP TABLE x"], url=url)
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_a_template_whose_ledger_the_unit_lacks_and_unknown_names_are_refused(url: str, tmp_path: Path) -> None:
    out = tmp_path / "x.xlsx"
    with pytest.raises(Refused, match=f"unit {DEPT} has no person_ledger"):
        run_report(DEPT, out, template_code="aged_80_plus", url=url)
    with pytest.raises(Refused, match="unknown template 'nope'"):
        run_report(VILLAGE, out, template_code="nope", url=url)
    with pytest.raises(Refused, match="unknown unit 'village_nowhere'"):
        run_report("village_nowhere", out, template_code="aged_80_plus", url=url)
    with pytest.raises(Refused, match="--out must end in"):
        run_report(VILLAGE, tmp_path / "x.pdf", template_code="aged_80_plus", url=url)


def test_every_export_is_recorded_with_the_os_user_and_rows(url: str, tmp_path: Path) -> None:
    out = tmp_path / "floating.xlsx"
    result = run_report(VILLAGE, out, template_code="floating", url=url)
    with psycopg.connect(url) as db:
        row = db.execute("SELECT os_user, unit, login, template, ledger, tags, rows, file_name FROM "
                         "governance.report_exports WHERE export_id = %s", (result.export_id,)).fetchone()
        public = db.execute("SELECT has_table_privilege('public', 'governance.report_exports', 'SELECT')"
                            ).fetchone()[0]
    assert row == (getpass.getuser(), VILLAGE, login_role(VILLAGE, url.rsplit("/", 1)[1]), "floating",
                   "person_ledger", ["floating"], 2, str(out.resolve()))
    assert not public and out.stat().st_mode & 0o077 == 0  # the form is its owner's alone


def test_the_unit_connection_is_that_unit_and_nothing_more(url: str) -> None:
    with unit_connection(url, VILLAGE) as uc:
        login = login_role(VILLAGE, uc.info.dbname)
        assert uc.execute("SELECT session_user, count(*) FROM " + VILLAGE + ".person_ledger").fetchone() == (
            login, len(PEOPLE))
        for statement in (f"SELECT 1 FROM {TOWN}.person_ledger", f"SELECT 1 FROM {VILLAGE}._src",
                          "SELECT 1 FROM governance.units"):
            uc.execute("RESET ROLE")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                uc.execute(statement)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            uc.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(TOWN)))
    with psycopg.connect(url, autocommit=True) as db:  # what someone slipped the login since is taken back
        for grant in ("GRANT {t} TO {l}", "GRANT USAGE ON SCHEMA {t} TO {l}",
                      "GRANT SELECT ON {t}.person_ledger TO {l}"):
            db.execute(sql.SQL(grant).format(t=sql.Identifier(TOWN), l=sql.Identifier(login)))
    with unit_connection(url, VILLAGE) as uc, pytest.raises(psycopg.errors.InsufficientPrivilege):
        uc.execute(f"SELECT 1 FROM {TOWN}.person_ledger")
    with psycopg.connect(url) as db:
        member_of = db.execute("SELECT r.rolname FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid "
                               "JOIN pg_roles l ON l.oid = m.member WHERE l.rolname = %s", (login,)).fetchall()
        attrs = db.execute("SELECT rolcanlogin, rolpassword IS NULL, rolsuper, rolcreaterole FROM pg_authid "
                           "WHERE rolname = %s", (login,)).fetchone()
    assert member_of == [(VILLAGE,)] and attrs == (False, True, False, False)  # expired once connected


def test_sessions_for_one_unit_opened_at_once_take_turns_on_its_login(url: str) -> None:
    def count(_: int) -> int:
        with unit_connection(url, VILLAGE) as uc:
            return uc.execute(f"SELECT count(*) FROM {VILLAGE}.person_ledger").fetchone()[0]

    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(count, range(4))) == [len(PEOPLE)] * 4


def test_the_command_line_writes_refuses_and_lists(url: str, tmp_path: Path) -> None:
    env = huiliu_env(url)
    out = tmp_path / "form.xlsx"
    ok = subprocess.run([HUILIU, "report", "--unit", VILLAGE, "--template", "aged_80_plus", "--out", str(out)],
                        env=env, capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.count("\n") == 1 and str(out) in ok.stdout and "3 rows" in ok.stdout
    refused = subprocess.run([HUILIU, "report", "--unit", TOWN, "--ledger", "person_ledger", "--columns",
                              "name,disability_type", "--out", str(tmp_path / "no.csv")],
                             env=env, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1 and "disability_type" in refused.stderr
    assert not any(p[2] in refused.stderr + refused.stdout for p in PEOPLE)  # names and counts, never values
    listed = subprocess.run([HUILIU, "report", "--list", "--unit", TOWN], env=env, capture_output=True,
                            text=True, timeout=60)
    assert listed.returncode == 0
    lines = dict(line.split("\t", 1) for line in listed.stdout.splitlines())
    assert lines["aged_80_plus"] == "高龄老人花名册" and lines["floating"] == "流动人口登记表"
    assert "not available" in lines["disabled"] and "disability_type" in lines["disabled"]
    assert "has no enterprise_ledger" in lines["enterprises"]


def test_list_templates_judges_each_by_the_units_view(url: str) -> None:
    available = {a.code: a.why_not for a in list_templates(DEPT, url=url)}
    assert all(why and "has no" in why for why in available.values())
    village = {a.code: a.why_not for a in list_templates(VILLAGE, url=url)}
    assert village["aged_80_plus"] is None and village["disabled"] is None
    assert "may not see tag(s) living_alone_60_plus" in village["living_alone"]  # no tag column in its view


PUBLISHED = {
    "person_ledger": {"id_number", "id_number_token", "name", "gender", "age", "age_band", "division_code",
                      "household_id_token", "is_registered", "is_floating", "household_size", "died_on",
                      "disability_type", "disability_grade", "latest_subsidy_period", "state_subsidy_period",
                      "pension_status", "batch_date", "tags"},
    "enterprise_ledger": {"uscc", "enterprise_name", "legal_rep_name", "legal_rep_id_number",
                          "legal_rep_id_number_token", "legal_rep_phone", "status", "industry_section",
                          "registered_capital", "established_on", "division_code", "batch_date", "tags"},
}


def test_the_county_templates_load_and_name_published_columns() -> None:
    templates = load_templates()
    assert {"aged_80_plus", "living_alone", "disabled", "floating", "uninsured", "elderly_subsidy",
            "enterprises", "legal_rep_dead"} <= set(templates)
    for t in templates.values():
        assert set(t.columns) | {o.column for o in t.order_by} <= PUBLISHED[t.ledger], t.code


@pytest.mark.parametrize(("text", "problem"), [
    ("code: Bad\ntitle: x\nledger: person_ledger\ncolumns: [name]", "code 'Bad'"),
    ("code: x\ntitle: x\nledger: raw_ledger\ncolumns: [name]", "ledger 'raw_ledger'"),
    ("code: x\ntitle: x\nledger: person_ledger\ncolumns: ['name; drop']", "column 'name; drop'"),
    ("code: x\ntitle: x\nledger: person_ledger\ncolumns: [name]\ntags: [Aged]", "tag 'Aged'"),
    ("code: x\ntitle: x\nledger: person_ledger\ncolumns: [name]\nfilter: age > 3", "unknown key(s) filter"),
    ("- code: x\n  title: x\n  ledger: person_ledger\n  columns: [name]\n- code: x\n  title: y\n"
     "  ledger: person_ledger\n  columns: [age]", "code already defined"),
])
def test_a_malformed_template_names_its_file_and_template(tmp_path: Path, text: str, problem: str) -> None:
    (tmp_path / "county.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(TemplateError) as caught:
        load_templates(tmp_path)
    message = str(caught.value)
    assert str(tmp_path / "county.yaml") in message and "template " in message and problem in message
