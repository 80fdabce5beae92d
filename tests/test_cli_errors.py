"""Bad input to the commands ends in one line on stderr and exit status 2."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

from metanav.commands import evaluate as eval_cmd
from metanav.commands import train as train_cmd

REPO = Path(__file__).resolve().parents[1]
PRESET = str(REPO / "configs/goalgrid.yaml")


TINY = [
    "iterations=2",
    "meta_batch_size=2",
    "fast_batch_size=2",
    "hidden_sizes=[8]",
    "env_kwargs.shape=[4, 4]",
    "env_kwargs.max_steps=6",
    "checkpoint_every=1",
]


def one_line_error(capsys, match):
    err = capsys.readouterr().err.strip().splitlines()
    assert err and err[-1].startswith("error: "), err
    assert match in err[-1], err[-1]
    assert sum(line.startswith("error:") for line in err) == 1, err
    assert "Traceback" not in "\n".join(err)


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (and the names of its empty folders)."""
    return {
        str(p.relative_to(folder)): p.read_bytes() if p.is_file() else b"<dir>"
        for p in sorted(folder.rglob("*"))
    }


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("finished") / "run"
    assert train_cmd.main([PRESET, *TINY, "--out", str(out), "--quiet"]) == 0
    return out


@pytest.fixture
def run(finished_run, tmp_path) -> Path:
    """A copy of a finished run, for a test to damage."""
    return Path(shutil.copytree(finished_run, tmp_path / "run"))


def write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


def edit_json(path: Path, **changes) -> None:
    data = json.loads(path.read_text())
    for key, value in changes.items():
        data[key] = value
    path.write_text(json.dumps(data))


def then(_, value):
    """``value``, after the first argument (an action) was evaluated."""
    return value


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


# Each case: how to make the bad input in a finished run folder (it returns the
# command's arguments), and a piece of the one-line error, its fix included.
TRAIN_CASES = {
    "misspelled override": (
        lambda run: [PRESET, "itrations=3"],
        "Unknown config key 'itrations' in the overrides. Did you mean "
        "'iterations'? Valid keys: env_id, env_kwargs,",
    ),
    "misspelled key in the file": (
        lambda run: [write(run.parent / "p.yaml", "meta_batch_sise: 2\n")],
        "p.yaml. Did you mean 'meta_batch_size'? Valid keys:",
    ),
    "wrong type": (
        lambda run: [PRESET, "iterations=ten"],
        "iterations must be an int; received str 'ten'. (in ",
    ),
    "wrong type in a list": (
        lambda run: [PRESET, "hidden_sizes=[8, x]"],
        "hidden_sizes must be a list of int; received list [8, 'x'].",
    ),
    "negative step size": (
        lambda run: [PRESET, "inner_lr=-0.1"],
        "inner_lr must be > 0; received -0.1.",
    ),
    "zero tasks": (
        lambda run: [PRESET, "meta_batch_size=0"],
        "meta_batch_size must be ≥ 1; received 0.",
    ),
    "infinite KL limit": (
        lambda run: [PRESET, "max_kl=.inf"],
        "max_kl must be a finite number; received inf.",
    ),
    "YAML syntax error": (
        lambda run: [write(run.parent / "bad.yaml", "seed: 1\nenv_kwargs: [1, 2\n")],
        "bad.yaml' at line 3, column 1: expected ',' or ']', but got '<stream end>'; "
        "fix the file.",
    ),
    "unknown env id": (
        lambda run: [PRESET, "env_id=MetaNav/GoalGird-v0"],
        "Unknown env_id 'MetaNav/GoalGird-v0'. Did you mean 'MetaNav/GoalGrid-v0', ",
    ),
    "missing config file": (
        lambda run: [str(run.parent / "missing.yaml")],
        "missing.yaml' does not exist; give the path of a YAML preset such as "
        "configs/goalgrid.yaml.",
    ),
    "existing run without --resume": (
        lambda run: [PRESET, "--out", str(run)],
        lambda run: (
            f"{str(run)!r} already holds a run; continue it with "
            f"metanav-train --resume {run}, or choose another --out."
        ),
    ),
    "--out under a file": (
        lambda run: [PRESET, "--out", str(run / "config.yaml" / "new")],
        "config.yaml/new': Not a directory; choose another folder.",
    ),
    "missing run folder": (
        lambda run: ["--resume", str(run.parent / "nothing")],
        "nothing': no such folder; give the folder of a run made by metanav-train "
        "--out.",
    ),
    "not a run folder": (
        lambda run: ["--resume", str(run / "checkpoints")],
        "checkpoints' is not a metanav run folder (no config.yaml); check the path.",
    ),
    "--resume with a preset": (
        lambda run: [PRESET, "--resume", str(run)],
        "--resume takes the run's own config.yaml; drop CONFIG and overrides.",
    ),
    "--resume with --out": (
        lambda run: ["--resume", str(run), "--out", str(run.parent / "x")],
        "--resume continues the run in its own folder; drop --out.",
    ),
    "damaged config.yaml": (
        lambda run: then(
            write(run / "config.yaml", "seed: 0\nhidden_sizes: [8\n"),
            ["--resume", str(run)],
        ),
        "config.yaml' at line 3, column 1: expected ',' or ']'",
    ),
}


