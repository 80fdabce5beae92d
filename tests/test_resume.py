"""A run killed or stopped at any point resumes to the uninterrupted run, exactly.

The reference is one uninterrupted run per meta-update (TRPO, and PPO for its
Adam state). Interrupted runs are real processes killed with SIGKILL or stopped
with SIGINT / SIGTERM, and run folders left as a kill at a worse moment would
leave them (between two checkpoints, inside a checkpoint or policy write).
After ``--resume``, ``metrics.csv`` (wall times aside), the final weights and
every variable of the last checkpoint (optimizer slots, generator states) must
be equal to the reference's, bit for bit.
"""

from __future__ import annotations

import csv
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from metanav.commands import train as train_cmd
from metanav.policies import LogStd

REPO = Path(__file__).resolve().parents[1]
TINY = [
    str(REPO / "configs/goalgrid.yaml"),
    "iterations=5",
    "meta_batch_size=2",
    "fast_batch_size=3",
    "hidden_sizes=[8]",
    "env_kwargs.shape=[4, 4]",
    "env_kwargs.max_steps=8",
    "checkpoint_every=2",
]
#: Columns that measure the machine, not the run.
CLOCKS = ("time/wall_seconds", "time/iteration_seconds")
#: Checkpoint entries that count saves or seconds.
COUNTERS = ("save_counter", "wall_seconds")


@pytest.fixture(scope="module", params=["trpo", "ppo"])
def reference(request, tmp_path_factory) -> tuple[Path, list[str]]:
    """An uninterrupted run, and the overrides that made it."""
    overrides = [*TINY, f"outer={request.param}"]
    out = tmp_path_factory.mktemp("reference") / request.param
    assert train_cmd.main([*overrides, "--out", str(out), "--quiet"]) == 0
    return out, overrides


#: For the tests of one path through the code, where the meta-update is no matter.
trpo_only = pytest.mark.parametrize("reference", ["trpo"], indirect=True)


