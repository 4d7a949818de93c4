"""LTS recipe: admission control (admit / skip per chunk) with reuse-based credit.

## Description

LTS-style learned admission to long-term memory: on KV-updates streams of stable
facts (each queried fact stated and restated, never changed, amid hedged rumours with wrong
values and chatter; half of the questions asked mid-stream),
the agent decides per chunk whether to admit it. A full memory evicts the entry written
longest ago, so every policy runs at the same budget (``tiers``) and only admission
differs. Registered as ``memgym/LTS-Admission-v0`` with entry point
``memgym.recipes.lts:AdmissionEnv``.

## Action Space

``Discrete(2)``: skip / admit (see :class:`memgym.recipes.lts.AdmissionEnv`).

## Observation Space

The structured env's ``Dict`` of ``Box`` arrays (see :mod:`memgym.envs.structured`).

## Rewards

``reuse``: +1 / number of questions per correct answer that an admitted entry supported (the
credit shared by the entries the reader retrieved that hold the answer);
``op_cost``: -0.01 per admission (sparsity). The ``qa`` weight is 0: QA is what the policy
is scored on, not what it is paid for.

## Episode End

After the last chunk, once every question is answered.

## Arguments

Task: KV-updates parameters (``length=40``, ``n_keys=6``, ``update_rate=0`` and
``mid_stream_questions=3``). Stable facts on purpose: with updates, a stale value kept
beside the fresh one spoils the answer and only an overwrite / delete op can fix that, which
an admission-only policy does not have (measured: every admission rule scores <= 0.24 at
``update_rate=0.8``).
Env: a 6-entry memory, ``reuse_bonus=1.0``, ``rewards`` as above; all overridable in
``gym.make`` / a config's ``env.kwargs``.

## Version History

- v0: initial release.
"""

from __future__ import annotations

from memgym.envs.registration import register_env

ENV_ID = "memgym/LTS-Admission-v0"
ENTRY_POINT = "memgym.recipes.lts:AdmissionEnv"
TASK = "memgym.tasks.kv_updates:KVUpdatesTask"
ADMISSION_COST = 0.01
KWARGS = {
    "task": TASK,
    "task_params": {"length": 40, "n_keys": 6, "distractor_rate": 0.4, "update_rate": 0.0,
                    "mid_stream_questions": 3},
    "tiers": {"memory": {"entries": 6, "tokens": None}},
    "ops": ("noop", "add", "update"),
    "rewards": {"qa": 0.0, "op_costs": {"add": ADMISSION_COST, "update": ADMISSION_COST}},
    "reuse_bonus": 1.0,
}

register_env(
    ENV_ID, ENTRY_POINT, kwargs=KWARGS, task=TASK, interface="structured",
    description="LTS: admit / skip per chunk at a fixed budget (FIFO eviction), reuse-credit reward.")
