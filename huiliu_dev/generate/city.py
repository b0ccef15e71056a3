"""The city's datasets: elderly subsidy, death records, the floating population.

A snapshot dataset writes the state at D; a delta dataset the difference between the states
at D-1 and D (I, U, D), or the whole state as I rows on first_batch_date.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from huiliu_dev.generate import days as dd
from huiliu_dev.generate import ids
from huiliu_dev.generate.floating import Floating, FloatingSlots
from huiliu_dev.generate.hashing import I64, S
from huiliu_dev.generate.messiness import remarks, render_phones
from huiliu_dev.generate.residents import Residents
from huiliu_dev.generate.rows import SALT, Block, Emitted, delta_masks, id_text, name_text, op_stamps, stamps
from huiliu_dev.generate.world import World

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
        updated = stamps(c.w, c.idx * 16 + months % 16, paid)
    cols = [
        id_text(c, ds),
        name_text(c, ds),
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
    return subsidy_rows(c, np.full(len(c), month, dtype=np.int64), op_stamps(world, c.idx, day))


# --- death_records (delta) --------------------------------------------------------------


def death_rows(c: Residents, day: int, died: I64, ops: list[str], updated: list[str]) -> Block:
    ds = "death_records"
    cols = [
        ops,
        id_text(c, ds),
        name_text(c, ds),
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
            death_rows(sub, day, sub.death_day, ["I"] * len(sub), stamps(c.w, sub.idx, last)),
            state,
        )
    p0 = dying.death_present(day - 1)
    new, changed, gone = delta_masks(
        p0, p1, dying.death_version(day - 1), dying.death_version(day)
    )
    now = dying.take(new | changed)
    ops = np.where(new, "I", "U")[new | changed].tolist()
    block = death_rows(now, day, now.death_day, ops, op_stamps(c.w, now.idx, day))
    old = dying.take(gone)
    block.extend(
        death_rows(old, day - 1, old.death_day, ["D"] * len(old), op_stamps(c.w, old.idx, day))
    )
    return Emitted(block, state)


def death_ghosts(world: World, day: int, serials: I64) -> Block:
    c = Residents(world, world.ghost_resident(serials))
    died = np.full(len(c), day - 1, dtype=np.int64)
    return death_rows(c, day, died, ["I"] * len(c), op_stamps(world, c.idx, day))


# --- floating_population (delta) --------------------------------------------------------


def floating_rows(c: Floating, day: int, ops: list[str], updated: list[str]) -> Block:
    ds = "floating_population"
    h, w = c.h, c.w
    division, address = c.residence(day)
    phones = render_phones(h, c.idx, SALT[ds], c.phone)
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
        id_text(c, ds),
        name_text(c, ds),
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
            floating_rows(sub, day, ["I"] * len(sub), stamps(w, sub.idx, sub.updated(day))), state
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
    block = floating_rows(sub, day, ops, op_stamps(w, sub.idx, day))
    old = before.take(gone)
    block.extend(floating_rows(old, day - 1, ["D"] * len(old), op_stamps(w, old.idx, day)))
    return Emitted(block, state)


def floating_ghosts(world: World, day: int, serials: I64) -> Block:
    c = Floating(world, FloatingSlots(world, world.ghost_slot(serials)).person(day))
    return floating_rows(c, day, ["I"] * len(c), op_stamps(world, c.idx, day))
