"""The synthetic county's world: its places, names, clocks and index spaces, and the Chunk base.

Residents (residents.py), their insurance (insurance.py), enterprises (enterprises.py) and
floating-population slots (floating.py) are chunks of it.

Every entity is a pure function of (seed, index), and every change in its life is an
event day (death, phone change, insurance suspension, move …). The state at a date D is
"which events have happened by D", so no date needs any other date's output, and no
per-person state is kept between chunks.

Identity numbers are unique by construction, not by checking: a person's index goes
through a bijection onto [0, CAP), that position is mapped onto a birth day through a
cumulative table (so ages follow a population pyramid), and its rank among the
positions of the same day becomes the sequence number.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np

from huiliu_dev.generate import lexicon
from huiliu_dev.generate.days import day_number
from huiliu_dev.generate.hashing import I64, Bool, Hasher, S
from pipelines.topology import Topology

RES_CAP = 1 << 24  # resident index space (people + planted "ghost" people)
FLOAT_CAP = 1 << 27  # floating persons: slot * 64 + cycle
FLOAT_CYCLES = 64
FLOAT_MIN_PERIOD = 45  # days: bounds how far after first_batch_date dates can go
ENT_CAP = 1 << 24
MAX_PEOPLE = 5_000_000
GHOST_ROOM = 1 << 20  # ghosts are taken from the top of each index space
assert MAX_PEOPLE + GHOST_ROOM < RES_CAP and MAX_PEOPLE * 12 // 100 + GHOST_ROOM < (
    FLOAT_CAP // FLOAT_CYCLES
)
DEATH_WINDOW = 355  # deaths are simulated from first_batch_date - DEATH_WINDOW on
DEATH_RETAIN = 365  # the city's death register drops records after a year
YEAR = 365.2425

_RES_MULT = 10368889  # odd, ~ golden ratio * 2**24: a well-spread bijection
_FLOAT_MULT = 82951207
_ENT_MULT = 10368889


def _cum_table(
    ref: int, oldest: int, youngest_days: int, weights: dict[range, float], cap: int
) -> tuple[int, I64]:
    """Birth days (first day, cumulative slot table) following an age pyramid."""
    lo = ref - int(oldest * YEAR)
    days = np.arange(lo, ref - youngest_days + 1, dtype=np.int64)
    age = ((ref - days) / YEAR).astype(np.int64)
    w = np.zeros(len(days))
    for years, weight in weights.items():
        w[(age >= years.start) & (age < years.stop)] = weight
    cum = np.concatenate([[0.0], np.cumsum(w)])
    table = np.round(cum / cum[-1] * cap).astype(np.int64)
    table[-1] = cap
    return lo, table


RESIDENT_AGES = {
    range(0, 10): 0.75,
    range(10, 20): 0.85,
    range(20, 30): 0.95,
    range(30, 40): 1.15,
    range(40, 50): 1.3,
    range(50, 60): 1.55,
    range(60, 70): 1.45,
    range(70, 80): 1.05,
    range(80, 90): 0.5,
    range(90, 100): 0.12,
    range(100, 106): 0.01,
}
FLOATING_AGES = {
    range(0, 16): 0.35,
    range(16, 20): 0.6,
    range(20, 30): 1.4,
    range(30, 40): 1.5,
    range(40, 50): 1.1,
    range(50, 60): 0.6,
    range(60, 71): 0.2,
}


@dataclass(frozen=True)
class Places:
    """The county's towns and villages as arrays, from topology."""

    county: str
    town_codes: np.ndarray
    town_names: np.ndarray
    village_codes: np.ndarray
    village_names: np.ndarray
    village_town: I64
    village_weights: np.ndarray

    @classmethod
    def from_topology(cls, topo: Topology, h: Hasher) -> Places:
        towns = {t.code: i for i, t in enumerate(topo.towns)}
        vill = topo.villages
        weights = 0.4 + h.uniform(S.VILLAGE_WEIGHT, np.arange(len(vill))) * 1.6
        return cls(
            county=topo.county_code,
            town_codes=np.array([t.code for t in topo.towns]),
            town_names=np.array([t.name for t in topo.towns], dtype=object),
            village_codes=np.array([v.code for v in vill]),
            village_names=np.array([v.name for v in vill], dtype=object),
            village_town=np.array([towns[v.town_code] for v in vill], dtype=np.int64),
            village_weights=weights,
        )

    def divisions(self, village: I64, town_level: Bool) -> list[str]:
        town = self.town_codes[self.village_town[village]]
        codes = np.where(
            town_level, np.char.add(town.astype("U9"), "000"), self.village_codes[village]
        )
        return codes.tolist()

    def addresses(
        self,
        h: Hasher,
        key: I64,
        village: I64,
        town_level: Bool,
        salt: int,
        suffix: list[str] | None = None,
    ) -> list[str]:
        """'嵊州市<town><village><n>号', a road when the village is unknown; a few messy."""
        door = 1 + h.below(S.DOOR, key, 180, salt)
        road = h.below(S.ENT_ROAD, key, len(lexicon.ROADS), salt)
        style = h.uniform(S.ADDRESS_STYLE, key, salt)
        towns = self.town_names[self.village_town[village]].tolist()
        vills = self.village_names[village].tolist()
        out = []
        for i, (t, v, n, r, s, tl) in enumerate(
            zip(
                towns,
                vills,
                door.tolist(),
                road.tolist(),
                style.tolist(),
                town_level.tolist(),
                strict=True,
            )
        ):
            place = f"{lexicon.ROADS[r]}" if tl else v
            text = f"嵊州市{t}{place}{n}号"
            if s < 0.03:
                text = f"{text},{1 + n % 7}幢"
            elif s < 0.035:
                text = f"嵊州市{t}{place}\n{n}号"
            elif s < 0.04:
                text = f'嵊州市{t}{place}"老台门"{n}号'
            out.append(text + (suffix[i] if suffix else ""))
        return out


