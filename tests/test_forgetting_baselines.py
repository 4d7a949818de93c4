"""The forgetting-curve baselines (MemoryBank's Ebbinghaus curve, HEMA's age-weighted pruning)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np

import memgym  # noqa: F401
from memgym.agents.baselines import BASELINES
from memgym.agents.evaluate import evaluate_agents


def full_memory_env(now: int) -> gym.Env:
    """A KV-updates env whose two slots are full, at step ``now`` of the stream."""
    env = gym.make("memgym/KVUpdates-Easy-v0", tiers={"episodic": {"entries": 2, "tokens": None}})
    env.reset(seed=0)
    base = env.unwrapped
    for _ in range(2):
        add = base.action_index[("add", -1, 0)]
        env.step(add)
    base.core.step_count = now
    return env


def victim(agent_name: str, env: gym.Env) -> int:
    base = env.unwrapped
    agent = BASELINES[agent_name]()
    agent.reset(env, seed=0)
    action = agent.choose(base, base.action_masks())
    assert base.action_ops[action] == "update", "memory is full: the agent overwrites"
    return int(base.slot_entry[int(base.action_args[action])])


def test_a_recall_renews_an_entry_for_ebbinghaus_but_not_for_age_weighting() -> None:
    env = full_memory_env(now=200)
    old, new = sorted(env.unwrapped.core.store.entries.values(), key=lambda e: e.id)
    # `old`: written at step 0, recalled once, at step 199; `new`: written at 190, never read.
    old.updated, old.last_used, old.hits = 0, 199, 1
    new.updated, new.last_used, new.hits = 190, 190, 0
    # Ebbinghaus: t / S = 1 / 2 for old, 10 / 1 for new: the recall made `old` fresh.
    assert victim("ebbinghaus", env) == new.id
    # Age-weighted: 2 * decay**200 for old < 1 * decay**10 for new (decay 0.99): age wins.
    decay = BASELINES["age_weighted"].decay
    assert 2 * decay ** 200 < decay ** 10
    assert victim("age_weighted", env) == old.id
    old.hits = 20  # enough recalls outweigh the age: 21 * 0.99**200 = 2.8 > 0.90
    assert victim("age_weighted", env) == new.id


def test_recalls_count_from_the_last_write() -> None:
    env = full_memory_env(now=20)
    base = env.unwrapped
    agent = BASELINES["ebbinghaus"]()
    agent.reset(env, seed=0)
    for entry in base.core.store.entries.values():
        entry.hits = 5
    action = agent.choose(base, base.action_masks())
    overwritten = int(base.slot_entry[int(base.action_args[action])])
    assert agent.recalls(base.core.store.entries[overwritten]) == 0
    assert agent.hits_at_write == {overwritten: 5}


def test_they_play_the_eviction_recipe_at_every_budget() -> None:
    for budget in (2, 8):
        report = evaluate_agents(["ebbinghaus", "age_weighted", "recency"],
                                 "memgym/TrimKV-Eviction-v0", episodes=2,
                                 options={"budget": budget})
        scores = {name: s["qa_score"] for name, s in report["agents"].items()}
        assert all(0.0 <= v <= 1.0 for v in scores.values()) and np.isfinite(list(scores.values())).all()
        assert report["agents"]["ebbinghaus"]["invalid_per_episode"] == 0.0
