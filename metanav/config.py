"""The one typed config of a metanav run, and its YAML presets.

A run is described by a :class:`Config`. It is loaded from a commented YAML preset
(``configs/*.yaml``), then ``key=value`` overrides from the command line are
applied, and the resolved config is saved in the run folder as ``config.yaml``.
Unknown keys fail with the valid names listed and the closest one suggested.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from pathlib import Path
from typing import Any, Literal

import yaml

from metanav.errors import ConfigError
from metanav.files import atomic_write_text

__all__ = ["Config", "load_config", "apply_overrides", "save_config"]


def _field(default: Any, doc: str, **kwargs: Any) -> Any:
    if isinstance(default, (list, dict)):
        value = default
        return dataclasses.field(
            default_factory=lambda: type(value)(value), metadata={"doc": doc}, **kwargs
        )
    return dataclasses.field(default=default, metadata={"doc": doc}, **kwargs)


@dataclasses.dataclass
class Config:
    """Everything that defines a run. Every field has a one-line description."""

    # -- the task distribution ---------------------------------------------------
    env_id: str = _field(
        "MetaNav/GoalGrid-v0",
        "Registered env id: a MetaNav one, or module:id for one of your own.",
    )
    env_kwargs: dict[str, Any] = _field({}, "Keyword arguments of gymnasium.make.")

    # -- the algorithm -----------------------------------------------------------
    algorithm: Literal["maml", "pretrained", "oracle"] = _field(
        "maml",
        "maml: meta-learn an initialisation; pretrained: multi-task policy "
        "gradient without adaptation in training; oracle: pretrained with the "
        "goal observed (GoalGrid and PointNav2D).",
    )
    iterations: int = _field(100, "Meta-iterations (0 saves the initial policy).")
    seed: int = _field(0, "Seeds tasks, episodes and the policy's initial weights.")
    meta_batch_size: int = _field(20, "Tasks per meta-iteration (the meta-batch).")
    fast_batch_size: int = _field(
        20, "Episodes per task in each fast batch and each validation batch."
    )

    # -- the inner loop (adaptation) ---------------------------------------------
    inner_steps: int = _field(1, "Policy-gradient steps of adaptation per task.")
    inner_lr: float = _field(0.5, "Step size alpha of the first inner step.")
    inner_lr_decay: float = _field(
        1.0, "Each later inner step uses the previous step size times this."
    )
    first_order: bool = _field(
        False, "Drop the inner gradients' dependence on theta (first-order MAML)."
    )

    # -- the outer loop (meta-update) --------------------------------------------
    outer: Literal["trpo", "ppo"] = _field("trpo", "Meta-update: TRPO or PPO-clip.")
    max_kl: float = _field(0.01, "TRPO: limit of the mean KL of a meta-update.")
    cg_iters: int = _field(10, "TRPO: conjugate-gradient iterations.")
    cg_damping: float = _field(1e-5, "TRPO: damping added to the Fisher product.")
    line_search_steps: int = _field(15, "TRPO: backtracking steps of the search.")
    line_search_ratio: float = _field(0.8, "TRPO: step shrink per backtrack.")
    fvp: Literal["gauss-newton", "double-backprop"] = _field(
        "gauss-newton",
        "TRPO: how Fisher-vector products are computed (both exact; see "
        "docs/benchmarks.md).",
    )
    fvp_subsample: float = _field(
        1.0, "TRPO: fraction of the meta-batch's tasks the Fisher products use."
    )
    ppo_clip: float = _field(0.2, "PPO: clip range of the probability ratio.")
    ppo_epochs: int = _field(5, "PPO: Adam steps per meta-iteration.")
    ppo_lr: float = _field(3e-4, "PPO: Adam learning rate.")

    # -- advantages ----------------------------------------------------------------
    gamma: float = _field(0.99, "Discount factor.")
    gae_lambda: float = _field(1.0, "GAE lambda (1 gives Monte Carlo returns).")
    baseline: Literal["linear", "none"] = _field(
        "linear", "Value baseline: the MAML paper's linear feature baseline, or none."
    )
    normalize_advantages: bool = _field(
        True, "Normalise advantages per task over episodes and time."
    )

    # -- the policy ----------------------------------------------------------------
    hidden_sizes: list[int] = _field([100, 100], "Units of each hidden layer.")
    activation: Literal["relu", "tanh"] = _field("relu", "Hidden activation.")
    encoder: Literal["mlp", "conv"] = _field(
        "mlp", "conv adds a small conv encoder, for egocentric views."
    )
    init_log_std: float = _field(0.0, "Gaussian policies: initial log std.")

    # -- bookkeeping -----------------------------------------------------------------
    checkpoint_every: int = _field(10, "Meta-iterations between checkpoints.")
    keep_checkpoints: int = _field(3, "Checkpoints kept by the CheckpointManager.")
    eval_tasks: int = _field(40, "Held-out tasks of the evaluation after training.")
    eval_episodes: int = _field(20, "Episodes per task and adaptation step.")
    eval_adapt_steps: int = _field(3, "Adaptation steps evaluated after training.")

    def __post_init__(self) -> None:
        check_values(self)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @property
    def train_env_kwargs(self) -> dict[str, Any]:
        """The env kwargs that training uses (the oracle observes the goal)."""
        if self.algorithm == "oracle":
            return {**self.env_kwargs, "observe_goal": True}
        return dict(self.env_kwargs)

    @property
    def train_inner_steps(self) -> int:
        """Inner steps taken during training: none for the non-meta baselines."""
        return self.inner_steps if self.algorithm == "maml" else 0


FIELDS = {f.name: f for f in dataclasses.fields(Config)}
HINTS = typing.get_type_hints(Config)

_POSITIVE = (
    "meta_batch_size",
    "fast_batch_size",
    "cg_iters",
    "line_search_steps",
    "ppo_epochs",
    "checkpoint_every",
    "keep_checkpoints",
    "eval_tasks",
    "eval_episodes",
)


def check_values(config: Config) -> None:
    """Checks every field's type and range; raises ``ConfigError``."""
    for name in FIELDS:
        value = getattr(config, name)
        hint = HINTS[name]
        if not _matches(value, hint):
            raise ConfigError(
                f"{name} must be {_describe(hint)}; received "
                f"{type(value).__name__} {value!r}."
            )
    for name, hint in HINTS.items():
        if hint is float and not math.isfinite(getattr(config, name)):
            raise ConfigError(
                f"{name} must be a finite number; received {getattr(config, name)}."
            )
    for name in _POSITIVE:
        if getattr(config, name) < 1:
            raise ConfigError(f"{name} must be ≥ 1; received {getattr(config, name)}.")
    for name in ("iterations", "inner_steps", "eval_adapt_steps", "seed"):
        if getattr(config, name) < 0:
            raise ConfigError(f"{name} must be ≥ 0; received {getattr(config, name)}.")
    for name in ("inner_lr", "max_kl", "ppo_lr", "ppo_clip", "line_search_ratio"):
        if not getattr(config, name) > 0:
            raise ConfigError(f"{name} must be > 0; received {getattr(config, name)}.")
    for name in ("fvp_subsample", "inner_lr_decay"):
        if not 0 < getattr(config, name) <= 1:
            raise ConfigError(
                f"{name} must lie in (0, 1]; received {getattr(config, name)}."
            )
    for name in ("gamma", "gae_lambda", "line_search_ratio"):
        if not 0 <= getattr(config, name) <= 1:
            raise ConfigError(
                f"{name} must lie in [0, 1]; received {getattr(config, name)}."
            )
    if config.cg_damping < 0:
        raise ConfigError(f"cg_damping must be ≥ 0; received {config.cg_damping}.")
    if any(h < 1 for h in config.hidden_sizes):
        raise ConfigError(
            f"hidden_sizes must be positive ints; received {config.hidden_sizes}."
        )
    check_env_id(config.env_id)
    if config.algorithm == "oracle" and config.env_id not in ORACLE_ENVS:
        raise ConfigError(
            f"algorithm 'oracle' observes the goal, which only {list(ORACLE_ENVS)} "
            f"offer; received env_id {config.env_id!r}."
        )
    if config.algorithm == "maml" and config.inner_steps < 1 and config.iterations:
        raise ConfigError("algorithm 'maml' needs inner_steps ≥ 1; received 0.")