def make_names(
    h: Hasher, key: I64, male: Bool, salt: int, minority: float | Bool = 0.003
) -> list[str]:
    """Chinese names; a few compound surnames, rare characters and '·' names."""
    sur = h.pick(S.SURNAME, key, lexicon.SURNAME_WEIGHTS, salt)
    g1 = h.bits(S.GIVEN1, key, salt)
    g2 = h.bits(S.GIVEN2, key, salt)
    two = h.chance(S.GIVEN_LEN, key, 0.72, salt)
    rare = h.uniform(S.RARE_NAME, key, salt)
    mino = h.uniform(S.MINORITY, key, salt) < minority
    out = []
    m_len, f_len = len(lexicon.GIVEN_MALE), len(lexicon.GIVEN_FEMALE)
    for s, a, b, t, r, mi, ma in zip(
        sur.tolist(),
        g1.tolist(),
        g2.tolist(),
        two.tolist(),
        rare.tolist(),
        mino.tolist(),
        male.tolist(),
        strict=True,
    ):
        if mi:
            out.append(f"{lexicon.MINORITY_FIRST[a % 8]}·{lexicon.MINORITY_LAST[b % 7]}")
            continue
        chars = lexicon.GIVEN_MALE if ma else lexicon.GIVEN_FEMALE
        n = m_len if ma else f_len
        surname = lexicon.COMPOUND_SURNAMES[a % 5] if r > 0.997 else lexicon.SURNAMES[s]
        given = chars[a % n] + (chars[b % n] if t else "")
        if r < 0.006:
            given = given[:-1] + lexicon.RARE_CHARS[b % len(lexicon.RARE_CHARS)]
        out.append(surname + given)
    return out


class GenerateError(ValueError):
    """The request cannot be generated (people out of range, date outside the history)."""


