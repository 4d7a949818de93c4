"""TRIM-KV recipe: learned eviction (which entry to drop when memory is full) vs heuristics.

:class:`EvictionEnv` turns the structured env into a KV-cache-style retention problem: every
chunk enters memory while there is room (no decision), and once memory holds ``budget``
entries each new chunk forces a choice: overwrite (evict) one of the held entries with it,
or drop the newcomer. Only those choices are steps of the agent. The budget is drawn per
episode from ``budgets`` (or fixed with ``reset(options={"budget": b})``), so one policy is
trained across budgets and a curve of score vs budget is measured per agent. The id
``memgym/TrimKV-Eviction-v0`` is registered by :mod:`memgym.recipes.ids`.

Baselines that act through the flat action layout (``lru``, ``salience``, ``oracle``,
``random`` and the new ``recency`` of :mod:`memgym.agents.baselines`) work unchanged here;
:class:`WriteOrderFIFOAgent` (``fifo_write``) evicts the entry written longest ago.

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

from typing import Any

import numpy as np

from memgym.agents.baselines import BaselineAgent
from memgym.envs.core import StepOutcome
from memgym.envs.structured import MemoryEnv


class EvictionEnv(MemoryEnv):
    """
    ## Description

    TRIM-KV-style learned retention on the memgym structured env. Chunks are admitted
    automatically while memory holds fewer than ``budget`` entries; when it is full, the
    agent chooses which entry the incoming chunk replaces, or drops the incoming chunk.
    Questions asked mid-stream read memory (and so update the hits / last-use an LRU or
    recency heuristic relies on); the rest are asked at the end.

    ## Action Space

    The structured env's flat ``Discrete`` layout with ops noop / add / update: at a decision
    ``update slot k`` evicts slot k's entry in favour of the incoming chunk and ``noop`` drops
    the incoming chunk; ``add`` is masked (memory is at its budget). Layout-based baselines
    therefore run unchanged.

    ## Observation Space

    The structured env's ``Dict`` (see :class:`memgym.envs.structured.MemoryEnv`); slots
    beyond the episode's budget stay empty.

    ## Rewards

    As the structured env (QA score, optional shaping / costs); rewards earned during the
    automatic admissions that follow a decision are added to that decision's step (those
    before the first decision to the first step), so the episode return is unchanged.

    ## Episode End

    After the last chunk, once every question is answered. A stream that never fills the
    budget ends at the first step (any action).

    ## Arguments

    Those of :class:`MemoryEnv` (one tier, default ``{"memory": {"entries": max(budgets)}}``;
    its ``entries`` bounds the budgets), plus
    ``budgets=(2, 4, 8)``. ``reset(options={"budget": b})`` fixes the budget.

    ## Version History

    - v0: initial release.
    """

    def __init__(self, *args: Any, budgets: tuple[int, ...] | list[int] = (2, 4, 8),
                 **kwargs: Any) -> None:
        budgets = tuple(budgets)
        if not budgets or not all(isinstance(b, (int, np.integer)) and b >= 1 for b in budgets):
            raise ValueError(f"budgets must be a non-empty list of integers >= 1, got {budgets!r}")
        kwargs.setdefault("ops", ("noop", "add", "update"))
        kwargs.setdefault("tiers", {"memory": {"entries": max(budgets), "tokens": None}})
        if set(kwargs["ops"]) != {"noop", "add", "update"}:
            raise ValueError("EvictionEnv: ops must be exactly noop, add, update")
        super().__init__(*args, **kwargs)
        if len(self.tier_names) != 1:
            raise ValueError("EvictionEnv: tiers must hold exactly one tier")
        self.budgets = tuple(self._check_budget(b) for b in budgets)
        self.budget = max(self.budgets)
        self._next_budget: int | None = None
        self._carry: list[StepOutcome] = []

    def _check_budget(self, budget: Any) -> int:
        if not isinstance(budget, (int, np.integer)) or not 1 <= budget <= self.n_slots:
            raise ValueError(f"budget must be an integer in [1, {self.n_slots}] (the tier's "
                             f"entries), got {budget!r}")
        return int(budget)

    # -- episode flow --------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        options = dict(options or {})
        budget = options.pop("budget", None)
        self._next_budget = None if budget is None else self._check_budget(budget)
        return super().reset(seed=seed, options=options)

    def start_episode(self, episode: Any) -> None:
        budget, self._next_budget = self._next_budget, None
        self.budget = budget if budget is not None else int(self.np_random.choice(self.budgets))
        super().start_episode(episode)
        self._carry = self._admit_while_room()

    def _apply(self, op: str, kwargs: dict[str, Any]) -> StepOutcome:
        outcome = self.core.apply(op, **kwargs)
        self.slots.apply(op, outcome.result, self.core.store, bool(outcome.answered),
                         self._features.features_of)
        self._sync_view()
        return outcome

    def _full(self) -> bool:
        return len(self.core.store.entries) >= self.budget

    def _admit_while_room(self) -> list[StepOutcome]:
        """Admit chunks (no decision) until memory is at its budget or the stream ends."""
        core, outcomes = self.core, []
        tier = self.tier_names[0]
        while not core.done and core.view.kind == "chunk" and not self._full():
            op = "add" if core.check("add", tier=tier) is None else "noop"
            outcomes.append(self._apply(op, {"tier": tier} if op == "add" else {}))
        return outcomes

    def decode(self, action: Any) -> tuple[str, dict[str, Any]]:
        op, kwargs = super().decode(action)
        if op == "add" and self._full():
            return "invalid", {}  # the budget, not the tier capacity, bounds memory
        return op, kwargs

    def step(self, action: Any) -> tuple[dict[str, np.ndarray], float, bool, bool, dict]:
        outcomes, self._carry = self._carry, []
        own = None  # the agent's own op (None when the episode ended before any decision)
        if not self.core.done:
            own = self._apply(*self.decode(action))
            outcomes += [own, *self._admit_while_room()]
        info = self._info(own)
        if outcomes:
            terms: dict[str, float] = {}
            for o in outcomes:
                for k, v in o.terms.items():
                    terms[k] = terms.get(k, 0.0) + v
            info.update(reward_terms=terms, answered=sum(len(o.answered) for o in outcomes),
                        admitted=len(outcomes) - (own is not None))
        if self.core.done and "qa_score" not in info:
            records = self.core.records
            info["qa_score"] = sum(r.score for r in records) / max(len(records), 1)
        reward = float(sum(o.reward for o in outcomes))
        return self._observation(), reward, self.core.done, False, info

    def compute_action_mask(self) -> np.ndarray:
        mask = super().compute_action_mask()
        if self._full() and "add" in self._op_index:
            mask[self._op_index["add"]] = False
        return mask


class WriteOrderFIFOAgent(BaselineAgent):
    """Store every chunk; when full, overwrite the entry whose text was written longest ago
    (the core ``fifo`` baseline orders by creation, which an overwrite does not renew)."""

    name = "fifo_write"

    def choose(self, env: Any, mask: np.ndarray) -> int | None:
        store = env.core.store
        return self.admit_or_replace(
            env, mask, lambda k: store.entries[int(env.slot_entry[k])].updated)
