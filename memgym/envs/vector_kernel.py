"""The batched env's step, compiled (numba): ops, ledger, reward terms and answering, one
loop over the envs.

The rules are those of :class:`memgym.envs.core.MemoryCore` for every op of the structured
env (noop, add, update, delete, evict, route, reread, invalidate); the observation and mask
are the single env's own kernel (:mod:`memgym.envs.observe_kernel`) over the chunk in view
(:func:`view_chunks`), the answers the
compiled reader's (:mod:`memgym.rewards.reader_kernel`). ``tests/test_vector.py`` steps the
batched and the single env with the same actions and compares every output. Numpy array ops
over the batch cost ~290 us of call overhead per step whatever the batch size (issue #18's
profile); a compiled loop over the envs costs a few microseconds. Term columns come from
:data:`memgym.rewards.terms.TERMS`.
"""

from __future__ import annotations

import numba
import numpy as np

from memgym.envs.observe_kernel import (
    ADD, CHUNK, DELETE, EVICT, INVALIDATE, NONE, NOOP, RECALLED, REREAD, REREAD_SIMILAR, ROUTE,
    UPDATE, archive_rows, observe_rows,
)
from memgym.rewards.reader_kernel import answer_memory, top_sources
from memgym.rewards.reader_tables import ReaderTables
from memgym.rewards.score_kernel import score_code
from memgym.rewards.terms import TERMS

INVALID = -1  # the code of an action outside the layout
#: Where an episode's packed tables (``EpisodeBuffers.table_flat``) hold the answers' tokens
#: (``ScoreTables.ARRAYS``): after the reader tables and the due questions (due_ptr, due_ids).
SCORE_FIELD = len(ReaderTables.ARRAYS) + 2
(T_QA, T_SHAPING, T_MEMORY, T_COMPRESSION, T_OP_COST, T_INVALID, T_EVIDENCE, T_RECALL,
 T_RETRIEVAL) = (TERMS.index(t) for t in ("qa", "shaping", "memory_size", "compression",
                                          "op_cost", "invalid", "evidence", "evidence_recall",
                                          "retrieval"))


@numba.njit(cache=True)
def _move_source(i, r, c, delta, sources_in, evidence_in, conflicts_in, evidence, conflict):
    """Presence of chunk ``c`` in env ``i``'s memory changes by ``delta`` (evidence ledger);
    ``r``: the env's episode row."""
    before = sources_in[i, c]
    sources_in[i, c] = before + delta
    if (before == 0) != (before + delta == 0):
        for q in range(evidence_in.shape[1]):
            evidence_in[i, q] += delta * evidence[r, c, q]
            conflicts_in[i, q] += delta * conflict[r, c, q]


@numba.njit(cache=True)
def _clear_slot(i, k, slot_src, slot_entry, slot_created, slot_updated, slot_hits, slot_tokens,
                slot_hedged, slot_count, slot_ids, slot_bow, slot_invalid):
    slot_src[i, k] = slot_entry[i, k] = -1
    slot_ids[i, k, :] = -1
    slot_created[i, k] = slot_updated[i, k] = 0
    slot_hits[i, k] = slot_tokens[i, k] = 0
    slot_hedged[i, k] = slot_count[i, k] = 0
    slot_bow[i, k, :] = 0
    slot_invalid[i, k] = False


@numba.njit(cache=True)
def _free_slot(i, tier, slot_src, slot_tier):
    """The first free slot of ``tier`` (as ``SlotTable.free_slot``; the mask guarantees one)."""
    for k in range(slot_src.shape[1]):
        if slot_src[i, k] < 0 and slot_tier[k] == tier:
            return k
    return -1


@numba.njit(cache=True)
def _most_similar_past_chunk(r, c, bow):
    """The chunk before ``c`` sharing the most bag-of-words buckets with chunk ``c`` of
    episode row ``r`` (ties: the most recent), as the single env's ``reread similar``."""
    best, best_score = c - 1, -1
    for p in range(c - 1, -1, -1):
        score = 0
        for d in range(bow.shape[2]):
            score += bow[r, p, d] * bow[r, c, d]
        if score > best_score:
            best, best_score = p, score
    return best


