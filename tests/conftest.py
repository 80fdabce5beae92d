"""Shared fixtures: every registered id, and a few variants of each."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import metanav_envs

ENV_IDS = metanav_envs.ENV_IDS

#: (env id, make kwargs): the defaults plus the observation and reward variants.
VARIANTS = [
    *[(env_id, {}) for env_id in ENV_IDS],
    ("MetaNav/GoalGrid-v0", {"shape": (3, 7), "reward": "sparse"}),
    ("MetaNav/GoalGrid-v0", {"observation": "coords", "start": (2, 3)}),
    ("MetaNav/MazeGrid-v0", {"include_position": True, "shape": (6, 11)}),
    ("MetaNav/MazeGrid-v0", {"observation": "onehot", "wall_density": 0.45}),
    ("MetaNav/FourRooms-v0", {"shape": (7, 9), "view_size": 3, "reward": "sparse"}),
    ("MetaNav/PermutedGrid-v0", {"goal": "random", "observation": "view"}),
    ("MetaNav/PointNav2D-v0", {"goal_range": 1.0, "max_steps": 30}),
    ("MetaNav/GoalGrid-v0", {"observe_goal": True}),
    ("MetaNav/PointNav2D-v0", {"observe_goal": True}),
    ("MetaNav/PointNav2D-v0", {"normalized_actions": True, "max_speed": 0.2}),
]
VARIANT_IDS = [f"{i.split('/')[1]}{kw or ''}" for i, kw in VARIANTS]


@pytest.fixture(params=ENV_IDS)
def env_id(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(params=VARIANTS, ids=VARIANT_IDS)
def variant(request: pytest.FixtureRequest) -> tuple[str, dict]:
    return request.param


def make(env_id: str, **kwargs) -> gym.Env:
    return gym.make(env_id, **kwargs)


def make_vec(env_id: str, num_envs: int, **kwargs) -> gym.vector.VectorEnv:
    return gym.make_vec(
        env_id, num_envs=num_envs, vectorization_mode="vector_entry_point", **kwargs
    )


def assert_same(a, b):
    """Exact equality of nested observations / transitions."""
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            assert_same(a[k], b[k])
    elif isinstance(a, (tuple, list)):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            assert_same(x, y)
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    else:
        assert a == b and type(a) is type(b)
