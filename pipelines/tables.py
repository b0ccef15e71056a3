"""Tables, written once for two readers: Markdown for `huiliu run`'s summary and logs, Dagster's
table metadata for the UI (sortable columns, not a block of text).

Markdown cells are text: a `|` inside one would start a new column, so it is replaced; line
breaks become spaces. Values are whatever the caller passes: never a raw personal value.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import dagster as dg


def _cell(value: object) -> str:
    return "" if value is None else " ".join(str(value).split()).replace("|", "/")


def markdown(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(_cell(v) for v in r) + " |" for r in rows]
    return "\n".join(out)


def _type(values: list[object]) -> str:
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return "int"
    return "string"


def table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> dg.TableMetadataValue:
    """The same rows as Dagster table metadata: a column is `int` when every value is, else text."""
    rows = [tuple(r) for r in rows]
    columns = [dg.TableColumn(name, _type([r[i] for r in rows])) for i, name in enumerate(header)]
    records = [dg.TableRecord({name: (v if c.type == "int" or v is None else str(v))
                               for name, v, c in zip(header, r, columns, strict=True)}) for r in rows]
    return dg.MetadataValue.table(records, schema=dg.TableSchema(columns=columns))


def table_markdown(value: dg.TableMetadataValue) -> str:
    """A Dagster table back as Markdown: the run's summary prints what the UI shows."""
    header = [c.name for c in value.schema.columns]
    return markdown(header, [[r.data.get(h) for h in header] for r in value.records])
