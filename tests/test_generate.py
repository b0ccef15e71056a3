"""The synthetic batch generator, checked against an independent reading of the contract.

Small populations (a few hundred to 1,500 people) keep this fast; the oracle in
tests/oracle.py re-parses every written file with the csv module.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import statistics
from collections import Counter
from pathlib import Path

import pytest
from support import oracle

from huiliu_dev.generate import add_arguments, generate, run_from_args
from pipelines.contract import DATASETS, Dataset
from pipelines.topology import load_topology

TOPO = load_topology()
D0 = TOPO.first_batch_date
D1 = D0 + dt.timedelta(days=1)
D2 = D0 + dt.timedelta(days=2)
PEOPLE = 1500
SEED = 11


def _entries(root: Path, day: dt.date):
    """(source, batch dir, manifest entry) for every file of a date."""
    for source in TOPO.sources:
        batch = root / source / day.isoformat()
        for entry in oracle.manifest(batch)["files"]:
            yield source, batch, entry


def _summary(root: Path, day: dt.date) -> dict:
    return json.loads((root / "summary" / f"{day.isoformat()}.json").read_text("utf-8"))


def _path(root: Path, day: dt.date, dataset: str) -> tuple[Path, str]:
    source = DATASETS[dataset].source
    batch = root / source / day.isoformat()
    entry = next(e for e in oracle.manifest(batch)["files"] if e["dataset"] == dataset)
    return batch / entry["path"], entry["encoding"]


def _loaded(root: Path, day: dt.date, dataset: str) -> list[oracle.Row]:
    path, encoding = _path(root, day, dataset)
    return oracle.loaded(path, dataset, encoding)


def _state(root: Path, days: list[dt.date], dataset: str) -> dict:
    state: dict = {}
    for day in days:
        path, enc = _path(root, day, dataset)
        oracle.fold(state, path, dataset, enc)
    return state


def _household_ids(root: Path, day: dt.date) -> set[str]:
    """Every valid person of the file, including the ones a tie keeps aside."""
    path, enc = _path(root, day, "household_registration")
    return {
        oracle.id_key(r.values["id_number"])
        for r in oracle.parse(path, "household_registration", enc)
        if r.reason in (None, "duplicate_key")
    }


def _expected_rules(ds: Dataset) -> set[str]:
    kinds = {c.kind for c in ds.columns}
    rules = {"field_count", "missing_required", "bad_date", "unknown_division"}
    rules |= {"bad_op"} if ds.mode == "delta" else {"duplicate_key"}
    rules |= {"bad_id_number"} if "id_number" in kinds else set()
    rules |= {"bad_uscc"} if kinds & {"uscc", "uscc_optional"} else set()
    rules |= {"bad_number"} if "amount" in kinds else set()
    rules |= {"bad_code"} if "code" in kinds else set()
    return rules


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("landing")
    for day in (D0, D1, D2):
        generate(root, day, people=PEOPLE, seed=SEED)
    return root


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    generate(a, D0, people=400, seed=5)
    generate(b, D0, people=400, seed=5)
    generate(c, D0, people=400, seed=6)
    assert _tree(a) == _tree(b)
    hh = "province/" + D0.isoformat() + "/household_registration.csv"
    assert _tree(a)[hh] != _tree(c)[hh]


def test_a_date_does_not_depend_on_earlier_runs(landing: Path, tmp_path: Path) -> None:
    generate(tmp_path, D1, people=PEOPLE, seed=SEED)
    for source in TOPO.sources:
        mine = _tree(tmp_path / source / D1.isoformat())
        assert mine == _tree(landing / source / D1.isoformat())


@pytest.mark.parametrize("day", [D0, D1])
def test_manifests_match_files(landing: Path, day: dt.date) -> None:
    for source in TOPO.sources:
        batch = landing / source / day.isoformat()
        doc = oracle.manifest(batch)
        assert doc["source"] == source and doc["batch_date"] == day.isoformat()
        code = {"province": "ZJ", "city": "SX"}[source]
        assert doc["batch_id"] == f"{code}-{TOPO.county_code}-{day:%Y%m%d}-01"
        assert doc["created_at"].endswith("+08:00")
        assert [e["dataset"] for e in doc["files"]] == list(TOPO.sources[source])
        for e in doc["files"]:
            assert e["mode"] == DATASETS[e["dataset"]].mode
            assert oracle.check_file(batch, e) is None
            assert (batch / "manifest.json").stat().st_mtime_ns >= (
                batch / e["path"]
            ).stat().st_mtime_ns
        assert sorted(p.name for p in batch.iterdir()) == sorted(
            ["manifest.json", *(e["path"] for e in doc["files"])]
        )


@pytest.mark.parametrize("day", [D0, D1, D2])
def test_summary_agrees_with_independent_oracle(landing: Path, day: dt.date) -> None:
    summary = _summary(landing, day)
    assert summary["batch_date"] == day.isoformat() and summary["seed"] == SEED
    assert summary["people"] == PEOPLE and "rejected_files" not in summary
    days = [d for d in (D0, D1, D2) if d <= day]
    for source, batch, e in _entries(landing, day):
        name = e["dataset"]
        expected = summary["files"][f"{source}/{name}"]
        kept = oracle.classify_file(batch / e["path"], name, e["encoding"])
        assert expected["rows"] == e["rows"]
        assert expected["kept_aside"] == dict(Counter(reason for _, reason, _ in kept))
        assert expected["rows_loaded"] == e["rows"] - len(kept)
        if DATASETS[name].mode == "snapshot":
            state = oracle.count_valid(batch / e["path"], name, e["encoding"])
        else:
            folded = _state(landing, days, name)
            state = dict(
                sorted(Counter(r.values["division_code"] for r in folded.values()).items())
            )
        assert summary["current_state"][name] == state, name


def test_every_applicable_rule_is_planted_once_at_least(landing: Path) -> None:
    ties = 0
    for day in (D0, D1):
        for _, batch, e in _entries(landing, day):
            ds = DATASETS[e["dataset"]]
            rows = oracle.parse(batch / e["path"], ds.name, e["encoding"])
            assert {r.reason for r in rows if r.reason} == _expected_rules(ds), ds.name
            for r in rows:
                if r.reason == "field_count":
                    assert r.column is None
                elif r.reason == "duplicate_key":
                    assert r.column == ",".join(ds.key)
                elif r.reason:
                    assert r.column in ds.column_names
            dups = Counter(
                (r.key(ds), r.values["updated_at"]) for r in rows if r.reason == "duplicate_key"
            )
            ties += sum(1 for n in dups.values() if n >= 2)
    assert ties > 0  # some duplicate is a tie on the latest updated_at


def test_planted_rows_use_fresh_keys(landing: Path) -> None:
    """Rows kept aside (but duplicates) never touch a key of the current state."""
    for day in (D0, D1):
        for _, batch, e in _entries(landing, day):
            ds = DATASETS[e["dataset"]]
            rows = oracle.parse(batch / e["path"], ds.name, e["encoding"])
            live = {r.key(ds) for r in rows if r.reason is None}
            if ds.mode == "delta":
                live |= set(_state(landing, [D0, D1], ds.name))
            for r in rows:
                if r.reason in (None, "field_count", "duplicate_key", "missing_required"):
                    continue
                ids_ok = all(
                    oracle.id_valid(r.values[k]) for k in ds.key if ds.column(k).kind == "id_number"
                )
                if ids_ok:
                    assert r.key(ds) not in live, (ds.name, r.line, r.reason)


def test_line_numbers_are_where_records_start(landing: Path) -> None:
    path, enc = _path(landing, D0, "floating_population")
    lines = path.read_text(encoding="utf-8").split("\n")
    header, recs = oracle.records(path, enc)
    assert any(b[0] - a[0] > 1 for a, b in zip(recs, recs[1:], strict=False))  # multi-line
    for line, fields in recs:
        raw = lines[line - 1]
        assert raw.startswith(fields[0]) or raw.startswith('"')


def test_identity_numbers_match_birth_date_and_gender(landing: Path) -> None:
    rows = _loaded(landing, D0, "household_registration")
    assert len(rows) > PEOPLE * 0.8
    for r in rows:
        key = oracle.id_key(r.values["id_number"])
        assert key[6:14] == r.values["birth_date"].replace("-", "")
        assert int(key[16]) % 2 == (1 if r.values["gender"] == "1" else 0)
    assert len({oracle.id_key(r.values["id_number"]) for r in rows}) == len(rows)
    for r in _loaded(landing, D0, "floating_population"):
        key = oracle.id_key(r.values["id_number"])
        assert r.values["origin_division_code"] == key[:6] != TOPO.county_code
    for r in _loaded(landing, D0, "disability_certificates"):
        v = r.values
        key = oracle.id_key(v["id_number"])
        assert v["certificate_no"] == key + v["disability_type"] + v["disability_grade"]


def test_datasets_refer_to_the_same_people(landing: Path) -> None:
    for day in (D0, D1):
        people = _household_ids(landing, day)
        for name in ("elderly_subsidy", "disability_certificates"):
            ids = {oracle.id_key(r.values["id_number"]) for r in _loaded(landing, day, name)}
            assert ids and ids <= people, name
        days = [D0] if day == D0 else [D0, D1]
        insured = {k[0] for k in _state(landing, days, "social_insurance")}
        assert insured and insured <= people
        dead = {k[0] for k in _state(landing, days, "death_records")}
        assert dead and not dead & people  # the dead have left the register
    reported = {
        oracle.id_key(r.values["id_number"])
        for r in _loaded(landing, D1, "death_records")
        if r.values["op"] == "I"
    }
    assert reported <= _household_ids(landing, D0)
    everyone = _household_ids(landing, D0) | {k[0] for k in _state(landing, [D0], "death_records")}
    reps = [
        oracle.id_key(r.values["legal_rep_id_number"])
        for r in _loaded(landing, D0, "enterprise_registry")
    ]
    assert reps and all(rep in everyone for rep in reps)
    path, enc = _path(landing, D0, "enterprise_registry")
    employers = {
        r.values["uscc"]
        for r in oracle.parse(path, "enterprise_registry", enc)
        if r.reason in (None, "duplicate_key")  # a tie keeps an enterprise aside
    }
    used = {r.values["employer_uscc"] for r in _state(landing, [D0], "social_insurance").values()}
    assert used - {""} and used - {""} <= employers  # workers' employers are registered


def _age(birth: str, on: dt.date) -> int:
    b = dt.date.fromisoformat(birth)
    return on.year - b.year - ((on.month, on.day) < (b.month, b.day))


def test_ages_are_plausible(landing: Path) -> None:
    births = {
        oracle.id_key(r.values["id_number"]): r.values["birth_date"]
        for r in _loaded(landing, D0, "household_registration")
    }
    now = D0.year * 12 + D0.month - 1
    months = {f"{m // 12}-{m % 12 + 1:02d}" for m in (now - 2, now - 1, now)}
    subsidy = _loaded(landing, D0, "elderly_subsidy")
    assert subsidy
    for r in subsidy:
        period = dt.date.fromisoformat(r.values["period"] + "-01")
        end = (period + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
        assert r.values["period"] in months
        assert _age(births[oracle.id_key(r.values["id_number"])], end) >= 80
    death_ages = []
    for row in _state(landing, [D0], "death_records").values():
        key = oracle.id_key(row.values["id_number"])
        born = f"{key[6:10]}-{key[10:12]}-{key[12:14]}"
        died = dt.date.fromisoformat(row.values["died_on"])
        assert died <= D0
        death_ages.append(_age(born, died))
    assert min(death_ages) >= 0 and statistics.median(death_ages) >= 65
    disabled = len(_loaded(landing, D0, "disability_certificates"))
    assert 0.03 * len(births) < disabled < 0.08 * len(births)


def test_deltas_are_changes_of_the_previous_state(landing: Path) -> None:
    ops = Counter()
    for day, history in ((D1, [D0]), (D2, [D0, D1])):
        for name in ("social_insurance", "floating_population", "death_records"):
            ds = DATASETS[name]
            before = _state(landing, history, name)
            rows = _loaded(landing, day, name)
            keys = [r.key(ds) for r in rows]
            assert len(keys) == len(set(keys))  # one change per key and day
            for r in rows:
                op = r.values["op"]
                ops[op] += 1
                assert (r.key(ds) in before) == (op in "UD"), (name, r.line, op)
                assert r.values["updated_at"].startswith(day.isoformat())
            stamps = [r.values["updated_at"] for r in rows]
            assert len(set(stamps)) >= len(stamps) - 1
    assert ops["I"] and ops["U"] and ops["D"]
    for name in ("social_insurance", "floating_population", "death_records"):
        assert {r.values["op"] for r in _loaded(landing, D0, name)} == {"I"}


def test_division_codes_are_real_with_some_town_level(landing: Path) -> None:
    towns = {t.code for t in TOPO.towns}
    share = {}
    for name in ("household_registration", "enterprise_registry"):
        codes = [r.values["division_code"] for r in _loaded(landing, D0, name)]
        town_level = [c for c in codes if c.endswith("000")]
        assert all(c[:9] in towns for c in town_level)
        share[name] = len(town_level) / len(codes)
    assert 0 < share["household_registration"] < share["enterprise_registry"]
    assert len(_loaded(landing, D0, "enterprise_registry")) == pytest.approx(PEOPLE / 20, rel=0.2)


def test_valid_mess_is_there(landing: Path) -> None:
    raw: dict[str, list[dict[str, str]]] = {}
    for _, batch, e in _entries(landing, D0):
        header, recs = oracle.records(batch / e["path"], e["encoding"])
        raw[e["dataset"]] = [dict(zip(header, f, strict=False)) for _, f in recs]
    ids = [r.get("id_number", "") for rows in raw.values() for r in rows]
    assert any(i.endswith("x") for i in ids)
    assert any(len(i) == 15 and i.isdigit() for i in ids)
    assert any("０" <= ch <= "９" for i in ids for ch in i)
    assert any(i != i.strip() for i in ids)
    phones = [r.get("phone", "") for rows in raw.values() for r in rows]
    assert any(p.startswith("+86 ") for p in phones)
    assert any(re.fullmatch(r"1\d\d \d{4} \d{4}", p) for p in phones)
    names = [r.get("name", "") for rows in raw.values() for r in rows]
    assert any("·" in n for n in names)
    assert any(any(ord(ch) > 0xFFFF for ch in n) for n in names)
    remarks = [r.get("remarks", "") for r in raw["floating_population"]]
    assert any("\n" in m for m in remarks) and any('"' in m for m in remarks)
    assert any(re.search(r"1\d{10}", m) for m in remarks)

    def head(name: str) -> bytes:
        return _path(landing, D0, name)[0].read_bytes()

    assert head("elderly_subsidy").startswith(b"\xef\xbb\xbf")
    assert b"\r\n" in head("enterprise_registry")
    assert _path(landing, D0, "household_registration")[1] == "gb18030"
    with pytest.raises(UnicodeDecodeError):
        head("household_registration").decode("utf-8")
    shuffled = [
        n
        for n in DATASETS
        if oracle.records(*_path(landing, D0, n))[0] != list(DATASETS[n].column_names)
    ]
    assert shuffled


def test_faulty_files(tmp_path: Path) -> None:
    first = generate(tmp_path, D0, people=500, seed=2, faulty_files=True)
    assert all(
        v == {}
        for k, v in first["current_state"].items()
        if f"{DATASETS[k].source}/{k}" in first["rejected_files"]
    )
    generate(tmp_path, D0, people=500, seed=2)  # a corrected re-send of D0
    summary = generate(tmp_path, D1, people=500, seed=2, faulty_files=True)
    rejected = summary["rejected_files"]
    assert sorted(rejected.values()) == sorted(
        ["sha256_mismatch", "bad_header", "bad_encoding", "row_count_mismatch"]
    )
    for source, batch, e in _entries(tmp_path, D1):
        key = f"{source}/{e['dataset']}"
        assert oracle.check_file(batch, e) == rejected.get(key), key
        if key in rejected:
            assert summary["files"][key]["rows_loaded"] == 0
            path, enc = _path(tmp_path, D0, e["dataset"])
            before = oracle.count_valid(path, e["dataset"], enc, {})
            assert summary["current_state"][e["dataset"]] == before  # D-1's state stands
        else:
            state = oracle.count_valid(batch / e["path"], e["dataset"], e["encoding"])
            assert summary["current_state"][e["dataset"]] == state


def test_a_failed_run_leaves_no_manifest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from huiliu_dev.generate import batch

    generate(tmp_path, D0, people=300, seed=1)

    def boom(*args: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(batch.gen, "floating", boom)
    with pytest.raises(RuntimeError):
        generate(tmp_path, D0, people=300, seed=1)
    for source in TOPO.sources:
        left = [p.name for p in (tmp_path / source / D0.isoformat()).iterdir()]
        assert "manifest.json" not in left and not any(n.endswith(".tmp") for n in left)


def test_cli_prints_counts_and_paths_only(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(
        [
            "--landing",
            str(tmp_path),
            "--date",
            D0.isoformat(),
            "--people",
            "300",
            "--seed",
            "4",
            "--faulty-files",
        ]
    )
    assert run_from_args(args) == 0
    out, err = capsys.readouterr()
    assert (tmp_path / "summary" / f"{D0.isoformat()}.json").exists()
    text = out + err
    assert not re.search(r"\d{11}", text) and not re.search(r"[\u4e00-\u9fff]", text)
    early = parser.parse_args(["--landing", str(tmp_path), "--date", "2026-10-01"])
    assert run_from_args(early) == 1
    assert "before first_batch_date" in capsys.readouterr().err
