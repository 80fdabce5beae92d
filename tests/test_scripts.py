"""The scripts under scripts/ run, on tiny budgets."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run(*args):
    return subprocess.run(
        [sys.executable, *map(str, args)], check=True, capture_output=True, text=True
    )


def test_benchmark_envs_quick(tmp_path):
    out = tmp_path / "bench.json"
    result = run(
        REPO / "scripts/benchmark_envs.py",
        "--quick",
        "--families",
        "GoalGrid",
        "--batch-sizes",
        "1",
        "64",
        "--repeats",
        "1",
        "--json",
        out,
    )
    assert "GoalGrid" in result.stdout
    assert json.loads(out.read_text())


def test_demo_envs(tmp_path):
    run(
        REPO / "scripts/demo_envs.py",
        "--out",
        tmp_path,
        "--tasks",
        "2",
        "--episodes",
        "2",
    )
    assert (tmp_path / "envs.png").stat().st_size > 0
    results = json.loads((tmp_path / "random_baseline.json").read_text())
    assert len(results) == 5
