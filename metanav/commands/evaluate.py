"""``metanav-eval POLICY_OR_RUN [--split test] [--tasks N] [--adapt-steps K]
[--episodes E] [--json FILE] [--seed N]``.

Adapts a saved policy on N held-out tasks for 0..K policy-gradient inner steps,
with E episodes per task and step, and prints the mean return and success rate
with 95 % confidence intervals over tasks.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from metanav.commands.common import command, select_device
from metanav.errors import RunFolderError
from metanav.files import atomic_write_text


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="metanav-eval",
        description="Evaluate how fast a saved policy adapts to held-out tasks.",
    )
    p.add_argument("policy", type=Path, help="a run folder or its policy.keras")
    p.add_argument("--split", choices=["train", "test"], default="test")
    p.add_argument("--tasks", type=int, help="tasks (default: the run's eval_tasks)")
    p.add_argument(
        "--adapt-steps", type=int, help="inner steps (default: eval_adapt_steps)"
    )
    p.add_argument("--episodes", type=int, help="episodes per task and step")
    p.add_argument("--inner-lr", type=float, help="override the saved inner step size")
    p.add_argument(
        "--inner-lr-decay",
        type=float,
        help="override the saved factor applied to the step size after each step",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path, help="also write the numbers to this file")
    p.add_argument("--device", choices=["cpu", "gpu", "auto"], default="auto")
    return p


def _defaults(folder: Path) -> dict:
    from metanav import config as cfg

    path = folder / "config.yaml"
    if path.exists():
        c = cfg.from_dict(cfg.load_config(path), str(path))
        return {
            "tasks": c.eval_tasks,
            "adapt_steps": c.eval_adapt_steps,
            "episodes": c.eval_episodes,
        }
    return {"tasks": 40, "adapt_steps": 3, "episodes": 20}


def _check_writable(path: Path) -> None:
    """Fails before the evaluation if ``path`` cannot be written."""
    parent = path.parent
    if path.is_dir():
        raise RunFolderError(f"--json {str(path)!r} is a folder; give a file name.")
    if not parent.is_dir():
        raise RunFolderError(
            f"Cannot write --json {str(path)!r}: folder {str(parent)!r} does not exist."
        )
    if not os.access(parent, os.W_OK):
        raise RunFolderError(
            f"Cannot write --json {str(path)!r}: folder {str(parent)!r} is not "
            "writable."
        )


@command
def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    for name in ("tasks", "episodes"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            raise RunFolderError(
                f"--{name} must be ≥ 1; received {getattr(args, name)}."
            )
    if args.inner_lr is not None and not args.inner_lr > 0:
        raise RunFolderError(f"--inner-lr must be > 0; received {args.inner_lr}.")
    if args.inner_lr_decay is not None and not 0 < args.inner_lr_decay <= 1:
        raise RunFolderError(
            f"--inner-lr-decay must lie in (0, 1]; received {args.inner_lr_decay}."
        )
    if args.adapt_steps is not None and args.adapt_steps < 0:
        raise RunFolderError(f"--adapt-steps must be ≥ 0; received {args.adapt_steps}.")
    if args.json is not None:
        _check_writable(args.json)
    select_device(args.device)
    from metanav.evaluation import evaluate
    from metanav.saving import load_policy, resolve_policy_path

    folder = resolve_policy_path(args.policy)
    defaults = _defaults(folder)
    policy, meta = load_policy(folder)
    result = evaluate(
        policy,
        meta,
        split=args.split,
        num_tasks=args.tasks or defaults["tasks"],
        adapt_steps=(
            defaults["adapt_steps"] if args.adapt_steps is None else args.adapt_steps
        ),
        episodes=args.episodes or defaults["episodes"],
        seed=args.seed,
        inner_lr=args.inner_lr,
        inner_lr_decay=args.inner_lr_decay,
    )
    result["policy"] = str(folder)
    print(
        f"{meta['env_id']} ({meta.get('algorithm')}), {result['tasks']} {args.split} "
        f"tasks x {result['episodes']} episodes, inner step {result['inner_lr']}"
        f" (x{result['inner_lr_decay']} per step)"
    )
    print(
        f"{'steps':>5}  {'return (95% CI)':>22}  {'success (95% CI)':>20}  "
        f"{'greedy success':>14}"
    )
    for i, step in enumerate(result["adapt_steps"]):
        ret, ret_ci = result["return_mean"][i], result["return_ci95"][i]
        win, win_ci = result["success_rate"][i], result["success_ci95"][i]
        best = result["greedy_success_rate"][i]
        print(
            f"{step:>5}  {ret:>12.2f} ± {ret_ci:<7.2f}  {win:>11.1%} ± {win_ci:<6.1%}"
            f"  {best:>14.1%}"
        )
    if args.json is not None:
        try:
            atomic_write_text(args.json, json.dumps(result, indent=2) + "\n")
        except OSError as e:
            raise RunFolderError(
                f"Cannot write --json {str(args.json)!r}: {e.strerror}; the table "
                "above has the numbers."
            ) from None
        print(f"Wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
