"""LoCoMo: very long two-person conversations (Maharana et al., 2024), read from a local file.

## Description

Each sample of ``locomo10.json`` (a list of samples; a file holding one sample object is
accepted too) is one episode: the conversation's sessions stream in order, then its
questions are asked. A sample has ``conversation`` (``speaker_a``, ``speaker_b``,
``session_N`` lists of turns ``{speaker, dia_id, text}`` with dia ids such as ``"D1:3"``,
and ``session_N_date_time``) and ``qa`` items ``{question, answer, evidence: [dia_id],
category}``. ``sample_id`` (else ``sample-<index>``) is the record id the split hashes.

- ``chunking="turn"``: one chunk per turn (``Chunk.speaker`` the speaker, ``Chunk.time`` the
  session date as written, ``Chunk.session`` N). ``chunking="session"``: one chunk per session,
  its turns joined as ``"Speaker: text"`` lines.
- A turn that shared an image carries its caption (``blip_caption``) as
  ``" [shared an image: <caption>]"`` after its text unless ``image_captions=False``.
- Evidence dia ids map to the chunks holding those turns (ids written together, as in
  ``"D8:6; D9:17"``, are split; zero padding is ignored; ids naming no turn are dropped and
  counted in ``Episode.labels["unmapped_evidence"]``).
- ``Question.kind`` from ``category``: 1 ``multi-hop``, 2 ``temporal``, 3 ``open-domain``,
  4 ``single-hop``, 5 ``adversarial``. Category 5 (unanswerable questions; the file gives an
  ``adversarial_answer``, the trap) is left out unless ``include_adversarial=True``, the
  LoCoMo convention; when included its gold answers are ``"unknown"`` (the reader's
  abstention) and ``"Not mentioned in the conversation"``.
- Numeric answers in the JSON become strings.

## Action Space

The memgym structured env's flat ``Discrete`` op x target action (noop, add, update /
delete slot k), masked by ``action_masks()``; the text env takes the same ops as tool calls.

## Observation Space

The structured env's ``Dict`` of ``Box`` arrays; see :mod:`memgym.envs.structured`.

## Rewards

QA score of the reader on the sample's questions (token F1 as in the paper for extracted
answers; answer-in-context ``contains`` for retrieved text), minus memory and op costs.

## Episode End

After the last turn (or session) is ingested and every question has been answered.

## Arguments

``gym.make("memgym/LoCoMo-v0", data_path="/path/locomo10.json")``; task parameters through
``task_params={...}`` or per episode through ``reset(options={...})``:

- ``data_path``: the local ``locomo10.json`` (required).
- ``chunking="turn"``: ``"turn"`` or ``"session"``.
- ``include_adversarial=False``: also ask category-5 questions.
- ``image_captions=True``: append shared images' captions to their turns.

Splits: by a stable hash of ``sample_id`` (:mod:`memgym.tasks.datasets`); with the 10
LoCoMo samples that is 6 train, 2 val and 2 held-out conversations.

## Version History

- v0: initial release.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

from memgym.envs.registration import register_task
from memgym.episode import Chunk, Question
from memgym.tasks.base import WRITE_DELETE_OPS
from memgym.tasks.datasets import (
    DataError, DatasetTask, answer_text, expect, field, load_rows,
)

#: LoCoMo ``category`` -> ``Question.kind``.
CATEGORY_KINDS: dict[int, str] = {
    1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop", 5: "adversarial",
}
ADVERSARIAL = 5
#: Gold answers of an unanswerable (category-5) question.
ABSTAIN_ANSWERS: tuple[str, ...] = ("unknown", "Not mentioned in the conversation")
_SESSION = re.compile(r"session_(\d+)")
_DIA_ID = re.compile(r"D(\d+):(\d+)")


def dia_key(dia_id: str) -> str:
    """``"D30:05"`` -> ``"D30:5"``: evidence and turns agree whatever their zero padding."""
    match = _DIA_ID.fullmatch(dia_id.strip())
    return f"D{int(match[1])}:{int(match[2])}" if match else dia_id


@dataclass(frozen=True)
class Turn:
    dia_id: str
    speaker: str
    text: str
    caption: str | None = None


@dataclass(frozen=True)
class Session:
    number: int
    date: str | None
    turns: tuple[Turn, ...]


@dataclass(frozen=True)
class QA:
    index: int  #: position in the sample's ``qa`` list
    question: str
    answer: str | None
    evidence: tuple[str, ...]  #: dia ids found in the evidence strings (see :func:`dia_key`)
    unparsed_evidence: int  #: evidence strings naming no dia id
    category: int


@dataclass(frozen=True)
class Conversation:
    sample_id: str
    speakers: tuple[str, str]
    sessions: tuple[Session, ...]
    qa: tuple[QA, ...]


@dataclass(frozen=True)
class LoCoMoParams:
    """Parameters of :class:`LoCoMoTask` (one docstring per field)."""

    chunking: str = "turn"
    """``"turn"`` (one chunk per turn) or ``"session"`` (one chunk per session)."""
    include_adversarial: bool = False
    """Ask category-5 (unanswerable) questions too; LoCoMo leaves them out."""
    image_captions: bool = True
    """Append the caption of a shared image to its turn's text."""

    def __post_init__(self) -> None:
        if self.chunking not in ("turn", "session"):
            raise ValueError(f"chunking must be 'turn' or 'session', got {self.chunking!r}")


