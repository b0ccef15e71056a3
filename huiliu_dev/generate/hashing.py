"""Counter-based hashing: every attribute is a pure function of (seed, stream, entity, salt).

No random-generator state is carried from one chunk to the next, so any slice of the
population can be rebuilt on its own, in any order, and the chunk size never changes
the output. That is what makes successive dates of one seed a consistent history.
"""

from __future__ import annotations

from enum import IntEnum, auto

import numpy as np
import numpy.typing as npt

U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
Bool = npt.NDArray[np.bool_]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S11, _S27, _S30, _S31 = (np.uint64(s) for s in (11, 27, 30, 31))


class S(IntEnum):
    """One stream per independent attribute, so adding one never shifts another."""

    BIRTH_PERM = auto()
    GENDER = auto()
    HOUSEHOLD_VILLAGE = auto()
    TOWN_LEVEL = auto()
    DOOR = auto()
    ADDRESS_STYLE = auto()
    SURNAME = auto()
    GIVEN1 = auto()
    GIVEN2 = auto()
    GIVEN_LEN = auto()
    RARE_NAME = auto()
    MINORITY = auto()
    ETHNICITY = auto()
    PHONE_HAS = auto()
    PHONE1 = auto()
    PHONE2 = auto()
    PHONE_CHANGE = auto()
    BASE_UPDATE = auto()
    TIME_OF_DAY = auto()
    DEATH = auto()
    REPORT_DELAY = auto()
    DEATH_CORRECTION = auto()
    DEATH_CORRECTION_DAY = auto()
    SOURCE_ORG = auto()
    DISABLED = auto()
    DISABILITY_TYPE = auto()
    DISABILITY_GRADE = auto()
    DISABILITY_ISSUED = auto()
    GUARDIAN = auto()
    SI_PLAN = auto()
    SI_EXTRA = auto()
    SI_EMPLOYER = auto()
    SI_EMPLOYER2 = auto()
    SI_EMPLOYER_CHANGE = auto()
    SI_ENROLL = auto()
    SI_ENROLL_FUTURE = auto()
    SI_STATUS = auto()
    SI_STATUS_DAY = auto()
    SI_STATUS_KIND = auto()
    SI_DELETE = auto()
    SI_DELETE_DAY = auto()
    BANK = auto()
    BANK_LEN = auto()
    AMOUNT_STYLE = auto()
    ENT_PERM = auto()
    ENT_STYLE = auto()
    ENT_KIND = auto()
    ENT_WORD1 = auto()
    ENT_WORD2 = auto()
    ENT_INDUSTRY = auto()
    ENT_REP = auto()
    ENT_CAPITAL = auto()
    ENT_STATUS = auto()
    ENT_STATUS_DAY = auto()
    ENT_STATUS_NEW = auto()
    ENT_ESTABLISHED = auto()
    ENT_FUTURE = auto()
    ENT_ROAD = auto()
    FLOAT_PERM = auto()
    FLOAT_PERIOD = auto()
    FLOAT_PHASE = auto()
    FLOAT_GAP = auto()
    FLOAT_MOVE = auto()
    FLOAT_MOVE_DAY = auto()
    FLOAT_VILLAGE2 = auto()
    FLOAT_EMPLOYER = auto()
    FLOAT_REMARK = auto()
    FLOAT_ROOM = auto()
    MESS_ID = auto()
    MESS_PHONE = auto()
    MESS_NAME = auto()
    MESS_TEXT = auto()
    PLANT_POS = auto()
    PLANT_PICK = auto()
    OP_TIME = auto()
    HEADER = auto()
    VILLAGE_WEIGHT = auto()


def mix(x: npt.ArrayLike) -> U64:
    """splitmix64 finaliser: a bijection on 64-bit words with good avalanche."""
    with np.errstate(over="ignore"):
        z = np.asarray(x).astype(np.uint64) + _GOLDEN
        z = (z ^ (z >> _S30)) * _M1
        z = (z ^ (z >> _S27)) * _M2
        return z ^ (z >> _S31)


class Hasher:
    """Deterministic per-entity randomness derived from the run's seed."""

    def __init__(self, seed: int) -> None:
        self._key = mix(np.uint64(seed & 0xFFFF_FFFF_FFFF_FFFF))

    def bits(self, stream: int, idx: npt.ArrayLike, salt: npt.ArrayLike | None = None) -> U64:
        with np.errstate(over="ignore"):
            k = mix(self._key ^ mix(np.uint64(int(stream))))
            x = mix(np.asarray(idx).astype(np.int64).astype(np.uint64) ^ k)
            if salt is not None:
                x = mix(x ^ mix(np.asarray(salt).astype(np.int64).astype(np.uint64) + k))
        return x

    def uniform(self, stream: int, idx: npt.ArrayLike, salt: npt.ArrayLike | None = None) -> F64:
        return (self.bits(stream, idx, salt) >> _S11).astype(np.float64) * (2.0**-53)

    def below(
        self, stream: int, idx: npt.ArrayLike, n: npt.ArrayLike, salt: npt.ArrayLike | None = None
    ) -> I64:
        """Integers in [0, n) (n may be an array)."""
        return (self.bits(stream, idx, salt) % np.asarray(n).astype(np.uint64)).astype(np.int64)

    def chance(
        self, stream: int, idx: npt.ArrayLike, p: npt.ArrayLike, salt: npt.ArrayLike | None = None
    ) -> Bool:
        return self.uniform(stream, idx, salt) < p

    def scalar(self, stream: int, idx: int, salt: int | None = None) -> int:
        salts = None if salt is None else np.array([salt])
        return int(self.bits(stream, np.array([idx]), salts)[0])

    def pick(self, stream: int, idx: npt.ArrayLike, weights: npt.ArrayLike, salt=None) -> I64:
        """Weighted choice among len(weights) options."""
        cum = np.cumsum(np.asarray(weights, dtype=np.float64))
        u = self.uniform(stream, idx, salt) * cum[-1]
        return np.minimum(np.searchsorted(cum, u, side="right"), len(cum) - 1).astype(np.int64)
