"""partitions.yaml → a validated model of the county.

The only module that reads partitions.yaml: everything else asks for a `Topology`.
Validation errors name the offending entry so a county's data office can fix the file.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from pipelines.contract import DATASETS, SOURCES
from pipelines.paths import PROJECT_ROOT

DEFAULT_PATH = PROJECT_ROOT / "partitions.yaml"

_CODE = re.compile(r"^[0-9a-z]+$")
GRANT_LEVELS = ("granted", "clear_names")


class TopologyError(ValueError):
    """partitions.yaml is not a valid description of a county."""


@dataclass(frozen=True)
class Unit:
    tier: str  # department | town | village
    code: str
    name: str
    town_code: str | None = None  # villages only

    @property
    def schema(self) -> str:
        prefix = {"department": "dept", "town": "town", "village": "village"}[self.tier]
        return f"{prefix}_{self.code}"


@dataclass(frozen=True)
class Grant:
    unit: str  # schema name of the unit, e.g. dept_wjj
    dataset: str
    level: str
    approval: str
    expires: dt.date  # the last day it is valid (it stops at 00:00 the next day, county time)
    grantor: str = "partitions.yaml"  # who approved it

    def active_on(self, day: dt.date) -> bool:
        return day <= self.expires


@dataclass(frozen=True)
class Topology:
    county_code: str
    county_name: str
    first_batch_date: dt.date
    sources: dict[str, tuple[str, ...]]
    departments: tuple[Unit, ...]
    towns: tuple[Unit, ...]
    villages: tuple[Unit, ...]
    grants: tuple[Grant, ...] = field(default_factory=tuple)

    @property
    def units(self) -> tuple[Unit, ...]:
        return self.departments + self.towns + self.villages

    def unit(self, schema: str) -> Unit:
        for u in self.units:
            if u.schema == schema:
                return u
        raise KeyError(schema)

    def villages_of(self, town_code: str) -> tuple[Unit, ...]:
        return tuple(v for v in self.villages if v.town_code == town_code)

    def source_of(self, dataset: str) -> str:
        for source, names in self.sources.items():
            if dataset in names:
                return source
        raise KeyError(dataset)

    def datasets_of_department(self, code: str, day: dt.date) -> dict[str, str]:
        """Datasets a department sees: owned → 'owner', granted → the grant's level."""
        seen = {name: "owner" for name, d in DATASETS.items() if d.owner == code}
        for g in self.active_grants(day):
            if g.unit == f"dept_{code}" and g.dataset not in seen:
                seen[g.dataset] = g.level
        return seen

    def with_grants(self, extra: tuple[Grant, ...]) -> Topology:
        """This county with grants beside partitions.yaml's (approved applications): for a (unit,
        dataset) both hold, the extra grant, the later decision, replaces the file's; grants to units
        the county no longer has are left out."""
        schemas = {u.schema for u in self.units}
        extra = tuple(g for g in extra if g.unit in schemas)
        keys = {(g.unit, g.dataset) for g in extra}
        return replace(self, grants=tuple(g for g in self.grants if (g.unit, g.dataset) not in keys) + extra)

    def active_grants(self, day: dt.date) -> tuple[Grant, ...]:
        """Grants valid on `day` (the caller's county date: pipelines.clock.today_in_county)."""
        return tuple(g for g in self.grants if g.active_on(day))


def _fail(where: str, message: str) -> TopologyError:
    return TopologyError(f"partitions.yaml: {where}: {message}")


def _code(value: Any, where: str) -> str:
    text = str(value) if value is not None else ""
    if not _CODE.match(text):
        raise _fail(where, f"code {text!r} must be digits and lowercase letters only")
    return text


def _name(entry: dict[str, Any], where: str) -> str:
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        raise _fail(where, "missing name")
    return name.strip()


def _date(value: Any, where: str) -> dt.date:
    """A YYYY-MM-DD date, whether YAML read it as one or it was quoted ('2027-12-31')."""
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise _fail(where, f"{value!r} is not a YYYY-MM-DD date")


