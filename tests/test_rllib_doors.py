"""The rllib backend at the doors: a task module of one's own built on Ray env runners
(fresh processes that import ``imports:`` again), and Ctrl-C that checkpoints first."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

pytest.importorskip("ray.rllib")

from memgym.cli import app  # noqa: E402
from memgym.training.run import RunFolder  # noqa: E402

from test_plugins import task_module  # noqa: E402,F401  (fixture)
from test_training_rllib import tiny  # noqa: E402


def test_rllib_run_on_a_plugin_task_checkpoints_on_ctrl_c(
        task_module: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from memgym.training import rllib
    from memgym.training.rllib_agent import ray_session

    module, env_id = task_module
    record = rllib.Trainer.record
    calls = []

    def interrupt_on_second(self, result, steps):
        record(self, result, steps)
        calls.append(steps)
        if len(calls) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(rllib.Trainer, "record", interrupt_on_second)
    config = tiny(tmp_path, **{"env.id": env_id, "imports": [module], "eval.lengths": [],
                               "total_timesteps": 100_000, "checkpoint_freq": 100_000,
                               "eval.freq": 100_000, "rllib.num_env_runners": 1})
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(config))
    os.environ.pop("RAY_ADDRESS", None)
    with ray_session(num_cpus=2, temp_dir=tmp_path / "ray"):
        result = CliRunner().invoke(app, ["train", str(path)])
    assert result.exit_code == 130, result.output
    run = RunFolder(tmp_path / "runs" / "tiny-rllib")
    checkpoint, steps = run.latest_checkpoint()
    assert steps == calls[-1] > 0 and checkpoint.is_dir()
    assert f"saved checkpoint {checkpoint}" in result.output
    assert f"memgym train --resume {run.path}" in result.output
