"""One batch date: stream every dataset's file, then the manifests, then the summary.

Entities are visited in fixed-size chunks; each chunk feeds every file that draws on
it (a resident chunk feeds five of them), so memory holds one chunk plus per-division
counters, whatever the number of people.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from huiliu_dev.generate import datasets as gen
from huiliu_dev.generate.days import day_number, to_date
from huiliu_dev.generate.enterprises import Enterprises
from huiliu_dev.generate.faults import DROPPED_COLUMN, FILE_FAULTS, Planter
from huiliu_dev.generate.floating import FloatingSlots
from huiliu_dev.generate.residents import Residents
from huiliu_dev.generate.world import World
from huiliu_dev.generate.writer import CsvFile, FileSpec, sha256_of, tamper, write_json
from pipelines.contract import DATASETS, ROW_REASONS
from pipelines.topology import Topology, load_topology

CHUNK = 20_000
ASSUMES = "all batches from first_batch_date through D applied"

RESIDENT_SNAPSHOTS: dict[str, Callable[[Residents, int], gen.Emitted]] = {
    "household_registration": gen.household,
    "disability_certificates": gen.disability,
    "elderly_subsidy": gen.subsidy,
}
RESIDENT_DELTAS: dict[str, Callable[[Residents, int, bool], gen.Emitted]] = {
    "social_insurance": gen.insurance,
    "death_records": gen.deaths,
}


def _shuffled(n: int, seed: int) -> tuple[int, ...]:
    order = list(range(n))
    random.Random(seed).shuffle(order)
    if order == sorted(order):
        order = order[1:] + order[:1]
    return tuple(order)


def file_specs(seed: int, faulty: bool) -> dict[str, FileSpec]:
    """Each file's layout: the formats real exports mix, plus faults when asked."""
    specs = {}
    for name, ds in DATASETS.items():
        n = len(ds.columns)
        kw: dict[str, Any] = {"order": tuple(range(n))}
        if name == "household_registration":
            kw.update(codec="gb18030", declared="gb18030")  # older provincial export
        elif name == "elderly_subsidy":
            kw.update(codec="utf-8-sig")  # with a BOM
        elif name == "enterprise_registry":
            kw.update(line_end="\r\n")
        elif name == "death_records":
            kw.update(quote_all=True)
        if name in ("social_insurance", "disability_certificates"):
            kw.update(order=_shuffled(n, seed * 31 + n))
        if name == "disability_certificates":
            kw.update(final_newline=False)
        fault = FILE_FAULTS.get(f"{ds.source}/{name}") if faulty else None
        if fault == "bad_header":
            dropped = ds.column_names.index(DROPPED_COLUMN)
            kw.update(order=tuple(i for i in kw["order"] if i != dropped))
        elif fault == "bad_encoding":
            kw.update(codec="gb18030", declared="utf-8")
        specs[name] = FileSpec(ds, **kw)
    return specs


@dataclass
class Sink:
    """One file being written: the CSV stream, its planted faults, its expected state."""

    name: str
    csv: CsvFile
    planter: Planter
    delta_state: Counter[str] = field(default_factory=Counter)
    sha256: str | None = None

    def add(self, emitted: gen.Emitted) -> None:
        self.csv.write(emitted.block, self.planter.add(emitted.block))
        self.delta_state.update(emitted.state)

    def close(self) -> None:
        extra = self.planter.close()
        self.csv.write(gen.Block.empty(self.name), [(0, p) for p in extra])
        self.sha256 = self.csv.close()
        assert self.planter.rows == self.csv.rows, f"{self.name}: row bookkeeping"

    @property
    def state(self) -> Counter[str]:
        if DATASETS[self.name].mode == "delta":
            return self.delta_state
        return self.planter.state


def _chunks(n: int) -> Iterator[np.ndarray]:
    for lo in range(0, n, CHUNK):
        yield np.arange(lo, min(n, lo + CHUNK), dtype=np.int64)


def _run(
    world: World,
    day: int,
    names: tuple[str, ...],
    specs: dict[str, FileSpec],
    dirs: dict[str, Path] | None,
) -> dict[str, Sink]:
    """Stream the files of `names` for `day` (dirs None: count only, write nothing)."""
    first = day == world.ref
    known = frozenset(world.places.village_codes.tolist()) | frozenset(
        f"{t}000" for t in world.places.town_codes.tolist()
    )
    sinks: dict[str, Sink] = {}
    for k, name in enumerate(DATASETS):
        if name not in names:
            continue
        ds = DATASETS[name]
        path = dirs[ds.source] / f"{name}.csv" if dirs else None
        ghosts = gen.GHOSTS[name]
        planter = Planter(ds, world.h, day * 16 + k, lambda s, g=ghosts: g(world, day, s), known)
        sinks[name] = Sink(name, CsvFile(path, specs[name]), planter)

    try:
        _stream(world, day, first, sinks)
        for sink in sinks.values():
            sink.close()
    except BaseException:
        for sink in sinks.values():
            if sink.sha256 is None:
                sink.csv.abort()
        raise
    return sinks


