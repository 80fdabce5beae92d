"""Tours the MetaNav task distributions: a random-policy baseline and a picture.

For every registered family it samples held-out test tasks, runs a uniformly random
policy on all of them at once through the batched env, and prints the mean return
and success rate over tasks, with 95 % confidence intervals. It then renders one
test task of each family and saves the pictures side by side.

This is the main job until the trainer lands::

    python scripts/demo_envs.py --out runs/demo

It writes ``envs.png`` and ``random_baseline.json`` under ``--out``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np

import metanav_envs


def random_baseline(env_id: str, num_tasks: int, episodes: int, seed: int) -> dict:
    """Runs a uniform random policy for ``episodes`` episodes on each of
    ``num_tasks`` test tasks, all copies in one batched env.

    Returns:
        The mean episode return and success rate over tasks, each with the
        half-width of its 95 % confidence interval over tasks.
    """
    vec = gym.make_vec(
        env_id, num_envs=num_tasks * episodes, vectorization_mode="vector_entry_point"
    )
    tasks = vec.unwrapped.sample_tasks(num_tasks, "test", seed=seed)
    vec.reset(seed=seed, options={"tasks": [t for t in tasks for _ in range(episodes)]})
    vec.action_space.seed(seed)
    returns = np.zeros(vec.num_envs)
    success = np.zeros(vec.num_envs, dtype=bool)
    alive = np.ones(vec.num_envs, dtype=bool)
    while alive.any():
        _, reward, terminated, truncated, _ = vec.step(vec.action_space.sample())
        returns += np.where(alive, reward, 0.0)
        success |= alive & terminated
        # A copy whose episode ended is restarted by autoreset; ignore it.
        alive &= ~(terminated | truncated)
    per_task_return = returns.reshape(num_tasks, episodes).mean(axis=1)
    per_task_success = success.reshape(num_tasks, episodes).mean(axis=1)

    def ci95(x: np.ndarray) -> float:
        return float(1.96 * x.std(ddof=1) / math.sqrt(len(x))) if len(x) > 1 else 0.0

    return {
        "env_id": env_id,
        "tasks": num_tasks,
        "episodes_per_task": episodes,
        "return_mean": float(per_task_return.mean()),
        "return_ci95": ci95(per_task_return),
        "success_rate": float(per_task_success.mean()),
        "success_ci95": ci95(per_task_success),
    }


def picture(env_id: str, seed: int, steps: int) -> np.ndarray:
    """Renders one test task after ``steps`` random steps."""
    env = gym.make(env_id, render_mode="rgb_array")
    task = env.unwrapped.sample_tasks(1, "test", seed=seed)[0]
    env.reset(seed=seed, options={"task": task})
    env.action_space.seed(seed)
    for _ in range(steps):
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            break
    return env.render()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("runs/demo"))
    parser.add_argument("--tasks", type=int, default=40, help="test tasks per family")
    parser.add_argument("--episodes", type=int, default=10, help="episodes per task")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.tasks < 1 or args.episodes < 1:
        parser.error("--tasks and --episodes must be positive")
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        print(f"error: cannot create --out {args.out}: {e.strerror}", file=sys.stderr)
        return 2

    results = []
    print(f"Random policy, {args.tasks} test tasks x {args.episodes} episodes each")
    print(f"{'env id':<26}{'return':>20}{'success':>18}")
    for env_id in metanav_envs.ENV_IDS:
        r = random_baseline(env_id, args.tasks, args.episodes, args.seed)
        results.append(r)
        print(
            f"{env_id:<26}{r['return_mean']:>12.2f} ± {r['return_ci95']:<5.2f}"
            f"{r['success_rate']:>10.1%} ± {r['success_ci95']:.1%}"
        )
    (args.out / "random_baseline.json").write_text(json.dumps(results, indent=2))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ids = metanav_envs.ENV_IDS
    fig, axes = plt.subplots(1, len(ids), figsize=(3.2 * len(ids), 3.6))
    for ax, env_id in zip(axes, ids, strict=True):
        ax.imshow(picture(env_id, args.seed, steps=12))
        ax.set_title(env_id.split("/")[1], fontsize=10)
        ax.set_axis_off()
    fig.suptitle(
        "One test task per family after 12 random steps (agent red, goal green)"
    )
    fig.tight_layout()
    fig.savefig(args.out / "envs.png", dpi=110)
    print(f"Wrote {args.out / 'envs.png'} and {args.out / 'random_baseline.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
