"""Training episodes cut from long records: random windows of whole sessions.

A data file holds few records (LoCoMo: 10 conversations, 6 for training), and a policy that
sees the same few streams overfits them. ``window_sessions=(lo, hi)`` (a task parameter of
every dataset adapter) makes episode ``seed`` a window of ``lo`` to ``hi`` consecutive
sessions of record ``seed % n``, drawn from the seed: a few conversations give thousands of
distinct episodes. The window keeps the questions whose evidence lies entirely inside it
(questions with no evidence ids cannot be checked, so they are dropped), with chunk ids and
``asked_after`` renumbered; a question asked after a chunk outside the window is dropped.
Records without session numbers are one session: their window is the whole record.
"""

from __future__ import annotations

import zlib
from dataclasses import replace
from typing import Any

import numpy as np

from memgym.episode import SPLITS, Chunk, Episode


def check_window(value: Any) -> tuple[int, int] | None:
    """``window_sessions`` validated: ``None``, ``n`` or ``[lo, hi]`` with 1 <= lo <= hi."""
    if value is None:
        return None
    pair = (value, value) if isinstance(value, int) and not isinstance(value, bool) else value
    if (not isinstance(pair, (list, tuple)) or len(pair) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in pair)
            or not 1 <= pair[0] <= pair[1]):
        raise ValueError(f"window_sessions must be None, a positive int or [lo, hi] with "
                         f"1 <= lo <= hi, got {value!r}")
    return int(pair[0]), int(pair[1])


def window_rng(task: str, split: str, seed: int) -> np.random.Generator:
    return np.random.default_rng([zlib.crc32(f"{task}/window".encode()),
                                  SPLITS.index(split), seed])


def cut_window(episode: Episode, window: tuple[int, int], rng: np.random.Generator) -> Episode:
    """A window of ``window`` = (lo, hi) consecutive sessions of ``episode`` (see above)."""
    sessions = sorted({c.session for c in episode.chunks if c.session is not None})
    if len(sessions) <= window[0]:
        return episode
    size = int(rng.integers(window[0], min(window[1], len(sessions)) + 1))
    start = int(rng.integers(0, len(sessions) - size + 1))
    inside = set(sessions[start:start + size])
    kept = [c for c in episode.chunks if c.session in inside]
    new_id = {c.id: i for i, c in enumerate(kept)}
    chunks = tuple(Chunk(new_id[c.id], c.text, c.time, c.session, c.speaker) for c in kept)
    questions = []
    for q in episode.questions:
        if not q.evidence or any(e not in new_id for e in q.evidence):
            continue
        if q.asked_after is not None and q.asked_after not in new_id:
            continue
        questions.append(replace(
            q, evidence=tuple(new_id[e] for e in q.evidence),
            conflicting=tuple(new_id[e] for e in q.conflicting if e in new_id),
            asked_after=None if q.asked_after is None else new_id[q.asked_after]))
    labels = {**episode.labels, "window_sessions": [sessions[start], sessions[start + size - 1]],
              "window_source_chunks": [kept[0].id, kept[-1].id]}
    return Episode(chunks=chunks, questions=tuple(questions), task=episode.task,
                   split=episode.split, seed=episode.seed,
                   params={**episode.params, "window_sessions": list(window)}, labels=labels)

