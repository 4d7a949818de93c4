"""KV updates: entities whose attributes change over the stream; questions ask the latest value.

## Description

A stream of ``length`` chunks about a few people (``n_entities``). ``n_keys`` (person,
attribute) pairs are queried at the end. Each key is stated once reliably, then restated or
updated several times ("Update: Ann Lee's city is now Oslo."); its final (current) statement
sits at a random position, so keeping only the last few chunks misses most keys. Between them:
hedged rumours about the same people and attributes with wrong values ("Rumour has it Ann
Lee's city is Lima.", marker phrases from :data:`HEDGE_MARKERS`, shared by all splits so the
reliability signal transfers) and chatter that states no fact. A good memory keeps exactly the
current value of each key: stale values and rumours kept beside it make the answer ambiguous.
Longer streams keep ``n_keys`` fixed and add updates, rumours and filler. Names, values and
sentence templates are split-disjoint (:func:`memgym.tasks.base.split_pool`).

## Action Space

The memgym structured env's flat ``Discrete`` op x target action (noop, add -> tier,
update / delete / evict slot k, ...), masked by ``action_masks()``; see
:mod:`memgym.envs.structured`. The text env takes the same ops as tool calls.

## Observation Space

The structured env's ``Dict`` of ``Box`` arrays (current-chunk features, per-slot features and
chunk-slot relations, budget, progress); see :mod:`memgym.envs.structured`.

## Rewards

Set by the environment: QA score of the reader on the questions (one per key, plus optional
abstain questions whose answer is ``"unknown"``), minus memory and op costs, with optional
dense evidence shaping.

## Episode End

After the last chunk is ingested and every question has been answered.

## Arguments

Task parameters (:class:`KVUpdatesParams`; constructor defaults, overridable per episode):

- ``length=40``: chunks in the stream.
- ``n_keys=6``: queried (person, attribute) pairs; one question each.
- ``n_entities=3``: people the keys are spread over.
- ``distractor_rate=0.4``: fraction of chunks that are hedged rumours with wrong values.
- ``filler_rate=0.1``: fraction of chunks that are chatter; the rest are reliable statements.
- ``update_rate=0.8``: chance that a later reliable statement of a key changes its value.
- ``abstain_questions=0``: extra questions about pairs never stated reliably (``unknown``).
- ``mid_stream_questions=0``: questions asked right after their answer is settled.

## Version History

- v0: initial release.
"""

from __future__ import annotations

import bisect
import dataclasses
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from memgym.envs.registration import register_task
from memgym.episode import Chunk, Episode, Question
from memgym.tasks.base import (
    WRITE_DELETE_OPS, WRITE_OPS, check_rate, mid_stream_times, other_index, rate_count,
    resolve_params, split_rng,
)
from memgym.tasks.fact_words import (
    ATTRIBUTES, CONFIRM_TEMPLATES, FILLER_TEMPLATES, HEDGE_MARKERS, QUESTION_TEMPLATES,
    RUMOUR_TEMPLATES, STATE_TEMPLATES, UPDATE_TEMPLATES, check_key_stream, draw_people, fact_pools,
)


@lru_cache(maxsize=None)
def _pools(split: str) -> dict[str, Any]:
    # Cached: split_pool hashes every item, far too slow to redo per episode.
    return fact_pools(split, first_min=6, state=STATE_TEMPLATES, update=UPDATE_TEMPLATES,
                      confirm=CONFIRM_TEMPLATES, rumour=RUMOUR_TEMPLATES,
                      question=QUESTION_TEMPLATES, filler=FILLER_TEMPLATES)


