"""Observation features of real text: sentence embeddings, relations to memory, surface cues.

The rule-based fact parser (:mod:`memgym.facts`) reads memgym's own sentence shapes and
about 1 turn in 370 of a real LoCoMo conversation, so on real data its columns are zero and
a policy has nothing to decide with. These features need no parser:

- the all-MiniLM-L6-v2 embedding of the text in view (mean pooled, L2-normalised; one
  encoding per distinct chunk text, cached in process and, for data files, on disk:
  :mod:`memgym.rewards.embedding_store`);
- relations to memory: cosine of each slot to the view, each slot's redundancy (its highest
  cosine to another slot), and the view's novelty (1 - its highest cosine to a slot);
- surface cues of every text: numbers, date / time expressions, capitalised names, a question
  mark, length; and of stream chunks: the speaker, the session's place in the stream, the
  first turn of a session, and the time gap to the previous session;
- budget context for admission: free entries per chunk still to come (``room_per_chunk``,
  1 when memory can hold the rest of the stream) and the share of held entries shorter than
  the view (``longer_than``): a ratio and a rank an MLP would otherwise have to learn.

A static linear probe on MiniLM + length keeps ~0.57 of LoCoMo's evidence at 128 entries
(DESIGN.md §4b); redundancy, novelty and session structure are what a sequential policy adds.
The columns are computed in compiled code (:mod:`memgym.envs.text_kernel`), the same for the
single and the batched env; the slot relation matrix is updated only for slots an op changed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

import numpy as np

from memgym.episode import Episode

#: Feature sets of the structured env (``features=``): parser columns, these, or both.
FEATURE_SETS: tuple[str, ...] = ("parser", "embedding", "both")
#: Surface cues of any text (one column each, in [0, 1]).
SURFACE_CUES: tuple[str, ...] = ("has_number", "has_time", "names", "question", "length")
#: Stream-position cues of a chunk.
STREAM_CUES: tuple[str, ...] = ("speaker", "session", "new_session", "time_gap")
#: Columns after the view embedding in the ``text_view`` observation.
VIEW_COLUMNS: tuple[str, ...] = (
    *SURFACE_CUES, *STREAM_CUES, "room_per_chunk", "longer_than", "novelty", "max_similarity",
)
#: Columns of the ``text_slots`` observation (per slot).
SLOT_COLUMNS: tuple[str, ...] = (
    "similarity", "redundancy", *SURFACE_CUES, "same_speaker", "session_gap", "same_session",
)
#: Width of ``text_slot_sketch``: each slot's embedding through one fixed random orthonormal
#: projection (Johnson-Lindenstrauss: cosines kept to ~+-0.2), so a policy can judge what a
#: slot holds, not only how it relates to the view, at 1/12 of the full embedding's size.
SKETCH_DIM = 32
NAMES_SCALE = 4.0  # capitalised names counted up to this many
LENGTH_SCALE = 64.0  # tokens
GAP_SCALE = math.log1p(365.0)  # days between sessions, log-scaled, a year -> 1

_NUMBER = re.compile(
    r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|"
    r"hundred|thousand|dozen|couple|first|second|third)\b", re.IGNORECASE)
_TIME = re.compile(
    r"\b(?:yesterday|today|tonight|tomorrow|morning|afternoon|evening|weekend|week|weeks|"
    r"month|months|year|years|ago|last|next|since|until|monday|tuesday|wednesday|thursday|"
    r"friday|saturday|sunday|january|february|march|april|may|june|july|august|september|"
    r"october|november|december|summer|winter|spring|autumn|fall|birthday|\d{4}|"
    r"\d{1,2}(?::\d{2})?\s?(?:am|pm))\b", re.IGNORECASE)
_WORD = re.compile(r"[A-Za-z][\w'\-]*")
_SENTENCE_START = re.compile(r"(?:^|[.!?]\s+|\n)\s*([A-Za-z][\w'\-]*)")
_TOKEN = re.compile(r"\w+")


@lru_cache(maxsize=65536)
def surface_cues(text: str) -> tuple[float, ...]:
    """:data:`SURFACE_CUES` of ``text``: has a number, has a date / time expression, the
    number of capitalised words that do not start a sentence (names; ``I`` aside), ends a
    question, and its length in tokens (both scaled to [0, 1])."""
    starts = {m.start(1) for m in _SENTENCE_START.finditer(text)}
    names = sum(1 for m in _WORD.finditer(text)
                if m.group()[0].isupper() and m.start() not in starts
                and m.group() not in ("I", "I'm", "I've", "I'll", "I'd"))
    return (float(bool(_NUMBER.search(text))), float(bool(_TIME.search(text))),
            min(names / NAMES_SCALE, 1.0), float("?" in text),
            min(len(_TOKEN.findall(text)) / LENGTH_SCALE, 1.0))


@lru_cache(maxsize=4096)
def parse_time(value: str | None) -> datetime | None:
    """A session date as the data writes it (``"1:56 pm on 8 May, 2023"``,
    ``"2023/05/20 (Sat) 02:21"``, ISO), or ``None``."""
    if not value:
        return None
    from dateutil import parser  # a matplotlib dependency, declared in pyproject

    try:
        return parser.parse(value.replace(" on ", " "), fuzzy=True)
    except (ValueError, OverflowError):
        return None


def stream_cues(episode: Episode) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(cues (n, 4), speaker id (n,), session id (n,))`` of the chunks (see
    :data:`STREAM_CUES`); ids are -1 where a chunk has no speaker / session."""
    chunks = episode.chunks
    n = len(chunks)
    speakers: dict[str, int] = {}
    speaker = np.array([-1 if c.speaker is None else speakers.setdefault(c.speaker, len(speakers))
                        for c in chunks], dtype=np.int64)
    sessions: dict[Any, int] = {}
    session = np.array([-1 if c.session is None else sessions.setdefault(c.session, len(sessions))
                        for c in chunks], dtype=np.int64)
    cues = np.zeros((n, len(STREAM_CUES)), dtype=np.float32)
    cues[:, 0] = np.where(speaker >= 0, speaker / max(len(speakers) - 1, 1), 0.0)
    cues[:, 1] = np.where(session >= 0, (session + 1) / max(len(sessions), 1), 0.0)
    previous_time: datetime | None = None
    for i, c in enumerate(chunks):
        first = i == 0 or c.session != chunks[i - 1].session or c.time != chunks[i - 1].time
        if not first:
            cues[i, 2:] = 0.0, cues[i - 1, 3]
            continue
        cues[i, 2] = 1.0
        when = parse_time(c.time)
        if when is not None and previous_time is not None:
            days = abs((when - previous_time).total_seconds()) / 86400.0
            cues[i, 3] = min(math.log1p(days) / GAP_SCALE, 1.0)
        previous_time = when or previous_time
    return cues, speaker, session


