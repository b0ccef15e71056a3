"""Mess the contract calls valid: it must be normalised by ingestion, never kept aside.

Lower-case 'x' check characters, 15-digit legacy numbers (only for people born in the
1900s, where the upgrade inserts '19'), full-width digits, stray spaces, mobiles written
'+86 138-0013-8000', landlines, free-text remarks carrying names, phones and ids.
The choice is a function of (entity, dataset), so a person's row reads the same on
every date and a re-rendered key still normalises to the same value.
"""

from __future__ import annotations

import numpy as np

from huiliu_dev.generate.hashing import I64, Bool, Hasher, S

FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def render_ids(
    h: Hasher, key: I64, salt: int, id18: list[str], id15: list[str], born_1900s: Bool
) -> list[str]:
    u = h.uniform(S.MESS_ID, key, salt).tolist()
    out = []
    for s18, s15, old, x in zip(id18, id15, born_1900s.tolist(), u, strict=True):
        if x < 0.025 and old:
            out.append(s15)
        elif 0.025 <= x < 0.035:
            out.append(s18.translate(FULLWIDTH))
        elif 0.035 <= x < 0.045:
            out.append((" " + s18) if x < 0.04 else (s18 + " "))
        elif s18[-1] == "X" and x > 0.6:
            out.append(s18[:-1] + "x")
        else:
            out.append(s18)
    return out


def phone_text(number: int, style: float, landline_tail: int) -> str:
    """One rendering of an 11-digit mobile (0: no phone)."""
    if number == 0:
        return ""
    s = str(number)
    if style < 0.70:
        return s
    if style < 0.74:
        return f"+86 {s[:3]}-{s[3:7]}-{s[7:]}"
    if style < 0.78:
        return f"{s[:3]} {s[3:7]} {s[7:]}"
    if style < 0.80:
        return f"{s[:3]}-{s[3:7]}-{s[7:]}"
    if style < 0.82:
        return s.translate(FULLWIDTH)
    if style < 0.84:
        return f" {s} "
    if style < 0.87:
        return f"0575-83{landline_tail % 1000000:06d}"
    return s


def render_phones(h: Hasher, key: I64, salt: int, numbers: I64) -> list[str]:
    style = h.uniform(S.MESS_PHONE, key, salt).tolist()
    tail = (h.bits(S.MESS_PHONE, key, salt + 1000) % np.uint64(10**6)).astype(np.int64).tolist()
    return [
        phone_text(n, s, t)
        for n, s, t in zip(np.asarray(numbers).tolist(), style, tail, strict=True)
    ]


def render_names(h: Hasher, key: I64, salt: int, names: list[str]) -> list[str]:
    u = h.uniform(S.MESS_NAME, key, salt).tolist()
    return [
        (" " + n) if x < 0.005 else ((n + " ") if x < 0.01 else n)
        for n, x in zip(names, u, strict=True)
    ]


def remarks(
    h: Hasher,
    key: I64,
    names: list[str],
    phones: list[str],
    other_ids: list[str],
    employers: list[str],
) -> list[str]:
    """Free text the way a registrar types it: names, phones, ids, quotes, line breaks."""
    kind = h.below(S.FLOAT_REMARK, key, 12).tolist()
    out = []
    for k, n, p, i, e in zip(kind, names, phones, other_ids, employers, strict=True):
        p = p.strip() or "13800138000"
        if k == 0:
            out.append(f"房东{n},电话{p}")
        elif k == 1:
            out.append(f"随迁子女身份证{i}")
        elif k == 2:
            out.append(f"紧急联系人:{n} {p}")
        elif k == 3:
            out.append(f"原住址已拆迁\n现租住处联系人{n}")
        elif k == 4:
            out.append(f'本人称"在{e or "附近厂里"}上班",待核实')
        elif k == 5:
            out.append(f"核查人：{n}；联系方式{p.translate(FULLWIDTH)}")
        elif k == 6:
            out.append("已核查,信息属实")
        elif k == 7:
            out.append(f"配偶{n}（身份证号{i.lower()}）同住\n电话 {p}")
        else:
            out.append("")
    return out
