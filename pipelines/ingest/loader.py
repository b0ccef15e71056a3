"""Load one delivered file into `raw.<dataset>`, or reject it whole with its reason.

One read of the file does everything that needs its bytes: sha256, strict decoding in
the declared encoding, the header, the parity of quote characters (a file that ends
inside an open quote is truncated), and a COPY of its physical lines into a temporary
table. PostgreSQL then assembles records from lines (a record continues while its quotes
are open), splits fields, counts records and inserts them into the raw table — set-based,
in the same transaction, so a file that fails any check leaves nothing behind.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from pipelines.contract import DATASETS, ENCODINGS
from pipelines.ingest.manifest import FileEntry, Manifest
from pipelines.redact import quoted

CHUNK = 8 * 1024 * 1024


class FileRejected(Exception):
    """A file-level fault: the contract's reason code and a message naming the fault."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class FileOutcome:
    source: str
    batch_date: str
    dataset: str
    path: str
    status: str  # loaded | rejected | skipped (this delivery's file was already recorded)
    reason: str | None
    message: str | None
    rows_received: int | None
    records_stored: int
    file_id: int | None


def _escape_for_copy(text: str) -> str:
    """Physical lines → COPY text format: one line a row, no field splitting."""
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\r", "\\r")


class _LineStream:
    """Decoded text → COPY rows; CRLF becomes LF even when split across chunks."""

    def __init__(self, copy: psycopg.Copy) -> None:
        self.copy = copy
        self.pending_cr = False

    def write(self, text: str) -> None:
        if self.pending_cr:
            text = "\r" + text
            self.pending_cr = False
        if text.endswith("\r"):
            text, self.pending_cr = text[:-1], True
        self.copy.write(_escape_for_copy(text.replace("\r\n", "\n")).encode("utf-8"))

    def close(self) -> None:
        if self.pending_cr:
            self.copy.write(b"\\r")


def _position(text_before: str, lines_before: int) -> tuple[int, int]:
    """(line, column) of the character after `text_before`, 1-based."""
    line = lines_before + text_before.count("\n") + 1
    column = len(text_before) - (text_before.rfind("\n") + 1) + 1
    return line, column


def _check_header(first_line: str, dataset: str, where: str) -> list[str]:
    header = next(csv.reader([first_line.rstrip("\r")]), [])
    expected = DATASETS[dataset].column_names
    seen: set[str] = set()
    for i, name in enumerate(header, start=1):
        if name in seen:
            raise FileRejected("bad_header", f"{where}: line 1, column {i}: {quoted(name)} repeated")
        if name not in expected:
            raise FileRejected("bad_header", f"{where}: line 1, column {i}: unknown column {quoted(name)}")
        seen.add(name)
    missing = [c for c in expected if c not in seen]
    if missing:
        raise FileRejected("bad_header", f"{where}: line 1: header lacks {', '.join(missing)}")
    return header


def load_file(conn: psycopg.Connection, manifest: Manifest, entry: FileEntry) -> FileOutcome:
    """Load or reject one file; records it in governance.batch_files either way."""
    where = f"{manifest.label}/{entry.path}"
    existing = conn.execute(
        "SELECT file_id, status, reason, rows_received FROM governance.batch_files "
        "WHERE delivery = %s AND dataset = %s AND path = %s",
        (manifest.delivery, entry.dataset, entry.path),
    ).fetchone()
    if existing:  # the same delivery twice changes nothing
        return FileOutcome(manifest.source, manifest.batch_date.isoformat(), entry.dataset,
                           entry.path, "skipped", existing[2], None, existing[3], 0, existing[0])
    try:
        with conn.transaction():
            file_id, stored = _load(conn, manifest, entry, where)
        return FileOutcome(manifest.source, manifest.batch_date.isoformat(), entry.dataset,
                           entry.path, "loaded", None, None, entry.rows, stored, file_id)
    except FileRejected as rejected:
        file_id = _record(conn, manifest, entry, "rejected", rejected.reason, rejected.message)
        return FileOutcome(manifest.source, manifest.batch_date.isoformat(), entry.dataset,
                           entry.path, "rejected", rejected.reason, rejected.message,
                           entry.rows, 0, file_id)


