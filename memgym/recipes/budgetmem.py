"""BudgetMem (Zhang et al. 2026, "Learning Query-Aware Budget-Tier Routing for Runtime Agent
Memory"): a learned router picks a budget tier per question, rewarded for the task score and,
weighted by ``lambda``, for a low cost.

BudgetMem's router reward is ``r = r_task + lambda * a * r_cost`` with the alignment factor
``a = std(r_task) / std(r_cost)`` over a sliding window, so the cost reward has the task
reward's spread whatever the unit costs are counted in. Here (one memory module):

- the memory is written by a fixed manager (FIFO: store every chunk but cues, overwrite the
  oldest);
  the policy acts only when a question is in view, choosing ``low`` (BM25 top-1 over memory),
  ``mid`` (top-3) or ``high`` (top-5 over memory + the whole stream log: a reread of past
  chunks) — :data:`BUDGET_TIERS`, costs in relative compute units (1 / 3 / 10);
- ``r_task`` is the question's score (0 / 1), ``r_cost = -cost`` of the chosen tier;
- ``a`` is re-estimated after every routed question from the last ``align_window`` questions
  this env routed (a running estimate; kept when either spread is 0), ``a = 1`` with
  ``align=False``.

Registered as ``memgym/BudgetMem-v0`` (Revisit stream with chatter that names the asked
pair, so top-1 retrieval is often wrong, and a memory too small to keep every asked fact).

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
:class:`memgym.tasks.revisit.RevisitParams` via ``task_params`` / reset options.

## Version History

- v0: initial release.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np
from gymnasium import spaces

from memgym.envs.structured import MemoryEnv
from memgym.recipes.rememr1 import is_cue

#: Budget tiers of the recipe (the core's ``retrieval_tiers`` format).
BUDGET_TIERS: dict[str, dict[str, Any]] = {
    "low": {"top_k": 1, "cost": 1.0},
    "mid": {"top_k": 3, "cost": 3.0},
    "high": {"top_k": 5, "cost": 10.0, "archive": True, "log": True},
}
#: Routed questions needed before the alignment factor is first estimated.
MIN_ALIGN_SAMPLES = 16


class BudgetRouterEnv(MemoryEnv):
    """
    ## Description

    The memory is managed by a fixed FIFO writer; each question comes into view and the
    policy routes it to a budget tier (BudgetMem's router). One step = one question.

    ## Action Space

    ``Discrete(n_tiers)``: the retrieval tier for the question in view (always valid;
    ``action_masks()`` is all True).

    ## Observation Space

    ``MemoryEnv``'s ``Dict`` of ``Box`` arrays with the question in view (its relation to each
    memory slot: same key / subject / attribute, Jaccard).

    ## Rewards

    ``score + lambda * a * (-cost)`` per question; ``info["reward_terms"]`` holds ``task``,
    ``cost`` (raw, negative) and ``info["align_factor"]`` the factor ``a`` used.

    ## Episode End

    After the last question (the writer plays the chunks between questions).

    ## Arguments

    ``lam`` (>= 0), ``align`` (bool), ``align_window`` (>= 2), ``retrieval_tiers`` (default
    :data:`BUDGET_TIERS`), plus every ``MemoryEnv`` argument.

    ## Version History

    - v0: initial release.
    """

    def __init__(self, *args: Any, lam: float = 1.0, align: bool = True,
                 align_window: int = 256, retrieval_tiers: dict | None = None,
                 **kwargs: Any) -> None:
        if lam < 0:
            raise ValueError(f"lam must be >= 0, got {lam}")
        if align_window < 2:
            raise ValueError(f"align_window must be >= 2, got {align_window}")
        super().__init__(*args, retrieval_tiers=retrieval_tiers or BUDGET_TIERS, **kwargs)
        self.lam, self.align = float(lam), bool(align)
        self.tier_costs = np.array([float(s.get("cost", 0.0))
                                    for s in self.core.retrieval_tiers.values()])
        self.action_space = spaces.Discrete(len(self.tier_costs))
        self.action_layout = "routing"  # the memory-op baselines refuse it (acts_on)
        self._task_window: deque[float] = deque(maxlen=align_window)
        self._cost_window: deque[float] = deque(maxlen=align_window)
        self.align_factor = 1.0

    # -- the fixed writer ------------------------------------------------------------------
    def memory_action(self) -> int:
        """FIFO: add the chunk in view while there is room, else overwrite the oldest entry;
        cues are skipped (they state nothing, and would outrank every fact for their question)."""
        if is_cue(self.core.view.text):
            return 0
        mask = MemoryEnv.action_masks(self)
        add = self.action_index.get(("add", -1, 0))
        if add is not None and mask[add]:
            return add
        occupied = np.flatnonzero(self.slot_entry >= 0)
        if len(occupied):
            oldest = int(occupied[np.argmin(self.slot_num[0, occupied])])
            update = self.action_index.get(("update", oldest, -1))
            if update is not None and mask[update]:
                return update
        return 0

    def _play_memory(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        obs, info = self._observation(), self._info(None)
        while not self.core.done and self.core.view.kind != "question":
            obs, _, _, _, info = MemoryEnv.step(self, self.memory_action())
        return obs, info

    # -- gymnasium API -------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        super().reset(seed=seed, options=options)
        obs, info = self._play_memory()
        if self.core.done:
            raise ValueError("BudgetMem: the episode has no question to route")
        return obs, info

    def action_masks(self) -> np.ndarray:
        return np.ones(self.action_space.n, dtype=bool)

    def step(self, action: Any) -> tuple[dict[str, np.ndarray], float, bool, bool, dict]:
        try:
            tier = int(action)
        except (TypeError, ValueError):
            tier = -1
        if self.core.done or self.core.view.kind != "question":
            return self._observation(), 0.0, True, False, self._info(None)
        if not 0 <= tier < self.action_space.n:
            tier = 0  # a bad action gets the cheapest tier and the invalid penalty
            penalty = -self.core.rewards.invalid
        else:
            penalty = 0.0
        n_records = len(self.core.records)
        MemoryEnv.step(self, self.action_index[("answer", tier, -1)])
        score = self.core.records[n_records].score
        cost = -float(self.tier_costs[tier])
        factor = self.update_alignment(score, cost)
        reward = score + self.lam * factor * cost + penalty
        obs, info = self._play_memory()
        info["reward_terms"] = {"task": score, "cost": cost, "invalid": penalty}
        info["align_factor"] = factor
        info["tier"] = self.retrieval_names[tier]
        if self.core.done:
            records = self.core.records
            info["qa_score"] = sum(r.score for r in records) / max(len(records), 1)
        return obs, float(reward), self.core.done, False, info

    def update_alignment(self, task: float, cost: float) -> float:
        """Add one routed question to the window; the factor to weight its cost reward by."""
        if not self.align:
            return 1.0
        self._task_window.append(task)
        self._cost_window.append(cost)
        if len(self._task_window) >= MIN_ALIGN_SAMPLES:
            task_std, cost_std = np.std(self._task_window), np.std(self._cost_window)
            if task_std > 0 and cost_std > 0:
                self.align_factor = float(task_std / cost_std)
        return self.align_factor


def make_env(**kwargs: Any) -> BudgetRouterEnv:
    """Gymnasium entry point (``memgym.recipes.budgetmem:make_env``)."""
    return BudgetRouterEnv(**kwargs)


class FixedTierRouter:
    """Always the same tier (``all-low`` / ``all-mid`` / ``all-high``)."""

    def __init__(self, tier: int, name: str) -> None:
        self.tier, self.name = tier, name

    def reset(self, env: Any, seed: int | None = None) -> None:
        pass

    def act(self, obs: Any, info: dict[str, Any], env: Any) -> int:
        return self.tier


class OracleRouter:
    """The cheapest tier whose reader answers correctly (reads the gold answers): the
    accuracy of ``all-high`` at the lowest cost the tiers allow."""

    name = "oracle-router"

    def reset(self, env: Any, seed: int | None = None) -> None:
        pass

    def act(self, obs: Any, info: dict[str, Any], env: Any) -> int:
        from memgym.rewards.metrics import score_answer

        core = env.unwrapped.core
        question = core.episode.questions[core.view.question]
        names = list(core.retrieval_tiers)
        for tier in sorted(range(len(names)), key=lambda t: env.unwrapped.tier_costs[t]):
            texts, shown = core.retrieval_pool(names[tier])
            reply = core.retrieval_readers[names[tier]].answer_all([question.text], texts, shown)[0]
            if score_answer(reply, question.answers, core.metric) > 0:
                return tier
        return int(np.argmin(env.unwrapped.tier_costs))
