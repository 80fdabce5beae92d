"""Numerical guards: non-finite values stop the run, the line search is safe, and
advantages are normalised with the mask."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from metanav.advantages import normalize
from metanav.commands import train as train_cmd
from metanav.maml import MAML
from metanav.trainer import Trainer

from test_maml import float64, random_batch, tiny_policy  # noqa: F401 (a fixture)

REPO = Path(__file__).resolve().parents[1]
TINY = [
    str(REPO / "configs/goalgrid.yaml"),
    "iterations=4",
    "meta_batch_size=2",
    "fast_batch_size=2",
    "hidden_sizes=[8]",
    "env_kwargs.shape=[4, 4]",
    "env_kwargs.max_steps=6",
    "checkpoint_every=2",
]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def nan_advantages(trainer: Trainer, monkeypatch) -> None:
    def poisoned(episodes):
        return np.full(episodes.rewards.shape, np.nan, np.float32)

    monkeypatch.setattr(trainer, "_advantages", poisoned)


def nan_gradient(trainer: Trainer, monkeypatch) -> None:
    original = trainer.learner._objective_and_grad

    def poisoned(*args, **kwargs):
        loss, kl, grads = original(*args, **kwargs)
        return loss, kl, [g * np.nan for g in grads]

    monkeypatch.setattr(trainer.learner, "_objective_and_grad", poisoned)


def nan_kl(trainer: Trainer, monkeypatch) -> None:
    original = trainer.learner._objective

    def poisoned(*args, **kwargs):
        loss, _ = original(*args, **kwargs)
        return loss, tf.constant(np.nan, loss.dtype)

    monkeypatch.setattr(trainer.learner, "_objective", poisoned)


@pytest.mark.parametrize(
    ("outer", "poison", "problem"),
    [
        ("trpo", nan_advantages, "the meta-loss is not finite"),
        ("trpo", nan_gradient, "the meta-gradient is not finite"),
        ("ppo", nan_kl, "the meta-update's kl is nan"),
    ],
    ids=["loss", "gradient", "kl"],
)
def test_a_non_finite_value_stops_the_run_and_keeps_the_checkpoint(
    tmp_path, capsys, monkeypatch, outer, poison, problem
):
    run = tmp_path / "run"
    checkpoints = run / "checkpoints"
    before = {}
    original = Trainer.iteration

    def iteration(self, it):
        if it == 2:  # meta-iteration 3, after the checkpoint of iteration 2
            before.update(snapshot(checkpoints))
            poison(self, monkeypatch)
        return original(self, it)

    monkeypatch.setattr(Trainer, "iteration", iteration)
    args = [*TINY, f"outer={outer}", "--out", str(run), "--quiet"]
    assert train_cmd.main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "Traceback" not in "\n".join(err)
    assert err[-1] == (
        f"error: Meta-iteration 3: {problem}; the update was stopped. Nothing was "
        f"saved for it; the last checkpoint, {checkpoints / 'ckpt-2'}, is kept. "
        "Start a new run with a smaller inner_lr, max_kl or ppo_lr."
    )
    assert before and snapshot(checkpoints) == before
    assert not (run / "policy.keras").exists()
    assert (run / "metrics.csv").read_text().count("\n") == 3  # header + 2 rows


@pytest.fixture
def learner_and_batches(request):
    request.getfixturevalue("float64")
    policy = tiny_policy()
    learner = MAML(policy, num_tasks=2, inner_lr=0.3, max_kl=0.01)
    fast = [random_batch(policy, 2, 12, seed=0)]
    valid = random_batch(policy, 2, 12, seed=1)
    return learner, fast, valid


def scripted_objective(learner, results):
    """Replaces the line search's objective by ``(loss, kl)`` pairs in turn;
    ``None`` keeps the true loss. Returns the candidates it was given."""
    original = learner._objective
    candidates = []

    def objective(candidate, *args):
        true_loss, _ = original(candidate, *args)
        loss, kl = results[min(len(candidates), len(results) - 1)]
        candidates.append([tf.identity(c) for c in candidate])
        if loss is None:
            loss = float(true_loss)
        return tf.constant(loss, tf.float64), tf.constant(kl, tf.float64)

    learner._objective = objective
    return candidates


def true_loss_before(learner, fast, valid) -> float:
    """The meta-loss at the current weights, as the line search measures it."""
    theta = [tf.identity(v) for v in learner.policy.variables]
    fast_t = tuple(b.as_tuple() for b in fast)
    old = learner._old_distributions(theta, fast_t, valid.as_tuple())
    return float(learner._objective(theta, fast_t, valid.as_tuple(), *old)[0])


def test_the_line_search_takes_the_first_step_that_is_within_the_limit_and_better(
    learner_and_batches,
):
    learner, fast, valid = learner_and_batches
    before = true_loss_before(learner, fast, valid)
    worse, better = before + 1.0, before - 1.0
    candidates = scripted_objective(
        learner, [(worse, 0.001), (better, 0.02), (before, 0.001), (better, 0.005)]
    )
    stats = learner.meta_update(fast, valid)
    assert len(candidates) == 4
    assert stats["step_fraction"] == pytest.approx(learner.line_search_ratio**3)
    assert (stats["loss_after"], stats["kl"]) == (better, 0.005)
    for var, value in zip(learner.policy.variables, candidates[-1], strict=True):
        np.testing.assert_array_equal(var.numpy(), value.numpy())


@pytest.mark.parametrize(
    "result",
    [
        (1e9, 0.0),
        (None, 1.0),
        (np.nan, 0.0),
        (None, np.nan),
        (-np.inf, 0.0),
        (-1e9, -np.inf),
    ],
    ids=["worse", "over the KL limit", "nan loss", "nan KL", "-inf loss", "-inf KL"],
)
def test_without_an_accepted_step_theta_stays_and_it_is_logged(
    learner_and_batches, caplog, result
):
    learner, fast, valid = learner_and_batches
    theta = [v.numpy().copy() for v in learner.policy.variables]
    candidates = scripted_objective(learner, [result])
    with caplog.at_level(logging.WARNING, logger="metanav.maml"):
        stats = learner.meta_update(fast, valid)
    assert len(candidates) == learner.line_search_steps
    assert stats["step_fraction"] == 0.0
    assert stats["loss_after"] == stats["loss_before"] and stats["kl"] == 0.0
    for var, value in zip(learner.policy.variables, theta, strict=True):
        np.testing.assert_array_equal(var.numpy(), value)
    assert "TRPO line search accepted no step in 15 tries; theta is unchanged." in (
        caplog.text
    )


def test_a_zero_meta_gradient_leaves_theta_and_is_logged(learner_and_batches, caplog):
    # All advantages 0 (every episode alike, which a tiny GoalGrid run meets
    # after ~100 iterations) make the gradient and s'Fs exactly 0.
    learner, fast, valid = learner_and_batches
    valid = dataclasses.replace(valid, advantages=tf.zeros_like(valid.advantages))
    theta = [v.numpy().copy() for v in learner.policy.variables]
    with caplog.at_level(logging.WARNING, logger="metanav.maml"):
        stats = learner.meta_update(fast, valid)
    assert stats["grad_norm"] == 0.0 and stats["step_fraction"] == 0.0
    for var, value in zip(learner.policy.variables, theta, strict=True):
        np.testing.assert_array_equal(var.numpy(), value)
    assert "The meta-gradient is zero; theta is unchanged." in caplog.text


@pytest.mark.parametrize(("max_kl", "seed"), [(1e-4, 0), (1e-2, 1), (1.0, 2)])
@pytest.mark.usefixtures("float64")
def test_an_accepted_step_keeps_the_kl_limit_and_improves_the_surrogate(max_kl, seed):
    policy = tiny_policy(seed=seed)
    learner = MAML(policy, num_tasks=2, inner_lr=0.3, max_kl=max_kl)
    fast = [random_batch(policy, 2, 12, seed=10 + seed)]
    valid = random_batch(policy, 2, 12, seed=20 + seed)
    theta0 = [tf.identity(v) for v in policy.variables]
    fast_t = tuple(b.as_tuple() for b in fast)
    old = learner._old_distributions(theta0, fast_t, valid.as_tuple())
    before = float(learner._objective(theta0, fast_t, valid.as_tuple(), *old)[0])
    stats = learner.meta_update(fast, valid)
    theta1 = [tf.identity(v) for v in policy.variables]
    loss, kl = learner._objective(theta1, fast_t, valid.as_tuple(), *old)
    assert stats["step_fraction"] > 0
    assert float(kl) <= max_kl and float(kl) == stats["kl"]
    assert float(loss) < before and float(loss) == stats["loss_after"]


def test_normalisation_is_per_task_over_episodes_and_time_with_the_mask():
    rng = np.random.default_rng(0)
    adv = rng.normal(3.0, 5.0, size=(3, 4, 6))
    mask = (rng.random((3, 4, 6)) < 0.7).astype(np.float64)
    out = normalize(adv, mask)
    for m in range(3):
        real = out[m][mask[m] == 1]
        assert real.mean() == pytest.approx(0.0, abs=1e-12)
        assert real.std() == pytest.approx(1.0, abs=1e-6)
    assert np.all(out[mask == 0] == 0.0)
    # What lies on padding changes nothing.
    noisy = np.where(mask == 1, adv, rng.normal(0, 1e6, adv.shape))
    np.testing.assert_array_equal(normalize(noisy, mask), out)


@pytest.mark.parametrize(
    ("adv", "mask"),
    [
        (np.full((2, 3, 4), 7.5), np.ones((2, 3, 4))),  # std 0 everywhere
        (np.full((2, 3, 4), -7.77), np.ones((2, 3, 4))),  # and a mean with rounding
        (np.arange(24.0).reshape(2, 3, 4), np.eye(1, 12).reshape(1, 3, 4)),  # one step
        (np.ones((2, 3, 4)), np.zeros((2, 3, 4))),  # nothing real
    ],
    ids=["constant", "constant -7.77", "one real step", "all padding"],
)
def test_normalisation_is_safe_when_the_std_is_zero(adv, mask):
    # Zero up to the rounding of the mean (which the 1e-8 in the divisor bounds).
    out = normalize(adv, np.broadcast_to(mask, adv.shape))
    assert np.all(np.isfinite(out))
    assert np.abs(out).max() < 1e-6
