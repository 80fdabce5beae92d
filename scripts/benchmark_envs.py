"""Measures the stepping speed of the MetaNav envs, single and batched.

For every family in ``metanav_envs.ENV_IDS`` it times random-action steps of

* the single env, ``gymnasium.make(env_id).unwrapped`` (reset when an episode ends);
* the batched env, ``gymnasium.make_vec(env_id, num_envs=B,
  vectorization_mode="vector_entry_point")`` at each batch size ``B``, every copy
  with its own train task (it autoresets, so it is simply stepped in a loop).

The figure is env-steps per second: copies x steps / seconds. Each measurement is
warmed up, then repeated (default 5 times) with a fixed number of steps per repeat,
chosen from the warm-up so that one repeat takes about 0.3 s; the minimum and
median over the repeats are reported. Actions are drawn before timing and reused
cyclically, and the garbage collector is paused while a repeat runs.

When ``minigrid`` is importable, ``MiniGrid-Empty-8x8-v0`` (single env) is timed in
the same run and every figure is also given as a ratio of medians to it; the
target is batched GoalGrid at ``B = 1024`` at least 300x Minigrid's single env.

Run it from the repository root::

    python scripts/benchmark_envs.py                    # everything (a few minutes)
    python scripts/benchmark_envs.py --quick            # smoke test (seconds)
    python scripts/benchmark_envs.py --families GoalGrid --batch-sizes 1 1024 \\
        --repeats 3 --json benchmarks.json
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import gc
import importlib
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np

import metanav_envs

#: Short family name (``"GoalGrid"``) -> registered id.
FAMILIES = {
    env_id.split("/")[-1].rsplit("-v", 1)[0]: env_id for env_id in metanav_envs.ENV_IDS
}
MINIGRID_ID = "MiniGrid-Empty-8x8-v0"
DEFAULT_BATCH_SIZES = (1, 64, 1024, 16384)
TARGET_FAMILY, TARGET_BATCH, TARGET_RATIO = "GoalGrid", 1024, 300.0
#: Actions drawn before timing: this many steps' worth, reused cyclically.
ACTION_BLOCK = 16


@dataclasses.dataclass
class Result:
    """The figures of one measured form of one env.

    Attributes:
        family: family name, e.g. ``"GoalGrid"``, or Minigrid's env id.
        form: ``"single"`` or ``"batched B=..."``.
        copies: env copies stepped by one call (1 for single envs).
        steps: calls to ``step`` per repeat.
        seconds: wall time of each repeat.
        ratio: median steps/s over Minigrid's median, when Minigrid was measured
            (1.0 for Minigrid itself).
    """

    family: str
    form: str
    copies: int
    steps: int
    seconds: list[float]
    ratio: float | None = None

    @property
    def rates(self) -> list[float]:
        """Env-steps per second of each repeat."""
        return [self.copies * self.steps / s for s in self.seconds]

    @property
    def min_rate(self) -> float:
        """The slowest repeat, in env-steps per second."""
        return min(self.rates)

    @property
    def median_rate(self) -> float:
        """The median repeat, in env-steps per second."""
        return statistics.median(self.rates)

    def to_dict(self) -> dict[str, Any]:
        """Returns every field plus the derived rates, JSON-ready."""
        return {
            **dataclasses.asdict(self),
            "steps_per_s": self.rates,
            "min_steps_per_s": self.min_rate,
            "median_steps_per_s": self.median_rate,
        }


def measure(
    run: Callable[[int], None],
    *,
    copies: int,
    repeats: int,
    target_s: float,
    family: str,
    form: str,
) -> Result:
    """Times ``run(steps)`` after a warm-up that also picks ``steps``.

    Args:
        run: steps the env ``steps`` times (a closure over pre-drawn actions).
        copies: env copies per step, to turn steps into env-steps.
        repeats: timed repeats.
        target_s: wanted duration of one repeat; the warm-up lasts about a third.
        family: family name, for the result.
        form: form name, for the result.

    Returns:
        The result, with one duration per repeat.
    """
    steps, elapsed = 1, 0.0
    while elapsed < target_s / 3:  # warm-up, doubling until it is long enough
        steps *= 2
        start = time.perf_counter()
        run(steps)
        elapsed = time.perf_counter() - start
    steps = max(1, round(steps * target_s / elapsed))
    seconds = []
    for _ in range(repeats):
        gc.disable()
        try:
            start = time.perf_counter()
            run(steps)
            seconds.append(time.perf_counter() - start)
        finally:
            gc.enable()
    return Result(family, form, copies, steps, seconds)


def random_actions(space: gym.Space, num: int, rng: np.random.Generator) -> Any:
    """Draws ``num`` actions of a Discrete or Box space (leading axis ``num``)."""
    if isinstance(space, gym.spaces.Discrete):
        low = int(space.start)
        return rng.integers(low, low + int(space.n), size=(num, *space.shape))
    if isinstance(space, gym.spaces.Box):
        return rng.uniform(space.low, space.high, (num, *space.shape)).astype(
            space.dtype
        )
    raise TypeError(f"No random actions for {space}.")


def single_runner(env: gym.Env, actions: Sequence[Any]) -> Callable[[int], None]:
    """Returns ``run(steps)`` stepping one env, resetting it when an episode ends."""
    env.reset(seed=0)

    def run(steps: int) -> None:
        n = len(actions)
        for i in range(steps):
            _, _, terminated, truncated, _ = env.step(actions[i % n])
            if terminated or truncated:
                env.reset()

    return run


def batched_runner(vec: gym.vector.VectorEnv, actions: Any) -> Callable[[int], None]:
    """Returns ``run(steps)`` stepping an autoresetting vector env."""

    def run(steps: int) -> None:
        n = len(actions)
        for i in range(steps):
            vec.step(actions[i % n])

    return run


def bench_family(
    family: str, batch_sizes: Sequence[int], repeats: int, target_s: float
) -> list[Result]:
    """Measures one family: the single env, then batched at each batch size."""
    env_id = FAMILIES[family]
    rng = np.random.default_rng(0)
    env = gym.make(env_id).unwrapped
    env.reset(seed=0, options={"task": env.sample_tasks(1, split="train", seed=0)[0]})
    acts = random_actions(env.action_space, 1024, rng)
    # Python ints for discrete actions, as Minigrid gets them.
    acts = acts.tolist() if acts.ndim == 1 else list(acts)
    results = [
        measure(
            single_runner(env, acts),
            copies=1,
            repeats=repeats,
            target_s=target_s,
            family=family,
            form="single",
        )
    ]
    env.close()
    for b in batch_sizes:
        vec = gym.make_vec(env_id, num_envs=b, vectorization_mode="vector_entry_point")
        vec.reset(seed=0, options={"tasks": vec.unwrapped.sample_tasks(b, seed=0)})
        batch_acts = random_actions(vec.single_action_space, ACTION_BLOCK * b, rng)
        batch_acts = batch_acts.reshape(ACTION_BLOCK, b, *batch_acts.shape[1:])
        results.append(
            measure(
                batched_runner(vec, batch_acts),
                copies=b,
                repeats=repeats,
                target_s=target_s,
                family=family,
                form=f"batched B={b}",
            )
        )
        vec.close()
        del vec
    return results


def bench_minigrid(repeats: int, target_s: float) -> Result | None:
    """Measures Minigrid's Empty-8x8 single env, or returns None without minigrid."""
    try:
        importlib.import_module("minigrid")  # registers the MiniGrid-* ids
    except ImportError:
        return None
    env = gym.make(MINIGRID_ID).unwrapped
    rng = np.random.default_rng(0)
    acts = rng.integers(0, env.action_space.n, size=1024).tolist()
    result = measure(
        single_runner(env, acts),
        copies=1,
        repeats=repeats,
        target_s=target_s,
        family=MINIGRID_ID,
        form="single",
    )
    result.ratio = 1.0
    env.close()
    return result


