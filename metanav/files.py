"""Safe file writes: whole files or nothing, and a writability probe.

Every file metanav writes for later (``config.yaml``, ``policy.json``, eval JSON,
the truncated ``metrics.csv``) goes through :func:`atomic_write_text`: the text
is written to a temporary file in the same folder, flushed to disk, and renamed
over the target. ``os.replace`` is atomic on POSIX and Windows, so a reader, or
a run killed half-way, sees the old file or the new one, never a mix.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["atomic_write_text", "writable_problem"]


def atomic_write_text(path: Path, text: str) -> None:
    """Writes ``text`` to ``path`` through a temporary file and a rename."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        # mkstemp makes the file 0600; give it the mode a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def writable_problem(folder: Path) -> str | None:
    """Why files cannot be made in ``folder``, or ``None`` if they can.

    It creates and removes a temporary file, which catches what ``os.access``
    misses (a read-only file system, an ACL).
    """
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as e:
        return e.strerror or type(e).__name__
    return None
