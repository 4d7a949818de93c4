"""The batched structured environment: many streams stepped with array ops, no loop per env."""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from memgym.envs import vector_kernel as kernel
from memgym.envs.action_layout import ACTION_OPS
from memgym.envs.features import ARCHIVE_FEATURES
from memgym.envs.observe_kernel import CHUNK
from memgym.envs.episode_pool import cached
from memgym.envs.structured import AGE_TABLE, MemoryEnv
from memgym.envs.text_kernel import observe_text, sync_similarity
from memgym.envs.vector_answers import answer_compiled, answer_python
from memgym.envs.vector_episodes import POOL_ROWS, EpisodeBuffers, encode_episode, widened
from memgym.rewards.reader import BM25Reader, _lucene_idf
from memgym.rewards.score_kernel import metric_code
from memgym.rewards.terms import TERMS


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
    numpy arrays (slots x features), and the step (ops, evidence ledger, reward terms,
    observation, mask) is one compiled loop over the envs (:mod:`memgym.envs.vector_kernel`).
    With the default BM25 reader, the questions that fall due are answered and scored in
    compiled code too (:mod:`memgym.rewards.reader_kernel`,
    :mod:`memgym.rewards.score_kernel`, from tables built once per episode); Python work
    per env happens at (auto)reset (episode generation, encoding; none for a pooled episode
    already encoded) and for the answers the kernel does not score (yes / no questions,
    ``locomo_f1``: one dictionary lookup per answer once seen). Made by
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

    ``num_envs`` and the single env's arguments: every op and feature set (text features:
    :mod:`memgym.envs.text_kernel`); ``retrieval_tiers`` needs per-env Python work (retrieval
    readers) and raises a ``ValueError`` (use ``vectorization_mode="sync"``).
    ``episode_options``: reset options (task parameters such as ``length``) applied to
    every episode, autoresets included. ``max_episode_steps``: optional truncation.

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
        if core.retrieval_tiers:  # a question in view: per-env Python (retrieval readers)
            raise ValueError("retrieval_tiers: not supported by the vector env; use "
                             "vectorization_mode='sync'")
        self.template, self.core = template, core
        self.num_envs, self.render_mode = num_envs, None
        self.episode_options = dict(episode_options or {})
        self.max_episode_steps = max_episode_steps
        self._max_steps = -1 if max_episode_steps is None else int(max_episode_steps)
        self.single_observation_space = template.observation_space
        self.single_action_space = template.action_space
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self.action_names = template.action_names
        self._layout(template)
        # text features: the chunks' embeddings come with each episode (persisted to disk
        # for data files, as the single env does)
        self.text = ((bool(getattr(template.task, "cache_embeddings", False)),
                      template.embedding_model) if template.text_features else None)
        pool = template.episodes.pool  # pooled episodes get rows of their own, not copies
        self.buffers = EpisodeBuffers(
            num_envs, template.bow_dim, reader_tables=self.compiled_reader,
            parse=template.parse_facts, text=self.text,
            text_dim=template._text_dim if template.text_features else 0,
            pool_rows=min(pool or 0, POOL_ROWS))
        self._rngs = [seeding.np_random(None)[0] for _ in range(num_envs)]
        self._allocate_state()

    # -- layout --------------------------------------------------------------------------
    def _layout(self, t: MemoryEnv) -> None:
        self.action_op = t.action_codes  # ACTION_OPS codes
        self.action_arg = np.maximum(t.action_args, 0)  # slot (update, ...), archive index
        self.action_tier = np.maximum(t.action_tiers, 0)  # tier for add / route
        self.n_actions = len(t.action_names)
        self.n_slots, self.n_tiers = t.n_slots, len(t.tier_names)
        self.slot_tier = t.slot_tier
        self.tier_entries = t.tier_entries.astype(np.float64)
        self.tier_token_cap = t.tier_token_cap
        finite_cap = np.isfinite(self.tier_token_cap)
        self.token_scale = np.where(finite_cap, self.tier_token_cap, 1.0)
        self.token_shown = finite_cap.astype(np.float64)  # no token budget: fill shown as 0
        self.entry_capacity = self.core.entry_capacity
        self.archive_capacity = self.core.archive_capacity
        self.archive_cap = -1 if self.archive_capacity is None else self.archive_capacity
        self.archive_scale = t._archive_scale
        self.weights = np.array([self.core.weights[k] for k in TERMS])
        costs = self.core.rewards.op_costs  # both reread rows cost what "reread" costs
        self.op_cost = np.array([costs.get("reread" if op == "reread_similar" else op, 0.0)
                                 for op in ACTION_OPS])
        self.reread_cost = float(self.core.rewards.reread_cost)
        self.max_rereads = self.core.max_rereads_per_chunk
        self.archive_view = t.archive_view
        self.invalidate_obs = "invalidate" in self.core.ops
        self.always_shown = np.asarray(self.core.tiers.always_shown, dtype=bool)
        self.slot_bow_obs = t.slot_bow
        self.reader = self.core.reader
        # The compiled reader answers for the BM25 reader (the default); others run as is.
        self.compiled_reader = type(self.reader) is BM25Reader
        self._metric_code = metric_code(self.core.metric)  # -1: scored in Python
        self.evidence_weights = bool(self.core.weights["evidence"]
                                     or self.core.weights["evidence_recall"])
        # recall@k ranks memory once more: skipped (0) when its weight is 0 (its term is 0)
        self._recall_k = self.core.rewards.evidence_k if self.core.weights["evidence_recall"] else 0
        # Lucene idf by document frequency for every memory size (row n: n entries)
        self._idf = np.zeros((self.n_slots + 1, self.n_slots + 1), dtype=np.float32)
        for n in range(1, self.n_slots + 1):
            self._idf[n, :n + 1] = _lucene_idf(n)

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
        self.slot_invalid = np.zeros((n, s), dtype=bool)  # kept, no longer read (invalidate)
        for name in ("next_id", "step_count", "cursor", "ops_used", "rereads_used",
                     "archive_len", "steps", "view_src"):
            setattr(self, name, np.zeros(n, dtype=np.int64))
        self.view_kind = np.full(n, CHUNK, dtype=np.int64)  # or RECALLED (after a reread)
        # the chunk each archived entry holds and its last write, in archiving order (grown
        # as needed when the archive is unbounded)
        width = max(self.archive_cap, 1) if self.archive_cap >= 0 else 16
        self.archive_src = np.zeros((n, width), dtype=np.int64)
        self.archive_updated = np.zeros((n, width), dtype=np.int64)
        self.done = np.zeros(n, dtype=bool)
        self.prev_done = np.zeros(n, dtype=bool)
        self._advance = np.zeros(n, dtype=bool)  # set by every step (apply_ops)
        self._due_envs = np.zeros(n, dtype=np.int64)
        self.sources_in = np.zeros((n, 1), dtype=np.int32)
        self.qa_sum = np.zeros(n)
        self.qa_count = np.zeros(n, dtype=np.int64)
        self.evidence_in = np.zeros((n, 0))
        self.conflicts_in = np.zeros((n, 0))
        self.answered = np.zeros((n, 0), dtype=bool)
        self._phi = np.zeros(n)
        space = self.single_observation_space
        # the kernels write every element of the observation: new arrays each step, no copy
        self._obs_shapes = {key: (n, *space[key].shape) for key in space}
        self._obs_shapes["archive"] = (n, self.archive_view, len(ARCHIVE_FEATURES))
        if self.text is not None:  # slot-slot cosines, kept across steps (text_kernel)
            self.text_seen = np.full((n, s), -1, dtype=np.int64)
            self.text_similarity = np.zeros((n, s, s), dtype=np.float32)

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
        # Fresh streams: the encoding runs where the episode is made (a prefetching worker
        # with prefetch_workers); pooled ones are encoded once and cached by their key.
        prepare = (partial(encode_episode, dim=dim, reader_tables=buffers.reader_tables,
                           parse=buffers.parse, text=buffers.text)
                   if source.pool is None else None)
        cache_key = ("vector", dim, buffers.reader_tables, buffers.parse, buffers.text)
        for i in envs.tolist():  # per-episode Python work: generation + encoding
            episode, key, encoded = source.draw(self._rngs[i], options, split, prepare)
            if buffers.pooled(i, key):  # a pooled episode already in its row
                continue
            if encoded is None:
                encoded = (buffers.encode(episode) if key is None else
                           cached((*cache_key, key), lambda: buffers.encode(episode)))
            buffers.load(i, encoded, key)
        if self.sources_in.shape[1] < buffers.chunks:  # grow, keeping envs mid-episode
            self.sources_in = widened(self.sources_in, buffers.chunks)
        if self.answered.shape[1] < buffers.questions:
            for name in ("evidence_in", "conflicts_in", "answered"):
                setattr(self, name, widened(getattr(self, name), buffers.questions))
        for name in ("slot_src", "slot_entry"):
            getattr(self, name)[envs] = -1
        for name in ("slot_created", "slot_updated", "slot_hits", "slot_tokens", "slot_hedged",
                     "slot_count", "slot_bow", "slot_invalid", "next_id", "step_count",
                     "cursor", "ops_used", "rereads_used", "archive_len", "steps", "view_src",
                     "sources_in", "qa_sum", "qa_count", "evidence_in", "conflicts_in"):
            getattr(self, name)[envs] = 0
        self.view_kind[envs] = CHUNK
        self.slot_ids[envs] = -1
        if self.text is not None:
            self.text_seen[envs] = -1
            self.text_similarity[envs] = 0.0
        self.answered[envs] = False
        self.done[envs] = buffers.length[buffers.episode_row[envs]] == 0
        self.prev_done[envs] = False
        self._potential()
        self._all = np.ones(self.num_envs, dtype=bool)

    # -- step ----------------------------------------------------------------------------
    def step(self, actions: Any) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray,
                                          np.ndarray, dict[str, Any]]:
        a = np.asarray(actions).reshape(-1)
        if a.shape[0] != self.num_envs:
            raise ValueError(f"actions: expected {self.num_envs} actions, got {a.shape[0]}")
        try:
            a = a.astype(np.int64)
        except (TypeError, ValueError, OverflowError):  # unparsable entries: invalid ops
            a = np.array([_as_action(x) for x in a], dtype=np.int64)
        n, b = self.num_envs, self.buffers
        resetting = self.prev_done.copy()
        terms = np.zeros((n, len(TERMS)))
        active, valid = np.empty(n, dtype=bool), np.empty(n, dtype=bool)
        advance = self._advance
        if self.archive_cap < 0 and self.archive_len.max() >= self.archive_src.shape[1]:
            width = 2 * self.archive_src.shape[1]  # an unbounded archive that is full
            for name in ("archive_src", "archive_updated"):
                setattr(self, name, widened(getattr(self, name), width))
        n_due = kernel.apply_ops(
            a, self._mask, self.action_op, self.action_arg, self.action_tier, self.slot_tier,
            self.core.ops_per_chunk, self.op_cost, self.reread_cost, self.entry_capacity,
            self.archive_cap, b.episode_row, b.length, b.nonempty, b.tokens, b.hedged, b.count,
            b.ids, b.bow, b.evidence, b.conflict, b.has_due, self.slot_src, self.slot_entry,
            self.slot_created, self.slot_updated, self.slot_hits, self.slot_tokens,
            self.slot_hedged, self.slot_count, self.slot_ids, self.slot_bow, self.slot_invalid,
            self.next_id, self.step_count, self.ops_used, self.rereads_used, self.view_kind,
            self.view_src, self.archive_len, self.archive_src, self.archive_updated, self.steps,
            self.cursor, self.done, self.prev_done, self.sources_in, self.evidence_in,
            self.conflicts_in, terms, active, valid, advance, self._due_envs)
        if n_due:  # questions due after this chunk: the reader
            due = self._due_envs[:n_due]
            if self.compiled_reader:
                answer_compiled(self, due, terms)
            else:
                for i in due.tolist():
                    answer_python(self, i, terms)
        kernel.finish_step(advance, active, b.episode_row, b.length, b.stream_tokens,
                           self.slot_tokens, self.cursor, self.ops_used, self.rereads_used,
                           self.done, self.evidence_in, self.conflicts_in, b.need, b.qmask,
                           self.answered, b.n_questions, self._phi, terms)
        reward = np.empty(n)
        terminated, truncated = np.empty(n, dtype=bool), np.empty(n, dtype=bool)
        kernel.settle(active, resetting, self.done, self.steps, self._max_steps, self.weights,
                      terms, reward, terminated, truncated)  # terms are weighted from here
        if resetting.any():  # NEXT_STEP autoreset: this step only resets those envs
            self._start(np.flatnonzero(resetting), dict(self.episode_options))
        self.prev_done = terminated | truncated
        obs = self._observation()
        info: dict[str, Any] = {
            "action_mask": self._mask, "_action_mask": self._all,
            "reward_terms": dict(zip(TERMS, terms.T)),  # column views
            "_reward_terms": active,
            "ok": valid, "_ok": active,
        }
        if terminated.any():
            info["qa_score"] = self.qa_sum / np.maximum(self.qa_count, 1)
            info["_qa_score"] = terminated
        return obs, reward, terminated, truncated, info

    def _potential(self) -> None:
        """The evidence potential of every env into ``_phi`` (after resets)."""
        b, none = self.buffers, np.zeros(self.num_envs, dtype=bool)
        kernel.finish_step(none, none, b.episode_row, b.length, b.stream_tokens,
                           self.slot_tokens, self.cursor, self.ops_used, self.rereads_used,
                           self.done, self.evidence_in, self.conflicts_in, b.need, b.qmask,
                           self.answered, b.n_questions, self._phi,
                           np.zeros((self.num_envs, len(TERMS))))

    # -- observation and masks (memgym.envs.vector_kernel.observe) ----------------------
    def _observation(self) -> dict[str, np.ndarray]:
        b, shapes = self.buffers, self._obs_shapes
        obs = {key: np.empty(shapes[key], dtype=np.float32) for key in ("view", "slots", "memory")}
        archive = np.empty(shapes["archive"], dtype=np.float32)
        self._mask = np.empty((self.num_envs, self.n_actions), dtype=bool)
        kernel.observe_batch(
            self.done, self.view_kind, self.view_src, self.cursor, b.episode_row, b.length,
            self.step_count, self.ops_used, self.core.ops_per_chunk, self.rereads_used,
            self.max_rereads, self.archive_len, self.archive_scale, self.archive_src,
            self.archive_updated, b.bow, b.count, b.tokens, b.hedged, b.ids, self.slot_entry,
            self.slot_created, self.slot_updated, self.slot_hits, self.slot_tokens,
            self.slot_hedged, self.slot_count, self.slot_ids, self.slot_bow, self.slot_invalid,
            self.slot_tier, self.tier_entries, self.tier_token_cap, self.token_scale,
            self.token_shown, AGE_TABLE, self.action_op, self.action_arg, self.action_tier,
            obs["view"], obs["slots"], obs["memory"], self._mask, archive)
        if self.archive_view:
            obs["archive"] = archive
        if self.invalidate_obs:
            obs["slot_invalid"] = self.slot_invalid.astype(np.float32)
        if self.slot_bow_obs:
            obs["slot_bow"] = self.slot_bow.copy()
        if self.text is not None:
            obs.update(self._text_observation())
        return obs

    def _text_observation(self) -> dict[str, np.ndarray]:
        """``text_view`` / ``text_slots`` / ``text_slot_sketch`` of every env: the chunk at
        each cursor in view (:mod:`memgym.envs.text_kernel`, as the single env)."""
        b = self.buffers
        rows = b.episode_row
        at = kernel.view_chunks(self.view_kind, self.view_src, self.cursor, rows, b.length)
        sync_similarity(self.slot_src, self.text_seen, rows, b.embedding, self.text_similarity)
        arrays = {key: np.empty(self._obs_shapes[key], dtype=np.float32)
                  for key in ("text_view", "text_slots", "text_slot_sketch")}
        observe_text(~self.done, b.embedding[rows, at], b.surface[rows, at],
                     b.stream[rows, at], b.speaker[rows, at], b.session[rows, at], self.cursor,
                     self.slot_src, self.text_similarity, rows, b.length, b.n_sessions,
                     b.embedding, b.surface, b.speaker, b.session, b.sketch,
                     arrays["text_view"], arrays["text_slots"], arrays["text_slot_sketch"])
        return arrays

    def close_extras(self, **kwargs: Any) -> None:
        """Stop the template env's episode-prefetching workers, if any."""
        template = getattr(self, "template", None)  # None: __init__ failed (__del__ still runs)
        if template is not None:
            template.close()

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
