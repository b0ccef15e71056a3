"""How many values a masked identifier still allows, given what one audience can read beside it.

An identity number (GB 11643) is region (6) · birth date (8) · serial (3, the last one's
parity is the gender) · check character. Whatever an audience sees of a person — the masked
number in every relation that carries its token, a certificate number that embeds it, a
birth date or year, a gender — narrows the candidates; `id_candidates` counts what is left,
assuming the attacker knows the region (most residents are born in the county) and that the
check character, when visible, keeps one candidate in eleven. Phones and bank accounts have
no inner structure to exploit beyond their fixed digits (`digit_candidates`). A value
counts as recovered when fewer than RECOVERED_BELOW candidates are left.

Shapes are what the attack reads of a masked value: `1` where a character is visible, `0`
where it is hidden, position by position.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod

RECOVERED_BELOW = 10
ID_LENGTH = 18

# What an audience may know of a person's birth, from the best column it sees.
BIRTH_NONE, BIRTH_YEAR, BIRTH_DATE = 0, 1, 2


@dataclass(frozen=True)
class Knowledge:
    """What one audience knows of one identity number (aggregated over every relation it reads)."""

    shape: str  # 18 characters of 1 (visible somewhere) / 0 (hidden everywhere)
    birth: int  # BIRTH_NONE, BIRTH_YEAR or BIRTH_DATE
    gender: bool  # a gender column beside it

    @property
    def candidates(self) -> float:
        return id_candidates(self.shape, self.birth, self.gender)

    def describe(self) -> str:
        birth = {BIRTH_NONE: "no birth", BIRTH_YEAR: "birth year", BIRTH_DATE: "birth date"}[self.birth]
        visible = "".join("9" if c == "1" else "*" for c in self.shape)
        return f"{visible} + {birth}{' + gender' if self.gender else ''}"


def id_candidates(shape: str, birth: int, gender: bool) -> float:
    """Identity numbers consistent with what is visible (an upper bound of what the attacker faces)."""
    v = [c == "1" for c in shape.ljust(ID_LENGTH, "0")[:ID_LENGTH]]

    def hidden(start: int, end: int) -> int:
        return sum(not x for x in v[start:end])

    if birth == BIRTH_DATE or all(v[6:14]):
        births = 1
    elif birth == BIRTH_YEAR or all(v[6:10]):
        births = min(366, 10 ** hidden(10, 14))
    else:
        births = min(121, 10 ** hidden(6, 10)) * min(366, 10 ** hidden(10, 14))
    serials = 10 ** hidden(14, 17) / (2 if gender and not v[16] else 1)
    total = births * serials / (11 if v[17] else 1)
    return max(1.0, total)


def digit_candidates(shape: str, klass: str) -> float:
    """Phones and bank accounts: ten values per hidden digit, less what their fixed structure gives."""
    hidden = [i for i, c in enumerate(shape) if c == "0"]
    if klass == "phone" and len(shape) == 11:  # a mobile: 1, then 3-9, then any digit
        options = [1 if i == 0 else 7 if i == 1 else 10 for i in hidden]
    else:
        options = [10 for _ in hidden]
    total = prod(options)
    if klass == "bank_account" and hidden and shape.endswith("1"):  # a visible Luhn check digit
        total /= 10
    return max(1.0, float(total))


def recovered(candidates: float) -> bool:
    return candidates < RECOVERED_BELOW
