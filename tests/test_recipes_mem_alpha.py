"""Mem-alpha recipe: update-only core, the reward terms, both interfaces, the config."""

from __future__ import annotations

import json
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import memgym  # noqa: F401
from memgym.agents.evaluate import evaluate_agents
from memgym.envs.memory import count_tokens
from memgym.episode import Chunk, Episode, Question
from memgym.recipes.mem_alpha import CORE_PLACEHOLDER, FilingAgent
from memgym.tasks.mem_alpha_stream import MemAlphaTask

from recipe_checks import load_benchmark_script, run_benchmark_script, validated_recipe_config


HAND = Episode(
    chunks=(Chunk(0, "Maya Berg's city is Oslo."),
            Chunk(1, "On 2024-03-05, Maya Berg met Ann Lee."),
            Chunk(2, "Ann Lee's pet is cat."), Chunk(3, "It rained all afternoon.")),
    questions=(Question("What is Maya Berg's city?", ("Oslo",), evidence=(0,)),
               Question("When did Maya Berg meet Ann Lee?", ("2024-03-05",), evidence=(1,)),
               Question("What is Ann Lee's pet?", ("cat",), evidence=(2,))),
    task="hand", labels={"kinds": ["profile", "event", "fact", "filler"]})


def play(env: gym.Env, names: list[str]) -> tuple[float, dict[str, float], dict]:
    base = env.unwrapped
    env.reset(seed=0)
    base.start_episode(HAND)
    total, terms, info = 0.0, {}, {}
    for name in names:
        action = base.action_names.index(name)
        assert base.action_masks()[action], f"{name} is masked"
        _, reward, done, _, info = env.step(action)
        total += reward
        for k, v in info["reward_terms"].items():
            terms[k] = terms.get(k, 0.0) + v
    assert done
    return total, terms, info


def test_core_is_update_only_in_the_structured_env() -> None:
    env = gym.make("memgym/MemAlpha-v0").unwrapped
    _, info = env.reset(seed=0)
    entries = list(env.core.store.entries.values())
    assert [(e.text, e.tier) for e in entries] == [(CORE_PLACEHOLDER, "core")]
    assert env.slot_entry[0] == entries[0].id  # the placeholder is mirrored into slot 0
    mask = dict(zip(env.action_names, info["action_mask"]))
    assert not mask["add->core"] and not mask["delete slot 0"]
    assert mask["update slot 0"] and mask["add->episodic"] and mask["add->semantic"]


def test_reward_is_qa_plus_tool_success_plus_beta_compression_plus_content() -> None:
    beta = 0.4
    env = gym.make("memgym/MemAlpha-v0", beta=beta, content_weight=0.1)
    total, terms, info = play(env, ["update slot 0", "add->episodic", "add->episodic", "noop"])
    assert info["qa_score"] == 1.0  # the profile in core, the fact misfiled but still read
    stream = sum(count_tokens(c.text) for c in HAND.chunks)
    kept = sum(count_tokens(c.text) for c in HAND.chunks[:3])
    assert terms["compression"] == pytest.approx(beta * (1 - kept / stream))
    assert terms["tool_success"] == pytest.approx(1.0)
    assert terms["content"] == pytest.approx(0.1 * 2 / 3)  # the fact belongs in semantic
    assert total == pytest.approx(terms["qa"] + terms["compression"] + terms["tool_success"]
                                  + terms["content"])
    assert total == pytest.approx(sum(terms.values()))


def test_text_env_reports_the_core_rule_and_counts_tool_success() -> None:
    env = gym.make("memgym/MemAlpha-Text-v0")
    prompt, _ = env.reset(seed=0)
    assert CORE_PLACEHOLDER in prompt
    env.unwrapped.start_episode(HAND)
    calls = [{"name": "add_memory", "arguments": {"tier": "core"}},
             {"name": "delete_memory", "arguments": {"id": 0}},
             {"name": "update_memory", "arguments": {"id": 0}}]
    results = []
    env.unwrapped.start_episode(HAND)
    for call in calls:
        _, _, _, _, info = env.step(json.dumps(call))
        results.append((info["ok"], info["error"]))
    assert results == [(False, "core_update_only"), (False, "core_update_only"), (True, None)]
    done = False
    while not done:
        _, _, done, _, info = env.step('{"name": "next_chunk", "arguments": {}}')
    # two failed calls, the update and every next_chunk succeeded
    calls_made = 3 + len(HAND.chunks)
    assert info["reward_terms"]["tool_success"] == pytest.approx((calls_made - 2) / calls_made)


def test_structured_env_passes_check_env_and_random_play_is_finite() -> None:
    env = gym.make("memgym/MemAlpha-v0")
    check_env(env.unwrapped, skip_render_check=True)
    rng = np.random.default_rng(0)
    for seed in range(3):
        _, info = env.reset(seed=seed)
        done = False
        while not done:
            action = int(rng.choice(np.flatnonzero(info["action_mask"])))
            _, reward, done, _, info = env.step(action)
            assert np.isfinite(reward) and info["ok"]
        # masked random play can rewrite the core entry but never remove or add one
        assert [e.tier for e in env.unwrapped.core.store.entries.values()].count("core") == 1


