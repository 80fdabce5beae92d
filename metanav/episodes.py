"""Episodes: a padded batch of rollouts, arranged per task.

Every array is indexed ``[task, episode, time, ...]``. ``T`` is the env's
``max_steps``; an episode that ends earlier is padded, and ``mask`` tells real steps
(1) from padding (0). ``observations`` has ``T + 1`` steps: entry ``lengths[m, k]``
holds the observation after the last step, which GAE needs to bootstrap a
truncated episode.
"""

from __future__ import annotations

import dataclasses

import numpy as np

__all__ = ["Episodes"]


@dataclasses.dataclass
class Episodes:
    """A batch of ``M`` tasks × ``K`` episodes × ``T`` steps.

    Attributes:
        observations: ``[M, K, T + 1, *obs_shape]`` float32, the policy's inputs.
        actions: ``[M, K, T]`` int64, or ``[M, K, T, action_size]`` float32.
        rewards: ``[M, K, T]`` float32, 0 on padding.
        mask: ``[M, K, T]`` float32, 1 on real steps.
        terminated: ``[M, K, T]`` bool, true at the step that reached the goal.
        truncated: ``[M, K, T]`` bool, true at the step that hit the time limit.
        lengths: ``[M, K]`` int64, real steps per episode.
    """

    observations: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    mask: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    lengths: np.ndarray

    @property
    def num_tasks(self) -> int:
        return self.rewards.shape[0]

    @property
    def episodes_per_task(self) -> int:
        return self.rewards.shape[1]

    @property
    def horizon(self) -> int:
        return self.rewards.shape[2]

    @property
    def env_steps(self) -> int:
        """Real (unpadded) env steps in the batch."""
        return int(self.lengths.sum())

    def returns(self) -> np.ndarray:
        """Undiscounted return of every episode, ``[M, K]``."""
        return self.rewards.sum(axis=2)

    def successes(self) -> np.ndarray:
        """Whether each episode reached the goal, ``[M, K]``."""
        return self.terminated.any(axis=2)