@numba.njit(cache=True)
def apply_ops(actions, mask, action_op, action_arg, action_tier, slot_tier, ops_per_chunk,
              op_cost, reread_cost, entry_capacity, archive_capacity, episode_row,
              length, nonempty, tokens, hedged, count, ids, bow, evidence, conflict, has_due,
              slot_src, slot_entry, slot_created, slot_updated, slot_hits, slot_tokens,
              slot_hedged, slot_count, slot_ids, slot_bow, slot_invalid, next_id, step_count,
              ops_used, rereads_used, view_kind, view_src, archive_len, archive_src,
              archive_updated, steps, cursor, done, prev_done, sources_in, evidence_in,
              conflicts_in, terms, active, valid, advance, due_envs):
    """Run every env's action: ops, evidence ledger, op / invalid / retrieval / memory-size
    terms. Sets ``active`` (the env plays this step: not resetting, not over), ``valid`` and
    ``advance`` (the env moves past its chunk), and lists in ``due_envs`` the envs with
    questions due after that chunk; returns their number (the caller answers them, then
    calls :func:`finish_step`).

    A reread brings an archived entry's chunk or the most similar past chunk into view
    (``view_kind`` RECALLED, ``view_src``) for one op, which uses none of the chunk's ops;
    the view then returns to the chunk. ``archive_src`` must have room for one more entry.
    Env ``i`` plays row ``episode_row[i]`` of the episode arrays (``length`` ... ``conflict``)."""
    n_actions, n_due = mask.shape[1], 0
    for i in range(actions.shape[0]):
        valid[i] = advance[i] = False
        active[i] = not (prev_done[i] or done[i])
        if not active[i]:
            continue
        a, r = actions[i], episode_row[i]
        in_range = 0 <= a < n_actions
        op = action_op[a] if in_range else INVALID
        cur = min(cursor[i], max(length[r] - 1, 0))
        recalled = view_kind[i] == RECALLED
        src = view_src[i] if recalled else cur  # the chunk whose text is in view
        ok = in_range and mask[i, a] and ((op != ADD and op != UPDATE) or nonempty[r, src])
        step_count[i] += 1
        steps[i] += 1
        if ok:
            slot = action_arg[a]
            if op == ADD:
                slot = _free_slot(i, action_tier[a], slot_src, slot_tier)
            if (op == UPDATE or op == DELETE or op == EVICT or op == INVALIDATE) \
                    and not slot_invalid[i, slot]:  # an invalidated entry left the ledger
                _move_source(i, r, slot_src[i, slot], -1, sources_in, evidence_in, conflicts_in,
                             evidence, conflict)
            if op == EVICT and archive_capacity != 0:  # into the archive (-1: unbounded),
                if 0 < archive_capacity <= archive_len[i]:  # dropping the oldest when full
                    for e in range(1, archive_len[i]):
                        archive_src[i, e - 1] = archive_src[i, e]
                        archive_updated[i, e - 1] = archive_updated[i, e]
                    archive_len[i] -= 1
                archive_src[i, archive_len[i]] = slot_src[i, slot]
                archive_updated[i, archive_len[i]] = slot_updated[i, slot]
                archive_len[i] += 1
            if op == DELETE or op == EVICT:
                _clear_slot(i, slot, slot_src, slot_entry, slot_created, slot_updated,
                            slot_hits, slot_tokens, slot_hedged, slot_count, slot_ids,
                            slot_bow, slot_invalid)
            elif op == ADD or op == UPDATE:
                slot_src[i, slot] = src
                if op == ADD:
                    slot_entry[i, slot] = next_id[i]
                    next_id[i] += 1
                    slot_created[i, slot] = step_count[i]
                    slot_hits[i, slot] = 0
                slot_updated[i, slot] = step_count[i]
                slot_tokens[i, slot] = tokens[r, src]
                slot_hedged[i, slot] = hedged[r, src]
                slot_count[i, slot] = count[r, src]
                slot_ids[i, slot, :] = ids[r, src, :]
                slot_bow[i, slot, :] = bow[r, src, :]
                slot_invalid[i, slot] = False  # an update makes an invalidated entry valid
                _move_source(i, r, src, 1, sources_in, evidence_in, conflicts_in, evidence,
                             conflict)
            elif op == ROUTE:  # the entry moves to the first free slot of the tier, as is
                to = _free_slot(i, action_tier[a], slot_src, slot_tier)
                slot_src[i, to], slot_entry[i, to] = slot_src[i, slot], slot_entry[i, slot]
                slot_created[i, to], slot_updated[i, to] = (slot_created[i, slot],
                                                            slot_updated[i, slot])
                slot_hits[i, to], slot_tokens[i, to] = slot_hits[i, slot], slot_tokens[i, slot]
                slot_hedged[i, to], slot_count[i, to] = slot_hedged[i, slot], slot_count[i, slot]
                slot_ids[i, to, :] = slot_ids[i, slot, :]
                slot_bow[i, to, :] = slot_bow[i, slot, :]
                slot_invalid[i, to] = slot_invalid[i, slot]
                _clear_slot(i, slot, slot_src, slot_entry, slot_created, slot_updated,
                            slot_hits, slot_tokens, slot_hedged, slot_count, slot_ids,
                            slot_bow, slot_invalid)
            elif op == INVALIDATE:  # kept (room, tokens), no longer read
                slot_invalid[i, slot] = True
            elif op == REREAD or op == REREAD_SIMILAR:
                view_kind[i] = RECALLED
                view_src[i] = (archive_src[i, archive_len[i] - 1 - slot] if op == REREAD
                               else _most_similar_past_chunk(r, cur, bow))
                rereads_used[i] += 1
                terms[i, T_RETRIEVAL] -= reread_cost
            terms[i, T_OP_COST] -= op_cost[op]
        else:
            terms[i, T_INVALID] -= 1.0
        valid[i] = ok
        if recalled:  # the op on a recalled text: back to the chunk, its ops untouched
            view_kind[i] = CHUNK
        elif not (ok and (op == REREAD or op == REREAD_SIMILAR)):
            ops_used[i] += 1
            if op == NOOP or ops_used[i] >= ops_per_chunk:
                used = 0
                for k in range(slot_src.shape[1]):
                    used += slot_src[i, k] >= 0
                terms[i, T_MEMORY] -= used / entry_capacity / length[r]
                advance[i] = True
                if has_due[r, cur]:
                    due_envs[n_due] = i
                    n_due += 1
    return n_due