#: The envs whose goal can be observed (``observe_goal=True``), for the oracle.
ORACLE_ENVS = ("MetaNav/GoalGrid-v0", "MetaNav/PointNav2D-v0")


def check_env_id(env_id: str) -> None:
    """Raises ``ConfigError`` for an id that is not registered, with close ones.

    As with ``gymnasium.make``, the id may name the module that registers it,
    ``"module:Namespace/Name-v0"``; the module is imported first.
    """
    import importlib

    import gymnasium as gym

    import metanav_envs

    module, _, name = env_id.rpartition(":")
    if module:
        try:
            importlib.import_module(module)
        except ImportError as e:
            raise ConfigError(
                f"env_id {env_id!r} names the module {module!r}, which cannot be "
                f"imported ({e}). Put it on the Python path (PYTHONPATH=.) or "
                "install the package that holds it."
            ) from None
    if name in gym.registry:
        return
    close = difflib.get_close_matches(name, list(gym.registry), n=3, cutoff=0.6)
    hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
    raise ConfigError(
        f"Unknown env_id {env_id!r}.{hint} MetaNav ids: "
        f"{', '.join(metanav_envs.ENV_IDS)}."
    )


def _matches(value: Any, hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if origin is Literal:
        return value in typing.get_args(hint)
    if origin in (list, dict):
        if not isinstance(value, origin):
            return False
        if origin is list:
            (item,) = typing.get_args(hint)
            return all(_matches(v, item) for v in value)
        return all(isinstance(k, str) for k in value)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, h) for h in typing.get_args(hint))
    if hint is Any:
        return True
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)