def parse_topology(doc: dict[str, Any]) -> Topology:
    """Validate a partitions document; errors name the entry at fault."""
    if not isinstance(doc, dict):
        raise _fail("top level", "expected a mapping")
    county = doc.get("county") or {}
    county_code = _code(county.get("code"), "county")
    if len(county_code) != 6 or not county_code.isdigit():
        raise _fail("county", f"code {county_code!r} must be a 6-digit county code")

    first = _date(doc.get("first_batch_date"), "first_batch_date")

    sources: dict[str, tuple[str, ...]] = {}
    for source, names in (doc.get("sources") or {}).items():
        if source not in SOURCES:
            raise _fail(f"sources.{source}", f"unknown source (expected one of {SOURCES})")
        for name in names or ():
            if name not in DATASETS:
                raise _fail(f"sources.{source}", f"unknown dataset {name!r}")
            if DATASETS[name].source != source:
                raise _fail(
                    f"sources.{source}",
                    f"dataset {name!r} is delivered by {DATASETS[name].source}",
                )
        sources[source] = tuple(names or ())

    seen: dict[str, str] = {}

    def claim(code: str, where: str) -> None:
        if code in seen:
            raise _fail(where, f"duplicate code {code!r} (also {seen[code]})")
        seen[code] = where

    departments = []
    for i, entry in enumerate(doc.get("departments") or ()):
        where = f"departments[{i}]"
        code = _code(entry.get("code"), where)
        claim(f"dept:{code}", f"{where} ({code})")
        departments.append(Unit("department", code, _name(entry, where)))

    towns, villages = [], []
    for i, entry in enumerate(doc.get("towns") or ()):
        where = f"towns[{i}]"
        code = _code(entry.get("code"), where)
        if len(code) != 9 or not code.startswith(county_code):
            raise _fail(where, f"town code {code!r} must be 9 digits under county {county_code}")
        claim(code, f"{where} ({code})")
        towns.append(Unit("town", code, _name(entry, where)))
        for j, v in enumerate(entry.get("villages") or ()):
            vwhere = f"{where}.villages[{j}]"
            vcode = _code(v.get("code"), vwhere)
            if len(vcode) != 12 or not vcode.isdigit():
                raise _fail(vwhere, f"village code {vcode!r} must be 12 digits")
            if not vcode.startswith(code):
                raise _fail(vwhere, f"village code {vcode!r} is not under its town {code}")
            if vcode.endswith("000"):
                raise _fail(vwhere, f"village code {vcode!r} ends in 000, the town-level suffix")
            claim(vcode, f"{vwhere} ({vcode})")
            villages.append(Unit("village", vcode, _name(v, vwhere), town_code=code))

    schemas = {u.schema for u in (*departments, *towns, *villages)}
    grants = []
    for i, entry in enumerate(doc.get("grants") or ()):
        where = f"grants[{i}]"
        unit, dataset = entry.get("unit"), entry.get("dataset")
        if unit not in schemas:
            raise _fail(where, f"unknown unit {unit!r}")
        if dataset not in DATASETS:
            raise _fail(where, f"unknown dataset {dataset!r}")
        level = entry.get("level", "granted")
        if level not in GRANT_LEVELS:
            raise _fail(where, f"unknown level {level!r} (expected one of {GRANT_LEVELS})")
        approval = entry.get("approval")
        if not approval:
            raise _fail(where, "a grant needs an approval reference")
        expires = _date(entry.get("expires"), f"{where}.expires")
        grantor = entry.get("grantor", "partitions.yaml")
        grants.append(Grant(unit, dataset, level, str(approval), expires, str(grantor)))

    return Topology(
        county_code=county_code,
        county_name=str(county.get("name", "")),
        first_batch_date=first,
        sources=sources,
        departments=tuple(departments),
        towns=tuple(towns),
        villages=tuple(villages),
        grants=tuple(grants),
    )


def load_topology(path: Path | str | None = None) -> Topology:
    """Load partitions.yaml (or HUILIU_PARTITIONS, or `path`)."""
    import os

    chosen = Path(path or os.environ.get("HUILIU_PARTITIONS") or DEFAULT_PATH)
    return _load_cached(chosen.resolve())


@cache
def _load_cached(path: Path) -> Topology:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise TopologyError(f"{path}: not valid YAML: {exc}") from exc
    return parse_topology(doc)
