"""Needle: a few important facts among many decoys and filler; selective retention on a budget.

## Description

A stream of ``length`` chunks in which ``n_needles`` facts are stated once each, reliably, at
random positions ("Note to self: Vault Orion's code is 4417."). Everything else is either a
decoy, a hedged rumour (marker phrases from :data:`memgym.tasks.kv_updates.HEDGE_MARKERS`,
shared by all splits and tasks) giving a wrong value for a needle's key or for a similar key
(same kind of thing, another codename: "Allegedly, Vault Lyra's code is 9120."), or chatter
stating no fact, which often mentions the needles' names so name overlap alone is no signal.
With a memory of about ``n_needles`` entries the agent must keep exactly the needles. Longer
streams keep ``n_needles`` fixed and add decoys and filler. Codenames, values and sentence
templates are split-disjoint (:func:`memgym.tasks.base.split_pool`); the kinds of things and
their attributes (:data:`DOMAINS`) are the schema, shared by all splits.

## Action Space

The memgym structured env's flat ``Discrete`` op x target action (noop, add -> tier,
update / delete / evict slot k, ...), masked by ``action_masks()``; see
:mod:`memgym.envs.structured`. The text env takes the same ops as tool calls.

## Observation Space

The structured env's ``Dict`` of ``Box`` arrays (current-chunk features, per-slot features and
chunk-slot relations, budget, progress); see :mod:`memgym.envs.structured`.

## Rewards

Set by the environment: QA score of the reader on one ``lookup`` question per needle (plus
optional ``abstain`` questions about similar keys, answer ``"unknown"``), minus memory and op
costs, with optional dense evidence shaping.

## Episode End

After the last chunk is ingested and every question has been answered.

## Arguments

Task parameters (:class:`NeedleParams`; constructor defaults, overridable per episode):

- ``length=40``: chunks in the stream.
- ``n_needles=4``: facts stated once each, reliably; one question each.
- ``decoy_rate=0.3``: fraction of chunks that are hedged rumours; the rest is filler.
- ``abstain_questions=0``: extra questions about similar keys never stated reliably.
- ``mid_stream_questions=0``: questions asked after their needle instead of at the end.

## Version History

- v0: initial release.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import lru_cache
from typing import Any


from memgym.envs.registration import register_task
from memgym.episode import Chunk, Episode, Question
from memgym.tasks.base import (
    WRITE_DELETE_OPS, WRITE_OPS, check_rate, mid_stream_times, other_index, rate_count,
    resolve_params, split_pool, split_rng,
)
from memgym.tasks.fact_words import HEDGE_MARKERS, QUESTION_TEMPLATES, RUMOUR_TEMPLATES

# -- schema (shared by all splits): kind of thing -> its attribute and value pool ---------------
VALUES: dict[str, list[str]] = {
    "code": [str((i * 7919) % 9000 + 1000) for i in range(100)],  # distinct 4-digit codes
    "combination": [f"{i % 40 + 2:02d}-{(i * 7) % 50 + 10:02d}-{(i * 13) % 60 + 30:02d}"
                    for i in range(100)],
    "password": [f"{w}{(i * 37) % 90 + 10}" for i, w in enumerate(
        "amber basil cinder drift ember fable glimmer hollow ivory jigsaw kettle lantern meadow "
        "nutmeg orbit pebble quiver ripple saddle thistle umber velvet walnut yonder zest "
        "anchor bramble copper dapple eclipse falcon garnet harbor inkwell jasmine kelp".split())],
    "meeting room": [f"Room {f}{letter}" for f in range(1, 10) for letter in "ABCDEF"],
    "gate": [f"{letter}{n}" for letter in "ABCDE" for n in range(1, 21)],
    "parking spot": [f"bay {n}" for n in range(1, 90)],
}
#: Kind of thing (first word of a subject's name) -> the attribute its needles state.
DOMAINS: dict[str, str] = {
    "Vault": "code", "Locker": "combination", "Server": "password", "Project": "meeting room",
    "Flight": "gate", "Van": "parking spot",
}

# -- surface pools (split-disjoint) ---------------------------------------------------------
CODENAMES: list[str] = (
    "Orion Falcon Birch Lyra Juniper Atlas Borealis Cedar Fjord Granite Harbour Iris Jasper "
    "Kestrel Lumen Maple Nimbus Onyx Pike Quartz Raven Sierra Tundra Umbra Vesper Willow Xenon "
    "Zephyr Aspen Basalt Comet Dune Elm Fern Glacier Heron Indigo Jade Kite Larch Meridian "
    "Nova Opal Pine Quill Rowan Sable Thistle Ursa Vale Wren Yarrow Zircon Alder Beacon Cobalt "
    "Drake Echo Flint Garnet Hazel Ivy Kelvin Lotus Mistral Nettle Osprey Pollux Rigel Sorrel"
).split()
#: Reliable needle statements; ``{s}`` subject, ``{a}`` attribute, ``{v}`` value.
NEEDLE_TEMPLATES: list[str] = [
    "Note to self: {s}'s {a} is {v}.", "Important: the {a} of {s} is {v}.",
    "Write this down: {s}'s {a} is {v}.", "For the record, {s}'s {a} is {v}.",
    "Do not forget, the {a} of {s} is {v}.", "Official notice: {s}'s {a} is {v}.",
    "Memo: the {a} of {s} is {v}.", "Key detail: {s}'s {a} is {v}.",
    "Remember this one: the {a} of {s} is {v}.", "Security desk confirms the {a} of {s} is {v}.",
    "Please keep this: {s}'s {a} is {v}.", "Admin message: the {a} of {s} is {v}.",
    "Verified by the help desk, {s}'s {a} is {v}.", "Pinned message: {s}'s {a} is {v}.",
    "From the handbook: the {a} of {s} is {v}.", "Critical: {s}'s {a} is {v}.",
    "Logged officially: the {a} of {s} is {v}.", "Signed off today: {s}'s {a} is {v}.",
]
#: Chatter stating no fact; ``{s}`` (optional) is a needle's subject.
FILLER_TEMPLATES: list[str] = [
    "The hallway lights flickered for a moment.", "Someone walked past {s} twice this morning.",
    "The vending machine ran out of crisps again.", "A courier dropped off a parcel near {s}.",
    "The weekly stand-up got moved to Thursday.", "{s} was mentioned in passing during lunch.",
    "Everyone complained about the air conditioning.", "The fire drill is scheduled for later.",
    "A new poster went up next to {s}.", "The canteen served soup again.",
    "Nobody remembers who ordered the extra chairs.", "{s} came up in a chat about budgets.",
    "The windows were cleaned this afternoon.", "It was a slow day at the front desk.",
    "The plants near {s} need watering.", "A visitor asked for directions to the car park.",
    "The network was sluggish after lunch.", "{s} appeared on the agenda but was skipped.",
    "People argued about the thermostat again.", "The cleaning crew arrived early.",
    "Someone taped a cartoon to the door near {s}.", "The quarterly report is almost finished.",
    "A delivery van blocked the entrance for an hour.", "{s} is on the list for an inspection.",
    "The coffee tasted burnt today.", "The elevator music changed to jazz.",
    "A meeting about {s} was postponed.", "The new interns got their badges.",
    "The kitchen sink is leaking again.", "{s} needs a new label, apparently.",
    "There was cake in the break room.", "Nobody could find the stapler near {s}.",
]


@lru_cache(maxsize=None)
def _pools(split: str) -> dict[str, Any]:
    # Cached: split_pool hashes every item, far too slow to redo per episode.
    return {
        "codenames": split_pool(CODENAMES, split, min_size=10),
        "values": {a: split_pool(v, split, min_size=4) for a, v in VALUES.items()},
        "needle": split_pool(NEEDLE_TEMPLATES, split, min_size=3),
        "rumour": split_pool(RUMOUR_TEMPLATES, split, min_size=3),
        "question": split_pool(QUESTION_TEMPLATES, split, min_size=3),
        "filler": split_pool(FILLER_TEMPLATES, split, min_size=3),
    }


@dataclass(frozen=True)
class NeedleParams:
    """Parameters of :class:`NeedleTask` (one docstring per field)."""

    length: int = 40
    """Number of chunks in the stream."""
    n_needles: int = 4
    """Distinct facts stated once each, reliably, at random positions; one question each."""
    decoy_rate: float = 0.3
    """Fraction of chunks that are hedged rumours with wrong values for needle or similar keys;
    the rest (besides the needles) is filler."""
    abstain_questions: int = 0
    """Extra questions about similar keys (never stated reliably); answer ``unknown``."""
    mid_stream_questions: int = 0
    """Questions asked mid-stream, after their needle, instead of at the end."""

    def __post_init__(self) -> None:
        check_rate("decoy_rate", self.decoy_rate)
        if self.n_needles < 1:
            raise ValueError(f"n_needles must be >= 1, got {self.n_needles}")
        if self.length < self.n_needles + rate_count(self.decoy_rate, self.length):
            raise ValueError(f"length={self.length} is too short for n_needles={self.n_needles} "
                             f"and decoy_rate={self.decoy_rate}")
        if not 0 <= self.abstain_questions <= 4:
            raise ValueError("abstain_questions must be in [0, 4]")
        if not 0 <= self.mid_stream_questions <= self.n_needles:
            raise ValueError("mid_stream_questions must be in [0, n_needles]")


class NeedleTask:
    """A few reliable needles among decoys and filler (see the module docstring)."""

    name = "needle"

    def __init__(self, **params: Any) -> None:
        self.params: NeedleParams = resolve_params(NeedleParams, None, params)

    def episode(self, seed: int, split: str = "train", **overrides: Any) -> Episode:
        p = resolve_params(NeedleParams, self.params, overrides)
        rng = split_rng(self.name, split, seed)
        pools, length = _pools(split), p.length
        # Similar keys: same kind (and attribute) as a needle, another codename; decoys and
        # abstain questions use them.
        n_similar = max(2, p.abstain_questions)
        codenames = pools["codenames"]
        if p.n_needles + n_similar > len(codenames):
            raise ValueError(f"n_needles={p.n_needles} exceeds the {split} codename pool "
                             f"({len(codenames)} codenames, {n_similar} kept for similar keys)")
        names = [codenames[i] for i in rng.choice(len(codenames), p.n_needles + n_similar, False)]
        kinds = list(DOMAINS)
        needle_kinds = [kinds[int(i)] for i in rng.integers(len(kinds), size=p.n_needles)]
        similar_kinds = [needle_kinds[int(i)] for i in rng.integers(p.n_needles, size=n_similar)]
        keys = [(f"{k} {n}", DOMAINS[k]) for k, n in zip(needle_kinds + similar_kinds, names)]
        needles, similar = keys[:p.n_needles], keys[p.n_needles:]
        abstain = similar[:p.abstain_questions]

        n_decoy = rate_count(p.decoy_rate, length)
        order = rng.permutation(length)
        needle_at = [int(c) for c in order[:p.n_needles]]
        decoys = order[p.n_needles:p.n_needles + n_decoy]
        fillers = order[p.n_needles + n_decoy:]
        texts = [""] * length
        u = rng.random((length, 2))  # template and filler-subject draws
        truth: list[str] = []
        for (subject, attr), pos in zip(needles, needle_at):
            values = pools["values"][attr]
            truth.append(values[int(rng.integers(len(values)))])
            tmpl = pools["needle"][int(u[pos, 0] * len(pools["needle"]))]
            texts[pos] = tmpl.format(s=subject, a=attr, v=truth[-1])

        # Decoys: one per abstain key first, then needle keys (60%) or similar keys (40%).
        decoys_of: dict[tuple[str, str], list[int]] = {}
        for j, pos in enumerate(decoys):
            if j < len(abstain):
                target = abstain[j]
            elif rng.random() < 0.6:
                target = needles[int(rng.integers(p.n_needles))]
            else:
                target = similar[int(rng.integers(n_similar))]
            values = pools["values"][target[1]]
            wrong = {values.index(truth[needles.index(target)])} if target in needles else set()
            value = values[other_index(rng, len(values), wrong)]
            marker = HEDGE_MARKERS[int(rng.integers(len(HEDGE_MARKERS)))]
            body = pools["rumour"][int(u[pos, 0] * len(pools["rumour"]))]
            texts[pos] = f"{marker} {body.format(s=target[0], a=target[1], v=value)}"
            decoys_of.setdefault(target, []).append(int(pos))
        # Half the filler templates name a needle's (or a similar key's) subject: name overlap
        # alone must not signal relevance.
        for pos in fillers:
            tmpl = pools["filler"][int(u[pos, 0] * len(pools["filler"]))]
            texts[pos] = tmpl.format(s=keys[int(u[pos, 1] * len(keys))][0])

        asked = mid_stream_times(rng, needle_at, p.mid_stream_questions, length)
        q_tmpls = pools["question"]
        questions = []
        for i in rng.permutation(p.n_needles):
            i = int(i)
            subject, attr = needles[i]
            horizon = asked.get(i, length - 1)  # decoys after a mid-stream question don't count
            seen_decoys = [c for c in sorted(decoys_of.get(needles[i], [])) if c <= horizon]
            questions.append(Question(
                text=q_tmpls[int(rng.integers(len(q_tmpls)))].format(s=subject, a=attr),
                answers=(truth[i],), evidence=(needle_at[i],), kind="lookup",
                asked_after=asked.get(i), conflicting=tuple(seen_decoys)))
        for subject, attr in abstain:
            questions.append(Question(
                text=q_tmpls[int(rng.integers(len(q_tmpls)))].format(s=subject, a=attr),
                answers=("unknown",), evidence=(), kind="abstain",
                conflicting=tuple(sorted(decoys_of.get((subject, attr), [])))))
        questions = [dataclasses.replace(q, id=f"q{i}") for i, q in enumerate(questions)]
        return Episode(
            chunks=tuple(Chunk(id=i, text=t) for i, t in enumerate(texts)),
            questions=tuple(questions), task=self.name, split=split, seed=int(seed),
            params=dataclasses.asdict(p),
            labels={"distractors": sorted(int(c) for c in decoys),
                    "filler": sorted(int(c) for c in fillers), "facts": sorted(needle_at)},
        )


def _level(length: int, n_needles: int, decoy_rate: float, entries: int,
           ops: tuple[str, ...] = WRITE_OPS) -> dict[str, Any]:
    return {"task": {"length": length, "n_needles": n_needles, "decoy_rate": decoy_rate},
            "env": {"tiers": {"episodic": {"entries": entries, "tokens": None}}, "ops": ops}}


register_task(
    "Needle", NeedleTask,
    levels={"Easy": _level(20, 3, 0.3, 4), "Medium": _level(40, 4, 0.3, 4),
            "Hard": _level(120, 6, 0.4, 6, WRITE_DELETE_OPS)},
    description="A few reliable facts among hedged decoys and chatter; keep only the needles.",
)
