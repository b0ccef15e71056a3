"""`huiliu report`: one form for one unit, read through that unit's own login, recorded, in a file.

The pipeline's connection checks the unit, prepares its login and reads the labels; the unit's
connection reads the rows with the one SELECT of plan.py, so the form holds exactly what the
unit's role sees. The file is written beside its destination (mode 0600: it holds personal
data) and moved into place in the transaction that records it in governance.report_exports.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg

from pipelines.access.errors import Refused
from pipelines.access.sessions import unit_connection
from pipelines.forms import catalog, exports
from pipelines.forms.plan import Plan, Request, plan, visible_columns, why_not
from pipelines.forms.templates import LEDGERS, Template, load_templates, template
from pipelines.forms.writers import WRITERS, Sheet, converter
from pipelines.warehouse import database_url

COUNTY_TZ = ZoneInfo("Asia/Shanghai")  # pipelines.clock's zone (importing it would load Dagster)


@dataclass(frozen=True)
class ReportResult:
    path: Path
    rows: int
    seconds: float
    export_id: int
    template: str | None
    ledger: str
    columns: tuple[str, ...]
    data_date: dt.date | None

    def render(self) -> str:
        return f"{self.path}: {self.rows} rows in {self.seconds:.2f} s"


@dataclass(frozen=True)
class Availability:
    code: str
    title: str
    why_not: str | None  # None: the unit may run it


def _request(unit: str, template_code: str | None, ledger: str | None, tags: Sequence[str],
             columns: Sequence[str] | None, templates_dir: Path | None) -> Request:
    if (template_code is None) == (ledger is None):
        raise Refused("name either a template or a ledger")
    if template_code is not None:
        if tags or columns:
            raise Refused("--tags and --columns go with --ledger, not with --template")
        return Request.of_template(unit, template(template_code, templates_dir))
    return Request.custom(unit, ledger, tuple(tags), None if columns is None else tuple(columns))


def _read(uc: psycopg.Connection, p: Plan) -> list[tuple]:
    """The form's rows; a failure is refused by its SQLSTATE alone (a server message may quote a value)."""
    try:
        return uc.execute(p.query).fetchall()
    except psycopg.Error as exc:
        raise Refused(f"reading {p.request.unit}.{p.request.ledger} as {p.request.unit} failed: "
                      f"{type(exc).__name__} (SQLSTATE {exc.sqlstate})") from None


def _sheet(conn: psycopg.Connection, p: Plan, rows: list[tuple], labels: dict[str, str],
           data_date: dt.date | None) -> Sheet:
    req, t = p.request, p.request.template
    tags_index = p.columns.index("tags") if "tags" in p.columns else None
    tag_names = catalog.tag_labels(labels)
    convert = converter(p.types + (("date",) if p.hidden_date else ()), tag_names, len(p.columns), tags_index)
    shown = rows if convert is None else [convert(r) for r in rows]
    now = dt.datetime.now(COUNTY_TZ)
    tags = "、".join(tag_names.get(x, x) for x in req.tags) or "无"
    lines = (f"单位：{catalog.unit_name(conn, req.unit)}（{req.unit}）",
             f"数据日期：{data_date.isoformat() if data_date else '未知'}",
             f"生成时间：{now:%Y-%m-%d %H:%M:%S}",
             f"模板：{t.code}" if t else f"模板：自定义（{req.ledger}，标签：{tags}）",
             f"共 {len(rows)} 条")
    title = t.title if t else f"{LEDGERS[req.ledger]} 自定义"
    return Sheet(title, lines, tuple(catalog.label_of(c, labels) for c in p.columns), shown)


def run_report(unit: str, out: Path | str, *, template_code: str | None = None, ledger: str | None = None,
               tags: Sequence[str] = (), columns: Sequence[str] | None = None, url: str | None = None,
               templates_dir: Path | None = None) -> ReportResult:
    """Write one form of `unit` to `out` (.xlsx or .csv) and record it; Refused with the reason."""
    start = time.perf_counter()
    out = Path(out)
    write = WRITERS.get(out.suffix.lower())
    if write is None:
        raise Refused(f"--out must end in {' or '.join(WRITERS)}, not {out.suffix or '(nothing)'}")
    if not out.parent.is_dir():
        raise Refused(f"the folder {out.parent} does not exist")
    req = _request(unit, template_code, ledger, tags, columns, templates_dir)
    url = url or database_url()
    with psycopg.connect(url, autocommit=True, application_name="huiliu report") as conn:
        with unit_connection(url, unit, application_name=f"huiliu report {unit}", admin=conn) as uc:
            labels = catalog.labels(conn, req.ledger)
            p = plan(req, visible_columns(uc, unit, req.ledger), set(labels))
            rows = _read(uc, p)
            login = uc.info.user
        data_date = None
        if p.date_index is not None:
            data_date = max((r[p.date_index] for r in rows if r[p.date_index] is not None), default=None)
        data_date = data_date or catalog.published_date(conn)
        sheet = _sheet(conn, p, rows, labels, data_date)
        exports.ensure_exports(conn)
        # beside the destination, readable by its owner only (a form holds personal data)
        fd, name = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
        os.close(fd)
        tmp = Path(name)
        try:
            write(tmp, sheet)
            with conn.transaction():
                export_id = exports.record(conn, exports.Export(
                    unit, login, req.template.code if req.template else None, req.ledger, req.tags, p.columns,
                    len(rows), data_date, str(out.resolve()), out.suffix.lower().lstrip(".")))
                os.replace(tmp, out)
        finally:
            tmp.unlink(missing_ok=True)
    return ReportResult(out, len(rows), time.perf_counter() - start, export_id,
                        req.template.code if req.template else None, req.ledger, p.columns, data_date)


def list_templates(unit: str, *, url: str | None = None, templates_dir: Path | None = None
                   ) -> list[Availability]:
    """Every template, and for those the unit may not run, why (judged by its own login)."""
    templates: dict[str, Template] = load_templates(templates_dir)
    url = url or database_url()
    with psycopg.connect(url, autocommit=True, application_name="huiliu report --list") as conn:
        with unit_connection(url, unit, application_name=f"huiliu report --list {unit}", admin=conn) as uc:
            ledgers = {t.ledger for t in templates.values()}
            visible = {ledger: visible_columns(uc, unit, ledger) for ledger in ledgers}
        known = {ledger: set(catalog.labels(conn, ledger)) for ledger in ledgers}
    return [Availability(t.code, t.title, why_not(Request.of_template(unit, t), visible[t.ledger],
                                                    known[t.ledger]))
            for t in sorted(templates.values(), key=lambda t: t.code)]
