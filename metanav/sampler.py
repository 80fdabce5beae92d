"""The batched sampler: one batched env serves a whole meta-batch.

:class:`Sampler` owns a ``MetaNavVectorEnv`` of ``M × K`` copies (``M`` tasks, ``K``
episodes each) and rolls out one episode in every copy at once. Policy inference
runs inside one ``tf.function`` whose input shapes never change, so it is traced
once per sampler and never again; each task's copies can use their own weights,
which is how post-adaptation episodes are collected.

The sampler knows nothing of meta-learning: it takes per-task weights and returns
:class:`~metanav.episodes.Episodes`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
import tensorflow as tf

import metanav_envs  # noqa: F401  (registers the MetaNav ids)
from metanav.episodes import Episodes
from metanav.policies import Params, Policy, flatten_observations

__all__ = ["Sampler", "make_vector_env"]


def make_vector_env(
    env_id: str, num_envs: int, env_kwargs: dict[str, Any]
) -> gym.vector.VectorEnv:
    """The batched MetaNav env with ``num_envs`` copies."""
    return gym.make_vec(
        env_id,
        num_envs=num_envs,
        vectorization_mode="vector_entry_point",
        **env_kwargs,
    )


class Sampler:
    """Collects ``episodes_per_task`` episodes on each of ``num_tasks`` tasks.

    Args:
        env_id: a registered MetaNav id.
        env_kwargs: its ``gymnasium.make`` kwargs.
        num_tasks: ``M``, tasks per batch.
        episodes_per_task: ``K``, episodes per task.
        policy: the policy whose weights :meth:`sample` takes.
        encoder: the policy's encoder (decides how observations are flattened).
        seed: seeds the generator of the actions.
    """

    def __init__(
        self,
        env_id: str,
        env_kwargs: dict[str, Any],
        num_tasks: int,
        episodes_per_task: int,
        policy: Policy,
        encoder: str = "mlp",
        seed: int = 0,
    ) -> None:
        self.num_tasks = num_tasks
        self.episodes_per_task = episodes_per_task
        self.env = make_vector_env(env_id, num_tasks * episodes_per_task, env_kwargs)
        self.template = self.env.unwrapped.template
        self.horizon = int(self.template.max_steps)
        self.policy = policy
        self.encoder = encoder
        self.rng = tf.random.Generator.from_seed(seed)
        self._act = tf.function(self._act_graph, reduce_retracing=True)

    def _act_graph(
        self, params: Sequence[tf.Tensor], obs: tf.Tensor, greedy: bool
    ) -> tf.Tensor:
        # params: per-task weights, each [M, *shape]; obs: [M, K, *input_shape].
        actions = []
        for m in range(self.num_tasks):
            dist = self.policy.distribution([p[m] for p in params], obs[m])
            if greedy:
                actions.append(self.policy.mode(dist))
            else:
                actions.append(self.policy.sample(dist, self.rng))
        return tf.stack(actions)

    def sample(
        self,
        tasks: Sequence[Any],
        params: Params | Sequence[Params],
        seed: int | None = None,
        greedy: bool = False,
    ) -> Episodes:
        """Rolls out one episode per copy.

        Args:
            tasks: ``M`` tasks; task ``m`` runs in copies ``m * K ... m * K + K - 1``.
            params: one set of weights for every task, or a sequence of ``M``
                sets, one per task (the adapted weights).
            seed: passed to the env's ``reset``.
            greedy: take the most likely action instead of sampling.
        """
        m, k, horizon = self.num_tasks, self.episodes_per_task, self.horizon
        if len(tasks) != m:
            raise ValueError(f"Expected {m} tasks; received {len(tasks)}.")
        stacked = _stack_params(params, m)
        space = self.env.single_observation_space

        obs, _ = self.env.reset(
            seed=seed, options={"tasks": [t for t in tasks for _ in range(k)]}
        )
        first = flatten_observations(space, obs, self.encoder)
        observations = np.zeros((m * k, horizon + 1, *first.shape[1:]), np.float32)
        observations[:, 0] = first
        act_shape = self.env.single_action_space.shape
        act_dtype = np.int64 if not act_shape else np.float32
        actions = np.zeros((m * k, horizon, *act_shape), act_dtype)
        rewards = np.zeros((m * k, horizon), np.float32)
        terminated = np.zeros((m * k, horizon), bool)
        truncated = np.zeros((m * k, horizon), bool)
        alive = np.ones(m * k, bool)
        lengths = np.zeros(m * k, np.int64)

        # Step every copy until each has finished its one episode; a finished copy
        # is restarted by autoreset, and what it does after is masked out.
        for t in range(horizon):
            inputs = tf.constant(observations[:, t].reshape(m, k, *first.shape[1:]))
            action = (
                self._act(stacked, inputs, greedy).numpy().reshape(m * k, *act_shape)
            )
            obs, reward, term, trunc, _ = self.env.step(action.astype(act_dtype))
            actions[:, t] = np.where(_expand(alive, action), action, 0)
            rewards[:, t] = np.where(alive, reward, 0.0)
            terminated[:, t] = alive & term
            truncated[:, t] = alive & trunc
            lengths += alive
            flat = flatten_observations(space, obs, self.encoder)
            observations[alive, t + 1] = flat[alive]
            alive &= ~(term | trunc)
            if not alive.any():
                break

        mask = (np.arange(horizon)[None, :] < lengths[:, None]).astype(np.float32)

        def per_task(x: np.ndarray) -> np.ndarray:
            return x.reshape(m, k, *x.shape[1:])

        return Episodes(
            observations=per_task(observations),
            actions=per_task(actions),
            rewards=per_task(rewards),
            mask=per_task(mask),
            terminated=per_task(terminated),
            truncated=per_task(truncated),
            lengths=per_task(lengths),
        )


def _expand(mask: np.ndarray, like: np.ndarray) -> np.ndarray:
    return mask.reshape(mask.shape + (1,) * (like.ndim - 1))


def _stack_params(params: Params | Sequence[Params], m: int) -> list[tf.Tensor]:
    """Per-task weights, each ``[M, *shape]``, from shared or per-task weights."""
    if isinstance(params[0], (list, tuple)):
        return [tf.stack(group) for group in zip(*params, strict=True)]
    return [tf.repeat(tf.convert_to_tensor(p)[None], m, axis=0) for p in params]
