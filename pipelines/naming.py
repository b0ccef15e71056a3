"""Every identifier huiliu writes into SQL, validated and quoted in one place.

Names come from configuration (partitions.yaml, the contract) and from the catalog, never
from data values; even so each is checked against the schema-name pattern before it is
quoted with `psycopg.sql.Identifier`, so a malformed county file fails loudly instead of
producing surprising SQL.

A tier's shared relation is `<audience>__<dataset>` (dbt's tiers.*, a version's tables,
the published views). `Source` composes that name, and `Source.parse` is the one place it
is read back (from the database's catalog or dbt's compiled models); everything that
already holds a Source asks it for its audience, dataset and tier.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from psycopg import sql

NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_VILLAGE_CODE = re.compile(r"^[0-9]{12}$")
_TOWN_CODE = re.compile(r"^[0-9]{9}$")

RAW_SCHEMA = "raw"  # every record of every loaded file, as delivered: raw.<dataset> (and its asset key)
BUILD_SCHEMA = "tiers"  # dbt writes the unpublished build here: tiers.<audience>__<dataset>
PROTECTED_SCHEMA = "protected"  # dbt's current state with tokens, clear values included: prot_<dataset>
PUBLISHED_SCHEMA = "published"  # one "current" view per (audience, dataset), redefined at the switch
VERSION_PREFIX = "version_"  # version_000042: the tables of one published (or building) version
GOVERNANCE_SCHEMA = "governance"
AUDITOR_ROLE = "auditor"
# Grants in force by the county's date, judged when a granted unit view is read (ingest/schema.py).
GRANTS_IN_FORCE = "governance.grants_in_force"
READ_AUDIT_ROLE = "huiliu_audit"  # pgaudit.role: every read of a relation it may SELECT is logged

TIERS = ("city", "department", "town", "village")
AUDIENCES = ("city", "owner", "granted", "clear_names", "town", "village")
# A department reads its owned datasets as `owner`, granted ones as `granted` or `clear_names`.
DEPARTMENT_AUDIENCES = ("owner", "granted", "clear_names")
_SOURCE = re.compile(rf"^({'|'.join(AUDIENCES)})__([a-z][a-z0-9_]*)$")


class NamingError(ValueError):
    """A name from configuration cannot be used as a PostgreSQL identifier."""


def checked(name: str, what: str = "name") -> str:
    """Return `name` if it is a safe lower-case identifier, else raise NamingError."""
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise NamingError(f"{what} {name!r} must match {NAME.pattern}")
    return name


def ident(*parts: str) -> sql.Identifier:
    """A (possibly schema-qualified) quoted identifier of validated parts."""
    return sql.Identifier(*(checked(p) for p in parts))


def tier_of(audience: str) -> str:
    """The tier whose units read an audience's relations (owner, granted, clear_names: departments)."""
    if audience not in AUDIENCES:
        raise NamingError(f"unknown audience {audience!r} (expected one of {AUDIENCES})")
    return "department" if audience in DEPARTMENT_AUDIENCES else audience


@dataclass(frozen=True, order=True)
class Source:
    """One shared relation of a tier: the current state of `dataset` under `audience`'s policy."""

    audience: str
    dataset: str

    def __post_init__(self) -> None:
        tier_of(self.audience)
        checked(self.dataset, "dataset")

    @property
    def name(self) -> str:
        return checked(f"{self.audience}__{self.dataset}", "source")

    @property
    def tier(self) -> str:
        return tier_of(self.audience)

    @classmethod
    def parse(cls, name: str) -> Source | None:
        """The Source a relation name stands for, None when it is not `<audience>__<dataset>`."""
        m = _SOURCE.fullmatch(name)
        return cls(m.group(1), m.group(2)) if m else None


def source_name(audience: str, dataset: str) -> str:
    """tiers.<audience>__<dataset>: the dbt table (and published view) one audience reads."""
    return Source(audience, dataset).name


def protected_name(dataset: str) -> str:
    """protected.prot_<dataset>: the pipeline-only relation every tier of `dataset` is built from."""
    return checked(f"prot_{dataset}", "protected relation")


def version_schema(number: int) -> str:
    if not isinstance(number, int) or number < 1:
        raise NamingError(f"version {number!r} must be a positive integer")
    return checked(f"{VERSION_PREFIX}{number:06d}", "version schema")


def version_number(schema: str) -> int | None:
    """The version of a `version_NNNNNN` schema name, None for any other name."""
    m = re.fullmatch(rf"{VERSION_PREFIX}([0-9]{{6,}})", schema)
    return int(m.group(1)) if m else None


def village_literal(code: str) -> sql.Literal:
    if not _VILLAGE_CODE.fullmatch(code):
        raise NamingError(f"village code {code!r} must be 12 digits")
    return sql.Literal(code)


def town_literal(code: str) -> sql.Literal:
    if not _TOWN_CODE.fullmatch(code):
        raise NamingError(f"town code {code!r} must be 9 digits")
    return sql.Literal(code)


def columns(names: tuple[str, ...] | list[str]) -> sql.Composed:
    """A comma-separated list of quoted column names (names come from the catalog)."""
    return sql.SQL(", ").join(sql.Identifier(checked(n, "column")) for n in names)
