"""How fast a policy adapts: returns after 0, 1, ..., K inner steps on held-out tasks.

For each of ``N`` tasks of a split, :func:`evaluate` collects ``E`` episodes with
the current weights, takes one policy-gradient inner step on them, and repeats,
``K`` times. It reports, per number of steps, the mean return and the success
rate with 95 % confidence intervals over tasks (normal approximation, 1.96
standard errors). Every algorithm is evaluated this way, with the inner-loop
settings saved with its policy. It can save the weights adapted to each task as
policies of their own, which it then evaluates like any other (on their task by
default).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from metanav.advantages import compute_advantages
from metanav.episodes import Episodes
from metanav.errors import NumericalError
from metanav.logger import Logger, TensorBoardOutput
from metanav.maml import MAML, to_task_batch
from metanav.policies import Policy
from metanav.sampler import Sampler
from metanav.saving import adapted_metadata, check_compatible, save_policy, with_weights

__all__ = [
    "evaluate",
    "ci95",
    "make_sampler",
    "adapt_step",
    "write_tensorboard",
    "ADAPTED_FOLDER",
    "EVAL_KEYS",
]

#: The folder name, under ``save_adapted``, of the policy adapted to task ``i``.
ADAPTED_FOLDER = "task_{:03d}"

#: The per-step numbers of :func:`evaluate` that :func:`write_tensorboard` logs,
#: under ``eval/``; documented in ``docs/metrics.md``.
EVAL_KEYS = (
    "eval/return_mean",
    "eval/return_ci95",
    "eval/success_rate",
    "eval/success_ci95",
    "eval/greedy_return",
    "eval/greedy_success_rate",
    "eval/env_steps",
)


def ci95(per_task: np.ndarray) -> float:
    """Half-width of the 95 % confidence interval of the mean over tasks."""
    n = len(per_task)
    return float(1.96 * per_task.std(ddof=1) / math.sqrt(n)) if n > 1 else 0.0


def make_sampler(
    meta: dict[str, Any], policy: Policy, num_tasks: int, episodes: int, seed: int = 0
) -> Sampler:
    """A sampler on the env and kwargs a saved policy was made for."""
    return Sampler(
        meta["env_id"],
        meta["env_kwargs"],
        num_tasks,
        episodes,
        policy,
        meta["policy"]["encoder"],
        seed=seed,
    )


def adapt_step(
    learner: MAML, params: list, episodes: Episodes, adaptation: dict, step: int
) -> list:
    """Inner step ``step`` on ``episodes``, with a saved policy's advantage settings.

    Args:
        learner: the meta-learner holding the step sizes.
        params: per-task weights.
        episodes: the fast batch collected with ``params``.
        adaptation: the ``"adaptation"`` entry of ``policy.json``.
        step: the number of the inner step (0-based), which sets its size.
    """
    advantages = compute_advantages(
        episodes,
        adaptation["gamma"],
        adaptation["gae_lambda"],
        adaptation["baseline"],
        adaptation["normalize_advantages"],
    )
    return learner.adapt(params, to_task_batch(episodes, advantages), step)


def evaluate(
    policy: Policy,
    meta: dict[str, Any],
    split: str | None = None,
    num_tasks: int = 40,
    adapt_steps: int = 3,
    episodes: int = 20,
    seed: int = 0,
    inner_lr: float | None = None,
    inner_lr_decay: float | None = None,
    step_sizes: list[float] | None = None,
    tasks: Sequence[Any] | None = None,
    save_adapted: str | Path | None = None,
) -> dict[str, Any]:
    """Adapts ``policy`` on ``num_tasks`` tasks for 0..``adapt_steps`` inner steps.

    Args:
        policy: the policy, as :func:`~metanav.saving.load_policy` returns it.
        meta: its metadata (``policy.json``).
        split: draw the tasks from this split. ``None``: for a policy adapted
            to one task (``meta["adapted"]``), ``num_tasks`` runs on that task;
            for any other, the ``"test"`` split.
        num_tasks: how many tasks to draw.
        adapt_steps: inner steps per task, each on ``episodes`` fresh episodes.
        episodes: episodes per task and step.
        seed: seeds the tasks and the episodes.
        inner_lr, inner_lr_decay: override the saved step sizes: inner step
            ``j`` takes ``inner_lr * inner_lr_decay**j``.
        step_sizes: the size of each inner step instead (the last repeats).
        tasks: evaluate on these tasks (dataclasses or dicts) instead of
            drawing them; ``num_tasks`` and ``split`` are then ignored.
        save_adapted: a folder to save, as ``task_000``, ``task_001``, ...,
            the policy adapted to each task after the ``adapt_steps`` steps,
            with the task in its metadata.

    Returns:
        A dict with, per number of steps (lists indexed like ``adapt_steps``):
        ``return_mean``, ``return_ci95``, ``success_rate``, ``success_ci95`` (over
        the sampled episodes), ``greedy_return`` and ``greedy_success_rate`` (one
        episode per task with the most likely action: the fraction of tasks whose
        adapted policy reaches the goal); ``task_list``, the tasks as dicts;
        ``adapted_policies``, the saved folders; and the settings used.
    """
    if save_adapted is not None and adapt_steps < 1:
        raise ValueError(
            f"Saving adapted policies needs adapt_steps >= 1; received {adapt_steps}."
        )
    adaptation = meta["adaptation"]
    lr = adaptation["inner_lr"] if inner_lr is None else inner_lr
    decay = adaptation["inner_lr_decay"] if inner_lr_decay is None else inner_lr_decay
    template = gym.make(meta["env_id"], **meta["env_kwargs"]).unwrapped
    check_compatible(meta, template)
    tasks, split = _tasks(template, meta, split, num_tasks, seed, tasks)
    num_tasks = len(tasks)
    sampler = make_sampler(meta, policy, num_tasks, episodes, seed)
    greedy = make_sampler(meta, policy, num_tasks, 1)
    learner = MAML(
        policy, num_tasks, inner_lr=lr, inner_lr_decay=decay, step_sizes=step_sizes
    )

    params = [policy.variables] * num_tasks
    result: dict[str, Any] = {
        "env_id": meta["env_id"],
        "split": split,
        "tasks": num_tasks,
        "episodes": episodes,
        "seed": seed,
        "inner_lr": lr,
        "inner_lr_decay": decay,
        "step_sizes": [learner.step_size(j) for j in range(adapt_steps)],
        "algorithm": meta.get("algorithm"),
        "adapted": meta.get("adapted"),
        "task_list": [t.to_dict() for t in tasks],
        "adapt_steps": [],
        "return_mean": [],
        "return_ci95": [],
        "success_rate": [],
        "success_ci95": [],
        "greedy_return": [],
        "greedy_success_rate": [],
        "env_steps": [],
        "adapted_policies": [],
    }
    for step in range(adapt_steps + 1):
        eps = sampler.sample(tasks, params)
        returns = eps.returns().mean(axis=1)
        success = eps.successes().mean(axis=1)
        result["adapt_steps"].append(step)
        result["return_mean"].append(float(returns.mean()))
        result["return_ci95"].append(ci95(returns))
        result["success_rate"].append(float(success.mean()))
        result["success_ci95"].append(ci95(success))
        result["env_steps"].append(eps.env_steps)
        best = greedy.sample(tasks, params, greedy=True)
        result["greedy_return"].append(float(best.returns().mean()))
        result["greedy_success_rate"].append(float(best.successes().mean()))
        if step < adapt_steps:
            params = adapt_step(learner, params, eps, adaptation, step)
            if not all(np.isfinite(p.numpy()).all() for ps in params for p in ps):
                raise NumericalError(
                    f"Inner step {step + 1} (size {learner.step_size(step):g}) made "
                    "the weights non-finite; use a smaller step size."
                )

    if save_adapted is not None:
        if step_sizes:
            # An explicit list repeats its last size: that is the next step.
            lr, decay = learner.step_size(adapt_steps), 1.0
        for i, (task, weights) in enumerate(zip(tasks, params, strict=True)):
            folder = Path(save_adapted) / ADAPTED_FOLDER.format(i)
            info = adapted_metadata(
                meta, task.to_dict(), split, adapt_steps, episodes, seed, lr, decay
            )
            save_policy(with_weights(policy, weights), info, folder)
            result["adapted_policies"].append(str(folder))
    return result


def _tasks(
    template: Any,
    meta: dict[str, Any],
    split: str | None,
    num_tasks: int,
    seed: int,
    tasks: Sequence[Any] | None,
) -> tuple[list[Any], str | None]:
    """The tasks to evaluate on, and the split they come from (if one)."""
    if tasks is not None:
        if not tasks:
            raise ValueError("tasks must hold at least one task; received none.")
        return [template.task_type.coerce(t) for t in tasks], None
    adapted = meta.get("adapted")
    if split is None and adapted is not None:
        task = template.task_type.coerce(adapted["task"])
        return [task] * num_tasks, adapted["split"]
    split = split or "test"
    return template.sample_tasks(num_tasks, split, seed=seed), split


def write_tensorboard(result: dict[str, Any], logdir: str | Path) -> None:
    """Logs an :func:`evaluate` result as TensorBoard scalars in ``logdir``.

    Each key of :data:`EVAL_KEYS` is written at step ``k``, the number of inner
    steps taken, so TensorBoard draws the adaptation curve.
    """
    logger = Logger([TensorBoardOutput(Path(logdir))])
    try:
        for i, step in enumerate(result["adapt_steps"]):
            logger.record_many(
                {key: result[key.removeprefix("eval/")][i] for key in EVAL_KEYS}
            )
            logger.dump(step)
    finally:
        logger.close()
