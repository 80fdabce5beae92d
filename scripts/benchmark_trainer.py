"""Measures the cost of one meta-iteration, split into its phases, and its floor.

For each measured setting it builds a :class:`metanav.trainer.Trainer` in a
temporary folder and times

* **iteration**: ``Trainer.iteration`` as training runs it, split into
  *sampling* (``Sampler.sample``: the rollouts, policy inference included),
  *advantages* (the baseline fits and returns), *inner* (the inner update of
  every task) and *outer* (the TRPO or PPO meta-update);
* **floor**: the same gradient computations, the inner update and the outer
  update, on the episodes of the last timed iteration, with no sampling. The
  weights are put back before each repeat, so every repeat does the same work.

Each figure is warmed up (tracing happens then) and repeated; the minimum and the
median over the repeats are reported, and ``ratio`` is the median iteration over
the median floor, both from the same run.

The default setting is the MAML paper's 2D navigation, ``configs/pointnav2d_paper.yaml``
(M = 20 tasks, K = 20 episodes, H = 100, one inner step, TRPO), measured three
ways: with the default Gauss-Newton Fisher-vector products (``pointnav``), with the
double-backprop reference products (``pointnav-dbp``), and with the products on a
fifth of the tasks (``pointnav-sub``); a grid family is measured too (GoalGrid's
preset, an MLP, two inner steps). Run it from the repository root::

    python scripts/benchmark_trainer.py                 # both settings
    python scripts/benchmark_trainer.py --settings pointnav --repeats 5 \\
        --json trainer.json
    python scripts/benchmark_trainer.py --quick         # smoke test
    python scripts/benchmark_trainer.py --device gpu    # on a GPU machine
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ROOT = Path(__file__).resolve().parent.parent
#: name -> (preset, overrides).
SETTINGS: dict[str, tuple[str, list[str]]] = {
    # The paper's setting with the default exact Gauss-Newton products.
    "pointnav": ("configs/pointnav2d_paper.yaml", []),
    # The same with the reference products, by double backpropagation.
    "pointnav-dbp": ("configs/pointnav2d_paper.yaml", ["fvp=double-backprop"]),
    # The same with the products on 4 of the 20 tasks.
    "pointnav-sub": ("configs/pointnav2d_paper.yaml", ["fvp_subsample=0.2"]),
    # A grid family: GoalGrid's preset (MLP, two inner steps).
    "goalgrid": ("configs/goalgrid.yaml", []),
}
QUICK = [
    "meta_batch_size=2",
    "fast_batch_size=2",
    "env_kwargs.max_steps=10",
    "hidden_sizes=[16]",
    "cg_iters=3",
]
PHASES = ("sampling", "advantages", "inner", "outer")


class PhaseTimer:
    """Accumulates wall time per phase by wrapping the trainer's methods."""

    def __init__(self) -> None:
        self.seconds = dict.fromkeys(PHASES, 0.0)

    def reset(self) -> None:
        self.seconds = dict.fromkeys(PHASES, 0.0)

    def wrap(self, obj: Any, name: str, phase: str) -> None:
        inner: Callable[..., Any] = getattr(obj, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                self.seconds[phase] += time.perf_counter() - start

        setattr(obj, name, timed)


def build_trainer(preset: str, overrides: list[str], folder: Path) -> Any:
    from metanav.config import apply_overrides, from_dict, load_config
    from metanav.trainer import Trainer

    raw = apply_overrides(load_config(ROOT / preset), overrides)
    return Trainer(from_dict(raw, preset), folder)


def measure(
    name: str, preset: str, overrides: list[str], repeats: int, warmup: int
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        trainer = build_trainer(preset, overrides, Path(tmp))
        timer = PhaseTimer()
        timer.wrap(trainer.sampler, "sample", "sampling")
        timer.wrap(trainer, "_advantages", "advantages")
        timer.wrap(trainer.learner, "adapt", "inner")
        timer.wrap(trainer.learner, "meta_update", "outer")
        # Keep the batches the meta-update is given: the floor reuses them.
        batches: list[Any] = []
        update = trainer.learner.meta_update

        def keep(fast: Any, valid: Any) -> Any:
            batches[:] = [fast, valid]
            return update(fast, valid)

        trainer.learner.meta_update = keep

        # The whole iteration, as training runs it.
        splits, totals = [], []
        for it in range(warmup + repeats):
            timer.reset()
            # The weights and step count before the iteration, for the floor.
            saved = [v.numpy() for v in trainer.policy.variables]
            steps_before = int(trainer.env_steps_var.numpy())
            start = time.perf_counter()
            trainer.iteration(it)
            total = time.perf_counter() - start
            if it >= warmup:
                totals.append(total)
                splits.append(dict(timer.seconds))
        samples = int(trainer.env_steps_var.numpy()) - steps_before

        # The floor: the last iteration's inner and outer updates, on its episodes.
        c = trainer.config
        fast_batches, valid = batches
        floors = []
        for r in range(warmup + repeats):
            for var, value in zip(trainer.policy.variables, saved, strict=True):
                var.assign(value)
            start = time.perf_counter()
            params = [trainer.policy.variables] * c.meta_batch_size
            for j, batch in enumerate(fast_batches):
                params = trainer.learner.adapt(params, batch, j)
            trainer.learner.meta_update(fast_batches, valid)
            if r >= warmup:
                floors.append(time.perf_counter() - start)

    median = statistics.median(totals)
    floor = statistics.median(floors)
    return {
        "setting": name,
        "preset": preset,
        "overrides": overrides,
        "env_id": c.env_id,
        "meta_batch_size": c.meta_batch_size,
        "fast_batch_size": c.fast_batch_size,
        "horizon": trainer.sampler.horizon,
        "inner_steps": c.train_inner_steps,
        "outer": c.outer,
        "hidden_sizes": c.hidden_sizes,
        "encoder": c.encoder,
        "env_steps_per_iteration": int(samples),
        "seconds_per_iteration": median,
        "seconds_per_iteration_min": min(totals),
        "seconds_per_iteration_all": totals,
        "floor_seconds_per_iteration": floor,
        "floor_seconds_per_iteration_min": min(floors),
        "floor_seconds_per_iteration_all": floors,
        "ratio": median / floor,
        "split": {p: statistics.median(s[p] for s in splits) for p in PHASES},
    }


def machine() -> dict[str, Any]:
    import tensorflow as tf

    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="minutes"
        ),
        "nproc": os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "devices": [d.name for d in tf.config.get_visible_devices()],
    }


