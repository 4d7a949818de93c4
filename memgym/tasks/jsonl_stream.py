"""JSONL streams: memgym's own episode format, so any dataset can be converted and played.

## Description

A ``.jsonl`` file with one episode per line, exactly what :meth:`memgym.Episode.to_json`
writes (and ``memgym data convert`` produces from LoCoMo, LongMemEval and
MemoryAgentBench files); a ``.json`` file holding a list of such objects works too.
One line is one episode::

    {"chunks": [{"id": 0, "text": "I moved to Oslo in May.", "time": "2023-05-08",
                 "session": 1, "speaker": "Ann"},
                {"id": 1, "text": "Nice! I still live in Rome.", "time": "2023-05-08",
                 "session": 1, "speaker": "Bob"}],
     "questions": [{"text": "Where did Ann move to?", "answers": ["Oslo"],
                    "evidence": [0], "kind": "single-hop", "asked_after": null,
                    "conflicting": [], "id": "q0"}],
     "task": "my-dataset", "split": "train", "seed": 0, "params": {},
     "labels": {"record_id": "conversation-17"}}

(one line in the file; wrapped here). Fields:

- ``chunks`` (required, non-empty): ``id`` (0, 1, 2, ... in stream order), ``text``, and
  optional ``time`` (string), ``session`` (integer), ``speaker`` (string).
- ``questions`` (required): ``text``, ``answers`` (list of accepted answers; numbers become
  strings), optional ``evidence`` (chunk ids that answer it), ``kind`` (default ``lookup``;
  reports break scores down by kind), ``asked_after`` (chunk index after which it is asked;
  null = after the stream), ``conflicting`` (chunk ids that make the answer ambiguous if
  kept), ``id``.
- Optional: ``task``, ``split``, ``seed``, ``params``, ``labels`` (diagnostics only, never
  shown to agents). ``labels.record_id`` is the record id the split hashes (else a hash of
  the line's content); ``memgym data convert`` keeps the source's id there, so a converted
  file splits exactly like its source.

Unknown fields are errors (a typo must not silently drop data). See ``docs/DATA.md``.

## Action Space

The memgym structured env's flat ``Discrete`` op x target action (noop, add, update /
delete slot k), masked by ``action_masks()``; the text env takes the same ops as tool calls.

## Observation Space

The structured env's ``Dict`` of ``Box`` arrays; see :mod:`memgym.envs.structured`.

## Rewards

QA score of the reader on the episode's questions (token F1 for extracted answers,
``contains`` for retrieved text), minus memory and op costs.

## Episode End

After the last chunk is ingested and every question has been answered.

## Arguments

``gym.make("memgym/JSONLStream-v0", data_path="/path/episodes.jsonl")``:

- ``data_path``: the local ``.jsonl`` file (required).
- ``split_by="hash"``: ``"hash"`` partitions lines by their record id like every adapter
  (:mod:`memgym.tasks.datasets`); ``"field"`` uses each line's own ``split``.

Episodes are played as stored, with ``split`` and ``seed`` set to the ones asked for.

## Version History

- v0: initial release.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

from memgym.envs.registration import register_task
from memgym.episode import SPLITS, Chunk, Episode, Question
from memgym.tasks.base import WRITE_DELETE_OPS
from memgym.tasks.datasets import DataError, DatasetTask, answer_text, expect, field, load_rows

_EPISODE_FIELDS = {"chunks", "questions", "task", "split", "seed", "params", "labels"}
_CHUNK_FIELDS = {f.name for f in dataclasses.fields(Chunk)}
_QUESTION_FIELDS = {f.name for f in dataclasses.fields(Question)}


@dataclass(frozen=True)
class JSONLStreamParams:
    """Parameters of :class:`JSONLStreamTask`."""

    split_by: str = "hash"
    """``"hash"``: partition by record id; ``"field"``: each episode's own ``split``."""

    def __post_init__(self) -> None:
        if self.split_by not in ("hash", "field"):
            raise ValueError(f"split_by must be 'hash' or 'field', got {self.split_by!r}")


def _known(obj: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(obj) - allowed)
    if unknown:
        raise DataError(f"{where}: unknown field {unknown[0]!r} "
                        f"(expected {', '.join(sorted(allowed))})")


def _ids(q: dict[str, Any], key: str, n: int, where: str) -> tuple[int, ...]:
    values = field(q, key, list, where, required=False, default=[])
    out = []
    for k, v in enumerate(values):
        expect(v, int, f"{where}: {key}[{k}]")
        if not 0 <= v < n:
            raise DataError(f"{where}: {key}[{k}] = {v} names no chunk (ids 0..{n - 1})")
        out.append(v)
    return tuple(out)


