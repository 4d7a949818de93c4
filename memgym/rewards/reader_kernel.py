"""The BM25 reader compiled (numba): answers from chunk ids and :class:`ReaderTables`.

Same rules as :class:`memgym.rewards.reader.RankingReader` with the BM25 backend, for memories
whose entries are chunk texts: Lucene BM25 as ``lucene_bm25_matrix`` computes it (same
dtypes, same idf table, query terms summed in vocabulary order), ranking by score then text
then position, ``top_k`` plus the always-shown entries read, possessive chains followed hop
by hop over at most ``MAX_BRANCHES`` subjects, the latest statement winning when entry times
are given. What it returns are codes (mode, chunk, value ids) that
:meth:`ReaderTables.answer` turns into the reader's text; ``tests/test_reader_compiled.py``
checks the result equals ``BM25Reader.answer_all`` on thousands of random memories.

Hand-written loops rather than bm25s because the memory changes every step and is tiny (1-100
entries): what costs is the call overhead, which compiled code removes (issue #18).
"""

from __future__ import annotations

from collections.abc import Sequence

import numba
import numpy as np

from memgym.rewards.reader import ABSTAIN, MAX_BRANCHES, ReaderAnswer, _lucene_idf
from memgym.rewards.reader_tables import (
    CHAIN, MODE_ABSTAIN, MODE_CONTEXT, MODE_VALUES, MODE_WHEN, MODE_YES_NO, WHEN, YES_NO,
    ReaderTables,
)


@numba.njit(cache=True)
def _index(src, chunk_ptr, chunk_terms, chunk_tf, chunk_len, idf, n_terms, k1, b):
    """BM25 term values of the entries (chunk ids ``src``), flat, entry by entry."""
    n = src.shape[0]
    ptr = np.zeros(n + 1, dtype=np.int64)
    for e in range(n):
        c = src[e]
        ptr[e + 1] = ptr[e] + chunk_ptr[c + 1] - chunk_ptr[c]
    terms = np.empty(ptr[n], dtype=np.int64)
    vals = np.empty(ptr[n], dtype=np.float64)
    df = np.zeros(n_terms, dtype=np.int64)
    total = 0
    for e in range(n):
        c = src[e]
        total += chunk_len[c]
        for j in range(chunk_ptr[c], chunk_ptr[c + 1]):
            df[chunk_terms[j]] += 1
    mean = float(total) / n
    for e in range(n):
        c = src[e]
        norm = k1 * ((1 - b) + b * float(chunk_len[c]) / mean)
        k = ptr[e]
        for j in range(chunk_ptr[c], chunk_ptr[c + 1]):
            t = chunk_terms[j]
            tf = np.float64(np.float32(chunk_tf[j]))
            terms[k] = t
            vals[k] = np.float64(np.float32(np.float64(idf[df[t]]) * (tf / (norm + tf))))
            k += 1
    return ptr, terms, vals


@numba.njit(cache=True)
def _rank(query, q_ptr, q_terms, q_tf, ptr, terms, vals, src, text_rank, out):
    """Entries with a positive score for ``query``, best first (ties: text, then position),
    written to ``out``; returns how many."""
    n = src.shape[0]
    scores = np.zeros(n)
    m = 0
    for e in range(n):
        acc = 0.0
        i, j = q_ptr[query], ptr[e]
        while i < q_ptr[query + 1] and j < ptr[e + 1]:  # both ascending: vocabulary order
            if q_terms[i] == terms[j]:
                acc += np.float64(q_tf[i]) * vals[j]
                i += 1
                j += 1
            elif q_terms[i] < terms[j]:
                i += 1
            else:
                j += 1
        scores[e] = acc
        if acc > 0:  # insertion sort: memories are small
            k = m
            while k > 0:
                o = out[k - 1]
                if scores[o] > acc or (scores[o] == acc and (
                        text_rank[src[o]] < text_rank[src[e]] or
                        (text_rank[src[o]] == text_rank[src[e]] and o < e))):
                    break
                out[k] = o
                k -= 1
            out[k] = e
            m += 1
    return m


@numba.njit(cache=True)
def _read(ranking, m, top_k, shown, reading):
    """Mark what the reader reads for one query: the top_k ranked plus the shown entries."""
    reading[:] = shown
    for r in range(min(top_k, m)):
        reading[ranking[r]] = True


