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
