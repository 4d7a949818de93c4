"""Per-episode arrays of the batched environment: one row of padded buffers per env.

At (auto)reset an episode is generated and turned into arrays once (chunk features, token
counts, which chunks have questions due, the evidence / conflict roles of every chunk), so
a step of :class:`memgym.envs.vector.MemoryVectorEnv` only indexes these buffers with the
cursor of each env: no Python work per env per step. Buffers grow to the longest episode
seen; bags of words are stored as ``uint8`` (they are binary) to keep memory per env low.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from memgym.episode import Episode
from memgym.envs.features import EpisodeFeatures


@dataclass
class EpisodeRow:
    """What the Python side keeps of one env's episode (for the reader)."""

    episode: Episode
    texts: list[str]
    due: dict[int, list[int]]


def due_questions(episode: Episode) -> dict[int, list[int]]:
    """Chunk index -> questions answered right after it (as :class:`MemoryCore` does)."""
    due: dict[int, list[int]] = {}
    last = len(episode.chunks) - 1
    for i, q in enumerate(episode.questions):
        due.setdefault(q.asked_after if q.asked_after is not None else last, []).append(i)
    return due


class EpisodeBuffers:
    """Padded (num_envs, max_chunks, ...) arrays of the episodes being played."""

    def __init__(self, num_envs: int, bow_dim: int) -> None:
        self.n, self.dim = num_envs, bow_dim
        self.chunks = self.questions = 0
        self.rows: list[EpisodeRow | None] = [None] * num_envs
        self.length = np.zeros(num_envs, dtype=np.int64)
        self.stream_tokens = np.zeros(num_envs, dtype=np.float64)
        self.n_questions = np.ones(num_envs, dtype=np.float64)  # max(len(questions), 1)
        self._allocate(1, 1)

    def _allocate(self, chunks: int, questions: int) -> None:
        """(Re)allocate for ``chunks`` x ``questions``, keeping the rows already written."""
        n, old = self.n, self.__dict__.copy()
        self.bow = np.zeros((n, chunks, self.dim), dtype=np.uint8)
        self.count = np.zeros((n, chunks), dtype=np.float32)
        self.tokens = np.zeros((n, chunks), dtype=np.float32)
        self.hedged = np.zeros((n, chunks), dtype=np.float32)
        self.ids = np.full((n, chunks, 4), -1, dtype=np.int64)  # key, subject, attribute, value
        self.has_due = np.zeros((n, chunks), dtype=bool)
        self.nonempty = np.zeros((n, chunks), dtype=bool)
        self.evidence = np.zeros((n, chunks, questions), dtype=np.int8)
        self.conflict = np.zeros((n, chunks, questions), dtype=np.int8)
        self.need = np.zeros((n, questions), dtype=np.float64)
        self.qmask = np.zeros((n, questions), dtype=bool)
        if self.chunks:
            c, q = self.chunks, self.questions
            for name in ("bow", "count", "tokens", "hedged", "ids", "has_due", "nonempty"):
                getattr(self, name)[:, :c] = old[name]
            for name in ("evidence", "conflict"):
                getattr(self, name)[:, :c, :q] = old[name]
            self.need[:, :q], self.qmask[:, :q] = old["need"], old["qmask"]
        self.chunks, self.questions = chunks, questions

    def load(self, i: int, episode: Episode) -> EpisodeRow:
        """Write ``episode`` into row ``i`` (growing the buffers if it is longer)."""
        c, q = len(episode.chunks), len(episode.questions)
        if c > self.chunks or q > self.questions:
            self._allocate(max(c, self.chunks), max(q, self.questions))
        feats = EpisodeFeatures(episode, self.dim)
        self.bow[i, :c] = feats.chunks.bow
        self.bow[i, c:] = 0
        for name in ("count", "tokens", "hedged"):
            row = getattr(self, name)[i]
            row[:c], row[c:] = getattr(feats.chunks, name), 0.0
        ids = np.stack([feats.chunks.key, feats.chunks.subject, feats.chunks.attribute,
                        feats.chunks.value], axis=1)
        self.ids[i, :c], self.ids[i, c:] = ids, -1
        due = due_questions(episode)
        self.has_due[i] = False
        self.has_due[i, [k for k in due if 0 <= k < c]] = True
        self.nonempty[i] = False
        self.nonempty[i, :c] = [bool(t.strip()) for t in feats.texts]
        self.evidence[i], self.conflict[i] = 0, 0
        self.need[i], self.qmask[i] = 0.0, False
        for j, question in enumerate(episode.questions):
            evidence = set(question.evidence)
            self.evidence[i, sorted(evidence), j] = 1
            self.conflict[i, sorted(set(question.conflicting) - evidence), j] = 1
            self.need[i, j] = len(evidence)
            self.qmask[i, j] = True
        self.length[i] = c
        self.stream_tokens[i] = float(feats.chunks.tokens.sum())
        self.n_questions[i] = max(q, 1)
        row = EpisodeRow(episode, feats.texts, due)
        self.rows[i] = row
        return row

    def nbytes(self) -> int:
        """Bytes held by the arrays (for the memory-per-env benchmark)."""
        return sum(v.nbytes for v in self.__dict__.values() if isinstance(v, np.ndarray))
