"""From entities to rows: one builder per dataset of the contract.

A snapshot dataset writes the state at D. A delta dataset writes the difference between
the states at D-1 and D (I for a key that appears, U for one whose content changed, D
for one that goes), or the whole state as I rows on first_batch_date. Since each key
changes at most once between two days, folding the deltas in date order always gives
the state, whatever order rows have inside a file.

Builders return columns in the contract's column order; the writer reorders them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from pipelines.contract import DATASETS
from pipelines.generate import days as dd
from pipelines.generate import ids
from pipelines.generate.hashing import I64, Bool, S
from pipelines.generate.messiness import remarks, render_ids, render_names, render_phones
from pipelines.generate.population import (
    Enterprises,
    Floating,
    FloatingSlots,
    Insurance,
    Residents,
    World,
)

# Rendering salts: one per dataset, so a person's mess differs between datasets.
_SALT = {
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


def _stamps(world: World, key: I64, day_arr: I64, stream: S = S.TIME_OF_DAY) -> list[str]:
    bits = world.h.bits(stream, key, day_arr)
    return dd.stamps(day_arr, dd.office_seconds(bits))


def _op_stamps(world: World, key: I64, day: int) -> list[str]:
    day_arr = np.full(len(key), day, dtype=np.int64)
    return _stamps(world, key, day_arr, S.OP_TIME)


def _id_text(c: Residents | Floating, dataset: str) -> list[str]:
    return render_ids(c.h, c.idx, _SALT[dataset], c.id18, c.id15, c.born_1900s)


def _name_text(c: Residents | Floating, dataset: str) -> list[str]:
    return render_names(c.h, c.idx, _SALT[dataset], c.name)


# --- household_registration (snapshot) ------------------------------------------------


def household_rows(c: Residents, day: int, updated: list[str]) -> Block:
    ds = "household_registration"
    cols = [
        _id_text(c, ds),
        _name_text(c, ds),
        c.gender,
        dd.iso(c.birth),
        c.ethnicity,
        c.household_id,
        c.relation,
        c.address,
        c.division,
        render_phones(c.h, c.idx, _SALT[ds], c.phone_at(day)),
        updated,
    ]
    return Block(ds, cols, list(c.division))


def household(c: Residents, day: int) -> Emitted:
    sub = c.take(c.alive_in_register(day))
    upd = sub.household_updated(day)
    return Emitted(household_rows(sub, day, _stamps(c.w, sub.idx, upd)))


def household_ghosts(world: World, day: int, serials: I64) -> Block:
    c = Residents(world, world.ghost_resident(serials))
    return household_rows(c, day, _op_stamps(world, c.idx, day))


# --- disability_certificates (snapshot) -----------------------------------------------


def disability_rows(c: Residents, updated: list[str]) -> Block:
    ds = "disability_certificates"
    kind = c.disability_type.astype(str).tolist()
    grade = c.disability_grade.astype(str).tolist()
    cert = [f"{i}{k}{g}" for i, k, g in zip(c.id18, kind, grade, strict=True)]
    g_names, g_phones = c.guardian
    cols = [
        cert,
        _id_text(c, ds),
        _name_text(c, ds),
        kind,
        grade,
        g_names,
        render_phones(c.h, c.idx, _SALT[ds], g_phones),
        c.division,
        dd.iso(c.disability_issued),
        updated,
    ]
    return Block(ds, cols, list(c.division))


def disability(c: Residents, day: int) -> Emitted:
    sub = c.take(c.disability_present(day))
    return Emitted(disability_rows(sub, _stamps(c.w, sub.idx, sub.disability_issued)))


def disability_ghosts(world: World, day: int, serials: I64) -> Block:
    c = Residents(world, world.ghost_resident(serials))
    return disability_rows(c, _op_stamps(world, c.idx, day))


# --- elderly_subsidy (snapshot) ---------------------------------------------------------


def _ages(birth: I64, at: I64) -> I64:
    """Completed years at the days `at` (the birthday counts on its own date)."""
    by, bm, bd = dd.ymd(birth)
    y, m, d = dd.ymd(at)
    return y - by - ((m < bm) | ((m == bm) & (d < bd)))


def _month_days(months: I64, last: bool) -> I64:
    first = np.asarray(months, dtype=np.int64).astype("datetime64[M]")
    if last:
        first = first + 1
    return first.astype("datetime64[D]").astype(np.int64) - (1 if last else 0)


def subsidy_rows(c: Residents, months: I64, updated: list[str] | None = None) -> Block:
    """One row per (person, month); months[i] is the month index of row i."""
    ds = "elderly_subsidy"
    ages = _ages(c.birth, _month_days(months, last=True))
    base = np.where(ages >= 100, 500, np.where(ages >= 90, 200, 100))
    style = c.h.below(S.AMOUNT_STYLE, c.idx, 20).tolist()
    amount = [
        f"{b}.00" if s < 16 else (str(b) if s < 19 else f"{b}.0")
        for b, s in zip(base.tolist(), style, strict=True)
    ]
    bank = ids.bank_accounts(c.h.bits(S.BANK, c.idx), 16 + c.h.below(S.BANK_LEN, c.idx, 4))
    paid = _month_days(months, last=False)
    if updated is None:
        updated = _stamps(c.w, c.idx * 16 + months % 16, paid)
    cols = [
        _id_text(c, ds),
        _name_text(c, ds),
        [dd.period_text(int(m)) for m in months.tolist()],
        amount,
        bank,
        c.division,
        dd.iso(paid),
        updated,
    ]
    return Block(ds, cols, list(c.division))


def subsidy(c: Residents, day: int) -> Emitted:
    """Periods: the three months up to D's month, for residents aged 80 by month end."""
    month = int(dd.month_index(np.array([day]))[0])
    alive = c.alive_in_register(day)
    months = np.array([month - 2, month - 1, month], dtype=np.int64)
    ages = _ages(c.birth[:, None], _month_days(months, last=True)[None, :])
    pos, j = np.nonzero(alive[:, None] & (ages >= 80))
    return Emitted(subsidy_rows(c.take(pos), months[j]))


