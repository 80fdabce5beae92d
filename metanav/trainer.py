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
import io
import json
import logging
import math
import re
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
from metanav.errors import CheckpointError, NumericalError
from metanav.files import atomic_write_text
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
        # The envs draw nothing at random today, but their generators are seeded
        # and checkpointed all the same, so a resumed run stays exact if one does.
        self.sampler.env.reset(seed=c.seed)
        self.iteration_var = tf.Variable(0, dtype=tf.int64, name="iteration")
        self.env_steps_var = tf.Variable(0, dtype=tf.int64, name="env_steps")
        self.wall_var = tf.Variable(0.0, dtype=tf.float64, name="wall_seconds")
        trackables: dict[str, Any] = {
            "model": self.policy.model,
            "action_rng": self.sampler.rng,
            "iteration": self.iteration_var,
            "env_steps": self.env_steps_var,
            "wall_seconds": self.wall_var,
            "env_rng": _GeneratorStates(lambda: _env_generators(self.sampler.env)),
        }
        if self.learner.optimizer is not None:
            # Built now, so that a restore fills its slots at once instead of
            # deferring them to the first update.
            self.learner.optimizer.build(self.policy.model.trainable_variables)
            trackables["optimizer"] = self.learner.optimizer
        self.checkpoint = tf.train.Checkpoint(**trackables)
        self.manager = tf.train.CheckpointManager(
            self.checkpoint,
            str(self.run_dir / "checkpoints"),
            max_to_keep=c.keep_checkpoints,
        )
        self._on_metrics = on_metrics
        self._stop_requested = False
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

        # Meta-update. A non-finite statistic stops the run before any saving.
        stats = self.learner.meta_update(fast, valid)
        for key, value in stats.items():
            if not math.isfinite(value):
                raise NumericalError(
                    f"The meta-update's {key} is {value}; the update was stopped."
                )

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
        """Restores the newest readable checkpoint; returns the iterations it holds.

        ``metrics.csv`` is cut back to those iterations, which the resumed run
        writes again. A checkpoint that cannot be read (truncated, corrupt, or
        from another model) is skipped with a warning in favour of the one before
        it.

        Raises:
            CheckpointError: there are checkpoints, but none can be read. Nothing
                in the run folder is changed then.
        """
        paths, listed = self._checkpoint_paths()
        problems = []
        for i in reversed(range(len(paths))):
            try:
                self.checkpoint.restore(paths[i]).assert_existing_objects_matched()
            except Exception as e:  # TF raises OpError, IndexError, AssertionError.
                problems.append(f"{Path(paths[i]).name} ({_first_line(e)})")
                continue
            if problems:
                log.warning(
                    "Skipped unreadable checkpoints: %s; resuming from %s.",
                    "; ".join(problems),
                    Path(paths[i]).name,
                )
            if not listed:
                self._rebuild_state_file(paths[: i + 1])
            done = int(self.iteration_var.numpy())
            _truncate_metrics(self.run_dir / "metrics.csv", done)
            return done
        if problems:
            raise CheckpointError(
                f"No checkpoint in {str(self.manager.directory)!r} can be restored: "
                f"{'; '.join(problems)}. Restore the run folder from a copy, or "
                "start a new run with another --out."
            )
        _truncate_metrics(self.run_dir / "metrics.csv", 0)
        return 0

    def _checkpoint_paths(self) -> tuple[list[str], bool]:
        """The checkpoints, oldest first, and whether the manager listed them.

        If the manager's state file is missing or damaged (``CheckpointManager``
        then sees no checkpoint), the checkpoint files themselves are listed.
        """
        if self.manager.checkpoints:
            return list(self.manager.checkpoints), True
        found = []
        for index in Path(self.manager.directory).glob("ckpt-*.index"):
            number = re.fullmatch(r"ckpt-(\d+)\.index", index.name)
            if number:
                found.append((int(number[1]), str(index.with_suffix(""))))
        if found:
            log.warning(
                "The checkpoint state file in %s is missing or damaged; trying the "
                "checkpoint files themselves.",
                self.manager.directory,
            )
        return [path for _, path in sorted(found)], False

    def _rebuild_state_file(self, paths: list[str]) -> None:
        """Writes the manager's state file anew, the last of ``paths`` latest."""
        tf.compat.v1.train.update_checkpoint_state(
            self.manager.directory, paths[-1], all_model_checkpoint_paths=paths
        )
        self.manager = tf.train.CheckpointManager(
            self.checkpoint,
            self.manager.directory,
            max_to_keep=self.config.keep_checkpoints,
        )

    def request_stop(self) -> None:
        """Asks :meth:`train` to stop after the current meta-iteration.

        Safe to call from a signal handler: it only sets a flag. ``train`` then
        saves a checkpoint and returns ``False``.
        """
        self._stop_requested = True

    def train(self, start: int = 0) -> bool:
        """Runs iterations ``start .. config.iterations`` and saves the policy.

        Returns:
            ``True`` when every iteration is done and the policy saved; ``False``
            when :meth:`request_stop` stopped it early, after a checkpoint.

        Raises:
            NumericalError: a loss, gradient or KL was not finite. The message
                names the iteration; the checkpoints on disk are left as they were.
        """
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
                try:
                    metrics = self.iteration(it)
                except NumericalError as e:
                    raise NumericalError(self._numerical_message(it + 1, e)) from None
                self.iteration_var.assign(it + 1)
                self.logger.record_many(metrics)
                self.logger.dump(it + 1)
                last = it + 1 == c.iterations
                if (it + 1) % c.checkpoint_every == 0 or last or self._stop_requested:
                    self.manager.save(checkpoint_number=it + 1)
                if self._stop_requested and not last:
                    return False
            self.save_final()
        finally:
            self.logger.close()
        return True

    def _numerical_message(self, iteration: int, error: Exception) -> str:
        text = str(error)
        kept = self.manager.latest_checkpoint
        where = (
            f"the last checkpoint, {kept}, is kept"
            if kept
            else "no checkpoint had been written yet"
        )
        return (
            f"Meta-iteration {iteration}: {text[0].lower()}{text[1:]} Nothing was "
            f"saved for it; {where}. Start a new run with a smaller inner_lr, "
            "max_kl or ppo_lr."
        )

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
    """Keeps the header and the complete rows of iterations ``1 .. done``.

    Rows past the checkpoint (which the resumed run writes again) go, and so
    does a row cut short by a kill. The file is replaced atomically.
    """
    if not path.exists():
        return
    with path.open(newline="") as f:
        text = f.read()
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        return
    header = rows[0]
    kept = [
        r
        for r in rows[1:]
        if len(r) == len(header) and r[0].isdigit() and int(r[0]) <= done
    ]
    out = io.StringIO()
    csv.writer(out).writerows([header, *kept])
    if out.getvalue() == text:
        return  # nothing to drop: leave the file as it is
    atomic_write_text(path, out.getvalue())


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"[:200]


def _env_generators(env: gym.vector.VectorEnv) -> list[np.random.Generator]:
    """The numpy generators of a batched MetaNav env: its own and each copy's."""
    unwrapped = env.unwrapped
    return [unwrapped.np_random, *unwrapped.np_randoms]


class _GeneratorStates(tf.train.experimental.PythonState):
    """Numpy generators as a checkpoint entry: their bit-generator states, in JSON.

    Args:
        generators: returns the generators; called at every save and restore, so
            a generator replaced by a later ``reset(seed=...)`` is still the one
            saved.
    """

    def __init__(self, generators: Callable[[], list[np.random.Generator]]) -> None:
        self._generators = generators

    def serialize(self) -> str:
        return json.dumps([g.bit_generator.state for g in self._generators()])

    def deserialize(self, string: str) -> None:
        generators = self._generators()
        states = json.loads(string)
        if len(states) != len(generators):
            raise ValueError(
                f"the checkpoint holds {len(states)} generator states; this run "
                f"has {len(generators)} generators"
            )
        for generator, state in zip(generators, states, strict=True):
            generator.bit_generator.state = state
