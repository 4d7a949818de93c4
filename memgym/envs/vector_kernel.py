"""The batched env's step, compiled (numba): ops, ledger, reward terms and answering, one
loop over the envs.

The rules are those of :class:`memgym.envs.core.MemoryCore` for the ops the batched env
supports (noop, add, update, delete, evict); the observation and mask are the single env's
own kernel (:mod:`memgym.envs.observe_kernel`) over the chunk at each cursor, the answers the
compiled reader's (:mod:`memgym.rewards.reader_kernel`). ``tests/test_vector.py`` steps the
batched and the single env with the same actions and compares every output. Numpy array ops
over the batch cost ~290 us of call overhead per step whatever the batch size (issue #18's
profile); a compiled loop over the envs costs a few microseconds. Term columns come from
:data:`memgym.rewards.terms.TERMS`.
"""

from __future__ import annotations

import numba
import numpy as np

from memgym.envs.observe_kernel import ADD, CHUNK, DELETE, EVICT, NOOP, UPDATE, observe_rows
from memgym.rewards.reader_kernel import answer_memory, top_sources
from memgym.rewards.terms import TERMS

INVALID = -1  # the code of an action outside the layout
T_QA, T_SHAPING, T_MEMORY, T_COMPRESSION, T_OP_COST, T_INVALID, T_EVIDENCE, T_RECALL = (
    TERMS.index(t) for t in ("qa", "shaping", "memory_size", "compression", "op_cost", "invalid",
                             "evidence", "evidence_recall"))


@numba.njit(cache=True)
def _move_source(i, c, delta, sources_in, evidence_in, conflicts_in, evidence, conflict):
    """Presence of chunk ``c`` in env ``i``'s memory changes by ``delta`` (evidence ledger)."""
    before = sources_in[i, c]
    sources_in[i, c] = before + delta
    if (before == 0) != (before + delta == 0):
        for q in range(evidence_in.shape[1]):
            evidence_in[i, q] += delta * evidence[i, c, q]
            conflicts_in[i, q] += delta * conflict[i, c, q]


@numba.njit(cache=True)
def apply_ops(actions, mask, action_op, action_arg, action_tier, slot_tier, ops_per_chunk,
              op_cost, entry_capacity, archive_capacity,
              length, nonempty, tokens, hedged, count, ids, bow, evidence, conflict,
              slot_src, slot_entry, slot_created, slot_updated, slot_hits, slot_tokens,
              slot_hedged, slot_count, slot_ids, slot_bow, next_id, step_count, ops_used,
              archive_len, steps, cursor, done, prev_done, sources_in, evidence_in,
              conflicts_in, terms, valid, advance):
    """Run every env's action: ops, evidence ledger, op / invalid / memory-size terms.
    Sets ``valid`` and ``advance`` (the env moves past its chunk; the caller answers the
    questions due, then calls :func:`finish_step`)."""
    n_actions, n_slots = mask.shape[1], slot_src.shape[1]
    for i in range(actions.shape[0]):
        valid[i] = advance[i] = False
        if prev_done[i] or done[i]:
            continue
        a = actions[i]
        in_range = 0 <= a < n_actions
        op = action_op[a] if in_range else INVALID
        cur = min(cursor[i], max(length[i] - 1, 0))
        ok = in_range and mask[i, a] and ((op != ADD and op != UPDATE) or nonempty[i, cur])
        step_count[i] += 1
        steps[i] += 1
        if ok:
            slot = action_arg[a]
            if op == ADD:  # first free slot of the chosen tier (as SlotTable.free_slot)
                for k in range(n_slots):
                    if slot_src[i, k] < 0 and slot_tier[k] == action_tier[a]:
                        slot = k
                        break
            if op == UPDATE or op == DELETE or op == EVICT:
                _move_source(i, slot_src[i, slot], -1, sources_in, evidence_in, conflicts_in,
                             evidence, conflict)
            if op == DELETE or op == EVICT:
                slot_src[i, slot] = slot_entry[i, slot] = -1
                slot_ids[i, slot, :] = -1
                slot_created[i, slot] = slot_updated[i, slot] = 0
                slot_hits[i, slot] = slot_tokens[i, slot] = 0
                slot_hedged[i, slot] = slot_count[i, slot] = 0
                slot_bow[i, slot, :] = 0
                if op == EVICT:
                    archive_len[i] += 1
                    if archive_capacity >= 0:
                        archive_len[i] = min(archive_len[i], archive_capacity)
            elif op == ADD or op == UPDATE:
                slot_src[i, slot] = cur
                if op == ADD:
                    slot_entry[i, slot] = next_id[i]
                    next_id[i] += 1
                    slot_created[i, slot] = step_count[i]
                    slot_hits[i, slot] = 0
                slot_updated[i, slot] = step_count[i]
                slot_tokens[i, slot] = tokens[i, cur]
                slot_hedged[i, slot] = hedged[i, cur]
                slot_count[i, slot] = count[i, cur]
                slot_ids[i, slot, :] = ids[i, cur, :]
                slot_bow[i, slot, :] = bow[i, cur, :]
                _move_source(i, cur, 1, sources_in, evidence_in, conflicts_in, evidence,
                             conflict)
            terms[i, T_OP_COST] -= op_cost[op]
        else:
            terms[i, T_INVALID] -= 1.0
        valid[i] = ok
        ops_used[i] += 1
        if op == NOOP or ops_used[i] >= ops_per_chunk:
            used = 0
            for k in range(n_slots):
                used += slot_src[i, k] >= 0
            terms[i, T_MEMORY] -= used / entry_capacity / length[i]
            advance[i] = True