def subsidy_ghosts(world: World, day: int, serials: I64) -> Block:
    c = Residents(world, world.ghost_resident(serials))
    month = int(dd.month_index(np.array([day]))[0])
    return subsidy_rows(c, np.full(len(c), month, dtype=np.int64), _op_stamps(world, c.idx, day))


# --- social_insurance (delta) -----------------------------------------------------------


def _delta_masks(p0: Bool, p1: Bool, v0: I64, v1: I64) -> tuple[Bool, Bool, Bool]:
    return ~p0 & p1, p0 & p1 & (v0 != v1), p0 & ~p1


def insurance_rows(
    people: Residents,
    types: I64,
    status: list[str],
    employer: I64,
    enroll: I64,
    ops: list[str],
    updated: list[str],
) -> Block:
    ds = "social_insurance"
    has = employer >= 0
    usccs = Enterprises(people.w, np.where(has, employer, 0)).uscc if len(people) else []
    cols = [
        ops,
        _id_text(people, ds),
        _name_text(people, ds),
        types.astype(str).tolist(),
        status,
        [u if e else "" for u, e in zip(usccs, has.tolist(), strict=True)],
        dd.iso(enroll),
        people.division,
        updated,
    ]
    return Block(ds, cols, list(people.division))


def _insurance_part(
    ins: Insurance, sel: Bool, day: int, ops: list[str], updated: list[str]
) -> Block:
    idx = np.flatnonzero(sel)
    status = ins.status(day)
    return insurance_rows(
        ins.people.take(ins.pos[idx]),
        ins.type[idx],
        [status[i] for i in idx.tolist()],
        ins.employer(day)[idx],
        ins.enroll[idx],
        ops,
        updated,
    )


def insurance(c: Residents, day: int, first: bool) -> Emitted:
    ins = Insurance(c)
    p1 = ins.present(day)
    state = Counter(np.asarray(c.division, dtype=object)[ins.pos[p1]].tolist())
    if first:
        upd = ins.updated(day)[p1]
        block = _insurance_part(ins, p1, day, ["I"] * int(p1.sum()), _stamps(c.w, ins.key[p1], upd))
        return Emitted(block, state)
    p0 = ins.present(day - 1)
    new, changed, gone = _delta_masks(p0, p1, ins.version(day - 1), ins.version(day))
    now = new | changed
    ops = np.where(new, "I", "U")[now].tolist()
    block = _insurance_part(ins, now, day, ops, _op_stamps(c.w, ins.key[now], day))
    block.extend(
        _insurance_part(
            ins, gone, day - 1, ["D"] * int(gone.sum()), _op_stamps(c.w, ins.key[gone], day)
        )
    )
    return Emitted(block, state)


def insurance_ghosts(world: World, day: int, serials: I64) -> Block:
    c = Residents(world, world.ghost_resident(serials))
    ins = Insurance(c)
    first = np.flatnonzero(ins.slot == 0)  # every plan has a first type
    return insurance_rows(
        c,
        ins.type[first],
        ["1"] * len(c),
        ins.employer(day)[first],
        ins.enroll[first],
        ["I"] * len(c),
        _op_stamps(world, c.idx, day),
    )


# --- death_records (delta) --------------------------------------------------------------


def death_rows(c: Residents, day: int, died: I64, ops: list[str], updated: list[str]) -> Block:
    ds = "death_records"
    cols = [
        ops,
        _id_text(c, ds),
        _name_text(c, ds),
        dd.iso(died),
        c.division,
        c.source_org(day),
        updated,
    ]
    return Block(ds, cols, list(c.division))


