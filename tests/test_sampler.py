"""The batched sampler: padding, flags, final observations and per-task weights."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import tensorflow as tf

import metanav_envs  # noqa: F401
from metanav.policies import build_policy
from metanav.sampler import Sampler


def make_sampler(num_tasks=3, episodes=4, **env_kwargs):
    env_kwargs = {"shape": [3, 3], "max_steps": 6, **env_kwargs}
    env = gym.make("MetaNav/GoalGrid-v0", **env_kwargs)
    policy = build_policy(env.observation_space, env.action_space, (8,), seed=0)
    sampler = Sampler(
        "MetaNav/GoalGrid-v0", env_kwargs, num_tasks, episodes, policy, seed=0
    )
    tasks = env.unwrapped.sample_tasks(num_tasks, seed=0)
    return sampler, policy, tasks


def test_episodes_are_padded_after_they_end():
    sampler, policy, tasks = make_sampler()
    eps = sampler.sample(tasks, policy.variables)
    assert eps.rewards.shape == (3, 4, 6) and eps.observations.shape == (3, 4, 7, 9)
    for m in range(3):
        for k in range(4):
            n = int(eps.lengths[m, k])
            assert eps.mask[m, k].tolist() == [1.0] * n + [0.0] * (6 - n)
            ended = eps.terminated[m, k] | eps.truncated[m, k]
            assert ended.sum() == 1 and ended[n - 1]  # exactly one end, the last
            assert eps.truncated[m, k].any() == (
                n == 6 and not eps.terminated[m, k].any()
            )
            assert (eps.rewards[m, k, n:] == 0).all()
            # The observation after the last step is kept for bootstrapping.
            assert eps.observations[m, k, n].sum() == 1.0


def test_the_sampled_episodes_replay_in_the_single_env():
    sampler, policy, tasks = make_sampler()
    eps = sampler.sample(tasks, policy.variables)
    env = gym.make("MetaNav/GoalGrid-v0", shape=[3, 3], max_steps=6)
    for m, task in enumerate(tasks):
        for k in range(4):
            obs, _ = env.reset(options={"task": task})
            np.testing.assert_array_equal(obs, eps.observations[m, k, 0])
            for t in range(int(eps.lengths[m, k])):
                obs, r, term, _, _ = env.step(int(eps.actions[m, k, t]))
                assert abs(r - eps.rewards[m, k, t]) < 1e-6
                assert term == eps.terminated[m, k, t]
                np.testing.assert_array_equal(obs, eps.observations[m, k, t + 1])


def test_per_task_weights_are_used_per_task():
    sampler, policy, tasks = make_sampler(num_tasks=2, episodes=3)
    base = [tf.identity(v) for v in policy.variables]
    # Task 1's weights make action 1 (right) overwhelmingly likely.
    biased = [tf.identity(v) for v in base]
    biased[-1] = tf.constant([-50.0, 50.0, -50.0, -50.0])
    eps = sampler.sample(tasks, [base, biased])
    steps = eps.mask[1].astype(bool)
    assert (eps.actions[1][steps] == 1).all()
    assert not (eps.actions[0][eps.mask[0].astype(bool)] == 1).all()


def test_same_seed_same_episodes():
    a, policy_a, tasks = make_sampler()
    b, policy_b, _ = make_sampler()
    ea = a.sample(tasks, policy_a.variables)
    eb = b.sample(tasks, policy_b.variables)
    np.testing.assert_array_equal(ea.actions, eb.actions)
    np.testing.assert_array_equal(ea.rewards, eb.rewards)


def test_gaussian_episodes_replay_and_stop_when_every_copy_is_done():
    kwargs = {"max_steps": 12, "normalized_actions": True, "goal_tolerance": 0.2}
    env = gym.make("MetaNav/PointNav2D-v0", **kwargs)
    policy = build_policy(env.observation_space, env.action_space, (8,), seed=1)
    sampler = Sampler("MetaNav/PointNav2D-v0", kwargs, 2, 3, policy, seed=3)
    tasks = [{"goal": (0.1, 0.0)}, {"goal": (0.0, -0.15)}]
    eps = sampler.sample(tasks, policy.variables)
    assert eps.actions.shape == (2, 3, 12, 2) and eps.actions.dtype == np.float32
    assert eps.terminated.any()  # some copies reach the goal early
    for m, task in enumerate(tasks):
        for k in range(3):
            obs, _ = env.reset(options={"task": task})
            np.testing.assert_array_equal(obs, eps.observations[m, k, 0])
            n = int(eps.lengths[m, k])
            for t in range(n):
                obs, r, term, trunc, _ = env.step(eps.actions[m, k, t])
                assert r == np.float32(eps.rewards[m, k, t])
                assert (term, trunc) == (
                    eps.terminated[m, k, t],
                    eps.truncated[m, k, t],
                )
                np.testing.assert_array_equal(obs, eps.observations[m, k, t + 1])
            assert (eps.actions[m, k, n:] == 0).all() and (
                eps.rewards[m, k, n:] == 0
            ).all()