@numba.njit(cache=True)
def finish_step(advance, active, length, stream_tokens, slot_tokens, cursor, ops_used, done,
                evidence_in, conflicts_in, need, qmask, answered, n_questions, phi, terms):
    """Move the envs in ``advance`` past their chunk (done and compression at the end), then
    the potential-based shaping term of every active env (``phi`` updated in place)."""
    for i in range(advance.shape[0]):
        if advance[i]:
            cursor[i] += 1
            ops_used[i] = 0
            if cursor[i] >= length[i]:
                done[i] = True
                total = np.float32(0.0)  # float32 sum, as numpy sums slot_tokens
                for k in range(slot_tokens.shape[1]):
                    total += slot_tokens[i, k]
                if stream_tokens[i] > 0:
                    terms[i, T_COMPRESSION] += 1.0 - total / max(stream_tokens[i], 1.0)
        ready = 0.0
        for q in range(need.shape[1]):
            kept = evidence_in[i, q] / need[i, q] if need[i, q] > 0 else 1.0
            if qmask[i, q] and not answered[i, q]:
                ready += kept / (1.0 + conflicts_in[i, q])
        new_phi = ready / n_questions[i]
        terms[i, T_SHAPING] = new_phi - phi[i] if active[i] else 0.0
        phi[i] = new_phi


@numba.njit(cache=True)
def observe_batch(done, cursor, length, step_count, ops_used, ops_per_chunk, archive_len,
                  archive_scale, bow, count, tokens, hedged, ids, slot_entry, slot_created,
                  slot_updated, slot_hits, slot_tokens, slot_hedged, slot_count, slot_ids,
                  slot_bow, slot_tier, tier_entries, tier_token_cap, token_scale, token_shown,
                  age_table, action_code, action_arg, action_tier, view, slots, memory, mask):
    """The observation and mask of every env (:func:`observe_rows`): the chunk at each
    env's cursor is in view until its episode is over."""
    n, dim = slot_entry.shape[0], bow.shape[2]
    kind = np.zeros(n, dtype=np.int64)
    view_bow = np.zeros((n, dim), dtype=np.float32)
    view_count = np.zeros(n, dtype=np.float32)
    view_tokens = np.zeros(n, dtype=np.float32)
    view_hedged = np.zeros(n, dtype=np.float32)
    view_ids = np.full((n, 4), -1, dtype=np.int64)
    for i in range(n):
        if done[i]:
            continue
        c = min(cursor[i], max(length[i] - 1, 0))
        kind[i] = CHUNK
        for d in range(dim):
            view_bow[i, d] = bow[i, c, d]
        view_count[i], view_tokens[i], view_hedged[i] = count[i, c], tokens[i, c], hedged[i, c]
        view_ids[i, :] = ids[i, c, :]
    no_rereads = np.zeros(n, dtype=np.int64)  # reread is not a batched op
    observe_rows(kind, view_bow, view_count, view_tokens, view_hedged, view_ids, slot_entry,
                 slot_created, slot_updated, slot_hits, slot_tokens, slot_hedged, slot_count,
                 slot_ids, slot_bow, np.zeros(slot_entry.shape, dtype=np.bool_), step_count,
                 cursor, length, ops_used, ops_per_chunk, no_rereads, 1, archive_len,
                 archive_scale, slot_tier, tier_entries, tier_token_cap, token_scale,
                 token_shown, age_table, action_code, action_arg, action_tier, view, slots,
                 memory, mask)


