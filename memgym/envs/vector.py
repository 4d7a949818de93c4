"""The batched structured environment: many streams stepped with array ops, no loop per env."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from memgym.envs.episode_pool import cached
from memgym.envs.registration import VECTOR_OPS
from memgym.envs.structured import MemoryEnv
from memgym.envs.vector_episodes import EpisodeBuffers
from memgym.envs.vector_obs import batch_observation
from memgym.rewards.evidence import evidence_shares
from memgym.rewards.metrics import score_answer
from memgym.rewards.terms import TERMS

#: Op codes of the batched step (index into ``VECTOR_OPS``); -1 is an invalid action.
NOOP, ADD, UPDATE, DELETE, EVICT = range(len(VECTOR_OPS))
INVALID = -1
_TERM = {name: k for k, name in enumerate(TERMS)}


def _as_action(value: Any) -> int:
    """``int(value)`` as the single env reads an action, or -1 (invalid) when it cannot."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1


class MemoryVectorEnv(VectorEnv):
    """
    ## Description

    ``num_envs`` copies of :class:`memgym.envs.structured.MemoryEnv` in one object, the way
    Gymnasium's ``CartPoleVectorEnv`` batches CartPole: the memory of every env is a row of
    numpy arrays (slots x features), the chosen ops are applied to all envs with array ops,
    and Python work per env happens only at (auto)reset (episode generation, text features)
    and when questions fall due (the reader). Made by
    ``gym.make_vec(id, num_envs=64, vectorization_mode="vector_entry_point")``; with the
    same seeds it gives the same observations, rewards and masks as
    ``SyncVectorEnv`` over ``MemoryEnv`` (``tests/test_vector.py``).

    ## Action Space

    ``MultiDiscrete([n] * num_envs)``: one flat action per env, laid out as the single env's
    (``single_action_space``, :attr:`action_names`). Invalid actions are masked
    (:meth:`action_masks`, ``info["action_mask"]``); taken anyway they cost the ``invalid``
    penalty and leave memory unchanged.

    ## Observation Space

    The single env's ``Dict`` batched: every array gains a leading ``num_envs`` axis.

    ## Rewards

    As the single env; ``info["reward_terms"]`` maps each term to a ``(num_envs,)`` array.

    ## Episode End

    As the single env. Autoreset follows Gymnasium 1.x vector envs, ``NEXT_STEP``: the step
    after an env terminates resets it (its action is ignored, reward 0, not terminated).
    ``reset(options={"reset_mask": mask})`` resets only the envs in ``mask``.

    ## Arguments

    ``num_envs`` and the single env's arguments. Supported ops: noop, add, update, delete,
    evict; ``route``, ``reread`` and ``retrieval_tiers`` need per-env Python work and raise
    a ``ValueError`` (use ``vectorization_mode="sync"``). ``episode_options``: reset options
    (task parameters such as ``length``) applied to every episode, autoresets included.
    ``max_episode_steps``: optional truncation.

    ## Version History

    - v0: initial release.
    """

    metadata = {"render_modes": [], "autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(self, num_envs: int = 1, *, episode_options: dict[str, Any] | None = None,
                 max_episode_steps: int | None = None, **env_kwargs: Any) -> None:
        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        template = MemoryEnv(**env_kwargs)  # spaces, action layout, reader, reward weights
        core = template.core
        unsupported = [op for op in core.ops if op not in VECTOR_OPS]
        if unsupported or core.retrieval_tiers:
            key = f"ops {unsupported}" if unsupported else "retrieval_tiers"
            raise ValueError(f"{key}: not supported by the vector env (it supports "
                             f"{', '.join(VECTOR_OPS)}); use vectorization_mode='sync'")
        if template.text_features:  # embedding columns live in the single env only (for now)
            raise ValueError(f"features={template.features!r}: not supported by the vector "
                             "env (it computes the parser columns); use vectorization_mode='sync'")
        self.template, self.core = template, core
        self.num_envs, self.render_mode = num_envs, None
        self.episode_options = dict(episode_options or {})
        self.max_episode_steps = max_episode_steps
        self.single_observation_space = template.observation_space
        self.single_action_space = template.action_space
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self.action_names = template.action_names
        self._layout(template)
        self.buffers = EpisodeBuffers(num_envs, template.bow_dim)
        self._rngs = [seeding.np_random(None)[0] for _ in range(num_envs)]
        self._allocate_state()

    # -- layout --------------------------------------------------------------------------
    def _layout(self, t: MemoryEnv) -> None:
        code = {name: k for k, name in enumerate(VECTOR_OPS)}
        self.action_op = np.array([code[op] for op in t.action_ops], dtype=np.int64)
        self.action_arg = np.maximum(t.action_args, 0)  # slot for update / delete / evict
        self.action_tier = np.maximum(t.action_tiers, 0)  # tier for add
        self.n_actions = len(t.action_names)
        self.n_slots, self.n_tiers = t.n_slots, len(t.tier_names)
        self.slot_tier = t.slot_tier
        self.tier_onehot = np.eye(self.n_tiers, dtype=np.float32)[self.slot_tier]  # (S, T)
        self.tier_entries = t.tier_entries.astype(np.float64)
        self.tier_token_cap = t.tier_token_cap
        finite_cap = np.isfinite(self.tier_token_cap)
        self.token_scale = np.where(finite_cap, self.tier_token_cap, 1.0)
        self.token_shown = finite_cap.astype(np.float64)  # no token budget: fill shown as 0
        self.entry_capacity = self.core.entry_capacity
        self.archive_capacity = self.core.archive_capacity
        self.archive_scale = t._archive_scale
        self.cols = {op: t._op_index.get(op, np.zeros(0, dtype=np.int64)) for op in VECTOR_OPS}
        self.weights = np.array([self.core.weights[k] for k in TERMS])
        costs = self.core.rewards.op_costs
        self.op_cost = np.array([costs.get(op, 0.0) for op in VECTOR_OPS])
        self.always_shown = self.core.tiers.always_shown
        self.slot_bow_obs = t.slot_bow

    def _allocate_state(self) -> None:
        n, s, dim = self.num_envs, self.n_slots, self.template.bow_dim
        self.slot_src = np.full((n, s), -1, dtype=np.int64)  # chunk held, -1: free
        self.slot_entry = np.full((n, s), -1, dtype=np.int64)  # entry id (reader order)
        self.slot_created = np.zeros((n, s), dtype=np.int64)
        self.slot_updated = np.zeros((n, s), dtype=np.int64)
        self.slot_hits = np.zeros((n, s), dtype=np.float32)
        self.slot_tokens = np.zeros((n, s), dtype=np.float32)
        self.slot_hedged = np.zeros((n, s), dtype=np.float32)
        self.slot_count = np.zeros((n, s), dtype=np.float32)
        self.slot_ids = np.full((n, s, 4), -1, dtype=np.int64)
        self.slot_bow = np.zeros((n, s, dim), dtype=np.float32)
        for name in ("next_id", "step_count", "cursor", "ops_used", "archive_len", "steps"):
            setattr(self, name, np.zeros(n, dtype=np.int64))
        self.done = np.zeros(n, dtype=bool)
        self.prev_done = np.zeros(n, dtype=bool)
        self.sources_in = np.zeros((n, 1), dtype=np.int32)
        self.qa_sum = np.zeros(n)
        self.qa_count = np.zeros(n, dtype=np.int64)
        self.evidence_in = np.zeros((n, 0))
        self.conflicts_in = np.zeros((n, 0))
        self.answered = np.zeros((n, 0), dtype=bool)
        self.rows = np.arange(n)

    # -- reset ---------------------------------------------------------------------------
    def reset(self, *, seed: int | list[int] | None = None,
              options: dict[str, Any] | None = None) -> tuple[dict[str, np.ndarray], dict]:
        """Reset every env (or those in ``options["reset_mask"]``). ``seed`` seeds env ``i``
        with ``seed + i`` (or ``seed[i]``), as ``SyncVectorEnv`` does."""
        options = dict(options or {})
        mask = options.pop("reset_mask", None)
        envs = np.arange(self.num_envs) if mask is None else np.flatnonzero(mask)
        if seed is not None:
            seeds = seed if isinstance(seed, (list, tuple)) else [seed + i for i in envs]
            if len(seeds) != len(envs):
                raise ValueError(f"seed: {len(seeds)} seeds for {len(envs)} envs")
            for i, s in zip(envs, seeds):
                self._rngs[i] = seeding.np_random(int(s))[0]
            if mask is None:
                self._np_random, self._np_random_seed = seeding.np_random(int(seeds[0]))
        self._start(envs, {**self.episode_options, **options})
        return self._observation(), {"action_mask": self._mask, "_action_mask": self._all}

    def _start(self, envs: np.ndarray, options: dict[str, Any]) -> None:
        buffers, source, split = self.buffers, self.template.episodes, self.template.split
        dim = self.template.bow_dim
        for i in envs:  # per-episode Python work: generation + text features (cached in a pool)
            episode, key = source.draw(self._rngs[i], options, split)
            encoded = (buffers.encode(episode) if key is None else
                       cached(("vector", dim, key), lambda: buffers.encode(episode)))
            buffers.load(int(i), encoded)
        if self.sources_in.shape[1] < buffers.chunks:
            grown = np.zeros((self.num_envs, buffers.chunks), dtype=np.int32)
            grown[:, :self.sources_in.shape[1]] = self.sources_in
            self.sources_in = grown
        q = buffers.questions
        if self.answered.shape[1] < q:  # grow, keeping the envs mid-episode
            for name in ("evidence_in", "conflicts_in", "answered"):
                old = getattr(self, name)
                grown = np.zeros((self.num_envs, q), dtype=old.dtype)
                grown[:, :old.shape[1]] = old
                setattr(self, name, grown)
        for name in ("slot_src", "slot_entry"):
            getattr(self, name)[envs] = -1
        for name in ("slot_created", "slot_updated", "slot_hits", "slot_tokens", "slot_hedged",
                     "slot_count", "slot_bow", "next_id", "step_count", "cursor", "ops_used",
                     "archive_len", "steps", "sources_in", "qa_sum", "qa_count",
                     "evidence_in", "conflicts_in"):
            getattr(self, name)[envs] = 0
        self.slot_ids[envs] = -1
        self.answered[envs] = False
        self.done[envs] = buffers.length[envs] == 0
        self.prev_done[envs] = False
        self._phi = self._potential()
        self._all = np.ones(self.num_envs, dtype=bool)

    # -- step ----------------------------------------------------------------------------
    def step(self, actions: Any) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray,
                                          np.ndarray, dict[str, Any]]:
        a = np.asarray(actions).reshape(-1)
        if a.shape[0] != self.num_envs:
            raise ValueError(f"actions: expected {self.num_envs} actions, got {a.shape[0]}")
        try:
            a = a.astype(np.int64)
        except (TypeError, ValueError):  # rare path: unparsable entries become invalid ops
            a = np.array([_as_action(x) for x in a], dtype=np.int64)
        resetting = self.prev_done.copy()
        active = ~resetting & ~self.done
        in_range = (a >= 0) & (a < self.n_actions)
        a_safe = np.where(in_range, a, 0)
        op = np.where(in_range, self.action_op[a_safe], INVALID)
        cur = np.minimum(self.cursor, np.maximum(self.buffers.length - 1, 0))
        valid = active & in_range & self._mask[self.rows, a_safe]
        valid &= ((op != ADD) & (op != UPDATE)) | self.buffers.nonempty[self.rows, cur]
        terms = np.zeros((self.num_envs, len(TERMS)))
        self.step_count[active] += 1
        self.steps[active] += 1
        self._apply_ops(op, valid, cur, a_safe, terms)
        terms[:, _TERM["invalid"]] -= active & ~valid
        self.ops_used[active] += 1
        advance = active & ((op == NOOP) | (self.ops_used >= self.core.ops_per_chunk))
        if advance.any():
            self._advance(np.flatnonzero(advance), terms)
        phi = self._potential()
        terms[:, _TERM["shaping"]] = np.where(active, phi - self._phi, 0.0)
        self._phi = phi
        weighted = terms * self.weights
        reward = weighted.sum(axis=1)
        terminated = active & self.done
        truncated = np.zeros(self.num_envs, dtype=bool)
        if self.max_episode_steps is not None:
            truncated = active & ~terminated & (self.steps >= self.max_episode_steps)
        if resetting.any():  # NEXT_STEP autoreset: this step only resets those envs
            self._start(np.flatnonzero(resetting), dict(self.episode_options))
            reward[resetting] = 0.0
        self.prev_done = terminated | truncated
        obs = self._observation()
        info: dict[str, Any] = {
            "action_mask": self._mask, "_action_mask": self._all,
            "reward_terms": {k: weighted[:, j] for j, k in enumerate(TERMS)},
            "_reward_terms": active,
            "ok": valid, "_ok": active,
        }
        if terminated.any():
            info["qa_score"] = self.qa_sum / np.maximum(self.qa_count, 1)
            info["_qa_score"] = terminated
        return obs, reward.astype(np.float64), terminated, truncated, info

    def _apply_ops(self, op: np.ndarray, valid: np.ndarray, cur: np.ndarray,
                   a: np.ndarray, terms: np.ndarray) -> None:
        b = self.buffers
        slot = self.action_arg[a]
        add = valid & (op == ADD)
        if add.any():  # first free slot of the chosen tier (as SlotTable.free_slot)
            free = (self.slot_src < 0) & (self.slot_tier[None, :] == self.action_tier[a][:, None])
            slot = np.where(add, np.argmax(free, axis=1), slot)
        removed = valid & ((op == UPDATE) | (op == DELETE) | (op == EVICT))  # np.isin: 30 us
        if removed.any():
            e = np.flatnonzero(removed)
            self._move_source(e, self.slot_src[e, slot[e]], -1)
        cleared = valid & ((op == DELETE) | (op == EVICT))
        if cleared.any():
            e, k = np.flatnonzero(cleared), slot[cleared]
            self.slot_src[e, k] = self.slot_entry[e, k] = -1
            self.slot_ids[e, k] = -1
            for name in ("slot_created", "slot_updated", "slot_hits", "slot_tokens",
                         "slot_hedged", "slot_count", "slot_bow"):
                getattr(self, name)[e, k] = 0
            evicted = np.flatnonzero(valid & (op == EVICT))
            self.archive_len[evicted] += 1
            if self.archive_capacity is not None:
                np.minimum(self.archive_len, self.archive_capacity, out=self.archive_len)
        written = add | (valid & (op == UPDATE))
        if written.any():
            e, k, c = np.flatnonzero(written), slot[written], cur[written]
            new = add[e]
            self.slot_src[e, k] = c
            self.slot_entry[e[new], k[new]] = self.next_id[e[new]]
            self.next_id[e[new]] += 1
            self.slot_created[e[new], k[new]] = self.step_count[e[new]]
            self.slot_hits[e[new], k[new]] = 0.0
            self.slot_updated[e, k] = self.step_count[e]
            self.slot_tokens[e, k] = b.tokens[e, c]
            self.slot_hedged[e, k] = b.hedged[e, c]
            self.slot_count[e, k] = b.count[e, c]
            self.slot_ids[e, k] = b.ids[e, c]
            self.slot_bow[e, k] = b.bow[e, c]
            self._move_source(e, c, +1)
        terms[:, _TERM["op_cost"]] -= np.where(valid, self.op_cost[np.maximum(op, 0)], 0.0)

    def _move_source(self, envs: np.ndarray, sources: np.ndarray, delta: int) -> None:
        """Presence of chunk ``sources`` in memory changes by ``delta`` (evidence counts)."""
        before = self.sources_in[envs, sources]
        after = before + delta
        self.sources_in[envs, sources] = after
        flipped = (before == 0) != (after == 0)
        if flipped.any():
            e, c = envs[flipped], sources[flipped]
            self.evidence_in[e] += delta * self.buffers.evidence[e, c]
            self.conflicts_in[e] += delta * self.buffers.conflict[e, c]

    def _potential(self) -> np.ndarray:
        b = self.buffers
        kept = np.divide(self.evidence_in, b.need, out=np.ones_like(b.need), where=b.need > 0)
        ready = kept / (1.0 + self.conflicts_in) * (b.qmask & ~self.answered)
        return ready.sum(axis=1) / b.n_questions

    def _advance(self, envs: np.ndarray, terms: np.ndarray) -> None:
        b = self.buffers
        used = (self.slot_src[envs] >= 0).sum(axis=1)
        terms[envs, _TERM["memory_size"]] -= used / self.entry_capacity / b.length[envs]
        due = envs[b.has_due[envs, self.cursor[envs]]]
        for i in due:  # the reader is Python: only envs with questions due pay for it
            self._answer(int(i), terms)
        self.cursor[envs] += 1
        self.ops_used[envs] = 0
        finished = envs[self.cursor[envs] >= b.length[envs]]
        if len(finished):
            self.done[finished] = True
            total = self.slot_tokens[finished].sum(axis=1).astype(np.float64)
            stream = b.stream_tokens[finished]
            terms[finished, _TERM["compression"]] += np.where(
                stream > 0, 1.0 - total / np.maximum(stream, 1.0), 0.0)

    def _answer(self, i: int, terms: np.ndarray) -> None:
        row, core = self.buffers.rows[i], self.core
        occupied = np.flatnonzero(self.slot_src[i] >= 0)
        slots = occupied[np.argsort(self.slot_entry[i, occupied])]  # store order = entry id
        texts = [row.texts[c] for c in self.slot_src[i, slots]]
        shown = [j for j, k in enumerate(slots) if self.always_shown[self.slot_tier[k]]]
        due = row.due[int(self.cursor[i])]
        questions = [row.episode.questions[q] for q in due]
        replies = core.reader.answer_all([q.text for q in questions], texts, shown)
        n_questions = self.buffers.n_questions[i]
        # Recall ranks memory once more: skipped when its weight is 0 (its term is then 0).
        ranker = core.recall_ranker if core.weights["evidence_recall"] else None
        shares = evidence_shares([q.evidence for q in questions], [q.text for q in questions],
                                 texts, self.slot_src[i, slots].tolist(), ranker,
                                 core.rewards.evidence_k)
        n_evidence = max(sum(bool(q.evidence) for q in row.episode.questions), 1)
        for q, question, reply, (retention, recall) in zip(due, questions, replies, shares):
            if retention is not None:
                terms[i, _TERM["evidence"]] += retention / n_evidence
                terms[i, _TERM["evidence_recall"]] += (recall or 0.0) / n_evidence
            for used in reply.used:
                if used < len(slots):
                    self.slot_hits[i, slots[used]] += 1
            score = score_answer(reply, question.answers, core.metric)
            terms[i, _TERM["qa"]] += score / n_questions
            self.answered[i, q] = True
            self.qa_sum[i] += score
            self.qa_count[i] += 1

    # -- observation and masks (memgym.envs.vector_obs) --------------------------------
    def _observation(self) -> dict[str, np.ndarray]:
        obs, self._mask = batch_observation(self)
        return obs

    def action_masks(self) -> np.ndarray:
        """Valid actions of every env now, ``(num_envs, n)`` (sb3-contrib reads this)."""
        return self._mask.copy()

    def memory_bytes(self) -> int:
        """Bytes of array state held for all envs (episode buffers + memory slots)."""
        state = sum(v.nbytes for v in self.__dict__.values() if isinstance(v, np.ndarray))
        return state + self.buffers.nbytes()


if __name__ == "__main__":  # python -m memgym.envs.vector [ENV_ID] [--num-envs 64]
    from memgym.envs.speed import main

    main(vector=True)
