"""A form as a file: xlsx for people (title block, frozen header, fitting widths) or csv for tools.

Both show what a village worker reads, not what PostgreSQL stores: booleans as 是/否 and the
text[] tags as their Chinese labels joined by '、'. Only those columns are converted, by one
function per row; every other value goes to openpyxl or csv as it came. The xlsx is written in
openpyxl's write-only mode (freeze panes and widths set before the first row), so a large form
streams instead of building a cell object per value.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

TRUE, FALSE = "是", "否"
SEPARATOR = "、"
WIDTH_SAMPLE = 2000  # widths from the header and the first rows (all of a village's form)
MIN_WIDTH, MAX_WIDTH = 6, 60
_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")

Row = Sequence[object]


@dataclass(frozen=True)
class Sheet:
    """One form: its title, the lines under it, the header labels and the (converted) rows."""

    title: str
    lines: tuple[str, ...]
    headers: tuple[str, ...]
    rows: Sequence[Row]


def _boolean(v: object) -> object:
    return TRUE if v is True else FALSE if v is False else v


def _naive(v: object) -> object:  # Excel has no time zones: the session's wall clock
    return v.replace(tzinfo=None) if isinstance(v, dt.datetime) else v


def converter(types: Sequence[str], tag_labels: dict[str, str], width: int,
              tags_column: int | None = None) -> Callable[[Row], Row] | None:
    """row → displayed row (its first `width` values), None when nothing needs converting."""
    steps: list[tuple[int, Callable[[object], object]]] = []
    for i, kind in enumerate(types[:width]):
        if kind == "boolean":
            steps.append((i, _boolean))
        elif kind.endswith("[]"):
            labels = tag_labels if i == tags_column else {}
            steps.append((i, lambda v, m=labels: SEPARATOR.join(m.get(x, str(x)) for x in v)))
        elif kind == "timestamp with time zone":
            steps.append((i, _naive))
    if not steps and len(types) == width:
        return None

    def convert(row: Row) -> Row:
        out = list(row[:width])
        for i, step in steps:
            if out[i] is not None:
                out[i] = step(out[i])
        return out

    return convert


def display_width(value: object) -> int:
    """Columns a value takes in a spreadsheet: a CJK character counts double (UTF-8's 3 bytes → 2)."""
    text = value.isoformat() if isinstance(value, dt.date) else str(value)
    return (len(text.encode("utf-8")) + len(text)) // 2


def widths(headers: Sequence[str], rows: Iterable[Row]) -> list[int]:
    best = [display_width(h) for h in headers]
    for row in rows:
        best = [max(b, display_width(v)) if v is not None else b for b, v in zip(best, row, strict=True)]
    return [min(MAX_WIDTH, max(MIN_WIDTH, w + 2)) for w in best]


def write_xlsx(path: Path, sheet: Sheet) -> None:
    """Title block, a header of labels frozen in place, then the rows (write-only workbook)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(_SHEET_FORBIDDEN.sub("_", sheet.title)[:31] or "Sheet1")
    header_row = len(sheet.lines) + 3  # title, its lines, one blank row, then the header
    ws.freeze_panes = f"A{header_row + 1}"
    sample = sheet.rows[:WIDTH_SAMPLE]
    for i, w in enumerate(widths(sheet.headers, sample), 1):
        ws.column_dimensions[get_column_letter(i)].width = w
    title = WriteOnlyCell(ws, value=sheet.title)
    title.font = Font(bold=True, size=14)
    ws.append([title])
    for line in sheet.lines:
        ws.append([line])
    ws.append([])
    bold, fill = Font(bold=True), PatternFill("solid", fgColor="DDEBF7")
    header = []
    for label in sheet.headers:
        cell = WriteOnlyCell(ws, value=label)
        cell.font, cell.fill, cell.alignment = bold, fill, Alignment(horizontal="center")
        header.append(cell)
    ws.append(header)
    for row in sheet.rows:
        ws.append(row)
    wb.save(path)


def write_csv(path: Path, sheet: Sheet) -> None:
    """UTF-8 with a BOM (Excel then reads the Chinese), a header of labels, no title block."""
    with open(path, "w", encoding="utf-8-sig", newline="") as f:
        out = csv.writer(f)
        out.writerow(sheet.headers)
        out.writerows(sheet.rows)


WRITERS: dict[str, Callable[[Path, Sheet], None]] = {".xlsx": write_xlsx, ".csv": write_csv}
