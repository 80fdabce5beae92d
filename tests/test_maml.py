"""The meta-gradient, checked against finite differences on a tiny policy."""

from __future__ import annotations

import gymnasium as gym
import keras
import numpy as np
import pytest
import tensorflow as tf

from metanav.maml import (
    MAML,
    TaskBatch,
    conjugate_gradient_graph,
    flat_concat,
    unflatten,
)
from metanav.policies import build_policy


@pytest.fixture
def float64():
    previous, policy = keras.config.floatx(), keras.config.dtype_policy()
    keras.config.set_floatx("float64")
    keras.config.set_dtype_policy("float64")
    yield
    keras.config.set_floatx(previous)
    keras.config.set_dtype_policy(policy)


def tiny_policy(kind="categorical", seed=0):
    obs = gym.spaces.Box(-1.0, 1.0, (3,), np.float32)
    if kind == "categorical":
        act = gym.spaces.Discrete(3)
    else:
        act = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
    policy = build_policy(obs, act, hidden_sizes=(5,), activation="tanh", seed=seed)
    # Scale up the near-zero last layer so the gradients are not tiny.
    rng = np.random.default_rng(seed)
    for v in policy.model.trainable_variables:
        v.assign(rng.normal(scale=0.7, size=v.shape))
    return policy


def random_batch(policy, num_tasks, rows, seed):
    rng = np.random.default_rng(seed)
    obs = rng.normal(size=(num_tasks, rows, 3))
    if policy.kind == "categorical":
        actions = tf.constant(rng.integers(3, size=(num_tasks, rows)))
    else:
        actions = tf.constant(rng.normal(size=(num_tasks, rows, 2)))
    mask = np.ones((num_tasks, rows))
    mask[:, -3:] = 0.0  # some padding
    return TaskBatch(
        tf.constant(obs),
        actions,
        tf.constant(rng.normal(size=(num_tasks, rows))),
        tf.constant(mask),
    )


def meta_objective(learner, fast, valid):
    """Returns (L(theta), grad L(theta)) with the old policy fixed at theta0."""
    theta0 = [tf.identity(v) for v in learner.policy.variables]
    fast_t = tuple(b.as_tuple() for b in fast)
    old_dist, old_logp = learner._old_distributions(theta0, fast_t, valid.as_tuple())

    def loss(theta):
        return float(
            learner._objective(theta, fast_t, valid.as_tuple(), old_dist, old_logp)[0]
        )

    _, _, grads = learner._objective_and_grad(
        theta0, fast_t, valid.as_tuple(), old_dist, old_logp
    )
    return theta0, loss, flat_concat(grads).numpy()


def finite_difference(loss, theta0, direction, eps=1e-5):
    flat = flat_concat(theta0)
    plus = unflatten(flat + eps * direction, theta0)
    minus = unflatten(flat - eps * direction, theta0)
    return (loss(plus) - loss(minus)) / (2 * eps)


@pytest.mark.parametrize("inner_steps", [1, 2, 3])
@pytest.mark.parametrize("kind", ["categorical", "gaussian"])
def test_second_order_meta_gradient_matches_finite_differences(
    float64, inner_steps, kind
):
    policy = tiny_policy(kind)
    learner = MAML(policy, num_tasks=2, inner_steps=inner_steps, inner_lr=0.3)
    fast = [random_batch(policy, 2, 12, seed=j) for j in range(inner_steps)]
    valid = random_batch(policy, 2, 12, seed=99)
    theta0, loss, grad = meta_objective(learner, fast, valid)
    rng = np.random.default_rng(1)
    for _ in range(3):
        v = tf.constant(rng.normal(size=grad.shape))
        numeric = finite_difference(loss, theta0, v)
        assert float(grad @ v.numpy()) == pytest.approx(numeric, rel=1e-5, abs=1e-8)


def test_first_order_drops_the_second_order_terms(float64):
    policy = tiny_policy()
    fast = [random_batch(policy, 2, 12, seed=0)]
    valid = random_batch(policy, 2, 12, seed=99)
    second = MAML(policy, 2, inner_lr=0.5)
    first = MAML(policy, 2, inner_lr=0.5, first_order=True)
    theta0, loss, g2 = meta_objective(second, fast, valid)
    _, _, g1 = meta_objective(first, fast, valid)
    assert np.linalg.norm(g1 - g2) > 1e-3 * np.linalg.norm(g2)
    v = tf.constant(np.random.default_rng(2).normal(size=g1.shape))
    numeric = finite_difference(loss, theta0, v)
    assert float(g2 @ v.numpy()) == pytest.approx(numeric, rel=1e-5)
    assert float(g1 @ v.numpy()) != pytest.approx(numeric, rel=1e-3)


