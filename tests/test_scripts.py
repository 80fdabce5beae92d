"""The scripts under scripts/ run, on tiny budgets."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from matplotlib import image

REPO = Path(__file__).resolve().parents[1]
FAMILIES = ["goalgrid", "mazegrid", "fourrooms", "permutedgrid", "pointnav2d"]


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


def test_benchmark_trainer_quick(tmp_path):
    out = tmp_path / "trainer.json"
    script = REPO / "scripts/benchmark_trainer.py"
    result = run(script, "--quick", "--settings", "pointnav", "--json", out)
    data = json.loads(out.read_text())
    assert [r["setting"] for r in data["results"]] == ["pointnav"]
    for r in data["results"]:
        assert r["seconds_per_iteration"] > 0 and r["floor_seconds_per_iteration"] > 0
        assert set(r["split"]) == {"sampling", "advantages", "inner", "outer"}
        # The phases happen inside the iteration, so they cannot add up to more.
        assert sum(r["split"].values()) <= r["seconds_per_iteration_all"][0] * 1.01
    assert "pointnav" in result.stdout and "floor med" in result.stdout


def test_results_table_groups_seeds(tmp_path):
    files = []
    for name, returns in [("maml_s0", [-4.0, -2.0]), ("maml_s1", [-6.0, -1.0])]:
        (tmp_path / name).mkdir()
        path = tmp_path / name / "eval.json"
        path.write_text(
            json.dumps(
                {
                    "policy": str(tmp_path / name),
                    "adapt_steps": [0, 1],
                    "return_mean": returns,
                    "return_ci95": [0.1, 0.1],
                    "success_rate": [0.5, 1.0],
                }
            )
        )
        files.append(path)
    out = run(REPO / "scripts/results_table.py", "--group", *files).stdout
    assert (
        "| maml | 2 | -5.00 [-6.00, -4.00] (50%) | -1.50 [-2.00, -1.00] (100%) |" in out
    )


def test_env_pages_are_the_docstrings_and_pictures():
    run(REPO / "scripts/make_env_docs.py", "--check")


def test_env_pages_check_finds_a_stale_page_or_picture(tmp_path):
    script = REPO / "scripts/make_env_docs.py"
    run(script, "--docs", tmp_path)
    pages = sorted(p.name for p in (tmp_path / "envs").iterdir())
    assert pages == [f"{f}.md" for f in sorted(FAMILIES)]
    run(script, "--docs", tmp_path, "--check")
    page = tmp_path / "envs/mazegrid.md"
    page.write_text(page.read_text().replace("wall_density", "density"))
    png = tmp_path / "img/envs/goalgrid.png"
    picture = image.imread(png)
    picture[0, 0] = 1 - picture[0, 0]
    image.imsave(png, picture)
    result = subprocess.run(
        [sys.executable, str(script), "--docs", str(tmp_path), "--check"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert "mazegrid.md" in result.stderr and "goalgrid.png" in result.stderr
    assert "fourrooms" not in result.stderr
    assert result.stderr.startswith("error: ")
