"""LTS recipe: learned admission control with reuse-based credit and a sparsity cost.

:class:`AdmissionEnv` is the structured memory env reduced to one decision per chunk, admit
or skip. Admitting into a full memory evicts the entry written longest ago (forced FIFO
eviction), so every policy works at exactly the same budget and only admission differs.
The reward is LTS's: an admitted entry earns ``reuse_bonus`` each time the reader retrieves
it for a correct answer, and each admission costs ``rewards.op_costs`` (the sparsity term
that stops "admit everything"). The id ``memgym/LTS-Admission-v0`` is registered by
:mod:`memgym.recipes.ids`; the admission baselines below are added to the baseline registry
(``memgym eval --agent admit_all,admit_none,admit_facts``) for that env.

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

from typing import Any

import numpy as np
from gymnasium import spaces

from memgym.agents.baselines import BaselineAgent, salience
from memgym.envs.core import QARecord
from memgym.envs.structured import MemoryEnv
from memgym.facts import normalize

SKIP, ADMIT = 0, 1


def supporting_entries(core: Any, records: list[QARecord]) -> list[list[int]]:
    """Per *correct* answer in ``records``: ids of the memory entries the reader retrieved
    for it whose text holds that answer (empty for an answer no entry supports, such as a
    correct ``unknown``).

    The core does not keep which entries the reader read; memory is unchanged between the
    answer and the end of the step, and the reader is deterministic, so re-asking it the
    same questions over the same memory recovers exactly what it read.
    """
    correct = [r for r in records if r.score > 0]
    entries = list(core.store.entries.values())
    if not correct or not entries:
        return []
    shown = [i for i, e in enumerate(entries) if core.store.tier_specs[e.tier].always_shown]
    replies = core.reader.answer_all([r.question for r in correct], [e.text for e in entries],
                                     shown)
    support = []
    for reply in replies:
        answer = normalize(reply.text)
        support.append([entries[i].id for i in reply.used
                        if i < len(entries) and answer and answer in normalize(entries[i].text)])
    return support


class AdmissionEnv(MemoryEnv):
    """
    ## Description

    LTS-style admission control over the memgym structured env: each stream chunk is either
    admitted to memory or skipped. A full memory makes room by evicting the entry written
    longest ago (FIFO), so the budget is the same for every policy and only the admission
    decision is learned. Questions arrive mid-stream and at the end (KV-updates streams).

    ## Action Space

    ``Discrete(2)``: 0 skip, 1 admit. ``action_masks()`` allows admit only on a stream chunk
    whose text fits the memory.

    ## Observation Space

    The structured env's ``Dict`` (view features, per-slot features with the slot-chunk
    relations, memory fill, progress); see :class:`memgym.envs.structured.MemoryEnv`.

    ## Rewards

    ``reuse``: ``reuse_bonus`` / number of questions for each correct answer, shared by the
    entries the reader retrieved for it that hold the answer (:func:`supporting_entries`);
    an answer no admitted entry supports earns nothing. ``op_cost``: minus the
    admission cost (``rewards.op_costs`` of ``add`` and ``update``, the sparsity term); plus
    any other weighted term of ``rewards`` (the registered id sets the ``qa`` weight to 0:
    the policy learns from reuse credit alone and is scored on QA). Every term is in
    ``info["reward_terms"]``; ``info["reused"]`` counts the credited entries of the step.

    ## Episode End

    After the last chunk, once every question is answered.

    ## Arguments

    Those of :class:`MemoryEnv` (``ops`` must include ``add`` and ``update``), plus
    ``reuse_bonus=1.0``.

    ## Version History

    - v0: initial release.
    """

    def __init__(self, *args: Any, reuse_bonus: float = 1.0, **kwargs: Any) -> None:
        kwargs.setdefault("ops", ("noop", "add", "update"))
        missing = {"add", "update"} - set(kwargs["ops"])
        if missing:
            raise ValueError(f"AdmissionEnv: ops must include add and update; missing {sorted(missing)}")
        super().__init__(*args, **kwargs)
        self.reuse_bonus = float(reuse_bonus)
        self.action_space = spaces.Discrete(2)
        self.action_names = ["skip", "admit"]
        self.action_layout = "admission"  # the memory-op baselines refuse it (acts_on)
        self.admitted: set[tuple[int, int]] = set()  # (entry id, write step) of admissions
        self.reused: set[tuple[int, int]] = set()  # ... of those credited at least once

    def start_episode(self, episode: Any) -> None:
        super().start_episode(episode)
        self.admitted, self.reused = set(), set()

    def decode(self, action: Any) -> tuple[str, dict[str, Any]]:
        try:
            a = int(action)
        except (TypeError, ValueError):
            return "invalid", {}
        if a == SKIP:
            return "noop", {}
        if a != ADMIT:
            return "invalid", {}
        store = self.core.store
        tier = self.core.default_tier
        if store.tier_entries[tier] < store.tier_specs[tier].entries:
            return "add", {"tier": tier}
        victim = self.fifo_victim()
        return "update", {"target": victim}

    def fifo_victim(self) -> int | None:
        """The entry whose current text was written longest ago (ties: lowest id)."""
        entries = self.core.store.entries.values()
        return min(entries, key=lambda e: (e.updated, e.id)).id if entries else None

    def compute_action_mask(self) -> np.ndarray:
        core = self.core
        mask = np.array([True, False])
        if not core.done and core.view.kind == "chunk":
            op, kwargs = self.decode(ADMIT)
            mask[ADMIT] = core.check(op, **kwargs) is None
        return mask

    def step(self, action: Any) -> tuple[dict[str, np.ndarray], float, bool, bool, dict]:
        op, kwargs = self.decode(action)
        outcome = self.core.apply(op, **kwargs)
        self.slots.apply(op, outcome.result, self.core.store, bool(outcome.answered),
                         self._features.features_of)
        self._sync_view()
        if outcome.result.ok and op in ("add", "update"):
            entry = self.core.store.entries[outcome.result.entry_id]
            self.admitted.add((entry.id, entry.updated))
        # Each correct answer pays reuse_bonus / n_questions, shared by the entries that
        # supported it: duplicates of one fact split the credit instead of multiplying it.
        support = [ids for ids in supporting_entries(self.core, outcome.answered) if ids]
        entries = self.core.store.entries
        self.reused.update((i, entries[i].updated) for ids in support for i in ids)
        reuse = self.reuse_bonus * len(support) / self.core.n_questions
        info = self._info(outcome)
        info["reward_terms"] = {**info["reward_terms"], "reuse": reuse}
        info["reused"] = len({i for ids in support for i in ids})
        if outcome.done:
            info["admission_precision"] = (len(self.reused & self.admitted) / len(self.admitted)
                                           if self.admitted else None)
        return self._observation(), outcome.reward + reuse, outcome.done, False, info


# -- admission baselines (act on AdmissionEnv's Discrete(2)) ---------------------------------
class AdmissionBaseline(BaselineAgent):
    """A baseline of AdmissionEnv's ``Discrete(2)`` skip / admit actions."""

    acts_on = "admission"


