"""Memex recipe ids: the Revisit stream (:mod:`memgym.tasks.rememr1`) with bulky facts, an
indexed archive with summaries in context, and context-budget / redundancy penalties
(:mod:`memgym.recipes.memex`).

## Description

``memgym/Memex-v0``: Revisit (12 chunks, 2 asked pairs, 2 unasked facts, every fact carrying
8 bookkeeping details, ~25 tokens; summaries ~4), a memory of 3 entries, a working-context
budget of 32 tokens; ops noop / add / update / delete / evict / reread (archive only), two ops
per chunk.
``memgym/Memex-NoArchive-v0``: the same without evict and reread.

## Action Space

The structured env's flat ``Discrete`` action (``reread archive j`` for the 4 most recently
archived entries; ``reread similar`` masked).

## Observation Space

The structured env's ``Dict`` of ``Box`` arrays, with ``archive`` rows.

## Rewards

QA score, minus the context-budget and redundancy penalties and the reread cost.

## Episode End

After the last chunk, once every question is answered.

## Arguments

``budget_tokens``, ``budget_penalty``, ``redundancy_penalty`` and every argument of
:class:`memgym.envs.structured.MemoryEnv`; task parameters of
:class:`memgym.tasks.rememr1.RevisitParams`.

## Version History

- v0: initial release.
"""

from __future__ import annotations

from typing import Any

from memgym.envs.registration import register_recipe
from memgym.tasks.rememr1 import REVISIT_TASK

# Small on purpose: a small PPO policy must discover add -> evict -> (cue) reread -> add
# within a few minutes of CPU (a 20-chunk, 6-slot level reached 0.15 QA in 45k steps).
MEMEX_TASK: dict[str, Any] = {"length": 12, "n_keys": 2, "fact_rate": 0.17, "detail": 8,
                              "min_gap": 3}
MEMEX_ENV: dict[str, Any] = {
    "tiers": {"episodic": {"entries": 3, "tokens": None}},
    "ops_per_chunk": 2,
    "archive_view": 4,
    "budget_tokens": 32,
    "budget_penalty": 0.25,
    "redundancy_penalty": 0.05,
}

register_recipe(
    "Memex", "memgym.recipes.memex:make_env",
    levels={"": {"task": MEMEX_TASK, "env": {
        **MEMEX_ENV, "ops": ("noop", "add", "update", "delete", "evict", "reread")}}},
    description="Memex: indexed archive (evict with summary, reread by index), context budget.",
    task=REVISIT_TASK,
)
register_recipe(
    "Memex-NoArchive", "memgym.recipes.memex:make_env",
    levels={"": {"task": MEMEX_TASK, "env": {**MEMEX_ENV, "ops": ("noop", "add", "update", "delete")}}},
    description="Memex ablation: the same stream and context budget without the archive.",
    task=REVISIT_TASK,
)
