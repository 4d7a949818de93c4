"""The text-feature observation (``features="embedding"`` / ``"both"``), compiled once for both
envs.

One definition of the ``text_view`` / ``text_slots`` / ``text_slot_sketch`` columns
(:data:`memgym.envs.text_features.VIEW_COLUMNS` and ``SLOT_COLUMNS``), read by the single env
(:class:`memgym.envs.structured.MemoryEnv`, a batch of one) and the batched env
(:class:`memgym.envs.vector.MemoryVectorEnv`). A slot holds a chunk of the stream, so its
embedding, cues and sketch are rows of per-episode chunk arrays (:class:`EpisodeText`),
indexed by the slot's source chunk; the slot-slot cosine matrix is kept per env and only the
rows of slots whose chunk changed are recomputed (two small products per step, not
``n_slots`` squared). Dot products run in float32 in index order, so both envs get the same
bits from the same memory.
"""

from __future__ import annotations

import numba
import numpy as np

from memgym.envs.text_features import SLOT_COLUMNS, STREAM_CUES, SURFACE_CUES, VIEW_COLUMNS

N_SURFACE, N_STREAM = len(SURFACE_CUES), len(STREAM_CUES)
LENGTH = SURFACE_CUES.index("length")
C_SIMILARITY, C_REDUNDANCY, C_SURFACE, C_SPEAKER, C_GAP, C_SESSION = (
    SLOT_COLUMNS.index(c) for c in ("similarity", "redundancy", SURFACE_CUES[0],
                                    "same_speaker", "session_gap", "same_session"))
V_SURFACE, V_STREAM, V_ROOM, V_LONGER, V_NOVELTY, V_BEST = (
    VIEW_COLUMNS.index(c) for c in (SURFACE_CUES[0], STREAM_CUES[0], "room_per_chunk",
                                    "longer_than", "novelty", "max_similarity"))


@numba.njit(cache=True)
def _dot(a, b):
    total = np.float32(0.0)
    for d in range(a.shape[0]):
        total += a[d] * b[d]
    return total


@numba.njit(cache=True)
def sync_similarity(slot_src, seen_src, episode_row, embedding, similarity):
    """Recompute row and column ``k`` of env ``i``'s slot cosine matrix wherever
    ``slot_src[i, k]`` (the chunk slot k holds, -1: free) differs from ``seen_src[i, k]``
    (what the matrix was last computed for), then mark it seen. ``embedding[episode_row[i]]``
    holds env ``i``'s chunk embeddings; a free slot's row is 0."""
    n, s = slot_src.shape
    for i in range(n):
        r = episode_row[i]
        for k in range(s):
            ck = slot_src[i, k]
            if ck == seen_src[i, k]:
                continue
            seen_src[i, k] = ck
            for j in range(s):
                cj = slot_src[i, j]
                value = np.float32(0.0)
                if ck >= 0 and cj >= 0:
                    value = _dot(embedding[r, ck], embedding[r, cj])
                similarity[i, k, j] = value
                similarity[i, j, k] = value


@numba.njit(cache=True)
def observe_text(has_view, view_vec, view_surface, view_stream, view_speaker, view_session,
                 cursor, slot_src, similarity, episode_row, length, n_sessions, embedding,
                 surface, speaker, session, sketch, out_view, out_slots, out_sketch):
    """Fill row ``i`` of ``out_view`` (dim + VIEW_COLUMNS), ``out_slots`` (n_slots x
    SLOT_COLUMNS) and ``out_sketch`` (n_slots x sketch width) for every env ``i``.

    The view is given per env (``view_vec`` etc.: a chunk's rows, or a text encoded on
    demand; speaker / session -1 when unknown); slots read the chunk arrays (``length``
    ... ``sketch``) of env ``i``'s episode row ``episode_row[i]`` at ``slot_src``. Nothing
    in view: zero view and slot columns (the sketch stays)."""
    n, s = slot_src.shape
    dim = view_vec.shape[1]
    sims = np.zeros(s, dtype=np.float32)
    for i in range(n):
        r = episode_row[i]
        out_view[i, :] = 0
        out_slots[i, :, :] = 0
        out_sketch[i, :, :] = 0
        occupied = 0
        for k in range(s):
            c = slot_src[i, k]
            if c >= 0:
                occupied += 1
                out_sketch[i, k, :] = sketch[r, c]
        if not has_view[i]:
            continue
        best, longer, novelty = np.float32(0.0), 1.0, 1.0
        if occupied:
            best = np.float32(-np.inf)
            shorter = 0
            for k in range(s):
                c = slot_src[i, k]
                if c < 0:
                    continue
                sims[k] = _dot(embedding[r, c], view_vec[i])
                best = max(best, sims[k])
                shorter += surface[r, c, LENGTH] < view_surface[i, LENGTH]
            longer = shorter / occupied
            novelty = 1.0 - max(best, 0.0)
        known_view = view_session[i] >= 0
        for k in range(s):
            c = slot_src[i, k]
            if c < 0:
                continue
            row = out_slots[i, k]
            row[C_SIMILARITY] = sims[k]
            if occupied > 1:
                top = np.float32(-1.0)  # the diagonal counts as -1, as np.fill_diagonal
                for j in range(s):
                    if j != k and slot_src[i, j] >= 0:
                        top = max(top, similarity[i, k, j])
                row[C_REDUNDANCY] = top
            for u in range(N_SURFACE):
                row[C_SURFACE + u] = surface[r, c, u]
            row[C_SPEAKER] = speaker[r, c] >= 0 and speaker[r, c] == view_speaker[i]
            if known_view and session[r, c] >= 0:
                row[C_GAP] = abs(view_session[i] - session[r, c]) / max(n_sessions[r], 1)
                row[C_SESSION] = session[r, c] == view_session[i]
            for u in range(row.shape[0]):
                row[u] = min(max(row[u], -1.0), 1.0)
        out = out_view[i]
        out[:dim] = view_vec[i]
        for u in range(N_SURFACE):
            out[dim + V_SURFACE + u] = view_surface[i, u]
        for u in range(N_STREAM):
            out[dim + V_STREAM + u] = view_stream[i, u]
        remaining = max(length[r] - cursor[i], 1)
        out[dim + V_ROOM] = min((s - occupied) / remaining, 1.0)
        out[dim + V_LONGER] = longer
        out[dim + V_NOVELTY] = novelty
        out[dim + V_BEST] = best
        for u in range(out.shape[0]):
            out[u] = min(max(out[u], -1.0), 1.0)
