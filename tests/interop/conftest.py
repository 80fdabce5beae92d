"""The tf-agents tests: they need the tf-agents extra, in a virtualenv of its own.

They are not part of the core test run (pyproject.toml ignores this folder); run
them with ``.venv-tfa/bin/python -m pytest tests/interop`` (docs/interop.md).
"""

from __future__ import annotations

import importlib.util
import os

import pytest

if importlib.util.find_spec("tf_agents") is None:
    raise pytest.UsageError(
        "error: tests/interop needs tf-agents, which this Python lacks. Run them in "
        "the tf-agents virtualenv: .venv-tfa/bin/python -m pytest tests/interop "
        "(set-up in docs/interop.md)."
    )

# tf-agents' networks are Keras 2 code: on TF >= 2.16, tf.keras must be tf-keras,
# which TensorFlow decides from this variable when it is imported.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
