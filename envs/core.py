"""What every MetaNav task distribution shares: tasks, the single env, the batched env.

A *task* is the hidden parameter of one navigation problem (a goal cell, a maze, a
permutation of the actions). A *task distribution* is a family of tasks with a fixed
train/test split. Every family is written once, as a batched numpy *simulator* that
steps ``B`` copies at once, each with its own task. Two thin front ends sit on it:

* :class:`MetaNavEnv`, a :class:`gymnasium.Env` over a simulator of one copy;
* :class:`MetaNavVectorEnv`, a :class:`gymnasium.vector.VectorEnv` over ``B``
  copies, returned by ``gymnasium.make_vec(..., vectorization_mode=
  "vector_entry_point")``.

Because both run the same simulator code, the batched env matches the single env
step for step; the tests check this against Gymnasium's own ``SyncVectorEnv``.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Protocol, TypeVar

import gymnasium as gym
import numpy as np
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from metanav_envs.errors import (
    InvalidActionError,
    InvalidArgumentError,
    InvalidTaskError,
    ResetNeededError,
)

__all__ = [
    "SPLITS",
    "SPLIT_SEED",
    "MetaNavEnv",
    "MetaNavVectorEnv",
    "Simulator",
    "Task",
    "fixed_split",
    "split_rng",
]

#: The two fixed, disjoint parts of every task distribution.
SPLITS = ("train", "test")

TaskT = TypeVar("TaskT", bound="Task")


@dataclasses.dataclass(frozen=True)
class Task:
    """Base class of the task dataclasses: small, frozen, picklable, JSON-friendly.

    Subclasses hold ints, floats and tuples of them only, so that
    ``json.dumps(task.to_dict())`` works and ``from_dict`` restores an equal task.
    """

    def to_dict(self) -> dict[str, Any]:
        """Returns the task as a dict of plain Python values (tuples become lists)."""
        return {
            f.name: _to_plain(getattr(self, f.name)) for f in dataclasses.fields(self)
        }

    @classmethod
    def from_dict(cls: type[TaskT], data: Mapping[str, Any]) -> TaskT:
        """Builds a task from a dict such as the one :meth:`to_dict` returns.

        Raises:
            InvalidTaskError: a key is missing or unknown.
        """
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(data) - set(names))
        missing = [n for n in names if n not in data]
        if unknown or missing:
            raise InvalidTaskError(
                f"{cls.__name__} takes the keys {names}; received {sorted(data)}"
                + (f" (unknown: {unknown})" if unknown else "")
                + (f" (missing: {missing})" if missing else "")
                + "."
            )
        return cls(**{n: _to_tuple(data[n]) for n in names})

    @classmethod
    def coerce(cls: type[TaskT], task: Any) -> TaskT:
        """Returns ``task`` as an instance of ``cls``, accepting a dict too."""
        if isinstance(task, cls):
            return task
        if isinstance(task, Mapping):
            return cls.from_dict(task)
        raise InvalidTaskError(
            f"Expected a {cls.__name__} or a dict with its fields; received "
            f"{type(task).__name__}: {task!r}. Use env.unwrapped.sample_tasks(...) "
            "to get valid tasks."
        )


def _to_plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_to_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _to_tuple(value: Any) -> Any:
    if isinstance(value, (list, tuple, np.ndarray)):
        return tuple(_to_tuple(v) for v in value)
    if isinstance(value, np.generic):
        return value.item()
    return value


def split_rng(seed: int, split: str) -> np.random.Generator:
    """Returns the generator that :meth:`MetaNavEnv.sample_tasks` draws from.

    The split is part of the seed, so ``seed=0`` gives unrelated streams for the
    train and test splits.
    """
    check_split(split)
    return np.random.default_rng(
        np.random.SeedSequence(seed, spawn_key=(SPLITS.index(split),))
    )


#: Seed of the fixed permutations that split finite task sets into train and test.
#: It is part of each distribution's definition: changing it changes the splits.
SPLIT_SEED = 20170703


def fixed_split(num_candidates: int, test_fraction: float) -> dict[str, np.ndarray]:
    """Splits ``range(num_candidates)`` into sorted, disjoint train and test parts.

    The test part holds ``round(test_fraction * num_candidates)`` candidates (at
    least one, and at least one is left for train), picked by a permutation drawn
    from :data:`SPLIT_SEED`, so the split depends on nothing but its arguments.
    """
    if num_candidates < 2:
        raise InvalidArgumentError(
            f"A task distribution needs at least 2 candidate tasks to split into "
            f"train and test; this one has {num_candidates}. Use a larger grid."
        )
    num_test = min(max(round(test_fraction * num_candidates), 1), num_candidates - 1)
    order = np.random.default_rng(SPLIT_SEED).permutation(num_candidates)
    return {"train": np.sort(order[num_test:]), "test": np.sort(order[:num_test])}


def check_split(split: str) -> None:
    """Raises ``InvalidArgumentError`` unless ``split`` is one of :data:`SPLITS`."""
    if split not in SPLITS:
        raise InvalidArgumentError(
            f"split must be one of {list(SPLITS)}; received {split!r}."
        )


def check_num_tasks(num_tasks: Any) -> int:
    """Validates the ``num_tasks`` argument of ``sample_tasks``."""
    if isinstance(num_tasks, bool) or not isinstance(num_tasks, (int, np.integer)):
        raise InvalidArgumentError(
            f"num_tasks must be a positive int; received {type(num_tasks).__name__} "
            f"{num_tasks!r}."
        )
    if num_tasks < 1:
        raise InvalidArgumentError(
            f"num_tasks must be a positive int; received {num_tasks}."
        )
    return int(num_tasks)


class Simulator(Protocol):
    """The batched dynamics of one family: ``num`` copies, each with its own task.

    Arrays are indexed by copy along their first axis. ``mask`` arguments are
    boolean arrays of shape ``[num]``.
    """

    num: int

    def set_tasks(self, mask: np.ndarray, tasks: Sequence[Task]) -> None:
        """Gives the copies selected by ``mask`` the tasks, in order."""

    def reset(self, mask: np.ndarray) -> None:
        """Puts the selected copies at their start state, with time 0."""

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Steps every copy; returns ``(reward, terminated, truncated)``, ``[num]``."""

    def observe(self) -> Any:
        """Returns the observations of all copies, batched (a fresh array)."""


