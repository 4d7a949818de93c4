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
from memgym.tasks.base import WRITE_DELETE_OPS, WRITE_OPS, resolve_params, split_pool, split_rng
from memgym.tasks.dialogue_words import (
    CHANGE_TEMPLATES, CHITCHAT, EVENT_TEMPLATES, EVENTS, FIRST_NAMES, GUESS_TEMPLATES, LAST_NAMES,
    PERSONA_TEMPLATES, PERSONA_VALUES, QUESTION_TEMPLATES, WHEN_TEMPLATES,
)


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
        self.params = resolve_params(DialogueParams, None, params)

    def episode(self, seed: int, split: str = "train", **overrides: Any) -> Episode:
        """The episode ``seed`` of ``split`` (deterministic in all arguments)."""
        p = resolve_params(DialogueParams, self.params, overrides)
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
