"""How fast a policy adapts: returns after 0, 1, ..., K inner steps on held-out tasks.

For each of ``N`` tasks of a split, :func:`evaluate` collects ``E`` episodes with
the current weights, takes one policy-gradient inner step on them, and repeats,
``K`` times. It reports, per number of steps, the mean return and the success
rate with 95 % confidence intervals over tasks (normal approximation, 1.96
standard errors). Every algorithm is evaluated this way, with the inner-loop
settings saved with its policy.
"""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import numpy as np

from metanav.advantages import compute_advantages
from metanav.episodes import Episodes
from metanav.maml import MAML, to_task_batch
from metanav.policies import Policy
from metanav.sampler import Sampler
from metanav.saving import check_compatible

__all__ = ["evaluate", "ci95", "make_sampler", "adapt_step"]


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
    split: str = "test",
    num_tasks: int = 40,
    adapt_steps: int = 3,
    episodes: int = 20,
    seed: int = 0,
    inner_lr: float | None = None,
    inner_lr_decay: float | None = None,
    step_sizes: list[float] | None = None,
) -> dict[str, Any]:
    """Adapts ``policy`` on ``num_tasks`` tasks of ``split`` for 0..``adapt_steps``.

    Inner step ``j`` takes ``inner_lr * inner_lr_decay**j`` (the saved values
    unless given), or ``step_sizes[j]`` when ``step_sizes`` is given.

    Returns:
        A dict with, per number of steps (lists indexed like ``adapt_steps``):
        ``return_mean``, ``return_ci95``, ``success_rate``, ``success_ci95`` (over
        the sampled episodes), ``greedy_return`` and ``greedy_success_rate`` (one
        episode per task with the most likely action: the fraction of tasks whose
        adapted policy reaches the goal), and the settings used.
    """
    adaptation = meta["adaptation"]
    lr = adaptation["inner_lr"] if inner_lr is None else inner_lr
    decay = adaptation["inner_lr_decay"] if inner_lr_decay is None else inner_lr_decay
    check_compatible(meta, gym.make(meta["env_id"], **meta["env_kwargs"]).unwrapped)
    sampler = make_sampler(meta, policy, num_tasks, episodes, seed)
    greedy = make_sampler(meta, policy, num_tasks, 1)
    tasks = sampler.template.sample_tasks(num_tasks, split, seed=seed)
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
        "adapt_steps": [],
        "return_mean": [],
        "return_ci95": [],
        "success_rate": [],
        "success_ci95": [],
        "greedy_return": [],
        "greedy_success_rate": [],
        "env_steps": [],
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
    return result
