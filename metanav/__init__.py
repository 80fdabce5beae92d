"""metanav: meta-reinforcement learning for navigation, on TensorFlow and Keras 3.

The environments live in the TensorFlow-free package :mod:`metanav_envs`; this
package will hold the policies, samplers, meta-learners and commands.
"""

from __future__ import annotations

__version__ = "0.1.0"