def deaths(c: Residents, day: int, first: bool) -> Emitted:
    dying = c.take(c.report_day <= day)  # anyone the register knows by D
    p1 = dying.death_present(day)
    state = Counter(np.asarray(dying.division, dtype=object)[p1].tolist())
    if first:
        sub = dying.take(p1)
        last = np.where(sub.death_correction_day <= day, sub.death_correction_day, sub.report_day)
        return Emitted(
            death_rows(sub, day, sub.death_day, ["I"] * len(sub), _stamps(c.w, sub.idx, last)),
            state,
        )
    p0 = dying.death_present(day - 1)
    new, changed, gone = _delta_masks(
        p0, p1, dying.death_version(day - 1), dying.death_version(day)
    )
    now = dying.take(new | changed)
    ops = np.where(new, "I", "U")[new | changed].tolist()
    block = death_rows(now, day, now.death_day, ops, _op_stamps(c.w, now.idx, day))
    old = dying.take(gone)
    block.extend(
        death_rows(old, day - 1, old.death_day, ["D"] * len(old), _op_stamps(c.w, old.idx, day))
    )
    return Emitted(block, state)


def death_ghosts(world: World, day: int, serials: I64) -> Block:
    c = Residents(world, world.ghost_resident(serials))
    died = np.full(len(c), day - 1, dtype=np.int64)
    return death_rows(c, day, died, ["I"] * len(c), _op_stamps(world, c.idx, day))


# --- enterprise_registry (snapshot) -----------------------------------------------------


def enterprise_rows(c: Enterprises, day: int, updated: list[str]) -> Block:
    ds = "enterprise_registry"
    rep = c.rep
    cols = [
        c.uscc,
        c.name,
        render_names(c.h, c.idx, _SALT[ds], rep.name),
        render_ids(c.h, c.idx, _SALT[ds], rep.id18, rep.id15, rep.born_1900s),
        render_phones(c.h, c.idx, _SALT[ds], rep.phones[0]),
        c.capital,
        c.industry_code,
        c.status(day),
        dd.iso(c.established),
        c.address,
        c.division,
        updated,
    ]
    return Block(ds, cols, list(c.division))


def enterprises(c: Enterprises, day: int) -> Emitted:
    sub = c.take(c.present(day))
    return Emitted(enterprise_rows(sub, day, _stamps(c.w, sub.idx, sub.updated(day))))


def enterprise_ghosts(world: World, day: int, serials: I64) -> Block:
    c = Enterprises(world, world.ghost_enterprise(serials))
    return enterprise_rows(c, day, _op_stamps(world, c.idx, day))


# --- floating_population (delta) --------------------------------------------------------


def floating_rows(c: Floating, day: int, ops: list[str], updated: list[str]) -> Block:
    ds = "floating_population"
    h, w = c.h, c.w
    division, address = c.residence(day)
    phones = render_phones(h, c.idx, _SALT[ds], c.phone)
    contact = Residents(w, h.below(S.FLOAT_REMARK, c.idx, w.people, 1))
    other = Floating(w, c.idx ^ 1)
    note = remarks(
        h,
        c.idx,
        contact.name,
        render_phones(h, c.idx, 99, contact.phones[0]),
        other.id18,
        c.employer,
    )
    cols = [
        ops,
        _id_text(c, ds),
        _name_text(c, ds),
        phones,
        c.prefix,
        address,
        division,
        dd.iso(c.registered),
        c.employer,
        note,
        updated,
    ]
    return Block(ds, cols, division)


def floating(slots: FloatingSlots, day: int, first: bool) -> Emitted:
    w = slots.w
    now = Floating(w, slots.person(day))
    p1 = now.present(day)
    state = Counter(np.asarray(now.residence(day)[0], dtype=object)[p1].tolist())
    if first:
        sub = now.take(p1)
        return Emitted(
            floating_rows(sub, day, ["I"] * len(sub), _stamps(w, sub.idx, sub.updated(day))), state
        )
    before = Floating(w, slots.person(day - 1))
    same = before.idx == now.idx
    p0 = before.present(day - 1)
    v0, v1 = before.version(day - 1), now.version(day)
    new = p1 & ~(same & p0)
    changed = same & p0 & p1 & (v0 != v1)
    gone = p0 & ~(same & p1)
    sub = now.take(new | changed)
    ops = np.where(new, "I", "U")[new | changed].tolist()
    block = floating_rows(sub, day, ops, _op_stamps(w, sub.idx, day))
    old = before.take(gone)
    block.extend(floating_rows(old, day - 1, ["D"] * len(old), _op_stamps(w, old.idx, day)))
    return Emitted(block, state)


def floating_ghosts(world: World, day: int, serials: I64) -> Block:
    c = Floating(world, FloatingSlots(world, world.ghost_slot(serials)).person(day))
    return floating_rows(c, day, ["I"] * len(c), _op_stamps(world, c.idx, day))


GHOSTS = {
    "household_registration": household_ghosts,
    "disability_certificates": disability_ghosts,
    "elderly_subsidy": subsidy_ghosts,
    "social_insurance": insurance_ghosts,
    "death_records": death_ghosts,
    "enterprise_registry": enterprise_ghosts,
    "floating_population": floating_ghosts,
}
