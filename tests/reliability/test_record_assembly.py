"""Lines → records (pipelines/ingest/records.py) against a reference reader written in Python.

The reference is the contract's lenient RFC 4180 reading, character by character: a quote
opens a quoted field only as a field's first character, `""` inside is a quote, the next
lone quote closes it, and a record continues onto the next line only while a quoted field
is open. Random texts over the characters that matter (`a`, `,`, `"`, line ends) are assembled
by PostgreSQL and by the reference; both must agree on every record (its start line and text)
and on where an unclosed record starts.
"""

from __future__ import annotations

import random

import psycopg
import pytest

from pipelines.ingest import records


def ends_inside(line: str, inside: bool) -> bool:
    """The reference: does `line`, entered inside (or outside) a quoted field, end inside one?"""
    state = "quoted" if inside else "field_start"
    i = 0
    while i < len(line):
        ch = line[i]
        if state == "quoted":
            if ch == '"':
                if line[i + 1: i + 2] == '"':
                    i += 1  # "" is a quote
                else:
                    state = "plain"  # closed; what follows up to the comma stays in the field
        elif ch == ",":
            state = "field_start"
        elif state == "field_start":
            state = "quoted" if ch == '"' else "plain"
        i += 1
    return state == "quoted"


def reference_records(text: str) -> tuple[list[tuple[int, str]], int | None]:
    """(start line, record) of every data record, and the start of an unclosed one."""
    lines = text.split("\n")
    if text.endswith("\n"):
        lines.pop()
    out: list[tuple[int, str]] = []
    start, parts, inside = 0, [], False
    for n, line in enumerate(lines[1:], start=2):
        if not inside:
            start, parts = n, []
        parts.append(line)
        inside = ends_inside(line, inside)
        if not inside:
            out.append((start, "\n".join(parts)))
    if inside:
        return [], start
    last = max((n for n, line in enumerate(lines, start=1) if line), default=0)
    return [(n, r) for n, r in out if n <= last], None


def sql_records(conn: psycopg.Connection, text: str) -> tuple[list[tuple[int, str]], int | None]:
    with conn.transaction(force_rollback=True):
        conn.execute("SET LOCAL jit = off")  # as the loader does
        conn.execute("CREATE TEMP TABLE huiliu_lines "
                     "(n bigint GENERATED ALWAYS AS IDENTITY, line text) ON COMMIT DROP")
        with conn.cursor() as cur, cur.copy("COPY huiliu_lines (line) FROM STDIN") as copy:
            stream = records.LineStream(copy)
            stream.write(text)
            stream.close()
        _, unclosed = records.assemble(conn)
        if unclosed is not None:
            return [], unclosed
        got = conn.execute("SELECT line_number, rec FROM huiliu_records ORDER BY 1").fetchall()
        return [(int(n), r) for n, r in got], None


ALPHABET = ["a", "a", "b,", ",", '"', '"', '""', "\n", "\n", "x\n"]


def random_text(rng: random.Random) -> str:
    return "h,h\n" + "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 40)))


def test_line_states_match_the_reference(conn):
    rng = random.Random(4180)
    lines = sorted({"".join(rng.choice(['"', '"', ",", "a", '""', "b"])
                            for _ in range(rng.randint(0, 12))) for _ in range(4000)})
    got = conn.execute(
        "SELECT l, l ~ %(open)s, ('\"' || l) ~ %(open)s FROM unnest(%(lines)s::text[]) AS l",
        {"open": records.OPEN, "lines": lines}).fetchall()
    wrong = [(line, o, i) for line, o, i in got
             if (o, i) != (ends_inside(line, False), ends_inside(line, True))]
    assert wrong == []


@pytest.mark.parametrize("text, expected", [
    ('h\na,王"小,b\nc\n', ([(2, 'a,王"小,b'), (3, "c")], None)),  # a stray quote opens nothing
    ('h\n1,王"小\n2\n3,李"四,x\n4\n', ([(2, '1,王"小'), (3, "2"), (4, '3,李"四,x'), (5, "4")], None)),
    ('h\n"a\nb",c\nd\n', ([(2, '"a\nb",c'), (4, "d")], None)),  # a quoted line break
    ('h\n"a\n\nb"\n\n\n', ([(2, '"a\n\nb"')], None)),  # blank lines in a field; at the end
    ('h\n"a""\nb"\n', ([(2, '"a""\nb"')], None)),  # "" then a line end: still open
    ('h\nx,"a\nb","c\nd"\n', ([(2, 'x,"a\nb","c\nd"')], None)),  # closes and re-opens
    ('h\nx"y,"a\nb\n', ([], 2)),  # a stray quote, then an opening one never closed
    ('h\nok\n"never closed\nmore\n', ([], 3)),
])
def test_examples(conn, text, expected):
    assert sql_records(conn, text) == expected == reference_records(text)


def test_random_texts_match_the_reference(conn):
    rng = random.Random(20261103)
    for _ in range(250):
        text = random_text(rng)
        assert sql_records(conn, text) == reference_records(text), repr(text)


def test_all_quoted_fast_path_splits_like_csv_fields(conn):
    """Records whose fields are all quoted and hold no quote skip csv_fields: same fields."""
    rng = random.Random(7)
    recs = [",".join('"' + "".join(rng.choice(["a", ",", "\n", " ", "嵊", "𠀀"])
                                   for _ in range(rng.randint(0, 5))) + '"'
                     for _ in range(rng.randint(1, 6))) for _ in range(500)]
    fast, differ = conn.execute(
        "SELECT count(*), count(*) FILTER (WHERE string_to_array(left(substr(rec, 2), -1), "
        "'\",\"') IS DISTINCT FROM raw.csv_fields(rec)) FROM unnest(%s::text[]) AS rec WHERE rec ~ %s",
        (recs, records.ALL_QUOTED)).fetchone()
    assert (fast > 300, differ) == (True, 0)
