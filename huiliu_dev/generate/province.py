"""The province's datasets: household registration, disability, social insurance, enterprises.

A snapshot dataset writes the state at D; a delta dataset the difference between the states
at D-1 and D (I, U, D), or the whole state as I rows on first_batch_date.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from huiliu_dev.generate import days as dd
from huiliu_dev.generate.enterprises import Enterprises
from huiliu_dev.generate.hashing import I64, Bool
from huiliu_dev.generate.insurance import Insurance
from huiliu_dev.generate.messiness import render_ids, render_names, render_phones
from huiliu_dev.generate.residents import Residents
from huiliu_dev.generate.rows import SALT, Block, Emitted, delta_masks, id_text, name_text, op_stamps, stamps
from huiliu_dev.generate.world import World

# --- household_registration (snapshot) ------------------------------------------------


def household_rows(c: Residents, day: int, updated: list[str]) -> Block:
    ds = "household_registration"
    cols = [
        id_text(c, ds),
        name_text(c, ds),
        c.gender,
        dd.iso(c.birth),
        c.ethnicity,
        c.household_id,
        c.relation,
        c.address,
        c.division,
        render_phones(c.h, c.idx, SALT[ds], c.phone_at(day)),
        updated,
    ]
    return Block(ds, cols, list(c.division))


def household(c: Residents, day: int) -> Emitted:
    sub = c.take(c.alive_in_register(day))
    upd = sub.household_updated(day)
    return Emitted(household_rows(sub, day, stamps(c.w, sub.idx, upd)))


def household_ghosts(world: World, day: int, serials: I64) -> Block:
    c = Residents(world, world.ghost_resident(serials))
    return household_rows(c, day, op_stamps(world, c.idx, day))


# --- disability_certificates (snapshot) -----------------------------------------------


def disability_rows(c: Residents, updated: list[str]) -> Block:
    ds = "disability_certificates"
    kind = c.disability_type.astype(str).tolist()
    grade = c.disability_grade.astype(str).tolist()
    cert = [f"{i}{k}{g}" for i, k, g in zip(c.id18, kind, grade, strict=True)]
    g_names, g_phones = c.guardian
    cols = [
        cert,
        id_text(c, ds),
        name_text(c, ds),
        kind,
        grade,
        g_names,
        render_phones(c.h, c.idx, SALT[ds], g_phones),
        c.division,
        dd.iso(c.disability_issued),
        updated,
    ]
    return Block(ds, cols, list(c.division))


def disability(c: Residents, day: int) -> Emitted:
    sub = c.take(c.disability_present(day))
    return Emitted(disability_rows(sub, stamps(c.w, sub.idx, sub.disability_issued)))


def disability_ghosts(world: World, day: int, serials: I64) -> Block:
    c = Residents(world, world.ghost_resident(serials))
    return disability_rows(c, op_stamps(world, c.idx, day))


# --- social_insurance (delta) -----------------------------------------------------------


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
        id_text(people, ds),
        name_text(people, ds),
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
        block = _insurance_part(ins, p1, day, ["I"] * int(p1.sum()), stamps(c.w, ins.key[p1], upd))
        return Emitted(block, state)
    p0 = ins.present(day - 1)
    new, changed, gone = delta_masks(p0, p1, ins.version(day - 1), ins.version(day))
    now = new | changed
    ops = np.where(new, "I", "U")[now].tolist()
    block = _insurance_part(ins, now, day, ops, op_stamps(c.w, ins.key[now], day))
    block.extend(
        _insurance_part(
            ins, gone, day - 1, ["D"] * int(gone.sum()), op_stamps(c.w, ins.key[gone], day)
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
        op_stamps(world, c.idx, day),
    )


# --- enterprise_registry (snapshot) -----------------------------------------------------


def enterprise_rows(c: Enterprises, day: int, updated: list[str]) -> Block:
    ds = "enterprise_registry"
    rep = c.rep
    cols = [
        c.uscc,
        c.name,
        render_names(c.h, c.idx, SALT[ds], rep.name),
        render_ids(c.h, c.idx, SALT[ds], rep.id18, rep.id15, rep.born_1900s),
        render_phones(c.h, c.idx, SALT[ds], rep.phones[0]),
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
    return Emitted(enterprise_rows(sub, day, stamps(c.w, sub.idx, sub.updated(day))))


def enterprise_ghosts(world: World, day: int, serials: I64) -> Block:
    c = Enterprises(world, world.ghost_enterprise(serials))
    return enterprise_rows(c, day, op_stamps(world, c.idx, day))
