"""Enterprises: registry entries with their legal representatives, status changes and moves."""

from __future__ import annotations

from functools import cached_property

import numpy as np

from huiliu_dev.generate import ids, lexicon
from huiliu_dev.generate.days import NEVER
from huiliu_dev.generate.hashing import I64, Bool, S
from huiliu_dev.generate.residents import Residents
from huiliu_dev.generate.world import _ENT_MULT, ENT_CAP, Chunk, World


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


def settled(world: World, e: I64) -> I64:
    """Employers that already exist at first_batch_date (a few probes forward)."""
    for _ in range(8):
        late = Enterprises(world, e).established >= world.ref
        if not late.any():
            break
        e = np.where(late, (e + 1) % world.enterprises, e)
    return e
