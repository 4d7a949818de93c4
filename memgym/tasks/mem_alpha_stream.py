"""Mem-alpha: build a core / episodic / semantic memory, paid for accuracy and charged for size.

## Description

Mem-alpha (Wang et al., 2025) trains an agent to write a memory of three parts: a ``core``
paragraph that is always shown and can only be rewritten (update), ``episodic`` entries
(time-stamped events) and ``semantic`` entries (facts), with insert / update / delete. Its
reward is QA accuracy + tool-call success + beta x compression (1 - memory tokens / stream
tokens) + a memory-content term; raising beta shrinks the memory and costs accuracy.

The stream here is about one person, the owner:

- ``profile`` chunks: the owner's current city or job, stated then changed
  ``profile_changes`` times (core material: its question is always asked);
- ``event`` chunks: "On 2024-03-05, Maya Berg met Ann Lee." (episodic; asked "When did ...");
- ``fact`` chunks: "Ann Lee's job is pilot." about two other people (semantic);
- ``filler`` chatter.

Half of the events and facts (``important_share``) carry an importance cue ("Important:",
"Remember this:", shared by every split) and are asked with probability ``p_important``; the
rest with ``p_other``. So the value of storing a chunk is visible but uncertain, and beta
decides which chunks are worth their tokens. Names and values are split-disjoint.

## Action Space

The structured env of :mod:`memgym.recipes.mem_alpha`: noop, ``add -> episodic`` /
``add -> semantic``, ``update slot k`` (the core slot included), ``delete slot k``. The core
tier holds one entry from the start (a placeholder), cannot be added to and cannot be deleted
(masked). The text env (``-Text-v0``) takes the same ops as tool calls and reports the same
rules as errors.

## Observation Space

The structured env's ``Dict`` of ``Box`` arrays (see :mod:`memgym.envs.structured`).

## Rewards

``qa`` (mean exact match of the default reader, core always read) + ``tool_success`` (share of
ops that succeeded, at the end) + ``beta`` x ``compression`` + ``content_weight`` x
``content`` (share of entries in the tier their content belongs to: profile -> core,
event -> episodic, fact -> semantic; checked against the episode labels), plus the usual
``invalid`` penalty.

## Episode End

After the last chunk is ingested and every question answered.

## Arguments

:class:`MemAlphaParams`: ``length=16``, ``n_events=5``, ``n_facts=4``, ``profile_changes=1``,
``important_share=0.5``, ``p_important=0.9``, ``p_other=0.2``. Environment: ``beta`` (default
0.05, the paper's), ``tool_weight=1.0``, ``content_weight=0.1``.

## Version History

- v0: initial release.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from memgym.episode import Chunk, Episode, Question
from memgym.tasks.base import check_rate, resolve_params, split_rng
from memgym.tasks.fact_words import (
    FILLER_TEMPLATES, QUESTION_TEMPLATES, UPDATE_TEMPLATES, fact_pools,
)

#: Importance cues, shared by every split: the signal a policy can price a chunk by.
IMPORTANT_MARKERS: tuple[str, ...] = (
    "Important:", "Remember this:", "Key detail:", "Do not forget:", "This matters:",
)
#: (past tense in the event, base form in the question)
EVENT_VERBS: tuple[tuple[str, str], ...] = (
    ("met", "meet"), ("called", "call"), ("visited", "visit"),
    ("had lunch with", "have lunch with"), ("wrote to", "write to"),
    ("went hiking with", "go hiking with"), ("played chess with", "play chess with"),
    ("interviewed", "interview"), ("thanked", "thank"), ("emailed", "email"),
)
PROFILE_ATTRIBUTES: tuple[str, ...] = ("city", "job")
FACT_ATTRIBUTES: tuple[str, ...] = ("pet", "hobby", "instrument", "favourite colour")
#: Which tier each chunk kind belongs in (the content-validity check).
TIER_OF_KIND: dict[str, str] = {"profile": "core", "event": "episodic", "fact": "semantic"}


@lru_cache(maxsize=None)
def _pools(split: str) -> dict[str, Any]:
    return fact_pools(split, first_min=8, update=UPDATE_TEMPLATES, question=QUESTION_TEMPLATES,
                      filler=FILLER_TEMPLATES)


@dataclass(frozen=True)
class MemAlphaParams:
    """Parameters of :class:`MemAlphaTask` (one docstring per field)."""

    length: int = 16
    """Chunks in the stream; what the profile, events and facts leave is filler."""
    n_events: int = 5
    """Dated events of the owner with distinct people (episodic material)."""
    n_facts: int = 4
    """Facts about two other people (semantic material)."""
    profile_changes: int = 1
    """Times the owner's profile value changes after its first statement."""
    important_share: float = 0.5
    """Share of events and facts carrying an importance cue."""
    p_important: float = 0.9
    """Chance that an important event / fact is asked about."""
    p_other: float = 0.2
    """Chance that another event / fact is asked about."""

    def __post_init__(self) -> None:
        for name in ("important_share", "p_important", "p_other"):
            check_rate(name, getattr(self, name))
        if self.n_events < 0 or self.profile_changes < 0 or not 0 <= self.n_facts <= 8:
            raise ValueError("n_events and profile_changes must be >= 0, n_facts in [0, 8]")
        needed = 1 + self.profile_changes + self.n_events + self.n_facts
        if self.length < needed:
            raise ValueError(f"length={self.length} < {needed} (profile + changes + events + "
                             "facts); raise length")


