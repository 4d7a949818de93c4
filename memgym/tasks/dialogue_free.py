"""Dialogue-Free: two friends chatting over dated sessions, in free, paraphrased language.

## Description

A generated stand-in for real multi-session conversations (LoCoMo-like), written so that no
fact is in the parser's shapes: policies trained on it use text features (embeddings,
surface and session cues) and can be tried on real conversations (sim-to-real). Each chunk
is one turn with ``speaker``, ``session`` and ``time`` (``"1:56 pm on 8 May, 2023"``).

- *happenings*: a speaker tells of something they did (adopted a pet, visited a city, joined
  a class, ran a race, ...), in one of many paraphrases, with a relative time expression
  (``"yesterday"``, ``"last weekend"``, ``"two days ago"``) and sometimes lower case; the
  friend reacts, and often the teller adds a detail turn (where / with whom);
- *chit-chat*: greetings, reactions, questions back, small talk about the weather, work,
  food: the large majority of turns (as in LoCoMo, most turns are no question's evidence).

Questions (asked after the stream): ``what`` (``"What pet did Nora adopt?"`` -> ``a
corgi``), ``when`` (``"When did Nora adopt the corgi?"`` -> the absolute date, ``"7 May
2023"``), ``where`` for detail turns, and ``yes-no`` (``"Did Nora visit Lisbon?"`` ->
``yes``, or a wrong city -> ``no``). Every question's evidence is the turn(s) that state it.
Names, objects, places and templates come from split pools: held-out streams share none
with training ones.

## Action Space / Observation Space / Rewards / Episode End

As every memgym task (:class:`memgym.envs.structured.MemoryEnv`): ops over a bounded memory;
train it with the ``evidence`` terms and ``features="embedding"`` (the registered default
here); the episode ends after the last turn once the questions are answered.

## Arguments

- ``length`` (120): turns; ``n_sessions`` (``max(2, length // 20)``) sessions.
- ``happening_rate`` (0.12): share of turns that start a happening.

## Version History

- v0: initial version.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from memgym.envs.registration import register_task
from memgym.episode import Chunk, Episode, Question
from memgym.tasks.base import resolve_params, split_pool, split_rng
from memgym.tasks.dialogue_free_words import (
    CHITCHAT, DETAIL_TEMPLATES, FRIENDS, HAPPENINGS, PLACES, REACTIONS, RELATIVE_DAYS,
    TELL_TEMPLATES,
)
from memgym.tasks.dialogue_words import FIRST_NAMES


@dataclass(frozen=True)
class DialogueFreeParams:
    length: int = 120
    """Turns in the stream."""
    n_sessions: int | None = None
    """Sessions (default ``max(2, length // 20)``)."""
    happening_rate: float = 0.12
    """Share of turns that start a happening (each adds 1-3 turns)."""

    def __post_init__(self) -> None:
        if self.length < 4:
            raise ValueError(f"length must be >= 4, got {self.length}")
        if not 0 < self.happening_rate <= 0.5:
            raise ValueError(f"happening_rate must be in (0, 0.5], got {self.happening_rate}")


def session_time(day: dt.date, rng: np.random.Generator) -> str:
    hour, minute = int(rng.integers(1, 12)), int(rng.integers(0, 60))
    return f"{hour}:{minute:02d} {'am' if rng.random() < 0.3 else 'pm'} on {day.day} " \
           f"{day.strftime('%B')}, {day.year}"


def casual(text: str, rng: np.random.Generator) -> str:
    """Sometimes lower-case and unpunctuated, as people type."""
    if rng.random() < 0.25:
        return text.lower().rstrip(".!")
    return text


class DialogueFreeTask:
    """Free-language two-speaker chat (see the module docstring)."""

    name = "dialogue_free"

    def __init__(self, **params: Any) -> None:
        self.params = resolve_params(DialogueFreeParams, None, params)

    def episode(self, seed: int, split: str = "train", **overrides: Any) -> Episode:
        p = resolve_params(DialogueFreeParams, self.params, overrides)
        rng = split_rng(self.name, split, seed)

        def pick(pool: list[Any]) -> Any:
            return pool[int(rng.integers(len(pool)))]

        names = split_pool(FIRST_NAMES, split, min_size=2)
        a, b = (names[i] for i in rng.choice(len(names), 2, replace=False))
        chat, reactions = split_pool(CHITCHAT, split), split_pool(REACTIONS, split)
        tells, details = split_pool(TELL_TEMPLATES, split), split_pool(DETAIL_TEMPLATES, split)
        places, friends = split_pool(PLACES, split), split_pool(FRIENDS, split)
        n_sessions = p.n_sessions or max(2, p.length // 20)
        bounds = np.sort(rng.choice(np.arange(1, p.length), n_sessions - 1, replace=False))
        sizes = np.diff(np.concatenate([[0], bounds, [p.length]])).tolist()
        day = dt.date(2022, 1, 1) + dt.timedelta(days=int(rng.integers(0, 600)))
        chunks: list[Chunk] = []
        questions: list[Question] = []
        used_objects: set[str] = set()
        told: set[tuple[str, int]] = set()
        for s, size in enumerate(sizes):
            if s:
                day += dt.timedelta(days=int(rng.integers(3, 30)))
            when = session_time(day, rng)
            speaker = int(rng.integers(2))
            turns: list[tuple[int, str]] = []
            while len(turns) < size:
                who = (a, b)[speaker]
                if len(turns) + 3 <= size and rng.random() < p.happening_rate:
                    k = int(rng.integers(len(HAPPENINGS)))
                    kind = HAPPENINGS[k]
                    objects = [o for o in split_pool(kind["objects"], split) if o not in used_objects]
                    if objects and (who, k) not in told:  # one of each kind per speaker:
                        told.add((who, k))                # "What pet did Ann adopt?" has one answer
                        obj = pick(objects)
                        used_objects.add(obj)
                        rel, days_ago = pick(RELATIVE_DAYS)
                        text = pick(tells).format(did=kind["did"].format(obj=obj), when=rel)
                        first = len(chunks) + len(turns)
                        turns.append((speaker, casual(text, rng)))
                        turns.append((1 - speaker, pick(reactions)))
                        date = day - dt.timedelta(days=days_ago)
                        said = f"{date.day} {date.strftime('%B')} {date.year}"
                        questions += [
                            Question(kind["what"].format(who=who), (obj,), (first,), "lookup"),
                            Question(kind["when"].format(who=who, obj=obj), (said,), (first,),
                                     "temporal"),
                            self._yes_no(kind, who, obj, first, objects, rng),
                        ]
                        if rng.random() < 0.5:
                            place, friend = pick(places), pick(friends)
                            template = pick(details)
                            turns.append((speaker, casual(template.format(
                                place=place, friend=friend), rng)))
                            key = "place" if "{place}" in template else "friend"
                            answer = place if key == "place" else friend
                            q = (f"Where did {who} {kind['base'].format(obj=obj)}?" if key == "place"
                                 else f"Who was with {who} when they {kind['did'].format(obj=obj)}?")
                            questions.append(Question(q, (answer,), (first, first + 2),
                                                      "multi-hop"))
                        speaker = 1 - speaker
                        continue
                turns.append((speaker, casual(pick(chat), rng)))
                speaker = 1 - speaker
            for spk, text in turns[:size]:
                chunks.append(Chunk(len(chunks), text, when, s + 1, (a, b)[spk]))
        n = len(chunks)
        questions = [q for q in questions if all(e < n for e in q.evidence)]
        questions = [Question(q.text, q.answers, tuple(sorted(set(q.evidence))), q.kind,
                              id=f"q{i}") for i, q in enumerate(questions)]
        return Episode(tuple(chunks), tuple(questions), self.name, split, seed, asdict(p),
                       labels={"speakers": [a, b]})

    @staticmethod
    def _yes_no(kind: dict, who: str, obj: str, evidence: int, objects: list[str],
                rng: np.random.Generator) -> Question:
        """``Did <who> <base>?`` about the true object (yes) or another one (no)."""
        others = [o for o in objects if o != obj]
        asked = obj if not others or rng.random() < 0.5 else others[int(rng.integers(len(others)))]
        return Question(f"Did {who} {kind['base'].format(obj=asked)}?",
                        ("yes" if asked == obj else "no",), (evidence,), "yes-no")


register_task(
    "Dialogue", DialogueFreeTask,
    levels={"Free": {"task": {"length": 120},
                     "env": {"tiers": {"episodic": {"entries": 16, "tokens": None}},
                             "ops": ("noop", "add", "update", "delete"),
                             "features": "embedding"}}},
    description="Two friends chatting in free, paraphrased language (no parser shapes): "
                "happenings with relative dates among chit-chat; sim-to-real for LoCoMo.",
)