class World:
    """Everything fixed for one (topology, people, seed): sizes, tables, places."""

    def __init__(self, topo: Topology, people: int, seed: int) -> None:
        if not 1 <= people <= MAX_PEOPLE:
            raise GenerateError(f"people must be between 1 and {MAX_PEOPLE}")
        self.topo = topo
        self.seed = seed
        self.people = people
        self.enterprises = max(5, people // 20)
        self.float_slots = max(10, people * 12 // 100)
        self.h = Hasher(seed)
        self.ref = day_number(topo.first_batch_date)
        self.places = Places.from_topology(topo, self.h)
        self.res_lo, self.res_cum = _cum_table(self.ref, 105, 400, RESIDENT_AGES, RES_CAP)
        self.flo_lo, self.flo_cum = _cum_table(self.ref, 70, 365, FLOATING_AGES, FLOAT_CAP)
        # Sequence numbers must fit: 500 per gender and region prefix and birth day.
        assert np.diff(self.res_cum).max() <= 500 * len(lexicon.RESIDENT_PREFIXES)
        assert np.diff(self.flo_cum).max() < 500 * len(lexicon.FLOAT_PREFIXES)
        self.res_off = self.h.scalar(S.BIRTH_PERM, 0) % RES_CAP
        self.flo_off = self.h.scalar(S.FLOAT_PERM, 0) % FLOAT_CAP
        self.ent_off = self.h.scalar(S.ENT_PERM, 0) % ENT_CAP

    def last_supported_day(self) -> int:
        return self.ref + (FLOAT_CYCLES - 4) * FLOAT_MIN_PERIOD

    def check_day(self, day: dt.date) -> int:
        n = day_number(day)
        if n < self.ref:
            raise GenerateError(
                f"batch date {day} is before first_batch_date {self.topo.first_batch_date}"
            )
        if n > self.last_supported_day():
            raise GenerateError(f"batch date {day} is too far after first_batch_date")
        return n

    def ghost_resident(self, serial: I64) -> I64:
        return RES_CAP - 1 - _ghost(serial)

    def ghost_enterprise(self, serial: I64) -> I64:
        return ENT_CAP - 1 - _ghost(serial)

    def ghost_slot(self, serial: I64) -> I64:
        return FLOAT_CAP // FLOAT_CYCLES - 1 - _ghost(serial)


def _ghost(serial: I64) -> I64:
    """Ghosts come from the top of an index space, out of reach of real entities."""
    serial = np.asarray(serial, dtype=np.int64)
    if serial.size and int(serial.max()) >= GHOST_ROOM:
        raise GenerateError("too many planted rows for the ghost index space")
    return serial


class Chunk:
    """A slice of entities; attributes are computed on first use and can be taken."""

    def __init__(self, world: World, idx: I64) -> None:
        self.w = world
        self.h = world.h
        self.idx = np.asarray(idx, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.idx)

    def take(self, sel: Any) -> Chunk:
        """The rows `sel` (positions or mask), keeping what was already computed."""
        sel = np.flatnonzero(sel) if np.asarray(sel).dtype == bool else np.asarray(sel)
        new = type(self)(self.w, self.idx[sel])
        for name, value in self.__dict__.items():
            if name in ("w", "h", "idx"):
                continue
            taken = _take(value, sel, len(self.idx))
            if taken is not None:
                new.__dict__[name] = taken
        return new


def _take(value: Any, sel: I64, n: int) -> Any:
    if isinstance(value, np.ndarray) and value.shape[:1] == (n,):
        return value[sel]
    if isinstance(value, list) and len(value) == n:
        return [value[i] for i in sel.tolist()]
    if isinstance(value, tuple):
        parts = [_take(v, sel, n) for v in value]
        return None if any(p is None for p in parts) else tuple(parts)
    return None


def birth_and_rank(cum: I64, lo: int, p: I64) -> tuple[I64, I64]:
    slot = np.searchsorted(cum, p, side="right") - 1
    return lo + slot, p - cum[slot]
