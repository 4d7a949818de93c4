"""The ``invalidate`` op (Zep / Graphiti: an old fact ends, it is not deleted) everywhere."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import memgym  # noqa: F401
from memgym.agents.evaluate import evaluate_agents
from memgym.episode import Chunk, Episode, Question
from memgym.envs.memory import MemoryStore, parse_tiers

OPS = ("noop", "add", "update", "delete", "invalidate")


def test_store_semantics() -> None:
    store = MemoryStore(parse_tiers({"episodic": {"entries": 2, "tokens": None}}))
    store.add("Ann's city is Oslo.", "episodic", source=0, step=1)
    result = store.invalidate(0, step=3)
    assert result.ok and store.entries[0].invalidated == 3
    assert store.tier_entries["episodic"] == 1, "an invalidated entry keeps its room"
    assert store.valid_entries() == []
    again = store.invalidate(0, step=4)
    assert not again.ok and again.error == "already_invalid"
    assert store.invalidate(9, step=4).error == "unknown_id"
    assert store.update(0, "Ann's city is Rome.", source=2, step=5).ok
    assert store.entries[0].invalidated is None, "an update makes it valid again"


def episode() -> Episode:
    texts = ["Ann's city is Oslo.", "Ann's city is Rome.", "Bob's job is pilot."]
    return Episode(chunks=tuple(Chunk(i, t) for i, t in enumerate(texts)),
                   questions=(Question("What is Ann's city?", ("Rome",), evidence=(1,),
                                       conflicting=(0,)),), task="t", split="val", seed=0)


def play(actions: list[str]) -> tuple[float, gym.Env]:
    env = gym.make("memgym/KVUpdates-Easy-v0", ops=OPS,
                   tiers={"episodic": {"entries": 3, "tokens": None}})
    env.reset(seed=0, options={"episode": episode()})
    base = env.unwrapped
    info: dict = {}
    for name in actions:
        _, _, done, _, info = env.step(base.action_names.index(name))
    assert done
    return info["qa_score"], env


def test_the_reader_skips_invalidated_entries() -> None:
    # Keep Oslo then Rome: both are read, the answer is ambiguous.
    both, _ = play(["add->episodic", "add->episodic", "noop"])
    # Keep both, then spend the third chunk's op invalidating Oslo (slot 0).
    fixed, env = play(["add->episodic", "add->episodic", "invalidate slot 0"])
    assert both == 0.0 and fixed == 1.0
    store = env.unwrapped.core.store
    assert len(store.entries) == 2 and store.entries[0].invalidated is not None


def test_structured_env_masks_and_observes_invalidated_slots() -> None:
    env = gym.make("memgym/KVUpdates-Medium-v0", ops=OPS)
    check_env(env.unwrapped, skip_render_check=True)
    base = env.unwrapped
    obs, _ = env.reset(seed=1)
    assert obs["slot_invalid"].shape == (base.n_slots,) and not obs["slot_invalid"].any()
    rows = base._op_index["invalidate"]
    assert not base.action_masks()[rows].any(), "nothing held yet: nothing to invalidate"
    obs, *_ = env.step(base.action_names.index("add->episodic"))
    slot = int(np.flatnonzero(base.slot_entry >= 0)[0])
    action = base.action_names.index(f"invalidate slot {slot}")
    if base.core.view.kind == "chunk":
        assert base.action_masks()[action]
        obs, *_ = env.step(action)
        assert obs["slot_invalid"][slot] == 1.0 and not base.action_masks()[action]
    plain = gym.make("memgym/KVUpdates-Medium-v0")
    assert "slot_invalid" not in plain.observation_space.spaces, "other envs keep their spaces"


def test_text_tool_and_errors() -> None:
    env = gym.make("memgym/KVUpdates-Easy-Text-v0", ops=OPS)
    _, info = env.reset(seed=0)
    assert "invalidate_memory" in info["tools"]
    env.step('{"op": "add"}')
    prompt, _, _, _, info = env.step('{"name": "invalidate_memory", "arguments": {"id": 0}}')
    assert info["ok"] and "(invalidated: not read)" in prompt
    _, _, _, _, info = env.step('{"name": "invalidate_memory", "arguments": {"id": 0}}')
    assert not info["ok"] and info["error"] == "already_invalid"
    plain = gym.make("memgym/KVUpdates-Easy-Text-v0")
    _, info = plain.reset(seed=0)
    assert "invalidate_memory" not in info["tools"]


def test_the_batched_env_runs_it() -> None:
    """Same results as single envs: tests/test_vector.py (route + invalidate, every op)."""
    venv = gym.make_vec("memgym/KVUpdates-Easy-v0", num_envs=2,
                        vectorization_mode="vector_entry_point", ops=OPS)
    obs, info = venv.reset(seed=0)
    invalidate = [i for i, name in enumerate(venv.unwrapped.action_names)
                  if name.startswith("invalidate")]
    assert obs["slot_invalid"].shape == (2, len(invalidate))
    venv.step(np.array([1, 1]))  # add: one entry each, then invalidate it
    obs, *_ = venv.step(np.array([invalidate[0]] * 2))
    assert obs["slot_invalid"][:, 0].tolist() == [1.0, 1.0]


def test_invalidate_baseline() -> None:
    kwargs = {"ops": OPS}
    report = evaluate_agents(["invalidate", "add_only"], "memgym/KVUpdates-Medium-v0",
                             split="val", episodes=6, env_kwargs=kwargs)
    ops = report["agents"]["invalidate"]["ops_per_episode"]
    assert ops.get("invalidate", 0) > 0 and report["agents"]["invalidate"]["invalid_per_episode"] == 0
    assert report["agents"]["invalidate"]["qa_score"] > report["agents"]["add_only"]["qa_score"]
    with pytest.raises(ValueError, match="needs the invalidate op"):
        evaluate_agents(["invalidate"], "memgym/KVUpdates-Medium-v0", episodes=1)
