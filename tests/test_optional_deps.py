"""Optional extras stay optional: the core never imports tf-agents."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

#: Imports every metanav module but the tf-agents adapter, in a process where
#: importing tf_agents fails, and prints how many it imported.
IMPORT_THE_CORE = """
import pkgutil, sys
sys.modules["tf_agents"] = None  # any import of it now raises ImportError
import metanav
names = [
    m.name for m in pkgutil.walk_packages(metanav.__path__, "metanav.")
    if m.name != "metanav.interop.tf_agents"
]
for name in names:
    __import__(name)
print(len(names))
"""


def test_the_core_and_the_commands_never_import_tf_agents():
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_THE_CORE],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) >= 15  # every module, commands included


def test_the_adapter_says_how_to_install_tf_agents(monkeypatch):
    monkeypatch.setitem(sys.modules, "tf_agents", None)
    monkeypatch.delitem(sys.modules, "metanav.interop.tf_agents", raising=False)
    with pytest.raises(ImportError, match=r"pip install -e '\.\[tf-agents\]'"):
        importlib.import_module("metanav.interop.tf_agents")
