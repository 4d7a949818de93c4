"""Revisit: facts stated once, questions announced by a cue long after; the seed-paper task of
the ReMemR1, BudgetMem and Memex recipes (:mod:`memgym.recipes`).

## Description

A stream of ``length`` chunks. ``n_keys`` (person, attribute) pairs are each stated once,
reliably ("Alice Lee's city is Oslo."), and asked about mid-stream: a *cue* chunk names the
pair ("Quiz: Alice Lee's city?", a marker from :data:`CUE_MARKERS`, shared by all splits so the
signal transfers, like the hedge markers of KV updates) at least ``min_gap`` chunks after the
statement, and the question ("What is Alice Lee's city?") is asked right after the cue. In
between: ``fact_rate`` of the stream are facts about other pairs that are never asked
(indistinguishable from the asked ones when they arrive), ``mention_rate`` are chatter naming
an asked pair's person and attribute without a value (they compete with the fact in retrieval)
and the rest is filler. With a memory smaller than the facts of a stream, an agent that only
writes as it reads loses most asked facts to overwriting on long streams; one that can reread
(ReMemR1's callback, ``reread similar``: the past chunk most similar to the cue is the stated
fact) or dereference an archive (Memex) can bring the fact back when the cue arrives.

Queried people are distinct and their attributes distinct, so a cue shares the person's name
and the attribute only with its own fact (the cue's marker word with at most one other cue).
Names, values and sentence templates are split-disjoint (:func:`memgym.tasks.base.split_pool`).

## Action Space

The memgym structured env's flat ``Discrete`` op x target action (noop, add -> tier,
update slot k, reread similar, ...), masked by ``action_masks()``; see
:mod:`memgym.envs.structured`. The text env takes the same ops as tool calls.

## Observation Space

The structured env's ``Dict`` of ``Box`` arrays; a cue parses as a question, so the slot and
archive relation features say which entry holds (or held) the cued pair.

## Rewards

Set by the environment (QA score of the reader, costs); the recipes add ReMemR1's step
rewards, BudgetMem's cost reward and Memex's context penalties.

## Episode End

After the last chunk is ingested and every question has been answered.

## Arguments

Task parameters (:class:`RevisitParams`; constructor defaults, overridable per episode):
``length=24``, ``n_keys=3``, ``fact_rate=0.4``, ``mention_rate=0.0``, ``min_gap=4``,
``extra_people=2``, ``stale_rate=0.0``, ``detail=0``.

## Version History

- v0: initial release.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from memgym.envs.registration import register_task
from memgym.episode import Chunk, Episode, Question
from memgym.tasks.base import check_rate, rate_count, resolve_params, split_pool, split_rng
from memgym.tasks.fact_words import (
    ATTRIBUTES, FILLER_TEMPLATES, QUESTION_TEMPLATES, STATE_TEMPLATES, UPDATE_TEMPLATES, fact_pools,
)

#: Cue markers: one content word each (so two cues share at most that word), shared by all
#: splits: "a question about X is coming" is the signal a policy learns, not surface.
CUE_MARKERS: tuple[str, ...] = ("Quiz:", "Query:", "Recall:", "Check:", "Test:")
#: Chatter naming a person and an attribute without stating a value (no fact parses).
MENTION_TEMPLATES: list[str] = [
    "{s} kept talking about the {a} all evening.", "{s} asked me about the {a} again.",
    "Nobody agreed with {s} about the {a}.", "{s} wrote a long email on the {a} topic.",
    "The {a} came up when {s} visited.", "{s} had strong opinions on the {a} matter.",
    "We joked with {s} about the {a} for a while.", "{s} promised to explain the {a} later.",
    "A debate about the {a} started when {s} arrived.", "{s} sighed when the {a} was mentioned.",
    "{s} brought up the {a} during lunch.", "Everyone teased {s} over the {a} story.",
    "{s} never finished the story about the {a}.", "{s} mentioned the {a} twice today.",
    "The {a} question annoyed {s} a little.",
]


@lru_cache(maxsize=None)
def _pools(split: str) -> dict[str, Any]:
    pools = fact_pools(split, first_min=8, state=STATE_TEMPLATES, update=UPDATE_TEMPLATES,
                       question=QUESTION_TEMPLATES, filler=FILLER_TEMPLATES)
    pools["mention"] = split_pool(MENTION_TEMPLATES, split, min_size=2)
    return pools


@dataclass(frozen=True)
class RevisitParams:
    """Parameters of :class:`RevisitTask`."""

    length: int = 24
    """Number of chunks in the stream."""
    n_keys: int = 3
    """Asked (person, attribute) pairs: one fact, one cue and one question each."""
    fact_rate: float = 0.4
    """Fraction of chunks that are facts about pairs never asked (they fill memory)."""
    mention_rate: float = 0.0
    """Fraction of chunks naming an asked pair's person and attribute without a value."""
    min_gap: int = 4
    """Fewest chunks between an asked fact and its cue."""
    extra_people: int = 2
    """People who appear only in unasked facts and chatter."""
    stale_rate: float = 0.0
    """Share of asked pairs first stated with an older value, then updated ("... is now ...")
    before their cue: the stale chunk conflicts with the fresh one if both are kept."""
    detail: int = 0
    """Bookkeeping details ("box 12") appended to every fact: bulky, tool-output-like chunks
    whose gist is much shorter than their text (the Memex setting)."""

    def __post_init__(self) -> None:
        for name in ("fact_rate", "mention_rate", "stale_rate"):
            check_rate(name, getattr(self, name))
        if not 1 <= self.n_keys <= len(ATTRIBUTES):
            raise ValueError(f"n_keys must be in [1, {len(ATTRIBUTES)}], got {self.n_keys}")
        if self.min_gap < 1:
            raise ValueError(f"min_gap must be >= 1, got {self.min_gap}")
        if self.extra_people < 0 or self.detail < 0:
            raise ValueError("extra_people and detail must be >= 0")
        fixed = (2 + (self.stale_rate > 0)) * self.n_keys \
            + rate_count(self.fact_rate, self.length) \
            + rate_count(self.mention_rate, self.length)
        if fixed > self.length or self.length < self.n_keys + self.min_gap + 1:
            raise ValueError(f"length={self.length} is too short for n_keys={self.n_keys}, "
                             f"min_gap={self.min_gap} and the rates; raise length")