def test_beta_moves_the_preferred_memory_size() -> None:
    """Measured on the label-filing managers: at a small beta keeping everything returns the
    most, at a large beta keeping only the important chunks does (the trade-off PPO learns)."""
    returns = {}
    for beta in (0.05, 2.0):
        report = evaluate_agents([FilingAgent("all"), FilingAgent("important")],
                                 "memgym/MemAlpha-v0", episodes=20, env_kwargs={"beta": beta})
        returns[beta] = {k: v["return"] for k, v in report["agents"].items()}
        qa = {k: v["qa_score"] for k, v in report["agents"].items()}
        assert qa["filing-all"] > qa["filing-important"]
    assert returns[0.05]["filing-all"] > returns[0.05]["filing-important"]
    assert returns[2.0]["filing-important"] > returns[2.0]["filing-all"]


def test_task_is_deterministic_and_validates() -> None:
    task = MemAlphaTask()
    assert task.episode(3, "heldout") == task.episode(3, "heldout")
    kinds = task.episode(3, "heldout").labels["kinds"]
    assert kinds.count("profile") == 2 and kinds.count("event") == 5 and kinds.count("fact") == 4
    with pytest.raises(ValueError, match="length"):
        MemAlphaTask(length=5)
    with pytest.raises(ValueError, match="beta"):
        gym.make("memgym/MemAlpha-v0", beta=-1.0)


def test_config_validates() -> None:
    config = validated_recipe_config("mem_alpha", ["env.kwargs.beta=0.4"])
    env = gym.make(config.env.id, **config.env.kwargs)
    assert env.unwrapped.core.weights["compression"] == 0.4


@pytest.mark.slow
def test_benchmark_script_runs_small(tmp_path: Path) -> None:
    data = run_benchmark_script("mem_alpha", [
        "--betas", "0.05", "2.0", "--minutes", "0.2", "--steps", "2000", "--episodes", "6",
        "--out", str(tmp_path / "runs"), "--results", str(tmp_path)], tmp_path, timeout=600)
    assert [r["beta"] for r in data["rows"]] == [0.05, 2.0]


def test_reports_give_the_final_memory_size_in_tokens() -> None:
    report = evaluate_agents([FilingAgent("all"), FilingAgent("core")], "memgym/MemAlpha-v0",
                             split="heldout", episodes=4, seed=0)
    tokens = {name: agent["memory_tokens"] for name, agent in report["agents"].items()}
    assert tokens["filing-all"] > tokens["filing-core"] > 0  # the core entry is always there
    details = report["details"]["filing-core"]
    assert all(d["memory_tokens"] <= 32 for d in details)  # the core tier's token cap


def test_llm_config_validates_and_beta_is_the_compression_weight(tmp_path: Path) -> None:
    from memgym.training.trl import trl_spec

    config = validated_recipe_config("mem_alpha_llm", ["trl.rewards.compression=1.0"])
    spec = trl_spec(config)
    assert config.env.id == "memgym/MemAlpha-Text-v0" and spec.rewards.compression == 1.0
    assert spec.sft is not None and spec.lora is not None
    shared = validated_recipe_config("mem_alpha_llm", [f"trl.model={tmp_path}", "trl.sft=null"])
    assert trl_spec(shared).sft is None  # later betas start from the first run's warm start


@pytest.mark.slow
def test_llm_benchmark_script_runs_with_a_tiny_model(tmp_path: Path) -> None:
    data = run_benchmark_script("mem_alpha_llm", [
        "--betas", "0.05", "1.0", "--grpo-minutes", "0.5", "--episodes", "2",
        "--runs", str(tmp_path / "runs"), "--results", str(tmp_path),
        "--set", "trl.model=tiny", "--set", "trl.num_generations=2",
        "--set", "trl.gradient_accumulation_steps=2", "--set", "trl.max_completion_length=128",
        "--set", "total_timesteps=1", "--set", "trl.sft.episodes=2",
        "--set", "trl.eval_max_new_tokens=16", "--signal-streams", "2", "--signal-group", "2"],
        tmp_path, timeout=600)
    assert [r["beta"] for r in data["rows"]] == [0.05, 1.0]
    signal = json.loads((tmp_path / "mem_alpha_llm_signal.json").read_text())
    assert len(signal["groups"]) == 2 and all(len(g) == 2 for g in signal["groups"])
    assert {"0.05", "1", "2.5"} <= set(signal["betas"])  # scored on the beta grid too
    assert all(r["grpo_steps"] == 1 and r["grpo"]["memory_tokens"] >= 4 for r in data["rows"])
    assert data["sft"]["conversations"] == 2 and data["sft"]["model"]["accuracy"] >= 0.0
    second = (tmp_path / "runs" / "mem_alpha-llm-beta1" / "config.yaml").read_text()
    assert "mem_alpha-llm-beta0.05/sft" in second  # GRPO at beta 1 started from that warm start


def test_grpo_direction_follows_beta() -> None:
    """In a group where the bigger memory answers more, GRPO favours it at a small beta and
    the smaller memory at a large one; groups with one reward for all are left out."""
    script = load_benchmark_script("mem_alpha_llm")
    config = validated_recipe_config("mem_alpha_llm")

    def rollout(qa: float, tokens: int) -> dict:
        return {"qa": qa, "memory_tokens": tokens, "tool_success": 1.0, "format": 1.0,
                "compression": 1.0 - tokens / 100}

    informative = [rollout(1.0, 60), rollout(0.5, 30), rollout(0.5, 30), rollout(0.0, 4)]
    flat = [rollout(0.5, 30)] * 4
    low = script.grpo_direction([informative, flat], config, 0.05)
    high = script.grpo_direction([informative, flat], config, 3.0)
    assert low["informative_groups"] == high["informative_groups"] == 1
    assert low["advantage_x_tokens"] > 0 and low["best_minus_mean_tokens"] > 0
    assert high["advantage_x_tokens"] < 0 and high["best_minus_mean_tokens"] < 0