def _stream(world: World, day: int, first: bool, sinks: dict[str, Sink]) -> None:
    if any(n in sinks for n in (*RESIDENT_SNAPSHOTS, *RESIDENT_DELTAS)):
        for idx in _chunks(world.people):
            chunk = Residents(world, idx)
            for name, snap in RESIDENT_SNAPSHOTS.items():
                if name in sinks:
                    sinks[name].add(snap(chunk, day))
            for name, delta in RESIDENT_DELTAS.items():
                if name in sinks:
                    sinks[name].add(delta(chunk, day, first))
    if "enterprise_registry" in sinks:
        for idx in _chunks(world.enterprises):
            sinks["enterprise_registry"].add(gen.enterprises(Enterprises(world, idx), day))
    if "floating_population" in sinks:
        for idx in _chunks(world.float_slots):
            sinks["floating_population"].add(gen.floating(FloatingSlots(world, idx), day, first))


def _manifest(
    topo: Topology,
    source: str,
    day: dt.date,
    seed: int,
    sinks: dict[str, Sink],
    specs: dict[str, FileSpec],
    faults: dict[str, str],
) -> dict[str, Any]:
    code = "ZJ" if source == "province" else "SX"
    minute = 10 + seed % 40 + (0 if source == "province" else 5)
    created = dt.datetime.combine(
        day + dt.timedelta(days=1), dt.time(1, minute), dt.timezone(dt.timedelta(hours=8))
    )
    files = []
    for name in topo.sources[source]:
        sink, spec = sinks[name], specs[name]
        rows = sink.csv.rows + (1 if faults.get(name) == "row_count_mismatch" else 0)
        files.append(
            {
                "dataset": name,
                "path": f"{name}.csv",
                "encoding": spec.declared,
                "mode": spec.dataset.mode,
                "rows": rows,
                "sha256": sink.sha256,
            }
        )
    return {
        "source": source,
        "batch_id": f"{code}-{topo.county_code}-{day:%Y%m%d}-01",
        "batch_date": day.isoformat(),
        "created_at": created.isoformat(),
        "files": files,
    }


def _counts(c: Counter[str]) -> dict[str, int]:
    return {k: c[k] for k in sorted(c) if c[k] > 0}


def generate(
    landing: Path,
    batch_date: dt.date,
    people: int = 2000,
    seed: int = 0,
    faulty_files: bool = False,
) -> dict[str, Any]:
    """Write the province and city batches of `batch_date` and their summary; return it."""
    topo = load_topology()
    world = World(topo, people, seed)
    day = world.check_day(batch_date)
    landing = Path(landing)
    specs = file_specs(seed, faulty_files)
    dirs = {s: landing / s / batch_date.isoformat() for s in topo.sources}
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
        (d / "manifest.json").unlink(missing_ok=True)  # being rewritten: not complete
    names = tuple(n for ns in topo.sources.values() for n in ns)
    sinks = _run(world, day, names, specs, dirs)

    faults = {}
    if faulty_files:
        faults = {key.split("/")[1]: reason for key, reason in FILE_FAULTS.items()}
        tamper(dirs["province"] / "social_insurance.csv")  # after its sha256 was taken
        assert (
            sha256_of(dirs["province"] / "social_insurance.csv") != sinks["social_insurance"].sha256
        )
    for source in topo.sources:
        doc = _manifest(topo, source, batch_date, seed, sinks, specs, faults)
        write_json(dirs[source] / "manifest.json", doc)

    summary = build_summary(world, batch_date, sinks, faults)
    (landing / "summary").mkdir(parents=True, exist_ok=True)
    write_json(landing / "summary" / f"{batch_date.isoformat()}.json", summary)
    return summary


def build_summary(
    world: World, batch_date: dt.date, sinks: dict[str, Sink], faults: dict[str, str]
) -> dict[str, Any]:
    """Per file: rows, kept aside by reason, loaded; per dataset: the current state."""
    files: dict[str, Any] = {}
    state: dict[str, dict[str, int]] = {}
    for name in (n for ns in world.topo.sources.values() for n in ns):
        sink = sinks[name]
        key = f"{DATASETS[name].source}/{name}"
        if name in faults:
            files[key] = {
                "rows": sink.csv.rows + (faults[name] == "row_count_mismatch"),
                "kept_aside": {},
                "rows_loaded": 0,
                "rejected": faults[name],
            }
            continue
        kept = sink.planter.summary()
        files[key] = {
            "rows": sink.csv.rows,
            "kept_aside": kept,
            "rows_loaded": sink.csv.rows - sum(kept.values()),
        }
        state[name] = _counts(sink.state)
    if faults:
        # A rejected file loads nothing: its dataset keeps what D-1's batch left.
        day = day_number(batch_date)
        before = tuple(faults)
        clean = file_specs(world.seed, False)
        prior = _run(world, day - 1, before, clean, None) if day - 1 >= world.ref else {}
        for name in before:
            state[name] = _counts(prior[name].state) if name in prior else {}
    summary: dict[str, Any] = {
        "batch_date": batch_date.isoformat(),
        "seed": world.seed,
        "people": world.people,
        "first_batch_date": to_date(world.ref).isoformat(),
        "assumes": ASSUMES,
        "files": files,
        "current_state": {n: state[n] for n in DATASETS if n in state},
    }
    if faults:
        summary["rejected_files"] = {f"{DATASETS[n].source}/{n}": r for n, r in faults.items()}
    assert all(set(v["kept_aside"]) <= set(ROW_REASONS) for v in files.values())
    return summary