@numba.njit(cache=True)
def finish_step(advance, active, episode_row, length, stream_tokens, slot_tokens, cursor, ops_used,
                rereads_used, done, evidence_in, conflicts_in, need, qmask, answered,
                n_questions, phi, terms):
    """Move the envs in ``advance`` past their chunk (done and compression at the end), then
    the potential-based shaping term of every active env (``phi`` updated in place)."""
    for i in range(advance.shape[0]):
        r = episode_row[i]
        if advance[i]:
            cursor[i] += 1
            ops_used[i] = rereads_used[i] = 0
            if cursor[i] >= length[r]:
                done[i] = True
                total = np.float32(0.0)  # float32 sum, as numpy sums slot_tokens
                for k in range(slot_tokens.shape[1]):
                    total += slot_tokens[i, k]
                if stream_tokens[r] > 0:
                    terms[i, T_COMPRESSION] += 1.0 - total / max(stream_tokens[r], 1.0)
        ready = 0.0
        for q in range(need.shape[1]):
            kept = evidence_in[i, q] / need[r, q] if need[r, q] > 0 else 1.0
            if qmask[r, q] and not answered[i, q]:
                ready += kept / (1.0 + conflicts_in[i, q])
        new_phi = ready / n_questions[r]
        terms[i, T_SHAPING] = new_phi - phi[i] if active[i] else 0.0
        phi[i] = new_phi


@numba.njit(cache=True)
def settle(active, resetting, done, steps, max_steps, weights, terms, reward, terminated,
           truncated):
    """Weigh the terms in place, then every env's reward (the weighted terms summed in
    order, as the single env sums them; 0 for an env resetting this step), termination and
    truncation (``max_steps`` < 0: none)."""
    for i in range(terms.shape[0]):
        total = 0.0
        for j in range(terms.shape[1]):
            terms[i, j] *= weights[j]
            total += terms[i, j]
        reward[i] = 0.0 if resetting[i] else total
        terminated[i] = active[i] and done[i]
        truncated[i] = (max_steps >= 0 and active[i] and not terminated[i]
                        and steps[i] >= max_steps)


@numba.njit(cache=True)
def view_chunks(view_kind, view_src, cursor, episode_row, length):
    """The chunk whose text each env has in view: the one a reread recalled, else the chunk
    at its cursor (the last one once the stream is over)."""
    out = np.empty(cursor.shape[0], dtype=np.int64)
    for i in range(cursor.shape[0]):
        out[i] = (view_src[i] if view_kind[i] == RECALLED
                  else min(cursor[i], max(length[episode_row[i]] - 1, 0)))
    return out