class MetaNavEnv(gym.Env):
    """Base class of the single MetaNav envs: one task at a time.

    Subclasses set :attr:`task_type`, build their spaces in ``__init__`` and
    implement :meth:`sample_tasks`, :meth:`make_simulator` and the two renderers.
    They must call ``self._init_task(task)`` at the end of ``__init__``.

    The task is set with ``reset(options={"task": task})`` and then kept: a plain
    ``reset()`` starts a new episode on the same task. Before any task is given,
    the env uses ``task`` from its constructor or else the first train task of
    ``sample_tasks(1, "train", seed=0)``.
    """

    metadata: ClassVar[dict[str, Any]] = {
        "render_modes": ["rgb_array", "ansi"],
        "render_fps": 8,
    }
    task_type: ClassVar[type[Task]] = Task

    _sim: Simulator
    _task: Task

    def _init_render_mode(self, render_mode: str | None) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise InvalidArgumentError(
                f"render_mode must be None or one of {self.metadata['render_modes']}; "
                f"received {render_mode!r}."
            )
        self.render_mode = render_mode

    def _init_task(self, task: Task | Mapping[str, Any] | None) -> None:
        self._sim = self.make_simulator(1)
        if task is None:
            task = self.sample_tasks(1, "train", seed=0)[0]
        self._set_task(task)
        self._sim.reset(np.ones(1, dtype=bool))

    # -- the task distribution -------------------------------------------------

    def sample_tasks(
        self, num_tasks: int, split: str = "train", seed: int | None = None
    ) -> list[Task]:
        """Draws ``num_tasks`` tasks from the ``split`` part of the distribution.

        Args:
            num_tasks: how many tasks to draw (with replacement).
            split: ``"train"`` or ``"test"``; the two parts are disjoint.
            seed: the same seed always gives the same tasks. With ``None`` the
                env's own generator (seeded by ``reset(seed=...)``) is used.

        Returns:
            A list of ``num_tasks`` instances of :attr:`task_type`.
        """
        num_tasks = check_num_tasks(num_tasks)
        check_split(split)
        if seed is None:
            seed = int(self.np_random.integers(2**63))
        return self._sample_tasks(num_tasks, split, split_rng(seed, split))

    def _sample_tasks(
        self, num_tasks: int, split: str, rng: np.random.Generator
    ) -> list[Task]:
        raise NotImplementedError

    def task_split(self, task: Task | Mapping[str, Any]) -> str:
        """Returns ``"train"`` or ``"test"``: the split ``task`` belongs to."""
        raise NotImplementedError

    @property
    def task(self) -> Task:
        """The current task."""
        return self._task

    def make_simulator(self, num: int) -> Simulator:
        """Returns a batched simulator of ``num`` copies with this env's settings."""
        raise NotImplementedError

    def _set_task(self, task: Task | Mapping[str, Any]) -> None:
        task = self.task_type.coerce(task)
        self._sim.set_tasks(np.ones(1, dtype=bool), [task])
        self._task = task

    # -- the Gymnasium API -----------------------------------------------------

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """Starts an episode.

        Args:
            seed: seeds the env's generator (used by ``sample_tasks(seed=None)``).
            options: ``{"task": task}`` switches to a new task first; a task
                dataclass or its ``to_dict()`` form.
        """
        super().reset(seed=seed)
        if options:
            unknown = sorted(set(options) - {"task"})
            if unknown:
                raise InvalidArgumentError(
                    f"reset options take the key 'task'; received unknown keys "
                    f"{unknown}."
                )
            if "task" in options:
                self._set_task(options["task"])
        self._sim.reset(np.ones(1, dtype=bool))
        self._on_reset()
        return _first(self._sim.observe()), {}

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        actions = check_actions(np.asarray(action)[None], self.action_space, 1)
        reward, terminated, truncated = self._sim.step(actions)
        self._on_step()
        return (
            _first(self._sim.observe()),
            float(reward[0]),
            bool(terminated[0]),
            bool(truncated[0]),
            {},
        )

    def render(self) -> np.ndarray | str | None:
        if self.render_mode == "rgb_array":
            return self._render_rgb()
        if self.render_mode == "ansi":
            return self._render_ansi()
        return None

    def _on_reset(self) -> None:
        """Hook for subclasses that keep per-episode render state."""

    def _on_step(self) -> None:
        """Hook for subclasses that keep per-episode render state."""

    def _render_rgb(self) -> np.ndarray:
        raise NotImplementedError

    def _render_ansi(self) -> str:
        raise NotImplementedError