def metrics(run: Path) -> list[dict[str, str]]:
    with (run / "metrics.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    return [{k: v for k, v in row.items() if k not in CLOCKS} for row in rows]


def checkpoint_values(run: Path) -> dict[str, np.ndarray]:
    path = tf.train.latest_checkpoint(str(run / "checkpoints"))
    reader = tf.train.load_checkpoint(path)
    return {
        name: reader.get_tensor(name)
        for name in reader.get_variable_to_shape_map()
        if name != "_CHECKPOINTABLE_OBJECT_GRAPH" and name.split("/")[0] not in COUNTERS
    }


def policy_weights(run: Path) -> list[np.ndarray]:
    model = keras.saving.load_model(
        run / "policy.keras", custom_objects={"LogStd": LogStd}, compile=False
    )
    return [w.numpy() for w in model.weights]


def assert_same_run(run: Path, reference: Path) -> None:
    assert metrics(run) == metrics(reference)
    assert len(metrics(run)) == 5
    got, want = checkpoint_values(run), checkpoint_values(reference)
    assert got.keys() == want.keys()
    assert any(k.startswith("env_rng/") for k in want)
    for name in want:
        np.testing.assert_array_equal(got[name], want[name], err_msg=name)
    for a, b in zip(policy_weights(run), policy_weights(reference), strict=True):
        np.testing.assert_array_equal(a, b)


def start_training(overrides: list[str], out: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "metanav.commands.train",
            *overrides,
            "--out",
            str(out),
            "--quiet",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )


def wait_for(condition, process: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def rows_written(run: Path) -> int:
    path = run / "metrics.csv"
    return path.read_text().count("\n") - 1 if path.exists() else 0


def resume(run: Path) -> None:
    assert train_cmd.main(["--resume", str(run), "--quiet"]) == 0


def test_kill_9_then_resume_gives_the_uninterrupted_run(reference, tmp_path):
    ref, overrides = reference
    run = tmp_path / "run"
    process = start_training(overrides, run)
    state = run / "checkpoints" / "checkpoint"
    wait_for(state.exists, process)
    process.send_signal(signal.SIGKILL)
    process.communicate()
    assert process.returncode == -signal.SIGKILL
    assert not (run / "policy.keras").exists()
    resume(run)
    assert_same_run(run, ref)


@trpo_only
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=lambda s: s.name)
def test_a_signal_saves_a_checkpoint_and_says_how_to_resume(reference, tmp_path, sig):
    ref, overrides = reference
    run = tmp_path / "run"
    process = start_training(overrides, run)
    wait_for(lambda: rows_written(run) >= 1, process)
    process.send_signal(sig)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 128 + sig, err
    assert "Traceback" not in err
    done = rows_written(run)
    assert 1 <= done < 5
    last = err.strip().splitlines()[-1]
    assert last == (
        f"Stopped by {sig.name} after meta-iteration {done}; saved "
        f"{run / 'checkpoints' / f'ckpt-{done}'}. Resume with: metanav-train "
        f"--resume {run}"
    )
    assert tf.train.latest_checkpoint(str(run / "checkpoints")).endswith(f"-{done}")
    resume(run)
    assert_same_run(run, ref)


@trpo_only
def test_a_second_signal_stops_at_once_and_the_checkpoint_before_resumes(
    reference, tmp_path, capsys, monkeypatch
):
    # Two signals arriving together reach Python as one, so the process sends
    # them to itself, in the middle of meta-iteration 3 (after the sampling,
    # before the meta-update), one after the other.
    from metanav.maml import MAML

    ref, overrides = reference
    run = tmp_path / "run"
    original, calls = MAML.meta_update, []

    def meta_update(self, *args):
        calls.append(1)
        if len(calls) == 3:
            os.kill(os.getpid(), signal.SIGTERM)
            os.kill(os.getpid(), signal.SIGTERM)
        return original(self, *args)

    monkeypatch.setattr(MAML, "meta_update", meta_update)
    assert train_cmd.main([*overrides, "--out", str(run), "--quiet"]) == 143
    monkeypatch.undo()
    err = capsys.readouterr().err.strip().splitlines()
    assert "SIGTERM: stopping after this meta-iteration" in err[-2]
    assert err[-1] == (
        f"Stopped at once; the last checkpoint ({run / 'checkpoints' / 'ckpt-2'}) "
        f"is kept. Resume with: metanav-train --resume {run}"
    )
    assert rows_written(run) == 2
    resume(run)
    assert_same_run(run, ref)


@trpo_only
def test_training_leaves_the_global_random_states_alone(reference, tmp_path):
    # Nothing to checkpoint there: metanav draws only from its own generators.
    from metanav import config as cfg
    from metanav.trainer import Trainer

    ref, _ = reference
    config = cfg.from_dict(cfg.load_config(ref / "config.yaml"))
    trainer = Trainer(config, tmp_path / "run")
    np.random.seed(7)
    random.seed(7)
    numpy_state, python_state = np.random.get_state(), random.getstate()
    trainer.iteration(0)
    trainer.iteration(1)
    after = np.random.get_state()
    assert all(np.array_equal(a, b) for a, b in zip(after, numpy_state, strict=True))
    assert random.getstate() == python_state


@trpo_only
def test_the_envs_generators_are_restored(reference, tmp_path):
    # The MetaNav envs draw nothing at random yet, so the runs above cannot
    # tell; an env that does would get its generators back from the checkpoint.
    from metanav import config as cfg
    from metanav.trainer import Trainer

    ref, _ = reference
    config = cfg.from_dict(cfg.load_config(ref / "config.yaml"))
    first = Trainer(config, tmp_path / "run")
    env = first.sampler.env.unwrapped
    for generator in [env.np_random, *env.np_randoms]:
        generator.random(3)
    saved = [g.bit_generator.state for g in [env.np_random, *env.np_randoms]]
    first.manager.save(checkpoint_number=1)
    second = Trainer(config, tmp_path / "run")
    env = second.sampler.env.unwrapped
    assert [g.bit_generator.state for g in [env.np_random, *env.np_randoms]] != saved
    assert second.restore() == 0
    assert [g.bit_generator.state for g in [env.np_random, *env.np_randoms]] == saved


def copy_run(ref: Path, to: Path) -> Path:
    shutil.copytree(ref, to)
    return to


def keep_metrics_rows(run: Path, rows: int, partial: bool = False) -> None:
    lines = (run / "metrics.csv").read_text().splitlines(keepends=True)
    tail = lines[rows + 1][:20] if partial else ""
    (run / "metrics.csv").write_text("".join(lines[: rows + 1]) + tail)


def remove_policy(run: Path) -> None:
    (run / "policy.keras").unlink()
    (run / "policy.json").unlink()
    shutil.rmtree(run / "saved_model")


def point_state_file_at(run: Path, *numbers: int) -> None:
    """Rewrites the CheckpointManager's state file as an earlier save left it."""
    names = [f"ckpt-{n}" for n in numbers]
    lines = [f'model_checkpoint_path: "{names[-1]}"']
    lines += [f'all_model_checkpoint_paths: "{n}"' for n in names]
    (run / "checkpoints" / "checkpoint").write_text("\n".join(lines) + "\n")


@trpo_only
def test_killed_before_the_first_checkpoint(reference, tmp_path):
    ref, _ = reference
    run = copy_run(ref, tmp_path / "run")
    shutil.rmtree(run / "checkpoints")
    remove_policy(run)
    keep_metrics_rows(run, 1, partial=True)
    resume(run)
    assert_same_run(run, ref)


@trpo_only
def test_killed_while_writing_a_checkpoint(reference, tmp_path):
    ref, _ = reference
    run = copy_run(ref, tmp_path / "run")
    ckpt = run / "checkpoints"
    # The kill came while ckpt-4 was written: its files are cut short, and the
    # state file (written after them) still names ckpt-2.
    for name in ("ckpt-5.index", "ckpt-5.data-00000-of-00001"):
        (ckpt / name).unlink()
    data = ckpt / "ckpt-4.data-00000-of-00001"
    data.write_bytes(data.read_bytes()[:100])
    point_state_file_at(run, 2)
    remove_policy(run)
    keep_metrics_rows(run, 4)
    resume(run)
    assert_same_run(run, ref)


@trpo_only
def test_killed_while_writing_the_policy(reference, tmp_path):
    ref, _ = reference
    run = copy_run(ref, tmp_path / "run")
    shutil.rmtree(run / "saved_model")
    (run / ".saved_model.half").mkdir()
    resume(run)
    assert (run / "saved_model" / "saved_model.pb").is_file()
    assert not (run / ".saved_model.half").exists()
    assert_same_run(run, ref)


@trpo_only
def test_a_finished_run_is_left_alone(reference, tmp_path, capsys):
    ref, _ = reference
    run = copy_run(ref, tmp_path / "run")

    def state():
        files = (p for p in run.rglob("*") if p.is_file())
        return {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in files}

    before = state()
    resume(run)
    assert "has finished all 5 iterations already" in capsys.readouterr().out
    assert state() == before  # not even rewritten with the same bytes


@trpo_only
@pytest.mark.parametrize("damage", ["truncated", "flipped byte", "no data file"])
def test_a_damaged_newest_checkpoint_falls_back_to_the_one_before(
    reference, tmp_path, caplog, damage
):
    ref, _ = reference
    run = copy_run(ref, tmp_path / "run")
    data = run / "checkpoints" / "ckpt-5.data-00000-of-00001"
    if damage == "truncated":
        (run / "checkpoints" / "ckpt-5.index").write_bytes(b"")
    elif damage == "flipped byte":
        raw = bytearray(data.read_bytes())
        raw[len(raw) // 2] ^= 0xFF
        data.write_bytes(bytes(raw))
    else:
        data.unlink()
    remove_policy(run)
    resume(run)
    assert "Skipped unreadable checkpoints: ckpt-5" in caplog.text
    assert "resuming from ckpt-4" in caplog.text
    assert_same_run(run, ref)


@trpo_only
def test_a_damaged_state_file_falls_back_to_the_checkpoint_files(reference, tmp_path):
    ref, _ = reference
    run = copy_run(ref, tmp_path / "run")
    (run / "checkpoints" / "checkpoint").write_text("model_checkpoint_pa")
    remove_policy(run)
    resume(run)
    assert_same_run(run, ref)


def keras_save_cut_short(model, path, *args, **kwargs):
    Path(path).write_bytes(b"PK\x03\x04 half a zip")
    raise KeyboardInterrupt


def fsync_cut_short(fd):
    raise KeyboardInterrupt


def saved_model_cut_short(obj, export_dir, *args, **kwargs):
    Path(export_dir, "saved_model.pb").write_bytes(b"half")
    raise KeyboardInterrupt


@trpo_only
@pytest.mark.parametrize(
    ("target", "name", "cut_short", "file"),
    [
        (keras.Model, "save", keras_save_cut_short, "policy.keras"),
        (os, "fsync", fsync_cut_short, "policy.json"),
        (tf.saved_model, "save", saved_model_cut_short, "saved_model"),
    ],
    ids=["policy.keras", "policy.json", "saved_model"],
)
def test_a_policy_write_cut_short_leaves_the_previous_file_whole(
    reference, tmp_path, monkeypatch, target, name, cut_short, file
):
    from metanav.saving import load_policy, save_policy

    ref, _ = reference
    run = copy_run(ref, tmp_path / "run")
    policy, meta = load_policy(run)
    paths = [run / file] if file != "saved_model" else list((run / file).rglob("*"))
    before = {p: p.read_bytes() for p in paths if p.is_file()}
    monkeypatch.setattr(target, name, cut_short)
    with pytest.raises(KeyboardInterrupt):
        save_policy(policy, meta, run)
    monkeypatch.undo()
    assert {p: p.read_bytes() for p in paths if p.is_file()} == before
    assert not list(run.glob(".policy.json.*"))
    load_policy(run)
    assert tf.saved_model.load(str(run / "saved_model")).signatures
