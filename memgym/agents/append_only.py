"""Append-only memories, as the memory systems users run now keep them: nothing is deleted.

- mem0's write path is ADD-only: new facts are appended, and time-aware retrieval lets the
  latest statement win, instead of an LLM deciding UPDATE / DELETE.
- Zep / Graphiti invalidate an old fact (it gets an end of validity) instead of deleting it.

With memgym's default reader, which breaks ties by text and never by time, an ADD-only memory
scores as stale (the old and the new value are both read); with ``reader_params:
{time_aware: true}`` (:class:`memgym.rewards.reader.RankingReader`) it reads as mem0
intends. An invalidated entry is not read by any reader (``invalidate`` op,
:mod:`memgym.envs.memory`), but it keeps its room until it is overwritten.

- :class:`AddOnlyAgent` (``add_only``): add every chunk the salience rule of
  :mod:`memgym.agents.baselines` keeps (a parsed fact, not hedged), never rewrite an entry for
  its content; a full memory overwrites the entry written longest ago (a bounded memory must
  drop something; mem0's is unbounded).
- :class:`InvalidateAgent` (``invalidate``): the same writes, and an entry holding the same
  fact (subject and attribute) as a newer one is invalidated at the next chunk the agent
  would otherwise skip (one op per chunk: the newcomer is stored first); a full memory
  overwrites an invalidated entry first, else the oldest. Needs ``invalidate`` in ``ops``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from memgym.agents.baselines import BaselineAgent, salience
from memgym.facts import extract_fact

#: The salience score a chunk needs to be stored (the salience baseline's threshold).
KEEP_THRESHOLD = 0.5


class AddOnlyAgent(BaselineAgent):
    """Append every salient chunk; when full, overwrite the oldest-written entry."""

    name = "add_only"

    def choose(self, env: Any, mask: np.ndarray) -> int | None:
        if salience(env.core.view.text) <= KEEP_THRESHOLD:
            return 0
        return self.admit_or_replace(env, mask, lambda k: env.slot_num[1, k])  # updated step


class InvalidateAgent(BaselineAgent):
    """Append every salient chunk; invalidate what a newer fact supersedes (Zep-style)."""

    name = "invalidate"

    def reset(self, env: Any, seed: int | None = None) -> None:
        super().reset(env, seed)
        if "invalidate" not in env.unwrapped.core.ops:
            raise ValueError("baseline 'invalidate' needs the invalidate op: set ops to "
                             "include 'invalidate' (e.g. --env-arg 'ops=[noop, add, update, "
                             "invalidate]')")
        # (entry id, its write step) that a newer fact superseded, oldest first; the step
        # tells a superseded text from new text later written over the same entry.
        self.pending: list[tuple[int, int]] = []

    def choose(self, env: Any, mask: np.ndarray) -> int | None:
        entries = env.core.store.entries
        text = env.core.view.text
        if salience(text) > KEEP_THRESHOLD:
            fact = extract_fact(text)
            if fact is not None:
                self.pending += [(e.id, e.updated) for e in entries.values()
                                 if e.invalidated is None and (e.id, e.updated) not in self.pending
                                 and (old := extract_fact(e.text)) is not None
                                 and old.key == fact.key]
            # Invalidated entries go first, then by write step: both are what is least worth.
            return self.admit_or_replace(env, mask, lambda k: (
                entries[int(env.slot_entry[k])].invalidated is None, env.slot_num[1, k]))
        while self.pending:  # a chunk to skip: spend its op on an invalidation
            entry_id, written = self.pending.pop(0)
            entry = entries.get(entry_id)
            if entry is not None and entry.invalidated is None and entry.updated == written:
                slot = int(np.flatnonzero(env.slot_entry == entry.id)[0])
                action = env.action_index.get(("invalidate", slot, -1))
                if action is not None and mask[action]:
                    return action
        return 0