class RevisitTask:
    """Facts stated once and cued long after (see the module docstring)."""

    name = "revisit"

    def __init__(self, **params: Any) -> None:
        self.params: RevisitParams = resolve_params(RevisitParams, None, params)

    def episode(self, seed: int, split: str = "train", **overrides: Any) -> Episode:
        p = resolve_params(RevisitParams, self.params, overrides)
        rng = split_rng(self.name, split, seed)
        pools, length = _pools(split), p.length
        n_people = p.n_keys + p.extra_people
        if n_people > len(pools["first"]):
            raise ValueError(f"n_keys + extra_people = {n_people} exceeds the {split} name pool")
        firsts = rng.choice(len(pools["first"]), n_people, replace=False)
        lasts = rng.integers(len(pools["last"]), size=n_people)
        people = [f"{pools['first'][f]} {pools['last'][g]}" for f, g in zip(firsts, lasts)]
        attrs = [ATTRIBUTES[a] for a in rng.choice(len(ATTRIBUTES), p.n_keys, replace=False)]
        keys = list(zip(people[:p.n_keys], attrs))

        # Cues in the stream's second half (after min_gap), each fact before its cue - gap.
        free = set(range(length))
        cue_lo = max(p.min_gap, length // 2)
        cues = sorted(int(c) for c in rng.choice(np.arange(cue_lo, length), p.n_keys, False))
        free -= set(cues)
        facts_at = []
        for cue in cues:
            options = sorted(c for c in free if c <= cue - p.min_gap)
            if not options:
                raise ValueError(f"length={length} leaves no room for a fact {p.min_gap} "
                                 "chunks before its cue; raise length or lower min_gap")
            pos = int(options[int(rng.integers(len(options)))])
            facts_at.append(pos)
            free.discard(pos)
        stale_at: dict[int, int] = {}  # asked key -> chunk of its older value
        for k, pos in enumerate(facts_at):
            earlier = sorted(c for c in free if c < pos)
            if earlier and rng.random() < p.stale_rate:
                stale_at[k] = int(earlier[int(rng.integers(len(earlier)))])
                free.discard(stale_at[k])
        rest = [int(c) for c in rng.permutation(sorted(free))]
        n_other = min(rate_count(p.fact_rate, length), len(rest))
        n_mention = min(rate_count(p.mention_rate, length), len(rest) - n_other)
        others, mentions = rest[:n_other], rest[n_other:n_other + n_mention]
        fillers = rest[n_other + n_mention:]

        texts = [""] * length
        values = []
        for k, ((person, attr), pos) in enumerate(zip(keys, facts_at)):
            pool = pools["values"][attr]
            value = pool[int(rng.integers(len(pool)))]
            values.append(value)
            templates = pools["update"] if k in stale_at else pools["state"]
            texts[pos] = _pick(rng, templates).format(s=person, a=attr, v=value)
            texts[pos] += _details(rng, p.detail)
            if k in stale_at:
                old = pool[(pool.index(value) + 1 + int(rng.integers(len(pool) - 1))) % len(pool)]
                texts[stale_at[k]] = _pick(rng, pools["state"]).format(s=person, a=attr, v=old)
                texts[stale_at[k]] += _details(rng, p.detail)
        asked = set(keys)
        unasked = [(s, a) for s in people for a in ATTRIBUTES if (s, a) not in asked]
        for pos in others:
            person, attr = unasked[int(rng.integers(len(unasked)))]
            pool = pools["values"][attr]
            texts[pos] = _pick(rng, pools["state"]).format(
                s=person, a=attr, v=pool[int(rng.integers(len(pool)))])
            texts[pos] += _details(rng, p.detail)
        for pos in mentions:
            person, attr = keys[int(rng.integers(p.n_keys))]
            texts[pos] = _pick(rng, pools["mention"]).format(s=person, a=attr)
        for pos in fillers:
            texts[pos] = _pick(rng, pools["filler"]).format(s=people[int(rng.integers(n_people))])
        questions = []
        for k, cue in enumerate(cues):  # cue k asks key k (its fact was placed before it)
            person, attr = keys[k]
            texts[cue] = f"{CUE_MARKERS[int(rng.integers(len(CUE_MARKERS)))]} {person}'s {attr}?"
            questions.append(Question(
                text=_pick(rng, pools["question"]).format(s=person, a=attr),
                answers=(values[k],), evidence=(facts_at[k],),
                kind="update" if k in stale_at else "lookup", asked_after=cue,
                conflicting=(stale_at[k],) if k in stale_at else (), id=f"q{k}"))
        return Episode(
            chunks=tuple(Chunk(id=i, text=t) for i, t in enumerate(texts)),
            questions=tuple(questions), task=self.name, split=split, seed=int(seed),
            params=dataclasses.asdict(p),
            labels={"cues": cues, "facts": sorted(facts_at), "stale": sorted(stale_at.values()),
                    "other_facts": sorted(others),
                    "mentions": sorted(mentions), "filler": sorted(fillers)},
        )


def _pick(rng: np.random.Generator, pool: list[str]) -> str:
    return pool[int(rng.integers(len(pool)))]


#: Labels of the bookkeeping details of bulky facts (schema, shared by all splits).
DETAIL_LABELS: tuple[str, ...] = ("box", "shelf", "page", "folder", "drawer", "ref", "copy",
                                  "row", "bin", "tray", "desk", "batch")


def _details(rng: np.random.Generator, n: int) -> str:
    """`` Filed: box 12, page 7.`` with ``n`` label-number pairs ('' for ``n = 0``)."""
    if n == 0:
        return ""
    labels = rng.choice(len(DETAIL_LABELS), min(n, len(DETAIL_LABELS)), replace=False)
    pairs = [f"{DETAIL_LABELS[i]} {int(rng.integers(1, 100))}" for i in labels]
    return " Filed: " + ", ".join(pairs) + "."


#: The memory budget of the registered levels: three entries, so a long stream's unasked
#: facts overwrite the asked ones unless the agent knows (or rereads) what matters.
REVISIT_ENV: dict[str, Any] = {
    "tiers": {"episodic": {"entries": 3, "tokens": None}},
    "ops": ("noop", "add", "update"),
    "bow_dim": 128,  # fewer hash collisions: `reread similar` ranks past chunks by bow overlap
}
#: The recipe ids add the reread op (ReMemR1's callback) to the same budget.
REREAD_ENV: dict[str, Any] = {**REVISIT_ENV, "ops": ("noop", "add", "update", "reread")}

#: Short: memory holds every fact; Medium / Long: asked facts are overwritten before their cue.
REVISIT_LEVELS: dict[str, dict[str, Any]] = {
    "Short": {"length": 10, "n_keys": 2, "fact_rate": 0.1, "min_gap": 2},
    "Medium": {"length": 24, "n_keys": 3},
    "Long": {"length": 48, "n_keys": 3, "min_gap": 8},
}

#: The Revisit task's path: the task of the ReMemR1, BudgetMem and Memex recipe ids.
REVISIT_TASK = "memgym.tasks.revisit:RevisitTask"

register_task(
    "Revisit", RevisitTask,
    levels={lvl: {"task": t, "env": REVISIT_ENV} for lvl, t in REVISIT_LEVELS.items()},
    description="Facts stated once, asked after a cue much later; reread / archive recover them.",
)