@dataclass(frozen=True)
class KVUpdatesParams:
    """Parameters of :class:`KVUpdatesTask` (one docstring per field)."""

    length: int = 40
    """Number of chunks in the stream."""
    n_keys: int = 6
    """Queried (person, attribute) pairs; every reliable statement is about one of them."""
    n_entities: int = 3
    """People the keys are spread over, so keys share names and people share attributes."""
    distractor_rate: float = 0.4
    """Fraction of chunks that are hedged rumours with wrong values for the same people."""
    filler_rate: float = 0.1
    """Fraction of chunks that are chatter stating no fact; the rest are reliable statements."""
    update_rate: float = 0.8
    """Chance that a reliable statement after a key's first one changes its value (else it
    restates the current value); with more chunks, keys get more updates."""
    abstain_questions: int = 0
    """Extra questions about a (person, attribute) never stated reliably; answer ``unknown``."""
    mid_stream_questions: int = 0
    """Questions asked mid-stream, after their (final) evidence chunk, instead of at the end."""

    def __post_init__(self) -> None:
        for name in ("distractor_rate", "filler_rate", "update_rate"):
            check_rate(name, getattr(self, name))
        check_key_stream(self, "distractor_rate")


class KVUpdatesTask:
    """Entities whose attributes change; questions ask the latest value (see module doc)."""

    name = "kv_updates"

    def __init__(self, **params: Any) -> None:
        self.params: KVUpdatesParams = resolve_params(KVUpdatesParams, None, params)

    def episode(self, seed: int, split: str = "train", **overrides: Any) -> Episode:
        p = resolve_params(KVUpdatesParams, self.params, overrides)
        rng = split_rng(self.name, split, seed)
        pools, length = _pools(split), p.length
        entities, spare = draw_people(rng, pools, p.n_entities, split)  # spare: rumours only
        people = [*entities, spare]
        keys: list[tuple[str, str]] = []
        for e, entity in enumerate(entities):
            n_here = len(range(e, p.n_keys, p.n_entities))
            keys += [(entity, ATTRIBUTES[a]) for a in rng.choice(len(ATTRIBUTES), n_here, False)]
        keys = [keys[i] for i in rng.permutation(len(keys))]
        key_set = set(keys)
        free = [(e, a) for e in [*entities, spare] for a in ATTRIBUTES if (e, a) not in key_set]
        abstain = [free[i] for i in rng.choice(len(free), p.abstain_questions, replace=False)]

        # Roles: reliable / rumour / filler positions, uniformly spread over the stream.
        n_rumour = rate_count(p.distractor_rate, length)
        n_rel = length - n_rumour - rate_count(p.filler_rate, length)
        order = rng.permutation(length)
        reliable = np.sort(order[:n_rel])
        rumours, fillers = order[n_rel:n_rel + n_rumour], order[n_rel + n_rumour:]
        # Final statements: the last reliable chunk and n_keys-1 random reliable chunks, so
        # current values are spread over the stream (FIFO keeps few of them).
        final_idx = np.append(rng.choice(n_rel - 1, p.n_keys - 1, replace=False), n_rel - 1)
        final_at = np.sort(reliable[final_idx])  # key k's final statement; keys sorted by it
        owner = np.empty(length, dtype=np.int64)
        owner[final_at] = np.arange(p.n_keys)
        others = np.setdiff1d(reliable, final_at, assume_unique=True)
        # Each other reliable chunk states a key whose final statement is later.
        first_later = np.searchsorted(final_at, others, side="right")
        spread = rng.random(len(others)) * (p.n_keys - first_later)
        owner[others] = first_later + spread.astype(np.int64)

        texts = [""] * length
        u = rng.random((length, 2))  # template and filler-subject draws
        history: list[list[tuple[int, str]]] = [[] for _ in keys]  # (chunk, value) per key
        changed = [False] * p.n_keys
        for pos in reliable:
            k = int(owner[pos])
            entity, attr = keys[k]
            values, hist = pools["values"][attr], history[k]
            if not hist:
                kind, value = "state", values[int(rng.integers(len(values)))]
            elif rng.random() < p.update_rate:
                kind, changed[k] = "update", True
                value = values[other_index(rng, len(values), {values.index(hist[-1][1])})]
            else:
                kind, value = "confirm", hist[-1][1]
            hist.append((int(pos), value))
            tmpl = pools[kind][int(u[pos, 0] * len(pools[kind]))]
            texts[pos] = tmpl.format(s=entity, a=attr, v=value)

        # Rumours: each abstain pair gets one first, then mostly keys, sometimes other pairs.
        stated_at = [[c for c, _ in hist] for hist in history]  # bisect: linear in length
        rumour_of: dict[tuple[str, str], list[int]] = {}
        for j, pos in enumerate(rumours):
            if j < len(abstain):
                target = abstain[j]
            elif rng.random() < 0.85:
                target = keys[int(rng.integers(p.n_keys))]
            else:
                target = free[int(rng.integers(len(free)))]
            values = pools["values"][target[1]]
            exclude = set()
            if target in key_set:  # wrong now (if stated yet) and wrong at the end
                k = keys.index(target)
                hist = history[k]
                stated = bisect.bisect_left(stated_at[k], pos)  # statements before pos (sorted)
                exclude = {values.index(hist[-1][1])} | (
                    {values.index(hist[stated - 1][1])} if stated else set())
            value = values[other_index(rng, len(values), exclude)]
            marker = HEDGE_MARKERS[int(rng.integers(len(HEDGE_MARKERS)))]
            body = pools["rumour"][int(u[pos, 0] * len(pools["rumour"]))]
            texts[pos] = f"{marker} {body.format(s=target[0], a=target[1], v=value)}"
            rumour_of.setdefault(target, []).append(int(pos))
        for pos in fillers:
            tmpl = pools["filler"][int(u[pos, 0] * len(pools["filler"]))]
            texts[pos] = tmpl.format(s=people[int(u[pos, 1] * len(people))])

        # Questions: one per key (stream order of their final statement is hidden by shuffling).
        evidence_at = [history[k][-1][0] for k in range(p.n_keys)]
        asked = mid_stream_times(rng, evidence_at, p.mid_stream_questions, length)
        q_tmpls = pools["question"]
        questions = []
        for k in rng.permutation(p.n_keys):
            k = int(k)
            entity, attr = keys[k]
            final, horizon = history[k][-1][1], asked.get(k, length - 1)
            stale = [c for c, v in history[k] if v != final]
            conflicting = sorted(c for c in stale + rumour_of.get(keys[k], []) if c <= horizon)
            questions.append(Question(
                text=q_tmpls[int(rng.integers(len(q_tmpls)))].format(s=entity, a=attr),
                answers=(final,), evidence=(evidence_at[k],),
                kind="update" if changed[k] else "lookup", asked_after=asked.get(k),
                conflicting=tuple(conflicting)))
        for entity, attr in abstain:
            questions.append(Question(
                text=q_tmpls[int(rng.integers(len(q_tmpls)))].format(s=entity, a=attr),
                answers=("unknown",), evidence=(), kind="abstain",
                conflicting=tuple(sorted(rumour_of.get((entity, attr), [])))))
        questions = [dataclasses.replace(q, id=f"q{i}") for i, q in enumerate(questions)]
        return Episode(
            chunks=tuple(Chunk(id=i, text=t) for i, t in enumerate(texts)),
            questions=tuple(questions), task=self.name, split=split, seed=int(seed),
            params=dataclasses.asdict(p),
            labels={"distractors": sorted(int(c) for c in rumours),
                    "filler": sorted(int(c) for c in fillers),
                    "facts": [int(c) for c in reliable]},
        )


register_task(
    "KVUpdates", KVUpdatesTask,
    levels={
        "Easy": {"task": {"length": 20, "n_keys": 4, "distractor_rate": 0.3},
                 "env": {"tiers": {"episodic": {"entries": 4, "tokens": None}}, "ops": WRITE_OPS}},
        "Medium": {"task": {"length": 40, "n_keys": 6, "distractor_rate": 0.4},
                   "env": {"tiers": {"episodic": {"entries": 6, "tokens": None}}, "ops": WRITE_OPS}},
        "Hard": {"task": {"length": 80, "n_keys": 8, "distractor_rate": 0.5},
                 "env": {"tiers": {"episodic": {"entries": 6, "tokens": None}}, "ops": WRITE_DELETE_OPS}},
    },
    description="People whose attributes change amid rumours; questions ask the latest value.",
)