def parse_episode(obj: Any, where: str) -> Episode:
    """One episode object, checked field by field (errors name ``where`` and the field)."""
    expect(obj, dict, where)
    _known(obj, _EPISODE_FIELDS, where)
    chunks = []
    for k, c in enumerate(field(obj, "chunks", list, where)):
        w = f"{where}: chunks[{k}]"
        expect(c, dict, w)
        _known(c, _CHUNK_FIELDS, w)
        if field(c, "id", int, w) != k:
            raise DataError(f"{w}: field 'id' is {c['id']}, expected {k} "
                            "(chunk ids are 0, 1, 2, ... in stream order)")
        session = field(c, "session", int, w, required=False)
        chunks.append(Chunk(k, field(c, "text", str, w), field(c, "time", str, w, required=False),
                            session, field(c, "speaker", str, w, required=False)))
    if not chunks:
        raise DataError(f"{where}: field 'chunks' is empty")
    n, questions = len(chunks), []
    for k, q in enumerate(field(obj, "questions", list, where)):
        w = f"{where}: questions[{k}]"
        expect(q, dict, w)
        _known(q, _QUESTION_FIELDS, w)
        answers = tuple(answer_text(a, f"{w}: answers[{m}]")
                        for m, a in enumerate(field(q, "answers", list, w)))
        asked = field(q, "asked_after", int, w, required=False)
        if asked is not None and not 0 <= asked < n:
            raise DataError(f"{w}: field 'asked_after' = {asked} names no chunk (ids 0..{n - 1})")
        questions.append(Question(
            text=field(q, "text", str, w), answers=answers, evidence=_ids(q, "evidence", n, w),
            kind=field(q, "kind", str, w, required=False, default="lookup"), asked_after=asked,
            conflicting=_ids(q, "conflicting", n, w),
            id=str(field(q, "id", (str, int), w, required=False, default=""))))
    return Episode(
        chunks=tuple(chunks), questions=tuple(questions),
        task=field(obj, "task", str, where, required=False, default=""),
        split=field(obj, "split", str, where, required=False, default="train"),
        seed=field(obj, "seed", int, where, required=False, default=0),
        params=field(obj, "params", dict, where, required=False, default={}),
        labels=field(obj, "labels", dict, where, required=False, default={}))


def _record_id(ep: Episode, obj: Any) -> str:
    rid = ep.labels.get("record_id")
    if isinstance(rid, (str, int)) and not isinstance(rid, bool):
        return str(rid)
    return hashlib.sha1(json.dumps(obj, sort_keys=True).encode()).hexdigest()


class JSONLStreamTask(DatasetTask):
    """Episodes stored one per line (see the module docstring and ``docs/DATA.md``)."""

    name = "jsonl_stream"
    env_id = "memgym/JSONLStream-v0"
    example_file = "episodes.jsonl"
    params_cls = JSONLStreamParams

    def __init__(self, data_path: str | PathLike | None = None, split_by: str = "hash",
                 window_sessions: Any = None) -> None:
        super().__init__(data_path, window_sessions=window_sessions, split_by=split_by)

    @classmethod
    def parse(cls, path: Path) -> tuple[list[Episode], list[str]]:
        episodes, ids = [], []
        for where, obj in load_rows(path, "episode"):
            episodes.append(parse_episode(obj, where))
            ids.append(_record_id(episodes[-1], obj))
        return episodes, ids

    def partition(self) -> dict[str, tuple[int, ...]]:
        if self.params.split_by == "hash":
            return super().partition()
        bad = [(i, ep.split) for i, ep in enumerate(self.records) if ep.split not in SPLITS]
        if bad:
            raise DataError(f"{self.path.name}: episode {bad[0][0]}: split {bad[0][1]!r} is not "
                            f"one of {', '.join(SPLITS)} (needed with split_by='field')")
        return {s: tuple(i for i, ep in enumerate(self.records) if ep.split == s)
                for s in SPLITS}

    def episode(self, seed: int, split: str = "train", **overrides: Any) -> Episode:
        if overrides:
            raise ValueError(f"{self.env_id} plays stored episodes as they are; "
                             f"it takes no episode parameters (got {', '.join(sorted(overrides))})")
        return self.make_episode(self.index_of(seed, split), int(seed), split, self.params)

    def make_episode(self, index: int, seed: int, split: str, params: Any) -> Episode:
        return dataclasses.replace(self.records[index], split=split, seed=seed)


register_task(
    "JSONLStream", JSONLStreamTask,
    levels={"": {"task": {}, "env": {"tiers": {"episodic": {"entries": 32, "tokens": None}},
                                     "ops": WRITE_DELETE_OPS, "metric": "f1"}}},
    description="Episodes stored one per line in memgym's JSONL format (data_path=...).",
    needs_data=True,
)
