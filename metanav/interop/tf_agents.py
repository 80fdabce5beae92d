"""MetaNav envs as tf-agents environments.

:func:`as_py_environment` wraps one MetaNav env (an instance, or an id made with
``gymnasium.make``) as a tf-agents ``PyEnvironment``, which ``TFPyEnvironment``
turns into a TF environment for any stock tf-agents agent. The task is either
fixed, or drawn afresh from a split at the start of every episode, which makes
the env the multi-task problem a non-meta-learning agent would be trained on.

The conversion, per Gymnasium space and step:

* ``Discrete(n, start)`` → ``BoundedArraySpec((), int64, start, start + n - 1)``;
  ``Box`` → ``BoundedArraySpec`` with the box's shape, dtype and bounds
  (``ArraySpec`` if a bound is infinite); ``Dict`` → a dict of those specs.
* ``terminated`` (the goal was reached) ends the episode with discount 0;
  ``truncated`` (``max_steps`` ran out) ends it with discount 1, so value
  targets bootstrap through a time limit but not through the goal.
* After an episode ends, the next ``step`` starts a new one and ignores its
  action, as tf-agents expects (``handle_auto_reset``).

It needs the ``metanav[tf-agents]`` extra, and on TensorFlow ≥ 2.16 tf-agents'
agents and networks need ``TF_USE_LEGACY_KERAS=1`` set before TensorFlow is
imported; ``docs/interop.md`` has the set-up.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np

import metanav_envs
from metanav.errors import InteropError

try:
    from tf_agents.environments import py_environment
    from tf_agents.specs import array_spec
    from tf_agents.trajectories import time_step as ts
except ImportError as e:  # pragma: no cover - depends on the installed extras
    if not (e.name or "").startswith("tf_agents"):
        raise
    raise ImportError(
        "metanav.interop.tf_agents needs tf-agents, which is not installed. "
        "Install the extra with pip install -e '.[tf-agents]' in a virtualenv "
        "of its own and set TF_USE_LEGACY_KERAS=1 (docs/interop.md)."
    ) from e

__all__ = ["MetaNavPyEnvironment", "as_py_environment", "spec_from_space"]


def spec_from_space(space: gym.Space, name: str) -> Any:
    """The tf-agents array spec of a Gymnasium space (a dict of specs for ``Dict``).

    Raises:
        InteropError: the space is not ``Discrete``, ``Box`` or a ``Dict`` of them.
    """
    if isinstance(space, gym.spaces.Discrete):
        start = int(space.start)
        return array_spec.BoundedArraySpec(
            (), np.int64, minimum=start, maximum=start + int(space.n) - 1, name=name
        )
    if isinstance(space, gym.spaces.Box):
        low, high = _bound(space.low), _bound(space.high)
        if np.all(np.isfinite(low)) and np.all(np.isfinite(high)):
            return array_spec.BoundedArraySpec(
                space.shape, space.dtype, minimum=low, maximum=high, name=name
            )
        return array_spec.ArraySpec(space.shape, space.dtype, name=name)
    if isinstance(space, gym.spaces.Dict):
        return {key: spec_from_space(sub, key) for key, sub in space.spaces.items()}
    raise InteropError(
        f"tf-agents specs can be made from Discrete, Box and Dict spaces; "
        f"{name} space is {space}. Wrap the env so that it uses those spaces."
    )


def _bound(values: np.ndarray) -> np.ndarray | float:
    """A box bound as one number where it is the same everywhere."""
    flat = np.unique(values)
    return flat[0].item() if flat.size == 1 else values


def _as_spec(value: Any, spec: Any) -> Any:
    if isinstance(spec, dict):
        return {key: _as_spec(value[key], sub) for key, sub in spec.items()}
    return np.asarray(value, dtype=spec.dtype).reshape(spec.shape)


class MetaNavPyEnvironment(py_environment.PyEnvironment):
    """One MetaNav env as a tf-agents ``PyEnvironment``; see :func:`as_py_environment`.

    Args:
        env: a single MetaNav env, as ``gymnasium.make`` returns it.
        task: a task of the env's family (or its dict) to keep for every
            episode; ``"train"`` or ``"test"`` to draw one from that split at
            the start of every episode; ``None`` to keep the env's current task.
        seed: seeds the env and the task draws.
    """

    def __init__(self, env: gym.Env, task: Any = None, seed: int | None = None) -> None:
        super().__init__(handle_auto_reset=True)
        base = env.unwrapped
        if not isinstance(base, metanav_envs.MetaNavEnv):
            raise InteropError(
                f"as_py_environment wraps one MetaNav env; received "
                f"{type(base).__name__}. Give an id from {list(metanav_envs.ENV_IDS)} "
                "or gymnasium.make(id)."
            )
        self._env = env
        self._base = base
        self._split: str | None = None
        self._pending_task: metanav_envs.Task | None = None
        if isinstance(task, str):
            if task not in metanav_envs.SPLITS:
                raise InteropError(
                    f"task must be a task, its dict, one of the splits "
                    f"{list(metanav_envs.SPLITS)} or None; received {task!r}."
                )
            self._split = task
        elif task is not None:
            self._pending_task = base.task_type.coerce(task)
        self._observation_spec = spec_from_space(env.observation_space, "observation")
        self._action_spec = spec_from_space(env.action_space, "action")
        self.seed(seed)

    @property
    def gym_env(self) -> gym.Env:
        """The wrapped Gymnasium env."""
        return self._env

    @property
    def task(self) -> metanav_envs.Task:
        """The task of the current episode."""
        return self._base.task

    @property
    def split(self) -> str | None:
        """The split tasks are drawn from per episode, or ``None`` for a fixed task."""
        return self._split

    def observation_spec(self) -> Any:
        return self._observation_spec

    def action_spec(self) -> Any:
        return self._action_spec

    def seed(self, seed: int | None) -> None:
        """Seeds the next reset of the env and the draws of tasks."""
        self._next_seed = seed
        self._rng = np.random.default_rng(seed)

    def _reset(self) -> ts.TimeStep:
        options: dict[str, Any] = {}
        if self._split is not None:
            seed = int(self._rng.integers(2**63))
            options["task"] = self._base.sample_tasks(1, self._split, seed=seed)[0]
        elif self._pending_task is not None:
            # A fixed task is set once; the env keeps it across resets.
            options["task"], self._pending_task = self._pending_task, None
        obs, _ = self._env.reset(seed=self._next_seed, options=options or None)
        self._next_seed = None
        return ts.restart(_as_spec(obs, self._observation_spec))

    def _step(self, action: Any) -> ts.TimeStep:
        obs, reward, terminated, truncated, _ = self._env.step(np.asarray(action))
        obs = _as_spec(obs, self._observation_spec)
        reward = np.asarray(reward, dtype=np.float32)
        if terminated:
            return ts.termination(obs, reward)
        if truncated:
            return ts.truncation(obs, reward, discount=np.float32(1.0))
        return ts.transition(obs, reward, discount=np.float32(1.0))

    def render(self, mode: str = "rgb_array") -> np.ndarray:
        """The env's ``rgb_array`` picture; make the env with that render mode."""
        if mode != "rgb_array" or self._env.render_mode != "rgb_array":
            raise InteropError(
                f"MetaNav tf-agents environments render mode 'rgb_array' from an env "
                f"made with render_mode='rgb_array'; asked for {mode!r} from one made "
                f"with {self._env.render_mode!r}. Pass render_mode='rgb_array' to "
                "as_py_environment."
            )
        return self._env.render()

    def close(self) -> None:
        self._env.close()


