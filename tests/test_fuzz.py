"""Property / fuzz tests: random masked and unmasked action sequences on every registered
environment, with the store's invariants checked after every step.

The default run takes a few thousand steps per env; ``make test-slow`` runs 100,000.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import memgym

STRUCTURED = [i for i, info in memgym.REGISTRY.items()
              if info.interface == "structured" and not info.needs_data]
ALL_OPS = ("noop", "add", "update", "delete", "evict", "route", "reread")


def contents(store) -> dict:
    """What memory holds (reader hit counters excluded: questions falling due after an
    invalid op that ended the chunk still read memory)."""
    def view(e):
        return (e.text, e.tier, e.source, e.created, e.updated, e.tokens)
    return {"entries": {k: view(e) for k, e in store.entries.items()},
            "archive": {k: view(e) for k, e in store.archive.items()}, "next_id": store.next_id}


def check_step(env, before: dict, obs, reward: float, info: dict, was_valid: bool) -> None:
    core = env.core
    core.store.check_invariants()
    assert np.isfinite(reward)
    assert env.observation_space.contains(obs)
    entries = core.store.entries
    assert len(env.entry_slot) == len(entries)
    assert sorted(env.entry_slot) == sorted(entries), "slot map and store disagree"
    assert set(env.slot_entry[env.slot_entry >= 0]) == set(entries)
    if not was_valid:
        assert contents(core.store) == before
        assert info["ok"] is False


def fuzz(env_id: str, steps: int, seed: int, masked_share: float, **env_kwargs) -> None:
    env = gym.make(env_id, **env_kwargs).unwrapped
    rng = np.random.default_rng(seed)
    obs, info = env.reset(seed=seed)
    for _ in range(steps):
        mask = info["action_mask"]
        if rng.random() < masked_share:
            action = int(rng.choice(np.flatnonzero(mask)))
        else:
            action = int(rng.integers(-2, env.action_space.n + 2))  # out of range too
        valid = 0 <= action < len(mask) and bool(mask[action])
        before = contents(env.core.store)
        obs, reward, terminated, truncated, info = env.step(action)
        check_step(env, before, obs, reward, info, valid)
        if terminated:
            obs, info = env.reset()


@pytest.mark.parametrize("env_id", STRUCTURED)
def test_fuzz_registered_envs(env_id: str) -> None:
    fuzz(env_id, steps=1500, seed=0, masked_share=0.7)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    ops=st.lists(st.sampled_from(ALL_OPS[1:]), min_size=1, max_size=6, unique=True),
    entries=st.lists(st.integers(1, 4), min_size=1, max_size=3),
    tokens=st.one_of(st.none(), st.integers(8, 60)),
    ops_per_chunk=st.integers(1, 3),
    seed=st.integers(0, 10_000),
)
def test_fuzz_any_memory_configuration(ops, entries, tokens, ops_per_chunk, seed) -> None:
    """Any op set, tier layout and token budget: invariants hold, nothing raises."""
    tiers = {f"t{i}": {"entries": n, "tokens": tokens} for i, n in enumerate(entries)}
    fuzz("memgym/KVUpdates-Easy-v0", steps=120, seed=seed, masked_share=0.6,
         ops=("noop", *ops), tiers=tiers, ops_per_chunk=ops_per_chunk, archive_capacity=3,
         retrieval_tiers=bool(seed % 2))


@pytest.mark.slow
@pytest.mark.parametrize("env_id", STRUCTURED)
def test_fuzz_registered_envs_long(env_id: str) -> None:
    fuzz(env_id, steps=100_000, seed=1, masked_share=0.5)