def _parse_turns(value: Any, where: str) -> tuple[Turn, ...]:
    turns = []
    for j, turn in enumerate(expect(value, list, where)):
        w = f"{where}[{j}]"
        turns.append(Turn(dia_key(field(turn, "dia_id", str, w)), field(turn, "speaker", str, w),
                          field(turn, "text", str, w),
                          field(turn, "blip_caption", str, w, required=False)))
    return tuple(turns)


def _parse_qa(item: Any, index: int, where: str) -> QA:
    category = field(item, "category", int, where)
    question = field(item, "question", str, where)
    if category == ADVERSARIAL:  # the file gives the trap as adversarial_answer
        answer = item.get("answer")
        answer = None if answer is None else answer_text(answer, f"{where}: field 'answer'")
    else:
        answer = answer_text(field(item, "answer", (str, int, float), where),
                             f"{where}: field 'answer'")
    ids, unparsed = [], 0
    for m, ev in enumerate(field(item, "evidence", list, where, required=False, default=[])):
        found = [f"D{int(a)}:{int(b)}" for a, b in
                 _DIA_ID.findall(expect(ev, str, f"{where}: field 'evidence'[{m}]"))]
        ids.extend(found)
        unparsed += not found
    return QA(index, question, answer, tuple(ids), unparsed, category)


def parse_sample(sample: Any, index: int, where: str) -> Conversation:
    """One LoCoMo sample, checked field by field (errors name ``where`` and the field)."""
    conv = field(sample, "conversation", dict, where)
    cw = f"{where}: conversation"
    speakers = (field(conv, "speaker_a", str, cw), field(conv, "speaker_b", str, cw))
    sessions = []
    for key, value in conv.items():
        match = _SESSION.fullmatch(key)
        if match:
            date = field(conv, f"{key}_date_time", str, cw, required=False)
            sessions.append(Session(int(match[1]), date, _parse_turns(value, f"{cw}.{key}")))
    if not any(s.turns for s in sessions):
        raise DataError(f"{cw}: no turns (expected session_1, session_2, ... lists of turns)")
    sessions.sort(key=lambda s: s.number)
    qa = tuple(_parse_qa(item, k, f"{where}: qa[{k}]")
               for k, item in enumerate(field(sample, "qa", list, where)))
    sample_id = field(sample, "sample_id", (str, int), where, required=False)
    return Conversation(str(sample_id) if sample_id is not None else f"sample-{index}",
                        speakers, tuple(sessions), qa)


class LoCoMoTask(DatasetTask):
    """LoCoMo conversations from a local ``locomo10.json`` (see the module docstring)."""

    name = "locomo"
    env_id = "memgym/LoCoMo-v0"
    example_file = "locomo10.json"
    params_cls = LoCoMoParams

    def __init__(self, data_path: str | PathLike | None = None, chunking: str = "turn",
                 include_adversarial: bool = False, image_captions: bool = True,
                 window_sessions: Any = None) -> None:
        super().__init__(data_path, window_sessions=window_sessions, chunking=chunking, include_adversarial=include_adversarial,
                         image_captions=image_captions)

    @classmethod
    def parse(cls, path: Path) -> tuple[list[Conversation], list[str]]:
        convs = [parse_sample(rec, i, where)
                 for i, (where, rec) in enumerate(load_rows(path, "sample"))]
        return convs, [c.sample_id for c in convs]

    def build(self, conv: Conversation, p: LoCoMoParams
              ) -> tuple[list[Chunk], list[Question], dict[str, Any]]:
        chunks: list[Chunk] = []
        chunk_of: dict[str, int] = {}  # dia id -> chunk id
        for s in conv.sessions:
            if not s.turns:
                continue
            texts = [(t.text + (f" [shared an image: {t.caption}]"
                                if t.caption and p.image_captions else "")).strip()
                     for t in s.turns]
            if p.chunking == "turn":
                for t, text in zip(s.turns, texts):
                    chunk_of.setdefault(t.dia_id, len(chunks))
                    chunks.append(Chunk(len(chunks), text, s.date, s.number, t.speaker))
            else:
                for t in s.turns:
                    chunk_of.setdefault(t.dia_id, len(chunks))
                lines = "\n".join(f"{t.speaker}: {x}" for t, x in zip(s.turns, texts))
                chunks.append(Chunk(len(chunks), lines, s.date, s.number))
        questions, unmapped, excluded = [], 0, 0
        for qa in conv.qa:
            if qa.category == ADVERSARIAL and not p.include_adversarial:
                excluded += 1
                continue
            evidence = sorted({chunk_of[d] for d in qa.evidence if d in chunk_of})
            unmapped += qa.unparsed_evidence + sum(d not in chunk_of for d in qa.evidence)
            answers = ABSTAIN_ANSWERS if qa.category == ADVERSARIAL else (qa.answer,)
            questions.append(Question(
                text=qa.question, answers=answers, evidence=tuple(evidence),
                kind=CATEGORY_KINDS.get(qa.category, f"category-{qa.category}"),
                id=f"{conv.sample_id}/q{qa.index}"))
        labels = {"speakers": list(conv.speakers), "unmapped_evidence": unmapped,
                  "excluded_adversarial": excluded}
        return chunks, questions, labels


register_task(
    "LoCoMo", LoCoMoTask,
    levels={"": {"task": {}, "env": {"tiers": {"episodic": {"entries": 32, "tokens": None}},
                                     "ops": WRITE_DELETE_OPS, "metric": "f1"}}},
    description="LoCoMo long conversations from a local locomo10.json (data_path=...).",
    needs_data=True,
)
