"""The pages whose code needs tf-agents run (conventions in tests/doc_blocks.py)."""

from __future__ import annotations

import os

from doc_blocks import REPO, failure, run_page_apart


def test_the_interop_page_runs_without_the_variable_set_beforehand(tmp_path):
    # The page must set TF_USE_LEGACY_KERAS itself, as a reader's script would.
    env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    result = run_page_apart(REPO / "docs/interop.md", tmp_path, env)
    assert result.returncode == 0, failure(result)
    assert result.stdout.count("loss ") == 3