@pytest.mark.parametrize(("make", "match"), TRAIN_CASES.values(), ids=TRAIN_CASES)
def test_train_rejects_bad_input_and_keeps_every_file(run, capsys, make, match):
    args = make(run)
    if "--out" not in args and "--resume" not in args:
        args = [*args, "--out", str(run.parent / "new")]
    before = snapshot(run.parent)
    assert train_cmd.main([*args, "--quiet"]) == 2
    one_line_error(capsys, match(run) if callable(match) else match)
    assert snapshot(run.parent) == before


def damage_every_checkpoint(run: Path) -> None:
    for index in (run / "checkpoints").glob("*.index"):
        truncate(index)


def other_model_in_config(run: Path) -> None:
    config = (run / "config.yaml").read_text()
    (run / "config.yaml").write_text(config.replace("[8]", "[9]"))


@pytest.mark.parametrize(
    ("damage", "match"),
    [
        (
            damage_every_checkpoint,
            "can be restored: ckpt-2 (OpError: not an sstable (bad magic number)); "
            "ckpt-1 (OpError: not an sstable (bad magic number)). Restore the run "
            "folder from a copy, or start a new run with another --out.",
        ),
        (
            other_model_in_config,
            "can be restored: ckpt-2 (ValueError: Received incompatible tensor with "
            "shape (2, 8) when attempting to restore variable with shape (2, 9)",
        ),
    ],
    ids=["damaged", "another model"],
)
def test_resume_with_no_usable_checkpoint_changes_nothing(run, capsys, damage, match):
    damage(run)
    (run / "policy.keras").unlink()  # as if killed before the end
    before = snapshot(run)
    assert train_cmd.main(["--resume", str(run), "--quiet"]) == 2
    one_line_error(capsys, match)
    assert snapshot(run) == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes in read-only folders")
@pytest.mark.parametrize("resume", [False, True], ids=["new run", "resume"])
def test_a_folder_that_cannot_be_written(run, capsys, resume):
    if resume:
        (run / "policy.keras").unlink()
        args, fix = ["--resume", str(run)], "make it writable, then resume."
    else:
        (run / "empty").mkdir()
        args, fix = [PRESET, "--out", str(run / "empty")], "choose another --out."
    before = snapshot(run)
    for folder in (run, run / "empty"):
        if folder.exists():
            folder.chmod(0o555)
    try:
        assert train_cmd.main([*args, "--quiet"]) == 2
    finally:
        for folder in (run, run / "empty"):
            if folder.exists():
                folder.chmod(0o755)
    one_line_error(capsys, f"': Permission denied; {fix}")
    assert snapshot(run) == before


def other_model(run: Path) -> None:
    from metanav.policies import build_policy

    space = gym.spaces.Box(0.0, 1.0, (3,), np.float32)
    policy = build_policy(space, gym.spaces.Discrete(4), hidden_sizes=[8])
    policy.model.save(run / "policy.keras")


