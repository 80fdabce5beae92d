"""MetaNav task distributions for navigation, as Gymnasium environments.

This package needs only numpy and gymnasium. Importing it registers five ids in the
``MetaNav`` namespace; each works with ``gymnasium.make`` (one env) and with
``gymnasium.make_vec(..., vectorization_mode="vector_entry_point")`` (a batched
numpy env that steps many copies, each with its own task)::

    import gymnasium as gym
    import metanav_envs  # noqa: F401  (registers the ids)

    env = gym.make("MetaNav/GoalGrid-v0")
    task = env.unwrapped.sample_tasks(1, split="test", seed=0)[0]
    obs, info = env.reset(seed=0, options={"task": task})
"""

from __future__ import annotations

from gymnasium.envs.registration import register, registry

from metanav_envs.core import (
    SPLITS,
    MetaNavEnv,
    MetaNavVectorEnv,
    Task,
)
from metanav_envs.errors import (
    InvalidActionError,
    InvalidArgumentError,
    InvalidTaskError,
    MetaNavEnvError,
    ResetNeededError,
)
from metanav_envs.four_rooms import FourRoomsEnv, FourRoomsTask, FourRoomsVectorEnv
from metanav_envs.goal_grid import GoalGridEnv, GoalGridVectorEnv, GoalTask
from metanav_envs.maze_grid import MazeGridEnv, MazeGridVectorEnv, MazeTask
from metanav_envs.permuted_grid import (
    PermutedGridEnv,
    PermutedGridVectorEnv,
    PermutedTask,
)
from metanav_envs.point_nav import PointNav2DEnv, PointNav2DVectorEnv, PointTask

__version__ = "0.1.0"

__all__ = [
    "ENV_IDS",
    "SPLITS",
    "FourRoomsEnv",
    "FourRoomsTask",
    "FourRoomsVectorEnv",
    "GoalGridEnv",
    "GoalGridVectorEnv",
    "GoalTask",
    "InvalidActionError",
    "InvalidArgumentError",
    "InvalidTaskError",
    "MazeGridEnv",
    "MazeGridVectorEnv",
    "MazeTask",
    "MetaNavEnv",
    "MetaNavEnvError",
    "MetaNavVectorEnv",
    "PermutedGridEnv",
    "PermutedGridVectorEnv",
    "PermutedTask",
    "PointNav2DEnv",
    "PointNav2DVectorEnv",
    "PointTask",
    "ResetNeededError",
    "Task",
]

#: Every registered id, with its single and batched classes.
_FAMILIES = {
    "MetaNav/GoalGrid-v0": "goal_grid:GoalGrid",
    "MetaNav/MazeGrid-v0": "maze_grid:MazeGrid",
    "MetaNav/FourRooms-v0": "four_rooms:FourRooms",
    "MetaNav/PermutedGrid-v0": "permuted_grid:PermutedGrid",
    "MetaNav/PointNav2D-v0": "point_nav:PointNav2D",
}
ENV_IDS = tuple(_FAMILIES)

for _env_id, _target in _FAMILIES.items():
    if _env_id not in registry:
        register(
            id=_env_id,
            entry_point=f"metanav_envs.{_target}Env",
            vector_entry_point=f"metanav_envs.{_target}VectorEnv",
            # Episodes are truncated by the envs themselves (kwarg ``max_steps``),
            # so that the batched form can truncate exactly as the single one.
            max_episode_steps=None,
        )
