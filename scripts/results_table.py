"""Prints eval JSON files (from ``metanav-eval --json``) as a markdown table.

    python scripts/results_table.py runs/results/*/eval.json

One row per file: the run folder, then the mean return ± 95 % CI and the success
rate after each number of inner steps. With ``--group``, runs whose folder names
differ only in a trailing seed (``maml_s0``, ``maml_s1``, ...) share one row: the
mean over those runs of the mean return, with the lowest and highest run in
brackets, and the mean success rate::

    python scripts/results_table.py --group runs/pointnav-paper/*/eval_paper.json
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

SEED_SUFFIX = re.compile(r"[-_]s\d+$")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument(
        "--group", action="store_true", help="one row per run name without its seed"
    )
    args = parser.parse_args(argv)
    rows = [json.loads(p.read_text()) for p in args.files]
    steps = max(len(r["adapt_steps"]) for r in rows)
    head = [f"{k} step{'s' if k != 1 else ''}" for k in range(steps)]
    if args.group:
        print_groups(args.files, rows, head)
        return 0
    print("| run | " + " | ".join(head) + " |")
    print("| --- |" + " --- |" * steps)
    for path, r in zip(args.files, rows, strict=True):
        cells = [
            f"{m:.2f} ± {c:.2f} ({s:.0%})"
            for m, c, s in zip(
                r["return_mean"], r["return_ci95"], r["success_rate"], strict=True
            )
        ]
        print(
            f"| {Path(r.get('policy', path.parent)).name} | " + " | ".join(cells) + " |"
        )
    return 0


def print_groups(files: list[Path], rows: list[dict], head: list[str]) -> None:
    groups: dict[str, list[dict]] = {}
    for path, r in zip(files, rows, strict=True):
        name = SEED_SUFFIX.sub("", Path(r.get("policy", path.parent)).name)
        groups.setdefault(name, []).append(r)
    print("| runs | seeds | " + " | ".join(head) + " |")
    print("| --- | --- |" + " --- |" * len(head))
    for name, runs in groups.items():
        cells = []
        for k in range(len(runs[0]["return_mean"])):
            returns = [r["return_mean"][k] for r in runs]
            success = sum(r["success_rate"][k] for r in runs) / len(runs)
            cells.append(
                f"{sum(returns) / len(returns):.2f} [{min(returns):.2f}, "
                f"{max(returns):.2f}] ({success:.0%})"
            )
        print(f"| {name} | {len(runs)} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    raise SystemExit(main())
