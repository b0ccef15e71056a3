"""`huiliu generate`: arguments and a run that prints counts and paths, never values."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from huiliu_dev.generate.batch import generate
from huiliu_dev.generate.world import GenerateError
from pipelines.cli import batch_date_arg


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--landing",
        type=Path,
        required=True,
        help="landing directory: <landing>/<source>/<date>/ is written",
    )
    parser.add_argument("--date", type=batch_date_arg, required=True, help="batch date, YYYY-MM-DD")
    parser.add_argument("--people", type=int, default=2000, help="residents (default 2000)")
    parser.add_argument("--seed", type=int, default=0, help="population seed (default 0)")
    parser.add_argument(
        "--faulty-files",
        action="store_true",
        help="also plant four file-level faults (rejected files)",
    )


def run_from_args(args: argparse.Namespace) -> int:
    try:
        summary = generate(
            args.landing,
            args.date,
            people=args.people,
            seed=args.seed,
            faulty_files=args.faulty_files,
        )
    except GenerateError as exc:
        print(f"generate: {exc}", file=sys.stderr)
        return 1
    day = args.date.isoformat()
    for source in ("province", "city"):
        files = {k: v for k, v in summary["files"].items() if k.startswith(f"{source}/")}
        rows = sum(v["rows"] for v in files.values())
        kept = sum(sum(v["kept_aside"].values()) for v in files.values())
        print(
            f"{source}: {args.landing / source / day} — {len(files)} files, "
            f"{rows} rows, {kept} to be kept aside"
        )
    for key, reason in summary.get("rejected_files", {}).items():
        print(f"planted file fault: {key} ({reason})")
    print(f"summary: {args.landing / 'summary' / (day + '.json')}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="huiliu generate", description=__doc__)
    add_arguments(parser)
    return run_from_args(parser.parse_args(argv))
