"""Load one delivered file into `raw.<dataset>`, or reject it whole with its reason.

One read of the file does everything that needs its bytes: sha256, strict decoding in
the declared encoding, the header, and a COPY of its physical lines into a temporary table.
PostgreSQL then assembles records from lines (records.py: a record continues while a quoted
field is open), splits fields, counts records and inserts them into the raw table —
set-based, in the same transaction, so a file that fails any check leaves nothing behind.
An unexpected failure on one file (a bug, a database error) rolls its transaction back and
rejects that file as `load_error`; the other files of the batch still load.

Loads of one batch's dataset take turns (an advisory lock held to commit), and each checks,
once it has the lock, that its manifest is still the folder's: a re-delivery arriving while a
run loads the older one then always supersedes it, whichever run commits first.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import logging
import os
import re
import traceback
from dataclasses import dataclass
from pathlib import Path

import psycopg

from pipelines.contract import DATASETS, ENCODINGS
from pipelines.crashpoints import crash_point
from pipelines.ingest import records
from pipelines.ingest.manifest import MANIFEST, FileEntry, Manifest
from pipelines.lock import hold_until_commit
from pipelines.redact import quoted

CHUNK = 8 * 1024 * 1024
FAULT_AT = "HUILIU_FAULT_AT"
_log = logging.getLogger(__name__)


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
    status: str  # loaded | rejected | unlisted | skipped (already recorded, or its delivery replaced)
    reason: str | None
    message: str | None
    rows_received: int | None
    records_stored: int
    file_id: int | None


def _position(text_before: str, lines_before: int) -> tuple[int, int]:
    """(line, column) of the character after `text_before`, 1-based."""
    line = lines_before + text_before.count("\n") + 1
    column = len(text_before) - (text_before.rfind("\n") + 1) + 1
    return line, column


def _check_header(first_line: str, dataset: str, where: str) -> list[str]:
    first_line = first_line.rstrip("\r")
    if '"' in first_line and re.match(records.OPEN, first_line):
        raise FileRejected("bad_header", f"{where}: line 1: the header ends inside an open quote")
    header = next(csv.reader([first_line]), [])
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


def fault_point(conn: psycopg.Connection, point: str) -> None:
    """Test-only hook: with HUILIU_FAULT_AT=<point>, fail here with a real database error.

    `load_file:<source>/<batch_date>/<path>` fails that file inside its transaction, after
    its records reached raw (a DataError from PostgreSQL, leaving the transaction failed), so
    a test sees the rollback and the `load_error` rejection without mocking the database.
    Never set it outside tests.
    """
    if os.environ.get(FAULT_AT) == point:
        conn.execute("SELECT 'HUILIU_FAULT_AT'::integer")


def load_file(conn: psycopg.Connection, manifest: Manifest, entry: FileEntry) -> FileOutcome:
    """Load or reject one file; records it in governance.batch_files either way."""
    where = f"{manifest.label}/{entry.path}"
    if skipped := _recorded(conn, manifest, entry):  # the same delivery twice changes nothing
        return skipped
    try:
        with conn.transaction():
            file_id, stored = _load(conn, manifest, entry, where)
        return FileOutcome(manifest.source, manifest.batch_date.isoformat(), entry.dataset,
                           entry.path, "loaded", None, None, entry.rows, stored, file_id)
    except _Replaced as replaced:
        _log.warning("%s", replaced.message)
        return FileOutcome(manifest.source, manifest.batch_date.isoformat(), entry.dataset,
                           entry.path, "skipped", None, replaced.message, entry.rows, 0, None)
    except FileRejected as rejected:
        fault = rejected
    except Exception as exc:  # huiliu failed on this file: its transaction rolled back
        fault = _load_error(conn, where, exc)
    rejected_id = record_file(conn, manifest, entry, "rejected", fault.reason, fault.message)
    if rejected_id is None:  # another run recorded this delivery's file meanwhile
        recorded = _recorded(conn, manifest, entry)
        assert recorded is not None
        return recorded
    return FileOutcome(manifest.source, manifest.batch_date.isoformat(), entry.dataset,
                       entry.path, "rejected", fault.reason, fault.message, entry.rows, 0,
                       rejected_id)


class _AlreadyRecorded(FileRejected):
    """Another run recorded this delivery's file while this one loaded it: nothing to do."""


class _Replaced(FileRejected):
    """The folder's manifest is no longer this delivery's: the newer delivery's run loads the
    file (what this run would read is the newer file), so nothing is recorded under this one."""


def _take_turn(conn: psycopg.Connection, manifest: Manifest, entry: FileEntry, where: str) -> None:
    """Wait for other loads of this batch's dataset; then go on only if this delivery still counts."""
    hold_until_commit(conn, f"huiliu.load:{manifest.label}/{entry.dataset}")
    if _recorded(conn, manifest, entry):
        raise _AlreadyRecorded("skipped", where)
    try:
        current = hashlib.sha256((manifest.directory / MANIFEST).read_bytes()).hexdigest()
    except FileNotFoundError:
        current = None  # the batch is being delivered again: its new manifest comes last
    if current != manifest.delivery:
        raise _Replaced("skipped", f"{where}: a newer delivery of {manifest.label} replaced this one "
                                   "before this file loaded; that delivery's run loads it")


