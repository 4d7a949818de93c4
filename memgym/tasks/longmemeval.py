"""LongMemEval: a user's long chat history and one question about it (Wu et al., 2025).

## Description

Each record of ``longmemeval_s.json`` / ``longmemeval_m.json`` / ``longmemeval_oracle.json``
(a list of records; ``.jsonl`` with one record per line works too) is one episode: its
haystack sessions stream in order, then its one question is asked. A record has
``question_id`` (a ``_abs`` suffix marks an abstention question), ``question_type``,
``question``, ``answer``, ``question_date``, ``haystack_session_ids``, ``haystack_dates``,
``haystack_sessions`` (lists of turns ``{role, content, has_answer?}``) and
``answer_session_ids``. ``question_id`` is the record id the split hashes.

- ``chunking="turn"``: one chunk per turn (``Chunk.speaker`` the role, ``Chunk.time`` the
  session's date as written, ``Chunk.session`` its position in the haystack).
  ``chunking="session"``: one chunk per session, turns joined as ``"role: content"`` lines.
- Evidence: the turns marked ``has_answer: true`` (turn chunking; when an answer session
  marks none, all its turns) or the sessions named in ``answer_session_ids`` or holding a
  marked turn (session chunking).
- ``Question.kind`` is ``question_type`` (``single-session-user``, ``temporal-reasoning``,
  ``knowledge-update``, ...), or ``abstain`` for ``_abs`` questions, whose gold answer is
  ``"unknown"`` (the reader's abstention; the file's explanation is kept in
  ``Episode.labels["reference_answer"]``), with no evidence and the chunks of the answer
  sessions as ``conflicting`` (keeping them tempts the reader into answering).
- ``question_date`` is in ``Episode.labels``; numeric answers become strings.

## Action Space

The memgym structured env's flat ``Discrete`` op x target action (noop, add, update /
delete slot k), masked by ``action_masks()``; the text env takes the same ops as tool calls.

## Observation Space

The structured env's ``Dict`` of ``Box`` arrays; see :mod:`memgym.envs.structured`.

## Rewards

QA score of the reader on the record's question: answer containment (``contains``; the
paper uses an LLM judge, which memgym's offline reader replaces), minus memory and op costs.

## Episode End

After the last turn (or session) is ingested and the question has been answered.

## Arguments

``gym.make("memgym/LongMemEval-v0", data_path="/path/longmemeval_s.json")``; task
parameters through ``task_params={...}`` or per episode through ``reset(options={...})``:

- ``data_path``: the local LongMemEval file (required).
- ``chunking="turn"``: ``"turn"`` or ``"session"``.

Splits: by a stable hash of ``question_id`` (:mod:`memgym.tasks.datasets`).

## Version History

- v0: initial release.
"""

from __future__ import annotations

from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

from memgym.envs.registration import register_task
from memgym.episode import Chunk, Question
from memgym.tasks.base import WRITE_DELETE_OPS
from memgym.tasks.datasets import DataError, DatasetTask, answer_text, expect, field, load_rows

ABSTAIN_SUFFIX = "_abs"


@dataclass(frozen=True)
class Turn:
    role: str
    content: str
    has_answer: bool = False


@dataclass(frozen=True)
class Session:
    session_id: str | None
    date: str | None
    turns: tuple[Turn, ...]


@dataclass(frozen=True)
class Record:
    question_id: str
    question_type: str
    question: str
    answer: str
    question_date: str | None
    sessions: tuple[Session, ...]
    answer_session_ids: frozenset[str]

    @property
    def abstain(self) -> bool:
        return self.question_id.endswith(ABSTAIN_SUFFIX)


@dataclass(frozen=True)
class LongMemEvalParams:
    """Parameters of :class:`LongMemEvalTask`."""

    chunking: str = "turn"
    """``"turn"`` (one chunk per turn) or ``"session"`` (one chunk per haystack session)."""

    def __post_init__(self) -> None:
        if self.chunking not in ("turn", "session"):
            raise ValueError(f"chunking must be 'turn' or 'session', got {self.chunking!r}")


def _optional_list(rec: Any, key: str, n: int, where: str) -> list[Any]:
    values = field(rec, key, list, where, required=False)
    if values is None:
        return [None] * n
    if len(values) != n:
        raise DataError(f"{where}: field {key!r} has {len(values)} items for "
                        f"{n} haystack_sessions")
    return values