@pytest.mark.parametrize("inner_steps", [1, 2, 3])
def test_adaptation_takes_k_plain_gradient_steps(float64, inner_steps):
    policy = tiny_policy()
    learner = MAML(policy, 2, inner_steps=inner_steps, inner_lr=0.4, inner_lr_decay=0.5)
    batches = [random_batch(policy, 2, 10, seed=j) for j in range(inner_steps)]
    params = [policy.variables] * 2
    for j, batch in enumerate(batches):
        params = learner.adapt(params, batch, j)
    for m in range(2):
        expected = [tf.identity(v) for v in policy.variables]
        for j, batch in enumerate(batches):
            with tf.GradientTape() as tape:
                tape.watch(expected)
                loss = learner.inner_loss(expected, batch.task(m))
            grads = tape.gradient(loss, expected)
            lr = 0.4 * 0.5**j
            expected = [p - lr * g for p, g in zip(expected, grads, strict=True)]
        for got, want in zip(params[m], expected, strict=True):
            np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-10)
    assert not np.allclose(params[0][0].numpy(), policy.variables[0].numpy())


@pytest.mark.parametrize("fvp", ["gauss-newton", "double-backprop"])
def test_fisher_vector_product_is_symmetric_positive(float64, fvp):
    policy = tiny_policy()
    learner = MAML(policy, 2, inner_lr=0.3, cg_damping=0.0, fvp=fvp)
    fast = (random_batch(policy, 2, 12, seed=0).as_tuple(),)
    valid = random_batch(policy, 2, 12, seed=1).as_tuple()
    theta = [tf.identity(v) for v in policy.variables]
    old_dist, old_logp = learner._old_distributions(theta, fast, valid)
    rng = np.random.default_rng(0)
    n = int(flat_concat(theta).shape[0])
    u, w = (tf.constant(rng.normal(size=n)) for _ in range(2))
    fu = learner._fvp(theta, u, fast, valid, old_dist, old_logp).numpy()
    fw = learner._fvp(theta, w, fast, valid, old_dist, old_logp).numpy()
    assert float(fu @ w.numpy()) == pytest.approx(float(fw @ u.numpy()), rel=1e-8)
    assert float(fu @ u.numpy()) > 0


def fisher_products(learner, fast, valid, vector):
    theta = [tf.identity(v) for v in learner.policy.variables]
    fast_t = tuple(b.as_tuple() for b in fast)
    old_dist, old_logp = learner._old_distributions(theta, fast_t, valid.as_tuple())
    args = (fast_t, valid.as_tuple(), old_dist, old_logp)
    return learner._fvp(theta, vector, *args).numpy()


@pytest.mark.parametrize("kind", ["categorical", "gaussian"])
@pytest.mark.parametrize(
    ("inner_steps", "first_order"), [(1, False), (2, False), (1, True)]
)
def test_gauss_newton_product_equals_double_backprop(
    float64, kind, inner_steps, first_order
):
    policy = tiny_policy(kind)
    fast = [random_batch(policy, 3, 10, seed=j) for j in range(inner_steps)]
    valid = random_batch(policy, 3, 10, seed=9)
    n = int(flat_concat(policy.variables).shape[0])
    rng = np.random.default_rng(1)
    products = {}
    for form in ("gauss-newton", "double-backprop"):
        learner = MAML(
            policy,
            3,
            inner_steps=inner_steps,
            inner_lr=0.3,
            inner_lr_decay=0.5,
            first_order=first_order,
            cg_damping=0.0,
            fvp=form,
        )
        vectors = [tf.constant(rng.normal(size=n)) for _ in range(2)]
        rng = np.random.default_rng(1)  # the same vectors for both forms
        products[form] = [fisher_products(learner, fast, valid, v) for v in vectors]
    for gn, db in zip(
        products["gauss-newton"], products["double-backprop"], strict=True
    ):
        assert np.abs(db).max() > 1e-3  # not trivially zero
        np.testing.assert_allclose(gn, db, rtol=1e-8, atol=1e-12)