def _record(conn: psycopg.Connection, manifest: Manifest, entry: FileEntry, status: str,
            reason: str | None, message: str | None) -> int:
    row = conn.execute(
        "INSERT INTO governance.batch_files (source, batch_date, delivery, dataset, path, "
        "encoding, mode, status, reason, message, rows_received) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING file_id",
        (manifest.source, manifest.batch_date, manifest.delivery, entry.dataset, entry.path,
         entry.encoding or None, entry.mode or None, status, reason, message,
         entry.rows if reason != "manifest_unreadable" else None),
    ).fetchone()
    assert row is not None
    return int(row[0])


def _load(conn: psycopg.Connection, manifest: Manifest, entry: FileEntry, where: str
          ) -> tuple[int, int]:
    fault = manifest.fault or entry.fault
    if fault:
        reason, message = fault
        raise FileRejected(reason, message if fault is manifest.fault else f"{manifest.label}/{message}")
    path = manifest.directory / entry.path
    if not path.is_file():
        raise FileRejected("file_missing", f"{where}: the file is not there")

    conn.execute("SET LOCAL jit = off")  # temp tables have no statistics: JIT misjudges
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS huiliu_lines "
                 "(n bigint GENERATED ALWAYS AS IDENTITY, line text) ON COMMIT DROP")
    header, quotes = _stream(conn, path, entry, where)
    if quotes % 2:
        start = conn.execute(_OPEN_RECORD_START).fetchone()
        line = start[0] if start and start[0] else "?"
        raise FileRejected("truncated",
                           f"{where}: the record starting at line {line} ends inside an open quote")

    spec = DATASETS[entry.dataset]
    positions = [header.index(c) + 1 for c in spec.column_names]
    conn.execute(_ASSEMBLE_RECORDS)
    count_row = conn.execute("SELECT count(*) FROM huiliu_records").fetchone()
    records = int(count_row[0]) if count_row else 0
    if records != entry.rows:
        raise FileRejected("row_count_mismatch",
                           f"{where}: the manifest declares {entry.rows} rows, "
                           f"the file holds {records} records")

    file_id = _record(conn, manifest, entry, "loaded", None, None)
    columns = sql.SQL(", ").join(sql.Identifier(c) for c in spec.column_names)
    values = sql.SQL(", ").join(
        sql.SQL("CASE WHEN cardinality(f) = {n} THEN nullif(f[{p}], '') END").format(
            n=sql.Literal(len(header)), p=sql.Literal(p))
        for p in positions
    )
    conn.execute(
        sql.SQL(
            "INSERT INTO raw.{table} (file_id, line_number, field_count, {columns}) "
            "WITH r AS MATERIALIZED ("  # split each record once, not once per column
            "  SELECT line_number, CASE WHEN strpos(rec, '\"') = 0 "
            "    THEN string_to_array(rec, ',') ELSE raw.csv_fields(rec) END AS f "
            "  FROM huiliu_records) "
            "SELECT {file_id}, line_number, coalesce(cardinality(f), 0), {values} FROM r"
        ).format(table=sql.Identifier(entry.dataset), columns=columns,
                 file_id=sql.Literal(file_id), values=values)
    )
    _supersede(conn, manifest, entry, file_id)
    conn.execute("DROP TABLE huiliu_lines, huiliu_records")
    return file_id, records


