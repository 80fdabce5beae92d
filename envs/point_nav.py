"""``MetaNav/PointNav2D-v0``: the 2D point navigation of the MAML paper."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces

from metanav_envs.checks import check_int, check_number
from metanav_envs.core import MetaNavEnv, MetaNavVectorEnv, Task
from metanav_envs.errors import InvalidArgumentError, InvalidTaskError

__all__ = ["PointNav2DEnv", "PointNav2DVectorEnv", "PointSimulator", "PointTask"]


@dataclasses.dataclass(frozen=True)
class PointTask(Task):
    """A PointNav2D task: the goal position ``(x, y)``."""

    goal: tuple[float, float]


class PointSimulator:
    """``num`` point agents, each with its own goal, stepped together."""

    def __init__(self, num: int, env: PointNav2DEnv) -> None:
        self.num = num
        self.max_speed = env.max_speed
        self.normalized_actions = env.normalized_actions
        self.goal_tolerance = env.goal_tolerance
        self.max_steps = env.max_steps
        self.observe_goal = env.observe_goal
        self.goal = np.zeros((num, 2), dtype=np.float64)
        self.pos = np.zeros((num, 2), dtype=np.float64)
        self.t = np.zeros(num, dtype=np.int64)
        self._env = env

    def set_tasks(self, mask: np.ndarray, tasks: Sequence[Task]) -> None:
        self.goal[mask] = [self._env.check_goal(t) for t in tasks]

    def reset(self, mask: np.ndarray) -> None:
        self.pos[mask] = 0.0
        self.t[mask] = 0

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self.normalized_actions:
            velocity = np.clip(actions.astype(np.float64), -1.0, 1.0) * self.max_speed
        else:
            velocity = np.clip(
                actions.astype(np.float64), -self.max_speed, self.max_speed
            )
        self.pos = self.pos + velocity
        self.t += 1
        dx = self.pos[:, 0] - self.goal[:, 0]
        dy = self.pos[:, 1] - self.goal[:, 1]
        reward = -np.sqrt(dx * dx + dy * dy)
        terminated = (np.abs(dx) < self.goal_tolerance) & (
            np.abs(dy) < self.goal_tolerance
        )
        truncated = (self.t >= self.max_steps) & ~terminated
        return reward, terminated, truncated

    def observe(self) -> np.ndarray:
        if self.observe_goal:
            return np.concatenate([self.pos, self.goal], axis=1).astype(np.float32)
        return self.pos.astype(np.float32)


class PointNav2DEnv(MetaNavEnv):
    """A point in the plane that must move to an unseen goal (Finn et al., 2017).

    ## Description
    The continuous 2D navigation task of *Model-Agnostic Meta-Learning for Fast
    Adaptation of Deep Networks* (Finn, Abbeel and Levine, ICML 2017, §5.3). The
    agent starts at the origin; each task is a goal drawn uniformly from
    ``[-goal_range, goal_range]²`` (default ``[-0.5, 0.5]²``), which the agent
    does not observe. The defaults reproduce the paper's environment
    (``maml_examples/point_env_randgoal.py`` of the authors' code), so returns can
    be compared with its Figure 4.

    ## Actions
    ``Box(-max_speed, max_speed, (2,), float32)``, default ``max_speed=0.1``: a
    velocity. Actions outside the box are clipped to it, as the paper's sampler
    does, so an unbounded Gaussian policy can act directly. With
    ``normalized_actions=True`` the space is ``Box(-1, 1, (2,))`` and the velocity
    is ``max_speed * clip(a, -1, 1)``: the rescaling of rllab's ``normalize``
    wrapper, which the paper's code puts around this env.

    ## Observation
    The position ``(x, y)``: ``Box(-b, b, (2,), float32)`` with ``b = max_steps *
    max_speed``, the farthest the agent can get. The state is kept in float64;
    only the observation is rounded to float32.

    ## Reward
    ``r = -sqrt((x' - goal_x)² + (y' - goal_y)²)``, minus the Euclidean distance
    from the position after the move to the goal.

    ## Episode end
    ``terminated`` when ``|x' - goal_x| < goal_tolerance`` and ``|y' - goal_y| <
    goal_tolerance`` (default 0.01), as in the paper. ``truncated`` after
    ``max_steps`` steps (default 100, the paper's horizon).

    ## Tasks and splits
    A task is a :class:`PointTask`. Both splits draw goals from the same uniform
    distribution, as the paper does for its test goals; the split selects an
    independent random stream (:func:`~metanav_envs.core.split_rng`), so train and
    test goals coincide with probability zero. ``task_split`` cannot tell a goal's
    split and raises ``NotImplementedError``.

    ## Arguments
    * ``goal_range`` (0.5): goals lie in ``[-goal_range, goal_range]²``.
    * ``max_speed`` (0.1): the bound of each velocity component.
    * ``goal_tolerance`` (0.01): the per-axis distance that counts as arrival.
    * ``max_steps`` (100): the horizon.
    * ``normalized_actions`` (False): act in ``[-1, 1]²``, rescaled to
      ``[-max_speed, max_speed]²`` (see Actions).
    * ``observe_goal`` (False): append the goal to the observation, which becomes
      ``(x, y, goal_x, goal_y)``; the paper's "oracle" baseline.
    * ``task``, ``render_mode``: as for every MetaNav env.

    ::

        gymnasium.make("MetaNav/PointNav2D-v0", goal_range=1.0)

    ## Version history
    * v0: first version.
    """

    task_type = PointTask
    metadata: ClassVar[dict[str, Any]] = {
        "render_modes": ["rgb_array", "ansi"],
        "render_fps": 20,
    }
    image_pixels = 256

    def __init__(
        self,
        *,
        goal_range: float = 0.5,
        max_speed: float = 0.1,
        goal_tolerance: float = 0.01,
        max_steps: int = 100,
        observe_goal: bool = False,
        normalized_actions: bool = False,
        task: Task | Mapping[str, Any] | None = None,
        render_mode: str | None = None,
    ) -> None:
        self._init_render_mode(render_mode)
        self.goal_range = check_number("goal_range", goal_range, low=1e-6)
        self.max_speed = check_number("max_speed", max_speed, low=1e-6)
        self.goal_tolerance = check_number("goal_tolerance", goal_tolerance, low=0.0)
        self.max_steps = check_int("max_steps", max_steps, 1)
        if not isinstance(observe_goal, (bool, np.bool_)):
            raise InvalidArgumentError(
                f"observe_goal must be a bool; received {observe_goal!r}."
            )
        self.observe_goal = bool(observe_goal)
        if not isinstance(normalized_actions, (bool, np.bool_)):
            raise InvalidArgumentError(
                f"normalized_actions must be a bool; received {normalized_actions!r}."
            )
        self.normalized_actions = bool(normalized_actions)
        bound = np.float32(self.max_steps * self.max_speed)
        high = 1.0 if self.normalized_actions else self.max_speed
        self.action_space = spaces.Box(-high, high, (2,), dtype=np.float32)
        bound = max(bound, np.float32(self.goal_range))
        size = 4 if self.observe_goal else 2
        self.observation_space = spaces.Box(-bound, bound, (size,), dtype=np.float32)
        self._trail: list[np.ndarray] = []
        self._init_task(task)

    def make_simulator(self, num: int) -> PointSimulator:
        return PointSimulator(num, self)

    def _sample_tasks(
        self, num_tasks: int, split: str, rng: np.random.Generator
    ) -> list[Task]:
        goals = rng.uniform(-self.goal_range, self.goal_range, size=(num_tasks, 2))
        return [PointTask((float(x), float(y))) for x, y in goals]

    def check_goal(self, task: Task) -> tuple[float, float]:
        """Returns the goal of ``task`` after checking that it is two finite floats."""
        goal = getattr(task, "goal", None)
        try:
            x, y = (float(v) for v in goal)  # type: ignore[union-attr]
        except (TypeError, ValueError):
            raise InvalidTaskError(
                f"goal must be two numbers (x, y); received {goal!r} in task {task}."
            ) from None
        if not (np.isfinite(x) and np.isfinite(y)):
            raise InvalidTaskError(f"goal must be finite; received {goal!r}.")
        return x, y

    def task_split(self, task: Any) -> str:
        raise NotImplementedError(
            "PointNav2D draws train and test goals from the same distribution with "
            "independent streams, so a goal does not tell its split; keep the split "
            "you sampled it from."
        )

    # -- rendering -------------------------------------------------------------

    def _on_reset(self) -> None:
        self._trail = [self._sim.pos[0].copy()]

    def _on_step(self) -> None:
        if self.render_mode is not None:
            self._trail.append(self._sim.pos[0].copy())

    def _render_rgb(self) -> np.ndarray:
        n = self.image_pixels
        extent = max(1.0, 2.0 * self.goal_range)
        img = np.full((n, n, 3), 250, dtype=np.uint8)

        def to_px(xy: np.ndarray) -> np.ndarray:
            # x to the right, y up; the view spans [-extent, extent]².
            col = (xy[..., 0] / extent + 1) / 2 * (n - 1)
            row = (1 - (xy[..., 1] / extent + 1) / 2) * (n - 1)
            return np.stack([row, col], axis=-1).round().astype(int)

        mid = n // 2
        img[mid, :] = img[:, mid] = (205, 205, 205)
        lo, hi = to_px(np.array([[-self.goal_range, -self.goal_range],
                                 [self.goal_range, self.goal_range]]))  # fmt: skip
        r0, r1 = sorted((lo[0], hi[0]))
        c0, c1 = sorted((lo[1], hi[1]))
        r0, c0 = max(r0, 0), max(c0, 0)
        r1, c1 = min(r1, n - 1), min(c1, n - 1)
        img[r0 : r1 + 1, [c0, c1]] = img[[r0, r1], c0 : c1 + 1] = (150, 150, 150)
        trail = to_px(np.array(self._trail)) if self._trail else np.zeros((0, 2))
        for r, c in trail:
            if 0 <= r < n and 0 <= c < n:
                img[max(r - 1, 0) : r + 2, max(c - 1, 0) : c + 2] = (120, 160, 230)
        yy, xx = np.mgrid[0:n, 0:n]
        for xy, colour, radius in (
            (self._sim.goal[0], (46, 160, 67), 6),
            (self._sim.pos[0], (214, 48, 49), 5),
        ):
            r, c = to_px(xy)
            img[(yy - r) ** 2 + (xx - c) ** 2 <= radius**2] = colour
        return img

    def _render_ansi(self) -> str:
        (x, y), (gx, gy) = self._sim.pos[0], self._sim.goal[0]
        dist = float(np.hypot(x - gx, y - gy))
        return (
            f"step {int(self._sim.t[0])}/{self.max_steps}  position ({x:+.3f}, "
            f"{y:+.3f})  goal ({gx:+.3f}, {gy:+.3f})  distance {dist:.3f}\n"
        )


class PointNav2DVectorEnv(MetaNavVectorEnv):
    """``num_envs`` PointNav2D copies in one numpy call; see :class:`PointNav2DEnv`."""

    env_class = PointNav2DEnv
