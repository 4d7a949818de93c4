"""Per-episode arrays of the batched environment: rows of padded buffers, one per episode.

At (auto)reset an episode is generated and turned into arrays once (chunk features, token
counts, which chunks have questions due, the evidence / conflict roles of every chunk, the
reader's and the scorer's tables; with an ``episode_pool`` the encoding is cached, see
:mod:`memgym.envs.episode_pool`, and each pooled episode keeps a row of its own, so an
autoreset onto it copies nothing), so a step of :class:`memgym.envs.vector.MemoryVectorEnv`
only indexes these buffers with each env's row and cursor: no Python work per env per step.
Buffers grow to the longest episode seen; bags of words are stored as ``uint8`` (they are
binary) to keep memory per env low.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field

import numpy as np

from memgym.episode import Episode
from memgym.envs.features import EpisodeFeatures
from memgym.envs.text_features import SKETCH_DIM, STREAM_CUES, SURFACE_CUES, EpisodeText
from memgym.rewards.metrics import score_answer
from memgym.rewards.reader import ReaderAnswer
from memgym.rewards.reader_tables import ReaderTables, build_tables
from memgym.rewards.score_kernel import ScoreTables, build_score_tables


@dataclass
class EpisodeRow:
    """What the Python side keeps of one env's episode (for the reader)."""

    episode: Episode
    texts: list[str]
    due: dict[int, list[int]]
    #: The compiled reader's arrays (None: the env's reader is not BM25).
    tables: ReaderTables | None = None
    #: Questions that name evidence (at least 1): the evidence terms' denominator.
    n_evidence: int = 1
    _scores: dict[tuple, float] = field(default_factory=dict)
    #: :meth:`score_code` by ``(question, mode, ref, values, metric)``.
    code_scores: dict[tuple, float] = field(default_factory=dict)

    def score(self, question: int, answer: ReaderAnswer, answers: Sequence[str], metric: str
              ) -> float:
        """``score_answer`` of ``answer`` to question ``question``, computed once per
        distinct answer (a pooled episode replays the same answers many times)."""
        key = (question, answer.text, answer.mode, metric)
        score = self._scores.get(key)
        if score is None:
            score = self._scores[key] = score_answer(answer, answers, metric)
        return score

    def score_code(self, question: int, mode: int, ref: int, values: Sequence[int],
                   metric: str) -> float:
        """:meth:`score` of the compiled reader's answer, given as its codes (see
        :meth:`ReaderTables.answer`); kept by the codes, so a replayed answer (pooled
        episodes) costs one dictionary lookup."""
        key = (question, mode, ref, tuple(values), metric)
        score = self.code_scores.get(key)
        if score is None:
            score = self.code_scores[key] = self.score(
                question, self.tables.answer(question, mode, ref, values),
                self.episode.questions[question].answers, metric)
        return score


@dataclass
class EncodedEpisode:
    """One episode as arrays (chunks x ...), ready to copy into a row of the buffers."""

    row: EpisodeRow
    bow: np.ndarray  # (chunks, dim) uint8
    count: np.ndarray
    tokens: np.ndarray
    hedged: np.ndarray
    ids: np.ndarray  # (chunks, 4): key, subject, attribute, value
    has_due: np.ndarray
    nonempty: np.ndarray
    evidence: np.ndarray  # (chunks, questions) int8
    conflict: np.ndarray
    need: np.ndarray  # (questions,)
    stream_tokens: float
    #: The reader tables and due questions packed (``ReaderTables.packed``), or empty.
    table_flat: np.ndarray
    table_offsets: np.ndarray
    #: Embeddings and cues of the chunks (``features="embedding"`` / ``"both"``), else None.
    text: EpisodeText | None = None


def due_questions(episode: Episode) -> dict[int, list[int]]:
    """Chunk index -> questions answered right after it (as :class:`MemoryCore` does)."""
    due: dict[int, list[int]] = {}
    last = len(episode.chunks) - 1
    for i, q in enumerate(episode.questions):
        due.setdefault(q.asked_after if q.asked_after is not None else last, []).append(i)
    return due


