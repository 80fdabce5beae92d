"""``metanav-eval POLICY_OR_RUN [--split test] [--tasks N] [--adapt-steps K]
[--episodes E] [--step-sizes A ...] [--protocol maml-paper] [--json FILE]
[--tensorboard DIR] [--save-adapted DIR] [--seed N]``.

Adapts a saved policy on N held-out tasks for 0..K policy-gradient inner steps,
with E episodes per task and step, and prints the mean return and success rate
with 95 % confidence intervals over tasks. ``--tensorboard DIR`` logs the same
numbers as ``eval/`` scalars, one step per inner step. ``--save-adapted DIR``
saves the policy adapted to each task, as ``DIR/task_000``, ``DIR/task_001``,
...; each is a policy folder that ``metanav-eval`` takes in turn, evaluating it
on its own task unless ``--split`` is given.

``--protocol maml-paper`` is the test protocol of Finn et al. (2017, Fig. 4): 40
test tasks, 40 episodes per task and step, 3 steps, the first of size 0.5 and the
later ones of half that (0.25). Options given beside it override its values.
"""

from __future__ import annotations

import argparse
import json
import math
import os
from pathlib import Path

from metanav.commands.common import command, empty_folder, select_device
from metanav.errors import RunFolderError
from metanav.files import atomic_write_text

#: Named evaluation protocols: option -> value, applied where not given.
PROTOCOLS = {
    "maml-paper": {
        "tasks": 40,
        "episodes": 40,
        "adapt_steps": 3,
        "step_sizes": [0.5, 0.25, 0.25],
    },
}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="metanav-eval",
        description="Evaluate how fast a saved policy adapts to held-out tasks.",
    )
    p.add_argument(
        "policy",
        type=Path,
        help="a run folder, its policy.keras, or a folder --save-adapted wrote",
    )
    p.add_argument(
        "--split",
        choices=["train", "test"],
        help="draw tasks from this split (default: test; for an adapted policy, "
        "its own task)",
    )
    p.add_argument("--tasks", type=int, help="tasks (default: the run's eval_tasks)")
    p.add_argument(
        "--adapt-steps", type=int, help="inner steps (default: eval_adapt_steps)"
    )
    p.add_argument(
        "--episodes",
        type=int,
        help="episodes per task and step (default: the run's eval_episodes)",
    )
    p.add_argument("--inner-lr", type=float, help="override the saved inner step size")
    p.add_argument(
        "--inner-lr-decay",
        type=float,
        help="override the saved factor applied to the step size after each step",
    )
    p.add_argument(
        "--step-sizes",
        type=float,
        nargs="+",
        metavar="A",
        help="the size of each inner step (the last repeats); overrides --inner-lr",
    )
    p.add_argument(
        "--protocol",
        choices=sorted(PROTOCOLS),
        help="maml-paper: 40 tasks x 40 episodes, steps 0.5, 0.25, 0.25 (Finn et "
        "al., 2017)",
    )
    p.add_argument(
        "--seed", type=int, default=0, help="seeds the tasks and episodes (default 0)"
    )
    p.add_argument("--json", type=Path, help="also write the numbers to this file")
    p.add_argument(
        "--tensorboard",
        type=Path,
        metavar="DIR",
        help="also log the numbers as TensorBoard scalars eval/... in DIR, e.g. "
        "RUN/tensorboard/eval",
    )
    p.add_argument(
        "--save-adapted",
        type=Path,
        metavar="DIR",
        help="save the policy adapted to each task in DIR/task_000, task_001, ...",
    )
    p.add_argument(
        "--device",
        choices=["cpu", "gpu", "auto"],
        default="auto",
        help="auto: a GPU if TensorFlow sees one (default)",
    )
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


def _check_adapted_folder(path: Path, adapt_steps: int) -> None:
    """Fails before the evaluation if adapted policies cannot go into ``path``."""
    if adapt_steps < 1:
        raise RunFolderError(
            "--save-adapted saves the weights after the last inner step, so it "
            f"needs --adapt-steps ≥ 1; received {adapt_steps}."
        )
    empty_folder(path, "--save-adapted")


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
    changed = []
    for name, value in PROTOCOLS.get(args.protocol, {}).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
        elif getattr(args, name) != value:
            changed.append("--" + name.replace("_", "-"))
    protocol = args.protocol
    if changed:
        protocol = f"{args.protocol}, with {', '.join(changed)} changed"
    for name in ("tasks", "episodes"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            raise RunFolderError(
                f"--{name} must be ≥ 1; received {getattr(args, name)}."
            )
    if args.inner_lr is not None and not 0 < args.inner_lr < math.inf:
        raise RunFolderError(
            f"--inner-lr must be a finite number > 0; received {args.inner_lr}."
        )
    if args.inner_lr_decay is not None and not 0 < args.inner_lr_decay <= 1:
        raise RunFolderError(
            f"--inner-lr-decay must lie in (0, 1]; received {args.inner_lr_decay}."
        )
    if args.step_sizes is not None and not all(
        0 < a < math.inf for a in args.step_sizes
    ):
        raise RunFolderError(
            f"--step-sizes must all be finite and > 0; received {args.step_sizes}."
        )
    if args.adapt_steps is not None and args.adapt_steps < 0:
        raise RunFolderError(f"--adapt-steps must be ≥ 0; received {args.adapt_steps}.")
    if args.json is not None:
        _check_writable(args.json)
    if args.tensorboard is not None and args.tensorboard.is_file():
        raise RunFolderError(
            f"--tensorboard {str(args.tensorboard)!r} is a file; give a folder."
        )
    select_device(args.device)
    from metanav.evaluation import evaluate, write_tensorboard
    from metanav.saving import load_policy, resolve_policy_path

    folder = resolve_policy_path(args.policy)
    defaults = _defaults(folder)
    adapt_steps = (
        defaults["adapt_steps"] if args.adapt_steps is None else args.adapt_steps
    )
    if args.save_adapted is not None:
        _check_adapted_folder(args.save_adapted, adapt_steps)
    policy, meta = load_policy(folder)
    result = evaluate(
        policy,
        meta,
        split=args.split,
        num_tasks=args.tasks or defaults["tasks"],
        adapt_steps=adapt_steps,
        episodes=args.episodes or defaults["episodes"],
        seed=args.seed,
        inner_lr=args.inner_lr,
        inner_lr_decay=args.inner_lr_decay,
        step_sizes=args.step_sizes,
        save_adapted=args.save_adapted,
    )
    result["policy"] = str(folder)
    result["protocol"] = protocol
    on = (
        f"{result['tasks']} {result['split']} tasks"
        if args.split is not None or meta.get("adapted") is None
        else f"its adapted task {meta['adapted']['task']} ({result['tasks']} runs)"
    )
    sizes = ", ".join(f"{a:g}" for a in result["step_sizes"]) or "none"
    print(
        f"{meta['env_id']} ({meta.get('algorithm')}), {on} x {result['episodes']} "
        f"episodes, inner step sizes {sizes}"
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
    if args.tensorboard is not None:
        write_tensorboard(result, args.tensorboard)
        print(f"Wrote TensorBoard scalars eval/... to {args.tensorboard}")
    if args.save_adapted is not None:
        names = [Path(p).name for p in result["adapted_policies"]]
        print(
            f"Saved {len(names)} adapted policies in {args.save_adapted} "
            f"({names[0]} ... {names[-1]}); their tasks are in each policy.json."
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
