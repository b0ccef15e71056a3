"""Rows as columns: the Block every dataset builder returns, and what the builders share.

Builders return columns in the contract's column order; the writer reorders them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from huiliu_dev.generate import days as dd
from huiliu_dev.generate.floating import Floating
from huiliu_dev.generate.hashing import I64, Bool, S
from huiliu_dev.generate.messiness import render_ids, render_names
from huiliu_dev.generate.residents import Residents
from huiliu_dev.generate.world import World
from pipelines.contract import DATASETS

# Rendering salts: one per dataset, so a person's mess differs between datasets.
SALT = {
    "household_registration": 11,
    "social_insurance": 12,
    "disability_certificates": 13,
    "elderly_subsidy": 14,
    "death_records": 15,
    "floating_population": 16,
    "enterprise_registry": 17,
}


@dataclass
class Block:
    """Rows of one dataset as columns (contract order), with each row's division_code."""

    dataset: str
    columns: list[list[str]]
    divisions: list[str]

    def __len__(self) -> int:
        return len(self.divisions)

    @classmethod
    def empty(cls, dataset: str) -> Block:
        return cls(dataset, [[] for _ in DATASETS[dataset].columns], [])

    def extend(self, other: Block) -> Block:
        """Append other's rows (new lists: columns may share lists with a chunk)."""
        self.columns = [m + t for m, t in zip(self.columns, other.columns, strict=True)]
        self.divisions = self.divisions + other.divisions
        return self

    def row(self, i: int) -> list[str]:
        return [col[i] for col in self.columns]


@dataclass
class Emitted:
    """What one chunk contributes: rows to write, and (deltas) the live state at D."""

    block: Block
    state: Counter[str] = field(default_factory=Counter)


def stamps(world: World, key: I64, day_arr: I64, stream: S = S.TIME_OF_DAY) -> list[str]:
    bits = world.h.bits(stream, key, day_arr)
    return dd.stamps(day_arr, dd.office_seconds(bits))


def op_stamps(world: World, key: I64, day: int) -> list[str]:
    day_arr = np.full(len(key), day, dtype=np.int64)
    return stamps(world, key, day_arr, S.OP_TIME)


def id_text(c: Residents | Floating, dataset: str) -> list[str]:
    return render_ids(c.h, c.idx, SALT[dataset], c.id18, c.id15, c.born_1900s)


def name_text(c: Residents | Floating, dataset: str) -> list[str]:
    return render_names(c.h, c.idx, SALT[dataset], c.name)


def delta_masks(p0: Bool, p1: Bool, v0: I64, v1: I64) -> tuple[Bool, Bool, Bool]:
    return ~p0 & p1, p0 & p1 & (v0 != v1), p0 & ~p1
