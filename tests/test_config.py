"""The config: presets load, bad keys and values fail clearly, overrides apply."""

from __future__ import annotations

from pathlib import Path

import pytest

from metanav import config as cfg
from metanav.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("preset", sorted((REPO / "configs").glob("*.yaml")))
def test_every_preset_loads(preset):
    config = cfg.from_dict(cfg.load_config(preset), str(preset))
    assert config.env_id.startswith("MetaNav/")


def test_unknown_key_suggests_the_close_match():
    with pytest.raises(
        ConfigError, match=r"Unknown config key 'inner_lrr'.*'inner_lr'"
    ):
        cfg.from_dict({"inner_lrr": 0.1})
    with pytest.raises(ConfigError, match=r"Valid keys: env_id, env_kwargs"):
        cfg.apply_overrides({}, ["zzz=1"])


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"iterations": "ten"}, r"iterations must be an int; received str 'ten'"),
        ({"inner_lr": -0.5}, r"inner_lr must be > 0; received -0.5"),
        ({"meta_batch_size": 0}, r"meta_batch_size must be ≥ 1; received 0"),
        ({"algorithm": "reptile"}, r"algorithm must be one of 'maml', 'pretrained'"),
        ({"hidden_sizes": [64, "x"]}, r"hidden_sizes must be a list of int"),
        ({"gamma": 1.5}, r"gamma must lie in \[0, 1\]"),
        ({"first_order": "yes"}, r"first_order must be true or false"),
    ],
)
def test_bad_values_fail_with_what_was_received(data, match):
    with pytest.raises(ConfigError, match=match):
        cfg.from_dict(data)


def test_yaml_syntax_error_names_the_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("iterations: 3\nenv_kwargs: {shape: [8, 8]\nseed: 1\n")
    with pytest.raises(ConfigError, match=r"YAML syntax error in .* at line 3"):
        cfg.load_config(path)


def test_missing_config_file():
    with pytest.raises(ConfigError, match=r"does not exist; give the path"):
        cfg.load_config("configs/nope.yaml")


def test_overrides_are_parsed_as_yaml():
    data = cfg.apply_overrides(
        {"env_kwargs": {"shape": [8, 8]}},
        [
            "iterations=7",
            "inner_lr=1e-1",
            "hidden_sizes=[32, 32]",
            "env_kwargs.reward=sparse",
            "first_order=true",
        ],
    )
    config = cfg.from_dict(data)
    assert config.iterations == 7 and config.inner_lr == 0.1
    assert config.hidden_sizes == [32, 32] and config.first_order is True
    assert config.env_kwargs == {"shape": [8, 8], "reward": "sparse"}
    with pytest.raises(ConfigError, match=r"must have the form key=value"):
        cfg.apply_overrides({}, ["iterations"])


def test_saved_config_round_trips(tmp_path):
    config = cfg.from_dict({"iterations": 3, "env_kwargs": {"shape": [5, 6]}})
    cfg.save_config(config, tmp_path / "config.yaml")
    text = (tmp_path / "config.yaml").read_text()
    assert "# Meta-iterations" in text
    assert cfg.from_dict(cfg.load_config(tmp_path / "config.yaml")) == config


def test_docs_list_every_config_key_and_metric():
    from metanav.evaluation import EVAL_KEYS
    from metanav.trainer import METRIC_KEYS

    config_doc = (REPO / "docs/configuration.md").read_text()
    for name in cfg.FIELDS:
        assert f"| `{name}` |" in config_doc, name
    metrics_doc = (REPO / "docs/metrics.md").read_text()
    for key in (*METRIC_KEYS, *EVAL_KEYS):
        assert f"| `{key}` |" in metrics_doc, key


def test_an_env_id_may_name_the_module_that_registers_it(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match=r"names the module 'nomod', which cannot"):
        cfg.from_dict({"env_id": "nomod:MyNav/Gap-v0"})
    (tmp_path / "my_goalgrid.py").write_text(
        "import gymnasium\n"
        "gymnasium.register('MyNav/Goal-v0', "
        "entry_point='metanav_envs.goal_grid:GoalGridEnv', "
        "vector_entry_point='metanav_envs.goal_grid:GoalGridVectorEnv')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    config = cfg.from_dict(
        {"env_id": "my_goalgrid:MyNav/Goal-v0", "env_kwargs": {"shape": [3, 3]}}
    )
    cfg.check_env_kwargs(config)
    config.env_kwargs["shap"] = [3, 3]
    with pytest.raises(ConfigError, match="Did you mean 'shape'"):
        cfg.check_env_kwargs(config)
