"""The Gymnasium API contract and the task-distribution API, for every id."""

from __future__ import annotations

import json
import pickle
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import metanav_envs
from metanav_envs import InvalidArgumentError, InvalidTaskError

from conftest import ENV_IDS, assert_same, make


def rollout(env: gym.Env, seed: int, steps: int, task=None):
    """Random actions from a seeded action space; returns every transition."""
    env.action_space.seed(seed)
    obs, _ = env.reset(seed=seed, options=None if task is None else {"task": task})
    out = [obs]
    for _ in range(steps):
        obs, reward, terminated, truncated, _ = env.step(env.action_space.sample())
        out.append((obs, reward, terminated, truncated))
        if terminated or truncated:
            obs, _ = env.reset()
            out.append(obs)
    return out


@pytest.mark.parametrize("render_mode", [None, "rgb_array", "ansi"])
def test_env_checker_passes_without_warnings(variant, render_mode):
    env_id, kwargs = variant
    env = make(env_id, render_mode=render_mode, **kwargs)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env.unwrapped)
    assert [str(w.message) for w in caught] == []


def test_same_seed_gives_same_tasks_and_trajectories(variant):
    env_id, kwargs = variant
    a, b = make(env_id, **kwargs), make(env_id, **kwargs)
    tasks_a = a.unwrapped.sample_tasks(5, "train", seed=3)
    assert tasks_a == b.unwrapped.sample_tasks(5, "train", seed=3)
    assert tasks_a != a.unwrapped.sample_tasks(5, "train", seed=4)
    for task in tasks_a[:2]:
        assert_same(rollout(a, 11, 150, task), rollout(b, 11, 150, task))


def test_sample_tasks_without_seed_follows_the_reset_seed(env_id):
    a, b = make(env_id), make(env_id)
    a.reset(seed=5)
    b.reset(seed=5)
    assert a.unwrapped.sample_tasks(4) == b.unwrapped.sample_tasks(4)
    assert a.unwrapped.sample_tasks(4) != a.unwrapped.sample_tasks(4)


def test_train_and_test_splits_are_disjoint(variant):
    env_id, kwargs = variant
    env = make(env_id, **kwargs).unwrapped
    train = env.sample_tasks(2000, "train", seed=0)
    test = env.sample_tasks(2000, "test", seed=0)
    assert set(train).isdisjoint(test)
    if env_id != "MetaNav/PointNav2D-v0":
        assert {env.task_split(t) for t in train} == {"train"}
        assert {env.task_split(t) for t in test} == {"test"}


def test_grid_splits_are_fixed_and_cover_every_candidate():
    env = make("MetaNav/GoalGrid-v0").unwrapped
    train, test = env.split_goals("train"), env.split_goals("test")
    assert len(test) == 16 and len(train) == 47  # 63 non-start cells, 25 % test
    assert sorted(train + test) == sorted(
        (r, c) for r in range(8) for c in range(8) if (r, c) != (0, 0)
    )
    assert test == make("MetaNav/GoalGrid-v0").unwrapped.split_goals("test")
    perm = make("MetaNav/PermutedGrid-v0").unwrapped
    assert len(perm.split_action_maps("test")) == 6
    assert len(perm.split_action_maps("train")) == 18
    rooms = make("MetaNav/FourRooms-v0").unwrapped
    assert len(rooms.split_doors("train")) + len(rooms.split_doors("test")) == 5**4


def test_observations_lie_in_the_declared_space(variant):
    env_id, kwargs = variant
    env = make(env_id, **kwargs)
    space = env.observation_space
    for task in env.unwrapped.sample_tasks(4, "test", seed=1):
        for item in rollout(env, 2, 120, task):
            obs = item if not isinstance(item, tuple) else item[0]
            assert space.contains(obs), obs
            for leaf in obs.values() if isinstance(obs, dict) else [obs]:
                assert leaf.dtype == np.float32


@pytest.mark.parametrize("env_id", [i for i in ENV_IDS if i != "MetaNav/PointNav2D-v0"])
def test_agent_never_stands_in_a_wall_or_off_the_grid(env_id):
    env = make(env_id).unwrapped
    height, width = env.shape
    for task in env.sample_tasks(20, "train", seed=0):
        env.reset(options={"task": task})
        walls = env._sim.walls[0]
        rng = np.random.default_rng(0)
        for a in rng.integers(4, size=300):
            _, _, terminated, truncated, _ = env.step(int(a))
            row, col = env.agent_cell
            assert 0 <= row < height and 0 <= col < width
            assert not walls[row, col]
            if terminated or truncated:
                env.reset()


