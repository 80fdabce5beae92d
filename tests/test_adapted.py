"""Policies adapted to one task: metanav-eval --save-adapted, and evaluating them."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest

from metanav.commands import evaluate as eval_cmd
from metanav.evaluation import evaluate
from metanav.policies import build_policy
from metanav.saving import load_policy, with_weights

SMALL = ["--tasks", "2", "--episodes", "2", "--adapt-steps", "1"]


def weights(folder):
    policy, _ = load_policy(folder)
    return [v.numpy() for v in policy.variables]


def last_error(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert err and err[-1].startswith("error: "), err
    return err[-1]


@pytest.fixture(scope="module")
def adapted(trained_run, tmp_path_factory):
    """``metanav-eval RUN --save-adapted DIR`` on 2 test tasks, 1 inner step."""
    out = tmp_path_factory.mktemp("adapted")
    report = out / "eval.json"
    args = [str(trained_run), *SMALL, "--save-adapted", str(out / "a")]
    code = eval_cmd.main([*args, "--json", str(report)])
    assert code == 0
    return out / "a", json.loads(report.read_text())


def test_save_adapted_writes_one_policy_per_task(trained_run, adapted):
    folder, report = adapted
    assert sorted(p.name for p in folder.iterdir()) == ["task_000", "task_001"]
    assert report["adapted_policies"] == [
        str(folder / "task_000"),
        str(folder / "task_001"),
    ]
    base = weights(trained_run)
    for i, task in enumerate(report["task_list"]):
        meta = json.loads((folder / f"task_{i:03d}" / "policy.json").read_text())
        assert meta["adapted"] == {
            "task": task,
            "split": "test",
            "inner_steps": 1,
            "episodes": 2,
            "seed": 0,
            "inner_lr": 0.5,
            "inner_lr_decay": 0.5,
        }
        # The next step continues the schedule: 0.5 after one step of 0.5 x 0.5.
        assert meta["adaptation"]["inner_lr"] == 0.25
        assert (folder / f"task_{i:03d}" / "saved_model" / "saved_model.pb").exists()
        moved = weights(folder / f"task_{i:03d}")
        assert any(not np.array_equal(b, m) for b, m in zip(base, moved, strict=True))


def test_the_python_api_saves_the_same_adapted_weights(trained_run, adapted, tmp_path):
    folder, report = adapted
    policy, meta = load_policy(trained_run)
    result = evaluate(
        policy,
        meta,
        tasks=report["task_list"],
        adapt_steps=1,
        episodes=2,
        save_adapted=tmp_path,
    )
    assert result["split"] is None and result["task_list"] == report["task_list"]
    assert result["return_mean"] == report["return_mean"]
    for name in ("task_000", "task_001"):
        for mine, theirs in zip(
            weights(tmp_path / name), weights(folder / name), strict=True
        ):
            np.testing.assert_array_equal(mine, theirs)
    assert (
        json.loads((tmp_path / "task_000/policy.json").read_text())["adapted"]["split"]
        is None
    )


def test_eval_takes_an_adapted_policy_on_its_own_task(adapted, tmp_path, capsys):
    folder, report = adapted
    out = tmp_path / "again.json"
    code = eval_cmd.main([str(folder / "task_001"), *SMALL, "--json", str(out)])
    assert code == 0
    assert "its adapted task" in capsys.readouterr().out
    again = json.loads(out.read_text())
    assert again["task_list"] == [report["task_list"][1]] * 2
    assert again["split"] == "test" and again["adapted"]["inner_steps"] == 1
    # The first step of further adaptation is the one the schedule has next.
    assert again["inner_lr"] == 0.25


def test_an_adapted_policy_can_still_be_evaluated_on_a_split(adapted, tmp_path):
    folder, _ = adapted
    out = tmp_path / "train.json"
    args = [str(folder / "task_000"), *SMALL, "--split", "train", "--json", str(out)]
    assert eval_cmd.main(args) == 0
    data = json.loads(out.read_text())
    env = gym.make("MetaNav/GoalGrid-v0", shape=(4, 4)).unwrapped
    assert {env.task_split(t) for t in data["task_list"]} == {"train"}


def test_adapting_an_adapted_policy_adds_up_the_steps(adapted, tmp_path):
    folder, _ = adapted
    args = [str(folder / "task_000"), *SMALL, "--save-adapted", str(tmp_path / "b")]
    assert eval_cmd.main(args) == 0
    meta = json.loads((tmp_path / "b/task_000/policy.json").read_text())
    assert meta["adapted"]["inner_steps"] == 2
    assert meta["adaptation"]["inner_lr"] == 0.125


def test_save_adapted_refuses_what_it_cannot_do(trained_run, adapted, tmp_path, capsys):
    folder, _ = adapted
    run = str(trained_run)
    new = str(tmp_path / "x")
    assert eval_cmd.main([run, "--adapt-steps", "0", "--save-adapted", new]) == 2
    assert "needs --adapt-steps ≥ 1; received 0" in last_error(capsys)
    assert eval_cmd.main([run, *SMALL, "--save-adapted", str(folder)]) == 2
    assert "is not empty; choose a new or empty folder" in last_error(capsys)
    assert eval_cmd.main([str(folder)]) == 2
    assert f"give one of them, e.g. {folder / 'task_000'}" in last_error(capsys)
    assert not (tmp_path / "x").exists()


def test_with_weights_copies_the_model_with_other_weights():
    space = gym.spaces.Box(-1, 1, (3,))
    policy = build_policy(space, gym.spaces.Box(-1, 1, (2,)), [4], seed=0)
    doubled = [2 * v for v in policy.variables]
    copy = with_weights(policy, doubled)
    assert copy.kind == "gaussian" and copy.model is not policy.model
    for mine, wanted in zip(copy.variables, doubled, strict=True):
        np.testing.assert_array_equal(mine.numpy(), wanted.numpy())
    assert not np.array_equal(policy.variables[0].numpy(), doubled[0].numpy())
