"""Property tests: every generated maze has its goal reachable from the start."""

from __future__ import annotations

import functools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from metanav_envs import MazeGridEnv
from metanav_envs.maze_grid import MAZE_SEED_RANGES

from test_dynamics import reference_distances


@functools.cache
def maze_env(height: int, width: int, density: float, start: tuple[int, int]):
    return MazeGridEnv(shape=(height, width), wall_density=density, start=start)


shapes = st.tuples(st.integers(2, 12), st.integers(2, 12))
densities = st.sampled_from([0.0, 0.1, 0.3, 0.5, 0.7, 0.9])


@settings(max_examples=3000, deadline=None)
@given(
    shape=shapes,
    density=densities,
    data=st.data(),
    seed=st.integers(0, 2**32 - 1),
    split=st.sampled_from(["train", "test"]),
)
def test_sampled_maze_goals_are_reachable(shape, density, data, seed, split):
    start = data.draw(
        st.tuples(st.integers(0, shape[0] - 1), st.integers(0, shape[1] - 1))
    )
    env = maze_env(*shape, density, start)
    (task,) = env.sample_tasks(1, split, seed=seed)
    low, high = MAZE_SEED_RANGES[split]
    assert low <= task.maze_seed < high
    walls = env.maze_walls([task.maze_seed])[0]
    assert not walls[start] and not walls[task.goal] and task.goal != start
    assert task.goal in reference_distances(walls, start)
    env.reset(options={"task": task})  # the env's own check agrees


@settings(max_examples=500, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), density=densities)
def test_the_same_maze_seed_gives_the_same_walls(seed, density):
    a = MazeGridEnv(wall_density=density).maze_walls([seed])
    b = maze_env(8, 8, density, (0, 0)).maze_walls([seed])
    np.testing.assert_array_equal(a, b)
