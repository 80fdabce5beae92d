"""Saving and loading trained policies.

A finished run folder holds:

* ``policy.keras``: the Keras model;
* ``policy.json``: what the policy is for and how it adapts (env id and kwargs,
  spaces, inner-loop settings, package versions);
* ``saved_model/``: a TF SavedModel that ``tf.saved_model.load`` opens without
  metanav. Its ``serving_default`` signature takes ``observations`` ``[n,
  *input_shape]`` float32 and a scalar int64 ``seed``, and returns the
  distribution's parameters (``logits``, or ``mean`` and ``log_std``) and one
  sampled ``action`` per row; ``docs/policies.md`` has the exact table.

A policy adapted to one task (``metanav-eval --save-adapted DIR``) is saved the
same way, in a folder of its own, with an ``"adapted"`` entry in its metadata
(:func:`adapted_metadata`), so everything that loads a run's policy loads it.

Files are written to a temporary name and renamed into place, so a reader never
sees half a file.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import gymnasium as gym
import keras
import numpy as np
import tensorflow as tf

import metanav
from metanav.errors import CheckpointError, PolicyMismatchError
from metanav.files import atomic_write_text
from metanav.policies import LogStd, Policy

__all__ = [
    "save_policy",
    "load_policy",
    "policy_metadata",
    "adapted_metadata",
    "with_weights",
    "policy_saved",
    "check_compatible",
]

FORMAT = "metanav-policy"
FORMAT_VERSION = 1
POLICY_FILE, META_FILE, SAVED_MODEL_DIR = "policy.keras", "policy.json", "saved_model"
#: The entries of ``policy.json`` that loading and evaluation read.
_META_KEYS = (
    "env_id",
    "env_kwargs",
    "observation_space",
    "action_space",
    "policy",
    "adaptation",
)


def space_to_json(space: gym.Space) -> dict[str, Any]:
    if isinstance(space, gym.spaces.Discrete):
        return {"type": "Discrete", "n": int(space.n)}
    if isinstance(space, gym.spaces.Box):
        return {
            "type": "Box",
            "shape": list(space.shape),
            "low": float(np.min(space.low)),
            "high": float(np.max(space.high)),
            "dtype": str(space.dtype),
        }
    if isinstance(space, gym.spaces.Dict):
        return {
            "type": "Dict",
            "spaces": {k: space_to_json(s) for k, s in space.items()},
        }
    return {"type": type(space).__name__, "repr": repr(space)}


def policy_metadata(
    policy: Policy,
    env: gym.Env,
    env_id: str,
    env_kwargs: dict[str, Any],
    config: dict[str, Any],
) -> dict[str, Any]:
    """What ``policy.json`` records about a policy."""
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "env_id": env_id,
        "env_kwargs": env_kwargs,
        "observation_space": space_to_json(env.observation_space),
        "action_space": space_to_json(env.action_space),
        "policy": {
            "kind": policy.kind,
            "encoder": config["encoder"],
            "input_shape": list(policy.input_shape),
        },
        "adaptation": {
            "inner_lr": config["inner_lr"],
            "inner_lr_decay": config["inner_lr_decay"],
            "inner_steps": config["inner_steps"],
            "gamma": config["gamma"],
            "gae_lambda": config["gae_lambda"],
            "baseline": config["baseline"],
            "normalize_advantages": config["normalize_advantages"],
        },
        "algorithm": config["algorithm"],
        "versions": _versions(),
    }


def _versions() -> dict[str, str]:
    return {
        "metanav": metanav.__version__,
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "gymnasium": gym.__version__,
        "numpy": np.__version__,
    }


def adapted_metadata(
    meta: dict[str, Any],
    task: dict[str, Any],
    split: str | None,
    steps: int,
    episodes: int,
    seed: int,
    inner_lr: float,
    inner_lr_decay: float,
) -> dict[str, Any]:
    """The metadata of ``meta``'s policy after ``steps`` inner steps on ``task``.

    The ``"adapted"`` entry records the task and how the weights got there;
    ``steps`` add to those of a policy that was adapted already. The
    ``"adaptation"`` settings continue the step-size schedule, so that a further
    inner step on the adapted policy is the one that would have come next.

    Args:
        meta: the metadata of the policy that was adapted.
        task: the task, as ``task.to_dict()``.
        split: the split the task was drawn from, if known.
        steps: inner steps taken, each on ``episodes`` fresh episodes.
        episodes: episodes per inner step.
        seed: the evaluation's seed.
        inner_lr: the size of the first of these steps.
        inner_lr_decay: the factor applied after each step.
    """
    before = meta.get("adapted", {}).get("inner_steps", 0)
    return {
        **meta,
        "adaptation": {
            **meta["adaptation"],
            "inner_lr": inner_lr * inner_lr_decay**steps,
            "inner_lr_decay": inner_lr_decay,
        },
        "adapted": {
            "task": task,
            "split": split,
            "inner_steps": before + steps,
            "episodes": episodes,
            "seed": seed,
            "inner_lr": inner_lr,
            "inner_lr_decay": inner_lr_decay,
        },
        "versions": _versions(),
    }


def with_weights(policy: Policy, params: list[tf.Tensor]) -> Policy:
    """A copy of ``policy`` whose model holds ``params`` (e.g. adapted weights)."""
    model = keras.models.clone_model(policy.model)
    for variable, value in zip(model.trainable_variables, params, strict=True):
        variable.assign(value)
    return Policy(model, policy.kind, policy.action_size)


class _Serving(tf.Module):
    def __init__(self, policy: Policy) -> None:
        super().__init__()
        self.model = policy.model
        self.kind = policy.kind
        spec = tf.TensorSpec([None, *policy.input_shape], tf.float32, "observations")
        seed = tf.TensorSpec([], tf.int64, "seed")
        self.serve = tf.function(self._serve, input_signature=[spec, seed])

    def _serve(self, observations: tf.Tensor, seed: tf.Tensor) -> dict[str, tf.Tensor]:
        outputs = self.model(observations)
        key = tf.stack([seed, tf.constant(0, tf.int64)])
        if self.kind == "categorical":
            action = tf.random.stateless_categorical(outputs, 1, key)[:, 0]
            return {"logits": outputs, "action": action}
        mean, log_std = outputs
        noise = tf.random.stateless_normal(tf.shape(mean), key)
        return {
            "mean": mean,
            "log_std": log_std,
            "action": mean + tf.exp(log_std) * noise,
        }


def save_policy(policy: Policy, metadata: dict[str, Any], folder: Path) -> None:
    """Writes ``policy.keras``, ``policy.json`` and ``saved_model/`` into ``folder``.

    Each is written under a temporary name and renamed into place. Leftovers of a
    save that was killed half-way are removed first.
    """
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob(".saved_model.*"):
        shutil.rmtree(stale, ignore_errors=True)
    for stale in folder.glob(f".{META_FILE}.*"):
        stale.unlink(missing_ok=True)
    tmp = folder / f".{POLICY_FILE}.tmp.keras"
    policy.model.save(tmp)
    os.replace(tmp, folder / POLICY_FILE)
    atomic_write_text(folder / META_FILE, json.dumps(metadata, indent=2) + "\n")
    staging = Path(tempfile.mkdtemp(dir=folder, prefix=".saved_model."))
    serving = _Serving(policy)
    tf.saved_model.save(
        serving, str(staging), signatures={"serving_default": serving.serve}
    )
    final = folder / SAVED_MODEL_DIR
    if final.exists():
        shutil.rmtree(final)
    os.replace(staging, final)


def policy_saved(folder: Path) -> bool:
    """Whether ``folder`` holds all of a saved policy (written last by training)."""
    folder = Path(folder)
    return (
        (folder / POLICY_FILE).is_file()
        and (folder / META_FILE).is_file()
        and (folder / SAVED_MODEL_DIR / "saved_model.pb").is_file()
    )


def resolve_policy_path(path: str | Path) -> Path:
    """The folder holding ``policy.keras`` for a run folder or a policy file."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(
            f"{str(path)!r} does not exist; give a run folder made by metanav-train "
            "or its policy.keras."
        )
    if path.is_file() and path.name != POLICY_FILE:
        raise CheckpointError(
            f"{str(path)!r} is not a {POLICY_FILE}; give a run folder made by "
            f"metanav-train or its {POLICY_FILE}."
        )
    folder = path.parent if path.is_file() else path
    if not (folder / POLICY_FILE).exists():
        adapted = sorted(folder.glob(f"task_*/{POLICY_FILE}"))
        if (folder / "checkpoints").exists():
            hint = (
                " The run may still be training or was interrupted; resume it with "
                f"metanav-train --resume {folder}."
            )
        elif adapted:
            hint = (
                " It holds policies adapted to single tasks; give one of them, "
                f"e.g. {adapted[0].parent}."
            )
        else:
            hint = ""
        raise CheckpointError(
            f"No {POLICY_FILE} in {str(folder)!r}; give a finished run folder.{hint}"
        )
    return folder


