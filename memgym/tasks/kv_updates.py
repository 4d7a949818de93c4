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
from typing import Any, TypeVar

import numpy as np

from memgym.envs.registration import register_task
from memgym.episode import Chunk, Episode, Question
from memgym.tasks.base import WRITE_DELETE_OPS, WRITE_OPS, split_pool, split_rng

# -- schema (shared by all splits) ---------------------------------------------------------
#: Marker phrases of hedged rumours. Shared by every split and by the needle task: they are the
#: reliability signal a policy must learn, not surface to memorise.
HEDGE_MARKERS: tuple[str, ...] = (
    "Rumour has it", "Someone guessed", "Unconfirmed:", "I might be wrong, but", "Allegedly,",
    "Word around town is that", "Not sure about this, but", "Hearsay:", "Supposedly,",
    "A neighbour claimed", "Gossip:",
)
#: Attribute names are the schema; their values are split-disjoint.
VALUES: dict[str, list[str]] = {
    "city": "Oslo Lisbon Nairobi Lima Osaka Toronto Dublin Krakow Porto Seville Bergen Tampere "
    "Leeds Glasgow Cardiff Hobart Perth Auckland Wellington Quito Bogota Santiago Montevideo "
    "Accra Dakar Tunis Izmir Tbilisi Yerevan Almaty Hanoi Manila Busan Sapporo Kyoto Zagreb "
    "Ljubljana Bratislava Tallinn Riga Vilnius Geneva Lyon Bordeaux Marseille Turin".split(),
    "job": ("nurse,baker,architect,pilot,plumber,chemist,librarian,dentist,carpenter,surveyor,"
            "translator,journalist,electrician,pharmacist,florist,geologist,veterinarian,"
            "accountant,firefighter,teacher,tailor,welder,lawyer,paramedic,barista,cartographer,"
            "data analyst,sound engineer,park ranger,lighthouse keeper,beekeeper,locksmith,"
            "optician,stonemason,economist,zookeeper,glassblower,botanist,potter").split(","),
    "pet": ("cat,dog,parrot,hamster,rabbit,tortoise,goldfish,ferret,iguana,gecko,canary,"
            "guinea pig,chinchilla,hedgehog,axolotl,cockatiel,corn snake,tarantula,budgie,pony,"
            "goat,alpaca,duck,hermit crab,bearded dragon,chameleon,rat,gerbil,koi,lovebird,"
            "pigeon,tree frog,salamander,donkey,lamb,newt").split(","),
    "favourite colour": ("teal,crimson,amber,violet,indigo,ochre,magenta,turquoise,scarlet,"
                         "lavender,maroon,olive,coral,cyan,beige,charcoal,mint green,navy blue,"
                         "burgundy,saffron,mustard,peach,lilac,emerald,cobalt,ivory,plum,rust,"
                         "slate grey,sky blue,ruby,sepia,taupe,vermilion,aquamarine,"
                         "periwinkle").split(","),
    "hobby": ("chess,pottery,archery,birdwatching,knitting,fencing,rowing,juggling,origami,"
              "calligraphy,sailing,rock climbing,gardening,fishing,surfing,kayaking,painting,"
              "photography,woodworking,stargazing,geocaching,quilting,skateboarding,yoga,"
              "karaoke,cycling,hiking,pilates,sudoku,bowling,diving,tango,embroidery,sketching,"
              "tai chi,fly fishing").split(","),
    "instrument": ("violin,cello,piano,flute,oboe,trumpet,harp,banjo,ukulele,clarinet,"
                   "saxophone,drums,accordion,bassoon,mandolin,sitar,tuba,trombone,harmonica,"
                   "bagpipes,viola,double bass,xylophone,marimba,bongos,lute,zither,recorder,"
                   "French horn,piccolo,harpsichord,theremin,steel drum,tabla,didgeridoo,"
                   "kazoo,glockenspiel,cornet,dulcimer,ocarina").split(","),
}
ATTRIBUTES: tuple[str, ...] = tuple(VALUES)

