"""The structured memory environment, for small policies (SB3, RLlib)."""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from memgym.episode import Episode
from memgym.envs.action_layout import layout_rows, set_action_layout
from memgym.envs.core import MemoryCore, StepOutcome
from memgym.envs.features import SLOT_FEATURES, VIEW_FEATURES, EpisodeFeatures
from memgym.envs.features import ARCHIVE_FEATURES, no_text
from memgym.envs.episode_pool import EpisodeSource, cached, task_token
from memgym.envs.observe_kernel import VIEW_KINDS, archive_rows, observe_rows
from memgym.envs.registration import load_task
from memgym.envs.slots import SlotTable
from memgym.envs.text_features import (
    FEATURE_SETS, SKETCH_DIM, SLOT_COLUMNS, STREAM_CUES, SURFACE_CUES, VIEW_COLUMNS, EpisodeText,
)
from memgym.envs.text_kernel import observe_text, sync_similarity
from memgym.envs.text_view import render_prompt

def embedding_dim(model_path: str | None) -> int:
    """The sentence-embedding width of the model (its config's ``hidden_size``), read
    without loading the model."""
    import json

    from memgym.rewards.embedding import default_model_path

    path = default_model_path() if model_path is None else model_path
    try:
        with open(f"{path}/config.json", encoding="utf-8") as f:
            return int(json.load(f)["hidden_size"])
    except (OSError, KeyError, ValueError) as exc:
        raise ValueError(f"embedding_model: cannot read {path}/config.json ({exc})") from exc


#: Observation keys holding one row per memory slot (row k describes slot k), for policies
#: that score slots with shared weights (:mod:`memgym.training.pointer_policy`).
SLOT_OBSERVATION_KEYS: tuple[str, ...] = ("slots", "slot_bow", "text_slots", "text_slot_sketch")
AGE_SCALE = math.log1p(1024)
#: log1p(age) / log1p(1024), clipped to 1: ages of entries in steps, looked up not computed.
AGE_TABLE = np.minimum(np.log1p(np.arange(1025)) / AGE_SCALE, 1.0).astype(np.float32)
#: This env's episode row in the shared kernels, which index episode arrays by row (the
#: batched env keeps many episodes; this env passes its one episode with a leading axis).
_ROW = np.zeros(1, dtype=np.int64)


