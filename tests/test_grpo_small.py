"""The small-policy GRPO trainer (``backend: grpo``): advantages, the update, groups, a run."""

from __future__ import annotations

import json
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

import memgym  # noqa: F401
from memgym.training import ConfigError, load_config, train_from_config
from memgym.training.grpo_small import (
    GRPOParams, MaskedMLPPolicy, group_advantages, grpo_update, play_group, validate,
)

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "recipes" / "memory_r1_grpo.yaml"


def test_group_advantages_are_relative_to_the_group() -> None:
    adv = group_advantages([1.0, 0.0, 0.5, 0.5], eps=1e-6)
    assert adv.mean() == pytest.approx(0.0)
    assert adv.std() == pytest.approx(1.0, rel=1e-4)
    assert adv[0] > adv[2] > adv[1]
    assert np.all(group_advantages([0.3, 0.3, 0.3], eps=1e-6) == 0.0)  # nothing to learn


def toy_batch(n: int = 64) -> dict[str, torch.Tensor]:
    """One observation, 3 actions (the last masked); action 0 good, action 1 bad."""
    torch.manual_seed(0)
    action = torch.randint(0, 2, (n,))
    return {"obs": torch.ones(n, 4), "mask": torch.tensor([[True, True, False]] * n),
            "action": action, "adv": torch.where(action == 0, 1.0, -1.0),
            "logp": torch.full((n,), float(np.log(0.5)))}


def test_update_moves_probability_to_the_better_action_and_never_to_a_masked_one() -> None:
    torch.manual_seed(0)
    policy = MaskedMLPPolicy(4, 3, [16])
    with torch.no_grad():  # start from 50/50 on the valid actions, as toy_batch's logp says
        policy.net[-1].weight.zero_()
        policy.net[-1].bias.zero_()
    reference = MaskedMLPPolicy(4, 3, [16])
    reference.load_state_dict(policy.state_dict())
    batch = toy_batch()
    opt = torch.optim.Adam(policy.parameters(), lr=1e-2)
    params = GRPOParams(n_epochs=3, batch_size=32, kl_coef=0.1)
    stats = grpo_update(policy, reference, opt, batch, params, torch.Generator().manual_seed(0))
    assert all(np.isfinite(v) for v in stats.values())
    assert stats["kl"] > 0  # the policy moved away from the reference
    probs = policy.dist(torch.ones(1, 4), torch.tensor([[True, True, False]])).probs[0]
    assert probs[0] > 0.5 > probs[1] and probs[2] == 0.0


def test_a_group_plays_the_same_stream() -> None:
    envs = [gym.make("memgym/MemoryR1-v0") for _ in range(3)]
    starts: list[tuple] = []
    for env in envs:
        base = env.unwrapped
        base.start_episode = lambda ep, run=base.start_episode: (starts.append(ep.chunks),
                                                                 run(ep))[1]
    policy = MaskedMLPPolicy(gym.spaces.flatdim(envs[0].observation_space),
                             envs[0].action_space.n, [8])
    episodes, returns = play_group(envs, policy, episode_seed=7, options={})
    assert len(starts) == 3 and starts[0] == starts[1] == starts[2]
    assert len(returns) == 3 and all(len(e["action"]) == len(starts[0]) for e in episodes)
    actions = [e["action"].tolist() for e in episodes]
    assert actions[0] != actions[1] or actions[1] != actions[2]  # sampled independently
    play_group(envs[:1], policy, episode_seed=8, options={})
    assert starts[-1] != starts[0]


def test_validation_names_the_bad_key() -> None:
    config = load_config(CONFIG, ["algo.hyperparams.grup_size=4"])
    with pytest.raises(ConfigError, match="grup_size.*group_size"):
        validate(config)
    with pytest.raises(ConfigError, match="algo.name"):
        validate(load_config(CONFIG, ["algo.name=PPO"]))
    with pytest.raises(ConfigError, match="group_size"):
        validate(load_config(CONFIG, ["algo.hyperparams.group_size=1"]))


def test_a_short_run_writes_the_run_folder_and_loads_for_eval(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from memgym.cli import app

    config = load_config(CONFIG, [
        f"output_dir={tmp_path}", "name=grpo-test", "total_timesteps=400", "eval.freq=200",
        "eval.episodes=2", "eval.baselines=[random]", "checkpoint_freq=200", "progress=false",
        "algo.hyperparams.group_size=2", "algo.hyperparams.groups_per_update=4"])
    train_from_config(config)
    run = tmp_path / "grpo-test"
    log = [json.loads(line) for line in (run / "train_log.jsonl").read_text().splitlines()]
    assert len(log) >= 2
    assert all(np.isfinite(row["loss"]) and np.isfinite(row["mean_return"]) for row in log)
    latest = json.loads((run / "checkpoints" / "latest.json").read_text())
    assert latest["path"].endswith(".safetensors") and (run / "best" / "model.safetensors").exists()
    assert (run / "eval" / "report.json").exists() and (run / "summary.json").exists()
    result = CliRunner().invoke(app, ["eval", "--agent", str(run), "--env", config.env.id,
                                      "--episodes", "2", "--out", str(tmp_path / "eval")])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "eval" / "report.json").read_text())
    assert list(report["agents"]) == ["grpo-test"]
    checkpoint = run / "checkpoints" / latest["path"]
    result = CliRunner().invoke(app, ["eval", "--agent", str(checkpoint), "--env",
                                      config.env.id, "--episodes", "1"])
    assert result.exit_code == 0, result.output


def test_resume_continues_from_the_latest_checkpoint(tmp_path: Path) -> None:
    from memgym.training import resume_run

    config = load_config(CONFIG, [
        f"output_dir={tmp_path}", "name=grpo-resume", "total_timesteps=64", "eval.freq=1000",
        "eval.episodes=1", "eval.baselines=[]", "progress=false",
        "algo.hyperparams.group_size=2", "algo.hyperparams.groups_per_update=2"])
    train_from_config(config)
    run = tmp_path / "grpo-resume"
    first = json.loads((run / "checkpoints" / "latest.json").read_text())["steps"]
    resume_run(run, ["total_timesteps=128"])
    log = [json.loads(line) for line in (run / "train_log.jsonl").read_text().splitlines()]
    assert log[0]["steps"] == first and log[-1]["steps"] > first
    latest = json.loads((run / "checkpoints" / "latest.json").read_text())
    assert latest["steps"] == log[-1]["steps"]