EVAL_CASES = {
    "missing run folder": (
        lambda run: run.parent / "nothing",
        "nothing' does not exist; give a run folder made by metanav-train or its "
        "policy.keras.",
    ),
    "interrupted run": (
        lambda run: then((run / "policy.keras").unlink(), run),
        "No policy.keras in '",
    ),
    "truncated policy.keras": (
        lambda run: then(truncate(run / "policy.keras"), run),
        "policy.keras': it is truncated or corrupt (",
    ),
    "truncated policy.json": (
        lambda run: then(truncate(run / "policy.json"), run),
        "policy.json' (Unterminated string starting at: line ",
    ),
    "missing policy.json": (
        lambda run: then((run / "policy.json").unlink(), run),
        "policy.json' is missing; a metanav policy needs its metadata.",
    ),
    "not metanav's policy.json": (
        lambda run: then(edit_json(run / "policy.json", format="other"), run),
        "policy.json' is not metanav policy metadata (no 'format: metanav-policy').",
    ),
    "policy.json cut to its header": (
        lambda run: then(
            write(
                run / "policy.json", '{"format": "metanav-policy", "format_version": 1}'
            ),
            run,
        ),
        "policy.json' lacks env_id, env_kwargs, observation_space, action_space, "
        "policy, adaptation; the policy's metadata is damaged.",
    ),
    "newer format version": (
        lambda run: then(edit_json(run / "policy.json", format_version=2), run),
        "policy.json' has format version 2; this metanav (0.1.0) reads version 1. "
        "Evaluate it with the metanav version that saved it.",
    ),
    "env with other spaces": (
        lambda run: then(
            edit_json(
                run / "policy.json",
                env_kwargs={"shape": [4, 4], "observation": "onehot", "max_steps": 6},
            ),
            run,
        ),
        "The policy was made for an observation_space {'type': 'Box', 'shape': [2], "
        "'low': 0.0, 'high': 1.0, 'dtype': 'float32'}, but MetaNav/GoalGrid-v0 with "
        "env_kwargs {'shape': [4, 4], 'observation': 'onehot', 'max_steps': 6} has "
        "{'type': 'Box', 'shape': [16], ",
    ),
    "policy.keras of another run": (
        lambda run: then(other_model(run), run),
        "policy.keras' takes inputs of shape [3], but ",
    ),
    "not a policy file": (
        lambda run: run / "config.yaml",
        "config.yaml' is not a policy.keras; give a run folder made by "
        "metanav-train or its policy.keras.",
    ),
}


@pytest.mark.parametrize(("make", "match"), EVAL_CASES.values(), ids=EVAL_CASES)
def test_eval_rejects_bad_input_and_keeps_every_file(run, capsys, make, match):
    target = make(run)
    before = snapshot(run.parent)
    assert eval_cmd.main([str(target), "--tasks", "2", "--episodes", "1"]) == 2
    one_line_error(capsys, match)
    assert snapshot(run.parent) == before


def test_the_console_script_exits_two_without_traceback(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts/train.py"),
            PRESET,
            "seeed=1",
            "--out",
            str(tmp_path / "r"),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "error: Unknown config key 'seeed'" in result.stderr


@pytest.mark.parametrize(
    ("override", "match"),
    [
        ("env_kwargs.shap=[4, 4]", "env_kwargs.shap is not an argument of"),
        ("env_kwargs.shape=[0, 4]", "env_kwargs: shape must be at least (1, 1)"),
    ],
)
def test_bad_env_kwargs_fail_before_the_run_folder_is_made(
    tmp_path, capsys, override, match
):
    out = tmp_path / "run"
    assert train_cmd.main([PRESET, override, "--out", str(out), "--quiet"]) == 2
    one_line_error(capsys, match)
    assert not out.exists()


def test_out_that_is_a_file_or_a_foreign_folder(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    assert train_cmd.main([PRESET, "--out", str(tmp_path / "file"), "--quiet"]) == 2
    one_line_error(capsys, "is a file; choose a new or empty folder")
    assert train_cmd.main([PRESET, "--out", str(tmp_path), "--quiet"]) == 2
    one_line_error(capsys, f"--out {str(tmp_path)!r} is not empty; choose a new")


def test_eval_checks_json_and_policy_paths_before_working(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("x")
    assert eval_cmd.main([str(tmp_path / "notes.txt")]) == 2
    one_line_error(capsys, "is not a policy.keras")
    assert eval_cmd.main([str(tmp_path), "--json", str(tmp_path)]) == 2
    one_line_error(capsys, "is a folder; give a file name")


def test_plot_rejects_bad_outputs_and_damaged_metrics(tmp_path, capsys):
    from metanav.commands import plot as plot_cmd

    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.csv").write_text("iteration,train/pre_return\n1,-3.0\n2,garbage\n")
    assert plot_cmd.main([str(run), "-o", str(tmp_path / "out.txt")]) == 2
    one_line_error(capsys, "needs a .png, .pdf or .svg file name")
    assert plot_cmd.main([str(run), "-o", str(tmp_path / "p.png")]) == 2
    one_line_error(capsys, "is damaged at line 3")
    assert plot_cmd.main([str(tmp_path / "missing")]) == 2
    one_line_error(capsys, "does not exist; give run folders")
