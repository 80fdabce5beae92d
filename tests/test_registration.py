"""The ids are registered, make and make_vec build the right classes, and the env
package stays free of TensorFlow."""

from __future__ import annotations

import subprocess
import sys

import gymnasium as gym
import pytest
from gymnasium.vector import AutoresetMode

import metanav_envs

from conftest import ENV_IDS, make, make_vec

FAMILY_CLASSES = {
    "MetaNav/GoalGrid-v0": (metanav_envs.GoalGridEnv, metanav_envs.GoalGridVectorEnv),
    "MetaNav/MazeGrid-v0": (metanav_envs.MazeGridEnv, metanav_envs.MazeGridVectorEnv),
    "MetaNav/FourRooms-v0": (
        metanav_envs.FourRoomsEnv,
        metanav_envs.FourRoomsVectorEnv,
    ),
    "MetaNav/PermutedGrid-v0": (
        metanav_envs.PermutedGridEnv,
        metanav_envs.PermutedGridVectorEnv,
    ),
    "MetaNav/PointNav2D-v0": (
        metanav_envs.PointNav2DEnv,
        metanav_envs.PointNav2DVectorEnv,
    ),
}


def test_all_five_ids_are_registered():
    assert set(ENV_IDS) == set(FAMILY_CLASSES)
    for env_id in ENV_IDS:
        assert env_id in gym.registry


def test_make_and_make_vec_return_the_family_classes(env_id):
    single_cls, vector_cls = FAMILY_CLASSES[env_id]
    assert type(make(env_id).unwrapped) is single_cls
    vec = make_vec(env_id, num_envs=4)
    assert type(vec) is vector_cls
    assert vec.num_envs == 4
    assert vec.metadata["autoreset_mode"] is AutoresetMode.NEXT_STEP
    assert vec.single_observation_space == make(env_id).observation_space


def test_make_vec_takes_env_kwargs_and_autoreset_mode():
    vec = make_vec(
        "MetaNav/GoalGrid-v0", 3, shape=(4, 5), autoreset_mode=AutoresetMode.SAME_STEP
    )
    assert vec.single_observation_space.shape == (20,)
    assert vec.metadata["autoreset_mode"] is AutoresetMode.SAME_STEP
    assert vec.observation_space.shape == (3, 20)


def test_importing_the_envs_does_not_import_tensorflow():
    code = (
        "import sys, gymnasium, metanav_envs\n"
        "gymnasium.make('MetaNav/GoalGrid-v0').reset(seed=0)\n"
        "assert 'tensorflow' not in sys.modules, 'tensorflow was imported'\n"
        "assert 'keras' not in sys.modules, 'keras was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_unknown_kwarg_fails_at_make():
    with pytest.raises(TypeError, match="wall_densty"):
        make("MetaNav/MazeGrid-v0", wall_densty=0.2)