def test_subsampled_products_use_the_first_tasks_only(float64):
    policy = tiny_policy("gaussian")
    fast, valid = [random_batch(policy, 4, 10, seed=0)], random_batch(policy, 4, 10, 1)
    sub = MAML(policy, 4, inner_lr=0.3, cg_damping=0.0, fvp_subsample=0.5)
    assert sub.fvp_tasks == 2
    theta = [tf.identity(v) for v in policy.variables]
    fast_t = tuple(b.as_tuple() for b in fast)
    old = sub._old_distributions(theta, fast_t, valid.as_tuple())
    head = sub._fvp_subset(fast_t, valid.as_tuple(), *old)
    assert [x.shape[0] for x in head[1]] == [2, 2, 2, 2]
    # Against the reference product on a meta-batch of just those two tasks.
    first = MAML(policy, 2, inner_lr=0.3, cg_damping=0.0, fvp="double-backprop")
    v = tf.constant(np.random.default_rng(0).normal(size=flat_concat(theta).shape[0]))
    got = sub._fvp(theta, v, *head).numpy()
    want = fisher_products(
        first, [b.task(slice(0, 2)) for b in fast], valid.task(slice(0, 2)), v
    )
    np.testing.assert_allclose(got, want, rtol=1e-8)
    full = fisher_products(
        MAML(policy, 4, inner_lr=0.3, cg_damping=0.0), fast, valid, v
    )
    assert not np.allclose(got, full)
    with pytest.raises(ValueError, match="fvp_subsample"):
        MAML(policy, 4, fvp_subsample=0.0)
    with pytest.raises(ValueError, match="fvp must be one of"):
        MAML(policy, 4, fvp="exact")


def conjugate_gradient(matvec, b, iterations, tol=1e-10):
    """The textbook eager loop, the reference of the compiled one."""
    x = tf.zeros_like(b)
    r = tf.identity(b)
    p = tf.identity(b)
    rr = float(tf.reduce_sum(r * r))
    for _ in range(iterations):
        if rr < tol:
            break
        ap = matvec(p)
        alpha = rr / float(tf.reduce_sum(p * ap))
        x += alpha * p
        r -= alpha * ap
        rr_new = float(tf.reduce_sum(r * r))
        p = r + (rr_new / rr) * p
        rr = rr_new
    return x


def test_compiled_conjugate_gradient_solves_the_system(float64):
    rng = np.random.default_rng(0)
    q = rng.normal(size=(12, 12))
    a = tf.constant(q @ q.T + 0.5 * np.eye(12))
    b = tf.constant(rng.normal(size=12))

    def matvec(v):
        return tf.linalg.matvec(a, v)

    compiled = tf.function(lambda b: conjugate_gradient_graph(matvec, b, 12))(b)
    eager = conjugate_gradient(matvec, b, 12)
    np.testing.assert_allclose(
        compiled, np.linalg.solve(a.numpy(), b.numpy()), rtol=1e-6
    )
    np.testing.assert_allclose(compiled, eager, rtol=1e-10)
    # Fewer iterations stop early, as the eager loop does.
    short = tf.function(lambda b: conjugate_gradient_graph(matvec, b, 3))(b)
    np.testing.assert_allclose(short, conjugate_gradient(matvec, b, 3), rtol=1e-10)
    assert not np.allclose(short, compiled)


def test_trpo_step_is_the_same_with_either_product(float64):
    policy = tiny_policy("gaussian")
    start = [v.numpy() for v in policy.variables]
    fast, valid = [random_batch(policy, 3, 10, seed=0)], random_batch(policy, 3, 10, 1)
    after = {}
    for form in ("gauss-newton", "double-backprop"):
        for var, value in zip(policy.variables, start, strict=True):
            var.assign(value)
        stats = MAML(policy, 3, inner_lr=0.3, fvp=form).meta_update(fast, valid)
        assert stats["step_fraction"] > 0
        after[form] = [v.numpy() for v in policy.variables]
    for gn, db in zip(after["gauss-newton"], after["double-backprop"], strict=True):
        np.testing.assert_allclose(gn, db, rtol=1e-7, atol=1e-10)
    moved = zip(after["gauss-newton"], start, strict=True)
    assert not all(np.allclose(a, s0) for a, s0 in moved)
