"""Adapters that let other RL libraries use MetaNav envs and metanav policies.

Each submodule imports the library it adapts to, and only that submodule does:
importing :mod:`metanav` or this package never imports them, so they stay
optional extras.

* :mod:`metanav.interop.tf_agents`: MetaNav envs as tf-agents ``PyEnvironment``\\ s
  (the ``metanav[tf-agents]`` extra; set-up in ``docs/interop.md``).
"""