def load_policy(path: str | Path) -> tuple[Policy, dict[str, Any]]:
    """Loads a saved policy and its metadata from a run folder or policy file.

    Raises:
        CheckpointError: the files are missing, unreadable, corrupt, not
            metanav's, or from an incompatible format version.
    """
    folder = resolve_policy_path(path)
    meta_path = folder / META_FILE
    try:
        meta = json.loads(meta_path.read_text())
    except FileNotFoundError:
        raise CheckpointError(
            f"{str(meta_path)!r} is missing; a metanav policy needs its metadata."
        ) from None
    except (OSError, ValueError) as e:
        raise CheckpointError(
            f"Cannot read {str(meta_path)!r} ({e}); the policy's metadata is "
            "damaged. Train the run again, or restore the file from a copy."
        ) from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(
            f"{str(meta_path)!r} is not metanav policy metadata (no "
            f"'format: {FORMAT}')."
        )
    if meta.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{str(meta_path)!r} has format version {meta.get('format_version')}; "
            f"this metanav ({metanav.__version__}) reads version {FORMAT_VERSION}. "
            "Evaluate it with the metanav version that saved it."
        )
    missing = [k for k in _META_KEYS if k not in meta]
    if missing:
        raise CheckpointError(
            f"{str(meta_path)!r} lacks {', '.join(missing)}; the policy's metadata "
            "is damaged. Train the run again, or restore the file from a copy."
        )
    try:
        model = keras.saving.load_model(
            folder / POLICY_FILE, custom_objects={"LogStd": LogStd}, compile=False
        )
    except Exception as e:  # Keras raises many types for a damaged file.
        raise CheckpointError(
            f"Cannot load {str(folder / POLICY_FILE)!r}: it is truncated or corrupt "
            f"({type(e).__name__}). Train the run again, or restore the file from "
            "a copy."
        ) from None
    info = meta["policy"]
    shape = list(model.inputs[0].shape[1:])
    if shape != info["input_shape"]:
        raise PolicyMismatchError(
            f"{str(folder / POLICY_FILE)!r} takes inputs of shape {shape}, but "
            f"{str(meta_path)!r} says {info['input_shape']}: the two files come "
            "from different runs. Use the policy.keras and policy.json of one run."
        )
    size = (
        meta["action_space"]["n"]
        if info["kind"] == "categorical"
        else meta["action_space"]["shape"][0]
    )
    return Policy(model, info["kind"], int(size)), meta


def check_compatible(meta: dict[str, Any], env: gym.Env) -> None:
    """Raises ``PolicyMismatchError`` if ``env``'s spaces differ from the policy's."""
    for name in ("observation_space", "action_space"):
        expected = meta[name]
        actual = space_to_json(getattr(env, name))
        if expected != actual:
            raise PolicyMismatchError(
                f"The policy was made for an {name} {expected}, but "
                f"{meta['env_id']} with env_kwargs {meta['env_kwargs']} has "
                f"{actual}. Evaluate the policy on the env it was trained on, or "
                "train one for this env."
            )
