"""MemoryAgentBench: inject a long context once, then ask many questions (Hu et al., 2025).

## Description

Each row of a MemoryAgentBench file (the Hugging Face parquet files such as
``Accurate_Retrieval-00000-of-00001.parquet``, or the same rows as ``.json`` / ``.jsonl``)
is one episode. A row has ``context`` (one long text), ``questions`` (a list),
``answers`` (a list per question of accepted answers; a single string is accepted too) and
``metadata`` (an object, a JSON string or null) with ``source`` and optionally
``question_types`` and ``question_ids``. The context is cut into chunks of at most
``chunk_chars`` characters (or ``chunk_tokens`` memgym tokens) at sentence ends, else at
newlines, else at whitespace (a single word longer than a character budget is cut), and
streamed; then every question is asked ("inject once, query many").

- ``Question.kind`` is ``metadata.question_types[i]`` when given, else ``metadata.source``
  (e.g. ``ruler_qa1_197K``, ``eventqa_full``), so reports break scores down by sub-task.
- The record id the split hashes is ``<source>:<sha1 of the context>``: rows sharing a
  context (the same document) always share a split.
- No evidence: the files do not say which part of the context answers a question, so
  ``Question.evidence`` is empty. The ``oracle`` baseline (which keeps evidence) therefore
  keeps nothing and is no upper bound here, and evidence shaping gives no signal.

## Action Space

The memgym structured env's flat ``Discrete`` op x target action (noop, add, update /
delete slot k), masked by ``action_masks()``; the text env takes the same ops as tool calls.

## Observation Space

The structured env's ``Dict`` of ``Box`` arrays; see :mod:`memgym.envs.structured`.

## Rewards

Mean QA score of the reader over the row's questions with answer containment
(``contains``, MemoryAgentBench's substring match), minus memory and op costs.

## Episode End

After the last chunk is ingested and every question has been answered.

## Arguments

``gym.make("memgym/MemoryAgentBench-v0", data_path="/path/Accurate_Retrieval.parquet")``;
task parameters through ``task_params={...}`` or per episode through ``reset(options={...})``:

- ``data_path``: the local file (required; parquet needs ``pyarrow``).
- ``chunk_chars=2000``: character budget per chunk.
- ``chunk_tokens=None``: token budget per chunk (memgym tokens); overrides ``chunk_chars``.

## Version History

- v0: initial release.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from os import PathLike
from pathlib import Path
from typing import Any

from memgym.envs.registration import register_task
from memgym.episode import Chunk, Question
from memgym.facts import tokenize
from memgym.tasks.base import WRITE_DELETE_OPS
from memgym.tasks.datasets import (
    DataError, DatasetTask, answer_text, expect, field, load_rows, type_name,
)

# Cut after a sentence end (with closing quotes / brackets) followed by space, or at newlines.
_BREAK = re.compile(r"(?<=[.!?])[\"')\]]*\s+|\n\s*")
_WORD = re.compile(r"\S+\s*|\s+")


@dataclass(frozen=True)
class Row:
    record_id: str
    source: str
    context: str
    questions: tuple[str, ...]
    answers: tuple[tuple[str, ...], ...]
    kinds: tuple[str, ...]
    question_ids: tuple[str, ...]


@dataclass(frozen=True)
class MemoryAgentBenchParams:
    """Parameters of :class:`MemoryAgentBenchTask`."""

    chunk_chars: int = 2000
    """Most characters in a chunk (used unless ``chunk_tokens`` is set)."""
    chunk_tokens: int | None = None
    """Most memgym tokens (lower-case alphanumeric runs) in a chunk; overrides ``chunk_chars``."""

    def __post_init__(self) -> None:
        if self.chunk_chars < 1:
            raise ValueError(f"chunk_chars must be >= 1, got {self.chunk_chars}")
        if self.chunk_tokens is not None and self.chunk_tokens < 1:
            raise ValueError(f"chunk_tokens must be >= 1 or None, got {self.chunk_tokens}")


def _pieces(text: str) -> Iterator[str]:
    """Sentences (or lines) of ``text`` with their trailing whitespace."""
    start = 0
    for match in _BREAK.finditer(text):
        yield text[start:match.end()]
        start = match.end()
    if start < len(text):
        yield text[start:]


def split_text(text: str, budget: int, size: Callable[[str], int] = len) -> list[str]:
    """Greedily pack sentences into chunks of at most ``budget`` (by ``size``); an oversize
    sentence is packed by words, and (with ``size=len``) an oversize word is cut."""
    units: list[tuple[str, int]] = []
    for piece in _pieces(text):
        n = size(piece)
        if n <= budget:
            units.append((piece, n))
            continue
        for word in _WORD.findall(piece):
            if size is len and len(word) > budget:
                units.extend((word[i:i + budget], len(word[i:i + budget]))
                             for i in range(0, len(word), budget))
            else:
                units.append((word, size(word)))
    chunks, current, used = [], [], 0
    for piece, n in units:
        if current and used + n > budget:
            chunks.append("".join(current))
            current, used = [], 0
        current.append(piece)
        used += n
    if current:
        chunks.append("".join(current))
    return [c.strip() for c in chunks if c.strip()]


def _token_count(text: str) -> int:
    return len(tokenize(text))


@lru_cache(maxsize=8)  # every agent of an evaluation replays the same rows
def chunk_context(context: str, chunk_chars: int, chunk_tokens: int | None) -> tuple[str, ...]:
    if chunk_tokens is not None:
        return tuple(split_text(context, chunk_tokens, _token_count))
    return tuple(split_text(context, chunk_chars))


def _metadata(row: dict[str, Any], where: str) -> dict[str, Any]:
    meta = row.get("metadata")
    if isinstance(meta, str):
        try:
            meta = json.loads(meta)
        except json.JSONDecodeError as exc:
            raise DataError(f"{where}: field 'metadata' is a string but not JSON ({exc.msg})"
                            ) from None
    if meta is None:
        return {}
    return expect(meta, dict, f"{where}: field 'metadata'")


def _aligned(meta: dict[str, Any], key: str, n: int, where: str) -> list[str] | None:
    values = field(meta, key, list, f"{where}: metadata", required=False)
    if values is None:
        return None
    if len(values) != n:
        raise DataError(f"{where}: metadata.{key} has {len(values)} items for {n} questions")
    return [str(expect(v, (str, int), f"{where}: metadata.{key}[{k}]"))
            for k, v in enumerate(values)]


def parse_row(row: Any, where: str) -> Row:
    """One MemoryAgentBench row, checked field by field."""
    context = field(row, "context", str, where)
    if not context.strip():
        raise DataError(f"{where}: field 'context' is empty")
    questions = [expect(q, str, f"{where}: questions[{k}]")
                 for k, q in enumerate(field(row, "questions", list, where))]
    raw_answers = field(row, "answers", list, where)
    if len(raw_answers) != len(questions):
        raise DataError(f"{where}: field 'answers' has {len(raw_answers)} items for "
                        f"{len(questions)} questions")
    answers = []
    for k, ans in enumerate(raw_answers):
        w = f"{where}: answers[{k}]"
        if isinstance(ans, list):
            answers.append(tuple(answer_text(a, f"{w}[{m}]") for m, a in enumerate(ans)))
        elif isinstance(ans, (str, int, float)) and not isinstance(ans, bool):
            answers.append((answer_text(ans, w),))
        else:
            raise DataError(f"{w} must be a list of answers or a string, got {type_name(ans)}")
    meta = _metadata(row, where)
    source = str(field(meta, "source", (str, int), f"{where}: metadata", required=False,
                       default="memoryagentbench"))
    digest = hashlib.sha1(context.encode()).hexdigest()[:12]
    record_id = f"{source}:{digest}"
    kinds = _aligned(meta, "question_types", len(questions), where) or [source] * len(questions)
    qids = (_aligned(meta, "question_ids", len(questions), where)
            or [f"{record_id}/q{k}" for k in range(len(questions))])
    return Row(record_id, source, context, tuple(questions), tuple(answers), tuple(kinds),
               tuple(qids))


class MemoryAgentBenchTask(DatasetTask):
    """MemoryAgentBench rows from a local parquet / JSON file (see the module docstring)."""

    name = "memoryagentbench"
    env_id = "memgym/MemoryAgentBench-v0"
    example_file = "Accurate_Retrieval-00000-of-00001.parquet"
    params_cls = MemoryAgentBenchParams

    def __init__(self, data_path: str | PathLike | None = None, chunk_chars: int = 2000,
                 chunk_tokens: int | None = None,
                 window_sessions: Any = None) -> None:
        super().__init__(data_path, window_sessions=window_sessions, chunk_chars=chunk_chars, chunk_tokens=chunk_tokens)

    @classmethod
    def parse(cls, path: Path) -> tuple[list[Row], list[str]]:
        rows = [parse_row(rec, where) for where, rec in load_rows(path, "row")]
        return rows, [r.record_id for r in rows]

    def build(self, row: Row, p: MemoryAgentBenchParams
              ) -> tuple[list[Chunk], list[Question], dict[str, Any]]:
        texts = chunk_context(row.context, p.chunk_chars, p.chunk_tokens)
        chunks = [Chunk(i, text) for i, text in enumerate(texts)]
        questions = [Question(text=q, answers=a, kind=k, id=qid)
                     for q, a, k, qid in zip(row.questions, row.answers, row.kinds,
                                             row.question_ids)]
        return chunks, questions, {"source": row.source}


register_task(
    "MemoryAgentBench", MemoryAgentBenchTask,
    levels={"": {"task": {}, "env": {"tiers": {"episodic": {"entries": 32, "tokens": None}},
                                     "ops": WRITE_DELETE_OPS, "metric": "contains"}}},
    description="MemoryAgentBench long contexts, many questions, from a local file "
                "(data_path=...).",
    needs_data=True,
)
