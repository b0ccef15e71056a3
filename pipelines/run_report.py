"""What `huiliu run` tells its operator at the end: a summary read back from governance, or JSON.

Per dataset the rows received, loaded and kept aside with the top reasons; rows published per
tier; the gates passed and failed with the first failures; new red warnings; where the gate
report and the run's log are; what the exit code means and what to try next. Everything is
read from governance (batch_files, kept_aside_rows, publish_log) and the warnings' counts after
the run, never from the run's memory, so the summary says what the warehouse now holds. Names,
codes and counts only — the no-personal-data rule of every log.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from pipelines.tables import markdown

ROWS_FOR_DATE = """
SELECT dataset,
       coalesce(sum(rows_received), 0),
       coalesce(sum(rows_loaded) FILTER (WHERE status = 'loaded'), 0),
       coalesce(sum(rows_kept_aside) FILTER (WHERE status = 'loaded'), 0),
       count(*) FILTER (WHERE status = 'rejected')
FROM governance.batch_files
WHERE batch_date = %s AND status IN ('loaded', 'rejected')
GROUP BY dataset ORDER BY dataset
"""

REJECTED_FOR_DATE = """
SELECT status || ': ' || source || '/' || batch_date || '/' || path || ': '
       || coalesce(reason || ': ' || coalesce(message, ''), 'the manifest does not name it (nothing loaded)')
