"""A file's physical lines → its records → `raw.<dataset>`, in PostgreSQL, set-based.

The loader COPYs the physical lines of a file into `huiliu_lines (n, line)` (header = line 1).
The contract's CSV is read as a lenient RFC 4180 reader does: a `"` opens a quoted field only
as the first character of a field (at the start of a record or right after a comma); inside a
quoted field `""` is a quote and the next lone `"` closes it; a record continues onto the next
physical line only while a quoted field is open. Any other `"` (a stray quote, `王"小`) is a
character of its field and opens nothing: its record stays one record, `raw.csv_fields` gives
it no fields (NULL) and staging keeps it aside as `field_count`, while its neighbours load.

How, without a loop over lines: whether a line, entered outside a quoted field, ends inside one
is a property of the line alone (the regex OPEN); entered inside one, the line behaves as
`'"' || line` entered outside. Lines without a quote never change the state. So
1. the *openers* are the lines that end inside a quoted field when entered outside (one regex
   per line holding a quote; few in most files, even in files where every field is quoted);
2. for each opener, the first line after it, up to the next opener, that ends outside when
   entered inside (an index range scan that stops at the first such line: every line is
   looked at once at most);
3. a window over those few lines composes their effects on the state (a line either sets it,
   or, entered inside it closes and entered outside it opens: it flips it), which gives the
   spans of the multi-line records. An opening quote still open at the end of the file is a
   span without an end: the file is truncated;
4. a span's lines are joined into one record; every other line is a record of its own.
"""

from __future__ import annotations

import psycopg
from psycopg import sql


def _escape_for_copy(text: str) -> str:
    """Physical lines → COPY text format: one line a row, no field splitting."""
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\r", "\\r")


class LineStream:
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


# One field, complete: quoted (what follows its closing quote up to the comma stays in the
# record, which csv_fields then refuses) or not quoted (empty, or not starting with a quote).
_FIELD = r'(?:"(?:[^"]|"")*"(?:[^,"][^,]*)?|(?:[^,"][^,]*)?)'
# The line, entered outside a quoted field, ends inside one (its last field's quote is open).
OPEN = rf'^(?:{_FIELD},)*"(?:[^"]|"")*$'
assert "'" not in OPEN
_LAST = 9223372036854775807

_OPENERS = f"""
CREATE TEMP TABLE huiliu_openers ON COMMIT DROP AS
SELECT n FROM huiliu_lines
WHERE n > 1 AND CASE WHEN strpos(line, '"') > 0 THEN line ~ '{OPEN}' ELSE false END
"""

_SPANS = f"""
CREATE TEMP TABLE huiliu_spans ON COMMIT DROP AS
WITH o AS (
    SELECT n, lead(n) OVER (ORDER BY n) AS next FROM huiliu_openers
), g AS (  -- per opener: the first line of (n, next] that, entered inside, ends outside
    SELECT o.n, o.next, c.n AS closer FROM o LEFT JOIN LATERAL (
        SELECT l.n FROM huiliu_lines l
        WHERE strpos(l.line, '"') > 0 AND l.n > o.n AND l.n <= coalesce(o.next, {_LAST})
          AND NOT ('"' || l.line) ~ '{OPEN}'
        ORDER BY l.n LIMIT 1) c ON true
), r AS (  -- the lines that can change the state: do they end inside when entered outside (o)
           -- and when entered inside (i)? An opener that is no closer is entered outside, or
           -- stays inside: i is true for it.
    SELECT n, true AS o, n IS DISTINCT FROM lag(closer) OVER (ORDER BY n) AS i FROM g
    UNION ALL
    SELECT closer, false, false FROM g WHERE closer < coalesce(next, {_LAST})
), k AS (
    SELECT n, o, i, count(*) FILTER (WHERE o AND NOT i) OVER (ORDER BY n) AS flips FROM r
), s AS (  -- the last line that set the state (o = i): its number, the state, its flip parity
    SELECT n, flips,
           max(CASE WHEN o = i THEN n * 4 + o::int * 2 + flips % 2 END) OVER (ORDER BY n) AS setter
    FROM k
), st AS (  -- inside after the line: what the setter set, flipped once per flip since
    SELECT n, (coalesce(((setter >> 1) # setter) & 1, 0) # (flips % 2)) = 1 AS inside FROM s
), ch AS (
    SELECT n, inside, inside <> coalesce(lag(inside) OVER (ORDER BY n), false) AS changed FROM st
), c AS (  -- the changes alternate: opened, closed, opened, ...
    SELECT n, inside, lead(n) OVER (ORDER BY n) AS next_change FROM ch WHERE changed
)
SELECT n AS first, next_change AS last FROM c WHERE inside
"""

