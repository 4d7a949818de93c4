"""BudgetMem recipe: the budget-tier router env, its cost reward and alignment factor."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import memgym  # noqa: F401
from memgym.episode import Chunk, Episode, Question
from memgym.recipes.budgetmem import (
    BUDGET_TIERS, MIN_ALIGN_SAMPLES, BudgetRouterEnv, FixedTierRouter, OracleRouter,
)

from recipe_checks import run_benchmark_script, validated_recipe_config


def hand_episode() -> Episode:
    """The fact is overwritten by FIFO (one entry) before its question: only ``high``
    (which searches the stream log) can answer."""
    chunks = ("Ann Lee's city is Oslo.", "The printer jammed twice before noon.",
              "Quiz: Ann Lee's city?")
    question = Question("What is Ann Lee's city?", ("Oslo",), evidence=(0,), asked_after=2)
    return Episode(tuple(Chunk(i, t) for i, t in enumerate(chunks)), (question,))


def make(**kwargs) -> BudgetRouterEnv:
    return BudgetRouterEnv(task="memgym.tasks.revisit:RevisitTask",
                           tiers={"episodic": {"entries": 1, "tokens": None}},
                           ops=("noop", "add", "update"), **kwargs)


@pytest.mark.parametrize("env_id", ["memgym/BudgetMem-v0", "memgym/BudgetMem-NoAlign-v0"])
def test_env_ids_pass_the_checker_and_route_every_question(env_id: str) -> None:
    env = gym.make(env_id)
    check_env(env.unwrapped, skip_render_check=True)
    obs, info = env.reset(seed=3)
    assert env.unwrapped.core.view.kind == "question" and env.action_space.n == 3
    steps = 0
    while True:
        obs, reward, terminated, truncated, info = env.step(steps % 3)
        steps += 1
        assert np.isfinite(reward) and info["tier"] in BUDGET_TIERS
        if terminated:
            break
    assert steps == len(env.unwrapped.episode.questions)
    assert [r.route for r in env.unwrapped.core.records] == [
        ["low", "mid", "high"][i % 3] for i in range(steps)]


@pytest.mark.parametrize("tier,score", [(0, 0.0), (2, 1.0)])
def test_reward_is_task_plus_lambda_times_aligned_cost(tier: int, score: float) -> None:
    env = make(lam=0.5, align=False)
    env.reset(options={"episode": hand_episode()})
    _, reward, terminated, _, info = env.step(tier)
    cost = BUDGET_TIERS[["low", "mid", "high"][tier]]["cost"]
    assert terminated and info["reward_terms"]["task"] == score
    assert info["align_factor"] == 1.0
    assert reward == pytest.approx(score - 0.5 * cost)


def test_alignment_factor_is_the_std_ratio_over_the_window() -> None:
    env = make(lam=1.0, align=True, align_window=32)
    rng = np.random.default_rng(0)
    tasks = rng.integers(0, 2, 40).astype(float)
    costs = -rng.choice([1.0, 3.0, 10.0], 40)
    for i, (t, c) in enumerate(zip(tasks, costs)):
        factor = env.update_alignment(t, c)
        if i + 1 < MIN_ALIGN_SAMPLES:
            assert factor == 1.0  # not estimated yet
    assert factor == pytest.approx(np.std(tasks[-32:]) / np.std(costs[-32:]))
    assert make(align=False).update_alignment(1.0, -10.0) == 1.0


def test_bad_action_gets_the_cheapest_tier_and_the_invalid_penalty() -> None:
    env = make(lam=0.0)
    env.reset(options={"episode": hand_episode()})
    _, reward, _, _, info = env.step(7)
    assert info["tier"] == "low" and reward == pytest.approx(-env.core.rewards.invalid)
    with pytest.raises(ValueError, match="lam"):
        make(lam=-1.0)
    with pytest.raises(ValueError, match="align_window"):
        make(align_window=1)


def test_tiers_trade_accuracy_for_cost_and_the_oracle_router_is_cheaper() -> None:
    """Measured on held-out streams: the spread the router has to learn from."""
    from memgym.agents.evaluate import evaluate_agents

    agents = [FixedTierRouter(0, "low"), FixedTierRouter(2, "high"), OracleRouter()]
    scores = evaluate_agents(agents, "memgym/BudgetMem-v0", episodes=8,
                             env_kwargs={"tiers": {"episodic": {"entries": 8}}})["agents"]
    assert scores["high"]["qa_score"] > scores["low"]["qa_score"] + 0.2
    assert scores["oracle-router"]["qa_score"] >= scores["high"]["qa_score"]
    cost = {k: -v["reward_terms"]["cost"] for k, v in scores.items()}
    assert cost["low"] < cost["oracle-router"] < cost["high"]


def test_config_validates() -> None:
    config = validated_recipe_config("budgetmem")
    assert config.env.id == "memgym/BudgetMem-v0" and config.env.kwargs["align"] is True


@pytest.mark.slow
def test_benchmark_script_runs(tmp_path: Path) -> None:
    result = run_benchmark_script("budgetmem", ["--steps", "512", "--lams", "0",
                                                "--unaligned-lams", "1", "--episodes", "3",
                                                "--results", str(tmp_path)], tmp_path)
    assert len(result["learned"]) == 2 and "all-low" in result["fixed"]
