"""MetaNav envs as tf-agents environments: specs, time steps, tasks, training."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import tensorflow as tf
from tf_agents.agents.reinforce import reinforce_agent
from tf_agents.drivers import dynamic_episode_driver
from tf_agents.environments import tf_py_environment, utils
from tf_agents.networks import actor_distribution_network
from tf_agents.specs import array_spec
from tf_agents.trajectories import time_step as ts

import metanav_envs
from metanav.errors import InteropError
from metanav.interop.tf_agents import as_py_environment, spec_from_space
from metanav_envs.goal_grid import GoalTask

from conftest import VARIANT_IDS, VARIANTS

UP, RIGHT = 0, 1


def small_goalgrid(**kwargs):
    return as_py_environment(
        "MetaNav/GoalGrid-v0", shape=(3, 3), max_steps=4, reward="sparse", **kwargs
    )


def check_spec(spec, space):
    if isinstance(space, gym.spaces.Dict):
        assert sorted(spec) == sorted(space.spaces)
        for key, sub in space.spaces.items():
            check_spec(spec[key], sub)
        return
    assert isinstance(spec, array_spec.BoundedArraySpec)
    if isinstance(space, gym.spaces.Discrete):
        assert spec.shape == () and spec.dtype == np.int64
        assert (spec.minimum, spec.maximum) == (space.start, space.start + space.n - 1)
    else:
        assert spec.shape == space.shape and spec.dtype == space.dtype
        np.testing.assert_array_equal(
            np.broadcast_to(spec.minimum, spec.shape), space.low
        )
        np.testing.assert_array_equal(
            np.broadcast_to(spec.maximum, spec.shape), space.high
        )


@pytest.mark.parametrize(("env_id", "kwargs"), VARIANTS, ids=VARIANT_IDS)
def test_specs_follow_the_gymnasium_spaces(env_id, kwargs):
    env = as_py_environment(env_id, **kwargs)
    gym_env = gym.make(env_id, **kwargs)
    check_spec(env.observation_spec(), gym_env.observation_space)
    check_spec(env.action_spec(), gym_env.action_space)
    assert env.reward_spec().dtype == np.float32


@pytest.mark.parametrize("env_id", metanav_envs.ENV_IDS)
@pytest.mark.parametrize("task", [None, "train", "test"])
def test_validate_py_environment_passes(env_id, task):
    env = as_py_environment(env_id, task=task, seed=0, max_steps=10)
    utils.validate_py_environment(env, episodes=3)


def test_validate_py_environment_passes_with_dict_observations():
    env = as_py_environment(
        "MetaNav/MazeGrid-v0", task="train", seed=0, include_position=True
    )
    assert sorted(env.observation_spec()) == ["position", "view"]
    utils.validate_py_environment(env, episodes=2)


def test_reaching_the_goal_ends_with_discount_zero():
    env = small_goalgrid(task=GoalTask((0, 2)))
    first = env.reset()
    assert first.step_type == ts.StepType.FIRST
    mid = env.step(np.int64(RIGHT))
    assert mid.step_type == ts.StepType.MID and mid.discount == 1.0
    last = env.step(np.int64(RIGHT))
    assert last.step_type == ts.StepType.LAST
    assert last.discount == 0.0 and last.reward == 1.0
    assert last.discount.dtype == np.float32 and last.reward.dtype == np.float32
    # The step after the last one starts a new episode and ignores its action.
    again = env.step(np.int64(RIGHT))
    assert again.step_type == ts.StepType.FIRST
    np.testing.assert_array_equal(again.observation, first.observation)


def test_running_out_of_time_ends_with_discount_one():
    env = small_goalgrid(task=GoalTask((2, 2)))
    env.reset()
    steps = [env.step(np.int64(UP)) for _ in range(4)]  # up from the top row stays
    assert [s.step_type for s in steps] == [ts.StepType.MID] * 3 + [ts.StepType.LAST]
    assert all(s.discount == 1.0 for s in steps)
    assert steps[-1].reward == np.float32(-0.01)


def test_steps_match_the_gymnasium_env():
    task = GoalTask((1, 2))
    env = as_py_environment("MetaNav/GoalGrid-v0", task=task, reward="dense")
    gym_env = gym.make("MetaNav/GoalGrid-v0", reward="dense")
    obs, _ = gym_env.reset(options={"task": task})
    np.testing.assert_array_equal(env.reset().observation, obs)
    for action in [2, 3, 1, 1]:  # down, left into the edge, right, right: the goal
        step = env.step(np.int64(action))
        obs, reward, terminated, _, _ = gym_env.step(action)
        np.testing.assert_array_equal(step.observation, obs)
        assert step.reward == np.float32(reward)
        assert step.is_last() == terminated
    assert terminated


def episode_tasks(env, episodes):
    tasks = []
    for _ in range(episodes):
        step = env.reset()
        tasks.append(env.task)
        while not step.is_last():
            step = env.step(np.int64(UP))
    return tasks


def test_a_fixed_task_stays_for_every_episode():
    task = GoalTask((2, 1))
    assert episode_tasks(small_goalgrid(task=task.to_dict()), 3) == [task] * 3
    default = gym.make("MetaNav/GoalGrid-v0", shape=(3, 3)).unwrapped.task
    assert episode_tasks(small_goalgrid(), 3) == [default] * 3


@pytest.mark.parametrize("split", ["train", "test"])
def test_a_split_gives_a_new_task_per_episode_repeatably(split):
    tasks = episode_tasks(small_goalgrid(task=split, seed=3), 12)
    template = gym.make("MetaNav/GoalGrid-v0", shape=(3, 3)).unwrapped
    assert {template.task_split(t) for t in tasks} == {split}
    assert len(set(tasks)) > 1
    assert episode_tasks(small_goalgrid(task=split, seed=3), 12) == tasks
    assert episode_tasks(small_goalgrid(task=split, seed=4), 12) != tasks


def test_an_env_instance_is_wrapped_as_it_is():
    gym_env = gym.make("MetaNav/PointNav2D-v0", max_steps=5)
    env = as_py_environment(gym_env, task="test", seed=0)
    assert env.gym_env is gym_env
    utils.validate_py_environment(env, episodes=2)


def test_works_with_tf_py_environment():
    env = tf_py_environment.TFPyEnvironment(small_goalgrid(task="train", seed=0))
    assert env.batch_size == 1
    assert env.observation_spec().shape == (9,)
    assert env.action_spec().dtype == tf.int64
    step = env.reset()
    assert step.observation.shape == (1, 9) and step.observation.dtype == tf.float32
    step = env.step(tf.constant([RIGHT], tf.int64))
    assert step.reward.shape == (1,) and step.discount.dtype == tf.float32


def test_render_gives_the_env_picture():
    env = small_goalgrid(render_mode="rgb_array")
    env.reset()
    picture = env.render()
    assert picture.ndim == 3 and picture.shape[2] == 3 and picture.dtype == np.uint8
    with pytest.raises(InteropError, match="render_mode='rgb_array'"):
        small_goalgrid().render()


def test_bad_input_is_refused_with_the_fix():
    with pytest.raises(InteropError, match=r"one of the splits \['train', 'test'\]"):
        small_goalgrid(task="validation")
    vec = gym.make_vec(
        "MetaNav/GoalGrid-v0", num_envs=2, vectorization_mode="vector_entry_point"
    )
    with pytest.raises(InteropError, match="wraps one MetaNav env; received Goal"):
        as_py_environment(vec)
    with pytest.raises(InteropError, match="only apply to an env id"):
        as_py_environment(gym.make("MetaNav/GoalGrid-v0"), shape=(3, 3))
    with pytest.raises(InteropError, match="Discrete, Box and Dict spaces"):
        spec_from_space(gym.spaces.MultiBinary(3), "observation")
    with pytest.raises(metanav_envs.InvalidTaskError):
        small_goalgrid(task={"goal": [1, 1], "maze_seed": 3})


def test_reinforce_trains_on_goalgrid_end_to_end():
    env = tf_py_environment.TFPyEnvironment(
        as_py_environment(
            "MetaNav/GoalGrid-v0", task="train", seed=0, shape=(4, 4), max_steps=12
        )
    )
    actor = actor_distribution_network.ActorDistributionNetwork(
        env.observation_spec(), env.action_spec(), fc_layer_params=(16,)
    )
    agent = reinforce_agent.ReinforceAgent(
        env.time_step_spec(),
        env.action_spec(),
        actor_network=actor,
        optimizer=tf.keras.optimizers.Adam(1e-2),
        normalize_returns=True,
        train_step_counter=tf.Variable(0, dtype=tf.int64),
    )
    agent.initialize()
    trajectories = []
    driver = dynamic_episode_driver.DynamicEpisodeDriver(
        env, agent.collect_policy, observers=[trajectories.append], num_episodes=3
    )
    before = [v.numpy().copy() for v in actor.trainable_variables]
    for _ in range(3):
        trajectories.clear()
        driver.run()
        # [batch, time] trajectories, as REINFORCE trains on.
        experience = tf.nest.map_structure(
            lambda *steps: tf.stack(steps, axis=1), *trajectories
        )
        assert int(tf.reduce_sum(tf.cast(experience.is_last(), tf.int32))) == 3
        loss = agent.train(experience).loss
        assert np.isfinite(float(loss))
    assert int(agent.train_step_counter.numpy()) == 3
    after = [v.numpy() for v in actor.trainable_variables]
    assert any(not np.array_equal(b, a) for b, a in zip(before, after, strict=True))
