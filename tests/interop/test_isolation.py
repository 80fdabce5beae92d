"""With tf-agents installed, the core still does not import it."""

from __future__ import annotations

import subprocess
import sys

CODE = """
import sys
import metanav, metanav.interop, metanav.trainer, metanav.evaluation
from metanav.commands import evaluate, plot, train
assert "tf_agents" not in sys.modules, "the core imported tf_agents"
import metanav.interop.tf_agents
assert "tf_agents" in sys.modules
"""


def test_only_the_adapter_imports_tf_agents():
    subprocess.run([sys.executable, "-c", CODE], check=True)
