"""200 meta-iterations of a tiny config: no retracing after the warm-up, and no
growth of memory or live Python objects beyond a small bound.

It runs ``scripts/benchmark_long_run.py`` (about 40 s of CPU). Skip it with
``pytest -m "not slow"``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ITERATIONS, WARMUP = 200, 20
#: Bounds over the 180 iterations after the warm-up. Measured: 8 MiB and 36
#: objects (docs/benchmarks.md). Fewer objects than iterations means nothing is
#: kept per iteration.
MAX_RSS_GROWTH_MIB = 64
MAX_OBJECT_GROWTH = ITERATIONS - WARMUP


@pytest.mark.slow
def test_a_long_run_does_not_retrace_or_grow(tmp_path):
    out = tmp_path / "long_run.json"
    subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts/benchmark_long_run.py"),
            "--iterations",
            str(ITERATIONS),
            "--warmup",
            str(WARMUP),
            "--json",
            str(out),
        ],
        check=True,
        capture_output=True,
    )
    result = json.loads(out.read_text())
    assert result["iterations"] == ITERATIONS
    assert result["retraces_after_warmup"] == 0, result["traces_after_warmup"]
    assert result["rss_max_growth_mib"] < MAX_RSS_GROWTH_MIB, result
    assert result["object_growth"] < MAX_OBJECT_GROWTH, result
