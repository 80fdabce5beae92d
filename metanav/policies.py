"""Policies: Keras 3 models plus the action distribution they parameterise.

A policy's weights ``params`` are a list of tensors in the order of
``model.trainable_variables``. Every forward pass goes through
``model.stateless_call(params, ...)``, so adapted weights can be substituted for
the model's own without ever mutating the model: that is what lets MAML
differentiate through adaptation.

* :func:`build_policy` makes a categorical MLP for discrete actions and a Gaussian
  MLP with a state-independent log std for continuous ones, with an optional
  small conv encoder for egocentric views.
* :class:`Policy` evaluates log-probabilities, KL divergences and samples under
  any ``params``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import keras
import numpy as np
import tensorflow as tf

from metanav.errors import ConfigError

__all__ = ["Policy", "build_policy", "LogStd", "flatten_observations"]

Params = list[tf.Tensor]


@keras.saving.register_keras_serializable(package="metanav")
class LogStd(keras.layers.Layer):
    """A trainable log standard deviation, the same for every state."""

    def __init__(self, size: int, initial: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.size = size
        self.initial = initial
        self.log_std = self.add_weight(
            shape=(size,),
            initializer=keras.initializers.Constant(initial),
            name="log_std",
        )

    def call(self, mean: Any) -> Any:
        return keras.ops.zeros_like(mean) + self.log_std

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "size": self.size, "initial": self.initial}


def observation_shape(space: gym.Space, encoder: str) -> tuple[int, ...]:
    """The shape of one observation as the policy sees it."""
    if encoder == "conv":
        if not (isinstance(space, gym.spaces.Box) and len(space.shape) == 3):
            raise ConfigError(
                "encoder 'conv' needs an image observation (height, width, "
                f"channels); this env's is {space}. Use encoder: mlp."
            )
        return tuple(space.shape)
    return (int(gym.spaces.flatdim(space)),)


def flatten_observations(space: gym.Space, obs: Any, encoder: str) -> np.ndarray:
    """Turns a batch of observations ``[n, ...]`` into the policy's input."""
    if encoder == "conv":
        return np.asarray(obs, dtype=np.float32)
    if isinstance(space, gym.spaces.Dict):
        parts = [np.asarray(obs[k]).reshape(len(obs[k]), -1) for k in space.spaces]
        return np.concatenate(parts, axis=1).astype(np.float32)
    obs = np.asarray(obs, dtype=np.float32)
    return obs.reshape(len(obs), -1)


def build_policy(
    observation_space: gym.Space,
    action_space: gym.Space,
    hidden_sizes: Sequence[int] = (100, 100),
    activation: str = "relu",
    encoder: str = "mlp",
    init_log_std: float = 0.0,
    seed: int = 0,
) -> Policy:
    """Builds a policy for the given spaces.

    Args:
        observation_space: the env's (single) observation space.
        action_space: ``Discrete`` (categorical policy) or a 1-D ``Box``
            (Gaussian policy).
        hidden_sizes: units of each hidden layer.
        activation: ``"relu"`` or ``"tanh"``.
        encoder: ``"mlp"``, or ``"conv"`` to put two 3×3 conv layers in front.
        init_log_std: the Gaussian policy's initial log std.
        seed: seeds the initial weights.
    """
    obs_shape = observation_shape(observation_space, encoder)
    init = keras.initializers.GlorotUniform
    inputs = keras.Input(obs_shape, name="observation")
    x = inputs
    layer_seed = seed
    if encoder == "conv":
        for filters in (16, 32):
            layer_seed += 1
            x = keras.layers.Conv2D(
                filters,
                3,
                padding="same",
                activation=activation,
                kernel_initializer=init(seed=layer_seed),
            )(x)
        x = keras.layers.Flatten()(x)
    for units in hidden_sizes:
        layer_seed += 1
        x = keras.layers.Dense(
            units, activation=activation, kernel_initializer=init(seed=layer_seed)
        )(x)
    layer_seed += 1
    # A small last layer starts the policy near uniform / near zero mean.
    last = keras.initializers.VarianceScaling(0.01, seed=layer_seed)
    if isinstance(action_space, gym.spaces.Discrete):
        outputs = keras.layers.Dense(
            int(action_space.n), kernel_initializer=last, name="logits"
        )(x)
        model = keras.Model(inputs, outputs, name="categorical_policy")
        return Policy(model, "categorical", int(action_space.n))
    if isinstance(action_space, gym.spaces.Box) and len(action_space.shape) == 1:
        size = int(action_space.shape[0])
        mean = keras.layers.Dense(size, kernel_initializer=last, name="mean")(x)
        log_std = LogStd(size, init_log_std, name="log_std")(mean)
        model = keras.Model(inputs, [mean, log_std], name="gaussian_policy")
        return Policy(model, "gaussian", size)
    raise ConfigError(
        f"metanav policies handle Discrete or 1-D Box actions; received {action_space}."
    )


