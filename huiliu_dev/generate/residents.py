"""Registered residents: one chunk of the county's people, with every event of their lives as a day."""

from __future__ import annotations

import datetime as dt
from functools import cached_property

import numpy as np

from huiliu_dev.generate import ids, lexicon
from huiliu_dev.generate.days import NEVER, day_number
from huiliu_dev.generate.hashing import I64, Bool, S
from huiliu_dev.generate.world import (
    _RES_MULT,
    DEATH_RETAIN,
    DEATH_WINDOW,
    RES_CAP,
    YEAR,
    Chunk,
    birth_and_rank,
    make_names,
)


class Residents(Chunk):
    """People registered in the county (household registration and what hangs off it)."""

    @cached_property
    def _birth_rank(self) -> tuple[I64, I64]:
        p = (self.idx * _RES_MULT + self.w.res_off) % RES_CAP
        return birth_and_rank(self.w.res_cum, self.w.res_lo, p)

    @cached_property
    def birth(self) -> I64:
        return self._birth_rank[0]

    @cached_property
    def male(self) -> Bool:
        return self.h.chance(S.GENDER, self.idx, 0.5)

    @cached_property
    def gender(self) -> list[str]:
        return np.where(self.male, "1", "2").tolist()

    @cached_property
    def _ids(self) -> tuple[list[str], list[str]]:
        k = self._birth_rank[1]
        prefix = np.array([int(p) for p in lexicon.RESIDENT_PREFIXES])[k // 500]
        seq = 2 * (k % 500) + self.male
        return ids.id18(ids.id_bodies(prefix, self.birth, seq))

    @property
    def id18(self) -> list[str]:
        return self._ids[0]

    @property
    def id15(self) -> list[str]:
        return self._ids[1]

    @cached_property
    def born_1900s(self) -> Bool:
        return (self.birth >= day_number(dt.date(1900, 1, 1))) & (
            self.birth < day_number(dt.date(2000, 1, 1))
        )

    @cached_property
    def age_ref(self) -> np.ndarray:
        return (self.w.ref - self.birth) / YEAR

    @cached_property
    def household(self) -> I64:
        return self.idx // 4

    @cached_property
    def relation(self) -> list[str]:
        pos = self.idx % 4
        child = np.where(self.male, "20", "30")
        return np.where(pos == 0, "02", np.where(pos == 1, "10", child)).tolist()

    @cached_property
    def village(self) -> I64:
        return self.h.pick(S.HOUSEHOLD_VILLAGE, self.household, self.w.places.village_weights)

    @cached_property
    def town_level(self) -> Bool:
        return self.h.chance(S.TOWN_LEVEL, self.household, 0.01)

    @cached_property
    def division(self) -> list[str]:
        return self.w.places.divisions(self.village, self.town_level)

    @cached_property
    def address(self) -> list[str]:
        return self.w.places.addresses(self.h, self.household, self.village, self.town_level, 1)

    @cached_property
    def name(self) -> list[str]:
        return make_names(self.h, self.idx, self.male, 1)

    @cached_property
    def ethnicity(self) -> list[str]:
        pick = self.h.pick(S.ETHNICITY, self.idx, lexicon.ETHNICITY_WEIGHTS)
        eth = np.array(lexicon.ETHNICITIES)[pick]
        dotted = np.array(["·" in n for n in self.name], dtype=bool)
        return np.where(dotted, "05", eth).tolist()

    @cached_property
    def household_id(self) -> list[str]:
        county = self.w.places.county
        return [f"{county}{h:08d}" for h in self.household.tolist()]

    @cached_property
    def phones(self) -> tuple[I64, I64, I64]:
        """(first mobile or 0, second mobile, day the second replaces the first)."""
        has = (self.age_ref >= 14) & self.h.chance(S.PHONE_HAS, self.idx, 0.93)
        n = len(ids.MOBILE_PREFIXES)
        b1, b2 = self.h.bits(S.PHONE1, self.idx), self.h.bits(S.PHONE2, self.idx)
        p1 = ids.mobiles(
            (b1 % np.uint64(n)).astype(np.int64), (b1 >> np.uint64(8)).astype(np.int64) & 0xFFFFFFFF
        )
        p2 = ids.mobiles(
            (b2 % np.uint64(n)).astype(np.int64), (b2 >> np.uint64(8)).astype(np.int64) & 0xFFFFFFFF
        )
        u = self.h.uniform(S.PHONE_CHANGE, self.idx)
        change = self.w.ref - 200 + np.floor(-np.log1p(-u) * 3650).astype(np.int64)
        change = np.where(has, change, NEVER)
        return np.where(has, p1, 0), np.where(has, p2, 0), change

    def phone_at(self, day: int) -> I64:
        p1, p2, change = self.phones
        return np.where(change <= day, p2, p1)

    @cached_property
    def base_update(self) -> I64:
        back = self.h.below(S.BASE_UPDATE, self.idx, 2000)
        return np.maximum(self.birth + 1, self.w.ref - 1 - back)

    def household_updated(self, day: int) -> I64:
        change = self.phones[2]
        return np.maximum(self.base_update, np.where(change <= day, change, 0))

    @cached_property
    def death_day(self) -> I64:
        """Gompertz hazard (raised for a lively demo): deaths are mostly the old."""
        per_year = np.minimum(0.9, 0.0012 * np.exp(0.1 * (self.age_ref - 30)))
        u = self.h.uniform(S.DEATH, self.idx)
        wait = -np.log1p(-u) / (per_year / YEAR)
        start = self.w.ref - DEATH_WINDOW
        return np.where(wait < NEVER, start + np.minimum(wait, NEVER).astype(np.int64), NEVER)

    @cached_property
    def report_day(self) -> I64:
        delay = self.h.below(S.REPORT_DELAY, self.idx, 4)
        return np.where(self.death_day < NEVER, self.death_day + delay, NEVER)

    def alive_in_register(self, day: int) -> Bool:
        """In household registration at `day`: a death leaves it once reported."""
        return self.report_day > day

    # --- deaths register ---------------------------------------------------------------

    @cached_property
    def death_correction_day(self) -> I64:
        fix = self.h.chance(S.DEATH_CORRECTION, self.idx, 0.15)
        later = 1 + self.h.below(S.DEATH_CORRECTION_DAY, self.idx, 10)
        return np.where(fix & (self.report_day < NEVER), self.report_day + later, NEVER)

    def death_present(self, day: int) -> Bool:
        return (self.report_day <= day) & (day < self.report_day + DEATH_RETAIN)

    def death_version(self, day: int) -> I64:
        return (self.death_correction_day <= day).astype(np.int64)

    def source_org(self, day: int) -> list[str]:
        kind = self.h.below(S.SOURCE_ORG, self.idx, 10)
        fixed = self.death_correction_day <= day
        towns = self.w.places.town_names[self.w.places.village_town[self.village]].tolist()
        vills = self.w.places.village_names[self.village].tolist()
        out = []
        for k, f, t, v in zip(kind.tolist(), fixed.tolist(), towns, vills, strict=True):
            k = (k + 3) % 10 if f else k
            if k < 5:
                out.append(lexicon.HOSPITALS[k % len(lexicon.HOSPITALS)])
            elif k < 8:
                out.append(f"嵊州市公安局{t}派出所")
            else:
                out.append(f"{t}{v}")
        return out

    # --- disability ----------------------------------------------------------------------

    @cached_property
    def disabled(self) -> Bool:
        p = 0.045 + 0.03 * (self.age_ref >= 60)
        return self.h.chance(S.DISABLED, self.idx, p)

    @cached_property
    def disability_type(self) -> I64:
        return 1 + self.h.pick(S.DISABILITY_TYPE, self.idx, (12, 20, 2, 45, 8, 8, 5))

    @cached_property
    def disability_grade(self) -> I64:
        return 1 + self.h.pick(S.DISABILITY_GRADE, self.idx, (10, 20, 35, 35))

    @cached_property
    def disability_issued(self) -> I64:
        future = self.h.chance(S.DISABILITY_ISSUED, self.idx, 0.04, 1)
        back = self.h.below(S.DISABILITY_ISSUED, self.idx, 3650)
        ahead = self.h.below(S.DISABILITY_ISSUED, self.idx, 730, 2)
        day = np.where(future, self.w.ref + ahead, self.w.ref - 1 - back)
        return np.maximum(day, self.birth + 30)

    def disability_present(self, day: int) -> Bool:
        return self.disabled & (self.disability_issued <= day) & self.alive_in_register(day)

    @cached_property
    def guardian(self) -> tuple[list[str], I64]:
        need = (self.disability_grade <= 2) | (self.age_ref < 18)
        names = make_names(self.h, self.idx, self.h.chance(S.GUARDIAN, self.idx, 0.5), 7)
        _, p2, _ = self.phones
        b = self.h.bits(S.GUARDIAN, self.idx, 3)
        phone = ids.mobiles(
            (b % np.uint64(len(ids.MOBILE_PREFIXES))).astype(np.int64),
            (b >> np.uint64(9)).astype(np.int64) & 0xFFFFFFFF,
        )
        phone = np.where(need & self.h.chance(S.GUARDIAN, self.idx, 0.85, 4), phone, 0)
        return [n if w else "" for n, w in zip(names, need.tolist(), strict=True)], phone

    # --- social insurance ------------------------------------------------------------------

    @cached_property
    def si_plan(self) -> tuple[I64, Bool]:
        """(n, 3) insurance types per person (-1: none), and who is an employee."""
        age = self.age_ref
        worker = (age >= 18) & (age < 60) & self.h.chance(S.SI_PLAN, self.idx, 0.6)
        retired = (age >= 60) & self.h.chance(S.SI_PLAN, self.idx, 0.4, 1)
        extra = self.h.pick(S.SI_EXTRA, self.idx, (50, 25, 25))
        plan = np.full((len(self), 3), -1, dtype=np.int64)
        plan[:, 0] = np.where(worker | retired, 110, np.where(age < 18, 390, 120))
        plan[:, 1] = np.where(worker | retired, 310, np.where(age < 18, -1, 390))
        plan[:, 2] = np.where(worker, np.array([410, 210, -1])[extra], -1)
        return plan, worker

    @cached_property
    def employers(self) -> tuple[I64, I64, I64]:
        """(first employer, second employer, day of the change) as enterprise indices."""
        from huiliu_dev.generate.enterprises import settled  # enterprises.py imports this module

        n = self.w.enterprises
        e1 = settled(self.w, self.h.below(S.SI_EMPLOYER, self.idx, n))
        e2 = (e1 + 1 + self.h.below(S.SI_EMPLOYER2, self.idx, max(1, n - 1))) % n
        e2 = settled(self.w, e2)
        moves = self.h.chance(S.SI_EMPLOYER_CHANGE, self.idx, 0.1) & self.si_plan[1]
        day = self.w.ref - 180 + self.h.below(S.SI_EMPLOYER_CHANGE, self.idx, 545, 1)
        return e1, e2, np.where(moves, day, NEVER)
