"""The query-phase selection action (#21): SubsetReader, credit, the SelectorEnv's rules."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import memgym  # noqa: F401
from memgym.recipes.selector import SELECTION_BASELINES, SelectorEnv
from memgym.rewards.reader import BM25Reader, ReaderAnswer
from memgym.rewards.selection import (
    CANDIDATE, SubsetReader, bm25_candidates, candidate_features, citation_signal, citations,
    rank_credit)

ENTRIES = ["Ann's city is Oslo.", "Ann's city is Paris.", "Bob's pet is a cat.",
           "It rained all day."]


def play(env: gym.Env, agent, seed: int) -> tuple[list[float], dict]:
    obs, info = env.reset(seed=seed)
    agent.reset(env, seed)
    rewards, done = [], False
    while not done:
        obs, reward, done, _, info = env.step(agent.act(obs, info, env))
        rewards.append(reward)
    return rewards, info


def test_subset_reader_reads_only_the_pick_and_maps_used_back() -> None:
    reader = SubsetReader(BM25Reader(top_k=4), [1])
    reply = reader.answer_all(["What is Ann's city?"], ENTRIES)[0]
    assert reply.text == "Paris" and reply.used == (1,)
    both = SubsetReader(BM25Reader(top_k=4), [0, 1]).answer_all(["What is Ann's city?"],
                                                                ENTRIES)[0]
    assert both.text == "Oslo or Paris" and both.used == (0, 1)
    assert SubsetReader(BM25Reader(), [2]).answer_all(["What is Ann's city?"],
                                                      ENTRIES)[0].mode == "abstain"
    assert SubsetReader(BM25Reader(), []).answer_all(["What is Ann's city?"],
                                                     ENTRIES)[0].mode == "abstain"


def test_rank_credit_discounts_late_gains() -> None:
    assert rank_credit([0.0]) == 0.0
    assert rank_credit([0.0, 1.0]) == pytest.approx(1.0)
    assert rank_credit([0.0, 0.0, 1.0]) == pytest.approx(1 / math.log2(3))
    assert rank_credit([0.0, 1.0, 1.0]) > rank_credit([0.0, 0.0, 1.0])
    assert rank_credit([0.0, 1.0, 0.0]) == pytest.approx(1.0 - 1 / math.log2(3))  # a distractor


def test_citations_name_the_entries_that_hold_the_answer() -> None:
    texts = ENTRIES[:3]
    assert citations(ReaderAnswer("Oslo", "extract"), texts) == [True, False, False]
    assert citations(ReaderAnswer("Oslo or Paris", "extract"), texts) == [True, True, False]
    assert citations(ReaderAnswer("unknown", "abstain"), texts) == [False] * 3
    assert citations(ReaderAnswer(texts[2], "context"), texts) == [False, False, True]
    assert citations(ReaderAnswer("yes", "extract"), texts) == [False] * 3
    assert citation_signal([True, False, False]) == pytest.approx(-1 / 3)
    assert citation_signal([]) == 0.0


def test_candidate_features_read_text_and_times() -> None:
    question = "What is Ann's city?"
    ranked, scores = bm25_candidates(question, ENTRIES, 8)
    assert set(ranked) == {0, 1} and 3 not in ranked  # score 0: never a candidate
    rows = candidate_features(question, ENTRIES, ranked, scores, times=[3, 9, 1, 0], now=10,
                              n_rows=4, selected=[ranked[1]])
    assert rows[:2, CANDIDATE["present"]].tolist() == [1, 1] and not rows[2:].any()
    assert rows[:2, CANDIDATE["states_asked_fact"]].tolist() == [1, 1]
    assert rows[:, CANDIDATE["selected"]].tolist() == [0, 1, 0, 0]
    newest = ranked.index(1)  # written at time 9
    assert rows[newest, CANDIDATE["recency_rank"]] == 0.0
    assert rows[1 - newest, CANDIDATE["recency_rank"]] == 1.0
    assert rows[newest, CANDIDATE["latest_of_fact"]] == 1.0
    assert rows[1 - newest, CANDIDATE["latest_of_fact"]] == 0.0
    assert rows[:2, CANDIDATE["same_fact_candidates"]].tolist() == pytest.approx([1 / 3] * 2)


def test_env_checks_and_spaces() -> None:
    env = gym.make("memgym/Selector-Dialogue-v0")
    check_env(env.unwrapped, skip_render_check=True)
    assert env.action_space == gym.spaces.Discrete(9)


def test_masks_budget_and_bad_actions() -> None:
    env = SelectorEnv(**gym.spec("memgym/Selector-Dialogue-v0").kwargs)
    env.reset(seed=3)
    game = env.game
    n = game.n_candidates
    mask = env.action_masks()
    assert mask[n] and mask[:len(game.candidates)].all() and not mask[len(game.candidates):n].any()
    question = game.core.view.question
    _, reward, _, _, info = env.step(n + 5)  # out of range: penalty, nothing changes
    assert not info["ok"] and reward == pytest.approx(-0.1) and game.selected == []
    assert game.core.view.question == question
    picks = min(game.budget, len(game.candidates))
    for r in range(picks):
        env.step(r)
    assert len(game.selected) == picks and not env.action_masks()[:n].any()
    _, reward, _, _, info = env.step(0)  # already picked / budget spent
    assert info["error"] == "invalid_action" and len(game.selected) == picks


def test_three_invalid_actions_answer_the_question() -> None:
    env = SelectorEnv(**gym.spec("memgym/Selector-Dialogue-v0").kwargs)
    env.reset(seed=0)
    answered = len(env.core.records)
    for _ in range(3):
        env.step(-1)
    assert len(env.core.records) == answered + 1


def test_reward_is_the_selectors_terms_and_costs_per_entry() -> None:
    env = gym.make("memgym/Selector-Dialogue-v0")
    agent = SELECTION_BASELINES["select_budget"]()
    obs, info = env.reset(seed=1)
    agent.reset(env, 1)
    done = False
    while not done:
        obs, reward, done, _, info = env.step(agent.act(obs, info, env))
        assert reward == pytest.approx(sum(info["reward_terms"].values()))
        assert "evidence" not in info["reward_terms"]
    n = len(env.unwrapped.core.episode.questions)
    passed = sum(r["passed"] for r in env.unwrapped.log)
    assert info["entries_passed"] == pytest.approx(passed / len(env.unwrapped.log))
    assert "manager_terms" in info
    _, info_none = play(env, SELECTION_BASELINES["select_none"](), 1)
    assert info_none["qa_score"] == 0.0  # no entry read: no answer, no reward
    assert n >= 1


def test_credit_terms_match_their_definitions() -> None:
    env = gym.make("memgym/MemSifter-v0")
    agent = SELECTION_BASELINES["select_top_k"]()
    obs, info = env.reset(seed=2)
    agent.reset(env, 2)
    game, seen = env.unwrapped.game, []
    done = False
    while not done:
        if game.role == "selector" and len(game.selected) == 3 or \
                agent.act(obs, info, env) == game.n_candidates:
            texts = [e.text for e in game.entries()]
            question = game.core.episode.questions[game.core.view.question]
            prefix = [game._score_prefix(question, texts, [-1] * len(texts), game.selected[:r])
                      for r in range(len(game.selected) + 1)]
            expected = 0.5 * rank_credit(prefix) / game.core.n_questions
            obs, _, done, _, info = env.step(game.n_candidates)
            seen.append((info["reward_terms"]["rank_credit"], expected))
        else:
            obs, _, done, _, info = env.step(agent.act(obs, info, env))
    assert seen and all(a == pytest.approx(b) for a, b in seen)
    assert any(a != 0 for a, _ in seen)


def test_deterministic_and_baselines_ordered() -> None:
    env = gym.make("memgym/Selector-MultiHop-v0")
    first, info1 = play(env, SELECTION_BASELINES["select_top_k"](), 5)
    second, info2 = play(env, SELECTION_BASELINES["select_top_k"](), 5)
    assert first == second and info1["qa_score"] == info2["qa_score"]
    scores = {name: np.mean([play(env, SELECTION_BASELINES[name](), s)[1]["qa_score"]
                             for s in range(6)]) for name in ("select_none", "select_oracle")}
    assert scores["select_oracle"] > scores["select_none"] == 0.0


def test_manager_must_be_known() -> None:
    with pytest.raises(ValueError, match="unknown baseline 'nobody'"):
        SelectorEnv(manager="nobody", **{k: v for k, v in gym.spec(
            "memgym/Selector-Dialogue-v0").kwargs.items() if k != "manager"})
    with pytest.raises(ValueError, match="budget"):
        SelectorEnv(**{**gym.spec("memgym/Selector-Dialogue-v0").kwargs, "budget": 9})
