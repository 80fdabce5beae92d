"""``metanav-plot RUN_OR_JSON [...] [-o FILE.png] [--x iteration|env_steps]
[--trajectory RUN]``.

Run folders give learning curves (runs of the same algorithm and env are grouped,
with a 95 % band over seeds); ``metanav-eval --json`` files give adaptation
curves; ``--trajectory RUN`` adds the cells the policy visits on one test task
before and after one inner step.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from metanav.commands.common import command
from metanav.errors import RunFolderError


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="metanav-plot", description="Plot metanav runs.")
    p.add_argument(
        "inputs", nargs="*", type=Path, help="run folders and eval JSON files"
    )
    p.add_argument(
        "-o",
        "--output",
        type=Path,
        default=Path("metanav.png"),
        help="the picture to write, .png, .pdf or .svg (default: ./metanav.png)",
    )
    p.add_argument(
        "--x",
        choices=["iteration", "env_steps"],
        default="iteration",
        help="the learning curves' x axis (default: iteration)",
    )
    p.add_argument(
        "--trajectory",
        type=Path,
        metavar="RUN",
        help="also draw RUN's episodes on one test task, before and after one step",
    )
    return p


@command
def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    runs, jsons = [], []
    for path in args.inputs:
        if path.is_dir():
            runs.append(path)
        elif path.suffix == ".json" and path.is_file():
            jsons.append(path)
        else:
            problem = (
                "does not exist"
                if not path.exists()
                else "is neither a run folder nor an eval JSON file"
            )
            raise RunFolderError(
                f"{str(path)!r} {problem}; give run folders or metanav-eval --json "
                "files."
            )
    if not (runs or jsons or args.trajectory):
        raise RunFolderError("give at least one run folder, eval JSON or --trajectory.")
    if args.output.suffix.lower() not in (".png", ".pdf", ".svg"):
        raise RunFolderError(
            f"-o {str(args.output)!r} needs a .png, .pdf or .svg file name."
        )
    if not args.output.parent.is_dir():
        raise RunFolderError(f"Cannot write {str(args.output)!r}: no such folder.")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from metanav import plotting

    panels = (1 if runs else 0) + (1 if jsons else 0) + (2 if args.trajectory else 0)
    fig, axes = plt.subplots(1, panels, figsize=(5.2 * panels, 4.2), squeeze=False)
    axes = list(axes[0])
    if runs:
        plotting.plot_learning_curves(axes.pop(0), runs, args.x)
    if jsons:
        plotting.plot_adaptation_curves(axes.pop(0), jsons)
    if args.trajectory:
        before, after, title = plotting.trajectory_picture(args.trajectory)
        names = ("before", "after one inner step")
        for ax, image, name in zip(axes, (before, after), names, strict=True):
            ax.imshow(image)
            ax.set_title(name, fontsize=10)
            ax.set_axis_off()
        fig.text(0.5, 0.01, title, ha="center", fontsize=8)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    try:
        fig.savefig(args.output, dpi=110)
    except OSError as e:
        raise RunFolderError(
            f"Cannot write {str(args.output)!r}: {e.strerror}."
        ) from None
    plt.close(fig)
    print(f"Wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
