"""MAML for reinforcement learning (Finn, Abbeel and Levine, ICML 2017).

Notation: ``theta`` are the policy's weights; the meta-batch holds ``M`` tasks.
For each task, the **inner loop** adapts ``theta`` by ``k`` policy-gradient steps
on the task's fast batches (Algorithm 3, line 6)::

    theta'_m = theta - alpha * grad L(theta; D_m)       (repeated k times)

and the **outer loop** improves ``theta`` on the validation episodes ``D'_m``
collected with ``theta'_m`` (line 10). The meta-gradient is second order: it
flows through the inner gradient. ``first_order=True`` stops it there.

The outer update is TRPO, as in the paper (§5.3): the surrogate
``mean_m E[pi_theta'_m(a|s) / pi_old'_m(a|s) A]`` is maximised subject to a mean
KL limit, by conjugate gradient on Fisher-vector products and a backtracking line
search; or PPO-clip with Adam. Both differentiate through adaptation.

The Fisher-vector product ``F v`` is the Hessian of the mean KL at ``theta_old``
times ``v``. Because the KL's gradient in the distribution parameters vanishes
there, it equals the Gauss-Newton form ``J^T M J v`` exactly, with ``J`` the
Jacobian of the post-adaptation distribution parameters in ``theta`` and ``M``
the distribution's analytic Fisher (:meth:`Policy.fisher_product`): one
forward-mode and one reverse-mode pass through the adaptation, instead of the
third-order double backpropagation (``fvp="double-backprop"``, kept as the
reference). ``fvp_subsample`` computes the products on the first fraction of the
tasks only, as rllab's optimiser can; the whole conjugate-gradient loop runs in one
compiled graph.

The meta-learner takes episodes and advantages as :class:`TaskBatch` tensors and
knows nothing of how they were collected.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from metanav.episodes import Episodes
from metanav.errors import NumericalError
from metanav.policies import Params, Policy

__all__ = ["TaskBatch", "MAML", "to_task_batch", "flat_concat", "unflatten"]

#: The ways TRPO's Fisher-vector products can be computed (both exact).
FVP_FORMS = ("gauss-newton", "double-backprop")

log = logging.getLogger(__name__)


@dataclasses.dataclass
class TaskBatch:
    """Episodes of ``M`` tasks as tensors, time and episodes merged: ``N = K * T``.

    Attributes:
        observations: ``[M, N, *input_shape]``.
        actions: ``[M, N]`` or ``[M, N, action_size]``.
        advantages: ``[M, N]``.
        mask: ``[M, N]``, 1 on real steps.
    """

    observations: tf.Tensor
    actions: tf.Tensor
    advantages: tf.Tensor
    mask: tf.Tensor

    def task(self, m: int) -> TaskBatch:
        return TaskBatch(
            self.observations[m], self.actions[m], self.advantages[m], self.mask[m]
        )

    def as_tuple(self) -> tuple[tf.Tensor, ...]:
        return (self.observations, self.actions, self.advantages, self.mask)


def to_task_batch(episodes: Episodes, advantages: np.ndarray) -> TaskBatch:
    """Packs episodes and their advantages ``[M, K, T]`` into a :class:`TaskBatch`."""
    m, k, t = episodes.rewards.shape
    obs = episodes.observations[:, :, :t]
    return TaskBatch(
        observations=tf.constant(obs.reshape(m, k * t, *obs.shape[3:])),
        actions=tf.constant(
            episodes.actions.reshape(m, k * t, *episodes.actions.shape[3:])
        ),
        advantages=tf.constant(advantages.reshape(m, k * t), tf.float32),
        mask=tf.constant(episodes.mask.reshape(m, k * t), tf.float32),
    )


def flat_concat(tensors: Sequence[tf.Tensor]) -> tf.Tensor:
    return tf.concat([tf.reshape(x, [-1]) for x in tensors], axis=0)


def unflatten(flat: tf.Tensor, like: Sequence[Any]) -> list[tf.Tensor]:
    out, start = [], 0
    for x in like:
        size = int(np.prod(x.shape))
        out.append(tf.reshape(flat[start : start + size], x.shape))
        start += size
    return out


def masked_mean(x: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
    return tf.reduce_sum(x * mask) / tf.maximum(tf.reduce_sum(mask), 1.0)


class MAML:
    """The MAML meta-learner; with ``inner_steps=0`` plain multi-task TRPO/PPO.

    Args:
        policy: the policy to meta-train.
        num_tasks: ``M``, tasks per meta-batch (fixed, so graphs trace once).
        inner_steps: ``k``, adaptation steps in training.
        inner_lr: ``alpha`` of the first inner step.
        inner_lr_decay: factor applied to ``alpha`` after each inner step.
        step_sizes: explicit step sizes of inner steps ``0, 1, ...``, overriding
            ``inner_lr`` and ``inner_lr_decay``; steps past the list take its last.
        first_order: drop the second-order terms of the meta-gradient.
        outer: ``"trpo"`` or ``"ppo"``.
        max_kl, cg_iters, cg_damping, line_search_steps, line_search_ratio: TRPO.
        fvp: ``"gauss-newton"`` (default) or ``"double-backprop"``: how TRPO's
            Fisher-vector products are computed; both are exact.
        fvp_subsample: the fraction of the meta-batch's tasks (the first ones) on
            which the Fisher-vector products are computed; 1 uses all.
        ppo_clip, ppo_epochs, ppo_lr: PPO.
    """

    def __init__(
        self,
        policy: Policy,
        num_tasks: int,
        inner_steps: int = 1,
        inner_lr: float = 0.5,
        inner_lr_decay: float = 1.0,
        step_sizes: Sequence[float] | None = None,
        first_order: bool = False,
        outer: str = "trpo",
        max_kl: float = 0.01,
        cg_iters: int = 10,
        cg_damping: float = 1e-5,
        line_search_steps: int = 15,
        line_search_ratio: float = 0.8,
        fvp: str = "gauss-newton",
        fvp_subsample: float = 1.0,
        ppo_clip: float = 0.2,
        ppo_epochs: int = 5,
        ppo_lr: float = 3e-4,
    ) -> None:
        self.policy = policy
        self.num_tasks = num_tasks
        self.inner_steps = inner_steps
        self.inner_lr = inner_lr
        self.inner_lr_decay = inner_lr_decay
        self.step_sizes = list(step_sizes) if step_sizes else None
        self.first_order = first_order
        self.outer = outer
        self.max_kl = max_kl
        self.cg_iters = cg_iters
        self.cg_damping = cg_damping
        self.line_search_steps = line_search_steps
        self.line_search_ratio = line_search_ratio
        if fvp not in FVP_FORMS:
            raise ValueError(f"fvp must be one of {FVP_FORMS}; received {fvp!r}.")
        if not 0 < fvp_subsample <= 1:
            raise ValueError(f"fvp_subsample must lie in (0, 1]; got {fvp_subsample}.")
        self.fvp = fvp
        self.fvp_subsample = fvp_subsample
        self.fvp_tasks = max(1, round(fvp_subsample * num_tasks))
        self.ppo_clip = ppo_clip
        self.ppo_epochs = ppo_epochs
        self.optimizer = keras.optimizers.Adam(ppo_lr) if outer == "ppo" else None

        self._adapt_all = tf.function(self._adapt_all_graph, reduce_retracing=True)
        self._objective = tf.function(self._objective_graph, reduce_retracing=True)
        self._objective_and_grad = tf.function(
            self._objective_and_grad_graph, reduce_retracing=True
        )
        self._fvp = tf.function(self._fvp_graph, reduce_retracing=True)
        self._solve = tf.function(self._solve_graph, reduce_retracing=True)
        self._old_distributions = tf.function(
            self._old_distributions_graph, reduce_retracing=True
        )

    # -- the inner loop ----------------------------------------------------------

    def step_size(self, j: int) -> float:
        """``alpha`` of inner step ``j`` (0-based)."""
        if self.step_sizes is not None:
            return self.step_sizes[min(j, len(self.step_sizes) - 1)]
        return self.inner_lr * self.inner_lr_decay**j

    def inner_loss(self, params: Params, batch: TaskBatch) -> tf.Tensor:
        """The policy-gradient loss ``-E[log pi(a|s) A]`` of one task's batch."""
        dist = self.policy.distribution(params, batch.observations)
        logp = self.policy.log_prob(dist, batch.actions)
        return -masked_mean(logp * batch.advantages, batch.mask)

    def adapt_step(
        self, params: Params, batch: TaskBatch, lr: float, first_order: bool
    ) -> Params:
        """One inner step ``params - lr * grad inner_loss(params)``.

        Called under an outer ``GradientTape``, the returned weights stay a
        differentiable function of ``params`` (second order) unless
        ``first_order``.
        """
        with tf.GradientTape() as tape:
            tape.watch(params)
            loss = self.inner_loss(params, batch)
        grads = tape.gradient(loss, params)
        if first_order:
            grads = [tf.stop_gradient(g) for g in grads]
        return [p - lr * g for p, g in zip(params, grads, strict=True)]

    def _adapt_all_graph(
        self, params: Sequence[Params], batch: tuple[tf.Tensor, ...], lr: tf.Tensor
    ) -> list[Params]:
        full = TaskBatch(*batch)
        return [
            self.adapt_step(list(params[m]), full.task(m), lr, first_order=True)
            for m in range(self.num_tasks)
        ]

    def adapt(self, params: Sequence[Params], batch: TaskBatch, j: int) -> list[Params]:
        """Inner step ``j`` for every task: per-task weights in, per-task out."""
        lr = tf.constant(self.step_size(j), params[0][0].dtype)
        return self._adapt_all([list(p) for p in params], batch.as_tuple(), lr)

    def _adapted(
        self, theta: Params, fast: Sequence[tuple[tf.Tensor, ...]], m: int
    ) -> Params:
        params = list(theta)
        for j, batch in enumerate(fast):
            params = self.adapt_step(
                params, TaskBatch(*batch).task(m), self.step_size(j), self.first_order
            )
        return params

    # -- the outer objective -----------------------------------------------------

    def _old_distributions_graph(
        self, theta: Params, fast: Sequence[tuple[tf.Tensor, ...]], valid: tuple
    ) -> tuple[tuple[tf.Tensor, ...], tf.Tensor]:
        batch = TaskBatch(*valid)
        dists, logps = [], []
        for m in range(batch.mask.shape[0]):
            params = self._adapted(theta, fast, m)
            dist = self.policy.distribution(params, batch.observations[m])
            dists.append(dist)
            logps.append(self.policy.log_prob(dist, batch.actions[m]))
        stacked = tuple(tf.stack(parts) for parts in zip(*dists, strict=True))
        return stacked, tf.stack(logps)

    def _objective_graph(
        self,
        theta: Params,
        fast: Sequence[tuple[tf.Tensor, ...]],
        valid: tuple,
        old_dist: tuple[tf.Tensor, ...],
        old_logp: tf.Tensor,
        clip: float | None = None,
    ) -> tuple[tf.Tensor, tf.Tensor]:
        """Returns ``(-surrogate, mean KL(old || new))`` averaged over tasks.

        With ``clip``, the surrogate is PPO's clipped one (Schulman et al., 2017,
        eq. 7): ``min(r A, clip(r, 1 - clip, 1 + clip) A)``.
        """
        batch = TaskBatch(*valid)
        losses, kls = [], []
        for m in range(batch.mask.shape[0]):
            params = self._adapted(theta, fast, m)
            dist = self.policy.distribution(params, batch.observations[m])
            logp = self.policy.log_prob(dist, batch.actions[m])
            ratio = tf.exp(logp - old_logp[m])
            adv = batch.advantages[m]
            objective = ratio * adv
            if clip is not None:
                clipped = tf.clip_by_value(ratio, 1 - clip, 1 + clip)
                objective = tf.minimum(objective, clipped * adv)
            losses.append(-masked_mean(objective, batch.mask[m]))
            old = tuple(d[m] for d in old_dist)
            kls.append(masked_mean(self.policy.kl(old, dist), batch.mask[m]))
        return tf.reduce_mean(tf.stack(losses)), tf.reduce_mean(tf.stack(kls))

    def _objective_and_grad_graph(
        self,
        theta: Params,
        fast: Any,
        valid: Any,
        old_dist: Any,
        old_logp: Any,
        clip: float | None = None,
    ) -> tuple[tf.Tensor, tf.Tensor, list[tf.Tensor]]:
        with tf.GradientTape() as tape:
            tape.watch(theta)
            loss, kl = self._objective_graph(
                theta, fast, valid, old_dist, old_logp, clip
            )
        return loss, kl, tape.gradient(loss, theta)

    def _fvp_graph(
        self,
        theta: Params,
        vector: tf.Tensor,
        fast: Any,
        valid: Any,
        old_dist: Any,
        old_logp: Any,
    ) -> tf.Tensor:
        """``(F + damping I) v`` on the given tasks, in the form ``self.fvp``."""
        if self.fvp == "double-backprop":
            product = self._double_backprop_fvp(theta, vector, fast, valid, old_dist)
        else:
            product = self._gauss_newton_fvp(theta, vector, fast, valid)
        return product + self.cg_damping * vector

    def _double_backprop_fvp(
        self, theta: Params, vector: tf.Tensor, fast: Any, valid: Any, old_dist: Any
    ) -> tf.Tensor:
        # The Hessian of the mean KL times the vector, by differentiating the
        # KL's gradient (itself through the adaptation) once more.
        batch = TaskBatch(*valid)
        old_logp = tf.zeros_like(batch.mask)  # the surrogate is not used here
        with tf.GradientTape() as outer:
            outer.watch(theta)
            with tf.GradientTape() as inner:
                inner.watch(theta)
                _, kl = self._objective_graph(theta, fast, valid, old_dist, old_logp)
            grads = flat_concat(inner.gradient(kl, theta))
            grad_dot_v = tf.reduce_sum(grads * tf.stop_gradient(vector))
        return flat_concat(outer.gradient(grad_dot_v, theta))

    def _gauss_newton_fvp(
        self, theta: Params, vector: tf.Tensor, fast: Any, valid: Any
    ) -> tf.Tensor:
        # J v by forward mode through the adaptation (forward over the inner
        # gradient's reverse pass), then J^T (M J v) by one reverse pass.
        batch = TaskBatch(*valid)
        num = batch.mask.shape[0]
        tangents = unflatten(vector, theta)
        with tf.GradientTape() as tape:
            tape.watch(theta)
            with tf.autodiff.ForwardAccumulator(theta, tangents) as acc:
                dists = [
                    self.policy.distribution(
                        self._adapted(theta, fast, m), batch.observations[m]
                    )
                    for m in range(num)
                ]
            weighted = []
            for m, dist in enumerate(dists):
                jv = tuple(acc.jvp(d) for d in dist)
                mjv = self.policy.fisher_product(dist, jv)
                # The mean KL's weights: the mask over its sum, and 1 / tasks.
                rows = batch.mask[m] / tf.maximum(tf.reduce_sum(batch.mask[m]), 1.0)
                for d, u in zip(dist, mjv, strict=True):
                    w = tf.reshape(rows, [-1] + [1] * (len(d.shape) - 1)) / num
                    weighted.append(tf.reduce_sum(d * tf.stop_gradient(u * w)))
            total = tf.add_n(weighted)
        return flat_concat(tape.gradient(total, theta))

    def _solve_graph(
        self,
        theta: Params,
        b: tf.Tensor,
        fast: Any,
        valid: Any,
        old_dist: Any,
        old_logp: Any,
    ) -> tuple[tf.Tensor, tf.Tensor]:
        """Solves ``(F + damping I) x = b`` by conjugate gradient in one graph;
        returns ``x`` and ``x^T (F + damping I) x``."""

        def matvec(v: tf.Tensor) -> tf.Tensor:
            return self._fvp_graph(theta, v, fast, valid, old_dist, old_logp)

        x = conjugate_gradient_graph(matvec, b, self.cg_iters)
        return x, tf.reduce_sum(x * matvec(x))

    # -- the outer update --------------------------------------------------------

    def meta_update(
        self, fast: Sequence[TaskBatch], valid: TaskBatch
    ) -> dict[str, float]:
        """One outer step on ``theta``; returns the logged statistics."""
        theta = [tf.identity(v) for v in self.policy.variables]
        fast_t = tuple(b.as_tuple() for b in fast)
        valid_t = valid.as_tuple()
        old_dist, old_logp = self._old_distributions(theta, fast_t, valid_t)
        old_dist = tuple(tf.stop_gradient(d) for d in old_dist)
        old_logp = tf.stop_gradient(old_logp)
        if self.outer == "trpo":
            return self._trpo(theta, fast_t, valid_t, old_dist, old_logp)
        return self._ppo(theta, fast_t, valid_t, old_dist, old_logp)

    def _trpo(self, theta, fast, valid, old_dist, old_logp) -> dict[str, float]:
        loss, _, grads = self._objective_and_grad(
            theta, fast, valid, old_dist, old_logp
        )
        g = flat_concat(grads)
        _check_finite("meta-loss", loss)
        _check_finite("meta-gradient", g)

        # Solve F x = -g (the descent direction of the loss), then scale the step
        # so that the quadratic model of the KL equals the limit.
        direction, shs = self._solve(
            theta, -g, *self._fvp_subset(fast, valid, old_dist, old_logp)
        )
        shs = float(shs)
        if not np.isfinite(shs) or shs < 0:
            raise NumericalError(
                f"The Fisher-vector product is negative or not finite (s'Fs = "
                f"{shs}); the policy update was skipped."
            )
        steps = self.line_search_steps
        if shs == 0:
            # A zero meta-gradient (every advantage 0: all episodes alike, say)
            # gives a zero direction: there is no step to take.
            log.warning("The meta-gradient is zero; theta is unchanged.")
            shs, steps = 1.0, 0
        full_step = direction * np.sqrt(2 * self.max_kl / shs)
        expected = float(tf.reduce_sum(-g * full_step))

        theta_flat = flat_concat(theta)
        loss_before = float(loss)
        accepted, kl_after, loss_after, fraction = False, 0.0, loss_before, 0.0
        for i in range(steps):
            frac = self.line_search_ratio**i
            candidate = unflatten(theta_flat + frac * full_step, theta)
            new_loss, new_kl = self._objective(
                candidate, fast, valid, old_dist, old_logp
            )
            new_loss, new_kl = float(new_loss), float(new_kl)
            # A step must keep the KL limit and improve the surrogate; a
            # non-finite loss or KL (-inf passes the comparison) is refused.
            finite = np.isfinite(new_loss) and np.isfinite(new_kl)
            if finite and new_kl <= self.max_kl and new_loss < loss_before:
                accepted, fraction = True, frac
                kl_after, loss_after = new_kl, new_loss
                for var, value in zip(self.policy.variables, candidate, strict=True):
                    var.assign(value)
                break
        if not accepted and steps:
            log.warning(
                "TRPO line search accepted no step in %d tries; theta is unchanged.",
                self.line_search_steps,
            )
        return {
            "loss_before": loss_before,
            "loss_after": loss_after,
            "kl": kl_after,
            "step_fraction": fraction,
            "expected_improvement": expected,
            "grad_norm": float(tf.norm(g)),
        }

    def _fvp_subset(
        self, fast: Any, valid: Any, old_dist: Any, old_logp: Any
    ) -> tuple[Any, ...]:
        """The data of the Fisher-vector products: the first ``fvp_tasks`` tasks."""
        n = self.fvp_tasks
        if n == self.num_tasks:
            return fast, valid, old_dist, old_logp

        def head(tensors: tuple[tf.Tensor, ...]) -> tuple[tf.Tensor, ...]:
            return tuple(x[:n] for x in tensors)

        return tuple(head(b) for b in fast), head(valid), head(old_dist), old_logp[:n]

    def _ppo(self, theta, fast, valid, old_dist, old_logp) -> dict[str, float]:
        first = None
        for _ in range(self.ppo_epochs):
            theta = [tf.identity(v) for v in self.policy.variables]
            loss, _, grads = self._objective_and_grad(
                theta, fast, valid, old_dist, old_logp, self.ppo_clip
            )
            _check_finite("meta-loss", loss)
            _check_finite("meta-gradient", flat_concat(grads))
            if first is None:
                first = (float(loss), float(tf.norm(flat_concat(grads))))
            self.optimizer.apply(grads, self.policy.model.trainable_variables)
        theta = [tf.identity(v) for v in self.policy.variables]
        loss_after, kl_after = self._objective(theta, fast, valid, old_dist, old_logp)
        return {
            "loss_before": first[0],
            "loss_after": float(loss_after),
            "kl": float(kl_after),
            "step_fraction": 1.0,
            "expected_improvement": 0.0,
            "grad_norm": first[1],
        }


def conjugate_gradient_graph(
    matvec: Any, b: tf.Tensor, iterations: int, tol: float = 1e-10
) -> tf.Tensor:
    """Solves ``A x = b`` for a symmetric positive definite ``A`` given ``A v``.

    The conjugate-gradient iterations run as one ``tf.while_loop``, so the whole
    solve compiles into the caller's graph; they stop early once the squared
    residual falls below ``tol``.
    """
    rr = tf.reduce_sum(b * b)

    def keep_going(i, x, r, p, rr):
        return tf.logical_and(i < iterations, rr >= tol)

    def step(i, x, r, p, rr):
        ap = matvec(p)
        alpha = rr / tf.reduce_sum(p * ap)
        x = x + alpha * p
        r = r - alpha * ap
        rr_new = tf.reduce_sum(r * r)
        return i + 1, x, r, r + (rr_new / rr) * p, rr_new

    _, x, *_ = tf.while_loop(
        keep_going, step, (tf.constant(0), tf.zeros_like(b), b, b, rr)
    )
    return x


def _check_finite(name: str, value: tf.Tensor) -> None:
    if not bool(tf.reduce_all(tf.math.is_finite(value))):
        raise NumericalError(f"The {name} is not finite; the update was stopped.")
