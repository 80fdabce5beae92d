"""Baselines and advantages, computed per task on padded episodes.

* :func:`linear_baseline` is the linear feature baseline of the MAML paper (from
  rllab): a ridge regression of the returns on features of the observation and
  the time step, fitted separately for each task.
* :func:`gae` is generalised advantage estimation (Schulman et al., 2016). A
  truncated episode is bootstrapped from the value of its last observation; only
  a terminated one stops the bootstrap.

Both work in float64 numpy: a meta-batch is small (``M × K × T`` numbers), and
the fits must stay stable when features are collinear (one-hot observations make
``obs`` and ``obs**2`` equal) or rows are padding.
"""

from __future__ import annotations

import numpy as np

from metanav.episodes import Episodes

__all__ = [
    "discounted_returns",
    "linear_baseline",
    "gae",
    "normalize",
    "compute_advantages",
]


def discounted_returns(
    rewards: np.ndarray, mask: np.ndarray, gamma: float
) -> np.ndarray:
    """Reward-to-go ``R_t = sum_l gamma**l r_{t+l}`` within each episode.

    Args:
        rewards: ``[..., T]``.
        mask: ``[..., T]``, 1 on real steps; padding contributes nothing.
        gamma: the discount.

    Returns:
        ``[..., T]`` float64, 0 on padding.
    """
    rewards = np.asarray(rewards, np.float64) * mask
    out = np.zeros_like(rewards)
    running = np.zeros(rewards.shape[:-1])
    for t in range(rewards.shape[-1] - 1, -1, -1):
        running = rewards[..., t] + gamma * running * mask[..., t]
        out[..., t] = running
    return out * mask


def baseline_features(observations: np.ndarray) -> np.ndarray:
    """rllab's features: ``[o, o**2, t, t**2, t**3, 1]`` with ``t = step / 100``.

    Args:
        observations: ``[M, K, T + 1, ...]``; trailing axes are flattened.

    Returns:
        ``[M, K, T + 1, F]`` float64.
    """
    m, k, steps = observations.shape[:3]
    obs = np.clip(observations.reshape(m, k, steps, -1).astype(np.float64), -10, 10)
    t = np.broadcast_to(
        (np.arange(steps) / 100.0)[None, None, :, None], (m, k, steps, 1)
    )
    return np.concatenate([obs, obs**2, t, t**2, t**3, np.ones_like(t)], axis=-1)


def linear_baseline(
    episodes: Episodes, returns: np.ndarray, reg: float = 1e-5
) -> np.ndarray:
    """Fits the linear feature baseline per task and predicts every state's value.

    For task ``m`` it solves ``(X'X + reg * I) w = X'R`` over the real steps of
    the task's ``K`` episodes, where ``X`` holds :func:`baseline_features` and
    ``R`` the discounted returns. As in rllab, ``reg`` is multiplied by 10 (up to
    5 times) if the solution is not finite. The ridge term keeps the system
    solvable when features are collinear.

    Args:
        episodes: the batch.
        returns: ``[M, K, T]`` discounted returns.
        reg: the ridge coefficient.

    Returns:
        ``[M, K, T + 1]`` values, including the observation after the last step
        (index ``lengths``); 0 beyond it.
    """
    features = baseline_features(episodes.observations)
    m, k, steps, f = features.shape
    horizon = steps - 1
    mask = episodes.mask.astype(np.float64)[..., None]
    x = (features[:, :, :horizon] * mask).reshape(m, k * horizon, f)
    y = (returns * episodes.mask).reshape(m, k * horizon)
    gram = np.einsum("mni,mnj->mij", x, x)
    rhs = np.einsum("mni,mn->mi", x, y)
    eye = np.eye(f)
    weights = np.zeros((m, f))
    for i in range(m):
        scale = reg
        for _ in range(5):
            try:
                w = np.linalg.solve(gram[i] + scale * eye, rhs[i])
            except np.linalg.LinAlgError:
                w = np.full(f, np.nan)
            if np.all(np.isfinite(w)):
                break
            scale *= 10
        weights[i] = np.where(np.isfinite(w), w, 0.0)
    values = np.einsum("mkti,mi->mkt", features, weights)
    upto = np.arange(steps)[None, None, :] <= episodes.lengths[..., None]
    return values * upto


def gae(episodes: Episodes, values: np.ndarray, gamma: float, lam: float) -> np.ndarray:
    """Generalised advantage estimates (Schulman et al., 2016, eq. 16).

    ``A_t = sum_l (gamma * lam)**l delta_{t+l}`` with ``delta_t = r_t +
    gamma * V(s_{t+1}) * (1 - terminated_t) - V(s_t)``. At the last step of a
    truncated episode ``V(s_{t+1})`` is the value of its final observation, so a
    time limit is not mistaken for a terminal state.

    Args:
        episodes: the batch.
        values: ``[M, K, T + 1]``.
        gamma: the discount.
        lam: the GAE lambda; 1 gives ``G_t - V(s_t)`` plus the bootstrap.

    Returns:
        ``[M, K, T]`` float64, 0 on padding.
    """
    mask = episodes.mask.astype(np.float64)
    not_terminal = 1.0 - episodes.terminated.astype(np.float64)
    deltas = (
        episodes.rewards + gamma * values[..., 1:] * not_terminal - values[..., :-1]
    ) * mask
    out = np.zeros_like(deltas)
    running = np.zeros(deltas.shape[:-1])
    for t in range(deltas.shape[-1] - 1, -1, -1):
        running = deltas[..., t] + gamma * lam * running * mask[..., t]
        out[..., t] = running
    return out * mask


def normalize(advantages: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Zero mean, unit std per task over episodes × time, padding ignored.

    A task whose advantages are all equal gets zeros, not a division by zero.
    """
    axes = tuple(range(1, advantages.ndim))
    count = np.maximum(mask.sum(axis=axes, keepdims=True), 1.0)
    mean = (advantages * mask).sum(axis=axes, keepdims=True) / count
    var = (np.square(advantages - mean) * mask).sum(axis=axes, keepdims=True) / count
    return (advantages - mean) / (np.sqrt(var) + 1e-8) * mask


def compute_advantages(
    episodes: Episodes,
    gamma: float,
    lam: float,
    baseline: str = "linear",
    normalize_advantages: bool = True,
) -> np.ndarray:
    """The advantages used by every policy-gradient loss in metanav, ``[M, K, T]``."""
    returns = discounted_returns(episodes.rewards, episodes.mask, gamma)
    if baseline == "linear":
        values = linear_baseline(episodes, returns)
    else:
        values = np.zeros((*episodes.rewards.shape[:2], episodes.horizon + 1))
    advantages = gae(episodes, values, gamma, lam)
    if normalize_advantages:
        advantages = normalize(advantages, episodes.mask)
    return advantages.astype(np.float32)
