"""metanav: meta-reinforcement learning for navigation, on TensorFlow and Keras 3.

The environments live in the TensorFlow-free package :mod:`metanav_envs`. This
package holds what trains on them, one module per stage of the data flow:
:mod:`~metanav.policies` → :mod:`~metanav.sampler` → :mod:`~metanav.episodes` →
:mod:`~metanav.advantages` → :mod:`~metanav.maml` → :mod:`~metanav.trainer` →
:mod:`metanav.commands`. ``docs/architecture.md`` follows one meta-iteration
through them.
"""

from __future__ import annotations

__version__ = "0.1.0"
