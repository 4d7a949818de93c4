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
- ``detail_rate`` (0.5): share of happenings followed by a detail turn.
- ``repeat_kinds`` (False): a speaker may tell several happenings of one kind (each object
  once per speaker, where by default once per stream; no ``what`` question for a kind a
  speaker told twice, and a ``no`` answer names an object that speaker never told of).
- ``more_kinds`` (False): 8 more happening kinds (garden, cooking, concerts, ...).
- ``long_turns`` (False): LoCoMo-like turn lengths: happenings and details run on with
  feelings, reactions ask back, chit-chat rambles about everyday life (with times and
  people), so evidence turns are longer on average but length alone does not mark them.
  Chit-chat and reaction turns come from a per-split bank drawn once (:func:`turn_bank`),
  so the streams of a process share them and embedding features stay cheap.

The defaults give the original short streams (~5% evidence turns at 480 turns). A
LoCoMo-like stream, with more evidence than a 128-entry memory holds::

    DialogueFreeTask(length=480, happening_rate=0.3, repeat_kinds=True, more_kinds=True,
                     long_turns=True)

has ~25-30% evidence turns on training streams (~130 of 480; val / held-out pools are
smaller: ~20%), ~22 words a turn and ~30 an evidence turn (LoCoMo: 19-32%, 20-26, 27-37).

## Version History

- v0: initial version; ``detail_rate``, ``repeat_kinds``, ``more_kinds`` and
  ``long_turns`` added later (their defaults keep the original episodes).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, fields
from functools import lru_cache
from typing import Any

import numpy as np

from memgym.envs.registration import register_task
from memgym.episode import Chunk, Episode, Question
from memgym.tasks.base import check_rate, resolve_params, split_pool, split_rng
from memgym.tasks.dialogue_free_words import (
    CHITCHAT, DETAIL_TEMPLATES, ELABORATIONS, EXTRA_HAPPENINGS, FOLLOW_UPS, FRIENDS, HAPPENINGS,
    LONG_CHAT, PLACES, REACTIONS, RELATIVE_DAYS, TELL_TEMPLATES,
)
from memgym.tasks.dialogue_words import FIRST_NAMES


ORIGINAL_PARAMS = ("length", "n_sessions", "happening_rate")


@dataclass(frozen=True)
class DialogueFreeParams:
    length: int = 120
    """Turns in the stream."""
    n_sessions: int | None = None
    """Sessions (default ``max(2, length // 20)``)."""
    happening_rate: float = 0.12
    """Share of turns that start a happening (each adds 1-3 turns)."""
    detail_rate: float = 0.5
    """Share of happenings followed by a detail turn (where / with whom)."""
    repeat_kinds: bool = False
    """Let a speaker tell several happenings of one kind (``what`` asked only where one
    answer exists)."""
    more_kinds: bool = False
    """Draw happenings from :data:`EXTRA_HAPPENINGS` too."""
    long_turns: bool = False
    """LoCoMo-like turn lengths (elaborated happenings, long, varied chit-chat)."""

    def __post_init__(self) -> None:
        if self.length < 4:
            raise ValueError(f"length must be >= 4, got {self.length}")
        if not 0 < self.happening_rate <= 0.5:
            raise ValueError(f"happening_rate must be in (0, 0.5], got {self.happening_rate}")
        check_rate("detail_rate", self.detail_rate)


def session_time(day: dt.date, rng: np.random.Generator) -> str:
    hour, minute = int(rng.integers(1, 12)), int(rng.integers(0, 60))
    return f"{hour}:{minute:02d} {'am' if rng.random() < 0.3 else 'pm'} on {day.day} " \
           f"{day.strftime('%B')}, {day.year}"


def casual(text: str, rng: np.random.Generator) -> str:
    """Sometimes lower-case and unpunctuated, as people type."""
    if rng.random() < 0.25:
        return text.lower().rstrip(".!")
    return text


def recorded(p: DialogueFreeParams) -> dict[str, Any]:
    """``p`` as an episode records it: the later parameters only where they are not the
    default, so default episodes stay byte-identical to those before they existed."""
    later = {f.name: f.default for f in fields(p) if f.name not in ORIGINAL_PARAMS}
    return {k: v for k, v in asdict(p).items() if k not in later or v != later[k]}


