"""TRIM-KV recipe: learned eviction under a tight memory budget, a curve over budgets.

## Description

TRIM-KV-style retention: every chunk of a stream of stable facts (KV-updates generator with
no value changes and no rumours: 8 queried facts, each stated three times, among as many
chunks of chatter; half of the questions asked mid-stream, so entries get read before the
end) enters memory while there is room; once memory holds ``budget`` entries the agent picks
which entry each new chunk replaces, or drops the newcomer. As in a KV cache, keeping more
never hurts (no stale or conflicting values), so every policy reaches the same ceiling at a
full budget and the question is how much each keeps at a tight one. The budget is drawn per
episode from ``budgets`` so one policy covers the whole curve. Registered as
``memgym/TrimKV-Eviction-v0`` with entry point ``memgym.recipes.trim_kv:EvictionEnv``.

## Action Space

The structured env's flat ``Discrete`` layout (noop = drop the incoming chunk, update slot k
= evict slot k for it; add masked when full); see :class:`memgym.recipes.trim_kv.EvictionEnv`.

## Observation Space

The structured env's ``Dict`` of ``Box`` arrays (see :mod:`memgym.envs.structured`).

## Rewards

Mean QA score (EM of the BM25 reader) over the episode's questions; the recipe config adds
potential-based evidence shaping for training.

## Episode End

After the last chunk, once every question is answered.

## Arguments

Task: KV-updates parameters (``length=48``, ``n_keys=8``, ``n_entities=4``,
``distractor_rate=0``, ``filler_rate=0.5``, ``update_rate=0``, ``mid_stream_questions=4``;
pass ``task_params`` for the conflicting setting with updates and rumours).
Env: one 32-entry tier, ``budgets=(2, 4, 8, 16, 32)``; ``reset(options={"budget": b})``.

## Version History

- v0: initial release.
"""

from __future__ import annotations

from memgym.envs.registration import register_env

ENV_ID = "memgym/TrimKV-Eviction-v0"
ENTRY_POINT = "memgym.recipes.trim_kv:EvictionEnv"
TASK = "memgym.tasks.kv_updates:KVUpdatesTask"
BUDGETS = (2, 4, 8, 16, 32)
KWARGS = {
    "task": TASK,
    "task_params": {"length": 48, "n_keys": 8, "n_entities": 4, "distractor_rate": 0.0,
                    "filler_rate": 0.5, "update_rate": 0.0, "mid_stream_questions": 4},
    "tiers": {"memory": {"entries": max(BUDGETS), "tokens": None}},
    "ops": ("noop", "add", "update"),
    "budgets": BUDGETS,
}

register_env(
    ENV_ID, ENTRY_POINT, kwargs=KWARGS, task=TASK, interface="structured",
    description="TRIM-KV: choose which entry to evict when memory is full; budget per episode.")
