"""Plain data of memgym: chunks, questions, episodes and the task protocol.

Episodes are pure data: serialisable to one JSON line each and fully determined by
``(task, split, seed, params)``. This module imports nothing of memgym.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

SPLITS: tuple[str, ...] = ("train", "val", "heldout")

#: Question kinds used by the built-in tasks; datasets may add their own.
QUESTION_KINDS: tuple[str, ...] = (
    "lookup", "update", "multi-hop", "temporal", "count", "abstain",
)


@dataclass(frozen=True)
class Chunk:
    """One unit of the stream."""

    id: int
    text: str
    time: str | None = None
    session: int | None = None
    speaker: str | None = None

    def render(self) -> str:
        """The text an agent (and the reader) sees: ``[time] speaker: text``."""
        text = f"{self.speaker}: {self.text}" if self.speaker else self.text
        return f"[{self.time}] {text}" if self.time else text


@dataclass(frozen=True)
class Question:
    """A question about the stream.

    ``evidence`` are the chunk ids whose content answers it; ``conflicting`` the chunk ids
    whose content, if kept in memory beside the evidence, makes the answer ambiguous (stale
    values of the same fact, planted rumours). ``asked_after`` is the index of the chunk after
    which the question is asked; ``None`` means after the whole stream.
    """

    text: str
    answers: tuple[str, ...]
    evidence: tuple[int, ...] = ()
    kind: str = "lookup"
    asked_after: int | None = None
    conflicting: tuple[int, ...] = ()
    id: str = ""


@dataclass(frozen=True)
class Episode:
    """Chunks + questions + the metadata that determines them."""

    chunks: tuple[Chunk, ...]
    questions: tuple[Question, ...]
    task: str = ""
    split: str = "train"
    seed: int = 0
    params: dict[str, Any] = field(default_factory=dict)
    #: Free-form labels for diagnostics (e.g. ``{"distractors": [chunk ids]}``); never shown to
    #: an agent's observation.
    labels: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        ids = [c.id for c in self.chunks]
        if ids != list(range(len(ids))):
            raise ValueError("chunk ids must be 0..n-1 in stream order")
        for q in self.questions:
            bad = [e for e in (*q.evidence, *q.conflicting) if not 0 <= e < len(ids)]
            if bad:
                raise ValueError(f"question {q.text!r} names unknown chunk ids {bad}")
            if q.asked_after is not None and not 0 <= q.asked_after < len(ids):
                raise ValueError(f"question {q.text!r}: asked_after={q.asked_after} out of range")

    # -- serialisation -------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Episode:
        chunks = tuple(Chunk(**c) for c in data["chunks"])
        questions = tuple(
            Question(
                **{
                    **q,
                    "answers": tuple(q["answers"]),
                    "evidence": tuple(q.get("evidence", ())),
                    "conflicting": tuple(q.get("conflicting", ())),
                }
            )
            for q in data["questions"]
        )
        return cls(
            chunks=chunks,
            questions=questions,
            task=data.get("task", ""),
            split=data.get("split", "train"),
            seed=int(data.get("seed", 0)),
            params=dict(data.get("params", {})),
            labels=dict(data.get("labels", {})),
        )

    @classmethod
    def from_json(cls, line: str) -> Episode:
        return cls.from_dict(json.loads(line))


def write_jsonl(episodes: Iterable[Episode], path: str | Path) -> None:
    """Write one episode per line."""
    with open(path, "w", encoding="utf-8") as f:
        for ep in episodes:
            f.write(ep.to_json() + "\n")


def read_jsonl(path: str | Path) -> Iterator[Episode]:
    """Read episodes written by :func:`write_jsonl`; errors name the file and line."""
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                yield Episode.from_json(line)
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"{path}:{lineno}: not a valid episode: {exc}") from exc


@runtime_checkable
class Task(Protocol):
    """A stream generator (or a dataset adapter).

    ``episode`` must be deterministic in its arguments, draw all randomness from
    ``memgym.tasks.base.split_rng(name, split, seed)`` (disjoint per split) and use surface
    pools split with ``memgym.tasks.base.split_pool`` so held-out streams share no names,
    values or templates with training ones. ``length`` (number of chunks) is a parameter.
    """

    name: str

    def episode(self, seed: int, split: str = "train", **params: Any) -> Episode: ...