@lru_cache(maxsize=None)
def turn_bank(split: str, chats: int = 400, reactions: int = 120
              ) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``long_turns``' chit-chat and reaction turns of ``split``: drawn once from the split's
    pools (a short opener and some rambling, or rambling alone; a reaction, maybe a question
    back and a ramble), so streams share them and each distinct text is embedded once."""
    rng = split_rng("dialogue_free-bank", split, 0)
    chat, rambles = split_pool(CHITCHAT, split), split_pool(LONG_CHAT, split)
    cheers, asks = split_pool(REACTIONS, split), split_pool(FOLLOW_UPS, split)

    def chat_turn() -> str:
        if rng.random() < 0.6:
            text = run_on(chat[int(rng.integers(len(chat)))], rambles, (0, 0, 1, 1, 2, 3), rng)
        else:
            text = run_on("", rambles, (1, 1, 2), rng).strip()
        return casual(text, rng)

    def reaction_turn() -> str:
        text = run_on(cheers[int(rng.integers(len(cheers)))], asks, (0, 1, 1), rng)
        return run_on(text, rambles, (0, 0, 1), rng)

    return (tuple(chat_turn() for _ in range(chats)),
            tuple(reaction_turn() for _ in range(reactions)))


def run_on(text: str, pool: list[str], counts: tuple[int, ...], rng: np.random.Generator
           ) -> str:
    """``text`` and a few distinct sentences of ``pool`` (how many: one of ``counts``)."""
    n = min(counts[int(rng.integers(len(counts)))], len(pool))
    return " ".join([text, *(pool[i] for i in rng.choice(len(pool), n, replace=False))])


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
        kinds = HAPPENINGS + (EXTRA_HAPPENINGS if p.more_kinds else ())
        long = p.long_turns
        if long:
            more = split_pool(ELABORATIONS, split)
            chat_bank, reaction_bank = turn_bank(split)
        whats: list[tuple[Question, tuple[str, int]]] = []  # repeat_kinds: asked if told once
        pending: list[tuple[dict, str, str, int]] = []  # repeat_kinds: yes-no asked at the end
        n_sessions = p.n_sessions or max(2, p.length // 20)
        bounds = np.sort(rng.choice(np.arange(1, p.length), n_sessions - 1, replace=False))
        sizes = np.diff(np.concatenate([[0], bounds, [p.length]])).tolist()
        day = dt.date(2022, 1, 1) + dt.timedelta(days=int(rng.integers(0, 600)))
        chunks: list[Chunk] = []
        questions: list[Question] = []
        used_objects: set[Any] = set()  # objects, or (speaker, object) with repeat_kinds

        def mine(who: str, obj: str) -> Any:
            return (who, obj) if p.repeat_kinds else obj
        told: dict[tuple[str, int], int] = {}
        for s, size in enumerate(sizes):
            if s:
                day += dt.timedelta(days=int(rng.integers(3, 30)))
            when = session_time(day, rng)
            speaker = int(rng.integers(2))
            turns: list[tuple[int, str]] = []
            while len(turns) < size:
                who = (a, b)[speaker]
                if len(turns) + 3 <= size and rng.random() < p.happening_rate:
                    k = int(rng.integers(len(kinds)))
                    kind = kinds[k]
                    objects = [o for o in split_pool(kind["objects"], split)
                               if mine(who, o) not in used_objects]
                    if objects and (p.repeat_kinds or (who, k) not in told):  # else one of each
                        told[who, k] = told.get((who, k), 0) + 1  # kind per speaker: "What pet
                        obj = pick(objects)                        # did Ann adopt?" has one answer
                        used_objects.add(mine(who, obj))
                        rel, days_ago = pick(RELATIVE_DAYS)
                        text = pick(tells).format(did=kind["did"].format(obj=obj), when=rel)
                        first = len(chunks) + len(turns)
                        if long:
                            text = run_on(text, more, (0, 1, 1, 2, 2, 3), rng)
                        turns.append((speaker, casual(text, rng)))
                        turns.append((1 - speaker, pick(reaction_bank if long else reactions)))
                        date = day - dt.timedelta(days=days_ago)
                        said = f"{date.day} {date.strftime('%B')} {date.year}"
                        what = Question(kind["what"].format(who=who), (obj,), (first,), "lookup")
                        when_q = Question(kind["when"].format(who=who, obj=obj), (said,),
                                          (first,), "temporal")
                        if p.repeat_kinds:
                            whats.append((what, (who, k)))
                            pending.append((kind, who, obj, first))
                            questions.append(when_q)
                        else:
                            questions += [what, when_q,
                                          self._yes_no(kind, who, obj, first, objects, rng)]
                        if rng.random() < p.detail_rate:
                            place, friend = pick(places), pick(friends)
                            template = pick(details)
                            text = template.format(place=place, friend=friend)
                            if long:
                                text = run_on(text, more, (0, 1, 1, 2), rng)
                            turns.append((speaker, casual(text, rng)))
                            key = "place" if "{place}" in template else "friend"
                            answer = place if key == "place" else friend
                            q = (f"Where did {who} {kind['base'].format(obj=obj)}?" if key == "place"
                                 else f"Who was with {who} when they {kind['did'].format(obj=obj)}?")
                            questions.append(Question(q, (answer,), (first, first + 2),
                                                      "multi-hop"))
                        speaker = 1 - speaker
                        continue
                turns.append((speaker, pick(chat_bank) if long else casual(pick(chat), rng)))
                speaker = 1 - speaker
            for spk, text in turns[:size]:
                chunks.append(Chunk(len(chunks), text, when, s + 1, (a, b)[spk]))
        if p.repeat_kinds:
            questions += [q for q, key in whats if told[key] == 1]
            asked: set[str] = set()
            for kind, who, obj, first in pending:  # "no" names an object `who` never told of
                others = [o for o in split_pool(kind["objects"], split)
                          if (who, o) not in used_objects
                          and f"Did {who} {kind['base'].format(obj=o)}?" not in asked]
                questions.append(self._yes_no(kind, who, obj, first, [obj, *others], rng))
                asked.add(questions[-1].text)
        n = len(chunks)
        questions = [q for q in questions if all(e < n for e in q.evidence)]
        questions = [Question(q.text, q.answers, tuple(sorted(set(q.evidence))), q.kind,
                              id=f"q{i}") for i, q in enumerate(questions)]
        return Episode(tuple(chunks), tuple(questions), self.name, split, seed, recorded(p),
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
