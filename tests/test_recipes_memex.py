"""Memex recipe: indexed archive with summaries in context, context-budget and redundancy
penalties."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import memgym  # noqa: F401
from memgym.envs.memory import count_tokens
from memgym.episode import Chunk, Episode, Question
from memgym.recipes.memex import ArchiveAgent, KeepFactsAgent, MemexEnv, summarize

from recipe_checks import (
    check_random_and_out_of_range_actions, run_benchmark_script, validated_recipe_config,
)

FACT = "Ann Lee's city is Oslo. Filed: box 12, shelf 7, page 33, folder 2, drawer 9."


def hand_episode() -> Episode:
    chunks = (FACT, "It rained all afternoon.", "Quiz: Ann Lee's city?", "The bus was late.")
    question = Question("What is Ann Lee's city?", ("Oslo",), evidence=(0,), asked_after=2)
    return Episode(tuple(Chunk(i, t) for i, t in enumerate(chunks)), (question,))


def make(**kwargs) -> MemexEnv:
    return MemexEnv(task="memgym.tasks.revisit:RevisitTask",
                    tiers={"episodic": {"entries": 2, "tokens": None}}, ops_per_chunk=2,
                    ops=("noop", "add", "update", "delete", "evict", "reread"), archive_view=4,
                    budget_tokens=8, budget_penalty=1.0, redundancy_penalty=0.05, **kwargs)


def act(env: MemexEnv, row: tuple) -> tuple[float, dict]:
    _, reward, _, _, info = env.step(env.action_index[row])
    return reward, info


@pytest.mark.parametrize("env_id", ["memgym/Memex-v0", "memgym/Memex-NoArchive-v0"])
def test_env_ids_pass_the_checker_and_run(env_id: str) -> None:
    env = gym.make(env_id)
    check_env(env.unwrapped, skip_render_check=True)
    rng = np.random.default_rng(0)
    obs, info = env.reset(seed=2)
    for _ in range(400):
        obs, reward, terminated, _, info = env.step(
            int(rng.choice(np.flatnonzero(info["action_mask"]))))
        assert np.isfinite(reward) and info["working_tokens"] >= 0
        if terminated:
            break
    assert terminated
    names = env.unwrapped.action_names
    assert any(n.startswith("evict") for n in names) == (env_id == "memgym/Memex-v0")


def test_evict_keeps_a_summary_and_reread_dereferences_the_index() -> None:
    env = make()
    env.reset(options={"episode": hand_episode()})
    act(env, ("add", -1, 0))
    entry_id = next(iter(env.core.store.entries))
    reward, info = act(env, ("evict", 0, -1))          # second op of chunk 0: the stream moves on
    summary = summarize(entry_id, FACT)
    assert summary == f"#{entry_id} Ann Lee city" and env.summaries[entry_id] == summary
    assert info["working_tokens"] == count_tokens(summary) and not env.core.store.entries
    # summary (4 tokens) is under the 8-token budget: no context penalty
    assert info["reward_terms"]["context"] == 0.0
    act(env, ("noop", -1, -1))                          # chunk 1
    assert env.action_masks()[env.action_index[("reread_similar", -1, -1)]] == 0
    reward, info = act(env, ("reread", 0, -1))          # the cue: dereference index #entry_id
    assert env.core.view.kind == "recalled" and env.core.view.text == FACT
    assert reward == pytest.approx(-env.core.rewards.reread_cost)
    act(env, ("add", -1, 0))
    reward, info = act(env, ("noop", -1, -1))           # chunk 2 ends: the question is answered
    assert info["reward_terms"]["qa"] == 1.0
    working = count_tokens(FACT) + count_tokens(summary)
    assert info["working_tokens"] == working
    expected = -1.0 * (working - 8) / 8 / 4
    assert info["reward_terms"]["context"] == pytest.approx(expected)
    assert reward == pytest.approx(1.0 + expected)


def test_redundant_reread_and_add_are_penalised() -> None:
    env = make()
    env.reset(options={"episode": hand_episode()})
    act(env, ("add", -1, 0))
    _, info = act(env, ("add", -1, 0))                  # the same chunk again: redundant
    assert info["reward_terms"]["redundancy"] == pytest.approx(-0.05)
    act(env, ("evict", 0, -1))                          # chunk 1: archive one copy
    _, info = act(env, ("reread", 0, -1))               # the other copy is still in memory
    assert info["reward_terms"]["redundancy"] == pytest.approx(-0.05)


def test_raw_reread_is_masked_and_played_as_invalid() -> None:
    env = make()
    env.reset(options={"episode": hand_episode()})
    act(env, ("noop", -1, -1))
    before = env.core.store.snapshot()
    _, info = act(env, ("reread_similar", -1, -1))
    assert info["ok"] is False and info["reward_terms"]["invalid"] < 0
    assert env.core.store.snapshot() == before
    with pytest.raises(ValueError, match="budget_tokens"):
        MemexEnv(budget_tokens=0)


def test_archive_heuristic_keeps_a_smaller_context_at_no_lower_accuracy() -> None:
    """Measured on held-out streams: the mechanics the learned agent can exploit."""
    def measure(agent, env_id: str) -> tuple[float, float]:
        from memgym.agents.evaluate import run_episode

        env = gym.make(env_id)
        qa, working = [], []
        for seed in range(6):
            qa.append(run_episode(env, agent, split="heldout", episode_seed=seed)["qa_score"])
            working.append(np.mean(env.unwrapped.working_trace))
        return float(np.mean(qa)), float(np.mean(working))

    archive = measure(ArchiveAgent(), "memgym/Memex-v0")
    keep = measure(KeepFactsAgent(), "memgym/Memex-NoArchive-v0")
    assert archive[0] >= keep[0] and archive[1] < 0.6 * keep[1]


@pytest.mark.parametrize("env_id", ["memgym/Memex-v0", "memgym/Memex-NoArchive-v0"])
def test_random_and_out_of_range_actions_keep_the_store_consistent(env_id: str) -> None:
    check_random_and_out_of_range_actions(env_id)


def test_config_validates() -> None:
    config = validated_recipe_config("memex")
    assert config.env.id == "memgym/Memex-v0"


@pytest.mark.slow
def test_benchmark_script_runs(tmp_path: Path) -> None:
    result = run_benchmark_script("memex", ["--steps", "1024", "--seeds", "0", "--episodes",
                                            "3", "--results", str(tmp_path)], tmp_path)
    assert {r["agent"] for r in result["rows"]} >= {"PPO + archive", "PPO, no archive"}
