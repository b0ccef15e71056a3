"""Another county by configuration: an NBS-style division list → a partitions.yaml.

The list is what statistics offices publish (`code,name,level,parent_code`, the format of
shared/data/shengzhou_divisions.csv): towns (9 digits) under the county, villages (12 digits)
under a town of the list. Every fault is refused naming its line and column, all of them at
once, so a county's data office fixes the file in one pass. Departments and sources are the
county's own configuration, not the statistics office's: they come from the current
partitions.yaml or from the file `departments` names; grants are decisions of the new county
and start empty. The document written is checked by `parse_topology` — the same validation
every command applies — before anyone can use it.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from pipelines.topology import Topology, TopologyError, load_topology, parse_topology

COLUMNS = ("code", "name", "level", "parent_code")
LEVELS = ("county", "town", "village")
MAX_ERRORS = 20


class DivisionsError(ValueError):
    """The division list cannot describe the county; the message names every faulty line."""


@dataclass(frozen=True)
class Division:
    code: str
    name: str
    level: str
    parent: str
    line: int


def read_divisions(path: Path, county: str) -> list[Division]:
    """The towns and villages of `county` in the list at `path`, checked line by line."""
    where = str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise DivisionsError(f"{where}: cannot read it as UTF-8 text: {exc}") from exc
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None or tuple(h.strip() for h in header) != COLUMNS:
        raise DivisionsError(f"{where}:1: the header must be {','.join(COLUMNS)} (found {header!r})")
    errors: list[str] = []
    rows: list[Division] = []
    first_line: dict[str, int] = {}
    for line, record in enumerate(reader, start=2):
        if not any(f.strip() for f in record):
            continue
        if len(record) != len(COLUMNS):
            errors.append(f"{where}:{line}: {len(record)} fields, expected {len(COLUMNS)}")
            continue
        code, name, level, parent = (f.strip() for f in record)
        fault = _fault(code, name, level, parent, county)
        if fault:
            column, message = fault
            errors.append(f"{where}:{line}: column {column}: {message}")
        elif code in first_line:
            errors.append(f"{where}:{line}: column code: duplicate code {code} (also line {first_line[code]})")
        else:
            first_line[code] = line
            rows.append(Division(code, name, level, parent, line))
    towns = {d.code for d in rows if d.level == "town"}
    for d in rows:
        if d.level == "village" and d.parent not in towns:
            errors.append(f"{where}:{d.line}: column parent_code: village {d.code} is under {d.parent}, "
                          "which is not a town of the list")
    if not towns and not errors:
        errors.append(f"{where}: no town of county {county}")
    if errors:
        shown = sorted(errors, key=_line_of)[:MAX_ERRORS]
        more = f"\n… and {len(errors) - MAX_ERRORS} more" if len(errors) > MAX_ERRORS else ""
        raise DivisionsError("\n".join(shown) + more)
    return [d for d in rows if d.level != "county"]


def _line_of(message: str) -> int:
    parts = message.split(":")
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0


def _fault(code: str, name: str, level: str, parent: str, county: str) -> tuple[str, str] | None:
    if level not in LEVELS:
        return "level", f"{level!r} is not one of {', '.join(LEVELS)}"
    if not code.isdigit():
        return "code", f"{code!r} is not a division code (digits only)"
    if not name:
        return "name", f"division {code} has no name"
    if level == "county":
        return None if code == county else ("code", f"county {code} is not {county}")
    if level == "town":
        if len(code) != 9 or not code.startswith(county):
            return "code", f"town {code} must be 9 digits under county {county}"
        return None if parent == county else ("parent_code", f"town {code} is under {parent!r}, not {county}")
    if len(code) != 12 or not code.startswith(parent):
        return "code", f"village {code} must be 12 digits under its town {parent!r}"
    if code.endswith("000"):
        return "code", f"village {code} ends in 000, the town-level suffix"
    return None


def partitions_document(divisions: list[Division], county: str, name: str, base: Topology,
                        first_batch_date: dt.date | None = None) -> dict[str, Any]:
    """The partitions document: `base`'s departments and sources, the list's towns and villages."""
    towns = sorted((d for d in divisions if d.level == "town"), key=lambda d: d.code)
    villages: dict[str, list[Division]] = {}
    for d in divisions:
        if d.level == "village":
            villages.setdefault(d.parent, []).append(d)
    return {
        "county": {"code": county, "name": name},
        "first_batch_date": first_batch_date or base.first_batch_date,
        "sources": {s: list(names) for s, names in base.sources.items()},
        "departments": [{"code": u.code, "name": u.name} for u in base.departments],
        "towns": [{"code": t.code, "name": t.name,
                   "villages": [{"code": v.code, "name": v.name}
                                for v in sorted(villages.get(t.code, []), key=lambda v: v.code)]}
                  for t in towns],
        "grants": [],
    }


def render(doc: dict[str, Any], source: str) -> str:
    """partitions.yaml text in the file's own style (codes quoted, one line per department and village)."""
    def flow(entry: dict[str, str]) -> str:
        return "{code: " + _q(entry["code"]) + ", name: " + entry["name"] + "}"

    out = [f"# The county's topology, written by `huiliu topology from-divisions` from {source}.",
           "# Departments and sources come from the county's configuration; grants start empty.",
           "county:", f"  code: {_q(doc['county']['code'])}", f"  name: {doc['county']['name']}",
           f"first_batch_date: {doc['first_batch_date']}", "sources:"]
    out += [f"  {s}: [{', '.join(names)}]" for s, names in doc["sources"].items()]
    out.append("departments:")
    out += [f"  - {flow(d)}" for d in doc["departments"]]
    out.append("towns:")
    for t in doc["towns"]:
        out += [f"  - code: {_q(t['code'])}", f"    name: {t['name']}", "    villages:"]
        out += [f"      - {flow(v)}" for v in t["villages"]]
    out.append("grants: []")
    text = "\n".join(out) + "\n"
    if yaml.safe_load(text) != doc:  # names that YAML would read differently are written quoted instead
        text = f"# The county's topology, written by `huiliu topology from-divisions` from {source}.\n" + \
            yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)
    return text


def _q(code: str) -> str:
    return f'"{code}"'


def from_divisions(path: Path, county: str, name: str, departments: Path | None = None) -> str:
    """partitions.yaml text for the county in the list at `path` (validated as every command would)."""
    if not (len(county) == 6 and county.isdigit()):
        raise DivisionsError(f"--county {county!r} must be a 6-digit county code")
    if not name.strip():
        raise DivisionsError("--name must name the county")
    try:
        base = load_topology(departments)
    except (TopologyError, OSError) as exc:
        raise DivisionsError(f"departments and sources (--departments, HUILIU_PARTITIONS or the project's "
                             f"partitions.yaml): {exc}") from exc
    doc = partitions_document(read_divisions(path, county), county, name.strip(), base)
    text = render(doc, path.name)
    parse_topology(yaml.safe_load(text))  # what every command will read: refused here, not later
    return text