def test_plain_reset_keeps_the_task(env_id):
    env = make(env_id)
    task = env.unwrapped.sample_tasks(1, "test", seed=9)[0]
    env.reset(options={"task": task})
    for seed in (None, 1, 2):
        env.reset(seed=seed)
        assert env.unwrapped.task == task


def test_tasks_round_trip_through_json_and_pickle(env_id):
    env = make(env_id).unwrapped
    for task in env.sample_tasks(5, "train", seed=0):
        data = json.loads(json.dumps(task.to_dict()))
        assert env.task_type.from_dict(data) == task
        assert pickle.loads(pickle.dumps(task)) == task
        env.reset(options={"task": data})  # a dict works as a task
        assert env.task == task


def test_terminated_only_at_the_goal_and_truncated_at_the_time_limit(variant):
    env_id, kwargs = variant
    env = make(env_id, **kwargs).unwrapped
    env.action_space.seed(0)
    for task in env.sample_tasks(5, "train", seed=2):
        env.reset(options={"task": task})
        for t in range(1, env.max_steps + 1):
            _, _, terminated, truncated, _ = env.step(env.action_space.sample())
            assert not (terminated and truncated)
            if terminated:
                if env_id == "MetaNav/PointNav2D-v0":
                    gap = np.abs(env._sim.pos[0] - env._sim.goal[0])
                    assert (gap < env.goal_tolerance).all()
                else:
                    assert env._sim.pos[0] == env._sim.goal[0]
                break
            assert truncated == (t == env.max_steps)


def test_render_modes(env_id):
    rgb = make(env_id, render_mode="rgb_array")
    rgb.reset(seed=0)
    frame = rgb.render()
    assert frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3
    assert len(np.unique(frame.reshape(-1, 3), axis=0)) >= 3  # floor, goal, agent
    text = make(env_id, render_mode="ansi")
    text.reset(seed=0)
    assert isinstance(text.render(), str) and "step 0/" in text.render()
    assert "render_fps" in rgb.metadata
    assert make(env_id).unwrapped.render() is None


def test_grid_picture_shows_agent_and_goal_where_they_are():
    env = make("MetaNav/GoalGrid-v0", shape=(3, 4), render_mode="rgb_array")
    env.reset(options={"task": {"goal": [2, 3]}})
    cell = env.unwrapped.cell_pixels
    frame = env.render()
    assert frame.shape == (3 * cell, 4 * cell, 3)
    centre = cell // 2
    assert tuple(frame[2 * cell + centre, 3 * cell + centre]) == (46, 160, 67)
    assert tuple(frame[centre, centre]) == (214, 48, 49)
    assert env.render().shape == frame.shape
    text = make("MetaNav/GoalGrid-v0", shape=(3, 4), render_mode="ansi")
    text.reset(options={"task": {"goal": [2, 3]}})
    assert text.render().splitlines()[:3] == ["A...", "....", "...G"]


# -- bad input ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env_id", "kwargs", "match"),
    [
        ("MetaNav/GoalGrid-v0", {"shape": (0, 4)}, r"shape must be at least"),
        ("MetaNav/GoalGrid-v0", {"shape": "8x8"}, r"shape must be \(height, width\)"),
        ("MetaNav/GoalGrid-v0", {"start": (8, 0)}, r"start \(8, 0\) lies off"),
        ("MetaNav/GoalGrid-v0", {"reward": "dens"}, r"reward must be one of"),
        ("MetaNav/GoalGrid-v0", {"max_steps": 0}, r"max_steps must be an int ≥ 1"),
        ("MetaNav/GoalGrid-v0", {"step_cost": -1}, r"step_cost must be ≥ 0"),
        ("MetaNav/GoalGrid-v0", {"observation": "pixels"}, r"observation must be"),
        ("MetaNav/GoalGrid-v0", {"include_position": True}, r"needs observation="),
        ("MetaNav/MazeGrid-v0", {"view_size": 4}, r"view_size must be odd"),
        ("MetaNav/MazeGrid-v0", {"wall_density": 1.5}, r"in \[0.0, 0.9\]"),
        ("MetaNav/FourRooms-v0", {"start": (6, 6)}, r"top-left room"),
        ("MetaNav/FourRooms-v0", {"shape": (4, 9)}, r"at least \(5, 5\)"),
        ("MetaNav/PermutedGrid-v0", {"goal": (0, 0)}, r"goal and start must differ"),
        ("MetaNav/PermutedGrid-v0", {"goal": "middle"}, r"'corner', 'random'"),
        ("MetaNav/PointNav2D-v0", {"max_speed": 0}, r"max_speed must be ≥"),
    ],
)
def test_bad_kwargs_raise_clear_errors(env_id, kwargs, match):
    with pytest.raises(InvalidArgumentError, match=match):
        make(env_id, **kwargs)


