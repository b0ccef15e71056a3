"""Social insurance of residents: which schemes a person is in, with whom, since when."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from huiliu_dev.generate.days import NEVER
from huiliu_dev.generate.hashing import I64, Bool, S
from huiliu_dev.generate.world import YEAR

if TYPE_CHECKING:
    from huiliu_dev.generate.residents import Residents


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