def _describe(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(hint))
    if origin is list:
        return f"a list of {typing.get_args(hint)[0].__name__}"
    if origin is dict:
        return "a mapping"
    return {"int": "an int", "float": "a number", "bool": "true or false"}.get(
        hint.__name__, f"a {hint.__name__}"
    )


def check_env_kwargs(config: Config) -> None:
    """Builds the env once, so that a bad ``env_kwargs`` fails before any work.

    Raises:
        ConfigError: an unknown kwarg (with the valid ones) or a bad value.
    """
    import inspect

    import gymnasium as gym

    from metanav_envs.errors import MetaNavEnvError

    # gym.spec, unlike gym.make, does not take "module:id"; check_env_id has
    # imported the module already.
    entry_point = gym.spec(config.env_id.rpartition(":")[2]).entry_point
    env_class = (
        entry_point
        if callable(entry_point)
        else gym.envs.registration.load_env_creator(entry_point)
    )
    accepted = []
    for cls in env_class.__mro__:
        init = cls.__dict__.get("__init__")
        if init is not None:
            accepted += [
                n
                for n, p in inspect.signature(init).parameters.items()
                if p.kind == p.KEYWORD_ONLY and n not in accepted
            ]
    for key in config.env_kwargs:
        if key not in accepted:
            close = difflib.get_close_matches(key, accepted, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ConfigError(
                f"env_kwargs.{key} is not an argument of {config.env_id}.{hint} "
                f"Valid: {', '.join(accepted)}."
            )
    try:
        gym.make(config.env_id, **config.train_env_kwargs).close()
    except MetaNavEnvError as e:
        raise ConfigError(f"env_kwargs: {e}") from None


def unknown_key_message(key: str, where: str) -> str:
    close = difflib.get_close_matches(key, FIELDS, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return (
        f"Unknown config key {key!r} in {where}.{hint} Valid keys: {', '.join(FIELDS)}."
    )


def from_dict(data: dict[str, Any], where: str = "the config") -> Config:
    """Builds a config, failing clearly on unknown keys or bad values."""
    for key in data:
        if key not in FIELDS:
            raise ConfigError(unknown_key_message(key, where))
    data = {k: _yaml11_float(k, v) for k, v in data.items()}
    try:
        return Config(**data)
    except ConfigError as e:
        raise ConfigError(f"{e} (in {where})") from None


def _yaml11_float(key: str, value: Any) -> Any:
    """PyYAML reads ``1e-3`` (no dot) as a string; accept it for float fields."""
    if isinstance(value, str) and HINTS[key] is float:
        try:
            return float(value)
        except ValueError:
            return value
    return value


def load_config(path: str | Path) -> dict[str, Any]:
    """Reads a YAML preset into a dict of config keys (not yet validated)."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(
            f"Config file {str(path)!r} does not exist; give the path of a YAML "
            "preset such as configs/goalgrid.yaml."
        ) from None
    except OSError as e:
        raise ConfigError(
            f"Cannot read config file {str(path)!r}: {e.strerror}."
        ) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or "invalid YAML"
        raise ConfigError(
            f"YAML syntax error in {str(path)!r}{line}: {problem}; fix the file."
        ) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{str(path)!r} must hold a mapping of config keys; received "
            f"{type(data).__name__}."
        )
    return data


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Applies ``key=value`` strings; values are parsed as YAML (``1e-3``, ``[64]``).

    ``env_kwargs.shape=[6, 6]`` sets one entry of a mapping field.
    """
    data = dict(data)
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ConfigError(
                f"Override {item!r} must have the form key=value, e.g. iterations=50."
            )
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError:
            value = raw
        name, dot, sub = key.partition(".")
        if name not in FIELDS:
            raise ConfigError(unknown_key_message(name, "the overrides"))
        if dot:
            if name != "env_kwargs":
                raise ConfigError(
                    f"Only env_kwargs takes dotted overrides; received {key!r}."
                )
            data[name] = {**data.get(name, {}), sub: value}
        else:
            data[name] = value
    return data


def save_config(config: Config, path: Path) -> None:
    """Writes the resolved config as YAML, one commented line per field.

    The write is atomic: ``--resume`` reads this file, and a run killed half-way
    through writing it must not resume with a config cut short.
    """
    lines = ["# Resolved metanav config: the preset plus command-line overrides."]
    for name, f in FIELDS.items():
        value = yaml.safe_dump(
            {name: getattr(config, name)}, default_flow_style=True, width=1000
        ).strip()
        lines.append(f"# {f.metadata['doc']}")
        lines.append(value[1:-1] if value.startswith("{") else value)
    atomic_write_text(path, "\n".join(lines) + "\n")
