"""Identity numbers (GB 11643), credit codes (GB 32100), phones and bank accounts.

Built as digit matrices so that a chunk of 20,000 checksums costs a few numpy
operations; strings are made by viewing a (n, width) array of 1-char cells as one
n-vector of width-char strings.
"""

from __future__ import annotations

import numpy as np

from huiliu_dev.generate.days import ymd
from huiliu_dev.generate.hashing import I64
from pipelines.contract import ID_CHECK, ID_WEIGHTS, USCC_ALPHABET, USCC_WEIGHTS

_DIGITS = np.array(list("0123456789"), dtype="U1")
_ID_CHECK = np.array(list(ID_CHECK), dtype="U1")
_ID_W = np.array(ID_WEIGHTS, dtype=np.int64)
_USCC = np.array(list(USCC_ALPHABET), dtype="U1")
_USCC_W = np.array(USCC_WEIGHTS, dtype=np.int64)
_ORG_W = np.array((3, 7, 9, 10, 5, 8, 4, 2), dtype=np.int64)
_POW10 = 10 ** np.arange(18, dtype=np.int64)[::-1]

MOBILE_PREFIXES = np.array(
    [
        130,
        131,
        132,
        133,
        135,
        136,
        137,
        138,
        139,
        150,
        151,
        152,
        153,
        155,
        156,
        157,
        158,
        159,
        166,
        173,
        177,
        180,
        181,
        182,
        183,
        185,
        186,
        187,
        188,
        189,
        191,
        198,
        199,
    ],
    dtype=np.int64,
)


def digit_matrix(values: I64, width: int) -> I64:
    """(n, width) decimal digits of non-negative integers, most significant first."""
    return (np.asarray(values, dtype=np.int64)[:, None] // _POW10[-width:]) % 10


def join_cells(cells: np.ndarray) -> list[str]:
    """Rows of a (n, w) 'U1' array as n strings of w characters."""
    cells = np.ascontiguousarray(cells, dtype="U1")
    n, w = cells.shape
    if n == 0:
        return []
    return cells.view(f"U{w}").reshape(n).tolist()


def id_bodies(prefix: I64, birth_days: I64, seq: I64) -> I64:
    """The first 17 digits as an integer: region, birth date, sequence."""
    y, m, d = ymd(birth_days)
    return (np.asarray(prefix) * 10**11 + (y * 10000 + m * 100 + d) * 1000 + seq).astype(np.int64)


def id_check_indices(digits17: I64) -> I64:
    return (digits17 @ _ID_W) % 11


def id18(bodies: I64) -> tuple[list[str], list[str]]:
    """(18-character identity numbers, their 15-digit legacy forms)."""
    dm = digit_matrix(bodies, 17)
    cells = np.empty((len(bodies), 18), dtype="U1")
    cells[:, :17] = _DIGITS[dm]
    cells[:, 17] = _ID_CHECK[id_check_indices(dm)]
    legacy = np.concatenate([cells[:, :6], cells[:, 8:17]], axis=1)
    return join_cells(cells), join_cells(legacy)


def _org_check(values: I64) -> I64:
    """GB 11714 check of an 8-character organisation code (char values 0-35)."""
    c = 11 - (values @ _ORG_W) % 11
    return np.where(c == 11, 0, c)  # 10 means 'X'


def uscc(v: I64, new_style: np.ndarray, head: I64, county: str) -> list[str]:
    """Unified social credit codes, injective in v (< 2**24) within each style.

    head: 0 → '91' (enterprise), 1 → '92' (individual business), 2 → '93' (cooperative).
    Old style: an 8-digit organisation code; new style: 'MA' + 6 base-31 characters.
    """
    n = len(v)
    alpha = np.zeros((n, 17), dtype=np.int64)  # indices into the USCC alphabet
    alpha[:, 0] = 9
    alpha[:, 1] = np.asarray(head) + 1
    alpha[:, 2:8] = [int(c) for c in county]
    org_vals = np.zeros((n, 8), dtype=np.int64)  # GB 11714 values (A=10 … Z=35)
    old_digits = digit_matrix(v, 8)
    base31 = (np.asarray(v)[:, None] // (31 ** np.arange(6)[::-1])) % 31
    letters = np.array([ord(c) - 55 if c.isalpha() else int(c) for c in USCC_ALPHABET])
    new = np.asarray(new_style, dtype=bool)
    alpha[:, 8:16] = np.where(
        new[:, None],
        np.concatenate(
            [
                np.full((n, 1), USCC_ALPHABET.index("M")),
                np.full((n, 1), USCC_ALPHABET.index("A")),
                base31,
            ],
            axis=1,
        ),
        old_digits,
    )
    org_vals[:] = letters[alpha[:, 8:16]]
    check = _org_check(org_vals)
    alpha[:, 16] = np.where(check == 10, USCC_ALPHABET.index("X"), check)
    last = (31 - (alpha @ _USCC_W) % 31) % 31
    cells = np.empty((n, 18), dtype="U1")
    cells[:, :17] = _USCC[alpha]
    cells[:, 17] = _USCC[last]
    return join_cells(cells)


def mobiles(prefix_idx: I64, tail: I64) -> I64:
    """11-digit mobile numbers as integers."""
    return MOBILE_PREFIXES[prefix_idx] * 10**8 + tail % 10**8


def bank_accounts(bits: np.ndarray, lengths: I64) -> list[str]:
    """16–19 digit card numbers with real-looking issuer prefixes."""
    issuers = np.array([621700, 622848, 623058, 621226, 622202, 621799], dtype=np.int64)
    issuer = issuers[(bits % np.uint64(6)).astype(np.int64)]
    body = ((bits >> np.uint64(8)) % np.uint64(10**13)).astype(np.int64)
    out = []
    for i, b, n in zip(issuer.tolist(), body.tolist(), np.asarray(lengths).tolist(), strict=True):
        out.append(f"{i}{b:013d}"[:n])
    return out