def print_table(results: list[dict[str, Any]]) -> None:
    head = (
        f"{'setting':<13} {'samples':>8} {'iter min':>9} {'iter med':>9} "
        f"{'floor min':>9} {'floor med':>9} {'ratio':>6} "
        + " ".join(f"{p:>10}" for p in PHASES)
    )
    print(head)
    print("-" * len(head))
    for r in results:
        split = " ".join(f"{r['split'][p]:>10.3f}" for p in PHASES)
        print(
            f"{r['setting']:<13} {r['env_steps_per_iteration']:>8,} "
            f"{r['seconds_per_iteration_min']:>9.3f} "
            f"{r['seconds_per_iteration']:>9.3f} "
            f"{r['floor_seconds_per_iteration_min']:>9.3f} "
            f"{r['floor_seconds_per_iteration']:>9.3f} {r['ratio']:>6.2f} {split}"
        )
    print("(seconds; phases are medians of the iteration's split)")


@contextlib.contextmanager
def on_device(device: str) -> Iterator[None]:
    sys.path.insert(0, str(ROOT))
    from metanav.commands.common import select_device

    select_device(device)
    yield


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--settings", nargs="+", choices=list(SETTINGS), default=None)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--quick", action="store_true", help="tiny batches, 1 repeat")
    p.add_argument("--device", choices=["cpu", "gpu", "auto"], default="cpu")
    p.add_argument("--json", type=Path, help="also write the results here")
    args = p.parse_args(argv)
    names = args.settings or list(SETTINGS)
    repeats, warmup = (1, 1) if args.quick else (args.repeats, args.warmup)
    with on_device(args.device):
        results = []
        for name in names:
            preset, overrides = SETTINGS[name]
            overrides = overrides + (QUICK if args.quick else [])
            results.append(measure(name, preset, overrides, repeats, warmup))
        print_table(results)
        info = machine()
    if args.json is not None:
        args.json.write_text(
            json.dumps({"machine": info, "results": results}, indent=2) + "\n"
        )
        print(f"Wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
