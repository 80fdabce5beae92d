"""``metanav-train CONFIG [key=value ...] [--out DIR] [--device cpu|gpu|auto]``.

Meta-trains a policy as the YAML preset CONFIG says, with ``key=value``
overrides, and writes a run folder: ``config.yaml``, ``metrics.csv``,
``tensorboard/``, ``checkpoints/``, and the final ``policy.keras``,
``policy.json`` and ``saved_model/``. ``--resume RUN`` continues an interrupted
run from its last checkpoint.
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import sys
from pathlib import Path

from metanav.commands.common import command, empty_folder, select_device
from metanav.errors import RunFolderError
from metanav.files import writable_problem


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="metanav-train",
        description="Meta-train a navigation policy.",
        epilog="example: metanav-train configs/goalgrid.yaml iterations=50 seed=1 "
        "--out runs/goalgrid-s1",
    )
    p.add_argument(
        "config", nargs="?", help="a YAML preset, e.g. configs/goalgrid.yaml"
    )
    p.add_argument("overrides", nargs="*", help="key=value overrides of the preset")
    p.add_argument("--out", type=Path, help="the run folder (default runs/<preset>)")
    p.add_argument("--resume", type=Path, metavar="RUN", help="continue this run")
    p.add_argument(
        "--device",
        choices=["cpu", "gpu", "auto"],
        default="auto",
        help="auto: a GPU if TensorFlow sees one (default)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


@command
def main(argv: list[str] | None = None) -> int:
    args = parser().parse_intermixed_args(argv)
    from metanav import config as cfg

    if args.resume is not None:
        run_dir = args.resume
        if not run_dir.is_dir():
            raise RunFolderError(
                f"--resume {str(run_dir)!r}: no such folder; give the folder of a "
                "run made by metanav-train --out."
            )
        if args.out is not None:
            raise RunFolderError(
                "--resume continues the run in its own folder; drop --out."
            )
        if not (run_dir / "config.yaml").exists():
            raise RunFolderError(
                f"{str(run_dir)!r} is not a metanav run folder (no config.yaml); "
                "check the path."
            )
        if args.config or args.overrides:
            raise RunFolderError(
                "--resume takes the run's own config.yaml; drop CONFIG and overrides."
            )
        data = cfg.load_config(run_dir / "config.yaml")
        config = cfg.from_dict(data, str(run_dir / "config.yaml"))
    else:
        if not args.config:
            raise RunFolderError("give a CONFIG preset, e.g. configs/goalgrid.yaml.")
        data = cfg.apply_overrides(cfg.load_config(args.config), args.overrides)
        where = args.config + (" with its overrides" if args.overrides else "")
        config = cfg.from_dict(data, where)
        cfg.check_env_kwargs(config)
        run_dir = args.out or Path("runs") / Path(args.config).stem
        if (run_dir / "config.yaml").exists():
            raise RunFolderError(
                f"{str(run_dir)!r} already holds a run; continue it with "
                f"metanav-train --resume {run_dir}, or choose another --out."
            )
        empty_folder(run_dir, "--out")
    problem = writable_problem(run_dir)
    if problem is not None:
        raise RunFolderError(
            f"Cannot write in the run folder {str(run_dir)!r}: {problem}; "
            + (
                "make it writable, then resume."
                if args.resume is not None
                else "choose another --out."
            )
        )

    device = select_device(args.device)
    print(
        f"Training {config.algorithm} on {config.env_id} ({device}), "
        f"{config.iterations} iterations into {run_dir}",
        file=sys.stderr,
    )
    from tqdm import tqdm

    from metanav.saving import policy_saved
    from metanav.trainer import Trainer

    bar = tqdm(
        total=config.iterations, disable=args.quiet, unit="it", dynamic_ncols=True
    )

    def show(metrics: dict, step: int) -> None:
        post = metrics["train/post_return"]
        bar.set_postfix(
            pre=f"{metrics['train/pre_return']:.2f}",
            post="-" if math.isnan(post) else f"{post:.2f}",
            success=f"{_post_or_pre(metrics, 'success'):.0%}",
        )
        bar.update(1)

    trainer = Trainer(config, run_dir, on_metrics=show)
    start = trainer.restore() if args.resume is not None else 0
    if start >= config.iterations and policy_saved(run_dir):
        bar.close()
        print(f"{run_dir} has finished all {config.iterations} iterations already.")
        return 0
    bar.update(start)

    # SIGINT (Ctrl-C) and SIGTERM (what schedulers send before they pre-empt) stop
    # the run at the end of the meta-iteration, with a checkpoint; a second one
    # stops it at once, and the run resumes from the checkpoint before.
    received: list[signal.Signals] = []

    def on_signal(signum: int, frame: object) -> None:
        received.append(signal.Signals(signum))
        if len(received) > 1:
            raise KeyboardInterrupt
        trainer.request_stop()
        message = (
            f"\n{received[0].name}: stopping after this meta-iteration, with a "
            "checkpoint (send it again to stop at once).\n"
        )
        # os.write, not print: a handler that prints while the progress bar is
        # printing would re-enter the stream. A stream with no file (captured,
        # say) takes a print.
        try:
            os.write(sys.stderr.fileno(), message.encode())
        except (AttributeError, OSError):
            print(message, end="", file=sys.stderr)

    handlers = {s: signal.signal(s, on_signal) for s in STOP_SIGNALS}
    try:
        finished = trainer.train(start)
    except KeyboardInterrupt:
        bar.close()
        kept = trainer.manager.latest_checkpoint
        print(
            f"Stopped at once; the last checkpoint ({kept or 'none yet'}) is kept. "
            f"Resume with: metanav-train --resume {run_dir}",
            file=sys.stderr,
        )
        return _exit_status(received[-1] if received else signal.SIGINT)
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    bar.close()
    if not finished:
        print(
            f"Stopped by {received[0].name} after meta-iteration "
            f"{int(trainer.iteration_var.numpy())}; saved "
            f"{trainer.manager.latest_checkpoint}. Resume with: metanav-train "
            f"--resume {run_dir}",
            file=sys.stderr,
        )
        return _exit_status(received[0])
    print(f"Saved the policy in {run_dir} (policy.keras, saved_model/).")
    return 0


#: The signals that stop a run with a checkpoint.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _exit_status(sig: signal.Signals) -> int:
    """128 + the signal number, as shells report a process a signal ended."""
    return 128 + int(sig)


def _post_or_pre(metrics: dict, name: str) -> float:
    post = metrics[f"train/post_{name}"]
    return metrics[f"train/pre_{name}"] if math.isnan(post) else post


if __name__ == "__main__":
    raise SystemExit(main())