FROM governance.batch_files
WHERE batch_date = %s AND status IN ('rejected', 'unlisted')
ORDER BY source, path
"""

# The kept-aside reasons of the date's loaded files, most frequent first (codes from batches.md).
REASONS_FOR_DATE = """
SELECT k.dataset, k.reason, count(*) FROM governance.kept_aside_rows k
JOIN governance.batch_files f ON f.file_id = k.file_id AND f.status = 'loaded'
WHERE f.batch_date = %s GROUP BY 1, 2 ORDER BY 1, 3 DESC, 2
"""

PUBLISHED_BY_RUN = ("SELECT version, held, rows_by_tier, gates FROM governance.publish_log WHERE run_id = %s "
                    "ORDER BY publish_id DESC LIMIT 1")

MEANING = {0: "everything published (rows kept aside included)",
           1: "nothing published",
           2: "published, but something was held back"}
TIER_LABELS = (("city", "city"), ("department", "departments"), ("town", "towns"), ("village", "villages"))


@dataclass
class RunReport:
    batch_date: dt.date
    run_id: str | None = None
    rows: list[tuple] = field(default_factory=list)
    rejections: list[str] = field(default_factory=list)
    failure: str | None = None
    failure_details: list[str] = field(default_factory=list)
    audit: str | None = None  # whether reads of unit relations are audited on this server
    version: int | None = None  # what this run published (None: nothing)
    held: dict[str, dict] = field(default_factory=dict)  # dataset → cause and reason
    kept_by_quality: list = field(default_factory=list)  # gates.holds.KeptBy, one per expectation
    new_red_warnings: dict[str, int] | None = None  # rule → new red warnings this run published (counts only)
    reasons: dict[str, list[tuple[str, int]]] = field(default_factory=dict)  # dataset → (reason, rows)
    published_rows: dict[str, int] = field(default_factory=dict)  # tier → rows over its units
    gates: list[dict] = field(default_factory=list)  # publish_log.gates of the version published
    gate_report: Path | None = None
    log: Path | None = None
    try_village: str | None = None  # a village schema for the "try" lines

    @property
    def held_back(self) -> bool:
        """Published, but not everything: a file rejected or unlisted, a dataset held (exit 2)."""
        return bool(self.rejections or self.held)

    @property
    def exit_code(self) -> int:
        if self.failure or self.version is None:
            return 1
        return 2 if self.held_back else 0

    def _gates_line(self) -> list[str]:
        if not self.gates:
            return []
        failed = [g for g in self.gates if not g.get("passed")]
        lines = [f"gates: {len(self.gates) - len(failed)} passed, {len(failed)} failed"]
        lines += [f"  failed: {g.get('name')}: {str(g.get('summary', ''))[:160]}" for g in failed[:3]]
        return lines

    def render(self) -> str:
        lines = [f"huiliu run {self.batch_date.isoformat()}  run_id={self.run_id}"]
        if not self.rows:
            lines.append("(no file of this date was received)")
        else:
            head = ["dataset", "rows received", "rows loaded", "rows kept aside", "files rejected",
                    "top reasons kept aside"]
            top = {d: ", ".join(f"{why} {n:,}" for why, n in rs[:2]) for d, rs in self.reasons.items()}
            lines.append(markdown(head, [(*r, top.get(r[0], "")) for r in self.rows]))
        if self.kept_by_quality:
            lines.append("kept aside by value quality (governance.kept_aside_rows, reason quality:<name>):")
            for k in self.kept_by_quality:
                lines.append(f"  {k.dataset}: {k.expectation} ({k.column}): {k.rows} row(s)")
                lines += [f"    e.g. {e}" for e in k.examples]
        if self.version is not None:
            tiers = " · ".join(f"{label} {self.published_rows[t]:,}" for t, label in TIER_LABELS
                               if t in self.published_rows)
            lines.append(f"published version_{self.version:06d}" + (f": rows {tiers}" if tiers else ""))
        for h in self.held.values():
            lines.append(f"held ({h['cause']}): {h['reason']}")
        lines += self._gates_line()
        if self.new_red_warnings is not None:
            red = ", ".join(f"{rule} {n}" for rule, n in self.new_red_warnings.items())
            lines.append(f"new red warnings (collision_warnings): {red}" if red else "no new red warnings")
        if self.audit:
            lines.append(self.audit)
        if self.gate_report is not None and self.gate_report.exists():
            lines.append(f"gate report: {self.gate_report}")
        if self.log is not None:
            lines.append(f"log (dbt, Dagster): {self.log}")
        lines.append(f"exit {self.exit_code}: {MEANING[self.exit_code]}")
        lines += self.next_steps()
        return "\n".join(lines)

    def next_steps(self) -> list[str]:
        if self.exit_code == 1:
            where = self.gate_report if self.gate_report is not None and self.gate_report.exists() else self.log
            return [f"next: the reason is on stderr; details in {where}"] if where else []
        out = []
        if self.exit_code == 2:
            out.append("next: the reasons held back are on stderr (a rejected file: fix it and deliver it "
                       "again; a volume drop: --accept-drop DATASET once it is understood)")
        if self.try_village:
            out.append(f'try: .venv/bin/huiliu sql --unit {self.try_village} -c "SELECT count(*) FROM '
                       'person_ledger WHERE tag_aged_80_plus"   # what that village sees')
        out.append("try: make ui   # the Dagster UI: assets, runs, asset checks")
        if self.gate_report is not None and self.gate_report.exists():
            out.append(f"try: open {self.gate_report}   # every gate of this publish")
        return out

    def as_json(self) -> str:
        def default(o: Any) -> Any:
            return str(o) if isinstance(o, Path | dt.date) else repr(o)

        doc = {
            "batch_date": self.batch_date.isoformat(), "run_id": self.run_id, "exit_code": self.exit_code,
            "meaning": MEANING[self.exit_code], "version": self.version, "failure": self.failure,
            "datasets": [{"dataset": d, "rows_received": rc, "rows_loaded": ld, "rows_kept_aside": ka,
                          "files_rejected": rj, "top_reasons": dict(self.reasons.get(d, [])[:5])}
                         for d, rc, ld, ka, rj in self.rows],
            "rejections": self.rejections, "held": self.held,
            "kept_by_quality": [{"dataset": k.dataset, "expectation": k.expectation, "column": k.column,
                                 "rows": k.rows} for k in self.kept_by_quality],
            "published_rows": self.published_rows,
            "gates": {"passed": sum(1 for g in self.gates if g.get("passed")),
                      "failed": [{"name": g.get("name"), "summary": g.get("summary")}
                                 for g in self.gates if not g.get("passed")]},
            "new_red_warnings": self.new_red_warnings, "audit": self.audit,
            "gate_report": self.gate_report if self.gate_report and self.gate_report.exists() else None,
            "log": self.log,
        }
        return json.dumps(doc, ensure_ascii=False, default=default)


def _tier_totals(rows_by_tier: dict[str, Any]) -> dict[str, int]:
    """publish_log.rows_by_tier (city: {dataset: n}; other tiers: {unit: {dataset: n}}) → rows per tier."""
    out: dict[str, int] = {}
    for tier, value in (rows_by_tier or {}).items():
        total = 0
        for v in (value or {}).values():
            total += sum(int(x) for x in v.values()) if isinstance(v, dict) else int(v)
        out[tier] = total
    return out


def read_outcome(conn: psycopg.Connection, report: RunReport) -> None:
    """Fill `report` (its run_id and batch_date set) from governance as the run left it."""
    from pipelines.gates.holds import kept_by_expectation

    def exists(name: str) -> bool:
        return conn.execute("SELECT to_regclass(%s)", (name,)).fetchone()[0] is not None

    if not exists("governance.batch_files"):
        return
    report.rows = conn.execute(ROWS_FOR_DATE, (report.batch_date,)).fetchall()
    report.rejections = [r[0] for r in conn.execute(REJECTED_FOR_DATE, (report.batch_date,)).fetchall()]
    if exists("governance.kept_aside_rows"):
        for dataset, reason, n in conn.execute(REASONS_FOR_DATE, (report.batch_date,)).fetchall():
            report.reasons.setdefault(dataset, []).append((reason, n))
    if exists("governance.publish_log"):
        row = conn.execute(PUBLISHED_BY_RUN, (report.run_id,)).fetchone()
        if row:
            report.version, report.held = row[0], row[1] or {}
            report.published_rows, report.gates = _tier_totals(row[2]), list(row[3] or [])
    if report.version is not None and not report.held:  # a held dataset holds the warnings too
        from pipelines.publish.warnings import counts

        with contextlib.suppress(Exception):  # a summary line, never a reason to fail the run
            report.new_red_warnings = counts(conn).new_red
    report.kept_by_quality = kept_by_expectation(conn)
