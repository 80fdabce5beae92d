"""The trainer: meta-iterations, metrics, checkpoints and the final policy.

One meta-iteration (:meth:`Trainer.iteration`) reads top to bottom:

1. sample a meta-batch of train tasks;
2. collect a fast batch on every task with ``theta``;
3. adapt: one inner step per task (repeat 2-3 for ``k`` inner steps);
4. collect the validation batch with the adapted weights;
5. meta-update ``theta`` through the adaptation (TRPO or PPO);
6. record the metrics.

The ``pretrained`` and ``oracle`` baselines skip 2-3 and update ``theta`` on the
episodes it collects itself.
"""

from __future__ import annotations

import csv
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import tensorflow as tf

import metanav_envs  # noqa: F401  (registers the MetaNav ids)
from metanav.advantages import compute_advantages
from metanav.config import Config, save_config
from metanav.episodes import Episodes
from metanav.logger import CallbackOutput, CSVOutput, Logger, TensorBoardOutput
from metanav.maml import MAML, to_task_batch
from metanav.policies import build_policy
from metanav.sampler import Sampler
from metanav.saving import policy_metadata, save_policy

__all__ = ["Trainer", "METRIC_KEYS"]

log = logging.getLogger(__name__)

#: The columns of ``metrics.csv``, in order; documented in ``docs/metrics.md``.
METRIC_KEYS = (
    "iteration",
    "time/env_steps",
    "time/wall_seconds",
    "time/iteration_seconds",
    "train/pre_return",
    "train/post_return",
    "train/pre_success",
    "train/post_success",
    "train/loss_before",
    "train/loss_after",
    "train/kl",
    "train/step_fraction",
    "train/grad_norm",
    "train/expected_improvement",
)


def task_seed(seed: int, iteration: int) -> int:
    """The seed of iteration ``iteration``'s meta-batch: a pure function of both,
    so a resumed run draws the same tasks as an uninterrupted one."""
    return int(np.random.SeedSequence([seed, iteration]).generate_state(1)[0])


