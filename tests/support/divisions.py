"""A made-up county's NBS-style division list (code,name,level,parent_code), for onboarding tests."""

from __future__ import annotations

from pathlib import Path

HEADER = "code,name,level,parent_code\n"


def another_county(path: Path, county: str = "339902", towns: int = 3, villages: int = 4) -> Path:
    """`towns` towns under `county`; the t-th town has villages + t - 1 villages (the counts differ)."""
    lines = [HEADER]
    for t in range(1, towns + 1):
        town = f"{county}{100 + t:03d}"
        lines.append(f"{town},第{t}镇,town,{county}\n")
        lines += [f"{town}{200 + v:03d},第{t}镇{v}村,village,{town}\n" for v in range(1, villages + t)]
    path.write_text("".join(lines), encoding="utf-8")
    return path
