"""Multi-hop: every answer chains two stored facts.

## Description

A stream of short notes about people. Each of ``n_chains`` queried chains is stated reliably by
two facts at random positions (the target may come before the bridge): a *bridge*
``"Ann Lee's manager is Bob Stone."`` and a *target* ``"Bob Stone's city is Oslo."``. The
question ``"What is Ann Lee's manager's city?"`` (kind ``multi-hop``) needs both; the reader
resolves it hop by hop with :func:`memgym.facts.parse_question` and
:func:`memgym.facts.extract_fact`. Every other chunk is one of:

- a *rumour* (distractor): a hedge marker from :data:`RUMOUR_MARKERS` (shared by all splits)
  and a wrong value for a queried key. It parses as a fact, so keeping it beside the truth
  makes the answer ambiguous; the marker is the visible relevance signal;
- *filler*: a sentence with no fact and no name;
- a *mention*: people of the episode named without a fact (a lure for token-overlap
  features); labelled as filler and also listed under ``labels["mentions"]``.

Only facts of queried chains are stated reliably, so every reliable fact is worth keeping and
the memory budget is about the number of needed facts, ``2 * n_chains``. Longer streams keep
the chains and add rumours, filler and mentions. Names, values and templates are
split-disjoint (:func:`memgym.tasks.base.split_pool`); relation and attribute names are not.

## Action Space

Set by the environment (:class:`memgym.envs.structured.MemoryEnv`): one flat ``Discrete``
over (op, target) pairs — ``noop``, ``add -> tier``, ``update`` / ``delete`` slot k, ... for
the level's ``ops`` — with invalid pairs masked (``action_masks()``, ``info["action_mask"]``).
The text interface takes the same ops as tool calls.

## Observation Space

Structured: a flat ``Dict`` of ``Box`` arrays (bag of words of the chunk in view, per-slot
features such as same key / subject / value as the view, budget and progress). Text: a prompt
listing memory with ids, the chunk in view and the budget.

## Rewards

The reader's QA score over the questions (exact match by default), minus memory-size and op
costs; optional evidence shaping (see :mod:`memgym.rewards.terms`).

## Episode End

After the last chunk, once every question is answered (mid-stream ones as they fall due).

## Arguments

- ``length`` (40): chunks in the stream.
- ``n_chains`` (3): queried chains (one question, two needed facts each).
- ``distractor_rate`` (0.3): share of chunks that are rumours.
- ``filler_rate`` (0.2): share of chunks that are generic filler; the remaining non-fact
  chunks are mentions.
- ``abstain_questions`` (0): extra questions through a relation never stated (answer
  ``unknown``).
- ``mid_stream_questions`` (0): chain questions asked mid-stream, at or after their last
  evidence chunk.

## Version History

- v0: initial version.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from functools import lru_cache
from typing import Any, NamedTuple

import numpy as np

from memgym.envs.registration import register_task
from memgym.episode import Chunk, Episode, Question
from memgym.tasks.base import WRITE_DELETE_OPS, WRITE_OPS, split_pool, split_rng

# -- schema (shared by all splits) ----------------------------------------------------------
#: Bridge relations (their values are people).
RELATIONS = ("manager", "mentor", "landlord", "doctor", "neighbour", "coach", "tutor",
             "accountant", "dentist", "lawyer")
#: Hedge markers that open every rumour. Shared by all splits, so a policy can learn that the
#: marker (not the template around it, which is split) signals an unreliable statement.
RUMOUR_MARKERS = (  # each ends in ":" or "," so the "the <a> of <S>" form still parses
    "Rumour has it:", "Someone guessed:", "Unconfirmed:", "Allegedly,", "Gossip says:",
    "I overheard this:", "Supposedly,", "Word is,", "A stranger claimed:", "Hearsay:",
    "Reportedly,", "Maybe,",
)

# -- surface pools (split-disjoint) ---------------------------------------------------------
FIRST_NAMES = (
    "Ann Bob Cara Dev Elsa Femi Gus Hana Ivo Jonah Kofi Lena Milo Nia Otto Pia Quinn Rosa Sami "
    "Tara Udo Vera Wes Xena Yuri Zoe Abel Bea Cyril Dina Emil Fay Gino Hugo Iris Joel Kira "
    "Lars Maya Noel Olga Pavel Rhea Seth Tomas Uma Viktor Wanda"
).split()
LAST_NAMES = (
    "Lee Stone Ruiz Novak Berg Okafor Tanaka Silva Costa Meyer Kowal Haas Moreau Dubois Patel "
    "Reyes Khan Ito Lund Falk Brandt Vidal Rossi Conti Marsh Pryce Hale Yates Ng Abara Cruz "
    "Dahl Engel Frost Gallo Horvat Ibsen Jansen Keller Lindqvist Moss Nakamura Orsini Petrov "
    "Ramos Sato Tran Varga"
).split()
#: Target attributes (names shared) and their values (split). No value has [.,;!?] in it.
TARGET_VALUES: dict[str, list[str]] = {
    "city": (
        "Oslo|Lima|Quito|Hanoi|Perth|Dakar|Porto|Turin|Leeds|Cork|Bergen|Graz|Riga|Tallinn|"
        "Vilnius|Krakow|Brno|Lyon|Nantes|Seville|Bilbao|Malaga|Utrecht|Ghent|Aarhus|Uppsala|"
        "Tampere|Zagreb|Sofia|Varna|Izmir|Tbilisi|Baku|Almaty|Osaka|Sapporo"
    ).split("|"),
    "job": (
        "baker|plumber|architect|nurse|pilot|chemist|welder|librarian|florist|jeweller|"
        "surveyor|translator|geologist|carpenter|tailor|sculptor|veterinarian|electrician|"
        "economist|pharmacist|locksmith|butcher|glazier|cartographer|actuary|astronomer|"
        "botanist|curator|zoologist|chef|barista|firefighter|paramedic|mechanic"
    ).split("|"),
    "favourite colour": (
        "teal|crimson|amber|indigo|violet|ochre|olive|maroon|navy|coral|ivory|lilac|mauve|"
        "beige|cyan|magenta|scarlet|turquoise|lavender|peach|mint green|sky blue|burgundy|"
        "charcoal|saffron|emerald|sapphire|ruby|jade|khaki|plum|cobalt|rust|mustard"
    ).split("|"),
    "car": (
        "Volvo|Saab|Skoda|Fiat|Lancia|Dacia|Opel|Peugeot|Citroen|Renault|Toyota|Honda|Mazda|"
        "Subaru|Nissan|Suzuki|Kia|Hyundai|Tesla|Rivian|Jeep|Dodge|Buick|Lexus|Acura|Mini|"
        "Jaguar|Bentley|Porsche|Audi|Lotus|Polestar|Cadillac|Chevrolet|Ford|Lincoln|Chrysler|"
        "Ferrari|Maserati|Bugatti|Rover|Vauxhall|Proton|Geely|Tata|Mahindra"
    ).split("|"),
    "hobby": (
        "chess|pottery|archery|fencing|sailing|knitting|birdwatching|rowing|juggling|origami|"
        "calligraphy|beekeeping|climbing|surfing|kayaking|baking|gardening|painting|cycling|"
        "yoga|judo|karate|tango|woodworking|photography|stargazing|fishing|hiking|skating|"
        "skiing|bowling|darts|crosswords|quilting"
    ).split("|"),
}
#: Reliable facts ({s} subject, {a} attribute, {v} value), in the shapes of memgym.facts: the
#: value ends the clause, and no "the <x> ... the <a> of" that would widen the attribute.
FACT_TEMPLATES = [
    "{s}'s {a} is {v}.", "For the record, {s}'s {a} is {v}.", "The {a} of {s} is {v}.",
    "Records show this: the {a} of {s} is {v}.", "{s}'s {a} is {v}, as the directory lists.",
    "The registry confirms it: {s}'s {a} is {v}.", "Per the staff file, the {a} of {s} is {v}.",
    "Good to know: {s}'s {a} is {v}.", "Noted in the minutes, {s}'s {a} is {v}.",
    "It is official: the {a} of {s} is {v}.", "Checked twice: {s}'s {a} is {v}.",
    "{s}'s {a} is {v}, confirmed by the office.", "The {a} of {s} is {v}, per the records.",
    "As the file states, {s}'s {a} is {v}.", "{s}'s {a} is {v}, says the roster.",
    "According to the roster, {s}'s {a} is {v}.", "The {a} of {s} is {v}, as listed.",
    "Confirmed today: the {a} of {s} is {v}.", "From the signed form, {s}'s {a} is {v}.",
    "Verified: {s}'s {a} is {v}.", "Per the contract, the {a} of {s} is {v}.",
    "Fact sheet entry: {s}'s {a} is {v}.", "In the official list, {s}'s {a} is {v}.",
    "The {a} of {s} is {v}, on file since spring.", "Documented: the {a} of {s} is {v}.",
    "{s}'s {a} is {v}, per the signed paperwork.",
]
#: Rumours: a marker ({m}) then a fact with a wrong value.
RUMOUR_TEMPLATES = [
    "{m} {s}'s {a} is {v}.", "{m} the {a} of {s} is {v}.",
    "{m} {s}'s {a} is {v}, but nobody checked.", "{m} {s}'s {a} was {v}, or so they say.",
    "{m} the {a} of {s} is {v}, though it sounds wrong.",
    "{m} {s}'s {a} is {v}, take it with a grain of salt.", "{m} {s}'s {a} is {v}, unverified.",
    "{m} the {a} of {s} is {v}, hard to say.", "{m} {s}'s {a} is {v}, no source given.",
    "{m} {s}'s {a} is {v}, maybe.", "{m} the {a} of {s} was {v}, apparently.",
    "{m} {s}'s {a} has become {v}, if you believe that.",
    "{m} {s}'s {a} is {v}, though few believe it.", "{m} the {a} of {s} is {v}, a wild guess.",
    "{m} {s}'s {a} is {v}, nobody can confirm.", "{m} the {a} of {s} is {v}, who knows.",
    "{m} {s}'s {a} was {v}, by some accounts.", "{m} the {a} of {s} is {v}, or something like it.",
    "{m} {s}'s {a} is {v}, heard it in passing.", "{m} {s}'s {a} is {v}, doubtful.",
    "{m} the {a} of {s} is {v}, not confirmed.",
    "{m} {s}'s {a} is {v}, says a friend of a friend.",
]
#: People named without a fact ({p}, {q}): no possessive, no "the <x> of <Name>".
MENTION_TEMPLATES = [
    "{p} and {q} met for coffee.", "{p} sent {q} a long email about the budget.",
    "{p} shared a taxi with {q} after the conference.", "{p} waved at {q} in the lobby.",
    "{p} and {q} argued about the seating plan.", "{p} borrowed a pen from {q}.",
    "{p} called {q} twice this morning.", "{p} and {q} sat together at the workshop.",
    "{p} thanked {q} for the flowers.", "{p} lent {q} an umbrella.",
    "{p} and {q} missed the same train.", "{p} asked {q} about the parking rules.",
    "{p} played tennis with {q} on Friday.", "{p} and {q} planned the summer picnic.",
    "{p} bumped into {q} at the market.", "{p} and {q} shared a table at lunch.",
    "{p} gave {q} a ride home.", "{p} and {q} took the stairs together.",
    "{p} introduced {q} to the new intern.", "{p} emailed {q} the agenda.",
]
#: Sentences with no fact and no name.
FILLER = [
    "The coffee machine on the third floor is broken again.", "It rained all afternoon.",
    "The quarterly report is due next week.", "Someone left an umbrella in the meeting room.",
    "The printer ran out of toner.", "Lunch today was a vegetable soup.",
    "The elevator is being serviced.", "A fire drill is planned for Thursday.",
    "The parking lot was full by nine.", "New chairs arrived for the lounge.",
    "The wifi was slow this morning.", "There are cookies in the kitchen.",
    "The heating finally works again.", "The team photo is scheduled for noon.",
    "Traffic was heavy on the bridge.", "The library closes early on Fridays.",
    "A delivery van blocked the entrance.", "The plants in the atrium need water.",
    "The newsletter went out at ten.", "Nobody could find the stapler.",
    "The windows were cleaned yesterday.", "The snack budget was approved.",
    "A bird flew into the cafeteria.", "The projector needs a new bulb.",
    "Tickets for the gala sold out.", "The town fair starts on Saturday.",
    "The bakery on the corner reopened.", "Road works continue near the station.",
    "The museum has a new exhibit.", "The bus schedule changed this month.",
    "A jazz band played in the square.", "The river was high after the storm.",
    "The gym is closed for repairs.", "A new cafe opened by the harbour.",
    "The lights flickered during the meeting.", "The recycling bins were emptied.",
]
#: Question wordings; the possessive chain ends the sentence, as parse_question needs.
QUESTION_TEMPLATES = [
    "What is {c}?", "Do you know {c}?", "Tell me {c}.", "Which is {c}?", "Can you recall {c}?",
    "Remind me: what is {c}?", "Quick check, what is {c}?", "Do you remember {c}?",
    "Say again, what is {c}?", "Any idea about {c}?", "Please look up {c}.", "I need {c}.",
    "Look up {c}.", "Could you tell me {c}?", "Which value holds for {c}?", "Do we know {c}?",
    "Please state {c}.", "What do the notes say is {c}?", "Check the notes for {c}.",
]


@dataclass(frozen=True)
class MultiHopParams:
    """Parameters of :class:`MultiHopTask`; any of them can be overridden per episode."""

    length: int = 40
    """Chunks in the stream (held-out streams may be 16x longer)."""
    n_chains: int = 3
    """Queried chains; each is one question that needs a bridge and a target fact."""
    distractor_rate: float = 0.3
    """Share of chunks that are hedged rumours with wrong values for queried keys."""
    filler_rate: float = 0.2
    """Share of chunks that are generic filler; other non-fact chunks are mentions."""
    abstain_questions: int = 0
    """Extra questions through a relation never stated (answer ``"unknown"``)."""
    mid_stream_questions: int = 0
    """Chain questions asked mid-stream (at most ``n_chains``)."""

    def __post_init__(self) -> None:
        if self.n_chains < 1:
            raise ValueError(f"n_chains must be >= 1, got {self.n_chains}")
        if self.length < 2 * self.n_chains:
            raise ValueError(f"length={self.length} cannot hold the {2 * self.n_chains} facts "
                             f"of n_chains={self.n_chains}")
        for name in ("distractor_rate", "filler_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        for name in ("abstain_questions", "mid_stream_questions"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")


def resolve_params(base: MultiHopParams, overrides: dict[str, Any]) -> MultiHopParams:
    """``base`` with ``overrides`` applied; an unknown name is a ValueError naming it."""
    known = {f.name for f in fields(MultiHopParams)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ValueError(f"multihop: unknown parameter(s) {unknown}; known: {sorted(known)}")
    return replace(base, **overrides)


@lru_cache(maxsize=None)
def surface_pools(split: str) -> dict[str, Any]:
    """The split's share of every surface pool (computed once per split)."""
    firsts = split_pool(FIRST_NAMES, split, min_size=5)
    lasts = split_pool(LAST_NAMES, split, min_size=5)
    pools: dict[str, Any] = {name: tuple(split_pool(pool, split, min_size=3)) for name, pool in (
        ("facts", FACT_TEMPLATES), ("rumours", RUMOUR_TEMPLATES), ("mentions", MENTION_TEMPLATES),
        ("filler", FILLER), ("questions", QUESTION_TEMPLATES))}
    pools["people"] = tuple(f"{first} {last}" for first in firsts for last in lasts)
    pools["values"] = {a: tuple(split_pool(v, split, min_size=3)) for a, v in TARGET_VALUES.items()}
    return pools


