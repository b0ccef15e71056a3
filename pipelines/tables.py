"""Markdown tables: Dagster metadata, the gate overview and `huiliu run`'s summary all use this one.

Cells are text: a `|` inside one would start a new column, so it is replaced; line breaks
become spaces. Values are whatever the caller passes: never a raw personal value.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def _cell(value: object) -> str:
    return "" if value is None else " ".join(str(value).split()).replace("|", "/")


def markdown(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(_cell(v) for v in r) + " |" for r in rows]
    return "\n".join(out)
