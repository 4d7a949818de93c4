"""Observation and action mask of the batched env, computed for every env with array ops.

Mirrors :meth:`memgym.envs.structured.MemoryEnv._observation` and ``compute_action_mask`` column
for column (``tests/test_vector.py`` checks equality with the single env).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from memgym.envs.features import TOKEN_SCALE
from memgym.envs.structured import AGE_TABLE


def batch_observation(env: Any) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The batch's observation and action mask from the env's arrays (no loop per env)."""
    b, rows = env.buffers, env.rows
    n, dim = env.num_envs, env.template.bow_dim
    in_view = ~env.done  # a chunk is in view until the episode is over
    cur = np.minimum(env.cursor, np.maximum(b.length - 1, 0))
    view_bow = b.bow[rows, cur].astype(np.float32) * in_view[:, None]
    view_tokens = np.where(in_view, b.tokens[rows, cur], 0.0).astype(np.float32)
    view_ids = np.where(in_view[:, None], b.ids[rows, cur], -1)
    view = np.zeros((n, dim + 5), dtype=np.float32)
    view[:, :dim] = view_bow
    view[:, dim] = np.minimum(view_tokens / TOKEN_SCALE, 1.0)
    view[:, dim + 1] = view_ids[:, 0] >= 0
    view[:, dim + 2] = b.hedged[rows, cur] * in_view
    occupied = env.slot_src >= 0
    occ = occupied.astype(np.float32)
    slots = np.zeros((n, env.n_slots, 11 + env.n_tiers), dtype=np.float32)
    step = env.step_count[:, None]
    slots[..., 0] = occ
    slots[..., 1] = AGE_TABLE[np.minimum(step - env.slot_created, AGE_TABLE.size - 1)] * occ
    slots[..., 2] = AGE_TABLE[np.minimum(step - env.slot_updated, AGE_TABLE.size - 1)] * occ
    slots[..., 3] = np.minimum(env.slot_hits / 4.0, 1.0)
    slots[..., 4] = np.minimum(env.slot_tokens / TOKEN_SCALE, 1.0)
    slots[..., 5] = env.slot_hedged
    same = (env.slot_ids == view_ids[:, None, :]) & (view_ids[:, None, :] >= 0)
    slots[..., 6:10] = same & occupied[..., None]
    inter = np.einsum("nsd,nd->ns", env.slot_bow, view_bow)
    union = env.slot_count + b.count[rows, cur][:, None] * in_view[:, None] - inter
    jaccard = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    slots[..., 10] = jaccard * occupied
    slots[..., 11:] = env.tier_onehot
    tier_used = occ @ env.tier_onehot  # (n, T) entries per tier
    tier_tokens = env.slot_tokens @ env.tier_onehot
    progress = env.cursor / np.maximum(b.length, 1)
    memory = np.concatenate([
        tier_used / env.tier_entries,
        np.minimum(tier_tokens / env.token_scale, 1.0) * env.token_shown,
        np.minimum(env.archive_len / env.archive_scale, 1.0)[:, None],
        progress[:, None],
        (1.0 - env.ops_used / env.core.ops_per_chunk)[:, None],
        np.ones((n, 1)),  # rereads left: reread is not a vector op
    ], axis=1).astype(np.float32)
    mask = batch_mask(env, occupied, tier_used, tier_tokens, view_tokens)
    obs = {"view": view, "slots": slots, "memory": memory}
    if env.slot_bow_obs:
        obs["slot_bow"] = env.slot_bow.copy()
    return obs, mask


def batch_mask(env: Any, occupied: np.ndarray, used: np.ndarray, used_tokens: np.ndarray,
               view_tokens: np.ndarray) -> np.ndarray:
    """Valid actions per env, as ``MemoryEnv.compute_action_mask`` (a finished env: noop only)."""
    mask = np.zeros((env.num_envs, env.n_actions), dtype=bool)
    mask[:, 0] = True
    live = ~env.done[:, None]
    fits_new = (used < env.tier_entries) & (
        used_tokens + view_tokens[:, None] <= env.tier_token_cap)
    cols = env.cols
    if len(cols["add"]):
        mask[:, cols["add"]] = fits_new[:, env.action_tier[cols["add"]]] & live
    if len(cols["update"]):
        tier_of = env.slot_tier
        fits = (used_tokens[:, tier_of] - env.slot_tokens + view_tokens[:, None]
                <= env.tier_token_cap[tier_of])
        mask[:, cols["update"]] = (occupied & fits & live)[:, env.action_arg[cols["update"]]]
    for op in ("delete", "evict"):
        if len(cols[op]):
            mask[:, cols[op]] = (occupied & live)[:, env.action_arg[cols[op]]]
    return mask
