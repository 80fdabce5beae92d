"""Prints eval JSON files (from ``metanav-eval --json``) as a markdown table.

    python scripts/results_table.py runs/results/*/eval.json

One row per file: the run folder, then the mean return ± 95 % CI and the success
rate after each number of inner steps.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+", type=Path)
    args = parser.parse_args(argv)
    rows = [json.loads(p.read_text()) for p in args.files]
    steps = max(len(r["adapt_steps"]) for r in rows)
    head = [f"{k} step{'s' if k != 1 else ''}" for k in range(steps)]
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


if __name__ == "__main__":
    raise SystemExit(main())
