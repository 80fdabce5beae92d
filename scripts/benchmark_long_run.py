"""Does a long run stay flat? Retracing and memory over many meta-iterations.

Trains a tiny config for ``--iterations`` meta-iterations through
:meth:`metanav.trainer.Trainer.train`, as ``metanav-train`` does (metrics.csv,
TensorBoard, a checkpoint every 10 iterations). After every iteration it
records the process's resident memory (RSS, from ``/proc/self/statm``) and how
often each ``tf.function`` has been traced, and at the end of the warm-up (the
first ``--warmup`` iterations) and of the run the number of live Python
objects. It prints, and with ``--json`` writes, what changed after the warm-up:
retraces, RSS growth and slope, and object growth.

    python scripts/benchmark_long_run.py --iterations 200 --json long_run.json
    python scripts/benchmark_long_run.py --env goalgrid --outer ppo
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import tensorflow as tf

from metanav.config import Config
from metanav.trainer import Trainer

#: The tiny configs: 2 tasks x 3 episodes, two inner steps, one hidden layer
#: of 8. On GoalGrid the policy soon acts alike in every episode, so most later
#: meta-gradients are 0 and skip the TRPO step; PointNav2D's Gaussian policy
#: keeps every part of the meta-update running to the end.
TINY = {
    "pointnav": {
        "env_id": "MetaNav/PointNav2D-v0",
        "env_kwargs": {"max_steps": 10},
        "activation": "tanh",
        "init_log_std": -1.0,
        "inner_lr": 0.1,
    },
    "goalgrid": {
        "env_id": "MetaNav/GoalGrid-v0",
        "env_kwargs": {"shape": [4, 4], "observation": "coords", "max_steps": 8},
    },
}
COMMON = {
    "meta_batch_size": 2,
    "fast_batch_size": 3,
    "inner_steps": 2,
    "inner_lr_decay": 0.5,
    "hidden_sizes": [8],
    "checkpoint_every": 10,
}


def rss_mib() -> float:
    """Resident memory of this process, in MiB."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def traced_functions(trainer: Trainer) -> dict[str, tf.types.experimental.Function]:
    learner = trainer.learner
    return {
        "sampler._rollout": trainer.sampler._rollout,
        "learner._adapt_all": learner._adapt_all,
        "learner._objective": learner._objective,
        "learner._objective_and_grad": learner._objective_and_grad,
        "learner._fvp": learner._fvp,
        "learner._old_distributions": learner._old_distributions,
    }


def run(env: str, iterations: int, warmup: int, outer: str, folder: Path) -> dict:
    config = Config(**TINY[env], **COMMON, iterations=iterations, outer=outer)
    # Preallocated arrays, so that the records add no Python objects themselves.
    rss = np.zeros(iterations)
    objects = np.zeros(iterations, np.int64)
    traces = np.zeros((iterations, 6), np.int64)
    trainer: Trainer

    def record(metrics: dict, step: int) -> None:
        if step - 1 in (warmup - 1, iterations - 1):
            gc.collect()  # slow with ~10^5 objects, so only where it counts
            objects[step - 1] = len(gc.get_objects())
        rss[step - 1] = rss_mib()
        for j, fn in enumerate(traced_functions(trainer).values()):
            traces[step - 1, j] = fn.experimental_get_tracing_count()

    trainer = Trainer(config, folder, on_metrics=record)
    start = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - start

    names = list(traced_functions(trainer))
    base = warmup - 1
    slope = np.polyfit(np.arange(base, iterations) + 1, rss[base:], 1)[0]
    return {
        "env": TINY[env]["env_id"],
        "iterations": iterations,
        "warmup": warmup,
        "outer": outer,
        "seconds": round(seconds, 1),
        "traces_after_warmup": dict(zip(names, traces[base].tolist(), strict=True)),
        "retraces_after_warmup": int((traces[-1] - traces[base]).sum()),
        "rss_mib_after_warmup": round(float(rss[base]), 1),
        "rss_mib_at_end": round(float(rss[-1]), 1),
        "rss_growth_mib": round(float(rss[-1] - rss[base]), 1),
        "rss_max_growth_mib": round(float(rss[base:].max() - rss[base]), 1),
        "rss_slope_mib_per_100_iterations": round(100 * float(slope), 2),
        "rss_mib_every_20_iterations": [round(float(r), 1) for r in rss[19::20]],
        "objects_after_warmup": int(objects[base]),
        "object_growth": int(objects[-1] - objects[base]),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--iterations", type=int, default=200)
    p.add_argument("--warmup", type=int, default=20, help="iterations to warm up")
    p.add_argument("--env", choices=list(TINY), default="pointnav")
    p.add_argument("--outer", choices=["trpo", "ppo"], default="trpo")
    p.add_argument("--json", type=Path, help="also write the numbers here")
    args = p.parse_args(argv)
    if not 1 <= args.warmup < args.iterations:
        p.error("--warmup must lie in [1, --iterations).")
    tf.config.set_visible_devices([], "GPU")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    # One line per zero meta-gradient would drown the table (see TINY).
    logging.getLogger("metanav.maml").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory() as folder:
        result = run(args.env, args.iterations, args.warmup, args.outer, Path(folder))
    result["python"] = sys.version.split()[0]
    result["tensorflow"] = tf.__version__
    result["machine"] = (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs"
    )
    for key, value in result.items():
        print(f"{key:>34}  {value}")
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
