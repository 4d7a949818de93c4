"""Dialogue: a multi-session chat between two people (LoCoMo-like, generated).

## Description

Two speakers chat over dated sessions; each chunk is one turn with ``speaker``, ``session``
and ``time`` (the session date), rendered ``"[2024-05-01] Ann Lee: My city is Oslo."``.
Turns are of four kinds:

- *persona facts* in the first person (``"My favourite food is ramen."`` -> the fact
  (Ann Lee, favourite food, ramen)); ``n_changes`` of them change in a later session
  (``"Actually, my city is now Denver."``), which makes the earlier statement stale;
- *events* (``"Big news: I adopted a puppy."``), asked with ``"When did Ann Lee adopt a
  puppy?"``, whose answer is the date of that session (the question shares the event's
  distinctive words, so BM25 finds the turn);
- *guesses* (distractors) about the OTHER speaker with wrong values
  (``"I think Bob Stone's city is Paris, not sure."``): they parse as facts, but only
  statements about the speaker themself are reliable — visible from speaker and subject;
- *chit-chat* filler that states no fact (``"Haha, that sounds fun!"``).

Questions: ``lookup`` / ``update`` (``"What is Ann Lee's city?"``), ``temporal``, optional
``abstain`` (an attribute never stated; answer ``unknown``). Longer streams keep the queried
facts fixed and add sessions, guesses and chit-chat.

## Action Space

Set by the environment (:class:`memgym.envs.structured.MemoryEnv`): one flat ``Discrete``
over (op, target) pairs for the level's ``ops``, invalid pairs masked (``action_masks()``,
``info["action_mask"]``). The text interface takes the same ops as tool calls.

## Observation Space

Structured: a flat ``Dict`` of ``Box`` arrays (the turn in view, per-slot features and
relations to it, budget, progress). Text: a prompt with the memory listing and the turn.

## Rewards

The reader's QA score over the questions, minus memory-size and op costs; optional evidence
shaping (see :mod:`memgym.rewards.terms`).

## Episode End

After the last turn, once every question is answered (mid-stream ones as they fall due).

## Arguments

- ``length`` (40): turns in the stream.
- ``n_sessions`` (4): sessions; long streams get ``max(n_sessions, length // 10)``.
- ``n_persona_facts`` (4): queried persona facts; ``n_changes`` (1) of them change later.
- ``n_events`` (2): events asked with temporal questions.
- ``distractor_rate`` (0.15): share of turns that are guesses about the other speaker.
- ``abstain_questions`` (0): questions about attributes never stated.
- ``mid_stream_questions`` (0): lookup / temporal questions asked at or after their evidence.

## Version History

- v0: initial version.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, fields, replace
from functools import lru_cache
from typing import Any, NamedTuple

import numpy as np

from memgym.envs.registration import register_task
from memgym.episode import Chunk, Episode, Question
from memgym.tasks.base import WRITE_DELETE_OPS, WRITE_OPS, split_pool, split_rng

FIRST_NAMES = (
    "Ava Ben Chloe Diego Ella Finn Grace Hiro Isla Jonas Kai Leah Mateo Nora Omar Priya Rafael "
    "Sofia Theo Una Vikram Willa Xavier Yara Zane Amara Bruno Celia Dario Esme Felix Greta "
    "Hassan Ingrid Jasper Kenji Lucia Marcus Nadia Oscar Paloma Ruben Selma Tobias"
).split()
LAST_NAMES = (
    "Alvarez Bennett Chen Dlamini Eriksen Fischer Garcia Hughes Iqbal Jensen Kim Lopez Mendes "
    "Nguyen Ortiz Park Quinn Rahman Santos Torres Ueda Vance Walsh Xu Young Zhang Abbott Baker "
    "Castro Dixon Evans Flores Grant Holm Ivanova Jovanovic Kovacs Larsen Mbeki Nilsson Olsen "
    "Pereira Reid Schmidt"
).split()
#: Persona attributes (names shared by all splits) and their values (split-disjoint).
PERSONA_VALUES: dict[str, list[str]] = {
    "favourite food": (
        "ramen|sushi|paella|lasagne|tacos|curry|dumplings|risotto|falafel|pho|burritos|"
        "moussaka|goulash|pierogi|kimchi|biryani|gnocchi|ceviche|shakshuka|couscous|pad thai|"
        "bibimbap|empanadas|croissants|pancakes|waffles|nachos|hummus|tempura|udon|laksa|"
        "jollof rice|poutine|fondue|gyoza|samosas"
    ).split("|"),
    "city": (
        "Denver|Austin|Boise|Tucson|Omaha|Tulsa|Reno|Dayton|Akron|Fresno|Spokane|Tacoma|"
        "Eugene|Madison|Duluth|Toledo|Raleigh|Durham|Savannah|Macon|Miami|Tampa|Orlando|Boston|"
        "Chicago|Seattle|Portland|Phoenix|Houston|Dallas|Memphis|Nashville|Richmond|Norfolk|"
        "Buffalo|Albany"
    ).split("|"),
    "job": (
        "nursing|teaching|plumbing|accounting|carpentry|journalism|dentistry|architecture|"
        "farming|banking|catering|tailoring|welding|pharmacy|surveying|translation|animation|"
        "bookkeeping|copywriting|landscaping|physiotherapy|radiology|locksmithing|insurance|"
        "logistics|publishing|real estate|software testing|veterinary care|firefighting|"
        "interior design|event planning|court reporting|sound engineering"
    ).split("|"),
    "hobby": (
        "chess|archery|fencing|sailing|knitting|birdwatching|rowing|origami|calligraphy|"
        "climbing|surfing|gardening|cycling|yoga|judo|tango|salsa dancing|woodworking|"
        "photography|stargazing|fishing|hiking|skating|bowling|darts|crosswords|geocaching|"
        "quilting|embroidery|kite flying|trail running|board games|model trains|scrapbooking"
    ).split("|"),
    "favourite drink": (
        "espresso|matcha|lemonade|kombucha|chai|cocoa|mojito|lassi|horchata|root beer|iced tea|"
        "ginger ale|oolong|rooibos|cold brew|latte|cappuccino|smoothies|milkshakes|"
        "sparkling water|orange juice|mango juice|eggnog|mulled wine|sangria|bubble tea|kefir|"
        "yerba mate|hibiscus tea|coconut water|limeade|americano|mocha|flat white"
    ).split("|"),
    "favourite instrument": (
        "piano|violin|cello|banjo|ukulele|harp|flute|oboe|clarinet|trumpet|trombone|tuba|"
        "saxophone|accordion|harmonica|drums|bass guitar|mandolin|sitar|bagpipes|marimba|"
        "xylophone|bassoon|piccolo|viola|double bass|tambourine|bongos|synthesizer|theremin|"
        "lute|dulcimer|kazoo|glockenspiel"
    ).split("|"),
}
#: Events as (question verb phrase, turn verb phrase); distinctive nouns shared by both.
EVENTS = [tuple(e.split("/")) for e in (
    "adopt a puppy/adopted a puppy|buy a kayak/bought a kayak|run a marathon/ran a marathon|"
    "start pottery classes/started pottery classes|visit the aquarium/visited the aquarium|"
    "join a choir/joined a choir|repaint the kitchen/repainted the kitchen|"
    "plant a vegetable patch/planted a vegetable patch|sell the motorbike/sold the motorbike|"
    "learn to juggle/learned to juggle|bake a wedding cake/baked a wedding cake|"
    "fix the leaky roof/fixed the leaky roof|climb a volcano/climbed a volcano|"
    "pass the driving test/passed the driving test|get a tattoo/got a tattoo|"
    "move into a loft/moved into a loft|adopt a kitten/adopted a kitten|"
    "see the northern lights/saw the northern lights|"
    "finish a novel manuscript/finished a novel manuscript|build a bookshelf/built a bookshelf|"
    "book a trip to Iceland/booked a trip to Iceland|buy a telescope/bought a telescope|"
    "go skydiving/went skydiving|try scuba diving/tried scuba diving|"
    "host a barbecue/hosted a barbecue|record a podcast episode/recorded a podcast episode|"
    "knit a scarf/knitted a scarf|volunteer at the food bank/volunteered at the food bank|"
    "install solar panels/installed solar panels|fly a drone/flew a drone|"
    "meet a famous author/met a famous author|sprain an ankle/sprained an ankle|"
    "grow giant pumpkins/grew giant pumpkins|win a pub quiz/won a pub quiz|"
    "rescue a hedgehog/rescued a hedgehog|renovate the attic/renovated the attic|"
    "get a promotion/got a promotion|paint a mural/painted a mural|"
    "bake sourdough bread/baked sourdough bread|"
    "adopt a rescue greyhound/adopted a rescue greyhound|"
    "visit a lavender farm/visited a lavender farm|ride a camel/rode a camel|"
    "swim across the lake/swam across the lake|build a treehouse/built a treehouse|"
    "restore a vintage radio/restored a vintage radio|"
    "launch a bakery stall/launched a bakery stall|sing at an open mic/sang at an open mic|"
    "land a huge trout/landed a huge trout|plant an orchard/planted an orchard|"
    "buy a sailboat/bought a sailboat|tour a chocolate factory/toured a chocolate factory|"
    "hatch chicks/hatched chicks"
).split("|")]
#: First-person persona statements ({a} attribute, {v} value): ``My <attribute> is <value>``.
PERSONA_TEMPLATES = [
    "My {a} is {v}.", "Oh, my {a} is {v}, by the way.", "Fun fact: my {a} is {v}.",
    "Well, my {a} is {v}.", "For what it is worth, my {a} is {v}.",
    "You know, my {a} is {v}, always has been.", "Honestly, my {a} is {v}.",
    "Since you asked, my {a} is {v}.", "Just so you know, my {a} is {v}.",
    "In case it matters, my {a} is {v}.", "Random thought, but my {a} is {v}.",
    "Not many people know that my {a} is {v}.", "I should add that my {a} is {v}.",
    "To be clear, my {a} is {v}.", "Between us, my {a} is {v}.", "Ha, my {a} is {v}, obviously.",
]
#: Later-session changes of a persona fact (same shape, a change verb).
CHANGE_TEMPLATES = [
    "Actually, my {a} is now {v}.", "Big change: my {a} has changed to {v}.",
    "Update on me, my {a} is now {v}.", "So, as of last month, my {a} became {v}.",
    "Things changed and my {a} is now {v}.", "Guess what, my {a} has become {v}.",
    "New chapter: my {a} was updated to {v}.", "Recently my {a} changed to {v}.",
    "Heads up, my {a} is now {v}.", "Plot twist: my {a} has changed to {v}.",
    "Since last time, my {a} became {v}.", "Oh, and my {a} is now {v}, new beginning.",
    "Life update: my {a} has become {v}.", "Not sure I told you, but my {a} changed to {v}.",
    "Fresh news, my {a} has been updated to {v}.", "These days my {a} is now {v}.",
    "Small news, my {a} changed to {v}.", "I switched things up: my {a} is now {v}.",
    "Quick correction, my {a} has changed to {v}.", "As it turns out, my {a} is now {v}.",
    "After all that, my {a} became {v}.", "Out with the old: my {a} is now {v}.",
    "So yeah, my {a} has been updated to {v}.", "Funny story, my {a} has become {v}.",
    "Starting this month, my {a} is now {v}.", "Remember the old one? My {a} is now {v}.",
]
#: Event turns ({e} the turn verb phrase).
EVENT_TEMPLATES = [
    "Guess what? I {e} today!", "Big news: I {e}.", "So I {e}, it was amazing.",
    "Oh, I {e} this morning.", "You will not believe it, but I {e}.",
    "Today I {e}, still buzzing.", "Small update from me: I {e}.", "I {e}, can you believe it?",
    "Just wanted to share that I {e}.", "Exciting day, I {e}!", "Well, I took the plunge and {e}.",
    "Proud moment: I {e}.", "Okay, so I {e} earlier.", "I {e} and loved every minute.",
    "Done at last: I {e}.", "Guess who {e}? Me!", "This week I {e}, wild.",
    "Ah, I {e} over the weekend.", "Cannot stop smiling, I {e}.", "Crazy day: I {e}.",
    "Oh hey, I {e} recently.", "Happy news, I {e}.", "Sharing some joy: I {e}.",
    "Oh, I {e} over the holidays.", "News flash: I {e}.", "Ta-da, I {e}!",
]
#: Guesses about the OTHER speaker ({s} subject): hedged, wrong values, parse as facts.
GUESS_TEMPLATES = [
    "I think {s}'s {a} is {v}, not sure.", "Wait, {s}'s {a} is {v}, right?",
    "Someone told me {s}'s {a} is {v}, maybe.", "I bet {s}'s {a} is {v}, just a guess.",
    "I could be wrong, but {s}'s {a} is {v}?", "Last I heard, {s}'s {a} was {v}, or so.",
    "Pretty sure {s}'s {a} is {v}, or not?", "I guess {s}'s {a} is {v}, no idea really.",
    "Correct me, but {s}'s {a} is {v}?", "I assumed {s}'s {a} is {v}, silly me.",
    "People say {s}'s {a} is {v}, is that true?", "My guess: {s}'s {a} is {v}, haha.",
    "I always thought {s}'s {a} was {v}, who knows.", "Probably, {s}'s {a} is {v}, right?",
    "I imagine {s}'s {a} is {v}, am I close?", "Somebody said {s}'s {a} is {v}, dunno.",
    "I heard {s}'s {a} is {v}, maybe wrong.", "Not certain, but {s}'s {a} is {v}?",
    "Someone mentioned {s}'s {a} was {v}, unsure.", "I vaguely recall {s}'s {a} is {v}, right?",
    "Rumour is {s}'s {a} is {v}, no clue.", "Hmm, {s}'s {a} is {v}, I suppose?",
]
#: Chit-chat that states no fact: no "my", no possessive, no names.
CHITCHAT = [
    "Haha, that sounds fun!", "Oh wow, really?", "How was your week?", "Nice, tell me more.",
    "I know, right?", "That is so cool.", "Sounds like a plan.", "Ha, classic.",
    "Totally agree with you.", "Anyway, how are you doing?", "Oh no, that is rough.",
    "Good for you!", "I have been so busy lately.", "We should catch up more often.",
    "That made me laugh.", "Wait, seriously?", "Love that for you.", "Same here, honestly.",
    "Let me think about it.", "Fair enough.", "No way!", "What a week it has been.",
    "Hope you are doing well.", "That reminds me of something.", "Cheers to that!",
    "I totally forgot about that.", "Ugh, Mondays.", "Yes, totally!", "Oh, that is interesting.",
    "Long time no talk!", "Hmm, not sure about that.", "You always say that, haha.",
    "It has been ages!", "Well, that escalated quickly.", "Tell me everything.",
    "Awesome, congrats!",
]
#: Persona questions (the possessive chain ends the sentence) and temporal ones ("When ...").
QUESTION_TEMPLATES = [
    "What is {c}?", "Do you know {c}?", "Tell me {c}.", "Which is {c}?", "Can you recall {c}?",
    "Remind me: what is {c}?", "Quick check, what is {c}?", "Do you remember {c}?",
    "Say again, what is {c}?", "Any idea about {c}?", "Please look up {c}.", "I need {c}.",
    "Look up {c}.", "Could you tell me {c}?", "Which value holds for {c}?", "Do we know {c}?",
    "Please state {c}.", "What does the chat say is {c}?", "Check the chat for {c}.",
]
WHEN_TEMPLATES = [  # their words (besides the event's) appear in no turn template
    "When did {s} {q}?", "When exactly did {s} {q}?", "When did {s} finally {q}?",
    "When, roughly, did {s} {q}?", "When did {s} first {q}?", "When did {s} decide to {q}?",
    "When did {s} manage to {q}?", "When was it that {s} {e}?", "When did it happen that {s} {e}?",
    "When was the date {s} {e}?", "When did {s} mention that they {e}?",
    "When did {s} {q}, if memory serves?", "When precisely did {s} {q}?",
    "When in the chat did {s} {q}?", "When on the calendar did {s} {q}?",
    "When, in hindsight, did {s} {q}?", "When was the occasion that {s} {e}?",
]


@dataclass(frozen=True)
class DialogueParams:
    """Parameters of :class:`DialogueTask`; any of them can be overridden per episode."""

    length: int = 40
    """Turns in the stream (held-out streams may be 16x longer)."""
    n_sessions: int = 4
    """Dated sessions; long streams get ``max(n_sessions, length // 10)``."""
    n_persona_facts: int = 4
    """Queried persona facts (speaker, attribute), stated in the first person."""
    n_changes: int = 1
    """How many of the persona facts change in a later session (``update`` questions)."""
    n_events: int = 2
    """Events asked with temporal questions (answer: the session date)."""
    distractor_rate: float = 0.15
    """Share of turns that are hedged guesses about the other speaker (wrong values)."""
    abstain_questions: int = 0
    """Questions about a persona attribute never stated (answer ``"unknown"``)."""
    mid_stream_questions: int = 0
    """Lookup / temporal questions asked mid-stream, at or after their evidence."""

    def __post_init__(self) -> None:
        for f in fields(self):
            if getattr(self, f.name) < 0:
                raise ValueError(f"{f.name} must be >= 0, got {getattr(self, f.name)}")
        if self.distractor_rate > 1.0:
            raise ValueError(f"distractor_rate must be in [0, 1], got {self.distractor_rate}")
        if self.n_changes > self.n_persona_facts:
            raise ValueError(f"n_changes={self.n_changes} > n_persona_facts={self.n_persona_facts}")
        keys = 2 * len(PERSONA_VALUES)
        if self.n_persona_facts + self.abstain_questions > keys:
            raise ValueError(f"n_persona_facts + abstain_questions must be <= {keys}")
        if self.n_sessions < (2 if self.n_changes else 1):
            raise ValueError("n_sessions must be >= 1 (>= 2 when n_changes > 0)")
        needed = max(2 * (self.n_persona_facts + self.n_changes + self.n_events), self.n_sessions)
        if self.length < needed:
            raise ValueError(f"length={self.length} is too short for these facts (>= {needed})")


def resolve_params(base: DialogueParams, overrides: dict[str, Any]) -> DialogueParams:
    """``base`` with ``overrides`` applied; an unknown name is a ValueError naming it."""
    known = {f.name for f in fields(DialogueParams)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ValueError(f"dialogue: unknown parameter(s) {unknown}; known: {sorted(known)}")
    return replace(base, **overrides)


@lru_cache(maxsize=None)
def _pools(split: str) -> dict[str, Any]:
    """The split's share of every surface pool (computed once per split)."""
    pools: dict[str, Any] = {name: tuple(split_pool(pool, split, min_size=2)) for name, pool in (
        ("firsts", FIRST_NAMES), ("lasts", LAST_NAMES), ("persona", PERSONA_TEMPLATES),
        ("change", CHANGE_TEMPLATES), ("event", EVENT_TEMPLATES), ("guess", GUESS_TEMPLATES),
        ("chitchat", CHITCHAT), ("questions", QUESTION_TEMPLATES), ("when", WHEN_TEMPLATES))}
    pools["events"] = tuple(split_pool(EVENTS, split, min_size=4))
    pools["values"] = {a: tuple(split_pool(v, split, min_size=4))
                       for a, v in PERSONA_VALUES.items()}
    return pools


class Persona(NamedTuple):
    """A queried persona fact: what ``owner`` (speaker 0 or 1) said, value by value."""

    owner: int
    attribute: str
    values: tuple[str, ...]  #: the first value, then the changed one (if any)
    turns: tuple[int, ...]  #: the turn stating each value


class DialogueTask:
    """Two speakers over dated sessions: persona facts, changes, events, guesses, chit-chat."""

    name = "dialogue"

    def __init__(self, **params: Any) -> None:
        self.params = resolve_params(DialogueParams(), params)

    def episode(self, seed: int, split: str = "train", **overrides: Any) -> Episode:
        """The episode ``seed`` of ``split`` (deterministic in all arguments)."""
        p = resolve_params(self.params, overrides)
        rng = split_rng(self.name, split, seed)
        pools = _pools(split)

        def pick(pool: tuple[Any, ...]) -> Any:
            return pool[int(rng.integers(len(pool)))]

        firsts = rng.choice(pools["firsts"], 2, replace=False).tolist()
        lasts = rng.choice(pools["lasts"], 2, replace=False).tolist()
        names = [f"{first} {last}" for first, last in zip(firsts, lasts)]
        dates, session, speaker = self._sessions(p, rng)
        free = [[t for t in range(p.length) if speaker[t] == who] for who in (0, 1)]

        def take(who: int, candidates: list[int]) -> int:
            if not candidates:
                raise ValueError(f"length={p.length}, n_sessions={p.n_sessions}: no free turn "
                                 "left for a fact; use a longer stream or fewer facts")
            turn = candidates[int(rng.integers(len(candidates)))]
            free[who].remove(turn)
            return turn

        texts = [""] * p.length
        attributes = tuple(PERSONA_VALUES)
        # Keys (speaker, attribute) as one index: the first n are stated, the rest abstained on.
        keys = rng.choice(2 * len(attributes), p.n_persona_facts + p.abstain_questions,
                          replace=False).tolist()
        persona: list[Persona] = []
        for k, key in enumerate(keys[:p.n_persona_facts]):
            who, attr = key % 2, attributes[key // 2]
            first = pick(pools["values"][attr])
            if k < p.n_changes:  # the change lands in a strictly later session than the first
                later = [t for t in free[who] if session[t] > session[free[who][0]]]
                t2 = take(who, later)
                t1 = take(who, [t for t in free[who] if session[t] < session[t2]])
                second = first
                while second == first:
                    second = pick(pools["values"][attr])
                texts[t2] = pick(pools["change"]).format(a=attr, v=second)
                persona.append(Persona(who, attr, (first, second), (t1, t2)))
            else:
                t1 = take(who, free[who])
                persona.append(Persona(who, attr, (first,), (t1,)))
            texts[t1] = pick(pools["persona"]).format(a=attr, v=first)
        if p.n_events > len(pools["events"]):
            raise ValueError(f"n_events={p.n_events}: split {split!r} has only "
                             f"{len(pools['events'])} events")
        events = []  # (speaker, (question phrase, turn phrase), turn)
        for i in rng.choice(len(pools["events"]), p.n_events, replace=False).tolist():
            who = int(rng.integers(2))
            who = who if free[who] else 1 - who
            turn = take(who, free[who])
            texts[turn] = pick(pools["event"]).format(e=pools["events"][i][1])
            events.append((who, pools["events"][i], turn))

        # Guesses: the other speaker states a wrong value for a queried persona key.
        guesses: list[list[int]] = [[] for _ in persona]
        spare = [[free[w][i] for i in rng.permutation(len(free[w])).tolist()] for w in (0, 1)]
        for _ in range(round(p.distractor_rate * p.length) if persona else 0):
            k = int(rng.integers(len(persona)))
            fact = persona[k]
            if not spare[1 - fact.owner]:
                continue
            turn = spare[1 - fact.owner].pop()
            wrong = pick(pools["values"][fact.attribute])
            while wrong in fact.values:
                wrong = pick(pools["values"][fact.attribute])
            texts[turn] = pick(pools["guess"]).format(
                s=names[fact.owner], a=fact.attribute, v=wrong)
            guesses[k].append(turn)
        filler = [t for t in range(p.length) if not texts[t]]
        for t in filler:
            texts[t] = pick(pools["chitchat"])

        questions = []
        for fact, guessed in zip(persona, guesses):
            questions.append(Question(
                text=pick(pools["questions"]).format(c=f"{names[fact.owner]}'s {fact.attribute}"),
                answers=(fact.values[-1],), evidence=(fact.turns[-1],),
                kind="update" if len(fact.values) > 1 else "lookup",
                conflicting=tuple(sorted([*fact.turns[:-1], *guessed])),
                id=f"q{len(questions)}"))
        for who, (q_phrase, e_phrase), turn in events:
            questions.append(Question(
                text=pick(pools["when"]).format(s=names[who], q=q_phrase, e=e_phrase),
                answers=(dates[session[turn]],), evidence=(turn,), kind="temporal",
                id=f"q{len(questions)}"))
        # Mid-stream: only facts that never change later (lookup, temporal).
        eligible = [i for i, q in enumerate(questions) if q.kind in ("lookup", "temporal")]
        k = min(p.mid_stream_questions, len(eligible))
        for i in rng.choice(eligible, k, replace=False).tolist() if k else ():
            q = questions[i]
            questions[i] = replace(q, asked_after=int(rng.integers(max(q.evidence), p.length)))
        for key in keys[p.n_persona_facts:]:
            questions.append(Question(
                text=pick(pools["questions"]).format(
                    c=f"{names[key % 2]}'s {attributes[key // 2]}"),
                answers=("unknown",), kind="abstain", id=f"q{len(questions)}"))

        facts = sorted([t for fact in persona for t in fact.turns] + [e[2] for e in events])
        return Episode(
            chunks=tuple(Chunk(id=t, text=texts[t], time=dates[session[t]], session=session[t],
                               speaker=names[speaker[t]]) for t in range(p.length)),
            questions=tuple(questions), task=self.name, split=split, seed=seed,
            params=asdict(p),
            labels={"facts": facts, "distractors": sorted(t for g in guesses for t in g),
                    "filler": filler},
        )

    @staticmethod
    def _sessions(p: DialogueParams, rng: np.random.Generator
                  ) -> tuple[list[str], list[int], list[int]]:
        """Session dates, and the session and speaker (0 / 1) of every turn.

        Sizes are near ``length / n_sessions`` (>= 2 turns where possible, so both speakers
        talk in every session); dates increase by 3 to 21 days; speakers alternate within a
        session, the opener chosen at random.
        """
        n_sess = min(p.length, max(p.n_sessions, p.length // 10))
        floor = 2 if p.length >= 2 * n_sess else 1
        sizes = floor + rng.multinomial(p.length - floor * n_sess, [1 / n_sess] * n_sess)
        day = dt.date(2022, 1, 3) + dt.timedelta(days=int(rng.integers(0, 700)))
        dates, session, speaker = [], [], []
        for s, size in enumerate(sizes.tolist()):
            if s:
                day += dt.timedelta(days=int(rng.integers(3, 22)))
            dates.append(day.isoformat())
            opener = int(rng.integers(2))
            session += [s] * size
            speaker += [(opener + i) % 2 for i in range(size)]
        return dates, session, speaker


register_task(
    "Dialogue", DialogueTask,
    levels={
        "Easy": {
            "task": {"length": 20, "n_sessions": 2, "n_persona_facts": 3, "n_changes": 1,
                     "n_events": 1, "distractor_rate": 0.1},
            "env": {"tiers": {"episodic": {"entries": 4, "tokens": None}}, "ops": WRITE_OPS},
        },
        "Medium": {
            "task": {"length": 40, "n_sessions": 4, "n_persona_facts": 4, "n_changes": 1,
                     "n_events": 2, "distractor_rate": 0.15},
            "env": {"tiers": {"episodic": {"entries": 6, "tokens": None}}, "ops": WRITE_OPS},
        },
        "Hard": {  # 9 needed turns, 8 entries: freeing a mid-stream question's turn pays off
            "task": {"length": 120, "n_sessions": 8, "n_persona_facts": 6, "n_changes": 2,
                     "n_events": 3, "distractor_rate": 0.25, "abstain_questions": 1,
                     "mid_stream_questions": 1},
            "env": {"tiers": {"episodic": {"entries": 8, "tokens": None}}, "ops": WRITE_DELETE_OPS},
        },
    },
    description="Multi-session two-speaker chat: persona facts that change, dated events, "
                "guesses about the other speaker.",
)
