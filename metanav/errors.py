"""Exceptions of the metanav library.

Each message names the problem and the fix. The command-line front ends catch
:class:`MetaNavError` and print its message on one line, with a non-zero exit.
"""

from __future__ import annotations

__all__ = [
    "MetaNavError",
    "ConfigError",
    "CheckpointError",
    "PolicyMismatchError",
    "RunFolderError",
    "NumericalError",
    "InteropError",
]


class MetaNavError(Exception):
    """Base class of every error metanav raises on purpose."""


class ConfigError(MetaNavError, ValueError):
    """A config file, key or value is invalid."""


class CheckpointError(MetaNavError):
    """A checkpoint or saved policy is missing, unreadable or not metanav's."""


class PolicyMismatchError(MetaNavError, ValueError):
    """A saved policy was made for an env with other spaces."""


class RunFolderError(MetaNavError):
    """A run folder is missing, or exists where a new one should be made."""


class NumericalError(MetaNavError, FloatingPointError):
    """A loss, gradient or KL became NaN or infinite."""


class InteropError(MetaNavError, ValueError):
    """An adapter to another library was given something it cannot convert."""
