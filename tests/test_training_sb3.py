"""SB3 training from config files: run folder, resume, reload, config errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from memgym.loading import load_agent
from memgym.agents.evaluate import evaluate_agents
from memgym.cli import app
from memgym.training import ConfigError, load_config, resume_run, train_from_config
from memgym.training.config import DEFAULT_CONFIG, set_path, validate_config
from memgym.training.run import RunFolder

from conftest import ROOT

runner = CliRunner()


def tiny(tmp_path: Path, **changes) -> dict:
    config = {
        "name": "tiny",
        "env": {"id": "memgym/KVUpdates-Easy-v0", "kwargs": {"rewards": {"shaping": 1.0}}},
        "eval": {"episodes": 3, "freq": 128, "baselines": ["fifo", "oracle"], "lengths": [60]},
        "algo": {"name": "MaskablePPO", "n_envs": 2,
                 "hyperparams": {"n_steps": 64, "batch_size": 64, "n_epochs": 2,
                                 "learning_rate": "lin_3e-4"},
                 "policy_kwargs": {"net_arch": [32]}},
        "total_timesteps": 256,
        "checkpoint_freq": 128,
        "output_dir": str(tmp_path / "runs"),
        "progress": False,
    }
    for key, value in changes.items():
        set_path(config, key, value)
    return config


def test_tiny_config_writes_a_complete_run_folder(tmp_path: Path) -> None:
    config = validate_config(tiny(tmp_path))
    report = train_from_config(config)
    run = RunFolder.for_config(config)
    assert yaml.safe_load(run.config.read_text())["name"] == "tiny"
    assert run.latest_checkpoint()[1] == 256
    assert sorted(p.name for p in run.checkpoints.glob("step_*.zip")) == [
        "step_000000128.zip", "step_000000256.zip"]
    assert run.best_model() is not None
    assert list(run.tensorboard.rglob("events.out.tfevents.*"))
    curve = run.read_curve()
    assert [p["steps"] for p in curve] == [128, 256]
    for name in ("report.json", "report.md", "report.png", "learning_curve.png"):
        assert (run.eval / name).is_file(), name
    assert (run.eval / "length_60" / "report.json").is_file()
    summary = json.loads(run.summary.read_text())
    assert set(summary["scores"]) == {"tiny", "fifo", "oracle"}
    assert "60" in summary["lengths"]
    assert set(report["agents"]) == {"tiny", "fifo", "oracle"}
    assert not list(run.path.rglob("*.tmp*")), "no temporary files left behind"


def test_resume_continues_the_step_count_and_the_curve(tmp_path: Path) -> None:
    config = validate_config(tiny(tmp_path))
    train_from_config(config)
    run = RunFolder.for_config(config)
    resume_run(run.path, ["total_timesteps=512"])
    assert run.latest_checkpoint()[1] == 512
    assert [p["steps"] for p in run.read_curve()] == [128, 256, 384, 512]
    assert load_config(run.config).total_timesteps == 512
    from memgym.training.sb3 import load_model

    assert load_model(run.latest_checkpoint()[0], config).num_timesteps == 512


def test_saved_policy_reloads_and_scores_the_same(tmp_path: Path) -> None:
    config = validate_config(tiny(tmp_path))
    report = train_from_config(config)
    run = RunFolder.for_config(config)
    again = evaluate_agents([str(run.path)], config.eval_id, split="heldout", episodes=3,
                            seed=0, env_kwargs=config.eval_kwargs, load=load_agent)
    assert again["agents"]["tiny"]["qa_score"] == report["agents"]["tiny"]["qa_score"]
    assert again["agents"]["tiny"]["episode_scores"] == report["agents"]["tiny"]["episode_scores"]


@pytest.mark.parametrize("algo, extra", [
    ("PPO", {}),
    ("RecurrentPPO", {"policy_kwargs": {"lstm_hidden_size": 16, "net_arch": [16]}}),
    ("MaskablePPO", {"policy_kwargs": {"activation_fn": "relu", "net_arch": [16]}}),
])
def test_every_sb3_algorithm_trains_and_reloads(tmp_path: Path, algo: str, extra: dict) -> None:
    config = tiny(tmp_path, **{"algo.name": algo, "eval.lengths": []})
    config["algo"].update(extra)
    config = validate_config(config)
    train_from_config(config)
    report = evaluate_agents([str(RunFolder.for_config(config).path)], config.eval_id,
                             episodes=2, load=load_agent)
    assert 0.0 <= report["agents"]["tiny"]["qa_score"] <= 1.0


def test_cli_train_and_eval_a_run(tmp_path: Path) -> None:
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(tiny(tmp_path, **{"eval.lengths": []})))
    result = runner.invoke(app, ["train", str(path), "--set", "name=cli-run"])
    assert result.exit_code == 0, result.output
    assert "cli-run" in result.output and "oracle" in result.output
    run_dir = tmp_path / "runs" / "cli-run"
    again = runner.invoke(app, ["train", str(path), "--set", "name=cli-run"])
    assert again.exit_code == 2 and "already holds a run" in again.output
    result = runner.invoke(app, ["eval", "--agent", f"{run_dir},fifo", "--env",
                                 "memgym/KVUpdates-Easy-v0", "--episodes", "2"])
    assert result.exit_code == 0 and "cli-run" in result.output


@pytest.mark.parametrize("change, message", [
    ({"algo.hyperparams.n_step": 5}, "algo.hyperparams.n_step: not an argument of MaskablePPO "
                                     "(did you mean 'n_steps'?)"),
    ({"algo.hyperparam": {}}, "algo.hyperparam: unknown key (did you mean 'hyperparams'?)"),
    ({"env.id": "memgym/KVUpdate-Easy-v0"}, "did you mean 'memgym/KVUpdates-Easy-v0'?"),
    ({"total_timesteps": "many"}, "total_timesteps: Input should be a valid integer"),
    ({"algo.name": "PPO2"}, "algo.name: 'PPO2' is not an sb3 algorithm"),
    ({"algo.hyperparams.learning_rate": "fast"},
     "algo.hyperparams.learning_rate: a number or lin_<number> (got 'fast')"),
    ({"algo.hyperparams.n_steps": "many"}, "algo.hyperparams.n_steps: Input should be a valid integer"),
    ({"algo.hyperparams.seed": 3}, "algo.hyperparams.seed: set by memgym; use the top-level key"),
    ({"eval.split": "test"}, "eval.split: Value error, must be one of"),
    ({"algo.policy_kwargs.features_extractor_class": "magic"}, "features_extractor_class"),
    ({"algo.policy_kwargs.activation_fn": "swish"}, "activation_fn: 'swish'"),
    ({"env.kwargs.episode_pool": 0}, "env.kwargs: memgym/KVUpdates-Easy-v0 rejects them: "
                                     "episode_pool must be a positive int or None, got 0"),
    ({"env.kwargs.episode_pool": 0, "algo.vec_env": "vector_entry_point"},
     "env.kwargs: memgym/KVUpdates-Easy-v0 rejects them: episode_pool"),
    ({"env.kwargs.bow_dims": 8}, "env.kwargs: memgym/KVUpdates-Easy-v0 rejects them"),
])
def test_config_errors_are_clear(tmp_path: Path, change: dict, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(tiny(tmp_path, **change)))
    result = runner.invoke(app, ["train", str(path)])
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split()), result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "runs" / "tiny").exists(), "nothing written for a bad config"


def test_missing_file_and_invalid_yaml_name_the_file_and_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nenv: {id: [unclosed\n")
    with pytest.raises(ConfigError, match=r"bad.yaml:3:1: invalid YAML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="expected KEY.PATH=VALUE"):
        load_config(DEFAULT_CONFIG, ["novalue"])


def test_every_shipped_config_validates() -> None:
    # configs/accelerate/ holds `accelerate launch` files, checked in test_llm_chunked.py
    configs = sorted(p for p in (ROOT / "configs").rglob("*.yaml")
                     if "accelerate" not in p.relative_to(ROOT / "configs").parts)
    assert configs
    from memgym.training import backend_module

    for path in configs:
        config = load_config(path)
        try:
            backend_module(config.backend).validate(config)
        except ConfigError as exc:
            # a GPU config is refused on a machine without CUDA, for that reason only: its
            # other keys are checked with vLLM switched off
            if not str(exc).startswith("trl.use_vllm: vLLM needs a CUDA GPU"):
                raise
            config = load_config(path, overrides=["trl.use_vllm=false"])
            backend_module(config.backend).validate(config)


def test_overwrite_starts_a_fresh_run(tmp_path: Path) -> None:
    config = validate_config(tiny(tmp_path, **{"eval.lengths": []}))
    train_from_config(config)
    run = RunFolder.for_config(config)
    (run.eval / "stale.txt").write_text("from the first run")
    shorter = validate_config(tiny(tmp_path, total_timesteps=128, **{"eval.lengths": []}))
    train_from_config(shorter, overwrite=True)
    assert not (run.eval / "stale.txt").exists()
    assert [p["steps"] for p in run.read_curve()] == [128]
    assert run.latest_checkpoint()[1] == 128


def test_episode_pool_from_the_config_reaches_the_training_envs(tmp_path: Path) -> None:
    from memgym.envs import episode_pool

    episode_pool.clear_cache()
    config = validate_config(tiny(tmp_path, **{"env.kwargs.episode_pool": 3,
                                               "algo.vec_env": "vector_entry_point",
                                               "eval.lengths": []}))
    train_from_config(config)
    train_seeds = {key[3] for key in episode_pool._CACHE
                   if key[0] == "episode" and key[2] == "train"}
    assert train_seeds and train_seeds <= {0, 1, 2}  # 256 steps of resets, 3 streams at most
    episode_pool.clear_cache()