@numba.njit(cache=True)
def observe_batch(done, view_kind, view_src, cursor, episode_row, length, step_count, ops_used,
                  ops_per_chunk, rereads_used, max_rereads, archive_len, archive_scale, archive_src,
                  archive_updated, bow, count, tokens, hedged, ids, slot_entry, slot_created,
                  slot_updated, slot_hits, slot_tokens, slot_hedged, slot_count, slot_ids, slot_bow,
                  slot_invalid, slot_tier, tier_entries, tier_token_cap, token_scale, token_shown,
                  age_table, action_code, action_arg, action_tier, view, slots, memory, mask,
                  archive):
    """The observation and mask of every env (:func:`observe_rows`, :func:`archive_rows`):
    the chunk at each env's cursor is in view (or the chunk a reread recalled) until its
    episode is over. ``archive`` may be zero-wide (no ``reread``)."""
    n, dim = slot_entry.shape[0], bow.shape[2]
    chunk = view_chunks(view_kind, view_src, cursor, episode_row, length)
    env_length = np.empty(n, dtype=np.int64)
    kind = np.zeros(n, dtype=np.int64)
    view_bow = np.zeros((n, dim), dtype=np.float32)
    view_count = np.zeros(n, dtype=np.float32)
    view_tokens = np.zeros(n, dtype=np.float32)
    view_hedged = np.zeros(n, dtype=np.float32)
    view_ids = np.full((n, 4), -1, dtype=np.int64)
    for i in range(n):
        r = episode_row[i]
        env_length[i] = length[r]
        if done[i]:
            continue
        kind[i] = view_kind[i]
        c = chunk[i]
        for d in range(dim):
            view_bow[i, d] = bow[r, c, d]
        view_count[i], view_tokens[i], view_hedged[i] = count[r, c], tokens[r, c], hedged[r, c]
        for j in range(4):
            view_ids[i, j] = ids[r, c, j]
    observe_rows(kind, view_bow, view_count, view_tokens, view_hedged, view_ids, slot_entry,
                 slot_created, slot_updated, slot_hits, slot_tokens, slot_hedged, slot_count,
                 slot_ids, slot_bow, slot_invalid, step_count, cursor, env_length, ops_used,
                 ops_per_chunk, rereads_used, max_rereads, archive_len, archive_scale,
                 slot_tier, tier_entries, tier_token_cap, token_scale, token_shown, age_table,
                 action_code, action_arg, action_tier, view, slots, memory, mask)
    if archive.shape[1]:
        archive_rows(kind, view_bow, view_count, view_ids, step_count, archive_len,
                     archive_src, archive_updated, episode_row, bow, count, ids, age_table,
                     archive)


@numba.njit(cache=True)
def credit_answers(env, scores, retention, recall, episode_row, n_questions, n_evidence,
                   evidence_terms, terms, qa_sum, qa_count):
    """Add answer ``j``'s score (and, with ``evidence_terms``, its evidence retention and
    recall where it has evidence: not NaN) to env ``env[j]``'s terms and QA totals, in
    answer order."""
    for j in range(env.shape[0]):
        i = env[j]
        r = episode_row[i]
        terms[i, T_QA] += scores[j] / n_questions[r]
        qa_sum[i] += scores[j]
        qa_count[i] += 1
        if evidence_terms and not np.isnan(retention[j]):
            terms[i, T_EVIDENCE] += retention[j] / n_evidence[r]
            terms[i, T_RECALL] += recall[j] / n_evidence[r]


@numba.njit(cache=True)
def _field(flat, offsets, r, f):
    """Field ``f`` of episode row ``r``'s packed reader tables (``ReaderTables.packed``)."""
    return flat[r, offsets[r, f]:offsets[r, f + 1]]


