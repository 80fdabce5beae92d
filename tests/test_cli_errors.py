"""Bad input to the commands ends in one line on stderr and exit status 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from metanav.commands import evaluate as eval_cmd
from metanav.commands import train as train_cmd

REPO = Path(__file__).resolve().parents[1]
PRESET = str(REPO / "configs/goalgrid.yaml")


def one_line_error(capsys, match):
    err = capsys.readouterr().err.strip().splitlines()
    assert err and err[-1].startswith("error: "), err
    assert match in err[-1], err[-1]
    assert "Traceback" not in "\n".join(err)


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ([PRESET, "itrations=3"], "Did you mean 'iterations'?"),
        ([PRESET, "inner_lr=-1"], "inner_lr must be > 0"),
        ([PRESET, "meta_batch_size=0"], "meta_batch_size must be ≥ 1"),
        ([PRESET, "env_id=MetaNav/GoalGird-v0"], "GoalGird"),
        (["configs/missing.yaml"], "does not exist"),
    ],
)
def test_train_rejects_bad_input(tmp_path, capsys, args, match):
    code = train_cmd.main([*args, "--out", str(tmp_path / "run"), "--quiet"])
    assert code == 2
    one_line_error(capsys, match)


def test_train_refuses_to_overwrite_a_run(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text("iterations: 3\n")
    (run / "metrics.csv").write_text("precious\n")
    assert train_cmd.main([PRESET, "--out", str(run), "--quiet"]) == 2
    one_line_error(capsys, "already holds a run; continue it with")
    assert (run / "metrics.csv").read_text() == "precious\n"


def test_eval_rejects_a_missing_or_corrupt_policy(tmp_path, capsys):
    assert eval_cmd.main([str(tmp_path / "nothing")]) == 2
    one_line_error(capsys, "does not exist")
    (tmp_path / "policy.keras").write_bytes(b"not a zip file")
    (tmp_path / "policy.json").write_text(
        '{"format": "metanav-policy", "format_version": 1}'
    )
    assert eval_cmd.main([str(tmp_path)]) == 2
    one_line_error(capsys, "truncated or corrupt")
    (tmp_path / "policy.json").write_text('{"hello": 1}')
    assert eval_cmd.main([str(tmp_path)]) == 2
    one_line_error(capsys, "is not metanav policy metadata")


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
