"""The floating population: slots of the county that people move through, cycle by cycle."""

from __future__ import annotations

import datetime as dt
from functools import cached_property

import numpy as np

from huiliu_dev.generate import ids, lexicon
from huiliu_dev.generate.days import NEVER, day_number
from huiliu_dev.generate.enterprises import Enterprises
from huiliu_dev.generate.hashing import I64, Bool, S
from huiliu_dev.generate.world import (
    _FLOAT_MULT,
    FLOAT_CAP,
    FLOAT_CYCLES,
    FLOAT_MIN_PERIOD,
    Chunk,
    World,
    birth_and_rank,
    make_names,
)


class FloatingSlots:
    """Slots of the floating population: each slot hosts a succession of stays.

    A slot has a period P and a phase; cycle c of the slot is one stay of one person
    (identity q = slot * 64 + c + 2), who registers a few days after the cycle starts
    and is deregistered when it ends. So the population keeps turning over at any date.
    """

    def __init__(self, world: World, slots: I64) -> None:
        h = world.h
        self.w = world
        self.slot = np.asarray(slots, dtype=np.int64)
        self.period = FLOAT_MIN_PERIOD + h.below(S.FLOAT_PERIOD, self.slot, 400)
        self.phase = h.below(S.FLOAT_PHASE, self.slot, self.period)

    def cycle(self, day: int) -> I64:
        return np.floor_divide(day - self.w.ref + self.phase, self.period)

    def person(self, day: int) -> I64:
        return self.slot * FLOAT_CYCLES + self.cycle(day) + 2


class Floating(Chunk):
    """Floating persons, indexed by q = slot * 64 + cycle + 2 (see FloatingSlots)."""

    @cached_property
    def _slots(self) -> FloatingSlots:
        return FloatingSlots(self.w, self.idx // FLOAT_CYCLES)

    @cached_property
    def cycle_start(self) -> I64:
        s = self._slots
        return self.w.ref - s.phase + (self.idx % FLOAT_CYCLES - 2) * s.period

    @cached_property
    def registered(self) -> I64:
        gap = np.floor(self.h.uniform(S.FLOAT_GAP, self.idx) * 0.25 * self._slots.period)
        return self.cycle_start + gap.astype(np.int64)

    @cached_property
    def move_day(self) -> I64:
        end = self.cycle_start + self._slots.period
        span = np.maximum(1, end - self.registered - 2)
        day = self.registered + 1 + self.h.below(S.FLOAT_MOVE_DAY, self.idx, span)
        return np.where(self.h.chance(S.FLOAT_MOVE, self.idx, 0.4), day, NEVER)

    def present(self, day: int) -> Bool:
        return self.registered <= day

    def version(self, day: int) -> I64:
        return (self.move_day <= day).astype(np.int64)

    def updated(self, day: int) -> I64:
        return np.maximum(self.registered, np.where(self.move_day <= day, self.move_day, 0))

    @cached_property
    def _birth_rank(self) -> tuple[I64, I64]:
        p = (self.idx * _FLOAT_MULT + self.w.flo_off) % FLOAT_CAP
        return birth_and_rank(self.w.flo_cum, self.w.flo_lo, p)

    @cached_property
    def birth(self) -> I64:
        return self._birth_rank[0]

    @cached_property
    def male(self) -> Bool:
        return self.h.chance(S.GENDER, self.idx, 0.55, 5)

    @cached_property
    def prefix(self) -> list[str]:
        k = self._birth_rank[1]
        return np.array(lexicon.FLOAT_PREFIXES)[k % len(lexicon.FLOAT_PREFIXES)].tolist()

    @cached_property
    def _ids(self) -> tuple[list[str], list[str]]:
        k = self._birth_rank[1]
        seq = 2 * (k // len(lexicon.FLOAT_PREFIXES)) + self.male
        prefix = np.array([int(p) for p in self.prefix])
        return ids.id18(ids.id_bodies(prefix, self.birth, seq))

    @property
    def id18(self) -> list[str]:
        return self._ids[0]

    @property
    def id15(self) -> list[str]:
        return self._ids[1]

    @cached_property
    def born_1900s(self) -> Bool:
        return self.birth < day_number(dt.date(2000, 1, 1))

    @cached_property
    def name(self) -> list[str]:
        xinjiang = np.array([p.startswith("65") for p in self.prefix])
        return make_names(self.h, self.idx, self.male, 3, np.where(xinjiang, 0.5, 0.003))

    @cached_property
    def phone(self) -> I64:
        b = self.h.bits(S.PHONE1, self.idx, 3)
        return ids.mobiles(
            (b % np.uint64(len(ids.MOBILE_PREFIXES))).astype(np.int64),
            (b >> np.uint64(8)).astype(np.int64) & 0xFFFFFFFF,
        )

    @cached_property
    def villages(self) -> tuple[I64, I64]:
        weights = self.w.places.village_weights
        v1 = self.h.pick(S.HOUSEHOLD_VILLAGE, self.idx, weights, 3)
        v2 = self.h.pick(S.FLOAT_VILLAGE2, self.idx, weights)
        return v1, np.where(v2 == v1, (v1 + 1) % len(weights), v2)

    @cached_property
    def town_level(self) -> Bool:
        return self.h.chance(S.TOWN_LEVEL, self.idx, 0.01, 3)

    def village_at(self, day: int) -> I64:
        v1, v2 = self.villages
        return np.where(self.move_day <= day, v2, v1)

    def residence(self, day: int) -> tuple[list[str], list[str]]:
        """(division codes, addresses) at `day`: a move changes both."""
        village = self.village_at(day)
        moved = (self.move_day <= day).astype(np.int64)
        rooms = 101 + self.h.below(S.FLOAT_ROOM, self.idx, 600, moved)
        suffix = [f"{r}室" for r in rooms.tolist()]
        places = self.w.places
        addr = places.addresses(self.h, self.idx * 2 + moved, village, self.town_level, 3, suffix)
        return places.divisions(village, self.town_level), addr

    @cached_property
    def employer(self) -> list[str]:
        kind = self.h.below(S.FLOAT_EMPLOYER, self.idx, 100)
        ent = Enterprises(self.w, self.h.below(S.FLOAT_EMPLOYER, self.idx, self.w.enterprises, 1))
        names = ent.name
        free = lexicon.FLOAT_EMPLOYERS_FREE
        return [
            n if k < 55 else (free[k % len(free)] if k < 80 else "")
            for k, n in zip(kind.tolist(), names, strict=True)
        ]
