"""Every code block in the README and docs/ runs (conventions in doc_blocks.py)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
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


def names_in_code() -> dict[str, list]:
    """Every public name of metanav and metanav_envs, and their modules."""
    import gymnasium
    import keras
    import tensorflow as tf

    import metanav
    import metanav_envs

    found: dict[str, list] = {"tf": [tf], "keras": [keras], "gymnasium": [gymnasium]}
    for package in (metanav, metanav_envs):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if info.name == "metanav.interop.tf_agents":
                continue
            module = importlib.import_module(info.name)
            found.setdefault(info.name.rsplit(".", 1)[1], []).append(module)
            for name, value in vars(module).items():
                if not name.startswith("__"):
                    found.setdefault(name, []).append(value)
    for name, value in vars(gymnasium.spaces).items():
        found.setdefault(name, []).append(value)
    return found


def resolves(dotted: str, names: dict[str, list]) -> bool:
    first, *rest = dotted.split(".")
    for value in names.get(first, []):
        try:
            for part in rest:
                value = getattr(value, part)
        except AttributeError:
            continue
        return True
    return False


def test_the_architecture_page_names_only_what_exists():
    from metanav.config import FIELDS

    text = (REPO / "docs/architecture.md").read_text().split("```python")[0]
    spans = re.findall(r"`([A-Za-z_][\w.]*)(?:\([^`]*\))?`", text)
    spans = [s for s in spans if not re.search(r"\.(py|md|yaml|json|keras|csv)$", s)]
    names = names_in_code()
    words = {*FIELDS, "pretrained", "oracle", "mask"}
    missing = [
        s
        for s in spans
        if s not in words and len(s) > 1 and not resolves(s, names)  # M, K: sizes
    ]
    assert not missing, missing
    assert sum("." in s for s in spans) >= 25


def test_the_architecture_page_follows_trainer_iteration():
    from metanav.trainer import Trainer

    phases = [
        line.strip()[2:].split(".")[0].split(",")[0]
        for line in inspect.getsource(Trainer.iteration).splitlines()
        if line.startswith("        # ")
    ]
    text = (REPO / "docs/architecture.md").read_text()
    headings = re.findall(r"^### \d\. (.+)$", text, flags=re.M)
    assert [h.split(",")[0] for h in headings] == phases
    assert phases[0] == "Sample tasks" and phases[-1] == "Record"


GLOSSARY_TERMS = [
    "task",
    "task distribution",
    "split",
    "meta-iteration",
    "meta-batch",
    "fast batch",
    "inner step",
    "adaptation",
    "adapted policy",
    "validation batch",
    "outer (meta) update",
    "pre-adaptation return",
    "post-adaptation return",
]


def test_the_glossary_defines_every_term_once():
    text = (REPO / "docs/glossary.md").read_text()
    defined = re.findall(r"^\*\*(.+?)\*\*: ", text, flags=re.M)
    assert sorted(set(defined)) == sorted(defined), "a term is defined twice"
    assert set(GLOSSARY_TERMS) <= set(defined), set(GLOSSARY_TERMS) - set(defined)
