"""Exceptions raised by the MetaNav environments.

Every error says what was expected, what was received and, where it helps, what to
do instead. They subclass the built-in exception a caller would expect
(``ValueError`` for a bad value, ``TypeError`` for a bad type), so generic handlers
keep working.
"""

from __future__ import annotations

__all__ = [
    "InvalidActionError",
    "InvalidArgumentError",
    "InvalidTaskError",
    "MetaNavEnvError",
    "ResetNeededError",
]


class MetaNavEnvError(Exception):
    """Base class of every error raised by ``metanav_envs``."""


class InvalidArgumentError(MetaNavEnvError, ValueError):
    """An env constructor argument (a ``gymnasium.make`` kwarg) is invalid."""


class InvalidTaskError(MetaNavEnvError, ValueError):
    """A task does not fit the env: wrong family, wrong fields or impossible."""


class InvalidActionError(MetaNavEnvError, ValueError):
    """An action lies outside the action space."""


class ResetNeededError(MetaNavEnvError, RuntimeError):
    """A batched env with autoreset disabled was stepped after an episode ended."""
