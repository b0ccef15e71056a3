"""Form templates (reports/*.yaml): data a county edits, validated when loaded.

A file holds one template (a mapping) or several (a list of mappings). Each names a code, a
Chinese title, a ledger, the tags every row must carry, the columns in order and optionally
the order. Every name ends up as a quoted identifier in one SELECT, so each is checked here
(pipelines.naming.checked) and a mistake names its file and template instead of reaching SQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from pipelines.access.errors import Refused
from pipelines.derived import DERIVED
from pipelines.derived import LEDGERS as LEDGER_NAMES
from pipelines.naming import NamingError, checked
from pipelines.paths import PROJECT_ROOT

TEMPLATES_DIR = PROJECT_ROOT / "reports"
# The ledgers a form reads (ledgers/tags.yaml), with their Chinese names for a custom form's title.
LEDGERS = {name: DERIVED[name].label for name in LEDGER_NAMES}  # code → 一人一档 / 一企一档
KEYS = {"code", "title", "ledger", "tags", "columns", "order_by", "description"}
DIRECTIONS = ("asc", "desc")


class TemplateError(Refused):
    """A template file is malformed: the message names the file and the template."""


@dataclass(frozen=True)
class OrderKey:
    column: str
    descending: bool = False

    @classmethod
    def parse(cls, text: str) -> OrderKey:
        """'age' or 'age desc' (names only: no expression reaches ORDER BY)."""
        parts = str(text).split()
        if len(parts) == 2 and parts[1].lower() in DIRECTIONS:
            return cls(checked(parts[0], "order_by column"), parts[1].lower() == "desc")
        if len(parts) != 1:
            raise NamingError(f"order_by entry {text!r} must be 'column' or 'column asc|desc'")
        return cls(checked(parts[0], "order_by column"))


@dataclass(frozen=True)
class Template:
    code: str
    title: str
    ledger: str
    tags: tuple[str, ...]
    columns: tuple[str, ...]
    order_by: tuple[OrderKey, ...] = ()
    source: str = ""  # the file it came from, for messages


def tag_column(tag: str) -> str:
    """The ledger's boolean column of a tag code (aged_80_plus → tag_aged_80_plus)."""
    return checked(f"tag_{checked(tag, 'tag')}", "tag column")


def check_ledger(ledger: str) -> str:
    if ledger not in LEDGERS:
        raise NamingError(f"ledger {ledger!r} must be one of {', '.join(LEDGERS)}")
    return ledger


def _names(value: object, what: str, *, required: bool) -> tuple[str, ...]:
    if value is None and not required:
        return ()
    if not isinstance(value, list) or (required and not value):
        raise NamingError(f"{what} must be a {'non-empty ' if required else ''}list of names")
    names = tuple(checked(v, what.rstrip("s")) for v in value)
    if len(set(names)) != len(names):
        raise NamingError(f"{what} name a column twice")
    return names


def parse_template(entry: object, source: str) -> Template:
    """One template from its YAML mapping; NamingError/TypeError say what is wrong with it."""
    if not isinstance(entry, dict):
        raise NamingError("a template must be a mapping")
    unknown = sorted(set(entry) - KEYS)
    if unknown:
        raise NamingError(f"unknown key(s) {', '.join(map(str, unknown))} (allowed: {', '.join(sorted(KEYS))})")
    code = checked(entry.get("code"), "code")
    title = entry.get("title")
    if not isinstance(title, str) or not title.strip():
        raise NamingError("title must be a non-empty text")
    tags = _names(entry.get("tags"), "tags", required=False)
    for t in tags:
        tag_column(t)
    order = entry.get("order_by")
    if order is not None and not isinstance(order, list):
        raise NamingError("order_by must be a list")
    return Template(code, title.strip(), check_ledger(entry.get("ledger")), tags,
                    _names(entry.get("columns"), "columns", required=True),
                    tuple(OrderKey.parse(o) for o in order or ()), source)


def load_file(path: Path) -> list[Template]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise TemplateError(f"{path}: cannot be read as YAML: {exc}") from exc
    entries = data if isinstance(data, list) else [data]
    found = []
    for i, entry in enumerate(entries, 1):
        name = entry.get("code") if isinstance(entry, dict) else None
        label = f"template {name!r}" if isinstance(name, str) else f"template #{i}"
        try:
            found.append(parse_template(entry, str(path)))
        except NamingError as exc:
            raise TemplateError(f"{path}: {label}: {exc}") from exc
    return found


def load_templates(directory: Path | None = None) -> dict[str, Template]:
    """Every template of the directory's *.yaml, by code; a code defined twice is refused."""
    directory = directory or TEMPLATES_DIR
    templates: dict[str, Template] = {}
    for path in sorted(directory.glob("*.yaml")):
        for t in load_file(path):
            if t.code in templates:
                raise TemplateError(f"{path}: template {t.code!r}: code already defined in "
                                    f"{templates[t.code].source}")
            templates[t.code] = t
    return templates


def template(code: str, directory: Path | None = None) -> Template:
    """The template of that code, or a refusal listing the known codes."""
    templates = load_templates(directory)
    if code not in templates:
        raise Refused(f"unknown template {code!r} (known: {', '.join(sorted(templates)) or 'none'})")
    return templates[code]