@lru_cache(maxsize=8)
def sketch_matrix(dim: int, width: int = SKETCH_DIM) -> np.ndarray:
    """The fixed ``(dim, width)`` projection behind ``text_slot_sketch``: orthonormal columns
    (QR of a seeded Gaussian), scaled by ``sqrt(dim / width)`` so a unit embedding keeps about
    unit norm. The same matrix for every env and run (seed 0), so a policy may apply it to the
    view's embedding to compare the view with its slots in one space."""
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.standard_normal((dim, width)))
    return (q * math.sqrt(dim / width)).astype(np.float32)


def embed(texts: Sequence[str], *, persist: bool, model_path: str | None = None) -> np.ndarray:
    """MiniLM embeddings ``(len(texts), dim)`` through the process-wide encoder."""
    from memgym.rewards.embedding import get_encoder

    return get_encoder(model_path).encode(list(texts), persist=persist)


class EpisodeText:
    """Embeddings and cues of one episode's chunks, computed once per episode."""

    def __init__(self, episode: Episode, *, persist: bool, model_path: str | None = None) -> None:
        self.persist, self.model_path = persist, model_path
        chunks = episode.chunks
        self.row_of = {c.render(): c.id for c in chunks}
        self.embedding = embed([c.text for c in chunks], persist=persist, model_path=model_path)
        self.dim = self.embedding.shape[1]
        self.surface = np.array([surface_cues(c.text) for c in chunks],
                                dtype=np.float32).reshape(len(chunks), len(SURFACE_CUES))
        self.stream, self.speaker, self.session = stream_cues(episode)
        #: Each chunk's ``text_slot_sketch`` row (a slot shows its chunk's row).
        self.sketch = np.clip(self.embedding @ sketch_matrix(self.dim), -1.0, 1.0)
        self.n_sessions = int(self.session.max()) + 1 if len(chunks) else 0

    def of(self, text: str, source: int | None) -> tuple[np.ndarray, np.ndarray, int, int]:
        """``(embedding, surface cues, speaker id, session id)`` of a text: the chunk's row
        when it is chunk ``source``'s rendering, else encoded on demand (ids -1)."""
        row = self.row_of.get(text) if source is None else source
        if row is not None and 0 <= row < len(self.surface):
            return self.embedding[row], self.surface[row], int(self.speaker[row]), int(
                self.session[row])
        vec = embed([text], persist=False, model_path=self.model_path)[0]
        return vec, np.array(surface_cues(text), dtype=np.float32), -1, -1
