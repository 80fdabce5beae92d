"""The dynamics and rewards, checked by hand on small cases and against a plain
Python reference implementation on random ones."""

from __future__ import annotations

import collections

import gymnasium as gym
import numpy as np
import pytest

import metanav_envs

from conftest import make

UP, RIGHT, DOWN, LEFT = range(4)


def reference_distances(walls: np.ndarray, goal: tuple[int, int]) -> dict:
    """Breadth-first search from the goal, one cell at a time."""
    height, width = walls.shape
    dist = {goal: 0}
    queue = collections.deque([goal])
    while queue:
        r, c = queue.popleft()
        for dr, dc in ((-1, 0), (0, 1), (1, 0), (0, -1)):
            nr, nc = r + dr, c + dc
            inside = 0 <= nr < height and 0 <= nc < width
            if inside and not walls[nr, nc] and (nr, nc) not in dist:
                dist[(nr, nc)] = dist[(r, c)] + 1
                queue.append((nr, nc))
    return dist


class ReferenceGrid:
    """A grid env written the obvious way, to compare the table-driven one with."""

    def __init__(self, env, walls, goal, action_map):
        self.env, self.walls, self.goal, self.action_map = env, walls, goal, action_map
        self.dist = reference_distances(walls, goal)

    def reset(self):
        self.pos, self.t = self.env.start, 0

    def step(self, action):
        dr, dc = metanav_envs.grid.MOVES[self.action_map[action]]
        r, c = self.pos[0] + dr, self.pos[1] + dc
        height, width = self.walls.shape
        if 0 <= r < height and 0 <= c < width and not self.walls[r, c]:
            self.pos = (r, c)
        self.t += 1
        terminated = self.pos == self.goal
        if self.env.reward == "dense":
            reward = -self.dist[self.pos] / (height + width - 2)
        else:
            reward = 1.0 if terminated else -self.env.step_cost
        truncated = self.t >= self.env.max_steps and not terminated
        return self.pos, reward, terminated, truncated


def layout_of(env, task):
    layout = env.layout([task])
    goal = divmod(int(layout.goal[0]), env.shape[1])
    return layout.walls[0], goal, tuple(layout.action_map[0])


@pytest.mark.parametrize(
    ("env_id", "kwargs"),
    [
        ("MetaNav/GoalGrid-v0", {"shape": (4, 9)}),
        ("MetaNav/GoalGrid-v0", {"reward": "sparse", "step_cost": 0.05}),
        ("MetaNav/MazeGrid-v0", {"shape": (7, 5), "wall_density": 0.4}),
        ("MetaNav/FourRooms-v0", {"reward": "sparse"}),
        ("MetaNav/FourRooms-v0", {"shape": (9, 6)}),
        ("MetaNav/PermutedGrid-v0", {"goal": "random", "shape": (5, 6)}),
    ],
)
def test_grid_dynamics_match_the_reference(env_id, kwargs):
    env = make(env_id, **kwargs).unwrapped
    rng = np.random.default_rng(0)
    for task in env.sample_tasks(25, "train", seed=1):
        ref = ReferenceGrid(env, *layout_of(env, task))
        env.reset(options={"task": task})
        ref.reset()
        for a in rng.integers(4, size=150):
            _, reward, terminated, truncated, _ = env.step(int(a))
            pos, ref_reward, ref_term, ref_trunc = ref.step(int(a))
            assert env.agent_cell == pos
            assert reward == pytest.approx(ref_reward, abs=1e-12)
            assert (terminated, truncated) == (ref_term, ref_trunc)
            if terminated or truncated:
                env.reset()
                ref.reset()


def test_goalgrid_by_hand():
    env = make("MetaNav/GoalGrid-v0", shape=(3, 4)).unwrapped
    obs, _ = env.reset(options={"task": {"goal": (2, 3)}})
    assert obs.shape == (12,) and obs[0] == 1 and obs.sum() == 1
    scale = 3 + 4 - 2
    # Up from the top row is blocked: stay at (0, 0), 5 moves from the goal.
    obs, reward, terminated, truncated, _ = env.step(UP)
    assert env.agent_cell == (0, 0) and reward == -5 / scale
    assert not terminated and not truncated
    for action, cell in [(RIGHT, (0, 1)), (DOWN, (1, 1)), (DOWN, (2, 1))]:
        obs, reward, *_ = env.step(action)
        assert env.agent_cell == cell and obs[cell[0] * 4 + cell[1]] == 1
    env.step(RIGHT)
    obs, reward, terminated, truncated, _ = env.step(RIGHT)
    assert env.agent_cell == (2, 3) and reward == 0.0 and terminated
    assert not truncated


