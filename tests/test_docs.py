"""Every code block in the README and docs/ runs (conventions in doc_blocks.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from doc_blocks import (
    REPO,
    blocks,
    command_lines,
    commands,
    failure,
    run_command,
    run_page_apart,
)

PAGES = sorted([REPO / "README.md", *(REPO / "docs").rglob("*.md")])
#: Pages whose code needs the tf-agents extra; tests/interop/test_docs.py runs them.
TF_AGENTS_PAGES = [REPO / "docs/interop.md"]


def runnable(page: Path) -> bool:
    return any(b.skip_reason is None and b.language != "text" for b in blocks(page))


CORE_PAGES = [p for p in PAGES if p not in TF_AGENTS_PAGES and runnable(p)]


def test_every_block_names_its_language_and_every_skip_its_reason():
    found = [b for page in PAGES for b in blocks(page)]
    assert sum(b.language == "python" for b in found) >= 10
    skipped = [b for b in found if b.skip_reason is not None]
    assert all(b.language == "bash" for b in skipped), [b.where for b in skipped]


def test_commands_said_to_run_in_ci_are_in_ci_verbatim():
    ci = (REPO / ".ci/run").read_text().splitlines()
    checked = 0
    for page in PAGES:
        for block in blocks(page):
            if block.skip_reason and ".ci/run runs" in block.skip_reason:
                for line in command_lines(block.code):
                    assert line in ci, f"{block.where}: {line!r} is not in .ci/run"
                    checked += 1
    assert checked >= 3


@pytest.mark.parametrize("page", CORE_PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_the_code_blocks_of_the_page_run(page, tmp_path):
    result = run_page_apart(page, tmp_path)
    assert result.returncode == 0, failure(result)


def test_the_runner_refuses_unmarked_or_unknown_blocks(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("Text\n\n```\nls\n```\n")
    with pytest.raises(ValueError, match=r"must be one of \['python', 'bash'"):
        blocks(page)
    page.write_text("<!-- docs-test: skip -->\n```bash\nls\n```\n")
    with pytest.raises(ValueError, match="give the reason to skip"):
        blocks(page)
    page.write_text("```python\nx = 1\n")
    with pytest.raises(ValueError, match="not closed"):
        blocks(page)
    with pytest.raises(SystemExit, match="does not run 'tensorboard --logdir runs'"):
        run_command(["tensorboard", "--logdir", "runs"], "page.md:1")


def test_the_runner_splits_commands_as_bash_does():
    code = "python3 -m venv .venv && .venv/bin/pip install -e . \\\n  --quiet\n"
    code += "# a comment\nmetanav-eval runs/a --json 'a b.json'  # why\n"
    assert commands(code) == [
        ["python3", "-m", "venv", ".venv"],
        [".venv/bin/pip", "install", "-e", ".", "--quiet"],
        ["metanav-eval", "runs/a", "--json", "a b.json"],
    ]