def parse_record(rec: Any, where: str) -> Record:
    """One LongMemEval record, checked field by field."""
    qid = str(field(rec, "question_id", (str, int), where))
    haystack = field(rec, "haystack_sessions", list, where)
    ids = _optional_list(rec, "haystack_session_ids", len(haystack), where)
    dates = _optional_list(rec, "haystack_dates", len(haystack), where)
    sessions = []
    for i, (turns, sid, date) in enumerate(zip(haystack, ids, dates)):
        w = f"{where}: haystack_sessions[{i}]"
        parsed = []
        for j, turn in enumerate(expect(turns, list, w)):
            tw = f"{w}[{j}]"
            parsed.append(Turn(field(turn, "role", str, tw), field(turn, "content", str, tw),
                               field(turn, "has_answer", bool, tw, required=False,
                                     default=False)))
        if sid is not None:
            sid = str(expect(sid, (str, int), f"{where}: haystack_session_ids[{i}]"))
        if date is not None:
            expect(date, str, f"{where}: haystack_dates[{i}]")
        sessions.append(Session(sid, date, tuple(parsed)))
    if not any(s.turns for s in sessions):
        raise DataError(f"{where}: field 'haystack_sessions' holds no turns")
    answer_ids = field(rec, "answer_session_ids", list, where, required=False, default=[])
    return Record(
        question_id=qid,
        question_type=field(rec, "question_type", str, where),
        question=field(rec, "question", str, where),
        answer=answer_text(field(rec, "answer", (str, int, float), where),
                           f"{where}: field 'answer'"),
        question_date=field(rec, "question_date", str, where, required=False),
        sessions=tuple(sessions),
        answer_session_ids=frozenset(
            str(expect(a, (str, int), f"{where}: answer_session_ids[{k}]"))
            for k, a in enumerate(answer_ids)),
    )


class LongMemEvalTask(DatasetTask):
    """LongMemEval records from a local ``longmemeval_*.json`` (see the module docstring)."""

    name = "longmemeval"
    env_id = "memgym/LongMemEval-v0"
    example_file = "longmemeval_s.json"
    params_cls = LongMemEvalParams

    def __init__(self, data_path: str | PathLike | None = None, chunking: str = "turn",
                 window_sessions: Any = None) -> None:
        super().__init__(data_path, window_sessions=window_sessions, chunking=chunking)

    @classmethod
    def parse(cls, path: Path) -> tuple[list[Record], list[str]]:
        records = [parse_record(rec, where) for where, rec in load_rows(path, "record")]
        return records, [r.question_id for r in records]

    def build(self, rec: Record, p: LongMemEvalParams
              ) -> tuple[list[Chunk], list[Question], dict[str, Any]]:
        chunks: list[Chunk] = []
        marked: list[int] = []  # chunks holding a has_answer turn
        in_answer_session: list[int] = []
        for i, s in enumerate(rec.sessions):
            if not s.turns:
                continue
            first = len(chunks)
            if p.chunking == "turn":
                for t in s.turns:
                    if t.has_answer:
                        marked.append(len(chunks))
                    chunks.append(Chunk(len(chunks), t.content, s.date, i, t.role))
            else:
                if any(t.has_answer for t in s.turns):
                    marked.append(first)
                text = "\n".join(f"{t.role}: {t.content}" for t in s.turns)
                chunks.append(Chunk(first, text, s.date, i))
            if s.session_id is not None and s.session_id in rec.answer_session_ids:
                in_answer_session.extend(range(first, len(chunks)))
        if p.chunking == "turn":
            # Answer sessions that mark no turn: all their turns count.
            sessions_marked = {chunks[c].session for c in marked}
            evidence = set(marked) | {c for c in in_answer_session
                                      if chunks[c].session not in sessions_marked}
        else:
            evidence = set(marked) | set(in_answer_session)
        found = tuple(sorted(evidence))
        if rec.abstain:
            question = Question(rec.question, ("unknown",), (), "abstain", None, found,
                                rec.question_id)
        else:
            question = Question(rec.question, (rec.answer,), found, rec.question_type, None,
                                (), rec.question_id)
        labels = {"question_date": rec.question_date, "question_type": rec.question_type,
                  "reference_answer": rec.answer}
        return chunks, [question], labels


register_task(
    "LongMemEval", LongMemEvalTask,
    levels={"": {"task": {}, "env": {"tiers": {"episodic": {"entries": 32, "tokens": None}},
                                     "ops": WRITE_DELETE_OPS, "metric": "contains"}}},
    description="LongMemEval chat histories from a local longmemeval_*.json (data_path=...).",
    needs_data=True,
)
