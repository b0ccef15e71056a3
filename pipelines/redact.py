"""Messages that may quote what a file holds say its shape, never its value.

A rejection message, a log line or Dagster metadata that names a cell of a delivered file
(a header that turns out to be a data row, a manifest field) could carry an identity number
or a name. `quoted` keeps what looks like a column or dataset name (lower-case ASCII, as the
contract's names are) and replaces anything else by its shape: digits → 9, Latin letters →
a, every other character → 字, at most 40 of them.
"""

from __future__ import annotations

import re

_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_KEEP = frozenset(" *·.:/-_")


def shape(value: object, limit: int = 40) -> str:
    text = str(value)
    out = []
    for ch in text[:limit]:
        if ch.isdigit() and ch.isascii():
            out.append("9")
        elif ch.isascii() and ch.isalpha():
            out.append("a")
        elif ch in _KEEP:
            out.append(ch)
        else:
            out.append("字")
    return "".join(out) + ("…" if len(text) > limit else "")


def quoted(value: object) -> str:
    """'name' for a name-like value, else `a value shaped 999…` (no character of it survives)."""
    text = str(value)
    if _NAME.fullmatch(text):
        return repr(text)
    return f"a value shaped {shape(text)!r}"
