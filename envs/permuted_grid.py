"""``MetaNav/PermutedGrid-v0``: the task is the dynamics, a permutation of moves."""

from __future__ import annotations

import dataclasses
import functools
import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

from metanav_envs.checks import check_cell, check_number
from metanav_envs.core import MetaNavVectorEnv, Task, fixed_split
from metanav_envs.errors import InvalidArgumentError, InvalidTaskError
from metanav_envs.grid import GridLayout, GridNavEnv

__all__ = ["PermutedGridEnv", "PermutedGridVectorEnv", "PermutedTask"]


@dataclasses.dataclass(frozen=True)
class PermutedTask(Task):
    """A PermutedGrid task.

    Attributes:
        action_map: a permutation of ``(0, 1, 2, 3)``; action ``a`` makes the move
            that action ``action_map[a]`` makes on a plain grid (0 up, 1 right,
            2 down, 3 left).
        goal: the goal cell ``(row, col)``.
    """

    action_map: tuple[int, int, int, int]
    goal: tuple[int, int]


class PermutedGridEnv(GridNavEnv):
    """An open grid whose actions are shuffled per task.

    ## Description
    The grid is that of GoalGrid, but what changes between tasks is the dynamics:
    each task permutes which move each action makes, so the agent has to find out
    from a few episodes which action goes where. The goal sits in the bottom-right
    corner by default (``goal="corner"``), so the permutation is the only hidden
    parameter; with ``goal="random"`` the goal varies as well, and a fixed
    ``(row, col)`` pins it elsewhere.

    ## Actions
    ``Discrete(4)``. Action ``a`` makes move ``task.action_map[a]``, where move 0 is
    up, 1 right, 2 down and 3 left. A move off the grid leaves the agent where it
    is.

    ## Observation
    By default the agent's cell, one-hot: ``Box(0, 1, (height * width,),
    float32)``; ``"coords"`` and ``"view"`` work as in
    :class:`~metanav_envs.grid.GridNavEnv`.

    ## Reward
    With ``reward="dense"`` (default), ``r = -(|row' - goal_row| + |col' -
    goal_col|) / (height + width - 2)`` for the cell after the move. With
    ``reward="sparse"``, ``r = 1`` on reaching the goal and ``-step_cost``
    otherwise.

    ## Episode end
    ``terminated`` when the agent enters the goal cell. ``truncated`` after
    ``max_steps`` steps (default ``4 * (height + width)``).

    ## Tasks and splits
    A task is a :class:`PermutedTask`. The split is over the 24 permutations: a
    fixed ``test_fraction`` of them (default 0.25, so 6, picked by
    :func:`~metanav_envs.core.fixed_split`) are test dynamics;
    :meth:`split_action_maps` lists them. ``sample_tasks`` draws a permutation
    uniformly from the split and, with ``goal="random"``, a goal uniformly among
    the cells other than the start.

    ## Arguments
    ``goal`` (``"corner"``, ``"random"`` or a ``(row, col)``), ``test_fraction`` and
    those of :class:`~metanav_envs.grid.GridNavEnv` (``shape=(8, 8)``,
    ``start=(0, 0)``, ``reward``, ``step_cost``, ``max_steps``, ``observation``,
    ``view_size``, ``include_position``, ``task``, ``render_mode``)::

        gymnasium.make("MetaNav/PermutedGrid-v0", goal="random")

    ## Version history
    * v0: first version.
    """

    task_type = PermutedTask

    def __init__(
        self,
        *,
        goal: str | Sequence[int] = "corner",
        test_fraction: float = 0.25,
        **kwargs: Any,
    ) -> None:
        self.goal = goal
        self.test_fraction = check_number(
            "test_fraction", test_fraction, low=0.0, high=1.0
        )
        super().__init__(**kwargs)

    def _check_settings(self) -> None:
        goal = self.goal
        if isinstance(goal, str):
            if goal not in ("corner", "random"):
                raise InvalidArgumentError(
                    f"goal must be 'corner', 'random' or a (row, col); received "
                    f"{goal!r}."
                )
            if goal == "corner":
                self.goal = (self.shape[0] - 1, self.shape[1] - 1)
        else:
            self.goal = check_cell("goal", goal, self.shape)
        if self.goal == self.start:
            raise InvalidArgumentError(
                f"goal and start must differ; both are {self.start}."
            )

    @functools.cached_property
    def _action_maps(self) -> dict[str, list[tuple[int, int, int, int]]]:
        perms = list(itertools.permutations(range(4)))
        parts = fixed_split(len(perms), self.test_fraction)
        return {split: [perms[i] for i in idx] for split, idx in parts.items()}

    def split_action_maps(self, split: str) -> list[tuple[int, int, int, int]]:
        """The permutations of ``split``, in lexicographic order."""
        return list(self._action_maps[split])

    def _sample_tasks(
        self, num_tasks: int, split: str, rng: np.random.Generator
    ) -> list[Task]:
        maps = self._action_maps[split]
        height, width = self.shape
        start = self._cell(self.start)
        tasks: list[Task] = []
        for i in rng.integers(len(maps), size=num_tasks):
            if self.goal == "random":
                cell = rng.integers(height * width - 1)
                goal = self._row_col(cell + (cell >= start))
            else:
                goal = self.goal
            tasks.append(PermutedTask(maps[i], goal))
        return tasks

    def task_split(self, task: Any) -> str:
        action_map = tuple(PermutedTask.coerce(task).action_map)
        return "test" if action_map in set(self._action_maps["test"]) else "train"

    def layout(self, tasks: Sequence[Task]) -> GridLayout:
        height, width = self.shape
        maps = []
        for task in tasks:
            action_map = task.action_map
            if not all(isinstance(a, (int, np.integer)) for a in action_map) or sorted(
                action_map
            ) != [0, 1, 2, 3]:
                raise InvalidTaskError(
                    f"action_map must be a permutation of (0, 1, 2, 3); received "
                    f"{action_map!r} in task {task}."
                )
            maps.append(action_map)
        goals = [self._check_goal(t, t.goal) for t in tasks]
        return GridLayout(
            walls=np.zeros((len(tasks), height, width), dtype=bool),
            goal=np.array([self._cell(g) for g in goals], dtype=np.int64),
            action_map=np.array(maps, dtype=np.int64),
        )


class PermutedGridVectorEnv(MetaNavVectorEnv):
    """``num_envs`` PermutedGrid copies in one numpy call; see
    :class:`PermutedGridEnv`."""

    env_class = PermutedGridEnv