@numba.njit(cache=True)
def credit_answers(env, scores, retention, recall, n_questions, n_evidence, evidence_terms,
                   terms, qa_sum, qa_count):
    """Add answer ``j``'s score (and, with ``evidence_terms``, its evidence retention and
    recall where it has evidence: not NaN) to env ``env[j]``'s terms and QA totals, in
    answer order."""
    for j in range(env.shape[0]):
        i = env[j]
        terms[i, T_QA] += scores[j] / n_questions[i]
        qa_sum[i] += scores[j]
        qa_count[i] += 1
        if evidence_terms and not np.isnan(retention[j]):
            terms[i, T_EVIDENCE] += retention[j] / n_evidence[i]
            terms[i, T_RECALL] += recall[j] / n_evidence[i]


@numba.njit(cache=True)
def _field(flat, offsets, i, f):
    """Field ``f`` of env ``i``'s packed reader tables (``ReaderTables.packed``)."""
    return flat[i, offsets[i, f]:offsets[i, f + 1]]


@numba.njit(cache=True)
def answer_due(envs, cursor, slot_src, slot_entry, slot_tier, tier_shown, use_times, top_k,
               max_branches, k1, b, idf, recall_k, flat, offsets, hop_stride, n_terms,
               evidence, need, evidence_in, slot_hits, answered, out_env, out_q, out_mode,
               out_ref, out_n_values, out_values, out_retention, out_recall):
    """Answer the questions due after the current chunk of every env in ``envs`` with the
    compiled BM25 reader (:func:`memgym.rewards.reader_kernel.answer_memory`) over the env's
    packed reader tables (``EpisodeBuffers.table_flat``): reader hits, answered flags,
    evidence retention and recall@``recall_k`` (0: not computed) per answer. Returns the
    number of answers written to the ``out_*`` arrays (the reader's codes)."""
    m = 0
    n_slots = slot_src.shape[1]
    for i in envs:
        held = np.empty(n_slots, dtype=np.int64)
        n = 0
        for k in range(n_slots):
            if slot_src[i, k] >= 0:
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
            _field(flat, offsets, i, 0), _field(flat, offsets, i, 1),
            _field(flat, offsets, i, 2), _field(flat, offsets, i, 3),
            _field(flat, offsets, i, 4), _field(flat, offsets, i, 5),
            _field(flat, offsets, i, 6), _field(flat, offsets, i, 7),
            _field(flat, offsets, i, 8), _field(flat, offsets, i, 9),
            _field(flat, offsets, i, 10), _field(flat, offsets, i, 11),
            _field(flat, offsets, i, 12), _field(flat, offsets, i, 13),
            _field(flat, offsets, i, 14), _field(flat, offsets, i, 15),
            _field(flat, offsets, i, 16), _field(flat, offsets, i, 17),
            _field(flat, offsets, i, 18), _field(flat, offsets, i, 19),
            _field(flat, offsets, i, 20))
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
                          hop_query, hop_key, hop_stride[i], n_terms[i], mode, ref, values,
                          n_values, used)
        top = np.full((n_q, max(recall_k, 1)), -1, dtype=np.int64)
        if n and recall_k > 0:
            top_sources(src, questions, recall_k, k1, b, idf[n], chunk_ptr, chunk_terms,
                        chunk_tf, chunk_len, text_rank, query_ptr, query_terms, query_tf,
                        n_terms[i], top)
        for j in range(n_q):
            q = questions[j]
            for e in range(n):
                if used[j, e]:
                    slot_hits[i, slots[e]] += 1
            answered[i, q] = True
            out_env[m], out_q[m], out_mode[m], out_ref[m] = i, q, mode[j], ref[j]
            out_n_values[m] = n_values[j]
            out_values[m, :n_values[j]] = values[j, :n_values[j]]
            out_retention[m] = out_recall[m] = np.nan  # no evidence ids: no evidence terms
            if need[i, q] > 0:
                out_retention[m] = evidence_in[i, q] / need[i, q]
                hits = 0.0
                for r in range(top.shape[1] if recall_k > 0 else 0):
                    chunk = top[j, r]
                    if chunk < 0 or not evidence[i, chunk, q]:
                        continue
                    first = True  # count each evidence chunk once (entries may repeat it)
                    for r2 in range(r):
                        first = first and top[j, r2] != chunk
                    hits += first
                out_recall[m] = hits / need[i, q]
            m += 1
    return m
