"""Exact semantics of the memory operations, their errors, and the store's invariants."""

from __future__ import annotations

import numpy as np
import pytest

from memgym.episode import Chunk
from memgym.envs.memory import MemoryStore, parse_tiers


def make_store(**kwargs) -> MemoryStore:
    tiers = parse_tiers({"core": {"entries": 1, "tokens": 8, "always_shown": True},
                         "episodic": {"entries": 2, "tokens": None}})
    return MemoryStore(tiers, **kwargs)


def test_add_update_delete_semantics() -> None:
    store = make_store()
    first = store.add("Ann's city is Oslo.", "episodic", source=0, step=1)
    assert first.ok and first.entry_id == 0
    assert store.entries[0].text == "Ann's city is Oslo." and store.entries[0].tier == "episodic"
    updated = store.update(0, "Ann's city is Rome.", source=3, step=5)
    assert updated.ok and store.entries[0].text == "Ann's city is Rome."
    assert store.entries[0].created == 1 and store.entries[0].updated == 5
    assert store.entries[0].source == 3
    assert store.delete(0).ok and 0 not in store.entries and not store.archive
    second = store.add("Bob's job is pilot.", "episodic", source=1, step=6)
    assert second.entry_id == 1, "ids are never reused"
    store.check_invariants()


def test_capacity_in_entries_and_tokens() -> None:
    store = make_store()
    assert store.add("a b", "episodic", source=None, step=0).ok
    assert store.add("c d", "episodic", source=None, step=0).ok
    full = store.add("e f", "episodic", source=None, step=0)
    assert not full.ok and full.error == "tier_full" and "full" in full.message
    too_long = store.add("one two three four five six seven eight nine", "core", source=None, step=0)
    assert not too_long.ok and too_long.error == "over_token_budget"
    assert store.add("short note", "core", source=None, step=0).ok
    grow = store.update(2, "one two three four five six seven eight nine", source=None, step=1)
    assert not grow.ok and grow.error == "over_token_budget"
    store.check_invariants()


def test_evict_archive_and_recall() -> None:
    store = make_store(archive_capacity=1)
    store.add("first", "episodic", source=0, step=0)
    store.add("second", "episodic", source=1, step=0)
    assert store.evict(0).ok and 0 in store.archive and 0 not in store.entries
    recalled = store.recall_archived(0)
    assert recalled.ok and recalled.view == "first" and recalled.view_source == 0
    assert store.evict(1).ok
    assert list(store.archive) == [1], "archive drops its oldest entry beyond capacity"
    assert not store.recall_archived(0).ok
    store.check_invariants()


def test_route_between_tiers() -> None:
    store = make_store()
    store.add("tiny", "episodic", source=None, step=0)
    assert store.route(0, "core").ok and store.entries[0].tier == "core"
    same = store.route(0, "core")
    assert not same.ok and same.error == "same_tier"
    store.add("other", "episodic", source=None, step=0)
    assert not store.route(1, "core").ok, "core holds one entry"
    assert store.route(1, "nowhere").error == "unknown_tier"
    store.check_invariants()


def test_recall_chunk_from_stream_log() -> None:
    store = make_store()
    store.log.extend([Chunk(0, "hello", speaker="Ann"), Chunk(1, "bye")])
    recalled = store.recall_chunk(0)
    assert recalled.ok and recalled.view == "Ann: hello" and recalled.view_source == 0
    missing = store.recall_chunk(5)
    assert not missing.ok and missing.error == "unknown_chunk"


@pytest.mark.parametrize("op", ["update", "delete", "evict", "route"])
def test_unknown_ids_fail_and_change_nothing(op: str) -> None:
    store = make_store()
    store.add("kept", "episodic", source=None, step=0)
    before = store.snapshot()
    args = {"update": (99, "x"), "delete": (99,), "evict": (99,), "route": (99, "core")}[op]
    kwargs = {"source": None, "step": 1} if op == "update" else {}
    result = getattr(store, op)(*args, **kwargs)
    assert not result.ok and result.error == "unknown_id" and "99" in result.message
    assert store.snapshot() == before


def test_empty_text_is_rejected() -> None:
    store = make_store()
    assert store.add("   ", "episodic", source=None, step=0).error == "empty_text"


def test_random_operation_sequences_keep_invariants() -> None:
    rng = np.random.default_rng(0)
    store = make_store(archive_capacity=3)
    for step in range(3000):
        op = rng.choice(["add", "update", "delete", "evict", "route"])
        ids = list(store.entries) + [store.next_id + 5]
        target = int(rng.choice(ids))
        text = " ".join(["w"] * int(rng.integers(0, 7)))
        tier = str(rng.choice(["core", "episodic", "nowhere"]))
        if op == "add":
            store.add(text, tier, source=step, step=step)
        elif op == "update":
            store.update(target, text, source=step, step=step)
        elif op == "route":
            store.route(target, tier)
        else:
            getattr(store, op)(target)
        store.check_invariants()


def test_bad_tier_config_names_the_key() -> None:
    with pytest.raises(ValueError, match="tiers.episodic: unknown keys"):
        parse_tiers({"episodic": {"entries": 2, "size": 3}})
    with pytest.raises(ValueError, match="entries must be >= 1"):
        parse_tiers({"episodic": {"entries": 0}})


def test_tier_spec_is_parsed_once_into_the_layout_every_layer_reads() -> None:
    import pickle

    layout = parse_tiers({"core": {"entries": 1, "tokens": 8, "always_shown": True},
                          "episodic": {"entries": 3, "tokens": None}})
    assert parse_tiers(layout) is layout, "a parsed layout passes through unchanged"
    assert layout.names == ("core", "episodic") and layout.n_slots == 4
    assert layout.slot_tier.tolist() == [0, 1, 1, 1]
    assert layout.token_caps.tolist() == [8.0, np.inf]
    assert layout.always_shown.tolist() == [True, False] and layout.default == "episodic"
    assert layout.position == {"core": 0, "episodic": 1} and layout[1].entries == 3
    copy = pickle.loads(pickle.dumps(layout))  # subprocess workers get the same layout
    assert tuple(copy) == tuple(layout) and copy.slot_tier.tolist() == [0, 1, 1, 1]
    assert MemoryStore(layout).tier_specs["core"].tokens == 8
    with pytest.raises(ValueError, match="unique"):
        MemoryStore((layout[0], layout[0]))
