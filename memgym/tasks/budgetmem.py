"""BudgetMem recipe ids: the Revisit stream (:mod:`memgym.tasks.rememr1`) with a learned
per-question budget-tier router (:mod:`memgym.recipes.budgetmem`).

## Description

``memgym/BudgetMem-v0``: Revisit (24 chunks, 3 asked pairs, 40% unasked facts, 20% chatter
naming an asked pair) written by a fixed FIFO memory of 4 entries; the policy routes each
question to the ``low`` / ``mid`` / ``high`` tier. ``memgym/BudgetMem-NoAlign-v0``: the same
without BudgetMem's reward-scale alignment factor.

## Action Space

``Discrete(3)``: low / mid / high retrieval tier for the question in view.

## Observation Space

The structured env's ``Dict`` of ``Box`` arrays (question in view, memory slots).

## Rewards

``score + lambda * a * (-cost)`` per question (``a``: std(task) / std(cost), or 1 unaligned).

## Episode End

After the last question.

## Arguments

``lam`` (default 1.0), ``align``, ``align_window``, ``retrieval_tiers`` and every argument of
:class:`memgym.envs.structured.MemoryEnv`; task parameters of
:class:`memgym.tasks.rememr1.RevisitParams` via ``task_params`` / reset options.

## Version History

- v0: initial release.
"""

from __future__ import annotations

from typing import Any

from memgym.envs.registration import register_recipe
from memgym.tasks.rememr1 import REVISIT_TASK

BUDGETMEM_TASK: dict[str, Any] = {"length": 24, "n_keys": 3, "fact_rate": 0.4,
                                  "mention_rate": 0.2}
BUDGETMEM_ENV: dict[str, Any] = {
    "tiers": {"episodic": {"entries": 4, "tokens": None}},
    "ops": ("noop", "add", "update"),
}

register_recipe(
    "BudgetMem", "memgym.recipes.budgetmem:make_env",
    levels={"": {"task": BUDGETMEM_TASK, "env": {**BUDGETMEM_ENV, "lam": 1.0, "align": True}}},
    description="BudgetMem: learned per-question tier router, task + lambda * aligned cost reward.",
    task=REVISIT_TASK,
)
register_recipe(
    "BudgetMem-NoAlign", "memgym.recipes.budgetmem:make_env",
    levels={"": {"task": BUDGETMEM_TASK, "env": {**BUDGETMEM_ENV, "lam": 1.0, "align": False}}},
    description="BudgetMem ablation: the cost reward without the std(task)/std(cost) alignment.",
    task=REVISIT_TASK,
)
