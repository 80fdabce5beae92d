"""The batched sampler: one batched env serves a whole meta-batch.

:class:`Sampler` owns a ``MetaNavVectorEnv`` of ``M × K`` copies (``M`` tasks, ``K``
episodes each) and rolls out one episode in every copy at once. Policy inference
runs inside one ``tf.function`` whose input shapes never change, so it is traced
once per sampler and never again; each task's copies can use their own weights,
which is how post-adaptation episodes are collected.

The whole rollout is one compiled ``tf.while_loop``: each step evaluates the
policy for all ``M × K`` copies at once (``tf.vectorized_map`` over the tasks'
weights turns the per-task networks into batched matrix products), draws the
actions, and steps the numpy batched env through ``tf.numpy_function``. Nothing
runs in Python per time step but the env's own numpy step.

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
from metanav.errors import NumericalError
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
        space = self.env.single_observation_space
        self.obs_shape = tuple(policy.input_shape)
        self.act_shape = tuple(self.env.single_action_space.shape)
        self.act_dtype = tf.int64 if not self.act_shape else tf.float32
        self._space = space
        self._rollout = tf.function(self._rollout_graph, reduce_retracing=True)

    def _act(
        self, params: Sequence[tf.Tensor], obs: tf.Tensor, greedy: bool
    ) -> tf.Tensor:
        """Actions ``[M * K, ...]`` for observations ``[M * K, *input_shape]``."""
        m, k = self.num_tasks, self.episodes_per_task
        per_task = tf.reshape(obs, [m, k, *self.obs_shape])
        dist = tf.vectorized_map(
            lambda args: self.policy.distribution(list(args[0]), args[1]),
            (list(params), per_task),
        )
        flat = tuple(tf.reshape(d, [m * k, *d.shape[2:]]) for d in dist)
        if greedy:
            return self.policy.mode(flat)
        return self.policy.sample(flat, self.rng)

    def _env_step(
        self, action: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        if action.dtype.kind == "f" and not np.isfinite(action).all():
            self._non_finite = True
            raise FloatingPointError("non-finite actions")
        obs, reward, term, trunc, _ = self.env.step(action)
        flat = flatten_observations(self._space, obs, self.encoder)
        return flat, reward.astype(np.float32), term, trunc

    def _rollout_graph(
        self, params: Sequence[tf.Tensor], first: tf.Tensor, greedy: bool
    ) -> dict[str, tf.Tensor]:
        n, horizon = self.num_tasks * self.episodes_per_task, self.horizon

        def step(t, obs, alive, lengths, arrays):
            action = tf.cast(self._act(params, obs, greedy), self.act_dtype)
            next_obs, reward, term, trunc = tf.numpy_function(
                self._env_step,
                [action],
                [tf.float32, tf.float32, tf.bool, tf.bool],
                stateful=True,
            )
            next_obs = tf.ensure_shape(next_obs, [n, *self.obs_shape])
            reward, term, trunc = (
                tf.ensure_shape(x, [n]) for x in (reward, term, trunc)
            )
            keep = tf.reshape(alive, [n] + [1] * len(self.act_shape))
            keep_obs = tf.reshape(alive, [n] + [1] * len(self.obs_shape))
            next_obs = tf.where(keep_obs, next_obs, tf.zeros_like(next_obs))
            values = (
                next_obs,
                tf.where(keep, action, tf.zeros_like(action)),
                tf.where(alive, reward, 0.0),
                alive & term,
                alive & trunc,
            )
            arrays = tuple(a.write(t, v) for a, v in zip(arrays, values, strict=True))
            lengths += tf.cast(alive, tf.int64)
            alive = alive & ~(term | trunc)
            return t + 1, next_obs, alive, lengths, arrays

        def running(t, obs, alive, lengths, arrays):
            return tf.logical_and(t < horizon, tf.reduce_any(alive))

        dtypes = (tf.float32, self.act_dtype, tf.float32, tf.bool, tf.bool)
        arrays = tuple(tf.TensorArray(d, size=horizon) for d in dtypes)
        start = (
            tf.constant(0),
            first,
            tf.ones([n], tf.bool),
            tf.zeros([n], tf.int64),
            arrays,
        )
        steps, _, _, lengths, arrays = tf.while_loop(running, step, start)

        def padded(array: tf.TensorArray) -> tf.Tensor:
            # [steps, n, ...] -> [n, horizon, ...], zeros past the last step.
            x = array.stack()[:steps]
            pad = [[0, horizon - steps]] + [[0, 0]] * (len(x.shape) - 1)
            x = tf.pad(x, pad)
            return tf.transpose(x, [1, 0, *range(2, len(x.shape))])

        obs, actions, rewards, terminated, truncated = (padded(a) for a in arrays)
        return {
            "observations": tf.concat([first[:, None], obs], axis=1),
            "actions": actions,
            "rewards": rewards,
            "terminated": terminated,
            "truncated": truncated,
            "lengths": lengths,
        }

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
        obs, _ = self.env.reset(
            seed=seed, options={"tasks": [t for t in tasks for _ in range(k)]}
        )
        first = tf.constant(flatten_observations(self._space, obs, self.encoder))
        # Each copy runs until its one episode ends; what autoreset starts after
        # is masked out.
        self._non_finite = False
        try:
            rollout = self._rollout(stacked, first, greedy)
        except tf.errors.OpError:
            if self._non_finite:
                raise NumericalError(
                    "The policy gave non-finite actions: its weights are not finite "
                    "or too large; use a smaller step size."
                ) from None
            raise
        out = {key: v.numpy() for key, v in rollout.items()}
        lengths = out["lengths"]
        mask = (np.arange(horizon)[None, :] < lengths[:, None]).astype(np.float32)

        def per_task(x: np.ndarray) -> np.ndarray:
            return x.reshape(m, k, *x.shape[1:])

        return Episodes(
            observations=per_task(out["observations"]),
            actions=per_task(out["actions"]),
            rewards=per_task(out["rewards"]),
            mask=per_task(mask),
            terminated=per_task(out["terminated"]),
            truncated=per_task(out["truncated"]),
            lengths=per_task(lengths),
        )


def _stack_params(params: Params | Sequence[Params], m: int) -> list[tf.Tensor]:
    """Per-task weights, each ``[M, *shape]``, from shared or per-task weights."""
    if isinstance(params[0], (list, tuple)):
        return [tf.stack(group) for group in zip(*params, strict=True)]
    return [tf.repeat(tf.convert_to_tensor(p)[None], m, axis=0) for p in params]
