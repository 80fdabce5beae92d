"""``MetaNav/MazeGrid-v0``: a new wall layout and goal in every task."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from metanav_envs.checks import check_number
from metanav_envs.core import MetaNavVectorEnv, Task
from metanav_envs.errors import InvalidTaskError
from metanav_envs.grid import GridLayout, GridNavEnv, shortest_path_lengths

__all__ = ["MAZE_SEED_RANGES", "MazeGridEnv", "MazeGridVectorEnv", "MazeTask"]

#: Maze seeds of each split: ``[low, high)``. Disjoint, so no test maze is trained on.
MAZE_SEED_RANGES = {"train": (0, 2**31), "test": (2**31, 2**32)}

#: Mazes kept in each env's cache of generated walls before it is emptied.
CACHE_SIZE = 65536

#: Redraws allowed when a maze leaves the start boxed in; the chance that all fail
#: is below ``wall_density ** (2 * MAX_REDRAWS)``.
MAX_REDRAWS = 64


@dataclasses.dataclass(frozen=True)
class MazeTask(Task):
    """A MazeGrid task: the seed of the wall layout and the goal cell."""

    maze_seed: int
    goal: tuple[int, int]


class MazeGridEnv(GridNavEnv):
    """A grid whose walls are generated from a per-task seed, with a goal to reach.

    ## Description
    Each task is a maze: every cell but the start is a wall with probability
    ``wall_density``, drawn from ``numpy.random.default_rng(maze_seed)``. If the
    start is boxed in, the walls are drawn again from the same generator, so a
    seed always gives the same maze. The goal is a cell reachable from the start,
    which breadth-first search checks whenever a task is set: a task whose goal
    cannot be reached is refused with ``InvalidTaskError``. The agent sees the
    walls and the goal around it, so it can learn to explore mazes it has never
    seen.

    ## Actions
    ``Discrete(4)``: 0 up, 1 right, 2 down, 3 left. A move into a wall or off the
    grid leaves the agent where it is.

    ## Observation
    By default an egocentric ``view_size`` × ``view_size`` window (5 × 5) centred on
    the agent: ``Box(0, 1, (k, k, 2), float32)``, channel 0 walls (cells off the
    grid count as walls), channel 1 the goal. With ``include_position=True`` it is
    a ``Dict`` with the window under ``"view"`` and the one-hot cell under
    ``"position"``. ``observation="onehot"`` or ``"coords"`` give the position
    alone.

    ## Reward
    With ``reward="dense"`` (default), ``r = -d(s', g) / (height + width - 2)``,
    where ``d`` is the length of the shortest path around the walls from the
    cell after the move to the goal. With ``reward="sparse"``, ``r = 1`` on
    reaching the goal and ``-step_cost`` otherwise.

    ## Episode end
    ``terminated`` when the agent enters the goal cell. ``truncated`` after
    ``max_steps`` steps (default ``4 * (height + width)``).

    ## Tasks and splits
    A task is a :class:`MazeTask`. Train mazes have seeds in ``[0, 2**31)``, test
    mazes in ``[2**31, 2**32)`` (:data:`MAZE_SEED_RANGES`). ``sample_tasks`` draws
    a seed uniformly from the split's range and a goal uniformly among the cells
    reachable from the start.

    ## Arguments
    ``wall_density`` (default 0.3, in ``[0, 0.9]``) and those of
    :class:`~metanav_envs.grid.GridNavEnv` (``shape=(8, 8)``, ``start=(0, 0)``,
    ``reward``, ``step_cost``, ``max_steps``, ``observation="view"``,
    ``view_size=5``, ``include_position``, ``task``, ``render_mode``)::

        gymnasium.make("MetaNav/MazeGrid-v0", shape=(9, 13), wall_density=0.35)

    ## Version history
    * v0: first version.
    """

    task_type = MazeTask
    default_observation = "view"

    def __init__(self, *, wall_density: float = 0.3, **kwargs: Any) -> None:
        self.wall_density = check_number("wall_density", wall_density, 0.0, 0.9)
        self._mazes: dict[int, np.ndarray] = {}
        super().__init__(**kwargs)

    def maze_walls(self, maze_seeds: Sequence[int]) -> np.ndarray:
        """Returns the ``[n, height, width]`` walls of the given maze seeds."""
        missing = sorted({int(s) for s in maze_seeds} - set(self._mazes))
        if missing:
            if len(self._mazes) + len(missing) > CACHE_SIZE:
                self._mazes.clear()
            for seed, walls in zip(missing, self._generate(missing), strict=True):
                self._mazes[seed] = walls
        return np.stack([self._mazes[int(s)] for s in maze_seeds])

    def _generate(self, seeds: list[int]) -> np.ndarray:
        height, width = self.shape
        start = self._cell(self.start)
        rngs = [np.random.default_rng(s) for s in seeds]
        walls = np.empty((len(seeds), height * width), dtype=bool)
        todo = np.arange(len(seeds))
        for _ in range(MAX_REDRAWS):
            for i in todo:
                walls[i] = rngs[i].random(height * width) < self.wall_density
            walls[todo, start] = False
            reach = shortest_path_lengths(
                walls[todo].reshape(-1, height, width), np.full(len(todo), start)
            )
            # Keep a maze once a cell besides the start can be reached.
            todo = todo[(reach.reshape(len(todo), -1) >= 0).sum(axis=1) < 2]
            if todo.size == 0:
                return walls.reshape(-1, height, width)
        raise InvalidTaskError(
            f"Could not draw a maze with a reachable cell for seeds "
            f"{[seeds[i] for i in todo]} at wall_density={self.wall_density}; "
            "lower wall_density."
        )

    def _sample_tasks(
        self, num_tasks: int, split: str, rng: np.random.Generator
    ) -> list[Task]:
        low, high = MAZE_SEED_RANGES[split]
        seeds = rng.integers(low, high, size=num_tasks)
        walls = self.maze_walls(seeds)
        start = np.full(num_tasks, self._cell(self.start))
        reach = shortest_path_lengths(walls, start).reshape(num_tasks, -1)
        tasks: list[Task] = []
        for seed, dist in zip(seeds, reach, strict=True):
            cells = np.flatnonzero(dist > 0)
            goal = self._row_col(cells[rng.integers(len(cells))])
            tasks.append(MazeTask(int(seed), goal))
        return tasks

    def task_split(self, task: Any) -> str:
        seed = MazeTask.coerce(task).maze_seed
        return "test" if seed >= MAZE_SEED_RANGES["test"][0] else "train"

    def layout(self, tasks: Sequence[Task]) -> GridLayout:
        seeds = []
        for task in tasks:
            seed = task.maze_seed
            if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
                raise InvalidTaskError(
                    f"maze_seed must be an int; received {seed!r} in task {task}."
                )
            if not 0 <= seed < MAZE_SEED_RANGES["test"][1]:
                raise InvalidTaskError(
                    f"maze_seed must lie in [0, 2**32); received {seed} in task {task}."
                )
            seeds.append(int(seed))
        goals = [self._check_goal(t, t.goal) for t in tasks]
        walls = self.maze_walls(seeds)
        for task, goal, w in zip(tasks, goals, walls, strict=True):
            if w[goal]:
                raise InvalidTaskError(
                    f"The goal {goal} of task {task} is a wall of its maze."
                )
        return GridLayout(
            walls=walls,
            goal=np.array([self._cell(g) for g in goals], dtype=np.int64),
            action_map=np.tile(np.arange(4), (len(tasks), 1)),
        )


class MazeGridVectorEnv(MetaNavVectorEnv):
    """``num_envs`` MazeGrid copies in one numpy call; see :class:`MazeGridEnv`."""

    env_class = MazeGridEnv