# -- surface pools (split-disjoint) ---------------------------------------------------------
FIRST_NAMES: list[str] = (
    "Ann Bruno Carla Dmitri Elena Farid Greta Hugo Ines Jonas Kira Luca Maya Nikolai Olga Pablo "
    "Quinn Rosa Samir Tara Umar Vera Wes Xenia Yusuf Zoe Aditi Bjorn Chloe Diego Emeka Freya "
    "Goran Hana Ivan Keiko Lars Mei Nadia Omar Priya Rafael Sven Talia Viktor Wanda Yara Zain "
    "Amara Cyrus Dalia Elio Fatima Gideon Leila Mateo Noor Oskar Petra Ravi Sofia Tomas Uma "
    "Valentin Wiremu Yasmin Zora Anika Benedikt Cosima Dario Esme Filip Giulia Hamid Ingrid"
).split()
LAST_NAMES: list[str] = (
    "Lee Novak Okafor Silva Tanaka Berg Costa Dubois Eriksen Fischer Garcia Haddad Ivanova "
    "Jensen Kowalski Larsen Moreau Nakamura Olsen Petrov Quint Rossi Schmidt Torres Ueda Varga "
    "Weber Xu Yilmaz Zhang Abebe Brennan Castillo Dimitrov Eze Ferreira Gallo Horvat Ito "
    "Jovanovic Kaur Lindqvist Mendes Nilsson Ortiz Park Reyes Sato Tran Vogel"
).split()
#: Reliable first statements; ``{s}`` subject, ``{a}`` attribute, ``{v}`` value.
STATE_TEMPLATES: list[str] = [
    "{s}'s {a} is {v}.", "Records show the {a} of {s} is {v}.", "For the record, {s}'s {a} is {v}.",
    "{s}: My {a} is {v}.", "According to the registry, the {a} of {s} is {v}.",
    "Profile note: {s}'s {a} is {v}.", "Fact: the {a} of {s} is {v}.",
    "Noted today: {s}'s {a} is {v}.", "From the official file: {s}'s {a} is {v}.",
    "Confirmed: the {a} of {s} is {v}.", "Intake form: the {a} of {s} is {v}.",
    "Verified entry: {s}'s {a} is {v}.", "Directory entry: {s}'s {a} is {v}.",
    "Per the database, the {a} of {s} is {v}.", "Known fact: {s}'s {a} is {v}.",
    "Checked and true: the {a} of {s} is {v}.", "Onboarding sheet: {s}'s {a} is {v}.",
    "Welcome pack: the {a} of {s} is {v}.", "Census data: {s}'s {a} is {v}.",
    "Straight from the source, the {a} of {s} is {v}.", "Good to know: {s}'s {a} is {v}.",
    "Signed statement: the {a} of {s} is {v}.", "Team wiki: {s}'s {a} is {v}.",
    "Official record: the {a} of {s} is {v}.", "Registration card: {s}'s {a} is {v}.",
]
#: Reliable statements that change a key's value.
UPDATE_TEMPLATES: list[str] = [
    "Update: {s}'s {a} is now {v}.", "{s}'s {a} has changed to {v}.",
    "Heads up, the {a} of {s} has been updated to {v}.", "{s}: My {a} is now {v}.",
    "Correction: {s}'s {a} is now {v}.", "New info: the {a} of {s} is now {v}.",
    "As of this week, {s}'s {a} has become {v}.", "Change logged: {s}'s {a} was updated to {v}.",
    "Latest: the {a} of {s} changed to {v}.", "{s}: My {a} has changed to {v}.",
    "Moving on from the old one, {s}'s {a} is now {v}.",
    "Records updated: the {a} of {s} has been updated to {v}.", "News: {s}'s {a} became {v}.",
    "Since last month, the {a} of {s} is now {v}.", "Amended entry: {s}'s {a} now is {v}.",
    "Fresh change: the {a} of {s} has become {v}.",
    "Just in: {s}'s {a} has been updated to {v}.", "Revised: the {a} of {s} is now {v}.",
]
#: Reliable restatements of a key's current value.
CONFIRM_TEMPLATES: list[str] = [
    "{s}'s {a} is still {v}.", "No change: the {a} of {s} is still {v}.",
    "Checked again: {s}'s {a} is still {v}.", "{s}: My {a} is still {v}.",
    "Same as before, the {a} of {s} is still {v}.", "Reconfirmed: {s}'s {a} is still {v}.",
    "Nothing new: {s}'s {a} is still {v}.", "Verified again: the {a} of {s} is still {v}.",
    "As before, {s}'s {a} is still {v}.", "Audit passed: the {a} of {s} is still {v}.",
    "Still true: {s}'s {a} is still {v}.", "Unchanged: the {a} of {s} is still {v}.",
    "Double-checked: {s}'s {a} is still {v}.", "Status quo: the {a} of {s} is still {v}.",
    "Follow-up: {s}'s {a} is still {v}.", "Rechecked today: the {a} of {s} is still {v}.",
    "Holding steady, {s}'s {a} is still {v}.", "As of today, the {a} of {s} is still {v}.",
]
#: Rumour bodies, written after a hedge marker (they parse as facts, with wrong values).
RUMOUR_TEMPLATES: list[str] = [
    "{s}'s {a} is {v}.", "{s}'s {a} is now {v}.", "the {a} of {s} is {v}.", "{s}'s {a} was {v}.",
    "{s}'s {a} has changed to {v}.", "the {a} of {s} has become {v}.", "{s}'s {a} became {v}.",
    "the {a} of {s} is now {v}.", "{s}'s {a} has been updated to {v}.", "the {a} of {s} was {v}.",
    "{s}'s {a} is still {v}.", "the {a} of {s} changed to {v}.", "{s}'s {a} has become {v}.",
    "the {a} of {s} is still {v}.", "{s}'s {a} now is {v}.", "{s}'s {a} is {v}, apparently.",
    "the {a} of {s} is {v}, or so they say.", "{s}'s {a} was updated to {v}.",
    "the {a} of {s} has been updated to {v}.", "{s}'s {a} changed to {v}.",
    "the {a} of {s} became {v}.", "{s}'s {a} is now {v}, I think.",
    "the {a} of {s} is {v}, last I heard.", "the {a} of {s} now is {v}.",
    "{s}'s {a} is {v}; do not quote me.", "the {a} of {s} was updated to {v}.",
]
QUESTION_TEMPLATES: list[str] = [
    "What is {s}'s {a}?", "Tell me {s}'s {a}.", "Do you know {s}'s {a}?",
    "What is the {a} of {s}?", "Remind me of {s}'s {a}.", "Could you tell me the {a} of {s}?",
    "Which one is {s}'s {a}?", "Any idea about {s}'s {a}?", "Please recall {s}'s {a}.",
    "I need {s}'s {a}.", "Quick check: what is {s}'s {a}?", "Do you remember the {a} of {s}?",
    "What do we have for {s}'s {a}?", "Question: what is {s}'s {a}?", "Can you recall {s}'s {a}?",
    "Say again, what is the {a} of {s}?", "Look up {s}'s {a}.", "Give me {s}'s {a}.",
    "What was recorded as the {a} of {s}?", "From memory, what is {s}'s {a}?",
]
#: Chatter stating no fact; ``{s}`` (optional) is one of the episode's people.
FILLER_TEMPLATES: list[str] = [
    "Lunch today was a quiet affair.", "{s} waved from across the street.",
    "The coffee machine broke again this morning.", "{s} mentioned the weather looked grim.",
    "Traffic on the ring road was terrible.", "We talked about football for a while.",
    "{s} laughed at a joke nobody else got.", "The meeting ran long and nobody minded.",
    "It rained all afternoon.", "{s} and I argued about films for an hour.",
    "Someone left an umbrella by the door.", "The printer jammed twice before noon.",
    "{s} brought cake to the office.", "Nothing much happened over the weekend.",
    "The train was delayed by ten minutes.", "{s} asked whether anyone had seen the keys.",
    "We watched the sunset from the roof.", "The new neighbour seems friendly enough.",
    "{s} sent a postcard with a funny stamp.", "There was a long queue at the bakery.",
    "{s} could not stop yawning during the talk.", "The heating made a strange noise overnight.",
    "A bird kept tapping on the window.", "{s} recommended a podcast about old maps.",
    "The lift was out of order again.", "We planned a picnic but it got cancelled.",
    "{s} forgot to bring a pen to the exam.", "The library closed early for repairs.",
    "Somebody hummed the same tune all day.", "{s} said hello and hurried off.",
    "The garden looks greener after the storm.", "Our team lost the quiz by one point.",
    "{s} hummed along to the radio.", "The bus was packed this morning.",
    "{s} spilled tea on the sofa.", "We ordered too much pizza again.",
]

