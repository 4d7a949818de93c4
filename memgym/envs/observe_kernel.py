"""The structured observation and the action mask, compiled once for both envs.

One definition of the ``view`` / ``slots`` / ``memory`` columns and of which actions are
valid, read by the single env (:class:`memgym.envs.structured.MemoryEnv`, a batch of one)
and the batched env (:class:`memgym.envs.vector.MemoryVectorEnv`). Column positions come from
the tables in :mod:`memgym.envs.features`, op codes from
:data:`memgym.envs.action_layout.ACTION_OPS`, view kinds from :data:`VIEW_KINDS`; nothing is
a hard-coded offset. ``tests/test_vector.py`` steps both envs with the same actions and
compares every output.
"""

from __future__ import annotations

import numba
import numpy as np

from memgym.envs.action_layout import ACTION_OPS
from memgym.envs.features import ARCHIVE_FEATURES, SLOT_FEATURES, TOKEN_SCALE, VIEW_FEATURES

#: What can be in view (``View.kind`` of :mod:`memgym.envs.core`), coded for the kernel.
VIEW_KINDS: tuple[str, ...] = ("none", "chunk", "recalled", "question")
NONE, CHUNK, RECALLED, QUESTION = range(len(VIEW_KINDS))
(NOOP, ADD, UPDATE, DELETE, EVICT, INVALIDATE, ROUTE, REREAD, REREAD_SIMILAR,
 ANSWER) = (ACTION_OPS.index(op) for op in (
    "noop", "add", "update", "delete", "evict", "invalidate", "route", "reread",
    "reread_similar", "answer"))
S_OCC, S_AGE, S_SINCE, S_HITS, S_TOKENS, S_HEDGED, S_KEY, S_JACCARD = (
    SLOT_FEATURES.index(c) for c in ("occupied", "age", "since_update", "hits", "tokens",
                                     "hedged", "same_key", "jaccard"))
V_TOKENS, V_FACT, V_HEDGED, V_RECALLED, V_QUESTION = (
    VIEW_FEATURES.index(c) for c in ("tokens", "has_fact", "hedged", "is_recalled",
                                     "is_question"))
N_SLOT_FEATURES = len(SLOT_FEATURES)
A_PRESENT, A_KEY, A_JACCARD, A_AGE = (
    ARCHIVE_FEATURES.index(c) for c in ("present", "same_key", "jaccard", "age"))


