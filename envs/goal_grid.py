"""``MetaNav/GoalGrid-v0``: find an unseen goal cell on an open grid."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from typing import Any

import numpy as np

from metanav_envs.checks import check_number
from metanav_envs.core import MetaNavVectorEnv, Task, fixed_split
from metanav_envs.grid import GridLayout, GridNavEnv

__all__ = ["GoalGridEnv", "GoalGridVectorEnv", "GoalTask"]


@dataclasses.dataclass(frozen=True)
class GoalTask(Task):
    """A GoalGrid task: the goal cell ``(row, col)``."""

    goal: tuple[int, int]


class GoalGridEnv(GridNavEnv):
    """An open ``height`` × ``width`` grid whose goal cell the agent must find.

    ## Description
    The agent starts at a fixed cell (top-left by default) of a grid with no inner
    walls. Each task puts the goal in one cell, which the agent does not observe:
    it has to find the goal by exploring, then remember where it was. This is the
    gridworld counterpart of the MAML paper's 2D navigation.

    ## Actions
    ``Discrete(4)``:

    | action | move |
    | --- | --- |
    | 0 | up (row - 1) |
    | 1 | right (col + 1) |
    | 2 | down (row + 1) |
    | 3 | left (col - 1) |

    A move off the grid leaves the agent where it is.

    ## Observation
    By default the agent's cell, one-hot: ``Box(0, 1, (height * width,),
    float32)``. ``observation="coords"`` gives ``(row / (height - 1), col /
    (width - 1))`` instead, and ``observation="view"`` a local window (see
    :class:`~metanav_envs.grid.GridNavEnv`). The goal is in none of them except
    the view, and only when it is inside the window.

    ## Reward
    With ``reward="dense"`` (default), ``r = -(|row' - goal_row| + |col' -
    goal_col|) / (height + width - 2)`` for the cell ``(row', col')`` after the
    move, so ``r = 0`` on the goal and ``r ≥ -1`` everywhere. With
    ``reward="sparse"``, ``r = 1`` on reaching the goal and ``-step_cost``
    otherwise.

    ## Episode end
    ``terminated`` when the agent enters the goal cell, the only terminal state.
    ``truncated`` after ``max_steps`` steps (default ``4 * (height + width)``)
    without reaching it.

    ## Tasks and splits
    A task is a :class:`GoalTask`. The candidate goals are all cells but the start.
    A fixed ``test_fraction`` of them (default 0.25, picked by
    :func:`~metanav_envs.core.fixed_split`) form the test split, the rest the
    train split; :meth:`split_goals` lists both. ``sample_tasks`` draws goals
    uniformly, with replacement, from the requested split.

    ## Arguments
    ``test_fraction`` and those of :class:`~metanav_envs.grid.GridNavEnv`
    (``shape=(8, 8)``, ``start=(0, 0)``, ``reward``, ``step_cost``, ``max_steps``,
    ``observation``, ``view_size``, ``include_position``, ``task``,
    ``render_mode``)::

        gymnasium.make("MetaNav/GoalGrid-v0", shape=(6, 10), reward="sparse")

    ## Version history
    * v0: first version.
    """

    task_type = GoalTask

    def __init__(self, *, test_fraction: float = 0.25, **kwargs: Any) -> None:
        self.test_fraction = check_number(
            "test_fraction", test_fraction, low=0.0, high=1.0
        )
        super().__init__(**kwargs)

    @functools.cached_property
    def _goals(self) -> dict[str, list[tuple[int, int]]]:
        height, width = self.shape
        cells = [
            (r, c) for r in range(height) for c in range(width) if (r, c) != self.start
        ]
        parts = fixed_split(len(cells), self.test_fraction)
        return {split: [cells[i] for i in idx] for split, idx in parts.items()}

    def split_goals(self, split: str) -> list[tuple[int, int]]:
        """The goal cells of ``split``, in row-major order."""
        return list(self._goals[split])

    def _sample_tasks(
        self, num_tasks: int, split: str, rng: np.random.Generator
    ) -> list[Task]:
        goals = self._goals[split]
        return [GoalTask(goals[i]) for i in rng.integers(len(goals), size=num_tasks)]

    def task_split(self, task: Any) -> str:
        goal = GoalTask.coerce(task).goal
        return "test" if tuple(goal) in set(self._goals["test"]) else "train"

    def layout(self, tasks: Sequence[Task]) -> GridLayout:
        height, width = self.shape
        goals = [self._check_goal(t, GoalTask.coerce(t).goal) for t in tasks]
        return GridLayout(
            walls=np.zeros((len(tasks), height, width), dtype=bool),
            goal=np.array([self._cell(g) for g in goals], dtype=np.int64),
            action_map=np.tile(np.arange(4), (len(tasks), 1)),
        )


class GoalGridVectorEnv(MetaNavVectorEnv):
    """``num_envs`` GoalGrid copies in one numpy call; see :class:`GoalGridEnv`."""

    env_class = GoalGridEnv
