"""TRIM-KV recipe: the eviction-choice env, its mechanics, the new baselines, config, script."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import memgym  # noqa: F401
from memgym.agents.baselines import BASELINES, RecencyWeightedAgent
from memgym.episode import Chunk, Episode, Question
from memgym.recipes.trim_kv import EvictionEnv, WriteOrderFIFOAgent
from memgym.recipes.ids import TRIM_KV_ENV_ID as ENV_ID

from recipe_checks import run_benchmark_script, validated_recipe_config

FACTS = ["Ann Lee's city is Oslo.", "Bob Ray's job is baker.", "Cy Fox's pet is cat.",
         "Di Moe's hobby is chess.", "Ed Poe's city is Lima."]


def _episode(texts: list[str], questions: list[Question]) -> Episode:
    return Episode(chunks=tuple(Chunk(i, t) for i, t in enumerate(texts)),
                   questions=tuple(questions), task="hand", split="train", seed=0)


def _env(budget: int = 2, **kwargs) -> EvictionEnv:
    return EvictionEnv(budgets=(budget,), tiers={"memory": {"entries": 4, "tokens": None}},
                       **kwargs)


def test_registered_env_passes_check_env_and_plays_to_the_end():
    env = gym.make(ENV_ID)
    check_env(env.unwrapped, skip_render_check=True)
    for budget in (2, 8):
        obs, _ = env.reset(seed=3, options={"budget": budget})
        core = env.unwrapped.core
        assert env.unwrapped.budget == budget
        assert len(core.store.entries) == budget  # admitted without a decision while room
        rng, total, done, steps = np.random.default_rng(0), 0.0, False, 0
        while not done:
            mask = env.unwrapped.action_masks()
            assert not mask[env.unwrapped.action_index[("add", -1, 0)]]  # full: no add
            obs, reward, done, _, info = env.step(int(rng.choice(np.flatnonzero(mask))))
            assert env.observation_space.contains(obs)
            assert len(core.store.entries) <= budget
            total, steps = total + reward, steps + 1
        assert steps == len(core.episode.chunks) - budget  # one decision per chunk once full
        # Rewards of the automatic admissions are carried, so the return is the QA score.
        assert total == pytest.approx(info["qa_score"])


def test_evict_replaces_the_chosen_entry_and_noop_drops_the_newcomer():
    env = _env(budget=2)
    q = Question("What is Cy Fox's pet?", ("cat",), evidence=(2,))
    env.reset(seed=0, options={"episode": _episode(FACTS[:4], [q])})
    store = env.core.store
    assert sorted(e.text for e in store.entries.values()) == sorted(FACTS[:2])
    slot_of_bob = next(k for k in range(4) if env.slot_entry[k] >= 0 and
                       store.entries[int(env.slot_entry[k])].text == FACTS[1])
    _, reward, done, _, info = env.step(env.action_index[("update", slot_of_bob, -1)])
    assert sorted(e.text for e in store.entries.values()) == sorted([FACTS[0], FACTS[2]])
    assert not done and info["ok"] and info["op"] == "update"
    _, reward, done, _, info = env.step(0)  # drop "Di Moe ..."
    assert done and sorted(e.text for e in store.entries.values()) == sorted([FACTS[0], FACTS[2]])
    assert reward == pytest.approx(1.0) and info["qa_score"] == 1.0  # Cy Fox's pet kept


def test_bad_actions_and_budgets_fail_cleanly():
    env = _env(budget=2)
    env.reset(seed=0, options={"episode": _episode(FACTS * 2, [])})
    before = env.core.store.snapshot()
    for action in (env.action_index[("add", -1, 0)], 999, "x", None):
        _, reward, _, _, info = env.step(action)  # add over budget / out of range: invalid
        assert info["ok"] is False and reward < 0
        assert env.core.store.snapshot()["entries"].keys() == before["entries"].keys()
    with pytest.raises(ValueError, match="budget"):
        env.reset(seed=0, options={"budget": 9})
    with pytest.raises(ValueError, match="budget"):
        EvictionEnv(budgets=(0,))
    with pytest.raises(ValueError, match="ops"):
        EvictionEnv(ops=("noop", "add", "update", "delete"))
    # A stream that never fills the budget ends at the first step, whatever the action.
    env.reset(seed=0, options={"episode": _episode(FACTS[:1], [])})
    assert env.step(5)[2] is True


def test_recency_weighted_keeps_read_entries_and_fifo_write_the_newest():
    env = _env(budget=2)
    # A mid-stream question about Ann reads her entry (hits = 1) right after chunk 1.
    q = Question("What is Ann Lee's city?", ("Oslo",), evidence=(0,), asked_after=1)
    env.reset(seed=0, options={"episode": _episode(FACTS[:4], [q])})
    store = env.core.store
    ann = next(e for e in store.entries.values() if e.text == FACTS[0])
    assert ann.hits == 1
    for name, cls, kept in (("recency", RecencyWeightedAgent, FACTS[0]),
                            ("fifo_write", WriteOrderFIFOAgent, FACTS[1])):
        assert BASELINES[name] is cls
        env.reset(seed=0, options={"episode": _episode(FACTS[:4], [q])})
        agent = cls()
        agent.reset(env, 0)
        env.step(agent.act(None, {}, env))  # chunk 2 arrives: one of chunks 0, 1 must go
        texts = {e.text for e in env.core.store.entries.values()}
        assert texts == {kept, FACTS[2]}, name


def test_fifo_falls_behind_the_salience_rule_at_a_small_budget_and_gains_with_budget():
    """Measured, small: FIFO keeps the last chunks whatever they hold, so at budget 2 it is
    below the content-aware rule, and it gains from a larger budget."""
    from memgym.agents.evaluate import evaluate_agents

    scores = {}
    for budget in (2, 32):
        report = evaluate_agents(["fifo_write", "salience", "oracle"], ENV_ID, episodes=6,
                                 options={"budget": budget})
        scores[budget] = {k: v["qa_score"] for k, v in report["agents"].items()}
    assert scores[2]["salience"] > scores[2]["fifo_write"]
    assert scores[32]["fifo_write"] > scores[2]["fifo_write"]


def test_config_validates():
    config = validated_recipe_config("trim_kv")
    assert config.env.id == ENV_ID


@pytest.mark.slow
def test_benchmark_script_runs(tmp_path):
    result = run_benchmark_script(
        "trim_kv", ["--minutes", "0.3", "--steps", "4096", "--episodes", "2", "--out",
                    str(tmp_path)], tmp_path)
    assert set(result["table"]) >= {"learned", "fifo_write", "lru", "recency", "oracle"}
    assert (tmp_path / "trim_kv.md").read_text().startswith("# TRIM-KV")
