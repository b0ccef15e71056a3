"""Another county by configuration: a division list becomes a partitions.yaml every command accepts."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
import yaml
from support.divisions import HEADER, another_county

from pipelines.cli import main
from pipelines.divisions import DivisionsError, from_divisions
from pipelines.topology import DEFAULT_PATH, TopologyError, load_topology, parse_topology

SHENGZHOU = Path(__file__).resolve().parents[2] / "shared" / "data" / "shengzhou_divisions.csv"
def test_the_countys_own_list_gives_back_its_towns_and_villages(tmp_path):
    if not SHENGZHOU.exists():
        pytest.skip("../shared is not beside the project")
    written = load_topology(_write(tmp_path, from_divisions(SHENGZHOU, "330683", "嵊州市")))
    current = load_topology(DEFAULT_PATH)
    assert written.towns == current.towns and written.villages == current.villages
    assert written.departments == current.departments and written.sources == current.sources
    assert written.grants == ()  # grants are the county's own decisions


def test_another_county_is_written_checked_and_loaded(tmp_path, capsys):
    csv_file = another_county(tmp_path / "other.csv")
    out = tmp_path / "other.yaml"
    assert main(["topology", "from-divisions", str(csv_file), "--county", "339902", "--name", "示例二县",
                 "--out", str(out)]) == 0
    assert main(["topology", "check", str(out)]) == 0
    assert "county 339902 示例二县" in capsys.readouterr().out
    t = load_topology(out)
    assert (t.county_code, len(t.towns), len(t.villages)) == ("339902", 3, 4 + 5 + 6)
    assert {v.town_code for v in t.villages} == {u.code for u in t.towns}


@pytest.mark.parametrize(("lines", "expected"), [
    ("339902101,甲镇,town,339902\n339902109201,一村,village,339902109\n",
     [r"other.csv:3: column parent_code: village 339902109201 is under 339902109"]),
    ("339902101,甲镇,town,339902\n339902101201,一村,village,339902101\n339902101201,二村,village,339902101\n",
     [r"other.csv:4: column code: duplicate code 339902101201 \(also line 3\)"]),
    ("339902101,甲镇,town,339902\n339902101201,,village,339902101\n339902101202,二村,hamlet,339902101\n"
     "330683001,剡湖街道,town,330683\n339902101000,三村,village,339902101\n",
     [r"other.csv:3: column name", r"other.csv:4: column level", r"other.csv:5: column code: town 330683001",
      r"other.csv:6: column code: village 339902101000 ends in 000"]),
])
def test_a_broken_list_is_refused_naming_every_line(tmp_path, lines, expected):
    path = tmp_path / "other.csv"
    path.write_text(HEADER + lines, encoding="utf-8")
    with pytest.raises(DivisionsError) as refused:
        from_divisions(path, "339902", "示例二县")
    for pattern in expected:
        assert re.search(pattern, str(refused.value)), str(refused.value)
    assert main(["topology", "from-divisions", str(path), "--county", "339902", "--name", "x"]) == 1


def test_a_wrong_header_or_county_code_is_refused(tmp_path):
    path = tmp_path / "other.csv"
    path.write_text("code,name,level\n339902101,甲镇,town\n", encoding="utf-8")
    with pytest.raises(DivisionsError, match=r"other.csv:1: the header must be code,name,level,parent_code"):
        from_divisions(path, "339902", "示例二县")
    with pytest.raises(DivisionsError, match="6-digit"):
        from_divisions(another_county(path), "33990", "示例二县")


def test_quoted_dates_are_dates_and_a_bad_one_is_named():
    doc = yaml.safe_load(DEFAULT_PATH.read_text(encoding="utf-8"))
    doc["first_batch_date"] = "2026-11-01"
    doc["grants"][0]["expires"] = "2027-12-31"
    t = parse_topology(doc)
    assert t.first_batch_date == dt.date(2026, 11, 1) and t.grants[0].expires == dt.date(2027, 12, 31)
    doc["grants"][1]["expires"] = "2027-13-01"
    with pytest.raises(TopologyError, match=r"grants\[1\]\.expires: '2027-13-01' is not a YYYY-MM-DD date"):
        parse_topology(doc)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "partitions.yaml"
    path.write_text(text, encoding="utf-8")
    return path
