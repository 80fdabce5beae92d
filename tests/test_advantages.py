"""Returns, the linear baseline, GAE and normalisation on padded, truncated and
terminated episodes, checked by hand."""

from __future__ import annotations

import numpy as np
import pytest

from metanav.advantages import (
    compute_advantages,
    discounted_returns,
    gae,
    linear_baseline,
    normalize,
)
from metanav.episodes import Episodes


def episodes(rewards, lengths, terminated_at_end, obs=None):
    """One task; episode k has lengths[k] real steps of the padded horizon."""
    rewards = np.array(rewards, np.float32)[None]
    k, t = rewards.shape[1:]
    mask = (np.arange(t)[None] < np.array(lengths)[:, None]).astype(np.float32)[None]
    terminated = np.zeros((1, k, t), bool)
    truncated = np.zeros((1, k, t), bool)
    for i, (n, term) in enumerate(zip(lengths, terminated_at_end, strict=True)):
        (terminated if term else truncated)[0, i, n - 1] = True
    if obs is None:
        obs = np.zeros((1, k, t + 1, 1), np.float32)
    return Episodes(
        observations=obs,
        actions=np.zeros((1, k, t), np.int64),
        rewards=rewards * mask,
        mask=mask,
        terminated=terminated,
        truncated=truncated,
        lengths=np.array(lengths)[None],
    )


def test_discounted_returns_stop_at_padding():
    r = np.array([[1.0, 1.0, 1.0, 5.0]])
    mask = np.array([[1.0, 1.0, 1.0, 0.0]])
    np.testing.assert_allclose(discounted_returns(r, mask, 0.5), [[1.75, 1.5, 1, 0]])


def test_gae_bootstraps_a_truncated_episode_but_not_a_terminated_one():
    eps = episodes([[1, 1, 0], [1, 1, 0]], lengths=[2, 2], terminated_at_end=[1, 0])
    values = np.array([[[0.5, 0.5, 10.0, 99.0], [0.5, 0.5, 10.0, 99.0]]])
    adv = gae(eps, values, gamma=1.0, lam=1.0)
    # Terminated: A_0 = 1 + 1 - 0.5, A_1 = 1 - 0.5; V(final) = 10 is ignored.
    np.testing.assert_allclose(adv[0, 0], [1.5, 0.5, 0.0])
    # Truncated: the value 10 of the final observation is added.
    np.testing.assert_allclose(adv[0, 1], [11.5, 10.5, 0.0])


def test_gae_lambda_zero_is_the_one_step_td_error():
    eps = episodes([[1, 2, 3]], lengths=[3], terminated_at_end=[0])
    values = np.array([[[1.0, 2.0, 3.0, 4.0]]])
    adv = gae(eps, values, gamma=0.9, lam=0.0)
    np.testing.assert_allclose(adv[0, 0], [1 + 1.8 - 1, 2 + 2.7 - 2, 3 + 3.6 - 3])


def test_linear_baseline_fits_and_ignores_padding():
    # The return equals the time step here, which the features can represent.
    t = np.arange(6, dtype=np.float32)
    obs = np.zeros((1, 2, 7, 1), np.float32)
    eps = episodes([t, t], lengths=[6, 4], terminated_at_end=[1, 1], obs=obs)
    target = np.stack([t / 100, t / 100])[None]  # return = t / 100
    values = linear_baseline(eps, target, reg=1e-10)
    np.testing.assert_allclose(values[0, 0, :6], t / 100, atol=1e-6)
    np.testing.assert_allclose(values[0, 1, :4], t[:4] / 100, atol=1e-6)
    assert values[0, 1, 5:].tolist() == [0.0, 0.0]  # beyond the final observation


def test_linear_baseline_survives_collinear_one_hot_features():
    rng = np.random.default_rng(0)
    obs = np.eye(4, dtype=np.float32)[rng.integers(4, size=(1, 3, 6))]
    eps = episodes(rng.normal(size=(3, 5)), [5, 3, 1], [1, 0, 1], obs=obs)
    returns = discounted_returns(eps.rewards, eps.mask, 0.99)
    values = linear_baseline(eps, returns)
    assert np.all(np.isfinite(values))
    residual = (returns - values[..., :-1]) * eps.mask
    assert np.square(residual).sum() < np.square(returns * eps.mask).sum()


def test_normalize_is_masked_and_safe_for_constant_advantages():
    adv = np.array([[[1.0, 3.0, 100.0]]])
    mask = np.array([[[1.0, 1.0, 0.0]]])
    np.testing.assert_allclose(normalize(adv, mask), [[[-1.0, 1.0, 0.0]]], atol=1e-6)
    flat = normalize(np.full((1, 1, 3), 2.0), np.ones((1, 1, 3)))
    assert np.all(flat == 0.0)


def test_compute_advantages_shapes_and_padding():
    eps = episodes([[1, 0, 0], [0, 1, 1]], [1, 3], [1, 0])
    adv = compute_advantages(eps, 0.99, 0.95)
    assert adv.shape == (1, 2, 3) and adv.dtype == np.float32
    assert adv[0, 0, 1:].tolist() == [0.0, 0.0]
    assert abs(float((adv * eps.mask).sum())) == pytest.approx(0.0, abs=1e-5)
