"""What the three commands share: the error boundary, the device choice, and
the check of an output folder."""

from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path

__all__ = ["command", "select_device", "fail", "empty_folder"]


def fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def command(main: Callable[[list[str] | None], int]) -> Callable[..., int]:
    """Wraps a command's ``main`` so that bad input ends in a one-line error."""

    @functools.wraps(main)
    def wrapper(argv: list[str] | None = None) -> int:
        # 3 also hides the CUDA probe's error line on machines without a GPU.
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
        logging.getLogger("absl").setLevel(logging.ERROR)
        from metanav.errors import MetaNavError
        from metanav_envs.errors import MetaNavEnvError

        try:
            return main(argv)
        except (MetaNavError, MetaNavEnvError) as e:
            return fail(str(e))
        except KeyboardInterrupt:
            return fail("interrupted.")

    return wrapper


def select_device(device: str) -> str:
    """Makes TensorFlow use ``cpu``, ``gpu`` or (``auto``) a GPU if there is one.

    Returns:
        The device used, ``"cpu"`` or ``"gpu"``.
    """
    import tensorflow as tf

    from metanav.errors import MetaNavError

    gpus = tf.config.list_physical_devices("GPU")
    if device == "cpu" or (device == "auto" and not gpus):
        tf.config.set_visible_devices([], "GPU")
        return "cpu"
    if not gpus:
        raise MetaNavError(
            "--device gpu was asked for, but TensorFlow sees no GPU; install "
            "metanav[gpu] on a machine with a CUDA GPU, or use --device cpu."
        )
    return "gpu"


def empty_folder(path: Path, option: str) -> None:
    """Creates ``path`` for a command's output, unless it is a file or not empty.

    Args:
        path: the folder.
        option: the command-line option that named it, for the messages.
    """
    from metanav.errors import RunFolderError

    if path.exists() and not path.is_dir():
        raise RunFolderError(
            f"{option} {str(path)!r} is a file; choose a new or empty folder."
        )
    if path.is_dir() and any(path.iterdir()):
        raise RunFolderError(
            f"{option} {str(path)!r} is not empty; choose a new or empty folder."
        )
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise RunFolderError(
            f"Cannot create {option} {str(path)!r}: {e.strerror}; choose another "
            "folder."
        ) from None