class AdmitAllAgent(AdmissionBaseline):
    """Admit every chunk (memory then holds the last chunks: FIFO)."""

    name = "admit_all"

    def act(self, obs: Any, info: dict[str, Any], env: Any) -> int:
        return ADMIT if env.unwrapped.action_masks()[ADMIT] else SKIP


class AdmitNoneAgent(AdmissionBaseline):
    """Never admit (the empty-memory floor)."""

    name = "admit_none"

    def act(self, obs: Any, info: dict[str, Any], env: Any) -> int:
        return SKIP


class AdmitFactsAgent(AdmissionBaseline):
    """Hand-written rule: admit a chunk when it states a fact without hedging (the salience
    heuristic of :mod:`memgym.agents.baselines` above its keep threshold)."""

    name = "admit_facts"

    def act(self, obs: Any, info: dict[str, Any], env: Any) -> int:
        env = env.unwrapped
        keep = salience(env.core.view.text) > 0.5
        return ADMIT if keep and env.action_masks()[ADMIT] else SKIP


class RandomAdmissionAgent(AdmissionBaseline):
    """Admit with probability 1/2."""

    name = "admit_random"

    def act(self, obs: Any, info: dict[str, Any], env: Any) -> int:
        return ADMIT if env.unwrapped.action_masks()[ADMIT] and self.rng.random() < 0.5 else SKIP


#: The admission baselines (named in :data:`memgym.agents.baselines.BASELINE_PATHS`).
ADMISSION_BASELINES = {cls.name: cls for cls in (AdmitAllAgent, AdmitNoneAgent, AdmitFactsAgent,
                                                 RandomAdmissionAgent)}
