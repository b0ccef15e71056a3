"""Faults planted on purpose: rows that break one row rule, and whole-file faults.

Each planted row breaks exactly the rule it is planted for, and that rule is the first
one in the contract's order that it breaks: it starts from a valid row of a fresh
"ghost" entity (an identity number or credit code nobody in the county has), so it
cannot collide with a real key, and one column is then spoiled. Duplicate keys are the
exception: an extra copy of a real row, with an older `updated_at` (the real row stays)
or, now and then, the same `updated_at` (both are kept aside and the key leaves the
current state).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from huiliu_dev.generate.hashing import I64, Hasher, S
from huiliu_dev.generate.rows import Block
from pipelines.contract import (
    ID_CHECK,
    ROW_REASONS,
    USCC_ALPHABET,
    Dataset,
    id_check_char,
    upgrade_id15,
    uscc_check_char,
)

RATE = 0.002  # share of a file's rows planted as faults, all rules together
TIE_EVERY = 5  # duplicate number 1, 6, 11 … is a tie on the latest updated_at

# File-level faults planted with --faulty-files: four different files, one reason each.
FILE_FAULTS = {
    "province/social_insurance": "sha256_mismatch",
    "city/floating_population": "bad_header",
    "province/disability_certificates": "bad_encoding",
    "city/death_records": "row_count_mismatch",
}
DROPPED_COLUMN = "remarks"  # the column the bad_header file lacks

_HALF = str.maketrans("０１２３４５６７８９", "0123456789")
_BAD_OPS = ("X", "A", "0", "IU")
_IMPOSSIBLE = ("19900230", "20230229", "19851131")
_BAD_DATES = {
    "date": ("2026-02-30", "2026/11/05", "1990-02-29", "2026-13-01", "20261105"),
    "timestamp": (
        "2026-11-31T10:00:00+08:00",
        "2026-11-05T25:10:00+08:00",
        "2026/11/05 10:00:00",
        "2026-02-29T08:00:00+08:00",
    ),
    "period": ("2026-13", "2026-00", "202611", "2026/11"),
}
_BAD_NUMBERS = ("12.3.4", "壹佰", "5O0", "--5", "abc")
_BAD_DIVISIONS = ("330683999999", "330684001002", "33068300100", "330683998000", "330683001")
_BAD_DIGIT_CODES = ("9", "0", "4", "5", "8", "99", "X")
_BAD_TEXT_CODES = ("正常", "歇业", "开业", "9")


def applicable_rules(ds: Dataset) -> tuple[str, ...]:
    """The row rules a file of this dataset can break, in contract order."""
    kinds = {c.kind for c in ds.columns}
    rules = ["field_count", "missing_required"]
    if ds.mode == "delta":
        rules.append("bad_op")
    if "id_number" in kinds:
        rules.append("bad_id_number")
    if kinds & {"uscc", "uscc_optional"}:
        rules.append("bad_uscc")
    rules.append("bad_date")
    if "amount" in kinds:
        rules.append("bad_number")
    rules.append("unknown_division")
    if "code" in kinds:
        rules.append("bad_code")
    if ds.mode == "snapshot":
        rules.append("duplicate_key")
    return tuple(rules)


def canonical_id(text: str) -> str:
    s = text.strip().translate(_HALF).upper()
    return upgrade_id15(s) if len(s) == 15 else s


def bad_id(text: str, serial: int) -> str:
    c = canonical_id(text)
    variant, n = serial % 5, serial // 5
    if variant == 0:  # wrong check character
        right = ID_CHECK.index(c[17])
        return c[:17] + ID_CHECK[(right + 1 + n % 10) % 11]
    if variant == 1:  # a birth date that cannot exist, with a correct check character
        body = c[:6] + _IMPOSSIBLE[n % 3] + c[14:17]
        return body + id_check_char(body)
    if variant == 2:  # wrong length
        return c[:17] if n % 2 == 0 else c[:16]
    if variant == 3:  # legacy 15 digits with an impossible date
        return c[:6] + "900230" + c[14:17]
    return c[:10] + "AB" + c[12:]  # letters inside


def bad_uscc(text: str, serial: int) -> str:
    base = text.strip() or "91330683MA2BQ7L1X8"
    body = base[:17]
    variant = serial % 3
    if variant == 0:  # wrong check character
        right = USCC_ALPHABET.index(uscc_check_char(body))
        return body + USCC_ALPHABET[(right + 1 + serial // 3 % 29) % 31]
    if variant == 1:  # a character outside the alphabet
        return base[:10] + "O" + base[11:]
    return body  # 17 characters


def _bad_code(codes: tuple[str, ...], serial: int) -> str:
    pool = _BAD_DIGIT_CODES if all(c.isdigit() for c in codes) else _BAD_TEXT_CODES
    pool = tuple(v for v in pool if v not in codes)
    return pool[serial % len(pool)]


@dataclass
class Planted:
    """A planted row in contract column order; fc: +1 extra field, -1 one field short."""

    row: list[str]
    reason: str
    fc: int = 0


def break_row(
    ds: Dataset, rule: str, row: list[str], serial: int, known_divisions: frozenset[str]
) -> Planted:
    """Spoil one column of a valid row so that `rule` is the first rule it breaks."""
    names = ds.column_names
    row = list(row)

    def cols(*kinds: str) -> list[int]:
        return [i for i, c in enumerate(ds.columns) if c.kind in kinds]

    if rule == "field_count":
        return Planted(row, rule, 1 if serial % 2 == 0 else -1)
    if rule == "missing_required":
        row[names.index(ds.required[serial % len(ds.required)])] = ""
    elif rule == "bad_op":
        row[names.index("op")] = _BAD_OPS[serial % len(_BAD_OPS)]
    elif rule == "bad_id_number":
        i = cols("id_number")[0]
        row[i] = bad_id(row[i], serial)
    elif rule == "bad_uscc":
        i = cols("uscc", "uscc_optional")[0]
        row[i] = bad_uscc(row[i], serial)
    elif rule == "bad_date":
        options = cols("date", "timestamp", "period")
        i = options[serial % len(options)]
        values = _BAD_DATES[ds.columns[i].kind]
        row[i] = values[serial // len(options) % len(values)]
    elif rule == "bad_number":
        options = cols("amount")
        row[options[serial % len(options)]] = _BAD_NUMBERS[serial % len(_BAD_NUMBERS)]
    elif rule == "unknown_division":
        pool = [d for d in _BAD_DIVISIONS if d not in known_divisions]
        row[names.index("division_code")] = pool[serial % len(pool)]
    elif rule == "bad_code":
        options = cols("code")
        i = options[serial % len(options)]
        row[i] = _bad_code(ds.columns[i].codes, serial // len(options))
    else:
        raise ValueError(f"cannot plant {rule}")
    return Planted(row, rule)


def older(stamp: str, serial: int) -> str:
    when = dt.datetime.fromisoformat(stamp) - dt.timedelta(
        days=1 + serial % 90, seconds=37 * serial % 3600
    )
    return when.isoformat()


@dataclass
class Planter:
    """Decides, chunk by chunk, which faulty rows go into one file and where.

    Quotas follow the rows seen so far (RATE split over the applicable rules), so a
    streamed file gets the same share everywhere; close() tops every rule up to one
    (two duplicates: one plain, one tie) for tiny files. Keeps the per-reason counts
    and, for snapshots, the expected current state per division_code.
    """

    ds: Dataset
    h: Hasher
    salt: int
    ghosts: Callable[[I64], Block]
    known_divisions: frozenset[str]
    good: int = 0
    planted: Counter[str] = field(default_factory=Counter)
    kept_aside: Counter[str] = field(default_factory=Counter)
    state: Counter[str] = field(default_factory=Counter)
    _ghost_serial: int = 0
    _recent: list[tuple[list[str], str]] = field(default_factory=list)
    _used: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.rules = applicable_rules(self.ds)
        self._rate = RATE / len(self.rules)
        names = self.ds.column_names
        self._upd = names.index("updated_at")
        self._id = names.index("id_number") if "id_number" in self.ds.key else None

    @property
    def rows(self) -> int:
        return self.good + sum(self.kept_aside.values()) - self._ties

    @property
    def _ties(self) -> int:
        return self.planted["_tie"]

    def add(self, block: Block) -> list[tuple[int, Planted]]:
        """Planted rows for this block, each with the block position it goes before."""
        self.good += len(block)
        if self.ds.mode == "snapshot":
            self.state.update(block.divisions)
        out: list[tuple[int, Planted]] = []
        self._used = set()
        for rule in self.rules:
            need = int(self.good * self._rate) - self.planted[rule]
            if need > 0:
                out += self._plant(rule, need, block)
        if len(block) and self.ds.mode == "snapshot":
            tail = [i for i in range(max(0, len(block) - 12), len(block)) if i not in self._used]
            self._recent = [(block.row(i), block.divisions[i]) for i in tail]
        return out

    def close(self) -> list[Planted]:
        """Top-ups so every applicable rule appears at least once (ties: twice)."""
        out: list[Planted] = []
        empty = Block.empty(self.ds.name)
        for rule in self.rules:
            need = (2 if rule == "duplicate_key" else 1) - self.planted[rule]
            if need > 0:
                out += [p for _, p in self._plant(rule, need, empty)]
        return out

    def _positions(self, n: int, size: int, first: int) -> list[int]:
        serial = np.arange(first, first + n)
        return self.h.below(S.PLANT_POS, serial, size + 1, self.salt).tolist()

    def _plant(self, rule: str, n: int, block: Block) -> list[tuple[int, Planted]]:
        if rule == "duplicate_key":
            return self._duplicates(n, block)
        serials = np.arange(self._ghost_serial, self._ghost_serial + n)
        pos = self._positions(n, len(block), self._ghost_serial)
        self._ghost_serial += n
        ghosts = self.ghosts(serials)
        out = []
        for j in range(n):
            p = break_row(self.ds, rule, ghosts.row(j), self.planted[rule], self.known_divisions)
            self.planted[rule] += 1
            self.kept_aside[rule] += 1
            out.append((pos[j], p))
        return out

    def _duplicates(self, n: int, block: Block) -> list[tuple[int, Planted]]:
        if len(block):
            pool = [(block.row(i), block.divisions[i]) for i in range(len(block))]
        else:
            pool, self._recent = self._recent, []
        if not pool:
            return []
        first = self.planted["duplicate_key"]
        picks = self.h.below(S.PLANT_PICK, np.arange(first, first + n), len(pool), self.salt)
        pos = self._positions(n, len(block), 10**9 + first)
        used = self._used if len(block) else set()
        out = []
        for j, pick in enumerate(picks.tolist()):
            while pick in used and len(used) < len(pool):
                pick = (pick + 1) % len(pool)
            if pick in used:
                break
            used.add(pick)
            real, division = pool[pick]
            serial = self.planted["duplicate_key"]
            copy = list(real)
            tie = serial % TIE_EVERY == 1
            if not tie:
                copy[self._upd] = older(real[self._upd], serial)
            if self._id is not None and serial % 3 == 2:
                key = canonical_id(copy[self._id])
                copy[self._id] = key[:17] + "x" if key.endswith("X") else f" {key}"
            self.planted["duplicate_key"] += 1
            self.kept_aside["duplicate_key"] += 2 if tie else 1
            if tie:
                self.planted["_tie"] += 1
                self.state[division] -= 1
            out.append((pos[j], Planted(copy, "duplicate_key")))
        return out

    def summary(self) -> dict[str, int]:
        return {r: self.kept_aside[r] for r in ROW_REASONS if self.kept_aside[r]}