def test_sparse_reward_and_truncation_by_hand():
    env = make(
        "MetaNav/GoalGrid-v0", shape=(2, 2), reward="sparse", step_cost=0.1, max_steps=3
    ).unwrapped
    env.reset(options={"task": {"goal": (1, 1)}})
    assert env.step(LEFT)[1:4] == (-0.1, False, False)
    assert env.step(UP)[1:4] == (-0.1, False, False)
    assert env.step(LEFT)[1:4] == (-0.1, False, True)  # third step: time limit
    env.reset()
    env.step(RIGHT)
    assert env.step(DOWN)[1:4] == (1.0, True, False)


def test_coords_observation_by_hand():
    env = make("MetaNav/GoalGrid-v0", shape=(3, 5), observation="coords").unwrapped
    obs, _ = env.reset(options={"task": {"goal": (2, 4)}})
    np.testing.assert_array_equal(obs, [0.0, 0.0])
    env.step(DOWN)
    obs, *_ = env.step(RIGHT)
    np.testing.assert_allclose(obs, [0.5, 0.25])


def test_permuted_actions_by_hand():
    env = make("MetaNav/PermutedGrid-v0", shape=(3, 3)).unwrapped
    # Action 0 moves right, 1 down, 2 left, 3 up.
    env.reset(options={"task": {"action_map": (1, 2, 3, 0), "goal": (2, 2)}})
    env.step(0)
    assert env.agent_cell == (0, 1)
    env.step(1)
    assert env.agent_cell == (1, 1)
    env.step(2)
    assert env.agent_cell == (1, 0)
    env.step(3)
    assert env.agent_cell == (0, 0)


def test_four_rooms_walls_block_and_doors_open():
    env = make("MetaNav/FourRooms-v0", shape=(5, 5), observation="onehot").unwrapped
    env.reset(options={"task": {"doors": (1, 4, 0, 3), "goal": (4, 4)}})
    walls = env._sim.walls[0]
    expected = np.array(
        [
            [0, 0, 1, 0, 0],
            [0, 0, 0, 0, 0],  # north door at row 1
            [0, 1, 1, 0, 1],  # west door at col 0, east door at col 3
            [0, 0, 1, 0, 0],
            [0, 0, 0, 0, 0],  # south door at row 4
        ],
        dtype=bool,
    )
    np.testing.assert_array_equal(walls, expected)
    env.step(RIGHT)
    env.step(RIGHT)  # into the vertical wall at (0, 2): blocked
    assert env.agent_cell == (0, 1)
    env.step(DOWN)
    env.step(RIGHT)  # through the north door
    assert env.agent_cell == (1, 2)


def test_view_observation_by_hand():
    env = make("MetaNav/FourRooms-v0", shape=(5, 5), view_size=3).unwrapped
    obs, _ = env.reset(options={"task": {"doors": (1, 4, 0, 3), "goal": (1, 1)}})
    assert obs.shape == (3, 3, 2)
    # At (0, 0): the row above and the column to the left are off the grid.
    np.testing.assert_array_equal(obs[..., 0], [[1, 1, 1], [1, 0, 0], [1, 0, 0]])
    np.testing.assert_array_equal(obs[..., 1], [[0, 0, 0], [0, 0, 0], [0, 0, 1]])
    obs, *_ = env.step(RIGHT)  # at (0, 1): the wall at (0, 2) is to the right
    np.testing.assert_array_equal(obs[..., 0], [[1, 1, 1], [0, 0, 1], [0, 0, 0]])
    np.testing.assert_array_equal(obs[..., 1], [[0, 0, 0], [0, 0, 0], [0, 1, 0]])


def test_dict_observation_with_position():
    env = make("MetaNav/MazeGrid-v0", include_position=True).unwrapped
    obs, _ = env.reset(seed=0)
    assert set(obs) == {"view", "position"}
    assert obs["view"].shape == (5, 5, 2) and obs["position"].shape == (64,)
    assert obs["position"][0] == 1.0