class MemAlphaTask:
    """Owner profile, events and facts with importance cues (see module doc)."""

    name = "mem_alpha"

    def __init__(self, **params: Any) -> None:
        self.params: MemAlphaParams = resolve_params(MemAlphaParams, None, params)

    def episode(self, seed: int, split: str = "train", **overrides: Any) -> Episode:
        p = resolve_params(MemAlphaParams, self.params, overrides)
        rng = split_rng(self.name, split, seed)
        pools = _pools(split)
        n_people = 1 + p.n_events + 2
        if n_people > len(pools["first"]):
            raise ValueError(f"n_events={p.n_events} needs {n_people} names; the {split} pool "
                             f"has {len(pools['first'])}")
        firsts = rng.choice(len(pools["first"]), n_people, replace=False)
        people = [f"{pools['first'][f]} {pools['last'][int(rng.integers(len(pools['last'])))]}"
                  for f in firsts]
        owner, guests, subjects = people[0], people[1:1 + p.n_events], people[1 + p.n_events:]
        items: list[tuple[str, str, Question | None]] = []  # (kind, text, question)
        q_tmpls = pools["question"]

        def ask(important: bool) -> bool:
            return bool(rng.random() < (p.p_important if important else p.p_other))

        def cue(text: str, important: bool) -> str:
            return f"{IMPORTANT_MARKERS[int(rng.integers(len(IMPORTANT_MARKERS)))]} {text}" \
                if important else text

        # Profile: one attribute, stated then changed; its latest value is always asked.
        attr = PROFILE_ATTRIBUTES[int(rng.integers(len(PROFILE_ATTRIBUTES)))]
        values = pools["values"][attr]
        chosen = [values[i] for i in rng.choice(len(values), 1 + p.profile_changes, replace=False)]
        profile = [f"{owner}'s {attr} is {chosen[0]}."] + [
            pools["update"][int(rng.integers(len(pools["update"])))].format(s=owner, a=attr, v=v)
            for v in chosen[1:]]
        profile_q = Question(q_tmpls[int(rng.integers(len(q_tmpls)))].format(s=owner, a=attr),
                             (chosen[-1],), kind="update" if p.profile_changes else "lookup")
        important = rng.random(p.n_events + p.n_facts) < p.important_share
        for i, guest in enumerate(guests):
            past, base = EVENT_VERBS[int(rng.integers(len(EVENT_VERBS)))]
            date = f"2024-{int(rng.integers(1, 13)):02d}-{int(rng.integers(1, 29)):02d}"
            text = cue(f"On {date}, {owner} {past} {guest}.", important[i])
            q = Question(f"When did {owner} {base} {guest}?", (date,), kind="temporal") \
                if ask(important[i]) else None
            items.append(("event", text, q))
        pairs = [(s, a) for s in subjects for a in FACT_ATTRIBUTES]
        fact_keys = [pairs[i] for i in rng.permutation(len(pairs))]
        for j, (subject, fattr) in enumerate(fact_keys[:p.n_facts]):
            vals = pools["values"][fattr]
            value = vals[int(rng.integers(len(vals)))]
            flag = important[p.n_events + j]
            text = cue(f"{subject}'s {fattr} is {value}.", flag)
            q = Question(q_tmpls[int(rng.integers(len(q_tmpls)))].format(s=subject, a=fattr),
                         (value,), kind="lookup") if ask(flag) else None
            items.append(("fact", text, q))

        # Positions: profile statements in order, everything else shuffled around them.
        n_rest = p.length - len(profile) - len(items)
        fillers = pools["filler"]
        items += [("filler", fillers[int(rng.integers(len(fillers)))].format(
            s=people[int(rng.integers(len(people)))]), None) for _ in range(n_rest)]
        order = rng.permutation(len(items) + len(profile))
        profile_at = sorted(order[:len(profile)].tolist())
        slots = iter(sorted(order[len(profile):].tolist()))
        texts: list[str] = [""] * p.length
        kinds: list[str] = [""] * p.length
        questions: list[Question] = []
        for at, text in zip(profile_at, profile):
            texts[at], kinds[at] = text, "profile"
        questions.append(dataclasses.replace(profile_q, evidence=(profile_at[-1],),
                                             conflicting=tuple(profile_at[:-1])))
        for (kind, text, q), at in zip((items[i] for i in rng.permutation(len(items))), slots):
            texts[at], kinds[at] = text, kind
            if q is not None:
                questions.append(dataclasses.replace(q, evidence=(at,)))
        questions = [dataclasses.replace(q, id=f"q{i}") for i, q in enumerate(questions)]
        return Episode(
            chunks=tuple(Chunk(id=i, text=t) for i, t in enumerate(texts)),
            questions=tuple(questions), task=self.name, split=split, seed=int(seed),
            params=dataclasses.asdict(p), labels={"kinds": kinds, "owner": owner},
        )