@numba.njit(cache=True)
def answer_due(envs, cursor, slot_src, slot_entry, slot_invalid, slot_tier, tier_shown,
               use_times, top_k, max_branches, k1, b, idf, recall_k, episode_row, flat,
               offsets, hop_stride, n_terms, evidence, need, evidence_in, slot_hits, answered,
               metric, out_env, out_q, out_mode, out_ref, out_n_values, out_values, out_score,
               out_retention, out_recall):
    """Answer the questions due after the current chunk of every env in ``envs`` with the
    compiled BM25 reader (:func:`memgym.rewards.reader_kernel.answer_memory`) over the env's
    packed reader tables (``EpisodeBuffers.table_flat``, row ``episode_row[i]``): reader
    hits, answered flags, evidence retention and recall@``recall_k`` (0: not computed) per
    answer, and the answer's score under metric code ``metric``
    (:func:`memgym.rewards.score_kernel.score_code`; NaN: the caller scores it). Returns
    the number of answers written to the ``out_*`` arrays (the reader's codes)."""
    m = 0
    n_slots = slot_src.shape[1]
    for i in envs:
        row = episode_row[i]
        held = np.empty(n_slots, dtype=np.int64)
        n = 0
        for k in range(n_slots):
            if slot_src[i, k] >= 0 and not slot_invalid[i, k]:  # what the reader reads
                held[n] = k
                n += 1
        slots = held[:n][np.argsort(slot_entry[i, held[:n]])]  # store order = entry id
        src = np.empty(n, dtype=np.int64)
        shown = np.empty(n, dtype=np.bool_)
        for e in range(n):
            src[e] = slot_src[i, slots[e]]
            shown[e] = tier_shown[slot_tier[slots[e]]]
        (chunk_ptr, chunk_terms, chunk_tf, chunk_len, text_rank, fact_key, fact_norm,
         fact_display, has_date, query_ptr, query_terms, query_tf, q_kind, q_first_query,
         q_first_key, q_attr_ptr, q_attrs, hop_query, hop_key, due_ptr, due_ids) = (
            _field(flat, offsets, row, 0), _field(flat, offsets, row, 1),
            _field(flat, offsets, row, 2), _field(flat, offsets, row, 3),
            _field(flat, offsets, row, 4), _field(flat, offsets, row, 5),
            _field(flat, offsets, row, 6), _field(flat, offsets, row, 7),
            _field(flat, offsets, row, 8), _field(flat, offsets, row, 9),
            _field(flat, offsets, row, 10), _field(flat, offsets, row, 11),
            _field(flat, offsets, row, 12), _field(flat, offsets, row, 13),
            _field(flat, offsets, row, 14), _field(flat, offsets, row, 15),
            _field(flat, offsets, row, 16), _field(flat, offsets, row, 17),
            _field(flat, offsets, row, 18), _field(flat, offsets, row, 19),
            _field(flat, offsets, row, 20))
        score_bounds = offsets[row, SCORE_FIELD:]  # then the answers' tokens
        questions = due_ids[due_ptr[cursor[i]]:due_ptr[cursor[i] + 1]]
        n_q = questions.shape[0]
        mode = np.zeros(n_q, dtype=np.int64)
        ref = np.full(n_q, -1, dtype=np.int64)
        n_values = np.zeros(n_q, dtype=np.int64)
        values = np.empty((n_q, max(n * max_branches, 1)), dtype=np.int64)
        used = np.zeros((n_q, n), dtype=np.bool_)
        if n:
            answer_memory(src, shown, src, use_times, questions, top_k, max_branches, k1, b,
                          idf[n], chunk_ptr, chunk_terms, chunk_tf, chunk_len, text_rank,
                          fact_key, fact_norm, fact_display, has_date, query_ptr, query_terms,
                          query_tf, q_kind, q_first_query, q_first_key, q_attr_ptr, q_attrs,
                          hop_query, hop_key, hop_stride[row], n_terms[row], mode, ref, values,
                          n_values, used)
        top = np.full((n_q, max(recall_k, 1)), -1, dtype=np.int64)
        if n and recall_k > 0:
            top_sources(src, questions, recall_k, k1, b, idf[n], chunk_ptr, chunk_terms,
                        chunk_tf, chunk_len, text_rank, query_ptr, query_terms, query_tf,
                        n_terms[row], top)
        for j in range(n_q):
            q = questions[j]
            for e in range(n):
                if used[j, e]:
                    slot_hits[i, slots[e]] += 1
            answered[i, q] = True
            out_env[m], out_q[m], out_mode[m], out_ref[m] = i, q, mode[j], ref[j]
            out_n_values[m] = n_values[j]
            out_values[m, :n_values[j]] = values[j, :n_values[j]]
            out_score[m] = score_code(metric, q, mode[j], ref[j], values[j], n_values[j],
                                      flat[row], score_bounds)
            out_retention[m] = out_recall[m] = np.nan  # no evidence ids: no evidence terms
            if need[row, q] > 0:
                out_retention[m] = evidence_in[i, q] / need[row, q]
                hits = 0.0
                for r in range(top.shape[1] if recall_k > 0 else 0):
                    chunk = top[j, r]
                    if chunk < 0 or not evidence[row, chunk, q]:
                        continue
                    first = True  # count each evidence chunk once (entries may repeat it)
                    for r2 in range(r):
                        first = first and top[j, r2] != chunk
                    hits += first
                out_recall[m] = hits / need[row, q]
            m += 1
    return m
