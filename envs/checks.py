"""Checks of env constructor arguments, shared by every family.

Each returns the value in its canonical type, or raises ``InvalidArgumentError``
with what was expected and what was received.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from metanav_envs.errors import InvalidArgumentError


def check_shape(shape: Any, minimum: tuple[int, int]) -> tuple[int, int]:
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        shape = (int(shape), int(shape))
    if (
        not isinstance(shape, (tuple, list))
        or len(shape) != 2
        or not all(isinstance(s, (int, np.integer)) for s in shape)
    ):
        raise InvalidArgumentError(
            f"shape must be (height, width) ints or one int; received {shape!r}."
        )
    height, width = int(shape[0]), int(shape[1])
    if height < minimum[0] or width < minimum[1]:
        raise InvalidArgumentError(
            f"shape must be at least {minimum}; received {(height, width)}."
        )
    return height, width


def check_cell(name: str, cell: Any, shape: tuple[int, int]) -> tuple[int, int]:
    if (
        not isinstance(cell, (tuple, list, np.ndarray))
        or len(cell) != 2
        or not all(
            isinstance(x, (int, np.integer)) and not isinstance(x, bool) for x in cell
        )
    ):
        raise InvalidArgumentError(
            f"{name} must be a (row, col) pair of ints; received {cell!r}."
        )
    row, col = int(cell[0]), int(cell[1])
    if not (0 <= row < shape[0] and 0 <= col < shape[1]):
        raise InvalidArgumentError(
            f"{name} {(row, col)} lies off the {shape[0]}x{shape[1]} grid; rows go "
            f"from 0 to {shape[0] - 1} and columns from 0 to {shape[1] - 1}."
        )
    return row, col


def check_choice(name: str, value: Any, choices: Sequence[str]) -> str:
    if value not in choices:
        raise InvalidArgumentError(
            f"{name} must be one of {list(choices)}; received {value!r}."
        )
    return str(value)


def check_int(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InvalidArgumentError(
            f"{name} must be an int ≥ {low}; received {type(value).__name__} {value!r}."
        )
    if value < low:
        raise InvalidArgumentError(f"{name} must be an int ≥ {low}; received {value}.")
    return int(value)


def check_number(
    name: str, value: Any, low: float | None = None, high: float | None = None
) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise InvalidArgumentError(
            f"{name} must be a number; received {type(value).__name__} {value!r}."
        )
    value = float(value)
    if (
        not np.isfinite(value)
        or (low is not None and value < low)
        or (high is not None and value > high)
    ):
        bounds = f"in [{low}, {high}]" if high is not None else f"≥ {low}"
        raise InvalidArgumentError(f"{name} must be {bounds}; received {value}.")
    return value