def test_maze_dense_reward_follows_the_path_around_walls():
    env = make("MetaNav/MazeGrid-v0", wall_density=0.4).unwrapped
    for task in env.sample_tasks(30, "train", seed=4):
        walls, goal, _ = layout_of(env, task)
        dist = reference_distances(walls, goal)
        env.reset(options={"task": task})
        table = env._sim._reward[0]
        for (r, c), d in dist.items():
            assert table[r * 8 + c] == pytest.approx(-d / 14)


def test_pointnav_matches_the_paper_env():
    env = make("MetaNav/PointNav2D-v0").unwrapped
    obs, _ = env.reset(options={"task": {"goal": (0.3, -0.2)}})
    np.testing.assert_array_equal(obs, np.zeros(2, np.float32))
    obs, reward, terminated, truncated, _ = env.step(np.array([0.05, -0.5], np.float32))
    # The action is clipped to [-0.1, 0.1] per axis.
    np.testing.assert_allclose(obs, [0.05, -0.1], rtol=1e-6)
    assert reward == pytest.approx(-np.hypot(0.05 - 0.3, -0.1 + 0.2), rel=1e-6)
    assert not terminated and not truncated
    env.step(np.array([0.1, -0.1], np.float32))
    assert not env.step(np.array([0.1, 0.0], np.float32))[2]  # at (0.25, -0.2)
    obs, reward, terminated, _, _ = env.step(np.array([0.05, 0.0], np.float32))
    assert terminated and abs(reward) < 0.01  # within 0.01 on both axes
    env.reset()
    for t in range(1, 101):
        *_, terminated, truncated, _ = env.step(np.zeros(2, np.float32))
        assert truncated == (t == 100) and not terminated


def test_pointnav_normalized_actions_are_rescaled_like_rllab_normalize():
    plain = make("MetaNav/PointNav2D-v0", max_speed=0.2).unwrapped
    scaled = make("MetaNav/PointNav2D-v0", max_speed=0.2, normalized_actions=True)
    assert scaled.action_space == gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
    task = {"goal": (0.3, -0.2)}
    plain.reset(options={"task": task})
    scaled.reset(options={"task": task})
    rng = np.random.default_rng(0)
    for _ in range(20):
        a = rng.normal(0.0, 1.0, 2).astype(np.float32)
        # rllab's normalize: lb + (a + 1) / 2 * (ub - lb), then clipped to the box.
        env_action = np.clip(-0.2 + (a + 1) / 2 * 0.4, -0.2, 0.2).astype(np.float32)
        expected = plain.step(env_action)
        got = scaled.step(a)
        np.testing.assert_allclose(got[0], expected[0], atol=1e-6)
        assert got[1] == pytest.approx(expected[1], abs=1e-6)
    with pytest.raises(metanav_envs.InvalidArgumentError, match="normalized_actions"):
        make("MetaNav/PointNav2D-v0", normalized_actions="yes")


def test_pointnav_goals_are_uniform_in_the_square():
    env = make("MetaNav/PointNav2D-v0").unwrapped
    goals = np.array([t.goal for t in env.sample_tasks(4000, "train", seed=0)])
    assert goals.min() >= -0.5 and goals.max() <= 0.5
    np.testing.assert_allclose(goals.mean(axis=0), 0.0, atol=0.02)
    np.testing.assert_allclose(goals.std(axis=0), 1 / np.sqrt(12), atol=0.01)


def test_observe_goal_appends_the_goal():
    env = make("MetaNav/GoalGrid-v0", shape=(2, 3), observe_goal=True).unwrapped
    obs, _ = env.reset(options={"task": {"goal": (1, 2)}})
    position, goal = obs[:6], obs[6:]
    np.testing.assert_array_equal(position, [1, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(goal, [0, 0, 0, 0, 0, 1])
    env = make("MetaNav/GoalGrid-v0", observation="coords", observe_goal=True)
    obs, _ = env.reset(options={"task": {"goal": (7, 0)}})
    np.testing.assert_array_equal(obs, [0, 0, 1, 0])
    env = make("MetaNav/PointNav2D-v0", observe_goal=True)
    obs, _ = env.reset(options={"task": {"goal": (0.25, -0.5)}})
    np.testing.assert_array_equal(obs, np.array([0, 0, 0.25, -0.5], np.float32))
    with pytest.raises(metanav_envs.InvalidArgumentError, match="observe_goal=True"):
        make("MetaNav/MazeGrid-v0", observe_goal=True)
