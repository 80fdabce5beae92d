"""Finds and runs the code blocks of a Markdown page, for tests/test_docs.py.

The conventions every page follows (``docs/README.md`` states them for writers):

* A fenced block names its language: ``python`` and ``bash`` blocks are code,
  ``text`` blocks are output and are not run. A block without one is an error.
* The code blocks of a page run in order, in one fresh interpreter, in a scratch
  folder that holds links to the repository's ``configs/`` and ``scripts/``.
  ``python`` blocks share one namespace, as in a notebook.
* A ``bash`` block is run command by command (one per line, or joined by
  ``&&``), with one substitution so that no page trains for minutes:
  ``metanav-train`` (also as ``.venv/bin/metanav-train``) gets :data:`TINY_TRAIN`
  appended to its overrides, and ``metanav-eval`` gets :data:`TINY_EVAL`
  appended; the three ``metanav-*`` commands run in this interpreter through
  their ``main``. ``python scripts/NAME.py ...`` runs the script. Set-up
  commands (``python3 -m venv``, ``pip install``) are not run: CI makes the
  environment the tests run in. Any other command is an error.
  Leading ``NAME=value`` words set environment variables for that command; the
  scratch folder is on ``sys.path`` as ``PYTHONPATH=.`` would put it.
* A block right after a ``<!-- docs-test: skip; REASON -->`` line is not run, and
  the reason must be given. If the reason says ``.ci/run runs``, every command of
  the block must appear verbatim in ``.ci/run``.
* A ``python`` block right after a ``<!-- docs-test: file NAME.py -->`` line is
  a module the page asks the reader to save: it is written to ``NAME.py`` in the
  scratch folder, for later blocks to import, and not run itself.

Run one page by hand: ``python tests/doc_blocks.py docs/quickstart.md``.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import shlex
import subprocess
import sys
import tempfile
import types
from pathlib import Path

from conftest import REPO, TINY

#: Appended to every ``metanav-train`` command of a page (not to ``--resume``):
#: the tests' tiny budget, without the GoalGrid shape, so that it fits any env.
TINY_TRAIN = [o for o in TINY if not o.startswith("env_kwargs.shape")]
#: Appended to every ``metanav-eval`` command of a page.
TINY_EVAL = ["--tasks", "2", "--episodes", "2"]

LANGUAGES = ("python", "bash", "text")
SKIP = re.compile(r"<!--\s*docs-test:\s*skip(?:;\s*(?P<reason>.*?))?\s*-->")
FILE = re.compile(r"<!--\s*docs-test:\s*file\s+(?P<name>[\w.]+\.py)\s*-->")
ASSIGNMENT = re.compile(r"^[A-Z_][A-Z0-9_]*=")
FENCE = re.compile(r"^```(?P<lang>\S*)\s*$")
COMMANDS = ("metanav-train", "metanav-eval", "metanav-plot")


@dataclasses.dataclass
class Block:
    """One fenced block of a page."""

    page: Path
    line: int
    language: str
    code: str
    skip_reason: str | None = None
    file: str | None = None

    @property
    def where(self) -> str:
        return f"{shown(self.page)}:{self.line}"


def shown(page: Path) -> str:
    """``page`` relative to the repository, where it lies in it."""
    return str(page.relative_to(REPO)) if page.is_relative_to(REPO) else str(page)


def blocks(page: Path) -> list[Block]:
    """The fenced blocks of ``page``, in order.

    Raises:
        ValueError: a block has no language or an unknown one, a skip mark has
            no reason, or a fence is not closed.
    """
    lines = page.read_text().splitlines()
    found: list[Block] = []
    i = 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        start, language = i, match["lang"]
        where = f"{shown(page)}:{start + 1}"
        if language not in LANGUAGES:
            raise ValueError(
                f"{where}: a code block must be one of {list(LANGUAGES)}; "
                f"received {language!r}."
            )
        end = next((j for j in range(i + 1, len(lines)) if lines[j] == "```"), None)
        if end is None:
            raise ValueError(f"{where}: the block is not closed with ```.")
        before = lines[start - 1].strip() if start else ""
        mark, file = SKIP.fullmatch(before), FILE.fullmatch(before)
        if mark and not mark["reason"]:
            raise ValueError(f"{where}: give the reason to skip the block.")
        if file and language != "python":
            raise ValueError(f"{where}: only a python block can be a file.")
        code = "\n".join(lines[start + 1 : end]) + "\n"
        found.append(
            Block(
                page,
                start + 1,
                language,
                code,
                mark["reason"] if mark else None,
                file["name"] if file else None,
            )
        )
        i = end + 1
    return found


def commands(code: str) -> list[list[str]]:
    """The commands of a bash block: one per line or ``&&`` part, comments gone."""
    joined = code.replace("\\\n", " ")
    found = []
    for line in joined.splitlines():
        tokens = shlex.split(line, comments=True)
        while tokens:
            part = tokens.index("&&") if "&&" in tokens else len(tokens)
            found.append(tokens[:part])
            tokens = tokens[part + 1 :]
    return [c for c in found if c]


def command_lines(code: str) -> list[str]:
    """The lines of a bash block as written, without blank lines and comments."""
    return [
        line.strip()
        for line in code.replace("\\\n", " ").splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]


def is_setup(argv: list[str]) -> bool:
    name = Path(argv[0]).name
    return (name.startswith("python") and argv[1:3] == ["-m", "venv"]) or (
        name in ("pip", "pip3") and argv[1:2] == ["install"]
    )


def run_command(argv: list[str], where: str) -> None:
    """Runs one command of a bash block, with the tiny-budget substitution."""
    saved = dict(os.environ)
    while argv and ASSIGNMENT.match(argv[0]):
        key, _, value = argv[0].partition("=")
        os.environ[key] = value
        argv = argv[1:]
    try:
        _run(argv, where)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _run(argv: list[str], where: str) -> None:
    name = Path(argv[0]).name
    if is_setup(argv):
        return
    if name in COMMANDS:
        from metanav.commands import evaluate, plot, train

        args = argv[1:]
        if name == "metanav-train" and "--resume" not in args:
            # After the page's own overrides, so that these win; before options.
            at = next((i for i, a in enumerate(args) if a.startswith("-")), len(args))
            args = [*args[:at], *TINY_TRAIN, *args[at:]]
        if name == "metanav-eval":
            args = [*args, *TINY_EVAL]
        main = {"metanav-train": train, "metanav-eval": evaluate}.get(name, plot).main
        code = main(args)
        if code != 0:
            raise SystemExit(f"{where}: {shlex.join(argv)} exited with {code}.")
        return
    if name.startswith("python") and len(argv) > 1 and argv[1].startswith("scripts/"):
        subprocess.run([sys.executable, *argv[1:]], check=True)
        return
    raise SystemExit(
        f"{where}: tests/doc_blocks.py does not run {shlex.join(argv)!r}; run it "
        "with a metanav command or a script, or mark the block "
        "<!-- docs-test: skip; REASON -->."
    )


def run_page(page: Path, workdir: Path) -> None:
    """Runs every code block of ``page`` in ``workdir``, in order."""
    for name in ("configs", "scripts"):
        link = workdir / name
        if not link.exists():
            link.symlink_to(REPO / name)
    os.chdir(workdir)
    sys.path.insert(0, str(workdir))
    module = types.ModuleType("__docs__")
    sys.modules["__docs__"] = module  # dataclasses look their module up here
    for block in blocks(page):
        if block.skip_reason is not None or block.language == "text":
            continue
        print(f"--- {block.where} ({block.language})", flush=True)
        if block.file is not None:
            (workdir / block.file).write_text(block.code)
        elif block.language == "python":
            exec(compile(block.code, block.where, "exec"), module.__dict__)
        else:
            for argv in commands(block.code):
                run_command(argv, block.where)


def run_page_apart(
    page: Path, workdir: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Runs ``page`` with this file in a fresh interpreter; returns the result."""
    command = [sys.executable, __file__, str(page), "--workdir", str(workdir)]
    return subprocess.run(command, capture_output=True, text=True, cwd=REPO, env=env)


def failure(result: subprocess.CompletedProcess) -> str:
    """The end of what a failed page printed."""
    return result.stdout[-3000:] + result.stderr[-6000:]


def main() -> None:
    p = argparse.ArgumentParser(description="Run the code blocks of a page.")
    p.add_argument("page", type=Path)
    p.add_argument("--workdir", type=Path, help="scratch folder (default: a new one)")
    args = p.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="docs-"))
    workdir.mkdir(parents=True, exist_ok=True)
    run_page(args.page.resolve(), workdir.resolve())


if __name__ == "__main__":
    main()
