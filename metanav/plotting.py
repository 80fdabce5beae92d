"""Learning curves, adaptation curves and trajectory pictures, with matplotlib.

* :func:`plot_learning_curves`: pre- and post-adaptation return against
  iterations or env steps, one curve per group of runs (same algorithm and env,
  different seeds): the mean, and a 95 % confidence band when a group has more
  than one run.
* :func:`plot_adaptation_curves`: return against inner steps, from
  ``metanav-eval --json`` files, with 95 % confidence intervals over tasks.
* :func:`trajectory_picture`: the cells a policy visits on one task before and
  after adaptation.
"""

from __future__ import annotations

import csv
import json
import math
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from metanav.errors import RunFolderError

__all__ = [
    "read_metrics",
    "plot_learning_curves",
    "plot_adaptation_curves",
    "trajectory_picture",
]


def read_metrics(run_dir: Path) -> dict[str, np.ndarray]:
    """Reads a run's ``metrics.csv`` into columns (empty cells become NaN)."""
    path = Path(run_dir) / "metrics.csv"
    if not path.exists():
        raise RunFolderError(
            f"{str(path)!r} does not exist; give a run folder made by metanav-train."
        )
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise RunFolderError(f"{str(path)!r} has no rows yet; train for longer.")
    columns: dict[str, list[float]] = {key: [] for key in rows[0]}
    for line, row in enumerate(rows, start=2):
        try:
            for key in columns:
                columns[key].append(float(row[key]) if row[key] != "" else math.nan)
        except (TypeError, ValueError):
            raise RunFolderError(
                f"{str(path)!r} is damaged at line {line}; resuming the run "
                "(metanav-train --resume) rewrites it from the last checkpoint."
            ) from None
    return {key: np.array(values) for key, values in columns.items()}


def run_label(run_dir: Path) -> str:
    """``algorithm`` and env of a run, from its ``config.yaml``."""
    import yaml

    path = Path(run_dir) / "config.yaml"
    if not path.exists():
        return Path(run_dir).name
    config = yaml.safe_load(path.read_text()) or {}
    env = str(config.get("env_id", "")).split("/")[-1]
    return f"{config.get('algorithm', '?')} ({env})"


def _band(curves: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    length = min(len(c) for c in curves)
    stack = np.stack([c[:length] for c in curves])
    mean = np.nanmean(stack, axis=0)
    if len(curves) < 2:
        return mean, np.zeros_like(mean)
    half = 1.96 * np.nanstd(stack, axis=0, ddof=1) / math.sqrt(len(curves))
    return mean, half


def plot_learning_curves(
    ax: Any, run_dirs: Sequence[Path], x: str = "iteration"
) -> None:
    """Draws pre- (dashed) and post-adaptation (solid) return per group of runs."""
    groups: dict[str, list[dict[str, np.ndarray]]] = defaultdict(list)
    for run in run_dirs:
        groups[run_label(run)].append(read_metrics(run))
    key = "iteration" if x == "iteration" else "time/env_steps"
    for i, (label, runs) in enumerate(groups.items()):
        colour = f"C{i}"
        xs = _band([r[key] for r in runs])[0]
        for name, style in (("pre", "--"), ("post", "-")):
            curves = [r[f"train/{name}_return"] for r in runs]
            if all(np.isnan(c).all() for c in curves):
                continue
            mean, half = _band(curves)
            n = f", {len(runs)} seeds" if len(runs) > 1 else ""
            ax.plot(xs, mean, style, color=colour, label=f"{label} {name}-adapt{n}")
            if len(runs) > 1:
                ax.fill_between(xs, mean - half, mean + half, color=colour, alpha=0.2)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("meta-iteration" if x == "iteration" else "env steps")
    ax.set_ylabel("mean episode return")
    ax.set_title("Learning curves")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)