class Policy:
    """A Keras model and the distribution it parameterises.

    Attributes:
        model: the Keras model; its outputs are the logits (categorical) or the
            mean and log std (Gaussian).
        kind: ``"categorical"`` or ``"gaussian"``.
        action_size: the number of actions, or the action dimension.
    """

    def __init__(self, model: keras.Model, kind: str, action_size: int) -> None:
        self.model = model
        self.kind = kind
        self.action_size = action_size

    @property
    def variables(self) -> list[tf.Variable]:
        """The model's own weights, the ``tf.Variable`` under each Keras variable,
        in the order ``stateless_call`` takes them. ``GradientTape.watch`` and
        ``assign`` work on them directly."""
        return [v.value for v in self.model.trainable_variables]

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.model.inputs[0].shape[1:])

    def distribution(self, params: Params, obs: tf.Tensor) -> tuple[tf.Tensor, ...]:
        """The distribution parameters at ``obs`` ``[n, *input_shape]``.

        Returns:
            ``(logits,)`` with shape ``[n, actions]``, or ``(mean, log_std)``,
            each ``[n, action_size]``.
        """
        outputs, _ = self.model.stateless_call(params, [], obs)
        if self.kind == "categorical":
            return (outputs,)
        return tuple(outputs)

    def log_prob(self, dist: tuple[tf.Tensor, ...], actions: tf.Tensor) -> tf.Tensor:
        """``log pi(a | s)``, ``[n]``."""
        if self.kind == "categorical":
            logp = tf.nn.log_softmax(dist[0])
            return tf.gather(logp, tf.cast(actions, tf.int32), batch_dims=1)
        mean, log_std = dist
        z = (tf.cast(actions, mean.dtype) - mean) * tf.exp(-log_std)
        return tf.reduce_sum(
            -0.5 * tf.square(z) - log_std - 0.5 * math.log(2 * math.pi), axis=-1
        )

    def kl(self, old: tuple[tf.Tensor, ...], new: tuple[tf.Tensor, ...]) -> tf.Tensor:
        """``KL(old || new)`` per row, ``[n]``."""
        if self.kind == "categorical":
            old_logp, new_logp = tf.nn.log_softmax(old[0]), tf.nn.log_softmax(new[0])
            return tf.reduce_sum(tf.exp(old_logp) * (old_logp - new_logp), axis=-1)
        (m0, s0), (m1, s1) = old, new
        return tf.reduce_sum(
            s1
            - s0
            + (tf.exp(2 * s0) + tf.square(m0 - m1)) / (2 * tf.exp(2 * s1))
            - 0.5,
            axis=-1,
        )

    def fisher_product(
        self, dist: tuple[tf.Tensor, ...], tangent: tuple[tf.Tensor, ...]
    ) -> tuple[tf.Tensor, ...]:
        """The analytic Fisher information of the distribution times ``tangent``.

        Per row, this is the Hessian of ``KL(dist || dist + d)`` in ``d`` at
        ``d = 0``, applied to ``tangent`` (shaped like ``dist``):
        ``(diag(p) - p p^T) dz`` for logits, and ``(dmu / sigma^2, 2 dlog_sigma)``
        for the Gaussian's mean and log std.
        """
        if self.kind == "categorical":
            p = tf.nn.softmax(dist[0])
            dz = tangent[0]
            return (p * dz - p * tf.reduce_sum(p * dz, axis=-1, keepdims=True),)
        _, log_std = dist
        d_mean, d_log_std = tangent
        return (d_mean * tf.exp(-2 * log_std), 2 * d_log_std)

    def entropy(self, dist: tuple[tf.Tensor, ...]) -> tf.Tensor:
        """Entropy per row, ``[n]``."""
        if self.kind == "categorical":
            logp = tf.nn.log_softmax(dist[0])
            return -tf.reduce_sum(tf.exp(logp) * logp, axis=-1)
        return tf.reduce_sum(dist[1] + 0.5 * math.log(2 * math.pi * math.e), axis=-1)

    def sample(
        self, dist: tuple[tf.Tensor, ...], rng: tf.random.Generator
    ) -> tf.Tensor:
        """Draws one action per row from ``rng``."""
        if self.kind == "categorical":
            logits = dist[0]
            # Gumbel-max: argmax(logits + Gumbel noise) is a categorical draw.
            u = rng.uniform(tf.shape(logits), 1e-20, 1.0, dtype=logits.dtype)
            return tf.argmax(logits - tf.math.log(-tf.math.log(u)), axis=-1)
        mean, log_std = dist
        return mean + tf.exp(log_std) * rng.normal(tf.shape(mean), dtype=mean.dtype)

    def mode(self, dist: tuple[tf.Tensor, ...]) -> tf.Tensor:
        """The most likely action per row."""
        if self.kind == "categorical":
            return tf.argmax(dist[0], axis=-1)
        return dist[0]
