"""Memex (indexed experience memory): archive bulky content under an index, keep only a short
summary in the working context, dereference the index when the content is needed again.

Mechanics on top of the core's ``evict`` / ``reread`` (:mod:`memgym.envs.memory`):

- ``evict slot k`` moves the entry to the archive under its entry id (the index) and keeps the
  summary ``"#<index> <subject> <attribute>"`` (the parsed fact's gist; else its first
  ``SUMMARY_WORDS`` words) in the working context: :meth:`MemexEnv.working_tokens` counts
  memory entries plus the summaries of archived entries;
- ``reread archive j`` dereferences an index (the ``j``-th most recently archived entry; the
  observation's ``archive`` rows say which one matches the view) into view for one op, e.g.
  ``add``. Rereads of raw past chunks (``reread similar``) are masked: Memex recovers content
  only through its index;
- context-budget penalty, at every chunk the stream advances:
  ``-budget_penalty * max(0, working_tokens - budget_tokens) / budget_tokens / length``;
- redundancy penalty: ``-redundancy_penalty`` for an add / update of content already in memory,
  or a reread of an archived entry whose content is already in memory.

``memgym/Memex-v0`` enables evict + reread; ``memgym/Memex-NoArchive-v0`` is the same stream,
budget and penalties with noop / add / update / delete only (no archive).

## Description

``memgym/Memex-v0``: Revisit (12 chunks, 2 asked pairs, 2 unasked facts, every fact carrying
8 bookkeeping details, ~25 tokens; summaries ~4), a memory of 3 entries, a working-context
budget of 32 tokens; ops noop / add / update / delete / evict / reread (archive only), two ops
per chunk.
``memgym/Memex-NoArchive-v0``: the same without evict and reread.

## Action Space

The structured env's flat ``Discrete`` action (``reread archive j`` for the 4 most recently
archived entries; ``reread similar`` masked).

## Observation Space

The structured env's ``Dict`` of ``Box`` arrays, with ``archive`` rows.

## Rewards

QA score, minus the context-budget and redundancy penalties and the reread cost.

## Episode End

After the last chunk, once every question is answered.

## Arguments

``budget_tokens``, ``budget_penalty``, ``redundancy_penalty`` and every argument of
:class:`memgym.envs.structured.MemoryEnv`; task parameters of
:class:`memgym.tasks.revisit.RevisitParams`.

## Version History

- v0: initial release.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from memgym.envs.memory import count_tokens
from memgym.envs.structured import MemoryEnv
from memgym.facts import extract_fact

SUMMARY_WORDS = 4


def summarize(index: int, text: str) -> str:
    """The short summary kept in context for an archived text."""
    fact = extract_fact(text)
    gist = f"{fact.subject} {fact.attribute}" if fact else " ".join(text.split()[:SUMMARY_WORDS])
    return f"#{index} {gist}"


class MemexEnv(MemoryEnv):
    """
    ## Description

    :class:`MemoryEnv` with Memex's indexed archive, context-budget and redundancy penalties
    (module docstring).

    ## Action Space

    ``MemoryEnv``'s flat action (noop, add, update / delete / evict slot k, reread archive j);
    ``reread similar`` is always masked.

    ## Observation Space

    ``MemoryEnv``'s ``Dict`` of ``Box`` arrays (``archive`` rows: the ``archive_view`` most
    recently archived entries and their relation to the view).

    ## Rewards

    The core's terms plus ``context`` (budget penalty) and ``redundancy``, each in
    ``info["reward_terms"]``; ``info["working_tokens"]`` is the working context size.

    ## Episode End

    As ``MemoryEnv``.

    ## Arguments

    ``budget_tokens`` (> 0), ``budget_penalty`` (>= 0), ``redundancy_penalty`` (>= 0), plus
    every ``MemoryEnv`` argument.

    ## Version History

    - v0: initial release.
    """

    def __init__(self, *args: Any, budget_tokens: int = 40, budget_penalty: float = 1.0,
                 redundancy_penalty: float = 0.05, **kwargs: Any) -> None:
        if budget_tokens < 1:
            raise ValueError(f"budget_tokens must be >= 1, got {budget_tokens}")
        if budget_penalty < 0 or redundancy_penalty < 0:
            raise ValueError("budget_penalty and redundancy_penalty must be >= 0")
        super().__init__(*args, **kwargs)
        self.budget_tokens = int(budget_tokens)
        self.budget_penalty, self.redundancy_penalty = float(budget_penalty), float(redundancy_penalty)
        self._similar = self._op_index.get("reread_similar", np.array([], dtype=np.int64))

    def start_episode(self, episode: Any) -> None:
        super().start_episode(episode)
        self.summaries: dict[int, str] = {}
        self.working_trace: list[int] = []

    def working_tokens(self) -> int:
        """Tokens in the working context: memory entries + summaries of archived entries."""
        store = self.core.store
        return store.total_tokens() + sum(count_tokens(self.summaries[i]) for i in store.archive
                                          if i in self.summaries)

    def action_masks(self) -> np.ndarray:
        mask = super().action_masks()
        mask[self._similar] = False
        if not mask.any():
            mask[0] = True
        return mask

    def _redundant(self, action: Any) -> bool:
        """Whether ``action`` would bring content already in memory (again) into memory/view."""
        op, kwargs = self.decode(action)
        core = self.core
        if op in ("add", "update"):
            source = core.view.source
            return source is not None and core.sources_in[source] > 0
        if op == "reread" and kwargs.get("target") in core.store.archive:
            source = core.store.archive[kwargs["target"]].source
            return source is not None and core.sources_in[source] > 0
        return False

    def step(self, action: Any) -> tuple[dict[str, np.ndarray], float, bool, bool, dict]:
        core = self.core
        if _is_int(action) and int(action) in set(self._similar.tolist()):
            action = -1  # raw rereads are not part of Memex: played as an invalid action
        redundant = _is_int(action) and self._redundant(action)
        cursor = core.cursor
        archived_before = set(core.store.archive)
        obs, reward, terminated, truncated, info = super().step(action)
        for index in set(core.store.archive) - archived_before:  # newly evicted: summarise
            self.summaries[index] = summarize(index, core.store.archive[index].text)
        terms = dict(info.get("reward_terms", {}))
        context = 0.0
        if core.cursor != cursor:  # the stream moved on: charge the context over budget
            working = self.working_tokens()
            self.working_trace.append(working)
            over = max(0, working - self.budget_tokens) / self.budget_tokens
            context = -self.budget_penalty * over / max(len(core.episode.chunks), 1)
        redundancy = -self.redundancy_penalty if redundant and info.get("ok") else 0.0
        terms.update(context=context, redundancy=redundancy)
        info["reward_terms"] = terms
        info["working_tokens"] = self.working_tokens()
        return obs, float(reward + context + redundancy), terminated, truncated, info


def _is_int(action: Any) -> bool:
    try:
        int(action)
    except (TypeError, ValueError):
        return False
    return True


def make_env(**kwargs: Any) -> MemexEnv:
    """Gymnasium entry point (``memgym.recipes.memex:make_env``)."""
    return MemexEnv(**kwargs)


class ArchiveAgent:
    """Hand-written Memex use: keep only the newest fact in context, evict the rest to the
    archive (delete copies already archived), and on a cue dereference the archived entry
    with the cued key and add it back. Reads only what the observation shows (parsed keys)."""

    name = "archive-heuristic"

    def reset(self, env: Any, seed: int | None = None) -> None:
        pass

    def act(self, obs: Any, info: dict[str, Any], env: Any) -> int:
        from memgym.recipes.rememr1 import is_cue

        env = env.unwrapped
        core, mask = env.core, env.action_masks()
        view, store = core.view, core.store
        if view.kind == "recalled":
            add = env.action_index.get(("add", -1, 0))
            return add if add is not None and mask[add] else 0
        if view.kind != "chunk":
            return 0
        if is_cue(view.text):
            match = _archived_match(env, view.text)
            if match is not None and mask[match]:
                return match
            return 0
        if core.ops_used == 0 and store.entries:  # first op: clear the context
            oldest = min(store.entries.values(), key=lambda e: e.created)
            archived = {e.source for e in store.archive.values()}
            op = "delete" if oldest.source in archived else "evict"
            action = env.action_index.get((op, env.entry_slot[oldest.id], -1))
            if action is not None and mask[action]:
                return action
        if extract_fact(view.text) is not None and core.sources_in[view.source] == 0:
            add = env.action_index.get(("add", -1, 0))
            if add is not None and mask[add]:
                return add
        return 0


def _archived_match(env: Any, cue: str) -> int | None:
    """The ``reread archive j`` action whose archived entry has the cue's (parsed) key."""
    from memgym.facts import fact_key, parse_question

    parsed = parse_question(cue)
    if parsed is None:
        return None
    key = fact_key(parsed[0], parsed[1][0])
    recent = list(env.core.store.archive.values())[::-1][: env.archive_view]
    for j, entry in enumerate(recent):
        fact = extract_fact(entry.text)
        if fact is not None and fact.key == key:
            return env.action_index.get(("reread", j, -1))
    return None


class KeepFactsAgent:
    """No-archive heuristic: store each fact once (never chatter or cues), overwriting the
    oldest entry when memory is full; the best a writer without labels or archive can do here
    is keep the most recent facts."""

    name = "keep-facts"

    def reset(self, env: Any, seed: int | None = None) -> None:
        pass

    def act(self, obs: Any, info: dict[str, Any], env: Any) -> int:
        env = env.unwrapped
        core, mask = env.core, env.action_masks()
        view = core.view
        if view.kind != "chunk" or extract_fact(view.text) is None:
            return 0
        if core.sources_in[view.source] > 0:
            return 0
        add = env.action_index.get(("add", -1, 0))
        if add is not None and mask[add]:
            return add
        occupied = np.flatnonzero(env.slot_entry >= 0)
        oldest = int(occupied[np.argmin(env.slot_num[0, occupied])])
        update = env.action_index.get(("update", oldest, -1))
        return update if update is not None and mask[update] else 0