class Chain(NamedTuple):
    """One queried chain: ``subject``'s ``relation`` is ``middle``; ``middle``'s ``attribute``
    is ``value``."""

    subject: str
    relation: str
    middle: str
    attribute: str
    value: str


class MultiHopTask:
    """Two-hop questions over bridge + target facts, among hedged rumours and filler."""

    name = "multihop"

    def __init__(self, **params: Any) -> None:
        self.params = resolve_params(MultiHopParams(), params)

    def episode(self, seed: int, split: str = "train", **overrides: Any) -> Episode:
        """The episode ``seed`` of ``split`` (deterministic in all arguments)."""
        p = resolve_params(self.params, overrides)
        rng = split_rng(self.name, split, seed)
        pools = surface_pools(split)

        def pick(pool: tuple[str, ...]) -> str:
            return pool[int(rng.integers(len(pool)))]

        def pick_other(pool: tuple[str, ...], *avoid: str) -> str:
            # Rejection sampling: every pool is much larger than the few values avoided.
            while (value := pick(pool)) in avoid:
                pass
            return value

        # Cast: two people per chain, then bystanders (wrong bridge values, mentions).
        n_cast = 2 * p.n_chains + max(2, p.n_chains)
        if n_cast > len(pools["people"]):
            raise ValueError(f"split {split!r} has too few names for n_chains={p.n_chains}")
        cast = tuple(pools["people"][i]
                     for i in rng.choice(len(pools["people"]), n_cast, replace=False).tolist())
        chains = []
        for c in range(p.n_chains):
            attribute = pick(tuple(TARGET_VALUES))
            chains.append(Chain(cast[2 * c], pick(RELATIONS), cast[2 * c + 1], attribute,
                                pick(pools["values"][attribute])))

        # Roles by position from one permutation, so any fact order (target first) can occur.
        n_facts = 2 * p.n_chains
        n_rumours = min(round(p.distractor_rate * p.length), p.length - n_facts)
        n_filler = min(round(p.filler_rate * p.length), p.length - n_facts - n_rumours)
        order = rng.permutation(p.length).tolist()
        fact_pos, order = order[:n_facts], order[n_facts:]
        rumour_pos, order = order[:n_rumours], order[n_rumours:]
        filler_pos, mention_pos = order[:n_filler], order[n_filler:]

        texts = [""] * p.length
        for c, ch in enumerate(chains):
            texts[fact_pos[2 * c]] = pick(pools["facts"]).format(
                s=ch.subject, a=ch.relation, v=ch.middle)
            texts[fact_pos[2 * c + 1]] = pick(pools["facts"]).format(
                s=ch.middle, a=ch.attribute, v=ch.value)
        conflicting: list[list[int]] = [[] for _ in chains]
        for pos in rumour_pos:
            c = int(rng.integers(p.n_chains))
            ch = chains[c]
            if rng.integers(2):  # wrong target value
                wrong = pick_other(pools["values"][ch.attribute], ch.value)
                s, a, v = ch.middle, ch.attribute, wrong
            else:  # wrong bridge: another person, possibly the middle of another chain
                s, a, v = ch.subject, ch.relation, pick_other(cast, ch.subject, ch.middle)
            texts[pos] = pick(pools["rumours"]).format(m=pick(RUMOUR_MARKERS), s=s, a=a, v=v)
            conflicting[c].append(pos)
        for pos in filler_pos:
            texts[pos] = pick(pools["filler"])
        for pos in mention_pos:
            i = int(rng.integers(n_cast))
            j = (i + 1 + int(rng.integers(n_cast - 1))) % n_cast  # a different person
            texts[pos] = pick(pools["mentions"]).format(p=cast[i], q=cast[j])

        questions = [
            Question(
                text=pick(pools["questions"]).format(
                    c=f"{ch.subject}'s {ch.relation}'s {ch.attribute}"),
                answers=(ch.value,), evidence=(fact_pos[2 * c], fact_pos[2 * c + 1]),
                kind="multi-hop", conflicting=tuple(sorted(conflicting[c])), id=f"q{c}")
            for c, ch in enumerate(chains)
        ]
        # Mid-stream: facts never change here, so any chain question may be asked early.
        k = min(p.mid_stream_questions, len(questions))
        for i in rng.choice(len(questions), k, replace=False).tolist():
            q = questions[i]
            questions[i] = replace(q, asked_after=int(rng.integers(max(q.evidence), p.length)))
        questions += self._abstain(chains, p.abstain_questions, rng, pools["questions"],
                                    start=len(questions))
        return Episode(
            chunks=tuple(Chunk(id=i, text=t) for i, t in enumerate(texts)),
            questions=tuple(questions), task=self.name, split=split, seed=seed,
            params=asdict(p),
            labels={"facts": sorted(fact_pos), "distractors": sorted(rumour_pos),
                    "filler": sorted(filler_pos + mention_pos), "mentions": sorted(mention_pos)},
        )

    @staticmethod
    def _abstain(chains: list[Chain], n: int, rng: np.random.Generator,
                 templates: tuple[str, ...], start: int) -> list[Question]:
        """Chains through a relation never stated for a person of the episode."""
        stated = {(ch.subject, ch.relation) for ch in chains}
        people = [person for ch in chains for person in (ch.subject, ch.middle)]
        candidates = [(s, r, a) for s in people for r in RELATIONS for a in TARGET_VALUES
                      if (s, r) not in stated]
        chosen = rng.choice(len(candidates), min(n, len(candidates)), replace=False).tolist()
        questions = []
        for i in chosen:
            s, r, a = candidates[i]
            text = templates[int(rng.integers(len(templates)))].format(c=f"{s}'s {r}'s {a}")
            questions.append(Question(text=text, answers=("unknown",), evidence=(),
                                      kind="abstain", id=f"q{start + len(questions)}"))
        return questions


register_task(
    "MultiHop", MultiHopTask,
    levels={
        "Easy": {
            "task": {"length": 20, "n_chains": 2, "distractor_rate": 0.2, "filler_rate": 0.4},
            "env": {"tiers": {"episodic": {"entries": 4, "tokens": None}}, "ops": WRITE_OPS},
        },
        "Medium": {
            "task": {"length": 40, "n_chains": 3, "distractor_rate": 0.3, "filler_rate": 0.2},
            "env": {"tiers": {"episodic": {"entries": 6, "tokens": None}}, "ops": WRITE_OPS},
        },
        "Hard": {  # 8 needed facts, 7 entries: freeing a mid-stream question's facts pays off
            "task": {"length": 100, "n_chains": 4, "distractor_rate": 0.4, "filler_rate": 0.2,
                     "abstain_questions": 1, "mid_stream_questions": 1},
            "env": {"tiers": {"episodic": {"entries": 7, "tokens": None}}, "ops": WRITE_DELETE_OPS},
        },
    },
    description="Two-hop questions (X's manager's city) over bridge and target facts among "
                "hedged rumours.",
)
