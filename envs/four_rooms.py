"""``MetaNav/FourRooms-v0``: four rooms whose doorways and goal vary per task."""

from __future__ import annotations

import dataclasses
import functools
import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

from metanav_envs.checks import check_number
from metanav_envs.core import MetaNavVectorEnv, Task, fixed_split
from metanav_envs.errors import InvalidArgumentError, InvalidTaskError
from metanav_envs.grid import GridLayout, GridNavEnv

__all__ = ["FourRoomsEnv", "FourRoomsTask", "FourRoomsVectorEnv"]


@dataclasses.dataclass(frozen=True)
class FourRoomsTask(Task):
    """A FourRooms task.

    Attributes:
        doors: ``(north, south, west, east)``. ``north`` and ``south`` are the rows
            of the doorways in the vertical wall, above and below the crossing;
            ``west`` and ``east`` the columns of the doorways in the horizontal
            wall, left and right of it.
        goal: the goal cell ``(row, col)``.
    """

    doors: tuple[int, int, int, int]
    goal: tuple[int, int]


class FourRoomsEnv(GridNavEnv):
    """Four rooms joined by four doorways; the doorways and the goal vary per task.

    ## Description
    A vertical wall at column ``width // 2`` and a horizontal wall at row
    ``height // 2`` split the grid into four rooms. Each of the four wall segments
    has one doorway, one cell wide, whose position is part of the task, as is the
    goal. The agent starts in the top-left room, at ``start`` (default
    ``(0, 0)``), and must find the way through the doorways to the goal. This is
    the four-rooms domain of Sutton, Precup and Singh (1999), made a task
    distribution.

    ## Actions
    ``Discrete(4)``: 0 up, 1 right, 2 down, 3 left. A move into a wall or off the
    grid leaves the agent where it is.

    ## Observation
    By default an egocentric ``view_size`` × ``view_size`` window centred on the
    agent, ``Box(0, 1, (k, k, 2), float32)``: channel 0 walls (off the grid counts
    as wall), channel 1 the goal. ``include_position=True``, ``"onehot"`` and
    ``"coords"`` work as in :class:`~metanav_envs.grid.GridNavEnv`.

    ## Reward
    With ``reward="dense"`` (default), ``r = -d(s', g) / (height + width - 2)``,
    ``d`` being the shortest-path length through the doorways from the cell
    after the move to the goal. With ``reward="sparse"``, ``r = 1`` on reaching
    the goal and ``-step_cost`` otherwise.

    ## Episode end
    ``terminated`` when the agent enters the goal cell. ``truncated`` after
    ``max_steps`` steps (default ``4 * (height + width)``).

    ## Tasks and splits
    A task is a :class:`FourRoomsTask`. The split is over doorway layouts: of all
    ``(north, south, west, east)`` combinations, a fixed ``test_fraction`` (default
    0.25, picked by :func:`~metanav_envs.core.fixed_split`) are test layouts;
    :meth:`split_doors` lists them. ``sample_tasks`` draws a layout uniformly from
    the split and a goal uniformly among its open cells other than the start.

    ## Arguments
    ``test_fraction`` and those of :class:`~metanav_envs.grid.GridNavEnv`
    (``shape=(11, 11)``, at least 5 × 5; ``start=(0, 0)``, which must lie in the
    top-left room; ``reward``, ``step_cost``, ``max_steps``,
    ``observation="view"``, ``view_size=5``, ``include_position``, ``task``,
    ``render_mode``)::

        gymnasium.make("MetaNav/FourRooms-v0", shape=(13, 9), reward="sparse")

    ## Version history
    * v0: first version.
    """

    task_type = FourRoomsTask
    default_observation = "view"
    default_shape = (11, 11)
    min_shape = (5, 5)

    def __init__(self, *, test_fraction: float = 0.25, **kwargs: Any) -> None:
        self.test_fraction = check_number(
            "test_fraction", test_fraction, low=0.0, high=1.0
        )
        super().__init__(**kwargs)

    @property
    def wall_row(self) -> int:
        """The row of the horizontal wall."""
        return self.shape[0] // 2

    @property
    def wall_col(self) -> int:
        """The column of the vertical wall."""
        return self.shape[1] // 2

    @functools.cached_property
    def _door_choices(self) -> list[range]:
        height, width = self.shape
        return [
            range(0, self.wall_row),
            range(self.wall_row + 1, height),
            range(0, self.wall_col),
            range(self.wall_col + 1, width),
        ]

    def _check_settings(self) -> None:
        if not (self.start[0] < self.wall_row and self.start[1] < self.wall_col):
            raise InvalidArgumentError(
                f"start must lie in the top-left room, above row {self.wall_row} "
                f"and left of column {self.wall_col}; received {self.start}."
            )

    @functools.cached_property
    def _doors(self) -> dict[str, list[tuple[int, int, int, int]]]:
        layouts = list(itertools.product(*self._door_choices))
        parts = fixed_split(len(layouts), self.test_fraction)
        return {split: [layouts[i] for i in idx] for split, idx in parts.items()}

    def split_doors(self, split: str) -> list[tuple[int, int, int, int]]:
        """The doorway layouts ``(north, south, west, east)`` of ``split``."""
        return list(self._doors[split])

    def room_walls(self, doors: tuple[int, int, int, int]) -> np.ndarray:
        """Returns the ``[height, width]`` walls of one doorway layout."""
        north, south, west, east = doors
        walls = np.zeros(self.shape, dtype=bool)
        walls[:, self.wall_col] = True
        walls[self.wall_row, :] = True
        walls[north, self.wall_col] = walls[south, self.wall_col] = False
        walls[self.wall_row, west] = walls[self.wall_row, east] = False
        return walls

    def _sample_tasks(
        self, num_tasks: int, split: str, rng: np.random.Generator
    ) -> list[Task]:
        doors = self._doors[split]
        start = self._cell(self.start)
        tasks: list[Task] = []
        for i in rng.integers(len(doors), size=num_tasks):
            cells = np.flatnonzero(~self.room_walls(doors[i]).reshape(-1))
            cells = cells[cells != start]
            goal = self._row_col(cells[rng.integers(len(cells))])
            tasks.append(FourRoomsTask(doors[i], goal))
        return tasks

    def task_split(self, task: Any) -> str:
        doors = tuple(FourRoomsTask.coerce(task).doors)
        return "test" if doors in set(self._doors["test"]) else "train"

    def layout(self, tasks: Sequence[Task]) -> GridLayout:
        walls, goals = [], []
        for task in tasks:
            doors = task.doors
            if len(doors) != 4 or not all(
                isinstance(d, (int, np.integer)) and d in choices
                for d, choices in zip(doors, self._door_choices, strict=False)
            ):
                raise InvalidTaskError(
                    f"doors must be (north, south, west, east) with north in "
                    f"{_span(self._door_choices[0])}, south in "
                    f"{_span(self._door_choices[1])}, west in "
                    f"{_span(self._door_choices[2])} and east in "
                    f"{_span(self._door_choices[3])}; received {doors!r} in task "
                    f"{task}."
                )
            goal = self._check_goal(task, task.goal)
            w = self.room_walls(doors)
            if w[goal]:
                raise InvalidTaskError(f"The goal {goal} of task {task} is a wall.")
            walls.append(w)
            goals.append(self._cell(goal))
        return GridLayout(
            walls=np.stack(walls),
            goal=np.array(goals, dtype=np.int64),
            action_map=np.tile(np.arange(4), (len(tasks), 1)),
        )


def _span(r: range) -> str:
    return f"[{r.start}, {r.stop - 1}]"


class FourRoomsVectorEnv(MetaNavVectorEnv):
    """``num_envs`` FourRooms copies in one numpy call; see :class:`FourRoomsEnv`."""

    env_class = FourRoomsEnv