#: The per-chunk arrays of an :class:`EncodedEpisode` a buffer row holds, and the value of
#: the padding past the episode's end.
_CHUNK_ARRAYS: tuple[tuple[str, int], ...] = (
    ("bow", 0), ("count", 0), ("tokens", 0), ("hedged", 0), ("has_due", 0), ("nonempty", 0),
    ("ids", -1))
#: The same for :class:`EpisodeText` (text features only).
_TEXT_ARRAYS: tuple[tuple[str, int], ...] = (
    ("embedding", 0), ("surface", 0), ("stream", 0), ("speaker", -1), ("session", -1),
    ("sketch", 0))
#: The arrays with one value per row.
_ROW_ARRAYS = ("n_sessions", "length", "stream_tokens", "n_questions", "n_evidence",
               "table_flat", "table_offsets", "n_terms", "hop_stride")


def widened(old: np.ndarray, width: int) -> np.ndarray:
    """``old`` with its second axis grown to ``width`` (zeros after its contents)."""
    grown = np.zeros((old.shape[0], width, *old.shape[2:]), dtype=old.dtype)
    grown[:, :old.shape[1]] = old
    return grown


#: Most rows an :class:`EpisodeBuffers` keeps for pooled episodes (besides one per env);
#: the pool's episodes past it are copied into their env's row at each reset instead.
POOL_ROWS = 1024


