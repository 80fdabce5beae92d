"""A saved policy's SavedModel: the signature docs/policies.md documents, outside
metanav."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest

from metanav.config import Config
from metanav.policies import build_policy
from metanav.saving import policy_metadata, save_policy

from conftest import REPO

#: Loads each SavedModel given on the command line in a process without metanav,
#: and prints its signature and its outputs on fixed observations as JSON.
SERVE = """
import json, sys
import numpy as np, tensorflow as tf
report = {}
for folder in sys.argv[1:]:
    serve = tf.saved_model.load(folder + "/saved_model").signatures["serving_default"]
    args, kwargs = serve.structured_input_signature
    specs = {"input": kwargs, "output": serve.structured_outputs}
    obs = np.load(folder + "/obs.npy")
    runs = [serve(observations=tf.constant(obs), seed=tf.constant(s, tf.int64))
            for s in (0, 0, 1)]
    report[folder] = {
        "args": len(args),
        "specs": {
            side: {k: [s.dtype.name, s.shape.as_list()] for k, s in part.items()}
            for side, part in specs.items()
        },
        "outputs": [{k: v.numpy().tolist() for k, v in r.items()} for r in runs],
    }
assert "metanav" not in sys.modules and "metanav_envs" not in sys.modules
print(json.dumps(report))
"""

CASES = {
    "categorical": ("MetaNav/GoalGrid-v0", {"shape": (3, 4)}),
    "gaussian": ("MetaNav/PointNav2D-v0", {}),
}


def documented_signature(kind: str, input_shape, action_size) -> dict:
    """The rows of the signature table in docs/policies.md, as dtypes and shapes."""
    sizes = {"n": None, "actions": action_size, "action_size": action_size}
    found: dict = {"input": {}, "output": {}}
    page = (REPO / "docs/policies.md").read_text()
    row = re.compile(
        r"^\| (input|output(?: \((\w+)\))?) \| `(\w+)` \| (\w+) \| `\[(.*)\]` \|"
    )
    for line in page.splitlines():
        match = row.match(line)
        if not match or (match[2] and match[2].lower() != kind):
            continue
        side = match[1].split()[0]
        shape: list = []
        for dim in filter(None, (d.strip() for d in match[5].split(","))):
            shape += list(input_shape) if dim == "*input_shape" else [sizes[dim]]
        found[side][match[3]] = [match[4], shape]
    return found


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """One saved policy per kind, and the Keras model's outputs on ``obs.npy``."""
    folders, expected = {}, {}
    for kind, (env_id, kwargs) in CASES.items():
        env = gym.make(env_id, **kwargs).unwrapped
        config = Config(env_id=env_id, env_kwargs=kwargs, hidden_sizes=[8])
        policy = build_policy(env.observation_space, env.action_space, [8], seed=1)
        folder = tmp_path_factory.mktemp(kind)
        meta = policy_metadata(policy, env, env_id, kwargs, config.to_dict())
        save_policy(policy, meta, folder)
        obs = np.random.default_rng(0).uniform(-1, 1, (5, *policy.input_shape))
        np.save(folder / "obs.npy", obs.astype(np.float32))
        outputs = policy.model(obs.astype(np.float32))
        parts = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        expected[kind] = [np.asarray(o) for o in parts]
        folders[kind] = (folder, policy)
    result = subprocess.run(
        [sys.executable, "-c", SERVE, *(str(f) for f, _ in folders.values())],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.splitlines()[-1])
    return {
        kind: (policy, report[str(folder)], expected[kind])
        for kind, (folder, policy) in folders.items()
    }


@pytest.mark.parametrize("kind", CASES)
def test_the_signature_is_the_documented_one(saved, kind):
    policy, report, _ = saved[kind]
    assert report["args"] == 0  # keyword arguments only
    expected = documented_signature(kind, policy.input_shape, policy.action_size)
    assert report["specs"] == expected
    assert len(expected["output"]) == (2 if kind == "categorical" else 3)


def test_categorical_outputs_are_the_logits_and_a_sampled_action(saved):
    _, report, expected = saved["categorical"]
    first, again, other = report["outputs"]
    np.testing.assert_allclose(first["logits"], expected[0], rtol=1e-6)
    assert first["action"] == again["action"]  # the seed decides the draw
    assert set(first["action"] + other["action"]) <= set(range(4))


def test_gaussian_outputs_are_mean_log_std_and_a_sampled_action(saved):
    _, report, (mean, log_std) = saved["gaussian"]
    first, again, other = report["outputs"]
    np.testing.assert_allclose(first["mean"], mean, rtol=1e-6)
    np.testing.assert_allclose(first["log_std"], log_std, rtol=1e-6)
    assert first["action"] == again["action"]
    assert first["action"] != other["action"]
    noise = (np.array(first["action"]) - mean) / np.exp(log_std)
    assert np.all(np.abs(noise) < 6)  # a draw around the mean, at the std's scale