class MemoryEnv(gym.Env):
    """
    ## Description

    A stream of text chunks arrives one at a time; the agent keeps a bounded memory with
    explicit operations, and afterwards (or mid-stream) questions about the stream are
    answered from that memory by a deterministic reader (BM25 top-k + fact extraction). The
    task (stream generator or dataset adapter) is a constructor argument; registered ids such
    as ``memgym/KVUpdates-Medium-v0`` fix a task and a memory budget.

    ## Action Space

    ``Discrete(n)``: a flat op x target layout, listed by :attr:`action_names` —
    ``noop``; ``add -> tier t`` (the text in view) per tier; ``update slot k`` (overwrite with
    the text in view), ``delete slot k``, ``evict slot k`` (to the archive), ``invalidate
    slot k`` (kept, no longer read) per slot;
    ``route slot k -> tier t``; ``reread archive j`` (the ``archive_view`` most recent
    archived entries) and ``reread similar`` (the past chunk most similar to the view); with
    ``retrieval_tiers``, ``answer via tier r`` per retrieval tier when a question is in view.
    Only enabled ``ops`` appear. Invalid actions are masked: ``action_masks()`` (sb3-contrib),
    ``info["action_mask"]`` and :class:`memgym.envs.wrappers.ActionMaskObservation` (RLlib).
    An invalid action anyway leaves memory unchanged, costs the ``invalid`` penalty and uses
    up the op.

    ## Observation Space

    ``Dict`` of ``Box`` arrays in [0, 1] (SB3-safe, no nesting):

    - ``view`` (bow_dim + 5): hashed bag of words of the text in view, then token count,
      has-a-parsed-fact, hedged (uses an uncertainty / hearsay word), is-recalled,
      is-question.
    - ``slots`` (n_slots, 11 + n_tiers): per slot occupied, age, time since update, hits,
      tokens, hedged, same key / subject / attribute / value as the view (rule-based fact
      parse of the visible text), token Jaccard with the view, then the slot's tier one-hot.
    - ``memory`` (2 n_tiers + 4): entry and token fill per tier, archive fill, stream
      progress, ops left for this chunk, rereads left.
    - ``archive`` (archive_view, 4), only when ``reread`` is enabled: present, same key,
      Jaccard, age of the most recently archived entries.
    - ``slot_bow`` (n_slots, bow_dim), only with ``slot_bow=True``.
    - ``slot_invalid`` (n_slots,), only when ``invalidate`` is enabled: the slot holds an
      invalidated entry.

    ## Rewards

    A weighted sum of named terms (:mod:`memgym.rewards.terms`), each in
    ``info["reward_terms"]``: ``qa`` (sums to the mean QA score over the episode's
    questions), optional potential-based evidence ``shaping``, ``memory_size``,
    ``compression``, ``op_cost``, ``retrieval`` (reread / routing costs) and ``invalid``.

    ## Episode End

    Terminates after the last chunk once every question is answered. No truncation is
    registered: every step uses up an op of the current chunk, so an episode lasts at most
    ``length * (ops_per_chunk + 2 * max_rereads_per_chunk)`` steps plus one per routed
    question.

    ## Arguments

    - ``task``: ``"module:Class"`` path, class or instance of a task; ``task_params`` its
      parameters; ``data_path`` a local data file for dataset-adapter tasks (added to
      ``task_params``). ``split``: default split for resets (``train`` / ``val`` /
      ``heldout``).
    - ``tiers``: ``{name: {"entries": n, "tokens": m | None, "always_shown": bool}}``.
    - ``ops``: enabled ops among noop, add, update, delete, evict, route, reread, invalidate.
    - ``reader`` / ``reader_params`` (``"bm25"`` or ``"embedding"``, ``top_k``,
      ``time_aware``: the latest statement of a fact wins), ``metric``
      (``em`` / ``f1`` / ``contains``), ``rewards`` (a :class:`RewardConfig` or dict).
    - ``ops_per_chunk``, ``max_rereads_per_chunk``, ``archive_capacity``, ``archive_view``,
      ``retrieval_tiers`` (``True`` for low / mid / high defaults), ``bow_dim``, ``slot_bow``.
    - ``episode_pool``: ``None`` (a fresh stream every reset) or N: resets draw episode seeds
      from ``range(N)``, a fixed training set as Procgen's ``num_levels``; each stream is
      generated and encoded once per process (:mod:`memgym.envs.episode_pool`).
    - ``prefetch_workers``: N > 0 generates the next fresh streams ahead in N worker processes
      (the same episodes as 0; ignored with ``episode_pool``; :mod:`memgym.envs.prefetch`).

    ``reset(options=...)`` takes ``split``, ``episode_seed``, ``episode`` (an
    :class:`Episode` to play as is) and any task parameter (e.g. ``length``).

    ## Version History

    - v0: initial release (``episode_pool`` added later; the default keeps v0's episodes).
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 4}
    #: What the actions are: ``"memory"``, the op rows above. A recipe that replaces the action
    #: space names its own, so baselines written for memory ops refuse it with a clear error.
    action_layout = "memory"

    def __init__(
        self,
        task: Any = "memgym.tasks.kv_updates:KVUpdatesTask",
        task_params: dict[str, Any] | None = None,
        *,
        data_path: str | None = None,
        split: str = "train",
        tiers: dict[str, dict[str, Any]] | None = None,
        ops: tuple[str, ...] | list[str] = ("noop", "add", "update", "delete"),
        reader: str = "bm25",
        reader_params: dict[str, Any] | None = None,
        metric: str = "em",
        rewards: Any = None,
        ops_per_chunk: int = 1,
        max_rereads_per_chunk: int = 1,
        archive_capacity: int | None = None,
        archive_view: int = 4,
        retrieval_tiers: dict[str, dict[str, Any]] | bool | None = None,
        bow_dim: int = 64,
        slot_bow: bool = False,
        episode_pool: int | None = None,
        prefetch_workers: int = 0,
        features: str | None = None,
        embedding_model: str | None = None,
        render_mode: str | None = None,
    ) -> None:
        if data_path is not None:  # dataset adapters: gym.make(id, data_path=...)
            task_params = {**(task_params or {}), "data_path": str(data_path)}
        self.task = load_task(task, task_params)
        self.features = features or getattr(self.task, "default_features", "parser")
        if self.features not in FEATURE_SETS:
            raise ValueError(f"features must be one of {', '.join(FEATURE_SETS)}, "
                             f"got {self.features!r}")
        self.parse_facts = self.features in ("parser", "both")
        self.text_features = self.features in ("embedding", "both")
        self.embedding_model = embedding_model
        self.split = split
        self.episodes = EpisodeSource(self.task, episode_pool=episode_pool,
                                      token=task_token(task, task_params),
                                      prefetch=prefetch_workers)
        self.core = MemoryCore(
            tiers=tiers, ops=tuple(ops), reader=reader, reader_params=reader_params,
            metric=metric, rewards=rewards, ops_per_chunk=ops_per_chunk,
            max_rereads_per_chunk=max_rereads_per_chunk, archive_capacity=archive_capacity,
            retrieval_tiers=retrieval_tiers,
        )
        self.render_mode = render_mode
        self.bow_dim, self.slot_bow = bow_dim, slot_bow
        layout = self.core.tiers  # parsed once, in the core; its arrays are read here
        self.tier_names = list(layout.names)
        self.tier_entries = layout.entries
        self.tier_token_cap = layout.token_caps
        self.n_slots = layout.n_slots
        self.slot_tier = layout.slot_tier
        self.archive_view = archive_view if "reread" in self.core.ops else 0
        self._archive_scale = archive_capacity or max(self.n_slots, 1)
        self._build_actions()
        n_tiers = len(layout)
        self.slots = SlotTable(self.slot_tier, n_tiers, bow_dim)
        self._tier_entries_f = np.asarray(self.tier_entries, dtype=np.float64)
        finite_cap = np.isfinite(self.tier_token_cap)  # no token budget: fill shown as 0
        self._token_scale = np.where(finite_cap, self.tier_token_cap, 1.0)
        self._token_shown = finite_cap.astype(np.float64)
        self._no_view = no_text(bow_dim)
        obs = {
            "view": spaces.Box(0, 1, (bow_dim + len(VIEW_FEATURES),), np.float32),
            "slots": spaces.Box(0, 1, (self.n_slots, len(SLOT_FEATURES) + n_tiers), np.float32),
            "memory": spaces.Box(0, 1, (2 * n_tiers + 4,), np.float32),
        }
        if self.archive_view:
            obs["archive"] = spaces.Box(0, 1, (self.archive_view, len(ARCHIVE_FEATURES)),
                                        np.float32)
        if slot_bow:
            obs["slot_bow"] = spaces.Box(0, 1, (self.n_slots, bow_dim), np.float32)
        if "invalidate" in self.core.ops:
            obs["slot_invalid"] = spaces.Box(0, 1, (self.n_slots,), np.float32)
        if self.text_features:
            dim = embedding_dim(embedding_model)
            obs["text_view"] = spaces.Box(-1, 1, (dim + len(VIEW_COLUMNS),), np.float32)
            obs["text_slots"] = spaces.Box(-1, 1, (self.n_slots, len(SLOT_COLUMNS)), np.float32)
            obs["text_slot_sketch"] = spaces.Box(-1, 1, (self.n_slots, SKETCH_DIM), np.float32)
            self._text_dim = dim
        self.observation_space = spaces.Dict(obs)
        self.action_space = spaces.Discrete(len(self.action_names))
        self._features: EpisodeFeatures | None = None
        self._mask_step: tuple[int, int] | None = None
        self._episodes_started = 0
        #: The mask the last observation's kernel call also gave, and the step it is of
        #: (``compute_action_mask`` takes it once instead of calling the kernel again).
        self._fresh_mask: tuple[np.ndarray, tuple[int, int]] | None = None
        self._cache_key: Any = None  # of the episode reset() drew, for start_episode

    # -- action layout -------------------------------------------------------------------
    def _build_actions(self) -> None:
        self.retrieval_names = list(self.core.retrieval_tiers)
        set_action_layout(self, *layout_rows(self.core.ops, self.tier_names, self.n_slots,
                                             self.archive_view, self.retrieval_names))

    # -- gymnasium API -------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        super().reset(seed=seed)
        episode, self._cache_key, _ = self.episodes.draw(self.np_random, options, self.split)
        self.start_episode(episode)
        return self._observation(), self._info(None)

    def close(self) -> None:
        """Stop the episode-prefetching workers, if any."""
        self.episodes.close()
        super().close()

    def start_episode(self, episode: Episode) -> None:
        """Play ``episode`` (features cached when :meth:`reset` drew it from a pool)."""
        key, self._cache_key = self._cache_key, None
        self._episodes_started += 1
        self.episode = episode
        self.core.start(episode)
        dim, parse = self.bow_dim, self.parse_facts
        self._features = (EpisodeFeatures(episode, dim, parse) if key is None else cached(
            ("features", dim, parse, key), lambda: EpisodeFeatures(episode, dim, parse)))
        self.slots.reset()
        self._chunk_ids: np.ndarray | None = None  # (1, chunks, 4) fact ids, for the archive
        if self.text_features:
            persist = bool(getattr(self.task, "cache_embeddings", False))
            model = self.embedding_model

            def build() -> EpisodeText:
                return EpisodeText(episode, persist=persist, model_path=model)

            self._text = build() if key is None else cached(("text", model, key), build)
            n = self.n_slots  # the slot-slot cosines, kept across steps (text_kernel)
            self._text_seen = np.full((1, n), -1, dtype=np.int64)
            self._text_similarity = np.zeros((1, n, n), dtype=np.float32)
        self._sync_view()

    def step(self, action: Any) -> tuple[dict[str, np.ndarray], float, bool, bool, dict]:
        op, kwargs = self.decode(action)
        outcome = self.core.apply(op, **kwargs)
        self.slots.apply(op, outcome.result, self.core.store, bool(outcome.answered),
                         self._features.features_of)
        self._sync_view()
        return self._observation(), outcome.reward, outcome.done, False, self._info(outcome)

    def action_masks(self) -> np.ndarray:
        """Valid actions now (sb3-contrib's MaskablePPO calls this)."""
        if self._mask_step != (self.core.step_count, self._episodes_started):
            self._mask = self.compute_action_mask()
            self._mask_step = (self.core.step_count, self._episodes_started)
        return self._mask.copy()

    def compute_action_mask(self) -> np.ndarray:
        """The valid actions of the current view; :meth:`action_masks` caches it per step.

        The public hook for recipes: a subclass that restricts the action set overrides it,
        calls ``super().compute_action_mask()`` and clears what its rules forbid (the mask guides
        maskable samplers; ``step`` must still take a masked action without crashing)."""
        fresh, self._fresh_mask = self._fresh_mask, None  # handed out once: no aliasing
        if fresh is not None and fresh[1] == (self.core.step_count, self._episodes_started):
            return fresh[0]
        return self._compiled_rows()[3][0]

    def decode(self, action: Any) -> tuple[str, dict[str, Any]]:
        """Turn a flat action into a core op and its arguments (bad actions -> invalid op)."""
        try:
            a = int(action)
        except (TypeError, ValueError):
            return "invalid", {}
        if not 0 <= a < len(self.action_table):
            return "invalid", {}
        op, arg, tier = self.action_table[a]
        if op == "noop":
            return op, {}
        if op == "add":
            return op, {"tier": self.tier_names[tier]}
        if op in ("update", "delete", "evict", "route", "invalidate"):
            entry = int(self.slot_entry[arg]) if self.core.episode else -1
            kwargs: dict[str, Any] = {"target": entry if entry >= 0 else None}
            if op == "route":
                kwargs["tier"] = self.tier_names[tier]
            return op, kwargs
        if op == "reread":
            archived = list(self.core.store.archive)
            return op, {"target": archived[-1 - arg] if arg < len(archived) else None}
        if op == "reread_similar":
            return "reread", {"chunk": self._most_similar_past_chunk()}
        return "route", {"tier": self.retrieval_names[arg]}

    def _slot_invalid(self) -> np.ndarray:
        """Per slot: holds an invalidated entry (kept, no longer read)."""
        entries = self.core.store.entries
        return np.array([e >= 0 and entries[int(e)].invalidated is not None
                         for e in self.slot_entry], dtype=bool)

    # -- slot table (memgym.envs.slots) ------------------------------------------------
    @property
    def slot_entry(self) -> np.ndarray:
        """Entry id held by each slot (-1: free)."""
        return self.slots.entry

    @property
    def slot_num(self) -> np.ndarray:
        """Per slot: created step, updated step, hits, tokens."""
        return self.slots.num

    @property
    def entry_slot(self) -> dict[int, int]:
        return self.slots.entry_slot

    def _sync_view(self) -> None:
        view = self.core.view
        feats = self._features.features_of(view.text, view.source) if view.kind != "none" else None
        self._view = feats
        if feats is not None:
            self._view_ids = np.array([feats.key[0], feats.subject[0], feats.attribute[0],
                                       feats.value[0]])
        self._view_tokens = float(feats.tokens[0]) if feats is not None else 0.0

    def _most_similar_past_chunk(self) -> int | None:
        cursor = self.core.cursor
        if cursor == 0 or self._view is None:
            return None
        scores = self._features.chunks.bow[:cursor] @ self._view.bow[0]
        return int(cursor - 1 - np.argmax(scores[::-1]))  # ties -> the most recent

    # -- observation ---------------------------------------------------------------------
    def _compiled_rows(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``view``, ``slots``, ``memory`` and the action mask, each with a leading axis of
        one: this env as a batch of one in the kernel the batched env also uses
        (:func:`memgym.envs.observe_kernel.observe_rows`)."""
        core, feats, table = self.core, self._view, self.slots
        n_tiers = len(self.tier_names)
        view = np.empty((1, self.bow_dim + len(VIEW_FEATURES)), dtype=np.float32)
        slots = np.empty((1, self.n_slots, len(SLOT_FEATURES) + n_tiers), dtype=np.float32)
        memory = np.empty((1, 2 * n_tiers + 4), dtype=np.float32)
        mask = np.empty((1, len(self.action_table)), dtype=bool)
        if feats is None:  # nothing in view
            feats, ids = self._no_view, np.full((1, 4), -1, dtype=np.int64)
        else:
            ids = self._view_ids[None]
        invalid = (self._slot_invalid() if "invalidate" in core.ops
                   else np.zeros(self.n_slots, dtype=bool))
        counters = np.array([[core.step_count], [core.cursor], [len(self.episode.chunks)],
                             [core.ops_used], [core.rereads_used],
                             [len(core.store.archive)]], dtype=np.int64)
        observe_rows(
            np.array([VIEW_KINDS.index(core.view.kind)]), feats.bow, feats.count,
            feats.tokens, feats.hedged, ids, table.entry[None], table.num[0][None],
            table.num[1][None], table.num[2][None], table.num[3][None], table.hedged[None],
            table.count[None], table.ids.T[None], table.bow[None], invalid[None],
            counters[0], counters[1], counters[2], counters[3], core.ops_per_chunk,
            counters[4], core.max_rereads_per_chunk, counters[5], float(self._archive_scale),
            self.slot_tier, self._tier_entries_f, self.tier_token_cap, self._token_scale,
            self._token_shown, AGE_TABLE, self.action_codes, self.action_args,
            self.action_tiers, view, slots, memory, mask)
        self._fresh_mask = (mask[0], (core.step_count, self._episodes_started))
        return view, slots, memory, mask

    def _observation(self) -> dict[str, np.ndarray]:
        view, slots, memory, _ = self._compiled_rows()
        step = self.core.step_count
        obs = {"view": view[0], "slots": slots[0], "memory": memory[0]}
        if self.archive_view:
            obs["archive"] = self._archive_features(step)
        if self.slot_bow:
            obs["slot_bow"] = self.slots.bow.copy()
        if "invalidate" in self.core.ops:
            obs["slot_invalid"] = self._slot_invalid().astype(np.float32)
        if self.text_features:
            obs["text_view"], obs["text_slots"], obs["text_slot_sketch"] = \
                self._text_observation()
        return obs

    def _text_observation(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``text_view``, ``text_slots`` and ``text_slot_sketch``: this env as a batch of one
        in the kernel the batched env also uses (:mod:`memgym.envs.text_kernel`)."""
        view, text, dim, n = self.core.view, self._text, self._text_dim, self.n_slots
        source = self.slots.source[None]
        sync_similarity(source, self._text_seen, _ROW, text.embedding[None],
                        self._text_similarity)
        vec, surface = np.zeros(dim, dtype=np.float32), np.zeros(len(SURFACE_CUES), np.float32)
        speaker = session = -1
        if view.kind != "none":
            vec, surface, speaker, session = text.of(view.text, view.source)
        stream = (text.stream[view.source] if view.source is not None
                  else np.zeros(len(STREAM_CUES), dtype=np.float32))
        out_view = np.empty((1, dim + len(VIEW_COLUMNS)), dtype=np.float32)
        out_slots = np.empty((1, n, len(SLOT_COLUMNS)), dtype=np.float32)
        out_sketch = np.empty((1, n, SKETCH_DIM), dtype=np.float32)
        observe_text(
            np.array([view.kind != "none"]), np.asarray(vec, dtype=np.float32)[None],
            np.asarray(surface, dtype=np.float32)[None], stream[None],
            np.array([speaker], dtype=np.int64), np.array([session], dtype=np.int64),
            np.array([self.core.cursor], dtype=np.int64), source, self._text_similarity, _ROW,
            np.array([len(self.episode.chunks)], dtype=np.int64),
            np.array([text.n_sessions], dtype=np.int64), text.embedding[None],
            text.surface[None], text.speaker[None], text.session[None], text.sketch[None],
            out_view, out_slots, out_sketch)
        return out_view[0], out_slots[0], out_sketch[0]

    def _archive_features(self, step: int) -> np.ndarray:
        """The ``archive`` rows: this env as a batch of one in the kernel the batched env
        also uses (:func:`memgym.envs.observe_kernel.archive_rows`)."""
        out = np.zeros((1, self.archive_view, len(ARCHIVE_FEATURES)), dtype=np.float32)
        archived = list(self.core.store.archive.values())
        if not archived or self._view is None:
            return out[0]
        view, chunks = self._view, self._features.chunks
        if self._chunk_ids is None:  # once per episode, when something was first archived
            self._chunk_ids = np.stack([chunks.key, chunks.subject, chunks.attribute,
                                        chunks.value], axis=1)[None]
        archive_rows(
            np.array([VIEW_KINDS.index(self.core.view.kind)]), view.bow, view.count,
            self._view_ids[None], np.array([step]), np.array([len(archived)]),
            np.array([[e.source for e in archived]]), np.array([[e.updated for e in archived]]),
            _ROW, chunks.bow[None], chunks.count[None], self._chunk_ids, AGE_TABLE, out)
        return out[0]

    def _info(self, outcome: StepOutcome | None) -> dict[str, Any]:
        info: dict[str, Any] = {"action_mask": self.action_masks(), "view": self.core.view.kind}
        if outcome is not None:
            result = outcome.result
            info.update(reward_terms=outcome.terms, op=result.op, ok=result.ok,
                        error=result.error, answered=len(outcome.answered))
            if outcome.done:
                records = self.core.records
                info["qa_score"] = sum(r.score for r in records) / max(len(records), 1)
        return info

    def render(self) -> str | None:
        if self.render_mode == "ansi":
            return render_prompt(self.core)
        return None


if __name__ == "__main__":  # python -m memgym.envs.structured [ENV_ID]: steps/s vs CartPole
    from memgym.envs.speed import main

    main(vector=False)