# Lines → records: a span's lines joined, every other line a record of its own; blank lines
# at the end of the file are not records.
_MEMBERS = """
CREATE TEMP TABLE huiliu_members ON COMMIT DROP AS
SELECT s.first, g.n FROM huiliu_spans s, generate_series(s.first, s.last) AS g(n);
ANALYZE huiliu_members  -- a hash of its true size, not of generate_series' 1000 rows a span
"""
_RECORDS = """
CREATE TEMP TABLE huiliu_records ON COMMIT DROP AS
WITH joined AS (
    SELECT m.first AS line_number, string_agg(l.line, E'\\n' ORDER BY l.n) AS rec
    FROM huiliu_members m JOIN huiliu_lines l USING (n) GROUP BY m.first
), singles AS (
    SELECT l.n AS line_number, l.line AS rec FROM huiliu_lines l
    WHERE l.n > 1 AND NOT EXISTS (SELECT 1 FROM huiliu_members m WHERE m.n = l.n)
)
SELECT line_number::integer, rec
FROM (SELECT * FROM singles UNION ALL SELECT * FROM joined) r
WHERE line_number <= (SELECT coalesce(max(n), 0) FROM huiliu_lines WHERE line <> '')
"""

TEMP_TABLES = "huiliu_lines, huiliu_openers, huiliu_spans, huiliu_members, huiliu_records"


def assemble(conn: psycopg.Connection) -> tuple[int, int | None]:
    """huiliu_lines → huiliu_records; (records, line where an unclosed record starts | None)."""
    conn.execute(_OPENERS)
    opener = conn.execute("SELECT 1 FROM huiliu_openers LIMIT 1").fetchone()
    if opener is None:  # no quoted field spans lines: every line is a record
        conn.execute("CREATE TEMP TABLE huiliu_spans (first bigint, last bigint) ON COMMIT DROP")
    else:
        conn.execute("CREATE INDEX huiliu_quoted_lines ON huiliu_lines (n) "
                     "WHERE strpos(line, '\"') > 0")
        conn.execute(_SPANS)
        unclosed = conn.execute("SELECT first FROM huiliu_spans WHERE last IS NULL").fetchone()
        if unclosed is not None:
            return 0, int(unclosed[0])
    conn.execute(_MEMBERS)
    conn.execute(_RECORDS)
    row = conn.execute("SELECT count(*) FROM huiliu_records").fetchone()
    return (int(row[0]) if row else 0), None


# A record whose fields are all quoted and hold no quote (what QUOTE_ALL writers produce):
# its fields are what lies between `","`, ten times faster than csv_fields' regex matches.
ALL_QUOTED = '^"[^"]*"(,"[^"]*")+$'  # two fields at least


def insert_records(conn: psycopg.Connection, dataset: str, columns: tuple[str, ...],
                   header: list[str], file_id: int) -> None:
    """huiliu_records → raw.<dataset>: each column from its field; a record of the wrong
    width (or not RFC 4180) keeps its field count and no value."""
    values = sql.SQL(", ").join(
        sql.SQL("CASE WHEN cardinality(f) = {n} THEN nullif(f[{p}], '') END").format(
            n=sql.Literal(len(header)), p=sql.Literal(header.index(c) + 1))
        for c in columns
    )
    conn.execute(
        sql.SQL(
            "INSERT INTO raw.{table} (file_id, line_number, field_count, {columns}) "
            "WITH r AS MATERIALIZED ("  # split each record once, not once per column
            "  SELECT line_number, CASE WHEN strpos(rec, '\"') = 0 THEN string_to_array(rec, ',') "
            "    WHEN rec ~ {all_quoted} THEN string_to_array(left(substr(rec, 2), -1), '\",\"') "
            "    ELSE raw.csv_fields(rec) END AS f "
            "  FROM huiliu_records) "
            "SELECT {file_id}, line_number, coalesce(cardinality(f), 0), {values} FROM r"
        ).format(table=sql.Identifier(dataset),
                 columns=sql.SQL(", ").join(sql.Identifier(c) for c in columns),
                 all_quoted=sql.Literal(ALL_QUOTED), file_id=sql.Literal(file_id),
                 values=values)
    )