@numba.njit(cache=True)
def answer_memory(src, shown, times, use_times, questions, top_k, max_branches, k1, b, idf,
                  chunk_ptr, chunk_terms, chunk_tf, chunk_len, text_rank, fact_key, fact_norm,
                  fact_display, has_date, q_ptr, q_terms, q_tf, q_kind, q_first_query,
                  q_first_key, q_attr_ptr, q_attrs, hop_query, hop_key, hop_stride, n_terms,
                  out_mode, out_ref, out_values, out_n_values, out_used):
    """Answer ``questions`` from the memory ``src`` (chunk id per entry, store order).

    ``hop_query`` / ``hop_key`` are (display values x attributes) tables, flat with row
    length ``hop_stride``. A single found value is also written to ``out_ref``."""
    n = src.shape[0]
    ptr, terms, vals = _index(src, chunk_ptr, chunk_terms, chunk_tf, chunk_len, idf, n_terms,
                              k1, b)
    ranking = np.empty(n, dtype=np.int64)
    reading = np.zeros(n, dtype=np.bool_)
    sub_query = np.empty(max_branches, dtype=np.int64)
    sub_key = np.empty(max_branches, dtype=np.int64)
    found_norm = np.empty(n * max_branches, dtype=np.int64)
    found_display = np.empty(n * max_branches, dtype=np.int64)
    for qi in range(questions.shape[0]):
        q = questions[qi]
        out_used[qi, :] = False
        out_n_values[qi] = 0
        out_ref[qi] = -1
        out_mode[qi] = MODE_ABSTAIN
        if q_kind[q] != CHAIN:
            m = _rank(q_first_query[q], q_ptr, q_terms, q_tf, ptr, terms, vals, src,
                      text_rank, ranking)
            _read(ranking, m, top_k, shown, reading)
            out_used[qi, :] = reading
            for r in range(m):  # relevant: ranked and read, in rank order
                e = ranking[r]
                if not reading[e]:
                    continue
                if q_kind[q] == WHEN:
                    if has_date[src[e]]:
                        out_mode[qi], out_ref[qi] = MODE_WHEN, src[e]
                        break
                else:
                    out_mode[qi] = MODE_YES_NO if q_kind[q] == YES_NO else MODE_CONTEXT
                    out_ref[qi] = src[e]
                    break
            continue
        n_hops = 1 + q_attr_ptr[q + 1] - q_attr_ptr[q]
        n_sub = 1
        sub_query[0], sub_key[0] = q_first_query[q], q_first_key[q]
        for hop in range(n_hops):
            n_found = 0
            for s in range(n_sub):
                m = _rank(sub_query[s], q_ptr, q_terms, q_tf, ptr, terms, vals, src,
                          text_rank, ranking)
                _read(ranking, m, top_k, shown, reading)
                latest = -(2 ** 62)
                for e in range(n):
                    if reading[e]:
                        out_used[qi, e] = True
                        c = src[e]
                        if use_times and fact_key[c] == sub_key[s] and sub_key[s] >= 0:
                            latest = max(latest, times[e])
                for e in range(n):
                    c = src[e]
                    if not reading[e] or sub_key[s] < 0 or fact_key[c] != sub_key[s]:
                        continue
                    if use_times and times[e] != latest:
                        continue
                    for f in range(n_found + 1):  # merge: one display (the least) per value
                        if f == n_found:
                            found_norm[f], found_display[f] = fact_norm[c], fact_display[c]
                            n_found += 1
                            break
                        if found_norm[f] == fact_norm[c]:
                            found_display[f] = min(found_display[f], fact_display[c])
                            break
            if n_found == 0:
                break  # abstain
            order = np.argsort(found_norm[:n_found])
            if hop == n_hops - 1:
                out_mode[qi] = MODE_VALUES
                out_n_values[qi] = n_found
                for f in range(n_found):
                    out_values[qi, f] = found_display[order[f]]
                if n_found == 1:
                    out_ref[qi] = found_display[order[0]]
                break
            attr = q_attrs[q_attr_ptr[q] + hop]
            n_sub = min(n_found, max_branches)
            for s in range(n_sub):
                d = found_display[order[s]]
                sub_query[s] = hop_query[d * hop_stride + attr]
                sub_key[s] = hop_key[d * hop_stride + attr]


