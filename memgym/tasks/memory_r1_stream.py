"""Memory-R1: a fact stream where each new fact must be ADDed, UPDATEd (overwrite or merge),
DELETEd or ignored (NOOP), scored by exact match of a frozen answerer.

## Description

Memory-R1 (Yan et al., 2025) trains a memory manager that, for every fact extracted from a
dialogue turn and the related memories retrieved for it, picks ADD / UPDATE / DELETE / NOOP;
the reward is the exact match of a frozen answerer on questions about the dialogue. Its
signature case: "I adopted a dog named Buddy" then "I adopted another dog named Scout" must
become one entry naming both dogs (UPDATE as a merge), where an untrained manager reads the
second fact as a contradiction and overwrites (or deletes) the first.

Here each chunk is one turn stating at most one fact about ``n_keys`` (person, attribute)
pairs, each pair following one story:

- ``plain``: stated once (ADD);
- ``change``: stated, later changed ("Update: Ann Lee's city is Lima."): overwrite (UPDATE);
- ``merge``: stated, later a *second, different* value of a multi-valued attribute
  ("Also, Ann Lee's hobby is chess."): merge into the same entry, so it reads
  "Ann Lee's hobby is tennis and chess." (gold answer: both values);
- ``retract``: stated, later withdrawn ("Please forget Ann Lee's pet."): DELETE (answer
  ``unknown``);

between chatter turns (NOOP). The cue that separates a change from an addition is in the text
(marker phrases shared by every split, like the hedges of the KV task); names, values, fact
and question templates are split-disjoint. Every episode holds at least one merge story.

## Action Space

The structured env of :mod:`memgym.recipes.memory_r1`: noop, add, ``update slot k``
(overwrite), ``delete slot k`` and ``merge slot k`` (UPDATE whose new text combines the entry
and the fact in view, :func:`memgym.recipes.memory_r1.merge_text`; offered only on an entry
about the same pair). The text env takes the same ops as tool calls; a merge is
``update_memory(id, text=<merged text>)``.

## Observation Space

The structured env's ``Dict`` of ``Box`` arrays; the per-slot same key / subject / attribute
relations to the turn in view are the "related memories" Memory-R1 shows its manager.

## Rewards

QA score of the default reader (BM25 top-k + fact extraction; several different values for one
pair are read as ``"a or b"``, which exact match fails) with ``metric="em"``, averaged over the
pairs' questions, at the end of the stream (Memory-R1's outcome reward); ``invalid`` for a
failed op.

## Episode End

After the last turn is ingested and every question answered.

## Arguments

:class:`MemoryR1Params`: ``length=16``, ``n_keys=6``, ``n_entities=3``, ``merge_share=0.35``,
``change_share=0.25``, ``retract_share=0.15`` (the rest are plain).

## Version History

- v0: initial release.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from memgym.episode import Chunk, Episode, Question
from memgym.tasks.base import check_rate, resolve_params, split_rng
from memgym.tasks.fact_words import (
    FILLER_TEMPLATES, QUESTION_TEMPLATES, STATE_TEMPLATES, VALUES, draw_people, fact_pools,
)

#: Attributes a person can hold several values of at once (merge stories use these).
MULTI_VALUED: tuple[str, ...] = ("hobby", "pet", "instrument")
STORIES: tuple[str, ...] = ("plain", "change", "merge", "retract")
#: Cue phrases: shared by every split, because telling a change from an addition from a
#: retraction is the skill being trained (surface names and values are split-disjoint).
CHANGE_MARKERS: tuple[str, ...] = (
    "Update:", "Correction:", "Changed since last time:", "Replacing the old one,",
    "Switched:", "New value:", "That changed:", "Revised:",
)
MERGE_MARKERS: tuple[str, ...] = (
    "Also,", "In addition,", "Another one:", "On top of that,", "Besides the first one,",
    "Additionally,", "Plus a second one:", "Alongside the earlier one,",
)
RETRACT_TEMPLATES: tuple[str, ...] = (
    "Please forget {s}'s {a}.", "Please disregard {s}'s {a} - it was wrong.",
    "Scratch what I said about {s}'s {a}.", "Kindly ignore the note on {s}'s {a}.",
    "Never mind about {s}'s {a}.", "Please drop {s}'s {a} - that was a mistake.",
)
#: Fact bodies after a change / merge marker (plain statements; the marker carries the cue).
FOLLOW_BODIES: tuple[str, ...] = ("{s}'s {a} is {v}.", "the {a} of {s} is {v}.")


@lru_cache(maxsize=None)
def _pools(split: str) -> dict[str, Any]:
    # "{s}: My {a} is {v}." templates are left out: the reader keys them by the speaker,
    # and a merge of a first-person entry would name the speaker twice.
    return fact_pools(split, first_min=6, state=[t for t in STATE_TEMPLATES if "My" not in t],
                      question=QUESTION_TEMPLATES, filler=FILLER_TEMPLATES)


@dataclass(frozen=True)
class MemoryR1Params:
    """Parameters of :class:`MemoryR1Task` (one docstring per field)."""

    length: int = 16
    """Turns in the stream (facts, follow-ups and chatter)."""
    n_keys: int = 6
    """(person, attribute) pairs, one question each."""
    n_entities: int = 3
    """People the pairs are spread over."""
    merge_share: float = 0.35
    """Chance that a pair on a multi-valued attribute gets a second value to merge."""
    change_share: float = 0.25
    """Chance that a pair's value changes later (overwrite)."""
    retract_share: float = 0.15
    """Chance that a pair is withdrawn later (delete; its answer is ``unknown``)."""

    def __post_init__(self) -> None:
        for name in ("merge_share", "change_share", "retract_share"):
            check_rate(name, getattr(self, name))
        if self.merge_share + self.change_share + self.retract_share > 1.0:
            raise ValueError("merge_share + change_share + retract_share must be <= 1")
        if self.n_keys < 1 or self.n_entities < 1:
            raise ValueError("n_keys and n_entities must be >= 1")
        if -(-self.n_keys // self.n_entities) > len(VALUES):
            raise ValueError(f"n_keys={self.n_keys} needs more than {len(VALUES)} attributes "
                             "per person; raise n_entities")
        if self.length < 2 * self.n_keys:
            raise ValueError(f"length={self.length} < 2 * n_keys={2 * self.n_keys}: no room "
                             "for every pair's statement and follow-up")


class MemoryR1Task:
    """Fact stream with add / change / merge / retract stories (see module doc)."""

    name = "memory_r1"

    def __init__(self, **params: Any) -> None:
        self.params: MemoryR1Params = resolve_params(MemoryR1Params, None, params)

    def _stories(self, rng: np.random.Generator, keys: list[tuple[str, str]],
                 p: MemoryR1Params) -> list[str]:
        stories = []
        for _, attr in keys:
            u = rng.random()
            if attr in MULTI_VALUED and u < p.merge_share:
                stories.append("merge")
            elif u < p.merge_share + p.change_share:
                stories.append("change")
            elif u < p.merge_share + p.change_share + p.retract_share:
                stories.append("retract")
            else:
                stories.append("plain")
        if "merge" not in stories:  # the paper's case is in every episode
            multi = [i for i, (_, a) in enumerate(keys) if a in MULTI_VALUED]
            stories[multi[int(rng.integers(len(multi)))]] = "merge"
        return stories

    def _keys(self, rng: np.random.Generator, entities: list[str], p: MemoryR1Params
              ) -> list[tuple[str, str]]:
        """Pairs spread over the people; the first pair is always on a multi-valued attribute."""
        attrs = list(VALUES)
        keys: list[tuple[str, str]] = []
        for e, entity in enumerate(entities):
            n_here = len(range(e, p.n_keys, p.n_entities))
            order = [attrs[i] for i in rng.permutation(len(attrs))]
            if e == 0:  # guarantee a multi-valued pair
                first = MULTI_VALUED[int(rng.integers(len(MULTI_VALUED)))]
                order = [first] + [a for a in order if a != first]
            keys += [(entity, a) for a in order[:n_here]]
        return keys

    def episode(self, seed: int, split: str = "train", **overrides: Any) -> Episode:
        p = resolve_params(MemoryR1Params, self.params, overrides)
        rng = split_rng(self.name, split, seed)
        pools = _pools(split)
        entities, _ = draw_people(rng, pools, p.n_entities, split)
        keys = self._keys(rng, entities, p)
        stories = self._stories(rng, keys, p)
        n_events = p.n_keys + sum(s != "plain" for s in stories)
        positions = np.sort(rng.choice(p.length, n_events, replace=False))
        slots = rng.permutation(positions)  # event slots, dealt to pairs in random order
        texts: list[str | None] = [None] * p.length
        kinds, key_of = ["filler"] * p.length, [-1] * p.length
        questions: list[Question] = []
        used = 0
        for k, ((entity, attr), story) in enumerate(zip(keys, stories)):
            n_here = 1 if story == "plain" else 2
            at = sorted(int(x) for x in slots[used:used + n_here])
            used += n_here
            values = pools["values"][attr]
            first, second = (values[i] for i in rng.choice(len(values), 2, replace=False))
            state = pools["state"][int(rng.integers(len(pools["state"])))]
            texts[at[0]] = state.format(s=entity, a=attr, v=first)
            kinds[at[0]], key_of[at[0]] = "state", k
            if story != "plain":
                kinds[at[1]], key_of[at[1]] = story, k
                if story == "retract":
                    tmpl = RETRACT_TEMPLATES[int(rng.integers(len(RETRACT_TEMPLATES)))]
                    texts[at[1]] = tmpl.format(s=entity, a=attr)
                else:
                    markers = CHANGE_MARKERS if story == "change" else MERGE_MARKERS
                    marker = markers[int(rng.integers(len(markers)))]
                    body = FOLLOW_BODIES[int(rng.integers(len(FOLLOW_BODIES)))]
                    texts[at[1]] = f"{marker} {body.format(s=entity, a=attr, v=second)}"
            answers, evidence, conflicting, kind = {
                "plain": ((first,), (at[0],), (), "lookup"),
                "change": ((second,), (at[-1],), (at[0],), "update"),
                "merge": ((f"{first} and {second}", f"{second} and {first}"), tuple(at), (),
                          "merge"),
                "retract": (("unknown",), (), (at[0],), "abstain"),
            }[story]
            q_tmpl = pools["question"][int(rng.integers(len(pools["question"])))]
            questions.append(Question(q_tmpl.format(s=entity, a=attr), answers, evidence, kind,
                                      conflicting=conflicting, id=f"q{k}"))
        fillers = pools["filler"]
        people = list(entities)
        for i, text in enumerate(texts):
            if text is None:
                tmpl = fillers[int(rng.integers(len(fillers)))]
                texts[i] = tmpl.format(s=people[int(rng.integers(len(people)))])
        return Episode(
            chunks=tuple(Chunk(id=i, text=t) for i, t in enumerate(texts)),
            questions=tuple(questions[i] for i in rng.permutation(len(questions))),
            task=self.name, split=split, seed=int(seed), params=dataclasses.asdict(p),
            labels={"kinds": kinds, "key_of": key_of, "stories": stories},
        )