def machine_facts(argv: Sequence[str]) -> dict[str, Any]:
    """Returns the command, the date and the machine and package facts."""
    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(ln.split(":", 1)[1].strip() for ln in f if "model name" in ln)
    except (OSError, StopIteration):
        pass
    nproc = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    versions = {"python": platform.python_version()}
    for name in ("numpy", "gymnasium", "minigrid", "metanav_envs"):
        try:
            versions[name] = importlib.import_module(name).__version__
        except ImportError:
            versions[name] = None
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(" ", "seconds"),
        "command": " ".join(["python", sys.argv[0], *argv]),
        "nproc": nproc or os.cpu_count(),
        "cpu": cpu,
        "versions": versions,
    }


def format_table(results: Sequence[Result]) -> str:
    """Returns the results as a plain-text table with aligned columns."""
    header = ("family", "form", "min steps/s", "median steps/s", "vs minigrid")
    rows = [
        (
            r.family,
            r.form,
            f"{r.min_rate:,.0f}",
            f"{r.median_rate:,.0f}",
            "-" if r.ratio is None else f"{r.ratio:,.1f}x",
        )
        for r in results
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(5)]

    def line(row: Sequence[str]) -> str:
        left = [c.ljust(w) for c, w in zip(row[:2], widths[:2], strict=True)]
        right = [c.rjust(w) for c, w in zip(row[2:], widths[2:], strict=True)]
        return "  ".join(left + right)

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), rule, *map(line, rows)])


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parses the command line."""
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--families",
        nargs="+",
        choices=list(FAMILIES),
        default=list(FAMILIES),
        help="families to measure (default: all)",
    )
    parser.add_argument(
        "--batch-sizes",
        nargs="+",
        type=int,
        default=list(DEFAULT_BATCH_SIZES),
        metavar="B",
        help="batch sizes of the batched env (default: %(default)s)",
    )
    parser.add_argument(
        "--repeats", type=int, help="timed repeats per figure (default: 5; quick: 2)"
    )
    parser.add_argument("--json", metavar="FILE", help="also write all figures here")
    parser.add_argument(
        "--quick", action="store_true", help="short repeats, for a smoke test"
    )
    args = parser.parse_args(argv)
    if args.repeats is None:
        args.repeats = 2 if args.quick else 5
    if args.repeats < 1 or min(args.batch_sizes) < 1:
        parser.error("--repeats and --batch-sizes must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the benchmark and prints the table; returns the exit status."""
    args = parse_args(argv)
    target_s = 0.05 if args.quick else 0.3
    started = time.perf_counter()
    facts = machine_facts(sys.argv[1:] if argv is None else argv)
    print(
        f"{facts['date']}  nproc={facts['nproc']}  cpu={facts['cpu']}\n"
        + "  ".join(f"{k} {v}" for k, v in facts["versions"].items())
    )

    baseline = bench_minigrid(args.repeats, target_s)
    if baseline is None:
        print(f"minigrid is not installed: no {MINIGRID_ID} baseline, no ratios.")
    results = []
    for family in args.families:
        results += bench_family(family, args.batch_sizes, args.repeats, target_s)
        print(f"  measured {family}", file=sys.stderr, flush=True)
    if baseline is not None:
        for r in results:
            r.ratio = r.median_rate / baseline.median_rate
        results.append(baseline)
    print()
    print(format_table(results))

    target = next(
        (
            r
            for r in results
            if r.family == TARGET_FAMILY and r.form == f"batched B={TARGET_BATCH}"
        ),
        None,
    )
    print()
    if target is None or target.ratio is None:
        print(f"TARGET {TARGET_FAMILY} B={TARGET_BATCH} vs Minigrid: not measured.")
    else:
        verdict = "MET" if target.ratio >= TARGET_RATIO else "NOT MET"
        print(
            f"TARGET {TARGET_FAMILY} batched B={TARGET_BATCH} vs Minigrid single: "
            f"{target.ratio:,.1f}x (target >= {TARGET_RATIO:.0f}x): {verdict}"
        )
    elapsed = time.perf_counter() - started
    print(f"Benchmark took {elapsed:.0f} s.")

    if args.json:
        data = {
            **facts,
            "args": vars(args),
            "repeat_target_s": target_s,
            "elapsed_s": elapsed,
            "minigrid": None if baseline is None else baseline.to_dict(),
            "target": {
                "family": TARGET_FAMILY,
                "batch_size": TARGET_BATCH,
                "min_ratio": TARGET_RATIO,
                "ratio": None if target is None else target.ratio,
            },
            "results": [r.to_dict() for r in results if r is not baseline],
        }
        with open(args.json, "w") as f:
            json.dump(data, f, indent=2)
            f.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