def _first(batch: Any) -> Any:
    """Takes copy 0 out of a batched observation (an array or a dict of them)."""
    if isinstance(batch, dict):
        return {k: v[0] for k, v in batch.items()}
    return batch[0]


def _item(batch: Any, i: int) -> Any:
    if isinstance(batch, dict):
        return {k: v[i].copy() for k, v in batch.items()}
    return batch[i].copy()


class MetaNavVectorEnv(VectorEnv):
    """``num_envs`` copies of a MetaNav env stepped in one numpy call.

    Each copy has its own task, set with ``reset(options={"tasks": [...]})`` (one
    per copy) and kept across resets. Seeding follows Gymnasium: ``reset(seed=s)``
    seeds copy ``i`` with ``s + i``. Episodes end per copy and are restarted as
    ``metadata["autoreset_mode"]`` says:

    * ``NEXT_STEP`` (default): the step after an episode ends resets that copy;
      its action is ignored, its reward is 0 and its flags are false.
    * ``SAME_STEP``: the copy resets in the step that ended it; the last
      observation is in ``info["final_obs"]`` (masked by ``info["_final_obs"]``).
    * ``DISABLED``: the caller resets ended copies with
      ``reset(options={"reset_mask": mask})``.

    Subclasses set :attr:`env_class`; every other keyword goes to it.
    """

    env_class: ClassVar[type[MetaNavEnv]]

    def __init__(
        self,
        num_envs: int,
        *,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        **env_kwargs: Any,
    ) -> None:
        if isinstance(num_envs, bool) or not isinstance(num_envs, (int, np.integer)):
            raise InvalidArgumentError(
                f"num_envs must be a positive int; received {num_envs!r}."
            )
        if num_envs < 1:
            raise InvalidArgumentError(
                f"num_envs must be a positive int; received {num_envs}."
            )
        if (
            isinstance(autoreset_mode, str)
            and autoreset_mode in AutoresetMode.__members__
        ):
            autoreset_mode = AutoresetMode[autoreset_mode]  # "NEXT_STEP" works too
        try:
            autoreset_mode = AutoresetMode(autoreset_mode)
        except ValueError:
            raise InvalidArgumentError(
                f"autoreset_mode must be one of {[m.value for m in AutoresetMode]}; "
                f"received {autoreset_mode!r}."
            ) from None

        self.template = self.env_class(**env_kwargs)
        self.num_envs = int(num_envs)
        self.autoreset_mode = autoreset_mode
        self.render_mode = self.template.render_mode
        self.metadata = {**self.env_class.metadata, "autoreset_mode": autoreset_mode}
        self.single_observation_space = self.template.observation_space
        self.single_action_space = self.template.action_space
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)

        self._sim = self.template.make_simulator(self.num_envs)
        self._all = np.ones(self.num_envs, dtype=bool)
        self._tasks: list[Task] = [self.template.task] * self.num_envs
        self._sim.set_tasks(self._all, self._tasks)
        self._sim.reset(self._all)
        self._ended = np.zeros(self.num_envs, dtype=bool)
        self.np_randoms = [seeding.np_random()[0] for _ in range(self.num_envs)]

    @property
    def tasks(self) -> list[Task]:
        """The current task of each copy."""
        return list(self._tasks)

    def sample_tasks(
        self, num_tasks: int, split: str = "train", seed: int | None = None
    ) -> list[Task]:
        """Same as the single env's ``sample_tasks``, with this env's generator."""
        if seed is None:
            seed = int(self.np_random.integers(2**63))
        return self.template.sample_tasks(num_tasks, split, seed=seed)

    def reset(
        self,
        *,
        seed: int | Sequence[int] | None = None,
        options: dict[str, Any] | None = None,
    ) -> tuple[Any, dict[str, Any]]:
        """Resets every copy, or the copies in ``options["reset_mask"]``.

        Args:
            seed: an int ``s`` seeds copy ``i`` with ``s + i``; a list gives one
                seed per copy.
            options: ``"tasks"``, a sequence of ``num_envs`` tasks (or, with a
                reset mask, one per selected copy); ``"reset_mask"``, a boolean
                array of shape ``[num_envs]``.
        """
        options = dict(options or {})
        unknown = sorted(set(options) - {"tasks", "reset_mask"})
        if unknown:
            raise InvalidArgumentError(
                "reset options take the keys 'tasks' and 'reset_mask'; received "
                f"unknown keys {unknown}."
                + _did_you_mean(unknown[0], ["tasks", "reset_mask"])
            )
        mask = self._reset_mask(options.get("reset_mask"))
        self._seed(seed, mask)

        if "tasks" in options:
            tasks = [self.template.task_type.coerce(t) for t in options["tasks"]]
            if len(tasks) != int(mask.sum()):
                raise InvalidTaskError(
                    f"options['tasks'] must hold one task per copy being reset "
                    f"({int(mask.sum())}); received {len(tasks)}."
                )
            self._sim.set_tasks(mask, tasks)
            for i, task in zip(np.flatnonzero(mask), tasks, strict=True):
                self._tasks[i] = task

        self._sim.reset(mask)
        self._ended[mask] = False
        return self._sim.observe(), {}

    def step(
        self, actions: Any
    ) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        actions = check_actions(
            np.asarray(actions), self.single_action_space, self.num_envs
        )
        if self.autoreset_mode == AutoresetMode.DISABLED and self._ended.any():
            raise ResetNeededError(
                f"Copies {np.flatnonzero(self._ended).tolist()} ended their episode "
                "and autoreset is disabled; call reset(options={'reset_mask': mask}) "
                "for them before stepping."
            )

        restart = self._ended.copy()
        reward, terminated, truncated = self._sim.step(actions)
        infos: dict[str, Any] = {}

        if self.autoreset_mode == AutoresetMode.NEXT_STEP:
            if restart.any():
                self._sim.reset(restart)
                reward[restart] = 0.0
                terminated[restart] = False
                truncated[restart] = False
            self._ended = terminated | truncated
            obs = self._sim.observe()
        elif self.autoreset_mode == AutoresetMode.SAME_STEP:
            ended = terminated | truncated
            obs = self._sim.observe()
            if ended.any():
                final_obs = np.full(self.num_envs, None, dtype=object)
                for i in np.flatnonzero(ended):
                    final_obs[i] = _item(obs, i)
                infos = {
                    "final_obs": final_obs,
                    "_final_obs": ended.copy(),
                    "final_info": {},
                    "_final_info": ended.copy(),
                }
                self._sim.reset(ended)
                obs = self._sim.observe()
        else:
            self._ended = terminated | truncated
            obs = self._sim.observe()
        return obs, reward, terminated, truncated, infos

    def render(self) -> tuple[Any, ...] | None:
        """Renders copy 0, as the single env would."""
        if self.render_mode is None:
            return None
        raise NotImplementedError(
            "MetaNav vector envs do not render; render a single env made with "
            "gymnasium.make(env_id, render_mode=...) and reset with the same task."
        )

    # -- helpers ---------------------------------------------------------------

    def _reset_mask(self, mask: Any) -> np.ndarray:
        if mask is None:
            return self._all.copy()
        if not isinstance(mask, np.ndarray) or mask.dtype != np.bool_:
            raise InvalidArgumentError(
                "options['reset_mask'] must be a numpy bool array; received "
                f"{type(mask).__name__}"
                + (f" of dtype {mask.dtype}" if isinstance(mask, np.ndarray) else "")
                + "."
            )
        if mask.shape != (self.num_envs,):
            raise InvalidArgumentError(
                f"options['reset_mask'] must have shape ({self.num_envs},); received "
                f"{mask.shape}."
            )
        if not mask.any():
            raise InvalidArgumentError(
                "options['reset_mask'] selects no copy; set at least one entry."
            )
        return mask.copy()

    def _seed(self, seed: int | Sequence[int] | None, mask: np.ndarray) -> None:
        if seed is None:
            super().reset()
            return
        if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
            seeds = [int(seed) + i for i in range(self.num_envs)]
            super().reset(seed=int(seed))
        else:
            seeds = list(seed)
            if len(seeds) != self.num_envs:
                raise InvalidArgumentError(
                    f"A list of seeds must hold one per copy ({self.num_envs}); "
                    f"received {len(seeds)}."
                )
            super().reset(seed=seeds[0])
        for i in np.flatnonzero(mask):
            self.np_randoms[i] = seeding.np_random(seeds[i])[0]