@numba.njit(cache=True)
def top_sources(src, query_ids, k, k1, b, idf, chunk_ptr, chunk_terms, chunk_tf, chunk_len,
                text_rank, q_ptr, q_terms, q_tf, n_terms, out):
    """Chunk ids of the ``k`` best-ranked entries per query (-1 past the ranked ones): what
    ``evidence_recall@k`` counts."""
    n = src.shape[0]
    ptr, terms, vals = _index(src, chunk_ptr, chunk_terms, chunk_tf, chunk_len, idf, n_terms,
                              k1, b)
    ranking = np.empty(n, dtype=np.int64)
    out[:, :] = -1
    for qi in range(query_ids.shape[0]):
        m = _rank(query_ids[qi], q_ptr, q_terms, q_tf, ptr, terms, vals, src, text_rank,
                  ranking)
        for r in range(min(k, m)):
            out[qi, r] = src[ranking[r]]


def answer_chunks(tables: ReaderTables, sources: Sequence[int], questions: Sequence[int],
                  shown: Sequence[bool] | None = None, times: Sequence[int] | None = None,
                  *, top_k: int = 3, k1: float = 1.5, b: float = 0.75) -> list[ReaderAnswer]:
    """``BM25Reader(top_k, k1, b).answer_all`` for a memory of chunk texts: the entries are
    the chunks ``sources`` (store order), ``questions`` index the episode's questions,
    ``shown`` flags the always-shown entries and ``times`` (a time-aware reader) their
    stream times."""
    n = len(sources)
    if n == 0:
        return [ABSTAIN for _ in questions]
    codes = run_answers(tables, np.asarray(sources, dtype=np.int64),
                        np.asarray(questions, dtype=np.int64),
                        np.zeros(n, dtype=np.bool_) if shown is None else np.asarray(shown, bool),
                        None if times is None else np.asarray(times, dtype=np.int64),
                        top_k, k1, b)
    mode, ref, values, n_values, used = codes
    out = []
    for i, q in enumerate(questions):
        answer = tables.answer(int(q), int(mode[i]), int(ref[i]),
                               values[i, :n_values[i]].tolist())
        out.append(ReaderAnswer(answer.text, answer.mode, tuple(np.flatnonzero(used[i]).tolist())))
    return out


def run_answers(tables: ReaderTables, sources: np.ndarray, questions: np.ndarray,
                shown: np.ndarray, times: np.ndarray | None, top_k: int, k1: float, b: float
                ) -> tuple[np.ndarray, ...]:
    """The kernel's codes for ``questions``: mode, chunk, value ids, their count, entries
    used (``(len(questions), len(sources))`` bool)."""
    n, m = len(sources), len(questions)
    mode = np.empty(m, dtype=np.int64)
    ref = np.empty(m, dtype=np.int64)
    values = np.empty((m, max(n * MAX_BRANCHES, 1)), dtype=np.int64)
    n_values = np.empty(m, dtype=np.int64)
    used = np.empty((m, n), dtype=np.bool_)
    t = tables
    answer_memory(sources, shown, np.zeros(n, np.int64) if times is None else times,
                  times is not None, questions, top_k, MAX_BRANCHES, k1, b, _lucene_idf(n),
                  t.chunk_ptr, t.chunk_terms, t.chunk_tf, t.chunk_len, t.text_rank, t.fact_key,
                  t.fact_norm, t.fact_display, t.has_date, t.query_ptr, t.query_terms,
                  t.query_tf, t.q_kind, t.q_first_query, t.q_first_key, t.q_attr_ptr,
                  t.q_attrs, t.hop_query, t.hop_key, t.hop_stride, t.n_terms, mode, ref, values,
                  n_values, used)
    return mode, ref, values, n_values, used


def top_sources_of(tables: ReaderTables, sources: np.ndarray, questions: np.ndarray, k: int,
                   k1: float = 1.5, b: float = 0.75) -> np.ndarray:
    """``(len(questions), k)`` chunk ids of the best-ranked entries for each question's text
    (-1 where fewer are ranked): the entries ``evidence_recall@k`` counts as retrieved."""
    out = np.empty((len(questions), k), dtype=np.int64)
    t = tables
    top_sources(sources, questions, k, k1, b, _lucene_idf(len(sources)), t.chunk_ptr,
                t.chunk_terms, t.chunk_tf, t.chunk_len, t.text_rank, t.query_ptr,
                t.query_terms, t.query_tf, t.n_terms, out)
    return out