# -- helpers shared with the other fact-stream tasks ----------------------------------------
P = TypeVar("P")


def resolve_params(params_cls: type[P], base: P | None, overrides: dict[str, Any]) -> P:
    """``base`` (or the defaults) with ``overrides``; an unknown name raises ``ValueError``."""
    names = {f.name for f in dataclasses.fields(params_cls)}  # type: ignore[arg-type]
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise ValueError(f"{params_cls.__name__}: unknown parameter(s) {', '.join(unknown)}; "
                         f"valid: {', '.join(sorted(names))}")
    if base is None:
        return params_cls(**overrides)
    return dataclasses.replace(base, **overrides)  # type: ignore[type-var]


def rate_count(rate: float, length: int) -> int:
    """Chunks of a stream of ``length`` given to a ``rate`` (rounded half up)."""
    return int(rate * length + 0.5)


def other_index(rng: np.random.Generator, n: int, exclude: set[int]) -> int:
    """A uniform index of ``range(n)`` outside ``exclude`` (needs ``len(exclude) < n``)."""
    while True:
        i = int(rng.integers(n))
        if i not in exclude:
            return i


def check_rate(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {value}")


def mid_stream_times(rng: np.random.Generator, evidence_at: list[int], count: int,
                     length: int) -> dict[int, int]:
    """``{question index: asked_after}`` for up to ``count`` questions whose evidence chunk comes
    before the last chunk (asked between it and the end, so the answer is already settled)."""
    eligible = [i for i, e in enumerate(evidence_at) if e < length - 1]
    chosen = rng.permutation(eligible)[:count] if eligible else []
    return {int(i): int(rng.integers(evidence_at[i], length - 1)) for i in chosen}


def check_key_stream(p: Any, noise_rate: str) -> None:
    """Checks shared by key-value streams (this task and the poisoning task): entities and
    keys fit the attribute schema, and ``length`` leaves a reliable chunk per key after the
    ``noise_rate`` share (distractors / planted content) and filler."""
    if p.n_keys < 1 or p.n_entities < 1:
        raise ValueError("n_keys and n_entities must be >= 1")
    if -(-p.n_keys // p.n_entities) > len(ATTRIBUTES):
        raise ValueError(f"n_keys={p.n_keys} needs more than {len(ATTRIBUTES)} attributes "
                         f"per entity; raise n_entities")
    reliable = p.length - rate_count(getattr(p, noise_rate), p.length) \
        - rate_count(p.filler_rate, p.length)
    if reliable < p.n_keys:
        raise ValueError(f"length={p.length} leaves {reliable} reliable chunks for "
                         f"n_keys={p.n_keys}; raise length or lower the rates")
    if not 0 <= p.abstain_questions <= len(ATTRIBUTES):
        raise ValueError(f"abstain_questions must be in [0, {len(ATTRIBUTES)}]")
    if not 0 <= p.mid_stream_questions <= p.n_keys:
        raise ValueError("mid_stream_questions must be in [0, n_keys]")


def draw_people(rng: np.random.Generator, pools: dict[str, Any], n_entities: int,
                split: str) -> tuple[list[str], str]:
    """``n_entities`` people plus a spare one (never stated reliably): distinct first names,
    last names may repeat (name overlap is realistic)."""
    if n_entities + 1 > len(pools["first"]):
        raise ValueError(f"n_entities={n_entities} exceeds the {split} name pool")
    firsts = rng.choice(len(pools["first"]), n_entities + 1, replace=False)
    lasts = rng.integers(len(pools["last"]), size=n_entities + 1)
    people = [f"{pools['first'][f]} {pools['last'][g]}" for f, g in zip(firsts, lasts)]
    return people[:-1], people[-1]


def fact_pools(split: str, *, first_min: int, **templates: list[str]) -> dict[str, Any]:
    """The split's first names (at least ``first_min``), last names and attribute values, then
    each named template list (at least 3 each): what the fact-stream tasks built on these
    pools draw from. Callers cache it per split (split_pool hashes every item)."""
    pools: dict[str, Any] = {
        "first": split_pool(FIRST_NAMES, split, min_size=first_min),
        "last": split_pool(LAST_NAMES, split, min_size=4),
        "values": {a: split_pool(v, split, min_size=4) for a, v in VALUES.items()},
    }
    pools.update({name: split_pool(pool, split, min_size=3) for name, pool in templates.items()})
    return pools


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
