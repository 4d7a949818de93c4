"""How the batched env answers the questions that fall due: the compiled BM25 reader over
every env at once, or another reader (embeddings, an LLM) env by env in Python. ``self`` is
the :class:`memgym.envs.vector.MemoryVectorEnv` (not imported here: it imports this)."""

from __future__ import annotations

from typing import Any

import numpy as np

from memgym.envs import vector_kernel as kernel
from memgym.rewards.evidence import evidence_shares
from memgym.rewards.reader import MAX_BRANCHES


def answer_compiled(self: Any, envs: np.ndarray, terms: np.ndarray) -> None:
    """Answer and score the due questions of ``envs`` in one compiled call; answers the
    kernel does not score (yes / no, ``locomo_f1``) are scored here, each distinct answer
    once per episode (a dictionary lookup when it comes again)."""
    b = self.buffers
    bound = len(self.answered[0]) * len(envs)
    out_env, out_q, out_mode, out_ref, out_n = (np.empty(bound, dtype=np.int64)
                                                for _ in range(5))
    out_values = np.empty((bound, max(self.n_slots * MAX_BRANCHES, 1)), dtype=np.int64)
    scores, retention, recall = np.empty(bound), np.empty(bound), np.empty(bound)
    reader = self.reader
    m = kernel.answer_due(
        envs, self.cursor, self.slot_src, self.slot_entry, self.slot_invalid, self.slot_tier,
        self.always_shown, reader.time_aware, reader.top_k, MAX_BRANCHES, reader.k1,
        reader.b, self._idf, self._recall_k, b.episode_row, b.table_flat, b.table_offsets,
        b.hop_stride, b.n_terms, b.evidence, b.need, self.evidence_in, self.slot_hits,
        self.answered, self._metric_code, out_env, out_q, out_mode, out_ref, out_n, out_values,
        scores, retention, recall)
    metric, rows, episode_row = self.core.metric, b.rows, b.episode_row
    for j in np.flatnonzero(np.isnan(scores[:m])).tolist():
        i, q, mode, ref, n = (int(out_env[j]), int(out_q[j]), int(out_mode[j]),
                              int(out_ref[j]), int(out_n[j]))
        values = tuple(out_values[j, :n].tolist()) if n > 1 else ()
        scores[j] = rows[episode_row[i]].score_code(q, mode, ref, values, metric)
    kernel.credit_answers(out_env[:m], scores[:m], retention, recall, b.episode_row, b.n_questions,
                          b.n_evidence, self.evidence_weights, terms, self.qa_sum,
                          self.qa_count)


def answer_python(self: Any, i: int, terms: np.ndarray) -> None:
    """Answer env ``i``'s due questions with a reader that is not compiled (embeddings)."""
    row, core = self.buffers.row(i), self.core
    occupied = np.flatnonzero((self.slot_src[i] >= 0) & ~self.slot_invalid[i])  # read
    slots = occupied[np.argsort(self.slot_entry[i, occupied])]  # store order = entry id
    sources = self.slot_src[i, slots]
    shown = np.flatnonzero(self.always_shown[self.slot_tier[slots]]).tolist()
    due = row.due[int(self.cursor[i])]
    questions = [row.episode.questions[q] for q in due]
    texts = [row.texts[c] for c in sources]
    kwargs = {"times": sources.tolist()} if getattr(self.reader, "time_aware", False) else {}
    replies = self.reader.answer_all([q.text for q in questions], texts, shown, **kwargs)
    n_questions = self.buffers.n_questions[self.buffers.episode_row[i]]
    # Recall ranks memory once more: skipped when its weight is 0 (its term is then 0).
    ranker = core.recall_ranker if core.weights["evidence_recall"] else None
    shares = evidence_shares([q.evidence for q in questions], [q.text for q in questions],
                             texts, sources.tolist(), ranker, core.rewards.evidence_k)
    for q, question, reply, (retention, recall) in zip(due, questions, replies, shares):
        if retention is not None:
            terms[i, kernel.T_EVIDENCE] += retention / row.n_evidence
            terms[i, kernel.T_RECALL] += (recall or 0.0) / row.n_evidence
        self.slot_hits[i, slots[[u for u in reply.used if u < len(slots)]]] += 1
        score = row.score(q, reply, question.answers, core.metric)
        terms[i, kernel.T_QA] += score / n_questions
        self.answered[i, q] = True
        self.qa_sum[i] += score
        self.qa_count[i] += 1