def _did_you_mean(name: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, choices, n=1)
    return f" Did you mean {close[0]!r}?" if close else ""


def check_actions(actions: np.ndarray, space: gym.Space, num: int) -> np.ndarray:
    """Validates a batch of ``num`` actions for ``space``; returns it as an array.

    Discrete actions must be integers in range. Box actions must be finite; they
    may lie outside the box, since the simulators clip them (as the MAML paper's
    point env does).
    """
    expected = (num, *space.shape)
    if actions.shape != expected:
        # A single env shows the shape of one action, a batched env the batch's.
        want, got = (
            (expected[1:], actions.shape[1:])
            if num == 1
            else (
                expected,
                actions.shape,
            )
        )
        raise InvalidActionError(
            f"Expected actions of shape {want} for {space}; received shape {got}."
        )
    if isinstance(space, gym.spaces.Discrete):
        if actions.dtype == np.bool_ or not np.issubdtype(actions.dtype, np.integer):
            raise InvalidActionError(
                f"Expected integer actions for {space}; received dtype "
                f"{actions.dtype}: {actions.ravel()[:5].tolist()}."
            )
        low, high = int(space.start), int(space.start + space.n)
        bad = (actions < low) | (actions >= high)
        if bad.any():
            raise InvalidActionError(
                f"Actions must lie in [{low}, {high}); received "
                f"{actions[bad][:5].tolist()}"
                + (f" at copies {np.flatnonzero(bad)[:5].tolist()}" if num > 1 else "")
                + "."
            )
        return actions.astype(np.int64, copy=False)
    if actions.dtype == np.bool_ or not np.issubdtype(actions.dtype, np.number):
        raise InvalidActionError(
            f"Expected numeric actions for {space}; received dtype {actions.dtype}."
        )
    if not np.all(np.isfinite(actions)):
        shown = actions[0].tolist() if num == 1 else "NaN or inf"
        raise InvalidActionError(f"Actions must be finite; received {shown}.")
    return actions.astype(space.dtype, copy=False)
