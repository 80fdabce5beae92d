"""The trainer, the sampler, saving and the commands, on tiny budgets."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import numpy as np
import pytest

from metanav.commands import evaluate as eval_cmd
from metanav.commands import plot as plot_cmd
from metanav.commands import train as train_cmd
from metanav.config import Config
from metanav.evaluation import EVAL_KEYS
from metanav.saving import load_policy
from metanav.trainer import METRIC_KEYS, Trainer

from conftest import REPO, TINY, read_scalars


def test_train_writes_the_run_folder(trained_run):
    names = {p.name for p in trained_run.iterdir()}
    assert {"config.yaml", "metrics.csv", "tensorboard", "checkpoints"} <= names
    assert {"policy.keras", "policy.json", "saved_model"} <= names
    rows = (trained_run / "metrics.csv").read_text().splitlines()
    assert rows[0].startswith("iteration,time/env_steps,time/wall_seconds")
    assert len(rows) == 3  # header + 2 iterations
    meta = json.loads((trained_run / "policy.json").read_text())
    assert meta["env_id"] == "MetaNav/GoalGrid-v0"
    assert meta["adaptation"]["inner_lr"] == 0.5
    assert set(meta["versions"]) >= {"metanav", "tensorflow", "keras", "gymnasium"}
    assert "shape: [4, 4]" in (trained_run / "config.yaml").read_text()


def test_tensorboard_scalars_are_the_metrics_csv_columns(trained_run):
    scalars = read_scalars(trained_run / "tensorboard")
    with (trained_run / "metrics.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert set(scalars) == set(METRIC_KEYS) - {"iteration"}  # the step is the x axis
    for key, series in scalars.items():
        assert sorted(series) == [int(row["iteration"]) for row in rows], key
        for row in rows:
            expected = float(row[key])
            assert series[int(row["iteration"])] == pytest.approx(expected, rel=1e-6)


def test_eval_logs_the_adaptation_curve_to_tensorboard(trained_run, tmp_path):
    report, logdir = tmp_path / "eval.json", tmp_path / "tb"
    args = [str(trained_run), "--tasks", "2", "--episodes", "2", "--adapt-steps", "2"]
    args += ["--json", str(report), "--tensorboard", str(logdir)]
    assert eval_cmd.main(args) == 0
    data = json.loads(report.read_text())
    scalars = read_scalars(logdir)
    assert set(scalars) == set(EVAL_KEYS)
    for key, series in scalars.items():
        numbers = data[key.removeprefix("eval/")]
        assert series == {k: pytest.approx(v, rel=1e-6) for k, v in enumerate(numbers)}


def test_eval_prints_and_writes_json(trained_run, tmp_path, capsys):
    out = tmp_path / "eval.json"
    code = eval_cmd.main([str(trained_run), "--json", str(out), "--adapt-steps", "2"])
    assert code == 0
    data = json.loads(out.read_text())
    assert data["adapt_steps"] == [0, 1, 2]
    for key in ("return_mean", "return_ci95", "success_rate"):
        assert len(data[key]) == 3 and all(np.isfinite(data[key]))
    assert data["tasks"] == 3 and data["episodes"] == 2
    assert "± " in capsys.readouterr().out


def test_eval_follows_the_maml_paper_protocol(trained_run, tmp_path, capsys):
    gaussian = tmp_path / "point"
    preset = str(REPO / "configs/pointnav2d_paper.yaml")
    tiny = ["iterations=0", "hidden_sizes=[8]", "env_kwargs.max_steps=5"]
    assert train_cmd.main([preset, *tiny, "--out", str(gaussian), "--quiet"]) == 0
    gaussian_run = str(gaussian)
    out = tmp_path / "eval.json"
    args = [str(trained_run), "--protocol", "maml-paper", "--json", str(out)]
    # Options given beside the protocol override its values.
    assert eval_cmd.main([*args, "--tasks", "2", "--episodes", "3"]) == 0
    data = json.loads(out.read_text())
    assert data["protocol"] == "maml-paper, with --tasks, --episodes changed"
    assert (data["tasks"], data["episodes"]) == (2, 3)
    assert data["adapt_steps"] == [0, 1, 2, 3]
    assert data["step_sizes"] == [0.5, 0.25, 0.25]
    assert "inner step sizes 0.5, 0.25, 0.25" in capsys.readouterr().out
    for bad in (["--step-sizes", "0", "1"], ["--step-sizes", "inf"]):
        assert eval_cmd.main([str(trained_run), *bad]) == 2
        assert "--step-sizes must all be finite and > 0" in capsys.readouterr().err
    assert eval_cmd.main([str(trained_run), "--inner-lr", "inf"]) == 2
    assert "--inner-lr must be a finite number > 0" in capsys.readouterr().err
    # Steps so large that the adapted weights, or the actions, overflow.
    for size, message in [
        ("1e39", "made the weights non-finite; use a smaller step size"),
        ("1e30", "non-finite actions: its weights are not finite or too large"),
    ]:
        assert eval_cmd.main([gaussian_run, "--step-sizes", size]) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err


def test_step_sizes_set_each_inner_step(trained_run):
    from metanav.evaluation import evaluate

    policy, meta = load_policy(trained_run)
    kw = {"num_tasks": 2, "adapt_steps": 2, "episodes": 3}
    listed = evaluate(policy, meta, step_sizes=[0.3, 0.1], **kw)
    decayed = evaluate(policy, meta, inner_lr=0.3, inner_lr_decay=1 / 3, **kw)
    other = evaluate(policy, meta, step_sizes=[0.3, 0.3], **kw)
    assert listed["step_sizes"] == [0.3, 0.1]
    np.testing.assert_allclose(listed["return_mean"], decayed["return_mean"])
    assert listed["return_mean"][:2] == other["return_mean"][:2]
    assert listed["return_mean"][2] != other["return_mean"][2]


def test_overrides_may_follow_options(tmp_path):
    out = tmp_path / "intermixed"
    preset = str(REPO / "configs/goalgrid.yaml")
    assert train_cmd.main([preset, "--out", str(out), "iterations=0", *TINY[1:]]) == 0
    assert "iterations: 0" in (out / "config.yaml").read_text()


def test_plot_draws_every_kind(trained_run, tmp_path):
    eval_json = tmp_path / "eval.json"
    assert eval_cmd.main([str(trained_run), "--json", str(eval_json)]) == 0
    png = tmp_path / "plot.png"
    args = [str(trained_run), str(eval_json), "--trajectory", str(trained_run)]
    assert plot_cmd.main([*args, "-o", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def observations(policy, n=16):
    rng = np.random.default_rng(0)
    return rng.uniform(0, 1, size=(n, *policy.input_shape)).astype(np.float32)


def test_saved_policy_gives_the_same_actions_in_a_fresh_process(trained_run, tmp_path):
    policy, _ = load_policy(trained_run)
    obs = observations(policy)
    np.save(tmp_path / "obs.npy", obs)
    logits = policy.model(obs).numpy()
    code = (
        "import sys, numpy as np\n"
        "from metanav.saving import load_policy\n"
        f"policy, _ = load_policy({str(trained_run)!r})\n"
        "np.save(sys.argv[2], policy.model(np.load(sys.argv[1])).numpy())\n"
    )
    paths = [str(tmp_path / "obs.npy"), str(tmp_path / "l.npy")]
    subprocess.run([sys.executable, "-c", code, *paths], check=True)
    np.testing.assert_array_equal(np.load(tmp_path / "l.npy"), logits)


def test_no_retracing_after_warm_up(tmp_path):
    config = Config(
        iterations=0,
        meta_batch_size=2,
        fast_batch_size=2,
        hidden_sizes=[8],
        env_kwargs={"shape": [4, 4], "max_steps": 6},
    )
    trainer = Trainer(config, tmp_path)
    functions = [
        trainer.sampler._rollout,
        trainer.learner._adapt_all,
        trainer.learner._objective,
        trainer.learner._objective_and_grad,
        trainer.learner._fvp,
        trainer.learner._old_distributions,
    ]
    trainer.iteration(0)
    counts = [f.experimental_get_tracing_count() for f in functions]
    for it in range(1, 4):
        trainer.iteration(it)
    assert [f.experimental_get_tracing_count() for f in functions] == counts


@pytest.mark.parametrize(
    ("algorithm", "extra"),
    [("pretrained", []), ("oracle", []), ("maml", ["outer=ppo", "first_order=true"])],
)
def test_other_algorithms_run(tmp_path, algorithm, extra):
    out = tmp_path / algorithm
    args = [str(REPO / "configs/goalgrid.yaml"), *TINY, f"algorithm={algorithm}"]
    assert train_cmd.main([*args, *extra, "--out", str(out), "--quiet"]) == 0
    meta = json.loads((out / "policy.json").read_text())
    assert meta["algorithm"] == algorithm
    assert meta["env_kwargs"].get("observe_goal", False) == (algorithm == "oracle")
    assert eval_cmd.main([str(out), "--tasks", "2", "--episodes", "2"]) == 0


def test_zero_iterations_saves_the_initial_policy(tmp_path):
    out = tmp_path / "random"
    args = [str(REPO / "configs/goalgrid.yaml"), *TINY, "iterations=0"]
    assert train_cmd.main([*args, "--out", str(out), "--quiet"]) == 0
    assert (out / "policy.keras").exists()
    assert (out / "metrics.csv").read_text().count("\n") == 1  # header only


@pytest.mark.parametrize(
    "preset", sorted(p.name for p in (REPO / "configs").glob("*.yaml"))
)
def test_every_preset_trains_one_tiny_iteration(tmp_path, preset):
    out = tmp_path / preset
    args = [
        str(REPO / "configs" / preset),
        "iterations=1",
        "meta_batch_size=2",
        "fast_batch_size=2",
        "env_kwargs.max_steps=5",
    ]
    assert train_cmd.main([*args, "--out", str(out), "--quiet"]) == 0
