"""One run's gate results as a static HTML page an operator opens from the Dagster UI.

Self-contained (inline CSS, no script, no network), written under
`.huiliu/gate_reports/<run_id>.html`. It shows what the results hold and nothing else: gate
names, counts, expectation names, relation names, lineage paths and value *shapes*; the gates
never put a raw value into a result, and this page adds none.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import dagster as dg

from pipelines.gates.base import GateResult
from pipelines.naming import tier_of
from pipelines.paths import STATE_DIR
from pipelines.tables import table

REPORT_DIR = STATE_DIR / "gate_reports"
_SAFE = re.compile(r"[^A-Za-z0-9_.-]")

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI","PingFang SC","Noto Sans CJK SC",sans-serif;
margin:2em auto;max-width:1200px;padding:0 1em;color:#222}
h1{font-size:1.4em;margin-bottom:.2em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ddd}
.meta{color:#666}.ok{color:#17692f}.bad{color:#b3261e;font-weight:600}
.banner{padding:.6em 1em;border-radius:6px;margin:1em 0;font-weight:600}
.banner.ok{background:#e6f4ea}.banner.bad{background:#fce8e6}
table{border-collapse:collapse;width:100%;margin:.5em 0}th,td{border:1px solid #ddd;padding:.3em .5em;
text-align:left;vertical-align:top}th{background:#f6f6f6}td.n{text-align:right}
code,pre{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12.5px}
pre{background:#f8f8f8;padding:.6em;overflow-x:auto;white-space:pre-wrap}
details{margin:.3em 0}summary{cursor:pointer}
"""


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value))


def _kind(r: GateResult) -> str:
    """Group of a result: the suite for expectations, else the gate's own name."""
    if "relation_name" in r.details:  # one suite × relation of the expectation gate
        return f"expectations: {r.details.get('suite_name') or 'no suite'}"
    return r.name


def _failure_rows(r: GateResult) -> list[str]:
    rows = []
    for f in r.details.get("failed", []) or []:
        extra = {k: v for k, v in f.items() if k not in ("expectation", "relation", "tier", "why")}
        rows.append(f"<tr><td><code>{_e(f.get('relation'))}</code></td>"
                    f"<td><code>{_e(f.get('expectation'))}</code><br>"
                    f"<span class=meta>{_e(f.get('why'))}</span></td>"
                    f"<td><pre>{_e(_compact(extra))}</pre></td></tr>")
    for leak in r.details.get("leaks", []) or []:
        problem = f"<br>{_e(leak.get('problem'))}" if leak.get("problem") else ""
        rows.append(f"<tr><td><code>{_e(leak.get('relation'))}.{_e(leak.get('column'))}</code></td>"
                    f"<td>grade {_e(leak.get('grade'))}, {_e(leak.get('audience'))} policy "
                    f"<b>{_e(leak.get('action'))}</b>{problem}</td><td><code>{_e(leak.get('path'))}</code></td></tr>")
    return rows


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str, indent=1)


def _expectation_matrix(results: Sequence[GateResult]) -> str:
    """Relations × suites: one cell per expectation result (✓ n checks / ✗ failed of n)."""
    cells: dict[str, dict[str, GateResult]] = {}
    for r in results:
        if r.details.get("suite_kind"):
            cells.setdefault(r.details["relation_name"], {})[r.details["suite_kind"]] = r
    if not cells:
        return ""
    rows = ["<h2>Expectations by relation</h2><table><tr><th>relation</th><th>tier suite</th>"
            "<th>dataset suite</th></tr>"]
    for relation in sorted(cells):
        tds = []
        for kind in ("tier", "dataset"):
            r = cells[relation].get(kind)
            if r is None:
                tds.append("<td>—</td>")
                continue
            n = r.details.get("evaluated", 0)
            bad = len(r.details.get("failed", []))
            text = f"✓ {n}" if r.passed else f"✗ {bad} of {n}"
            tds.append(f"<td class={'ok' if r.passed else 'bad'} title='{_e(r.name)}'>{_e(text)}</td>")
        rows.append(f"<tr><td><code>{_e(relation)}</code></td>{''.join(tds)}</tr>")
    return "".join(rows) + "</table>"


