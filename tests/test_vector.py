"""The batched envs match the single envs step for step.

The reference is Gymnasium's own ``SyncVectorEnv`` over single envs, one per task,
so the batched form is held to Gymnasium's semantics of autoreset and seeding.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

from metanav_envs import InvalidActionError, InvalidArgumentError, InvalidTaskError
from metanav_envs.errors import ResetNeededError

from conftest import VARIANT_IDS, VARIANTS, assert_same, make, make_vec


def reference(env_id, tasks, mode, kwargs):
    sync = gym.vector.SyncVectorEnv(
        [lambda: gym.make(env_id, **kwargs) for _ in tasks], autoreset_mode=mode
    )
    for env, task in zip(sync.envs, tasks, strict=True):
        env.reset(options={"task": task})  # kept by the plain resets that follow
    return sync


@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP])
@pytest.mark.parametrize(("env_id", "kwargs"), VARIANTS, ids=VARIANT_IDS)
def test_batched_env_matches_single_envs_step_for_step(env_id, kwargs, mode):
    num = 6
    # Short horizons make many episodes end, so autoreset is exercised often.
    if env_id == "MetaNav/PointNav2D-v0":
        kwargs = {"max_steps": 15, **kwargs}
    else:
        kwargs = {"max_steps": 9, **kwargs}
    for seed in range(12):
        ours = make_vec(env_id, num, autoreset_mode=mode, **kwargs)
        tasks = ours.unwrapped.sample_tasks(num, "train" if seed % 2 else "test", seed)
        ref = reference(env_id, tasks, mode, kwargs)
        obs, _ = ours.reset(seed=seed, options={"tasks": tasks})
        ref_obs, _ = ref.reset(seed=seed)
        assert_same(obs, ref_obs)
        ours.action_space.seed(seed)
        for _ in range(40):
            actions = ours.action_space.sample()
            if env_id == "MetaNav/PointNav2D-v0":
                actions = actions * 3  # some actions need clipping
            obs, reward, term, trunc, info = ours.step(actions)
            ref_obs, ref_reward, ref_term, ref_trunc, ref_info = ref.step(actions)
            assert_same(obs, ref_obs)
            np.testing.assert_array_equal(reward, ref_reward)
            np.testing.assert_array_equal(term, ref_term)
            np.testing.assert_array_equal(trunc, ref_trunc)
            assert reward.dtype == np.float64 and term.dtype == np.bool_
            if mode == AutoresetMode.SAME_STEP:
                ended = term | trunc
                assert ("final_obs" in info) == ended.any() == ("final_obs" in ref_info)
                if ended.any():
                    np.testing.assert_array_equal(info["_final_obs"], ended)
                    for i in np.flatnonzero(ended):
                        assert_same(info["final_obs"][i], ref_info["final_obs"][i])


def test_autoreset_next_step_ignores_the_action_and_keeps_the_task():
    vec = make_vec("MetaNav/GoalGrid-v0", 2, shape=(1, 3))
    tasks = [{"goal": (0, 1)}, {"goal": (0, 2)}]
    vec.reset(options={"tasks": tasks})
    obs, reward, term, trunc, _ = vec.step(np.array([1, 1]))
    np.testing.assert_array_equal(term, [True, False])
    obs, reward, term, trunc, _ = vec.step(np.array([1, 1]))
    # Copy 0 restarts: reward 0, flags false, back on the start cell.
    np.testing.assert_array_equal(obs[0], [1, 0, 0])
    assert reward[0] == 0.0 and not term[0] and not trunc[0]
    assert term[1]
    assert [t.goal for t in vec.unwrapped.tasks] == [(0, 1), (0, 2)]


def test_reset_mask_resets_only_the_chosen_copies():
    vec = make_vec("MetaNav/GoalGrid-v0", 3, shape=(2, 2))
    vec.reset(options={"tasks": [{"goal": (1, 1)}] * 3})
    vec.step(np.array([1, 1, 1]))
    mask = np.array([False, True, False])
    obs, _ = vec.reset(options={"reset_mask": mask, "tasks": [{"goal": (0, 1)}]})
    np.testing.assert_array_equal(obs.argmax(axis=1), [1, 0, 1])
    assert [t.goal for t in vec.unwrapped.tasks] == [(1, 1), (0, 1), (1, 1)]


def test_disabled_autoreset_needs_an_explicit_reset():
    vec = make_vec("MetaNav/GoalGrid-v0", 2, shape=(1, 3), autoreset_mode="Disabled")
    vec.reset(options={"tasks": [{"goal": (0, 1)}] * 2})
    _, _, term, _, _ = vec.step(np.array([1, 3]))
    np.testing.assert_array_equal(term, [True, False])
    with pytest.raises(ResetNeededError, match=r"Copies \[0\] ended"):
        vec.step(np.array([1, 1]))
    vec.reset(options={"reset_mask": term})
    _, _, term, _, _ = vec.step(np.array([3, 1]))
    np.testing.assert_array_equal(term, [False, True])


def test_reset_seed_seeds_copy_i_with_seed_plus_i(env_id):
    vec = make_vec(env_id, 4)
    vec.reset(seed=100)
    for i in range(4):
        single = make(env_id).unwrapped
        single.reset(seed=100 + i)
        assert (
            vec.unwrapped.np_randoms[i].integers(1 << 30, size=5).tolist()
            == single.np_random.integers(1 << 30, size=5).tolist()
        )
    a, b = make_vec(env_id, 4), make_vec(env_id, 4)
    a.reset(seed=7)
    b.reset(seed=7)
    assert a.unwrapped.sample_tasks(3) == b.unwrapped.sample_tasks(3)


def test_large_batch_runs_and_stays_in_space():
    vec = make_vec("MetaNav/MazeGrid-v0", 2048, include_position=True)
    vec.reset(seed=0, options={"tasks": vec.unwrapped.sample_tasks(2048, seed=0)})
    vec.action_space.seed(0)
    for _ in range(30):
        obs, *_ = vec.step(vec.action_space.sample())
    assert vec.observation_space.contains(obs)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda v: v.step(np.zeros(2, np.int64)), InvalidActionError, r"shape \(3,\)"),
        (lambda v: v.step(np.full(3, 7)), InvalidActionError, r"lie in \[0, 4\)"),
        (lambda v: v.step(np.zeros(3)), InvalidActionError, r"integer actions"),
        (
            lambda v: v.reset(options={"tasks": [{"goal": (1, 1)}]}),
            InvalidTaskError,
            r"one task per copy being reset \(3\); received 1",
        ),
        (
            lambda v: v.reset(options={"task": {"goal": (1, 1)}}),
            InvalidArgumentError,
            r"Did you mean 'tasks'\?",
        ),
        (
            lambda v: v.reset(options={"reset_mask": np.zeros(3, bool)}),
            InvalidArgumentError,
            r"selects no copy",
        ),
        (
            lambda v: v.reset(options={"reset_mask": [True, False, True]}),
            InvalidArgumentError,
            r"numpy bool array",
        ),
        (lambda v: v.reset(seed=[1, 2]), InvalidArgumentError, r"one per copy \(3\)"),
    ],
)
def test_bad_batched_input_raises_clear_errors(call, error, match):
    vec = make_vec("MetaNav/GoalGrid-v0", 3)
    vec.reset(seed=0)
    with pytest.raises(error, match=match):
        call(vec)


def test_bad_num_envs_and_autoreset_mode():
    with pytest.raises(InvalidArgumentError, match=r"num_envs must be a positive"):
        make_vec("MetaNav/GoalGrid-v0", 0)
    with pytest.raises(InvalidArgumentError, match=r"autoreset_mode must be one of"):
        make_vec("MetaNav/GoalGrid-v0", 2, autoreset_mode="sometimes")
