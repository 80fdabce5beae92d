"""The shared machinery of the four gridworld families.

Every grid task comes down to three arrays: which cells are walls, which cell is the
goal, and which move each action makes. From them :class:`GridSimulator` builds, per
copy, a transition table ``next_cell[copy, cell, action]`` and a reward table
``reward[copy, cell]``. A step of ``B`` copies is then one gather into each table,
whatever the family. Observations are computed from the current cells.

Cells are numbered row-major: cell ``r * width + c`` is row ``r`` (top is 0),
column ``c`` (left is 0). Positions in tasks and kwargs are ``(row, col)`` pairs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces

from metanav_envs.checks import (
    check_cell,
    check_choice,
    check_int,
    check_number,
    check_shape,
)
from metanav_envs.core import MetaNavEnv, Task
from metanav_envs.errors import InvalidArgumentError, InvalidTaskError

__all__ = [
    "ACTION_NAMES",
    "MOVES",
    "GridLayout",
    "GridNavEnv",
    "GridSimulator",
    "shortest_path_lengths",
]

#: Action ``a`` of an unpermuted grid moves the agent by ``MOVES[a]`` (drow, dcol).
MOVES = np.array([[-1, 0], [0, 1], [1, 0], [0, -1]], dtype=np.int64)
ACTION_NAMES = ("up", "right", "down", "left")

OBSERVATIONS = ("onehot", "coords", "view")
WALL_BIT, GOAL_BIT = 1, 2
REWARDS = ("dense", "sparse")


class GridLayout:
    """The arrays that define ``n`` grid tasks.

    Attributes:
        walls: ``[n, height, width]`` bool, true where a cell is a wall.
        goal: ``[n]`` int, the goal's cell number.
        action_map: ``[n, 4]`` int; action ``a`` makes move ``action_map[:, a]``
            (an index into :data:`MOVES`).
    """

    def __init__(
        self, walls: np.ndarray, goal: np.ndarray, action_map: np.ndarray
    ) -> None:
        self.walls = walls
        self.goal = goal
        self.action_map = action_map


def shortest_path_lengths(walls: np.ndarray, goal: np.ndarray) -> np.ndarray:
    """Breadth-first distances to the goal, for many grids at once.

    Args:
        walls: ``[n, height, width]`` bool.
        goal: ``[n]`` goal cell numbers.

    Returns:
        ``[n, height, width]`` int64: the fewest moves from each cell to the goal
        of its grid; ``-1`` for walls and for cells that cannot reach the goal.
    """
    n, height, width = walls.shape
    unreached = height * width + 1
    dist = np.full((n, height + 2, width + 2), unreached, dtype=np.int64)
    inner = dist[:, 1:-1, 1:-1]
    goal_rows, goal_cols = np.divmod(np.asarray(goal), width)
    dist[np.arange(n), goal_rows + 1, goal_cols + 1] = 0
    open_ = ~walls
    # Relax all grids together; a grid's distances stop changing after as many
    # sweeps as its longest shortest path, so this ends within height * width.
    while True:
        neighbours = np.minimum(
            np.minimum(dist[:, :-2, 1:-1], dist[:, 2:, 1:-1]),
            np.minimum(dist[:, 1:-1, :-2], dist[:, 1:-1, 2:]),
        )
        relaxed = np.where(open_, np.minimum(inner, neighbours + 1), unreached)
        if np.array_equal(relaxed, inner):
            break
        inner[...] = relaxed
    return np.where(inner >= unreached, -1, inner)


class GridSimulator:
    """``num`` copies of a grid family, stepped with table look-ups.

    Args:
        num: number of copies.
        env: the single env whose settings (shape, start, reward, observation)
            every copy shares.
    """

    def __init__(self, num: int, env: GridNavEnv) -> None:
        self.num = num
        self._env = env
        self.height, self.width = env.shape
        self.cells = self.height * self.width
        self.start = env.start[0] * self.width + env.start[1]
        self.max_steps = env.max_steps

        self.walls = np.zeros((num, self.height, self.width), dtype=bool)
        self.goal = np.zeros(num, dtype=np.int64)
        self.pos = np.full(num, self.start, dtype=np.int64)
        self.t = np.zeros(num, dtype=np.int64)
        self._next = np.zeros((num, self.cells, 4), dtype=np.int64)
        self._reward = np.zeros((num, self.cells), dtype=np.float64)
        self._copies = np.arange(num)
        self._next_offset = self._copies * (self.cells * 4)
        self._reward_offset = self._copies * self.cells

        rows, cols = np.divmod(np.arange(self.cells), self.width)
        self._coords = np.stack(
            [rows / max(self.height - 1, 1), cols / max(self.width - 1, 1)], axis=1
        ).astype(np.float32)
        if env.observation == "view":
            self._init_view(env.view_size)

    # -- tasks -----------------------------------------------------------------

    def set_tasks(self, mask: np.ndarray, tasks: Sequence[Task]) -> None:
        layout = self._env.layout(tasks)
        dist = shortest_path_lengths(layout.walls, layout.goal)
        self._check(layout, dist, tasks)
        idx = np.flatnonzero(mask)
        self.walls[idx] = layout.walls
        self.goal[idx] = layout.goal
        self._next[idx] = self._transitions(layout)
        self._reward[idx] = self._rewards(layout, dist)
        if self._env.observation == "view":
            self._set_view_maps(idx)

    def _check(
        self, layout: GridLayout, dist: np.ndarray, tasks: Sequence[Task]
    ) -> None:
        flat_walls = layout.walls.reshape(len(tasks), -1)
        for i, task in enumerate(tasks):
            if flat_walls[i, self.start]:
                raise InvalidTaskError(f"The start cell is a wall in task {task}.")
            if layout.goal[i] == self.start:
                raise InvalidTaskError(
                    f"The goal of task {task} is the start cell {self._env.start}; "
                    "choose another goal."
                )
            if dist.reshape(len(tasks), -1)[i, self.start] < 0:
                raise InvalidTaskError(
                    f"The goal of task {task} cannot be reached from the start "
                    f"{self._env.start}."
                )

    def _transitions(self, layout: GridLayout) -> np.ndarray:
        n = layout.walls.shape[0]
        rows, cols = np.divmod(np.arange(self.cells), self.width)
        by_move = np.empty((n, self.cells, 4), dtype=np.int64)
        for m, (dr, dc) in enumerate(MOVES):
            r, c = rows + dr, cols + dc
            inside = (r >= 0) & (r < self.height) & (c >= 0) & (c < self.width)
            target = np.where(inside, r * self.width + c, 0)
            blocked = ~inside | layout.walls.reshape(n, -1)[:, target]
            by_move[:, :, m] = np.where(blocked, np.arange(self.cells), target)
        return np.take_along_axis(by_move, layout.action_map[:, None, :], axis=2)

    def _rewards(self, layout: GridLayout, dist: np.ndarray) -> np.ndarray:
        n = layout.walls.shape[0]
        env = self._env
        if env.reward == "dense":
            # Unreachable cells are never entered; give them the farthest value.
            scale = self.height + self.width - 2
            d = dist.reshape(n, -1).astype(np.float64)
            d[d < 0] = d.max(initial=0.0)
            return 0.0 - d / scale  # 0.0 - x turns -0.0 into 0.0
        table = np.full((n, self.cells), -env.step_cost, dtype=np.float64)
        table[np.arange(n), layout.goal] = 1.0
        return table

    # -- dynamics --------------------------------------------------------------

    def reset(self, mask: np.ndarray) -> None:
        self.pos[mask] = self.start
        self.t[mask] = 0

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        self.pos = self._next.reshape(-1)[self._next_offset + self.pos * 4 + actions]
        self.t += 1
        reward = self._reward.reshape(-1)[self._reward_offset + self.pos]
        terminated = self.pos == self.goal
        truncated = (self.t >= self.max_steps) & ~terminated
        return reward, terminated, truncated

    # -- observations ----------------------------------------------------------

    def observe(self) -> Any:
        env = self._env
        if env.observation == "onehot":
            if env.observe_goal:
                goal = np.zeros((self.num, self.cells), dtype=np.float32)
                goal[self._copies, self.goal] = 1.0
                return np.concatenate([self._onehot(), goal], axis=1)
            return self._onehot()
        if env.observation == "coords":
            if env.observe_goal:
                return np.concatenate(
                    [self._coords[self.pos], self._coords[self.goal]], axis=1
                )
            return self._coords[self.pos]
        view = self._view()
        if env.include_position:
            return {"view": view, "position": self._onehot()}
        return view

    def _onehot(self) -> np.ndarray:
        out = np.zeros((self.num, self.cells), dtype=np.float32)
        out[self._copies, self.pos] = 1.0
        return out

    def _init_view(self, k: int) -> None:
        pad = k // 2
        self._pad = pad
        self._padded_width = self.width + 2 * pad
        padded_cells = (self.height + 2 * pad) * self._padded_width
        # Per copy and padded cell, a code of what the view shows there: bit 0 a
        # wall (cells off the grid are walls), bit 1 the goal. Gathering one byte
        # per cell, then unpacking, is several times faster than gathering floats.
        self._view_codes = np.full(self.num * padded_cells, WALL_BIT, dtype=np.uint8)
        dr, dc = np.meshgrid(np.arange(k), np.arange(k), indexing="ij")
        self._window = (dr * self._padded_width + dc).astype(np.int64)
        self._map_offset = self._copies * padded_cells

    def _set_view_maps(self, idx: np.ndarray) -> None:
        pad, pw = self._pad, self._padded_width
        codes = self._view_codes.reshape(self.num, self.height + 2 * pad, pw)
        inner = self.walls[idx].astype(np.uint8) * WALL_BIT
        goal_rows, goal_cols = np.divmod(self.goal[idx], self.width)
        inner[np.arange(len(idx)), goal_rows, goal_cols] |= GOAL_BIT
        codes[idx, pad : pad + self.height, pad : pad + self.width] = inner

    def _view(self) -> np.ndarray:
        rows, cols = np.divmod(self.pos, self.width)
        # The window's top-left corner in padded coordinates is (row, col).
        corner = self._map_offset + rows * self._padded_width + cols
        codes = self._view_codes[corner[:, None, None] + self._window]
        view = np.empty((*codes.shape, 2), dtype=np.float32)
        view[..., 0] = codes & WALL_BIT
        view[..., 1] = codes >> 1
        return view


class GridNavEnv(MetaNavEnv):
    """Base class of the grid families; see each family for its documentation.

    The keyword arguments shared by every grid family:

    Args:
        shape: ``(height, width)`` of the grid, or one int for a square.
        start: the fixed start cell ``(row, col)``.
        reward: ``"dense"``: ``-d(s', g) / (height + width - 2)``, where ``d`` is the
            shortest-path length (in moves, around walls) from the new cell to
            the goal; ``"sparse"``: ``+1`` on reaching the goal, else
            ``-step_cost``.
        step_cost: the cost per step of the sparse reward.
        max_steps: the episode is truncated after this many steps.
        observation: ``"onehot"`` (the agent's cell, one-hot, ``[height * width]``),
            ``"coords"`` (``(row / (height - 1), col / (width - 1))``) or ``"view"``
            (a ``view_size`` × ``view_size`` window centred on the agent, with a
            wall channel, where cells off the grid count as walls, and a goal
            channel).
        view_size: the side of the view window, an odd int ≥ 3.
        include_position: with ``observation="view"``, return a dict with the
            view under ``"view"`` and the one-hot cell under ``"position"``.
        observe_goal: append the goal, encoded like the position (one-hot or
            coordinates), to the observation. The task is then no longer hidden:
            this is the "oracle" of the MAML paper's comparisons.
        task: the task to start with (a task dataclass or its dict).
        render_mode: ``None``, ``"rgb_array"`` or ``"ansi"``.
    """

    action_space: spaces.Discrete
    default_observation: ClassVar[str] = "onehot"
    default_shape: ClassVar[tuple[int, int]] = (8, 8)
    min_shape: ClassVar[tuple[int, int]] = (1, 1)
    cell_pixels: ClassVar[int] = 16

    def __init__(
        self,
        *,
        shape: int | Sequence[int] | None = None,
        start: Sequence[int] = (0, 0),
        reward: str = "dense",
        step_cost: float = 0.01,
        max_steps: int | None = None,
        observation: str | None = None,
        view_size: int = 5,
        include_position: bool = False,
        observe_goal: bool = False,
        task: Task | Mapping[str, Any] | None = None,
        render_mode: str | None = None,
    ) -> None:
        self._init_render_mode(render_mode)
        self.shape = check_shape(
            self.default_shape if shape is None else shape, self.min_shape
        )
        height, width = self.shape
        self.start = check_cell("start", start, self.shape)
        self.reward = check_choice("reward", reward, REWARDS)
        self.step_cost = check_number("step_cost", step_cost, low=0.0)
        self.max_steps = check_int(
            "max_steps", 4 * (height + width) if max_steps is None else max_steps, 1
        )
        self.observation = check_choice(
            "observation",
            self.default_observation if observation is None else observation,
            OBSERVATIONS,
        )
        self.view_size = check_int("view_size", view_size, 3)
        if self.view_size % 2 == 0:
            raise InvalidArgumentError(
                f"view_size must be odd, so that the agent sits in the centre; "
                f"received {view_size}."
            )
        if not isinstance(include_position, (bool, np.bool_)):
            raise InvalidArgumentError(
                f"include_position must be a bool; received {include_position!r}."
            )
        if include_position and self.observation != "view":
            raise InvalidArgumentError(
                "include_position=True needs observation='view'; received "
                f"observation={self.observation!r}."
            )
        self.include_position = bool(include_position)
        if not isinstance(observe_goal, (bool, np.bool_)):
            raise InvalidArgumentError(
                f"observe_goal must be a bool; received {observe_goal!r}."
            )
        if observe_goal and self.observation == "view":
            raise InvalidArgumentError(
                "observe_goal=True needs observation='onehot' or 'coords'; the view "
                "already shows the goal when it is near."
            )
        self.observe_goal = bool(observe_goal)

        self.action_space = spaces.Discrete(4)
        self.observation_space = self._observation_space()
        self._check_settings()
        self._init_task(task)

    def _check_settings(self) -> None:
        """Family-specific checks of the kwargs, run before the first task is set."""

    def _observation_space(self) -> spaces.Space:
        height, width = self.shape
        onehot = spaces.Box(0.0, 1.0, (height * width,), dtype=np.float32)
        copies = 2 if self.observe_goal else 1
        if self.observation == "onehot":
            return spaces.Box(0.0, 1.0, (copies * height * width,), dtype=np.float32)
        if self.observation == "coords":
            return spaces.Box(0.0, 1.0, (copies * 2,), dtype=np.float32)
        k = self.view_size
        view = spaces.Box(0.0, 1.0, (k, k, 2), dtype=np.float32)
        if self.include_position:
            return spaces.Dict({"view": view, "position": onehot})
        return view

    def make_simulator(self, num: int) -> GridSimulator:
        return GridSimulator(num, self)

    def layout(self, tasks: Sequence[Task]) -> GridLayout:
        """Returns the walls, goals and action maps of ``tasks``."""
        raise NotImplementedError

    # -- helpers for families --------------------------------------------------

    def _cell(self, row_col: Sequence[int]) -> int:
        return int(row_col[0]) * self.shape[1] + int(row_col[1])

    def _row_col(self, cell: int) -> tuple[int, int]:
        row, col = divmod(int(cell), self.shape[1])
        return row, col

    def _check_goal(self, task: Task, goal: Any) -> tuple[int, int]:
        try:
            return check_cell("goal", goal, self.shape)
        except InvalidArgumentError as e:
            raise InvalidTaskError(f"Task {task}: {e}") from None

    @property
    def agent_cell(self) -> tuple[int, int]:
        """The agent's current ``(row, col)``."""
        return self._row_col(self._sim.pos[0])

    # -- rendering -------------------------------------------------------------

    def _render_rgb(self) -> np.ndarray:
        sim = self._sim
        return draw_grid(
            sim.walls[0],
            self._row_col(sim.goal[0]),
            self.agent_cell,
            self.cell_pixels,
        )

    def _render_ansi(self) -> str:
        sim = self._sim
        chars = np.where(sim.walls[0], "#", ".").astype("<U1")
        chars[self._row_col(sim.goal[0])] = "G"
        chars[self.agent_cell] = "A"
        lines = ["".join(row) for row in chars]
        return "\n".join(lines) + f"\nstep {int(sim.t[0])}/{self.max_steps}\n"


#: Colours of the rendered grid, RGB.
FLOOR = (236, 236, 236)
WALL = (64, 64, 72)
GOAL = (46, 160, 67)
AGENT = (214, 48, 49)
GRID_LINE = (200, 200, 200)


def draw_grid(
    walls: np.ndarray,
    goal: tuple[int, int],
    agent: tuple[int, int] | None,
    cell: int = 16,
    visited: np.ndarray | None = None,
) -> np.ndarray:
    """Draws a grid as an ``[height * cell, width * cell, 3]`` uint8 image.

    Args:
        walls: ``[height, width]`` bool.
        goal: the goal cell; drawn as a green square.
        agent: the agent's cell; drawn as a red disc, or not at all if ``None``.
        cell: pixels per cell.
        visited: optional ``[height, width]`` counts; visited floor cells are
            tinted, darker for more visits.
    """
    height, width = walls.shape
    img = np.empty((height, width, 3), dtype=np.float64)
    img[:] = FLOOR
    if visited is not None and visited.max() > 0:
        shade = np.clip(visited / visited.max(), 0, 1)[..., None]
        tint = np.array([255, 196, 120], dtype=np.float64)
        img = np.where(visited[..., None] > 0, tint - 90 * shade, img)
    img[walls] = WALL
    img = np.repeat(np.repeat(img, cell, axis=0), cell, axis=1)
    img[::cell, :] = GRID_LINE
    img[:, ::cell] = GRID_LINE
    gr, gc = goal
    inset = max(cell // 8, 1)
    img[gr * cell + inset : (gr + 1) * cell - inset + 1,
        gc * cell + inset : (gc + 1) * cell - inset + 1] = GOAL  # fmt: skip
    if agent is not None:
        ar, ac = agent
        yy, xx = np.mgrid[0:cell, 0:cell]
        centre = (cell - 1) / 2
        disc = (yy - centre) ** 2 + (xx - centre) ** 2 <= (cell * 0.35) ** 2
        block = img[ar * cell : (ar + 1) * cell, ac * cell : (ac + 1) * cell]
        block[disc] = AGENT
    return img.astype(np.uint8)