def test_unknown_render_mode_is_refused():
    # gymnasium.make warns first; the class itself refuses.
    with pytest.raises(InvalidArgumentError, match=r"render_mode must be None or"):
        metanav_envs.GoalGridEnv(render_mode="rgb")


@pytest.mark.parametrize(
    ("env_id", "task", "match"),
    [
        ("MetaNav/GoalGrid-v0", {"goal": (9, 9)}, r"goal \(9, 9\) lies off"),
        ("MetaNav/GoalGrid-v0", {"goal": (0, 0)}, r"is the start cell"),
        ("MetaNav/GoalGrid-v0", {"gaol": (1, 1)}, r"unknown: \['gaol'\]"),
        ("MetaNav/GoalGrid-v0", [1, 1], r"Expected a GoalTask or a dict"),
        ("MetaNav/FourRooms-v0", {"doors": (9, 6, 0, 6), "goal": (1, 1)}, "north in"),
        ("MetaNav/FourRooms-v0", {"doors": (0, 6, 0, 6), "goal": (5, 5)}, "is a wall"),
        (
            "MetaNav/PermutedGrid-v0",
            {"action_map": (0, 0, 1, 2), "goal": (7, 7)},
            r"permutation of \(0, 1, 2, 3\)",
        ),
        ("MetaNav/MazeGrid-v0", {"maze_seed": -1, "goal": (1, 1)}, r"\[0, 2\*\*32\)"),
        ("MetaNav/PointNav2D-v0", {"goal": (0.1, "a")}, r"two numbers"),
        ("MetaNav/PointNav2D-v0", {"goal": (0.1, float("nan"))}, r"finite"),
    ],
)
def test_bad_tasks_raise_clear_errors(env_id, task, match):
    env = make(env_id)
    with pytest.raises(InvalidTaskError, match=match):
        env.reset(options={"task": task})


def test_a_maze_goal_that_cannot_be_reached_is_refused():
    env = make("MetaNav/MazeGrid-v0", wall_density=0.45).unwrapped
    for seed in range(200):
        walls = env.maze_walls([seed])[0]
        dist = metanav_envs.grid.shortest_path_lengths(walls[None], np.array([0]))[0]
        blocked = np.argwhere((dist < 0) & ~walls)
        if len(blocked):
            goal = tuple(int(x) for x in blocked[0])
            with pytest.raises(InvalidTaskError, match="cannot be reached"):
                env.reset(options={"task": {"maze_seed": seed, "goal": goal}})
            return
    pytest.fail("no maze with an unreachable open cell among 200 seeds")


def test_a_failed_task_change_keeps_the_previous_task():
    env = make("MetaNav/GoalGrid-v0")
    env.reset(options={"task": {"goal": (3, 3)}})
    with pytest.raises(InvalidTaskError):
        env.reset(options={"task": {"goal": (0, 0)}})
    assert env.unwrapped.task == metanav_envs.GoalTask((3, 3))
    env.reset()
    assert env.unwrapped._sim.goal[0] == 3 * 8 + 3


@pytest.mark.parametrize(
    ("env_id", "action", "match"),
    [
        ("MetaNav/GoalGrid-v0", 4, r"Actions must lie in \[0, 4\)"),
        ("MetaNav/GoalGrid-v0", 1.0, r"Expected integer actions"),
        ("MetaNav/GoalGrid-v0", [0, 1], r"Expected actions of shape \(\)"),
        ("MetaNav/PointNav2D-v0", [0.1], r"Expected actions of shape \(2,\)"),
        ("MetaNav/PointNav2D-v0", [np.nan, 0.0], r"must be finite"),
    ],
)
def test_bad_actions_raise_clear_errors(env_id, action, match):
    env = make(env_id).unwrapped
    env.reset(seed=0)
    with pytest.raises(metanav_envs.InvalidActionError, match=match):
        env.step(action)


def test_bad_sample_tasks_arguments():
    env = make("MetaNav/GoalGrid-v0").unwrapped
    with pytest.raises(InvalidArgumentError, match=r"split must be one of"):
        env.sample_tasks(3, "validation")
    with pytest.raises(InvalidArgumentError, match=r"num_tasks must be a positive"):
        env.sample_tasks(0)
    with pytest.raises(InvalidArgumentError, match=r"unknown keys \['goal'\]"):
        env.reset(options={"goal": (1, 1)})