def plot_adaptation_curves(ax: Any, json_files: Sequence[Path]) -> None:
    """Draws return against inner steps, one line per ``metanav-eval`` JSON file."""
    most_steps = 1
    for i, path in enumerate(json_files):
        try:
            data = json.loads(Path(path).read_text())
            steps, mean = data["adapt_steps"], data["return_mean"]
            half = data["return_ci95"]
        except (OSError, ValueError, KeyError) as e:
            raise RunFolderError(
                f"{str(path)!r} is not a metanav-eval JSON file ({e}); make one with "
                "metanav-eval RUN --json FILE."
            ) from None
        # The run folder's name tells runs of one algorithm apart.
        run = Path(data["policy"]).name if data.get("policy") else Path(path).stem
        label = f"{run}: {data.get('algorithm')}" if data.get("algorithm") else run
        tasks = f"{data.get('tasks')} {data.get('split')} tasks"
        if data.get("step_sizes"):
            tasks += ", steps " + ", ".join(f"{a:g}" for a in data["step_sizes"])
        ax.errorbar(
            steps,
            mean,
            yerr=half,
            marker="o",
            capsize=3,
            color=f"C{i}",
            label=f"{label} ({tasks})",
        )
        most_steps = max(most_steps, len(steps))
    ax.set_xlabel("inner steps")
    ax.set_ylabel("mean episode return")
    ax.set_title("Adaptation on held-out tasks")
    ax.set_xticks(range(most_steps))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)


def trajectory_picture(
    run_dir: Path, episodes: int = 20, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, str]:
    """Pictures of the cells visited on one test task, before and after one step.

    Returns:
        ``(before, after, title)``: two RGB images of the grid (or the plane, for
        PointNav2D) with visited cells tinted by visit count.
    """
    import gymnasium as gym

    from metanav.evaluation import adapt_step, make_sampler
    from metanav.maml import MAML
    from metanav.saving import load_policy
    from metanav_envs.grid import GridNavEnv, draw_grid

    policy, meta = load_policy(run_dir)
    env = gym.make(meta["env_id"], **meta["env_kwargs"]).unwrapped
    sampler = make_sampler(meta, policy, 1, episodes, seed)
    task = env.sample_tasks(1, "test", seed=seed)[0]
    learner = MAML(policy, 1, inner_lr=meta["adaptation"]["inner_lr"])
    before = sampler.sample([task], [policy.variables])
    params = adapt_step(learner, [policy.variables], before, meta["adaptation"], 0)
    after = sampler.sample([task], params)
    env.reset(options={"task": task})
    pictures = []
    for eps in (before, after):
        if isinstance(env, GridNavEnv):
            visits = _grid_visits(env, eps)
            pictures.append(
                draw_grid(
                    env._sim.walls[0],
                    env._row_col(env._sim.goal[0]),
                    env.start,
                    cell=24,
                    visited=visits,
                )
            )
        else:
            pictures.append(_plane_picture(env, eps))
    if isinstance(env, GridNavEnv):
        shown = f"{episodes} episodes each; red: start, green: goal"
    else:
        shown = (
            f"the first {min(episodes, PLANE_EPISODES)} of {episodes} episodes each; "
            "blue: paths from the origin, red: where they ended, green: goal"
        )
    title = (
        f"{meta['env_id']}, test task {task.to_dict()}; {shown}. "
        f"Success: {before.successes().mean():.0%} before, "
        f"{after.successes().mean():.0%} after."
    )
    return pictures[0], pictures[1], title


#: Episodes drawn in a PointNav2D trajectory picture (more hide each other).
PLANE_EPISODES = 5


def _grid_visits(env: Any, eps: Any) -> np.ndarray:
    """Replays the episodes' actions in the single env to count visited cells."""
    visits = np.zeros(env.shape)
    for k in range(eps.episodes_per_task):
        env.reset()
        visits[env.agent_cell] += 1
        for t in range(int(eps.lengths[0, k])):
            env.step(int(eps.actions[0, k, t]))
            visits[env.agent_cell] += 1
    return visits


def _plane_picture(env: Any, eps: Any) -> np.ndarray:
    env.render_mode = "rgb_array"
    frames = []
    for k in range(min(eps.episodes_per_task, PLANE_EPISODES)):
        env.reset()
        for t in range(int(eps.lengths[0, k])):
            env.step(eps.actions[0, k, t])
        frames.append(env.render())
    return np.min(np.stack(frames), axis=0)
