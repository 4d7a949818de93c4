"""MEM1 / MemAgent recipe: k-objective composed streams under a constant-size memory.

## Description

MEM1 (Zhou et al., 2025) and MemAgent (Yu et al., 2025) keep a *constant-size* internal
memory that is rewritten as each chunk arrives, instead of appending every turn to a growing
context; MEM1 evaluates on tasks composed of k objectives (k = 2 ... 16). Here an episode is
a composition of ``objectives`` = k independent fact-tracking sub-tasks (one queried
(person, attribute) key each, stated, restated and updated amid hedged rumours and chatter,
as in :mod:`memgym.tasks.kv_updates`), interleaved into one stream of
``chunks_per_objective * k`` chunks; one question per objective is asked at the end. The
stream, and so the history a keep-everything agent holds, grows linearly with k.

Two memory settings are registered:

- ``memgym/MEM1-Const-v0``: a constant memory of 16 slots (enough for k = 16 current values)
  rewritten with overwrite (``update``) operations; its size does not depend on k.
- ``memgym/MEM1-KeepAll-v0``: 256 slots, never full for k <= 48 at the default chunk rate:
  the unbounded-capacity setting in which a keep-everything agent grows linearly.

When ``objectives`` is not given, each episode draws k from ``objective_choices``, so one
policy is trained across k and evaluated per k (``reset(options={"objectives": 8})``).

## Action Space

The structured env's flat ``Discrete`` action with ops noop / add / update (overwrite slot
k with the chunk in view), masked by ``action_masks()``.

## Observation Space

The structured env's ``Dict`` of ``Box`` arrays (see :mod:`memgym.envs.structured`).

## Rewards

Mean QA score over the k questions (EM of the BM25 reader's answer), plus the env's
optional terms (the recipe config adds potential-based evidence shaping).

## Episode End

After the last chunk, once all k questions are answered.

## Arguments

- ``objectives=None``: k; ``None`` draws it per episode from ``objective_choices``.
- ``objective_choices=(2, 4, 8, 16)``.
- ``chunks_per_objective=5``: stream length is ``chunks_per_objective * k``.
- ``distractor_rate=0.4``, ``filler_rate=0.1``, ``update_rate=0.8``: as in KV updates.
- ``attributes_per_person=4``: objectives share people (ceil(k / 4) people per stream; the
  held-out name pool is small).

## Version History

- v0: initial release.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from memgym.envs.registration import register_task
from memgym.episode import Episode
from memgym.tasks.base import WRITE_OPS, check_rate, resolve_params, split_rng
from memgym.tasks.kv_updates import KVUpdatesTask

#: Capacity of the constant memory (one current value per objective at k = 16).
CONST_SLOTS = 16
#: Capacity of the keep-everything setting: a stream of k = 48 at 5 chunks per objective.
KEEP_ALL_SLOTS = 256


@dataclass(frozen=True)
class MEM1Params:
    """Parameters of :class:`MEM1ComposedTask` (one docstring per field)."""

    objectives: int | None = None
    """k, the number of composed objectives; ``None`` draws it per episode."""
    objective_choices: tuple[int, ...] = (2, 4, 8, 16)
    """The values of k drawn from (uniformly) when ``objectives`` is ``None``."""
    chunks_per_objective: int = 5
    """Stream chunks per objective: the stream has ``chunks_per_objective * k`` chunks."""
    distractor_rate: float = 0.4
    """Share of chunks that are hedged rumours with wrong values."""
    filler_rate: float = 0.1
    """Share of chunks that state no fact."""
    update_rate: float = 0.8
    """Chance that a later reliable statement of an objective's key changes its value."""
    attributes_per_person: int = 4
    """Objectives per person: k objectives are spread over ceil(k / this) people."""

    def __post_init__(self) -> None:
        for name in ("distractor_rate", "filler_rate", "update_rate"):
            check_rate(name, getattr(self, name))
        choices = tuple(self.objective_choices)
        if not choices or min(choices) < 1:
            raise ValueError(f"objective_choices must be a non-empty list of k >= 1, got {choices}")
        if self.objectives is not None and self.objectives < 1:
            raise ValueError(f"objectives must be >= 1, got {self.objectives}")
        if self.chunks_per_objective < 2:
            raise ValueError(f"chunks_per_objective must be >= 2, got {self.chunks_per_objective}")
        if not 1 <= self.attributes_per_person <= 6:
            raise ValueError("attributes_per_person must be in [1, 6]")
        object.__setattr__(self, "objective_choices", choices)


class MEM1ComposedTask:
    """k fact-tracking objectives composed into one stream (see module doc)."""

    name = "mem1_composed"

    def __init__(self, **params: Any) -> None:
        self.params: MEM1Params = resolve_params(MEM1Params, None, params)
        self._kv = KVUpdatesTask()

    def objectives_of(self, seed: int, split: str, p: MEM1Params) -> int:
        """k of episode ``seed``: the fixed ``objectives`` or a draw from the choices."""
        if p.objectives is not None:
            return p.objectives
        rng = split_rng(self.name, split, seed)
        return int(p.objective_choices[int(rng.integers(len(p.objective_choices)))])

    def episode(self, seed: int, split: str = "train", **overrides: Any) -> Episode:
        p = resolve_params(MEM1Params, self.params, overrides)
        k = self.objectives_of(seed, split, p)
        # The composition is the KV-updates generator with one queried key per objective:
        # its streams interleave the keys' statements, updates and rumours uniformly.
        episode = self._kv.episode(
            seed, split, length=p.chunks_per_objective * k, n_keys=k,
            n_entities=-(-k // p.attributes_per_person), distractor_rate=p.distractor_rate,
            filler_rate=p.filler_rate, update_rate=p.update_rate)
        return dataclasses.replace(episode, task=self.name,
                                   params={**dataclasses.asdict(p), "objectives": k})


register_task(
    "MEM1", MEM1ComposedTask,
    levels={
        "Const": {"env": {"tiers": {"memory": {"entries": CONST_SLOTS, "tokens": None}},
                          "ops": WRITE_OPS}},
        "KeepAll": {"env": {"tiers": {"memory": {"entries": KEEP_ALL_SLOTS, "tokens": None}},
                            "ops": WRITE_OPS}},
    },
    description="MEM1/MemAgent: k-objective composed streams; constant overwritten memory "
                "(Const) vs unbounded keep-everything memory (KeepAll).",
)