class EpisodeBuffers:
    """Padded (rows, max_chunks, ...) arrays of encoded episodes; env ``i`` plays row
    ``episode_row[i]``.

    Row ``i < num_envs`` is env ``i``'s own: a fresh episode is copied into it at reset. A
    pooled episode (one with a cache key) gets a row of its own the first time it is drawn,
    up to ``pool_rows`` of them, and is never copied again: a reset points the env at its
    row, as gymnax / PufferLib envs index a pre-generated set of levels. Kernels only read
    these arrays (the per-env state lives in :class:`memgym.envs.vector.MemoryVectorEnv`).
    """

    def __init__(self, num_envs: int, bow_dim: int, reader_tables: bool = False,
                 parse: bool = True, text: tuple[bool, str | None] | None = None,
                 text_dim: int = 0, pool_rows: int = 0) -> None:
        """``parse``: the fact-parser columns; ``text``: ``(persist, model_path)`` of the
        embedding features (``text_dim`` wide), None without them; ``pool_rows``: rows kept
        for pooled episodes (0: none, every reset copies)."""
        self.n, self.dim, self.reader_tables = num_envs, bow_dim, reader_tables
        self.parse, self.text, self.text_dim = parse, text, text_dim
        self.pool_rows = pool_rows
        self.episode_row = np.arange(num_envs, dtype=np.int64)
        self._pooled: dict[Hashable, int] = {}  # cache key -> row
        self.n_rows = self.chunks = self.questions = 0
        self.rows: list[EpisodeRow | None] = []  # by row
        self._allocate(num_envs, 1, 1)

    def _allocate(self, n_rows: int, chunks: int, questions: int) -> None:
        """(Re)allocate for ``n_rows`` x ``chunks`` x ``questions``, keeping the rows already
        written (padding the new room)."""
        n, old = n_rows, self.__dict__.copy()
        self.n_sessions = np.zeros(n, dtype=np.int64)
        self.length = np.zeros(n, dtype=np.int64)
        self.stream_tokens = np.zeros(n, dtype=np.float64)
        self.n_questions = np.ones(n, dtype=np.float64)  # max(len(questions), 1)
        self.n_evidence = np.ones(n, dtype=np.int64)  # EpisodeRow.n_evidence
        #: The reader tables (``ReaderTables.ARRAYS``, the due questions of every chunk:
        #: ``due_ptr``, ``due_ids``, then the answers' tokens: ``ScoreTables.ARRAYS``) of
        #: row r: ``table_flat[r]`` cut at ``table_offsets[r]``;
        #: lengths differ by episode, the row is padded to the longest seen.
        width = old["table_flat"].shape[1] if "table_flat" in old else 1
        self.table_flat = np.zeros((n, width), dtype=np.int64)
        self.table_offsets = np.zeros(
            (n, len(ReaderTables.ARRAYS) + 3 + len(ScoreTables.ARRAYS)), dtype=np.int64)
        self.n_terms = np.zeros(n, dtype=np.int64)
        self.hop_stride = np.zeros(n, dtype=np.int64)
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
        text_dim = self.text_dim if self.text else 0  # zero-width without text features
        self.embedding = np.zeros((n, chunks, text_dim), dtype=np.float32)
        self.surface = np.zeros((n, chunks, len(SURFACE_CUES)), dtype=np.float32)
        self.stream = np.zeros((n, chunks, len(STREAM_CUES)), dtype=np.float32)
        self.speaker = np.full((n, chunks), -1, dtype=np.int64)
        self.session = np.full((n, chunks), -1, dtype=np.int64)
        self.sketch = np.zeros((n, chunks, SKETCH_DIM if text_dim else 0), dtype=np.float32)
        r, c, q = self.n_rows, self.chunks, self.questions
        if r:
            for name in _ROW_ARRAYS:
                getattr(self, name)[:r] = old[name]
            for name, _ in (*_CHUNK_ARRAYS, *_TEXT_ARRAYS):
                getattr(self, name)[:r, :c] = old[name]
            for name in ("evidence", "conflict"):
                getattr(self, name)[:r, :c, :q] = old[name]
            self.need[:r, :q], self.qmask[:r, :q] = old["need"], old["qmask"]
        self.rows += [None] * (n - r)
        self.n_rows, self.chunks, self.questions = n, chunks, questions

    def encode(self, episode: Episode) -> EncodedEpisode:
        """The arrays of ``episode`` (its own size); the Python work of a reset."""
        return encode_episode(episode, self.dim, self.reader_tables, self.parse, self.text)

    def pooled(self, i: int, key: Hashable | None) -> bool:
        """Point env ``i`` at the row of the pooled episode ``key`` if it has one (a reset
        that copies nothing); False: :meth:`load` it."""
        row = None if key is None else self._pooled.get(key)
        if row is not None:
            self.episode_row[i] = row
        return row is not None

    def load(self, i: int, encoded: EncodedEpisode, key: Hashable | None = None) -> None:
        """Give env ``i`` the encoded episode: a row of its own when ``key`` (a pooled
        episode's cache key) and there is room for one, else env ``i``'s row."""
        row = i
        if key is not None and len(self._pooled) < self.pool_rows:
            row = self._pooled[key] = self.n + len(self._pooled)
        self._write(row, encoded)
        self.episode_row[i] = row

    def _write(self, i: int, encoded: EncodedEpisode) -> None:
        """Write an encoded episode into row ``i`` (growing the buffers as needed)."""
        c, q = encoded.evidence.shape
        if i >= self.n_rows or c > self.chunks or q > self.questions:
            # pooled rows (written in order, i == n_rows) double, from 16 up to pool_rows
            pooled = self.n_rows - self.n
            rows = self.n_rows if i < self.n_rows else \
                self.n + min(max(2 * pooled, 16), self.pool_rows)
            self._allocate(rows, max(c, self.chunks), max(q, self.questions))
        # A row as long as the buffers (episodes of one length: the common case) is one copy
        # per array; a shorter one also clears what is left of the previous episode.
        fits, padded = c == self.chunks, q == self.questions
        for name, pad in _CHUNK_ARRAYS:
            if fits:
                getattr(self, name)[i] = getattr(encoded, name)
            else:
                row = getattr(self, name)[i]
                row[:c], row[c:] = getattr(encoded, name), pad
        if encoded.text is not None:
            for name, pad in _TEXT_ARRAYS:
                row = getattr(self, name)[i]
                row[:c], row[c:] = getattr(encoded.text, name), pad
            self.n_sessions[i] = encoded.text.n_sessions
        for name in ("evidence", "conflict"):
            if fits and padded:
                getattr(self, name)[i] = getattr(encoded, name)
            else:
                row = getattr(self, name)[i]
                row[:], row[:c, :q] = 0, getattr(encoded, name)
        if padded:
            self.need[i], self.qmask[i] = encoded.need, True
        else:
            self.need[i], self.need[i, :q] = 0.0, encoded.need
            self.qmask[i], self.qmask[i, :q] = False, True
        self.length[i] = c
        self.stream_tokens[i] = encoded.stream_tokens
        self.n_questions[i] = max(q, 1)
        self.n_evidence[i] = encoded.row.n_evidence
        self.rows[i] = encoded.row
        tables = encoded.row.tables
        if tables is not None:
            flat = encoded.table_flat
            if flat.shape[0] > self.table_flat.shape[1]:
                self.table_flat = widened(
                    self.table_flat, max(flat.shape[0], 2 * self.table_flat.shape[1]))
            self.table_flat[i, :flat.shape[0]] = flat
            self.table_offsets[i] = encoded.table_offsets
            self.n_terms[i], self.hop_stride[i] = tables.n_terms, tables.hop_stride

    def row(self, i: int) -> EpisodeRow:
        """What the Python side keeps of the episode env ``i`` plays."""
        return self.rows[self.episode_row[i]]

    def nbytes(self) -> int:
        """Bytes held by the arrays (for the memory-per-env benchmark)."""
        return sum(v.nbytes for v in self.__dict__.values() if isinstance(v, np.ndarray))


