"""The synthetic county: residents, enterprises and floating-population slots.

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
from functools import cached_property
from typing import Any

import numpy as np

from pipelines.generate import ids, lexicon
from pipelines.generate.days import NEVER, day_number
from pipelines.generate.hashing import I64, Bool, Hasher, S
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


def _birth_and_rank(cum: I64, lo: int, p: I64) -> tuple[I64, I64]:
    slot = np.searchsorted(cum, p, side="right") - 1
    return lo + slot, p - cum[slot]


class Residents(Chunk):
    """People registered in the county (household registration and what hangs off it)."""

    @cached_property
    def _birth_rank(self) -> tuple[I64, I64]:
        p = (self.idx * _RES_MULT + self.w.res_off) % RES_CAP
        return _birth_and_rank(self.w.res_cum, self.w.res_lo, p)

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
        n = self.w.enterprises
        e1 = _settled(self.w, self.h.below(S.SI_EMPLOYER, self.idx, n))
        e2 = (e1 + 1 + self.h.below(S.SI_EMPLOYER2, self.idx, max(1, n - 1))) % n
        e2 = _settled(self.w, e2)
        moves = self.h.chance(S.SI_EMPLOYER_CHANGE, self.idx, 0.1) & self.si_plan[1]
        day = self.w.ref - 180 + self.h.below(S.SI_EMPLOYER_CHANGE, self.idx, 545, 1)
        return e1, e2, np.where(moves, day, NEVER)


def _settled(world: World, e: I64) -> I64:
    """Employers that already exist at first_batch_date (a few probes forward)."""
    for _ in range(8):
        late = Enterprises(world, e).established >= world.ref
        if not late.any():
            break
        e = np.where(late, (e + 1) % world.enterprises, e)
    return e


class Insurance:
    """Social-insurance records (person, slot) of a resident chunk, with their events."""

    def __init__(self, people: Residents) -> None:
        plan, worker = people.si_plan
        pos, slot = np.nonzero(plan >= 0)
        self.people = people
        self.pos = pos
        self.slot = slot
        self.type = plan[pos, slot]
        self.key = people.idx[pos] * 4 + slot
        h, ref = people.h, people.w.ref
        self.carries = worker[pos] & np.isin(self.type, (110, 310, 410, 210))
        future = h.chance(S.SI_ENROLL_FUTURE, self.key, 0.06)
        enroll = np.where(
            future,
            ref + h.below(S.SI_ENROLL, self.key, 365),
            ref - 1 - h.below(S.SI_ENROLL, self.key, 3650, 1),
        )
        adult_from = people.birth[pos] + np.where(self.type == 390, 1, int(16 * YEAR))
        self.enroll = np.maximum(enroll, adult_from)
        st = h.chance(S.SI_STATUS, self.key, 0.4)
        st_day = np.maximum(ref - 180 + h.below(S.SI_STATUS_DAY, self.key, 545), self.enroll + 1)
        self.status_day = np.where(st, st_day, NEVER)
        self.status_new = np.where(h.chance(S.SI_STATUS_KIND, self.key, 0.6), "2", "3")
        de = h.chance(S.SI_DELETE, self.key, 0.1)
        de_day = np.maximum(ref + h.below(S.SI_DELETE_DAY, self.key, 365), self.enroll + 1)
        self.delete_day = np.where(de, de_day, NEVER)
        self.emp_day = np.where(self.carries, people.employers[2][pos], NEVER)

    def __len__(self) -> int:
        return len(self.key)

    def present(self, day: int) -> Bool:
        return (
            (self.enroll <= day)
            & (day < self.delete_day)
            & self.people.alive_in_register(day)[self.pos]
        )

    def version(self, day: int) -> I64:
        return (self.status_day <= day).astype(np.int64) + (self.emp_day <= day)

    def updated(self, day: int) -> I64:
        last = np.maximum(self.enroll, np.where(self.status_day <= day, self.status_day, 0))
        return np.maximum(last, np.where(self.emp_day <= day, self.emp_day, 0))

    def status(self, day: int) -> list[str]:
        return np.where(self.status_day <= day, self.status_new, "1").tolist()

    def employer(self, day: int) -> I64:
        """Enterprise index, or -1 when the record carries no employer."""
        e1, e2, change = self.people.employers
        e = np.where(change[self.pos] <= day, e2[self.pos], e1[self.pos])
        return np.where(self.carries, e, -1)


class Enterprises(Chunk):
    """Registered enterprises; legal representatives are adult residents."""

    @cached_property
    def kind(self) -> I64:  # 0: company (91), 1: individual business (92), 2: cooperative
        return self.h.pick(S.ENT_KIND, self.idx, (80, 17, 3))

    @cached_property
    def uscc(self) -> list[str]:
        v = (self.idx * _ENT_MULT + self.w.ent_off) % ENT_CAP
        new = self.h.chance(S.ENT_STYLE, self.idx, 0.6)
        return ids.uscc(v, new, self.kind, self.w.places.county)

    @cached_property
    def village(self) -> I64:
        return self.h.pick(S.HOUSEHOLD_VILLAGE, self.idx, self.w.places.village_weights, 9)

    @cached_property
    def town_level(self) -> Bool:
        return self.h.chance(S.TOWN_LEVEL, self.idx, 0.15, 9)

    @cached_property
    def industry(self) -> I64:
        return self.h.below(S.ENT_INDUSTRY, self.idx, len(lexicon.INDUSTRIES))

    @cached_property
    def name(self) -> list[str]:
        b1 = self.h.below(S.ENT_WORD1, self.idx, len(lexicon.BRAND_CHARS))
        b2 = self.h.below(S.ENT_WORD2, self.idx, len(lexicon.BRAND_CHARS))
        towns = self.w.places.town_names[self.w.places.village_town[self.village]].tolist()
        out = []
        for k, x, y, ind, t, e in zip(
            self.kind.tolist(),
            b1.tolist(),
            b2.tolist(),
            self.industry.tolist(),
            towns,
            self.idx.tolist(),
            strict=True,
        ):
            brand = lexicon.BRAND_CHARS[x] + lexicon.BRAND_CHARS[y]
            word = lexicon.INDUSTRIES[ind][0]
            if k == 0:
                out.append(f"嵊州市{brand}{word}{lexicon.FORMS[e % len(lexicon.FORMS)]}")
            elif k == 1:
                form = lexicon.INDIVIDUAL_FORMS[e % len(lexicon.INDIVIDUAL_FORMS)]
                out.append(f"嵊州市{t}{brand}{word}{form}")
            else:
                out.append(f"嵊州市{brand}{'茶叶' if e % 2 else '农产品'}专业合作社")
        return out

    @cached_property
    def industry_code(self) -> list[str]:
        codes = np.array([c for _, c in lexicon.INDUSTRIES])[self.industry]
        return np.where(self.kind == 2, "A0164", codes).tolist()

    @cached_property
    def rep(self) -> Residents:
        """Adult residents: a few probes from a hashed start until one is 20 or older."""
        n = self.w.people
        r = self.h.below(S.ENT_REP, self.idx, n)
        for step in range(1, 9):
            people = Residents(self.w, r)
            young = people.age_ref < 20
            if not young.any():
                break
            r = np.where(young, (r + step * 7919) % n, r)
        return Residents(self.w, r)

    @cached_property
    def capital(self) -> list[str]:
        u = self.h.uniform(S.ENT_CAPITAL, self.idx)
        style = self.h.below(S.ENT_CAPITAL, self.idx, 10, 1)
        value = np.round(10 ** (u * 3.7), 1)
        out = []
        for v, s in zip(value.tolist(), style.tolist(), strict=True):
            if s < 5:
                out.append(f"{v:.2f}")
            elif s < 8 or v < 1:
                out.append(f"{v:.1f}")
            else:
                out.append(str(int(v)))
        return out

    @cached_property
    def established(self) -> I64:
        future = self.h.chance(S.ENT_FUTURE, self.idx, 0.03)
        return np.where(
            future,
            self.w.ref + self.h.below(S.ENT_ESTABLISHED, self.idx, 365, 1),
            self.w.ref - 1 - self.h.below(S.ENT_ESTABLISHED, self.idx, 7300),
        )

    @cached_property
    def status_day(self) -> I64:
        change = self.h.chance(S.ENT_STATUS_DAY, self.idx, 0.08)
        day = self.w.ref - 1095 + self.h.below(S.ENT_STATUS_DAY, self.idx, 1460, 1)
        return np.where(change, np.maximum(day, self.established + 30), NEVER)

    def present(self, day: int) -> Bool:
        return self.established <= day

    def status(self, day: int) -> list[str]:
        base = np.where(self.h.chance(S.ENT_STATUS, self.idx, 0.55), "存续", "在业")
        new = np.array(["吊销", "注销", "迁出"])[self.h.pick(S.ENT_STATUS_NEW, self.idx, (3, 5, 2))]
        return np.where(self.status_day <= day, new, base).tolist()

    def updated(self, day: int) -> I64:
        return np.maximum(self.established, np.where(self.status_day <= day, self.status_day, 0))

    @cached_property
    def division(self) -> list[str]:
        return self.w.places.divisions(self.village, self.town_level)

    @cached_property
    def address(self) -> list[str]:
        return self.w.places.addresses(self.h, self.idx, self.village, self.town_level, 9)


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
        return _birth_and_rank(self.w.flo_cum, self.w.flo_lo, p)

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
