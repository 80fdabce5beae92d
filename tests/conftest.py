"""Shared fixtures: every registered id, a few variants of each, a tiny trained run."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import metanav_envs

ENV_IDS = metanav_envs.ENV_IDS
REPO = Path(__file__).resolve().parents[1]

#: Overrides of configs/goalgrid.yaml that train in seconds.
TINY = [
    "iterations=2",
    "meta_batch_size=2",
    "fast_batch_size=3",
    "hidden_sizes=[8]",
    "env_kwargs.shape=[4, 4]",
    "env_kwargs.max_steps=8",
    "checkpoint_every=1",
    "eval_tasks=3",
    "eval_episodes=2",
    "eval_adapt_steps=1",
]

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


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory) -> Path:
    """A GoalGrid run trained with :data:`TINY` (read it, do not change it)."""
    from metanav.commands import train as train_cmd  # imports TensorFlow

    out = tmp_path_factory.mktemp("runs") / "goalgrid"
    code = train_cmd.main(
        [str(REPO / "configs/goalgrid.yaml"), *TINY, "--out", str(out), "--quiet"]
    )
    assert code == 0
    return out


def read_scalars(logdir: Path) -> dict[str, dict[int, float]]:
    """What TensorBoard shows as scalars for ``logdir``: tag -> step -> value."""
    from tensorboard.backend.event_processing.event_accumulator import (
        EventAccumulator,
    )
    from tensorboard.util.tensor_util import make_ndarray

    events = EventAccumulator(str(logdir), size_guidance={"tensors": 0})
    events.Reload()
    found = {}
    for tag in events.Tags()["tensors"]:
        assert events.SummaryMetadata(tag).plugin_data.plugin_name == "scalars", tag
        found[tag] = {
            e.step: float(make_ndarray(e.tensor_proto)) for e in events.Tensors(tag)
        }
    return found