def as_py_environment(
    env_or_id: gym.Env | str,
    task: metanav_envs.Task | Mapping[str, Any] | str | None = None,
    *,
    seed: int | None = None,
    **make_kwargs: Any,
) -> MetaNavPyEnvironment:
    """Turns a MetaNav env into a tf-agents ``PyEnvironment``.

    Args:
        env_or_id: a MetaNav env (``gymnasium.make(...)`` or its ``unwrapped``)
            or a registered id such as ``"MetaNav/GoalGrid-v0"``.
        task: what each episode is about. A task of the env's family or its
            ``to_dict()`` form: that task in every episode. ``"train"`` or
            ``"test"``: a fresh task from that split at every reset. ``None``:
            the env's current task (for an id, the env's default, its first
            train task).
        seed: seeds the first reset and the task draws, for repeatable runs.
        **make_kwargs: ``gymnasium.make`` keyword arguments; only with an id.

    Returns:
        A :class:`MetaNavPyEnvironment`; wrap it in ``TFPyEnvironment`` for
        TF agents.

    Raises:
        InteropError: ``env_or_id`` is not a single MetaNav env, ``task`` is an
            unknown split, or ``make_kwargs`` come with an env instance.
    """
    if isinstance(env_or_id, str):
        env = gym.make(env_or_id, **make_kwargs)
    else:
        if make_kwargs:
            raise InteropError(
                f"make kwargs {sorted(make_kwargs)} only apply to an env id; this "
                "env is made already. Pass them to gymnasium.make, or give the id."
            )
        env = env_or_id
    return MetaNavPyEnvironment(env, task=task, seed=seed)