@numba.njit(cache=True)
def observe_rows(view_kind, view_bow, view_count, view_tokens, view_hedged, view_ids,
                 slot_entry, slot_created, slot_updated, slot_hits, slot_tokens, slot_hedged,
                 slot_count, slot_ids, slot_bow, slot_invalid, step_count, cursor, length,
                 ops_used, ops_per_chunk, rereads_used, max_rereads, archive_len,
                 archive_scale, slot_tier, tier_entries, tier_token_cap, token_scale,
                 token_shown, age_table, action_code, action_arg, action_tier, view, slots,
                 memory, mask):
    """Fill row ``i`` of ``view`` / ``slots`` / ``memory`` / ``mask`` for every env ``i``.

    Per env: what is in view (kind, features), the memory slots (``slot_entry`` -1: free),
    the counters of the step. Nothing in view (the episode is over): zeros, and only the
    first action (noop) valid; a question in view: only ``answer`` rows valid."""
    n, n_slots = slot_entry.shape[0], slot_entry.shape[1]
    dim, n_tiers = view_bow.shape[1], tier_entries.shape[0]
    top_age = age_table.shape[0] - 1
    used = np.zeros(n_tiers)
    used_tokens = np.zeros(n_tiers, dtype=np.float32)
    # Element loops, not slices: a slice in a compiled loop is a new array view with its
    # reference count kept atomically, which cost more than the observation itself.
    for i in range(n):
        kind = view_kind[i]
        in_view = kind != NONE
        for u in range(view.shape[1]):
            view[i, u] = 0
        for k in range(n_slots):
            for u in range(slots.shape[2]):
                slots[i, k, u] = 0
        if in_view:
            for d in range(dim):
                view[i, d] = view_bow[i, d]
            view[i, dim + V_TOKENS] = min(view_tokens[i] / TOKEN_SCALE, 1.0)
            view[i, dim + V_FACT] = view_ids[i, 0] >= 0
            view[i, dim + V_HEDGED] = view_hedged[i]
            view[i, dim + V_RECALLED] = kind == RECALLED
            view[i, dim + V_QUESTION] = kind == QUESTION
        for t in range(n_tiers):
            used[t] = used_tokens[t] = 0
        for k in range(n_slots):
            slots[i, k, N_SLOT_FEATURES + slot_tier[k]] = 1.0
            if slot_entry[i, k] < 0:
                continue
            used[slot_tier[k]] += 1
            used_tokens[slot_tier[k]] += slot_tokens[i, k]
            slots[i, k, S_OCC] = 1.0
            slots[i, k, S_AGE] = age_table[int(min(step_count[i] - slot_created[i, k],
                                                   top_age))]
            slots[i, k, S_SINCE] = age_table[int(min(step_count[i] - slot_updated[i, k],
                                                     top_age))]
            slots[i, k, S_HITS] = min(slot_hits[i, k] / 4.0, 1.0)
            slots[i, k, S_TOKENS] = min(slot_tokens[i, k] / TOKEN_SCALE, 1.0)
            slots[i, k, S_HEDGED] = slot_hedged[i, k]
            if in_view:
                for j in range(4):  # same key / subject / attribute / value as the view
                    v = view_ids[i, j]
                    slots[i, k, S_KEY + j] = v >= 0 and slot_ids[i, k, j] == v
                inter = np.float32(0.0)  # float32 throughout, as numpy computes it
                for d in range(dim):
                    inter += slot_bow[i, k, d] * np.float32(view_bow[i, d])
                union = slot_count[i, k] + np.float32(view_count[i]) - inter
                slots[i, k, S_JACCARD] = inter / union if union > 0 else 0.0
        for t in range(n_tiers):
            memory[i, t] = used[t] / tier_entries[t]
            memory[i, n_tiers + t] = min(used_tokens[t] / token_scale[t], 1.0) * token_shown[t]
        memory[i, 2 * n_tiers] = min(archive_len[i] / archive_scale, 1.0)
        memory[i, 2 * n_tiers + 1] = cursor[i] / max(length[i], 1)
        memory[i, 2 * n_tiers + 2] = 1.0 - ops_used[i] / ops_per_chunk
        memory[i, 2 * n_tiers + 3] = 1.0 - min(rereads_used[i] / max(max_rereads, 1), 1.0)
        tokens_in_view = np.float32(view_tokens[i])
        reread_ok = kind == CHUNK and rereads_used[i] < max_rereads
        for a in range(action_code.shape[0]):
            code, k, t = action_code[a], action_arg[a], action_tier[a]
            if not in_view:
                ok = a == 0  # never all-False: masked samplers need one valid action
            elif kind == QUESTION:
                ok = code == ANSWER
            elif code == NOOP:
                ok = True
            elif code == ADD:
                ok = used[t] < tier_entries[t] and \
                    used_tokens[t] + tokens_in_view <= tier_token_cap[t]
            elif code == UPDATE:
                tk = slot_tier[k]
                ok = slot_entry[i, k] >= 0 and \
                    used_tokens[tk] - slot_tokens[i, k] + tokens_in_view <= tier_token_cap[tk]
            elif code == DELETE or code == EVICT:
                ok = slot_entry[i, k] >= 0
            elif code == INVALIDATE:
                ok = slot_entry[i, k] >= 0 and not slot_invalid[i, k]
            elif code == ROUTE:
                ok = slot_entry[i, k] >= 0 and slot_tier[k] != t and used[t] < tier_entries[t] \
                    and used_tokens[t] + slot_tokens[i, k] <= tier_token_cap[t]
            elif code == REREAD:
                ok = reread_ok and k < archive_len[i]
            elif code == REREAD_SIMILAR:
                ok = reread_ok and cursor[i] > 0
            else:  # answer (only with a question in view) and a recipe's own ops (code -1)
                ok = False
            mask[i, a] = ok


@numba.njit(cache=True)
def archive_rows(view_kind, view_bow, view_count, view_ids, step_count, archive_len,
                 archive_src, archive_updated, episode_row, bow, count, ids, age_table, out):
    """Row ``i`` of the ``archive`` observation (``archive_view`` x ARCHIVE_FEATURES): env
    ``i``'s most recently archived entries first (``archive_src``: the chunk each holds, in
    archiving order, a chunk of episode row ``episode_row[i]`` of ``bow`` / ``count`` /
    ``ids``; ``archive_updated``: the step of its last write), related to the view as the
    slots are. Nothing in view: zeros."""
    top_age = age_table.shape[0] - 1
    dim = view_bow.shape[1]
    for i in range(out.shape[0]):
        out[i, :, :] = 0
        if view_kind[i] == NONE:
            continue
        for j in range(min(archive_len[i], out.shape[1])):
            e, r = archive_len[i] - 1 - j, episode_row[i]
            c = archive_src[i, e]
            out[i, j, A_PRESENT] = 1.0
            out[i, j, A_KEY] = view_ids[i, 0] >= 0 and ids[r, c, 0] == view_ids[i, 0]
            inter = np.float32(0.0)  # float32, as numpy computes the slots' Jaccard
            for d in range(dim):
                inter += np.float32(bow[r, c, d]) * np.float32(view_bow[i, d])
            union = np.float32(count[r, c]) + np.float32(view_count[i]) - inter
            out[i, j, A_JACCARD] = inter / union if union > 0 else 0.0
            out[i, j, A_AGE] = age_table[int(min(step_count[i] - archive_updated[i, e],
                                                 top_age))]