class Trainer:
    """Meta-trains a policy as ``config`` says, writing into ``run_dir``.

    Args:
        config: the resolved config.
        run_dir: the run folder (created if needed).
        on_metrics: called with each iteration's metrics (for a progress bar).
    """

    def __init__(
        self,
        config: Config,
        run_dir: Path,
        on_metrics: Callable[[dict[str, Any], int], None] | None = None,
    ) -> None:
        self.config = config
        self.run_dir = Path(run_dir)
        c = config
        self.env_kwargs = c.train_env_kwargs
        self.template = gym.make(c.env_id, **self.env_kwargs).unwrapped
        self.policy = build_policy(
            self.template.observation_space,
            self.template.action_space,
            c.hidden_sizes,
            c.activation,
            c.encoder,
            c.init_log_std,
            seed=c.seed,
        )
        self.sampler = Sampler(
            c.env_id,
            self.env_kwargs,
            c.meta_batch_size,
            c.fast_batch_size,
            self.policy,
            c.encoder,
            seed=c.seed,
        )
        self.learner = MAML(
            self.policy,
            c.meta_batch_size,
            inner_steps=c.train_inner_steps,
            inner_lr=c.inner_lr,
            inner_lr_decay=c.inner_lr_decay,
            first_order=c.first_order,
            outer=c.outer,
            max_kl=c.max_kl,
            cg_iters=c.cg_iters,
            cg_damping=c.cg_damping,
            line_search_steps=c.line_search_steps,
            line_search_ratio=c.line_search_ratio,
            fvp=c.fvp,
            fvp_subsample=c.fvp_subsample,
            ppo_clip=c.ppo_clip,
            ppo_epochs=c.ppo_epochs,
            ppo_lr=c.ppo_lr,
        )
        self.iteration_var = tf.Variable(0, dtype=tf.int64, name="iteration")
        self.env_steps_var = tf.Variable(0, dtype=tf.int64, name="env_steps")
        self.wall_var = tf.Variable(0.0, dtype=tf.float64, name="wall_seconds")
        trackables: dict[str, Any] = {
            "model": self.policy.model,
            "action_rng": self.sampler.rng,
            "iteration": self.iteration_var,
            "env_steps": self.env_steps_var,
            "wall_seconds": self.wall_var,
        }
        if self.learner.optimizer is not None:
            trackables["optimizer"] = self.learner.optimizer
        self.checkpoint = tf.train.Checkpoint(**trackables)
        self.manager = tf.train.CheckpointManager(
            self.checkpoint,
            str(self.run_dir / "checkpoints"),
            max_to_keep=c.keep_checkpoints,
        )
        self._on_metrics = on_metrics
        self.logger: Logger | None = None

    # -- one meta-iteration ------------------------------------------------------

    def iteration(self, it: int) -> dict[str, Any]:
        """Runs meta-iteration ``it`` and returns its metrics."""
        c = self.config
        start = time.perf_counter()

        # Sample tasks.
        tasks = self.template.sample_tasks(
            c.meta_batch_size, "train", seed=task_seed(c.seed, it)
        )

        # Collect and adapt, once per inner step.
        params = [self.policy.variables] * c.meta_batch_size
        collected: list[Episodes] = []
        fast = []
        for j in range(c.train_inner_steps):
            episodes = self.sampler.sample(tasks, params)
            collected.append(episodes)
            batch = to_task_batch(episodes, self._advantages(episodes))
            params = self.learner.adapt(params, batch, j)
            fast.append(batch)

        # Collect again, with the adapted weights.
        valid_episodes = self.sampler.sample(tasks, params)
        collected.append(valid_episodes)
        valid = to_task_batch(valid_episodes, self._advantages(valid_episodes))

        # Meta-update.
        stats = self.learner.meta_update(fast, valid)

        # Record. Without adaptation (the baselines) there is no post-adaptation.
        self.env_steps_var.assign_add(sum(e.env_steps for e in collected))
        seconds = time.perf_counter() - start
        self.wall_var.assign_add(seconds)
        pre, adapted = collected[0], bool(fast)
        nan = float("nan")
        return {
            "iteration": it + 1,
            "time/env_steps": int(self.env_steps_var.numpy()),
            "time/wall_seconds": float(self.wall_var.numpy()),
            "time/iteration_seconds": seconds,
            "train/pre_return": float(pre.returns().mean()),
            "train/post_return": (
                float(valid_episodes.returns().mean()) if adapted else nan
            ),
            "train/pre_success": float(pre.successes().mean()),
            "train/post_success": (
                float(valid_episodes.successes().mean()) if adapted else nan
            ),
            **{f"train/{k}": v for k, v in stats.items()},
        }

    def _advantages(self, episodes: Episodes) -> np.ndarray:
        c = self.config
        return compute_advantages(
            episodes, c.gamma, c.gae_lambda, c.baseline, c.normalize_advantages
        )

    # -- the run ---------------------------------------------------------------

    def restore(self) -> int:
        """Restores the latest checkpoint; returns the iterations already done."""
        latest = self.manager.latest_checkpoint
        if latest is None:
            return 0
        self.checkpoint.restore(latest).assert_existing_objects_matched()
        done = int(self.iteration_var.numpy())
        _truncate_metrics(self.run_dir / "metrics.csv", done)
        return done

    def train(self, start: int = 0) -> None:
        """Runs iterations ``start .. config.iterations`` and saves the policy."""
        c = self.config
        self.run_dir.mkdir(parents=True, exist_ok=True)
        save_config(c, self.run_dir / "config.yaml")
        outputs: list[Any] = [
            CSVOutput(self.run_dir / "metrics.csv", METRIC_KEYS),
            TensorBoardOutput(self.run_dir / "tensorboard"),
        ]
        if self._on_metrics is not None:
            outputs.append(CallbackOutput(self._on_metrics))
        self.logger = Logger(outputs)
        try:
            for it in range(start, c.iterations):
                metrics = self.iteration(it)
                self.iteration_var.assign(it + 1)
                self.logger.record_many(metrics)
                self.logger.dump(it + 1)
                if (it + 1) % c.checkpoint_every == 0 or it + 1 == c.iterations:
                    self.manager.save(checkpoint_number=it + 1)
            self.save_final()
        finally:
            self.logger.close()

    def save_checkpoint(self) -> str:
        return self.manager.save(checkpoint_number=int(self.iteration_var.numpy()))

    def save_final(self) -> None:
        meta = policy_metadata(
            self.policy,
            self.template,
            self.config.env_id,
            self.env_kwargs,
            self.config.to_dict(),
        )
        save_policy(self.policy, meta, self.run_dir)


def _truncate_metrics(path: Path, done: int) -> None:
    """Drops rows past the checkpoint, which the resumed run will write again."""
    if not path.exists():
        return
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        return
    kept = [rows[0]] + [r for r in rows[1:] if r and int(r[0]) <= done]
    tmp = path.with_suffix(".csv.tmp")
    with tmp.open("w", newline="") as f:
        csv.writer(f).writerows(kept)
    tmp.replace(path)
