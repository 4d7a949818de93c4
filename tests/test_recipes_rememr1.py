"""ReMemR1 recipe: the Revisit task, the reread op and the alpha-mixed multi-level reward."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import memgym  # noqa: F401
from memgym.episode import Chunk, Episode, Question
from memgym.facts import extract_fact, parse_question
from memgym.recipes.rememr1 import ReMemR1Env, RereadFIFOAgent, is_cue
from memgym.tasks.revisit import RevisitTask

from recipe_checks import (
    check_random_and_out_of_range_actions, run_benchmark_script, validated_recipe_config,
)


def hand_episode() -> Episode:
    chunks = ("Ann Lee's city is Oslo.", "The printer jammed twice before noon.",
              "Quiz: Ann Lee's city?", "It rained all afternoon.")
    question = Question("What is Ann Lee's city?", ("Oslo",), evidence=(0,), asked_after=2)
    return Episode(tuple(Chunk(i, t) for i, t in enumerate(chunks)), (question,))


def make(alpha: float, **kwargs) -> ReMemR1Env:
    return ReMemR1Env(task="memgym.tasks.revisit:RevisitTask", alpha=alpha, reread_bonus=0.5,
                      tiers={"episodic": {"entries": 1, "tokens": None}},
                      ops=("noop", "add", "update", "reread"), **kwargs)


def act(env: ReMemR1Env, row: tuple) -> tuple[float, dict]:
    _, reward, _, _, info = env.step(env.action_index[row])
    return reward, info


@pytest.mark.parametrize("env_id", ["memgym/ReMemR1-Medium-v0", "memgym/ReMemR1-NoReread-Long-v0"])
def test_env_ids_pass_the_checker_and_run(env_id: str) -> None:
    env = gym.make(env_id)
    check_env(env.unwrapped, skip_render_check=True)
    rng = np.random.default_rng(0)
    obs, info = env.reset(seed=1)
    for _ in range(500):
        action = int(rng.choice(np.flatnonzero(info["action_mask"])))
        obs, reward, terminated, truncated, info = env.step(action)
        assert np.isfinite(reward) and env.observation_space.contains(obs)
        if terminated:
            break
    assert terminated and 0.0 <= info["qa_score"] <= 1.0


def test_reread_bonus_recall_gain_and_outcome_are_mixed_by_alpha() -> None:
    env = make(alpha=0.8)
    env.reset(options={"episode": hand_episode()})
    assert act(env, ("noop", -1, -1))[0] == 0.0                # the fact passes unstored
    reward, info = act(env, ("add", -1, 0))                    # filler fills the one slot
    assert info["reward_terms"]["step_recall"] == 0.0 and reward == 0.0
    reward, info = act(env, ("reread_similar", -1, -1))        # the cue: reread by query
    assert env.core.view.kind == "recalled" and env.core.view.source == 0
    assert info["reward_terms"]["reread_bonus"] == pytest.approx(0.5)
    assert reward == pytest.approx(0.2 * 0.5 - env.core.rewards.reread_cost)
    reward, info = act(env, ("update", 0, -1))                 # store the recovered fact
    assert info["reward_terms"]["step_recall"] == pytest.approx(1.0)
    assert reward == pytest.approx(0.2 * 1.0)
    reward, info = act(env, ("noop", -1, -1))                  # move on: the question is asked
    assert info["answered"] == 1 and info["reward_terms"]["qa"] == pytest.approx(1.0)
    assert info["reward_terms"]["step_recall"] == 0.0 and reward == pytest.approx(0.8)


def test_outcome_only_alpha_pays_nothing_for_steps_and_no_bonus_for_kept_evidence() -> None:
    env = make(alpha=1.0)
    env.reset(options={"episode": hand_episode()})
    act(env, ("add", -1, 0))                                   # the fact is kept this time
    act(env, ("noop", -1, -1))
    reward, info = act(env, ("reread_similar", -1, -1))
    assert info["reward_terms"]["reread_bonus"] == 0.0         # nothing to recover
    assert reward == pytest.approx(-env.core.rewards.reread_cost)
    env2 = make(alpha=1.0)
    env2.reset(options={"episode": hand_episode()})
    reward, info = act(env2, ("add", -1, 0))
    assert info["reward_terms"]["step_recall"] == pytest.approx(1.0) and reward == 0.0


def test_losing_the_answer_is_a_negative_step_reward() -> None:
    env = make(alpha=0.5)
    env.reset(options={"episode": hand_episode()})
    act(env, ("add", -1, 0))
    reward, info = act(env, ("update", 0, -1))                 # overwrite the fact with filler
    assert info["reward_terms"]["step_recall"] == pytest.approx(-1.0)
    assert reward == pytest.approx(-0.5)


def test_bad_arguments_fail_clearly() -> None:
    with pytest.raises(ValueError, match="alpha"):
        make(alpha=1.5)
    with pytest.raises(ValueError, match="reread_bonus"):
        ReMemR1Env(reread_bonus=-1.0)
    with pytest.raises(ValueError, match="fact_rate"):
        RevisitTask(fact_rate=2.0)
    with pytest.raises(ValueError, match="length"):
        RevisitTask(length=6, n_keys=3)


def test_revisit_episodes_are_deterministic_and_cues_follow_their_facts() -> None:
    task = RevisitTask()
    assert task.episode(5, "val").to_json() == task.episode(5, "val").to_json()
    for seed in range(20):
        ep = task.episode(seed, "heldout", length=30, mention_rate=0.1)
        for q in ep.questions:
            cue = ep.chunks[q.asked_after].text
            assert is_cue(cue) and extract_fact(cue) is None and parse_question(cue)
            assert q.asked_after - q.evidence[0] >= task.params.min_gap
            fact = extract_fact(ep.chunks[q.evidence[0]].text)
            assert fact is not None and fact.value == q.answers[0]


def test_stale_values_conflict_with_the_fresh_fact() -> None:
    ep = RevisitTask().episode(2, "train", stale_rate=1.0)
    assert ep.to_json() == RevisitTask(stale_rate=1.0).episode(2).to_json()
    for q in ep.questions:
        (stale,) = q.conflicting
        old, new = (extract_fact(ep.chunks[c].text) for c in (stale, q.evidence[0]))
        assert stale < q.evidence[0] and old.key == new.key and old.value != new.value
        assert new.value == q.answers[0] and q.kind == "update"


def test_reread_similar_recovers_the_cued_fact_mostly() -> None:
    """Measured: the past chunk most similar to a cue is its fact (what makes rereads useful)."""
    env = gym.make("memgym/ReMemR1-Long-v0").unwrapped
    hits = total = 0
    for seed in range(15):
        env.reset(seed=seed)
        chunks = env._features.chunks.bow
        for q in env.episode.questions:
            cue = q.asked_after
            scores = chunks[:cue] @ chunks[cue]
            hits += int(cue - 1 - np.argmax(scores[::-1])) == q.evidence[0]
            total += 1
    assert hits / total >= 0.8


def test_fifo_with_rereads_beats_fifo_more_on_long_streams() -> None:
    from memgym.agents.evaluate import evaluate_agents

    gains = {}
    for level in ("Short", "Long"):
        scores = evaluate_agents(["fifo", RereadFIFOAgent()], f"memgym/ReMemR1-{level}-v0",
                                 episodes=8)["agents"]
        gains[level] = scores["fifo+reread"]["qa_score"] - scores["fifo"]["qa_score"]
    assert gains["Long"] > gains["Short"] > 0


@pytest.mark.parametrize("env_id", ["memgym/ReMemR1-Medium-v0", "memgym/ReMemR1-Long-v0"])
def test_random_and_out_of_range_actions_keep_the_store_consistent(env_id: str) -> None:
    check_random_and_out_of_range_actions(env_id)


def test_config_validates() -> None:
    config = validated_recipe_config("rememr1")
    assert config.env.id == "memgym/ReMemR1-Medium-v0" and config.env.kwargs["alpha"] == 0.8


@pytest.mark.slow
def test_benchmark_script_runs(tmp_path: Path) -> None:
    result = run_benchmark_script("rememr1", ["--steps", "1024", "--seeds", "0", "--alphas",
                                              "0.8", "--episodes", "3", "--results",
                                              str(tmp_path)], tmp_path)
    assert set(result["length"]) == {"Short", "Medium", "Long"}
    assert (tmp_path / "rememr1.md").read_text().startswith("# ReMemR1")