def _recorded(conn: psycopg.Connection, manifest: Manifest, entry: FileEntry
              ) -> FileOutcome | None:
    """The `skipped` outcome of a file this delivery already recorded, else None."""
    row = conn.execute(
        "SELECT file_id, reason, rows_received FROM governance.batch_files "
        "WHERE delivery = %s AND dataset = %s AND path = %s",
        (manifest.delivery, entry.dataset, entry.path),
    ).fetchone()
    return FileOutcome(manifest.source, manifest.batch_date.isoformat(), entry.dataset,
                       entry.path, "skipped", row[1], None, row[2], 0, row[0]) if row else None


def _load_error(conn: psycopg.Connection, where: str, exc: Exception) -> FileRejected:
    """The file's rejection for an unexpected failure: the error's class, never its text
    (a database error may quote a value); the run log gets where in huiliu it happened."""
    if conn.closed:
        raise exc
    if conn.info.transaction_status == psycopg.pq.TransactionStatus.INERROR:
        conn.rollback()  # later files load on this connection
    name = type(exc).__name__
    frames = traceback.extract_tb(exc.__traceback__)
    _log.error("%s: load_error: %s%s at %s", where, name,
               f" (SQLSTATE {exc.sqlstate})" if isinstance(exc, psycopg.Error) else "",
               " < ".join(f"{Path(f.filename).name}:{f.lineno}" for f in reversed(frames[-4:])))
    return FileRejected("load_error",
                        f"{where}: load_error: {name} (huiliu failed on this file; see the run log)")


def record_file(conn: psycopg.Connection, manifest: Manifest, entry: FileEntry, status: str,
                reason: str | None, message: str | None) -> int | None:
    """One row of governance.batch_files; None if this delivery's file is already there."""
    row = conn.execute(
        "INSERT INTO governance.batch_files (source, batch_date, delivery, dataset, path, "
        "encoding, mode, status, reason, message, rows_received) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
        "ON CONFLICT (delivery, dataset, path) DO NOTHING RETURNING file_id",
        (manifest.source, manifest.batch_date, manifest.delivery, entry.dataset, entry.path,
         entry.encoding or None, entry.mode or None, status, reason, message,
         entry.rows if reason != "manifest_unreadable" else None),
    ).fetchone()
    return int(row[0]) if row else None


def _load(conn: psycopg.Connection, manifest: Manifest, entry: FileEntry, where: str
          ) -> tuple[int, int]:
    _take_turn(conn, manifest, entry, where)
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
    header = _stream(conn, path, entry, where)
    count, unclosed = records.assemble(conn)
    if unclosed is not None:
        raise FileRejected("truncated", f"{where}: the record starting at line {unclosed} "
                                        "ends inside an open quote")
    if count != entry.rows:
        raise FileRejected("row_count_mismatch",
                           f"{where}: the manifest declares {entry.rows} rows, "
                           f"the file holds {count} records")

    file_id = record_file(conn, manifest, entry, "loaded", None, None)
    if file_id is None:
        raise _AlreadyRecorded("skipped", where)
    records.insert_records(conn, entry.dataset, DATASETS[entry.dataset].column_names, header,
                           file_id)
    fault_point(conn, f"load_file:{where}")
    _supersede(conn, manifest, entry, file_id)
    conn.execute(f"DROP TABLE {records.TEMP_TABLES}")
    return file_id, count


def _stream(conn: psycopg.Connection, path: Path, entry: FileEntry, where: str
            ) -> list[str]:
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
    lines_before = 0

    with conn.cursor() as cur, cur.copy("COPY huiliu_lines (line) FROM STDIN") as copy:
        stream = records.LineStream(copy)
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
                crash_point("copy")  # test-only: killed with the COPY and its transaction open
        if decoder is not None and encoding_fault is None:
            try:
                tail = decoder.decode(b"", final=True)
            except UnicodeDecodeError as exc:
                encoding_fault = f"{where}: the file ends inside a multi-byte character ({exc})"
                tail = ""
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
    return header


def _supersede(conn: psycopg.Connection, manifest: Manifest, entry: FileEntry,
               file_id: int) -> None:
    """The newly loaded file counts; the earlier delivery's file of its dataset does not."""
    conn.execute(
        "UPDATE governance.batch_files SET status = 'superseded', superseded_by = %s "
        "WHERE source = %s AND batch_date = %s AND dataset = %s AND status = 'loaded' "
        "AND file_id <> %s",
        (file_id, manifest.source, manifest.batch_date, entry.dataset, file_id),
    )