def render_report(results: Sequence[GateResult], run_id: str, *, version: str | None = None,
                  title: str = "huiliu quality gates", context: Mapping[str, Any] | None = None) -> str:
    """The HTML page of one run's gates: verdict, failures first, then every gate and what it checked."""
    failed = [r for r in results if not r.passed]
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    out = [f"<!doctype html><html lang=zh-CN><head><meta charset=utf-8><title>{_e(title)} {_e(run_id)}</title>"
           f"<style>{_CSS}</style></head><body>",
           f"<h1>{_e(title)}</h1><div class=meta>run <code>{_e(run_id)}</code>"
           + (f" · version <code>{_e(version)}</code>" if version else "") + f" · written {now}</div>"]
    for k, v in (context or {}).items():
        out.append(f"<div class=meta>{_e(k)}: {_e(v)}</div>")
    verdict = ("ok", f"all {len(results)} gate results passed: publishable") if not failed else (
        "bad", f"{len(failed)} of {len(results)} gate results failed: nothing is published")
    out.append(f"<div class='banner {verdict[0]}'>{_e(verdict[1])}</div>")

    groups: dict[str, list[GateResult]] = {}
    for r in results:
        groups.setdefault(_kind(r), []).append(r)
    out.append("<h2>Overview</h2><table><tr><th>gate</th><th>results</th><th>passed</th><th>failed</th></tr>")
    for kind, rs in groups.items():
        bad = sum(1 for r in rs if not r.passed)
        out.append(f"<tr><td>{_e(kind)}</td><td class=n>{len(rs)}</td><td class=n>{len(rs) - bad}</td>"
                   f"<td class='n {'bad' if bad else ''}'>{bad}</td></tr>")
    out.append("</table>")

    if failed:
        out.append("<h2>What failed</h2>")
        for r in failed:
            out.append(f"<h3 class=bad>{_e(r.name)}</h3><p>{_e(r.summary)}</p>")
            rows = _failure_rows(r)
            if rows:
                out.append("<table><tr><th>relation</th><th>check</th>"
                           "<th>evidence (counts, shapes, paths)</th></tr>" + "".join(rows) + "</table>")
            rest = {k: v for k, v in r.details.items() if k not in ("failed", "leaks", "checked")}
            if rest:
                out.append(f"<details><summary>details</summary><pre>{_e(_compact(rest))}</pre></details>")

    matrix = _expectation_matrix(results)
    if matrix:
        out.append(matrix)

    out.append("<h2>Every gate</h2><table>"
               "<tr><th>gate</th><th>passed</th><th>summary</th><th>checked</th></tr>")
    for r in results:
        checked = r.details.get("checked")
        body = ("<details><summary>" + _e(f"{len(checked)} checks") + "</summary><pre>"
                + _e("\n".join(map(str, checked))) + "</pre></details>") if checked else ""
        mark = "<span class=ok>yes</span>" if r.passed else "<span class=bad>no</span>"
        out.append(f"<tr><td><code>{_e(r.name)}</code></td><td>{mark}</td><td>{_e(r.summary)}</td>"
                   f"<td>{body}</td></tr>")
    out.append("</table></body></html>")
    return "\n".join(out)


def overview_table(results: Sequence[GateResult]) -> dg.TableMetadataValue:
    """One row per gate kind: how many results, how many failed (the UI's gates table)."""
    groups: dict[str, list[GateResult]] = {}
    for r in results:
        groups.setdefault(_kind(r), []).append(r)
    return table(["gate", "results", "failed"],
                 [(k, len(rs), sum(1 for r in rs if not r.passed)) for k, rs in groups.items()])


def report_path(run_id: str, directory: Path | None = None) -> Path:
    """Where a run's gate report is written (the run's summary names it)."""
    return (directory or REPORT_DIR) / f"{_SAFE.sub('_', run_id) or 'run'}.html"


def write_report(results: Sequence[GateResult], run_id: str, *, version: str | None = None,
                 directory: Path | None = None, context: Mapping[str, Any] | None = None) -> Path:
    """Write the page to <directory>/<run_id>.html (default .huiliu/gate_reports) and return its path."""
    path = report_path(run_id, directory)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_report(results, run_id, version=version, context=context), encoding="utf-8")
    return path


def failures(results: Sequence[GateResult]) -> list[dict[str, Any]]:
    """Every failure as {tier, relation, check, found}: an expectation, a leak, or a whole gate.

    `found` holds counts and masked value shapes only, as the results do.
    """
    out: list[dict[str, Any]] = []
    for r in results:
        if r.passed:
            continue
        items = 0
        for f in r.details.get("failed", []) or []:
            found = {k: v for k, v in f.items() if k not in ("expectation", "relation", "why")}
            found.pop("tier", None)
            out.append({"tier": f.get("tier"), "relation": f.get("relation"),
                        "check": f.get("expectation"), "found": found})
            items += 1
        for leak in r.details.get("leaks", []) or []:
            out.append({"tier": tier_of(str(leak["audience"])) if leak.get("audience") else None,
                        "relation": f"{leak.get('relation')}.{leak.get('column')}",
                        "check": f"lineage: grade {leak.get('grade')} reaches {leak.get('audience')} "
                                 f"({leak.get('action')})", "found": {"path": leak.get("path")}})
            items += 1
        if not items:
            out.append({"tier": r.details.get("tier"), "relation": r.details.get("relation"),
                        "check": r.name, "found": r.summary})
    return out


FAILURE_COLUMNS = ("tier", "relation", "failed check", "found (counts, masked shapes)")


def failures_table(items: Sequence[Mapping[str, Any]], limit: int = 50) -> dg.TableMetadataValue:
    """Failures as a table: which check failed on which relation, and what it found (masked)."""
    rows = []
    for f in items[:limit]:
        found = f["found"] if isinstance(f["found"], str) else json.dumps(f["found"], ensure_ascii=False,
                                                                          default=str)
        rows.append((f["tier"] or "—", f["relation"] or "—", f["check"], found[:300]))
    if len(items) > limit:
        rows.append(("…", "…", f"{len(items) - limit} more in the gate report", ""))
    return table(FAILURE_COLUMNS, rows)