def _stream(conn: psycopg.Connection, path: Path, entry: FileEntry, where: str
            ) -> tuple[list[str], int]:
    """One read: hash, decode, check the header, COPY lines; faults in contract order."""
    hasher = hashlib.sha256()
    decoder = None
    codec = "utf-8-sig" if entry.encoding == "utf-8" else "gb18030"
    if entry.encoding in ENCODINGS:
        decoder = codecs.getincrementaldecoder(codec)(errors="strict")
    encoding_fault: str | None = (
        None if decoder else
        f"{where}: unsupported encoding {quoted(entry.encoding)} (the contract allows "
        f"{' or '.join(ENCODINGS)})"
    )
    header_fault: FileRejected | None = None
    header: list[str] | None = None
    head_text = ""
    quotes = lines_before = 0

    with conn.cursor() as cur, cur.copy("COPY huiliu_lines (line) FROM STDIN") as copy:
        stream = _LineStream(copy)
        with open(path, "rb") as fh:
            offset = 0
            while chunk := fh.read(CHUNK):
                hasher.update(chunk)
                if decoder is not None and encoding_fault is None:
                    try:
                        text = decoder.decode(chunk)
                    except UnicodeDecodeError as exc:
                        good = chunk[: exc.start].decode(codec, errors="ignore")
                        line, col = _position(good, lines_before)
                        encoding_fault = (
                            f"{where}: line {line}, column {col} (byte {offset + exc.start}): "
                            f"bytes do not decode as {entry.encoding}: {exc.reason}"
                        )
                        text = ""
                    if "\x00" in text and encoding_fault is None:
                        line, col = _position(text[: text.index("\x00")], lines_before)
                        encoding_fault = f"{where}: line {line}, column {col}: NUL character"
                    if encoding_fault is None and text:
                        quotes += text.count('"')
                        if header is None and header_fault is None:
                            head_text += text
                            if "\n" in head_text or len(head_text) > 65536:
                                try:
                                    header = _check_header(head_text.split("\n", 1)[0],
                                                           entry.dataset, where)
                                except FileRejected as rejected:
                                    header_fault = rejected
                                else:
                                    stream.write(head_text)
                        elif header is not None:
                            stream.write(text)
                        lines_before += text.count("\n")
                offset += len(chunk)
        if decoder is not None and encoding_fault is None:
            try:
                tail = decoder.decode(b"", final=True)
            except UnicodeDecodeError as exc:
                encoding_fault = f"{where}: the file ends inside a multi-byte character ({exc})"
                tail = ""
            quotes += tail.count('"')
            if header is None and header_fault is None:
                head_text += tail
                try:
                    header = _check_header(head_text.split("\n", 1)[0], entry.dataset, where)
                except FileRejected as rejected:
                    header_fault = rejected
                else:
                    stream.write(head_text)
            elif header is not None and tail:
                stream.write(tail)
        digest = hasher.hexdigest()
        if digest != entry.sha256:
            raise FileRejected("sha256_mismatch",
                               f"{where}: sha256 is {digest[:16]}…, the manifest says "
                               f"{entry.sha256[:16]}…")
        if encoding_fault:
            raise FileRejected("bad_encoding", encoding_fault)
        if header_fault:
            raise header_fault
        stream.close()
    assert header is not None
    return header, quotes


# Lines → records. A line with an odd number of quotes opens a multi-line record and the
# next such line closes it (the file is not truncated, so they pair up); every other line
# is a record of its own. Only the few odd lines are sorted. Blank lines at the end are
# not records.
_ASSEMBLE_RECORDS = """
CREATE TEMP TABLE huiliu_records ON COMMIT DROP AS
WITH odd AS (
    SELECT n, row_number() OVER (ORDER BY n) AS k FROM huiliu_lines
    WHERE n > 1 AND strpos(line, '"') > 0
      AND (length(line) - length(replace(line, '"', ''))) % 2 = 1
), spans AS (
    SELECT o.n AS first, c.n AS last FROM odd o JOIN odd c ON c.k = o.k + 1 WHERE o.k % 2 = 1
), members AS MATERIALIZED (
    SELECT s.first, g.n FROM spans s, generate_series(s.first, s.last) AS g(n)
), joined AS (
    SELECT m.first AS line_number, string_agg(l.line, E'\\n' ORDER BY l.n) AS rec
    FROM members m JOIN huiliu_lines l USING (n) GROUP BY m.first
), singles AS (
    SELECT l.n AS line_number, l.line AS rec FROM huiliu_lines l
    WHERE l.n > 1 AND NOT EXISTS (SELECT 1 FROM members m WHERE m.n = l.n)
)
SELECT line_number::integer, rec
FROM (SELECT * FROM singles UNION ALL SELECT * FROM joined) r
WHERE line_number <= (SELECT coalesce(max(n), 0) FROM huiliu_lines WHERE line <> '')
"""

_OPEN_RECORD_START = """
WITH l AS (
    SELECT n, ((length(line) - length(replace(line, '"', ''))) % 2) AS odd FROM huiliu_lines
), p AS (SELECT n, sum(odd) OVER (ORDER BY n) - odd AS open_before FROM l)
SELECT max(n) FROM p WHERE open_before % 2 = 0
"""


def _supersede(conn: psycopg.Connection, manifest: Manifest, entry: FileEntry,
               file_id: int) -> None:
    """The newly loaded file counts; the earlier delivery's file of its dataset does not."""
    conn.execute(
        "UPDATE governance.batch_files SET status = 'superseded', superseded_by = %s "
        "WHERE source = %s AND batch_date = %s AND dataset = %s AND status = 'loaded' "
        "AND file_id <> %s",
        (file_id, manifest.source, manifest.batch_date, entry.dataset, file_id),
    )
