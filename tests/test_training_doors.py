"""What a new user meets at the door of ``memgym train`` / ``eval``: Ctrl-C keeps the steps
and says how to resume; a missing data file, a mistyped env id and a bad ``--set`` key are
one clear line naming what to fix."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from memgym.cli import app
from memgym.training import resume_run
from memgym.training.run import RunFolder

from conftest import ROOT
from test_training_sb3 import tiny

runner = CliRunner()


def one_line(output: str) -> str:
    assert "Traceback" not in output, output
    lines = output.strip().splitlines()
    assert len(lines) == 1, output
    return lines[0]


def test_ctrl_c_during_sb3_training_saves_a_checkpoint_and_says_how_to_resume(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from memgym.training.callbacks import TrainingCallback

    on_step = TrainingCallback._on_step

    def interrupt_at_96(self: TrainingCallback) -> bool:
        if self.model.num_timesteps >= 96:  # before the first periodic checkpoint (128)
            raise KeyboardInterrupt
        return on_step(self)

    monkeypatch.setattr(TrainingCallback, "_on_step", interrupt_at_96)
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(tiny(tmp_path, **{"eval.lengths": [], "progress": True})))
    result = runner.invoke(app, ["train", str(path)])
    assert result.exit_code == 130, result.output
    run = RunFolder(tmp_path / "runs" / "tiny")
    checkpoint, steps = run.latest_checkpoint()
    assert steps == 96 and checkpoint == run.checkpoint_path(96) and checkpoint.is_file()
    assert "Traceback" not in result.output
    assert result.output.strip().splitlines()[-1] == (
        f"interrupted: saved checkpoint {checkpoint} (step 96); continue with: "
        f"memgym train --resume {run.path}")
    monkeypatch.setattr(TrainingCallback, "_on_step", on_step)
    resume_run(run.path)
    # whole rollouts of 128 steps from step 96: 224, then 352 (SB3 stops past the total)
    assert run.latest_checkpoint()[1] == 352, "the resumed run continued from step 96"


def test_a_real_sigint_to_memgym_train_checkpoints_and_exits_130(tmp_path: Path) -> None:
    config = tiny(tmp_path, total_timesteps=10**6, checkpoint_freq=10**6,
                  **{"eval.freq": 10**9, "eval.lengths": []})
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(config))
    run = RunFolder(tmp_path / "runs" / "tiny")
    proc = subprocess.Popen([sys.executable, "-m", "memgym.cli", "train", str(path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        deadline = time.time() + 120
        while not list(run.tensorboard.rglob("events.out.tfevents.*")):  # learn() started
            assert proc.poll() is None and time.time() < deadline, proc.stderr.read()
            time.sleep(0.1)
        time.sleep(1.0)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    checkpoint, steps = run.latest_checkpoint()
    assert steps > 0 and checkpoint.is_file()
    assert err.strip().splitlines()[-1] == (
        f"interrupted: saved checkpoint {checkpoint} (step {steps:,}); continue with: "
        f"memgym train --resume {run.path}"), err


def test_ctrl_c_during_grpo_training_saves_a_checkpoint(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from memgym.training import grpo_small

    update = grpo_small.grpo_update
    calls = []

    def interrupt_on_second(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return update(*args, **kwargs)

    monkeypatch.setattr(grpo_small, "grpo_update", interrupt_on_second)
    config = ROOT / "configs" / "recipes" / "memory_r1_grpo.yaml"
    result = runner.invoke(app, [
        "train", str(config), "--no-progress", "--set", f"output_dir={tmp_path}",
        "--set", "name=grpo-stop", "--set", "total_timesteps=100000",
        "--set", "checkpoint_freq=100000", "--set", "eval.freq=100000",
        "--set", "algo.hyperparams.group_size=2", "--set", "algo.hyperparams.groups_per_update=1"])
    assert result.exit_code == 130, result.output
    run = RunFolder(tmp_path / "grpo-stop")
    checkpoint, steps = run.latest_checkpoint()
    assert steps > 0 and checkpoint.suffix == ".safetensors"
    assert f"saved checkpoint {checkpoint}" in result.output
    assert f"memgym train --resume {run.path}" in result.output


def test_missing_data_file_in_a_training_config_is_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    result = runner.invoke(app, ["train", str(ROOT / "configs" / "locomo_small.yaml"),
                                 "--set", f"env.kwargs.data_path={missing}",
                                 "--set", f"output_dir={tmp_path / 'runs'}"])
    assert result.exit_code == 2, result.output
    assert one_line(result.output) == (f"error: env.kwargs: memgym/LoCoMo-v0: data file not "
                                       f"found: {missing}")
    assert not (tmp_path / "runs").exists(), "nothing written"


def test_missing_data_file_of_the_evaluation_env_is_one_line(tmp_path: Path) -> None:
    config = tiny(tmp_path, **{"eval.id": "memgym/LoCoMo-v0",
                               "eval.kwargs": {"data_path": str(tmp_path / "gone.json")}})
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(config))
    result = runner.invoke(app, ["train", str(path)])
    assert result.exit_code == 2, result.output
    assert "error: eval.kwargs: memgym/LoCoMo-v0: data file not found" in one_line(result.output)


def test_mistyped_env_id_gets_the_closest_id_not_the_whole_list() -> None:
    result = runner.invoke(app, ["eval", "--env", "memgym/KVUpdate-Medium-v0", "--episodes", "1"])
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error:"), "no blank line of a progress bar before it"
    assert one_line(result.output) == (
        "error: unknown env id 'memgym/KVUpdate-Medium-v0' (did you mean "
        "'memgym/KVUpdates-Medium-v0'?); `memgym list` shows the registered ids; for a task "
        "module of your own, add --import MODULE")


def test_bad_set_key_names_the_override_not_the_config_file(tmp_path: Path) -> None:
    default = ROOT / "configs" / "default.yaml"
    result = runner.invoke(app, ["train", str(default), "--set", "env.kwargz.tiers=3"])
    assert result.exit_code == 2, result.output
    assert one_line(result.output) == ("error: --set 'env.kwargz.tiers=3': env.kwargz: unknown "
                                       "key (did you mean 'kwargs'?)")
    result = runner.invoke(app, ["train", str(default), "--set", "total_timesteps=many"])
    assert one_line(result.output).startswith("error: --set 'total_timesteps=many': "
                                              "total_timesteps: Input should be a valid integer")
    result = runner.invoke(app, ["train", str(default), "--set", "algo.n_envs=2",
                                 "--set", "algo.nenvs=2"])
    assert one_line(result.output) == ("error: --set 'algo.nenvs=2': algo.nenvs: unknown key "
                                       "(did you mean 'n_envs'?)")
    path = tmp_path / "typo.yaml"  # a mistake in the file is still the file's
    path.write_text(yaml.safe_dump(tiny(tmp_path, **{"algo.nenvs": 2})))
    result = runner.invoke(app, ["train", str(path), "--set", "algo.n_envs=2"])
    assert one_line(result.output) == (f"error: {path}: algo.nenvs: unknown key (did you mean "
                                       "'n_envs'?)")


def test_bad_set_key_on_resume_names_the_override(tmp_path: Path) -> None:
    run = tmp_path / "runs" / "tiny"
    run.mkdir(parents=True)
    (run / "config.yaml").write_text(yaml.safe_dump(tiny(tmp_path)))
    result = runner.invoke(app, ["train", "--resume", str(run), "--set", "total_timestep=512"])
    assert result.exit_code == 2, result.output
    assert one_line(result.output) == ("error: --set 'total_timestep=512': total_timestep: "
                                       "unknown key (did you mean 'total_timesteps'?)")


def test_option_choices_draw_a_reset_option_per_episode_reproducibly() -> None:
    import gymnasium as gym

    import memgym  # noqa: F401
    from memgym.envs.wrappers import DefaultResetOptions

    def lengths(seed: int) -> list[int]:
        env = DefaultResetOptions(gym.make("memgym/KVUpdates-Easy-v0"), {"n_keys": 2},
                                  {"length": [12, 24, 48]})
        env.reset(seed=seed)
        out = [len(env.unwrapped.episode.chunks)]
        for _ in range(11):
            env.reset()
            out.append(len(env.unwrapped.episode.chunks))
        return out

    assert set(lengths(0)) == {12, 24, 48} and lengths(0) == lengths(0)
    with pytest.raises(ValueError, match="needs at least one value"):
        DefaultResetOptions(gym.make("memgym/KVUpdates-Easy-v0"), None, {"length": []})


def test_option_choices_are_refused_where_they_would_be_ignored(tmp_path: Path) -> None:
    from memgym.training import ConfigError, backend_module, load_config

    cfg = Path(__file__).resolve().parents[1] / "configs" / "default.yaml"
    config = load_config(cfg, [f"output_dir={tmp_path}", "env.option_choices={length: [40, 80]}"])
    with pytest.raises(ConfigError, match="not supported with algo.vec_env: vector_entry_point"):
        backend_module("sb3").validate(config)
    backend_module("sb3").validate(load_config(cfg, [
        f"output_dir={tmp_path}", "env.option_choices={length: [40, 80]}", "algo.vec_env=dummy"]))
    with pytest.raises(ConfigError, match="env.option_choices: Value error, length: each needs"):
        load_config(cfg, ["env.option_choices={length: []}"])