def encode_episode(episode: Episode, dim: int, reader_tables: bool, parse: bool = True,
                   text: tuple[bool, str | None] | None = None) -> EncodedEpisode:
    """The arrays of ``episode`` (its own size) with ``dim`` bag-of-words buckets (fact ids
    when ``parse``), its reader tables when ``reader_tables`` and its chunks' embeddings and
    cues when ``text`` (``(persist, model_path)``): the Python work of a reset. A
    module-level function so a prefetching worker can run it
    (``EpisodeSource.draw(prepare=...)``)."""
    feats = EpisodeFeatures(episode, dim, parse)
    c, q = len(episode.chunks), len(episode.questions)
    chunks = feats.chunks
    due = due_questions(episode)
    has_due = np.zeros(c, dtype=bool)
    has_due[[k for k in due if 0 <= k < c]] = True
    evidence = np.zeros((c, q), dtype=np.int8)
    conflict = np.zeros((c, q), dtype=np.int8)
    need = np.zeros(q, dtype=np.float64)
    for j, question in enumerate(episode.questions):
        wanted = set(question.evidence)
        evidence[sorted(wanted), j] = 1
        conflict[sorted(set(question.conflicting) - wanted), j] = 1
        need[j] = len(wanted)
    questions = [q.text for q in episode.questions]
    tables = build_tables(feats.texts, questions) if reader_tables else None
    row = EpisodeRow(episode, feats.texts, due, tables,
                     max(sum(bool(q.evidence) for q in episode.questions), 1))
    flat, offsets = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    if tables is not None:  # + questions due after each chunk, the answers' tokens
        due_ptr = np.zeros(c + 1, dtype=np.int64)
        due_ptr[1:] = np.cumsum([len(due.get(k, ())) for k in range(c)])
        score = build_score_tables(tables, [q.answers for q in episode.questions])
        flat, offsets = tables.packed(due_ptr, [j for k in range(c) for j in due.get(k, ())],
                                      *score.arrays())
    return EncodedEpisode(
        row=row, bow=chunks.bow.astype(np.uint8),
        count=chunks.count, tokens=chunks.tokens, hedged=chunks.hedged,
        ids=np.stack([chunks.key, chunks.subject, chunks.attribute, chunks.value], axis=1),
        has_due=has_due, nonempty=np.array([bool(t.strip()) for t in feats.texts], dtype=bool),
        evidence=evidence, conflict=conflict, need=need,
        stream_tokens=float(chunks.tokens.sum()), table_flat=flat, table_offsets=offsets,
        text=None if text is None else EpisodeText(episode, persist=text[0],
                                                   model_path=text[1]))
