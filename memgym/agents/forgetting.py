"""Forgetting-curve managers: keep what a decay model says is still remembered.

Two memory systems users run forget by a curve instead of by a learned rule; both are here as
baselines for the eviction recipes (TRIM-KV, beside ``fifo_write`` / ``lru`` / ``recency``)
and any structured memory env. Each stores every chunk while there is room; when memory is
full it overwrites the entry with the lowest retention. Time is counted in env steps.

- :class:`EbbinghausAgent` (``ebbinghaus``), MemoryBank's forgetting curve (Zhong et al.
  2024): retention ``R = exp(-t / S)``, ``t`` the time since the entry was last written or
  recalled, ``S`` its strength, 1 when written and +1 at each recall (a reader retrieval).
  Only the order of ``R`` decides an eviction, so no time scale is needed: the victim has the
  largest ``t / S``.
- :class:`AgeWeightedAgent` (``age_weighted``), HEMA's age-weighted pruning (Ahn 2025), our
  reading of it: importance ``1 + recalls`` discounted by the entry's age since it was written,
  ``(1 + recalls) * decay ** age``. Unlike Ebbinghaus (and ``recency``), a recall does not make
  an entry young again; it only raises its weight.

Recalls count from the entry's last write: an overwrite puts new content in the slot, so the
agent remembers the hit count at each overwrite it makes (entries the env adds start at 0).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from memgym.agents.baselines import BaselineAgent
from memgym.envs.memory import Entry


class ForgettingCurveAgent(BaselineAgent):
    """Store every chunk; when full, overwrite the entry of lowest :meth:`retention`."""

    name = "forgetting-curve"

    def reset(self, env: Any, seed: int | None = None) -> None:
        super().reset(env, seed)
        self.hits_at_write: dict[int, int] = {}

    def recalls(self, entry: Entry) -> int:
        """Reader retrievals of the entry's current content."""
        return entry.hits - self.hits_at_write.get(entry.id, 0)

    def retention(self, entry: Entry, now: int) -> float:
        """The log of the entry's retention (logs: long streams would underflow the curve)."""
        raise NotImplementedError

    def choose(self, env: Any, mask: np.ndarray) -> int | None:
        entries, now = env.core.store.entries, env.core.step_count
        action = self.admit_or_replace(
            env, mask, lambda k: self.retention(entries[int(env.slot_entry[k])], now))
        if action is not None and env.action_ops[action] == "update":
            entry = entries[int(env.slot_entry[int(env.action_args[action])])]
            self.hits_at_write[entry.id] = entry.hits  # new content: no recalls yet
        return action


class EbbinghausAgent(ForgettingCurveAgent):
    """MemoryBank's curve ``exp(-t / S)`` (see the module docstring)."""

    name = "ebbinghaus"

    def retention(self, entry: Entry, now: int) -> float:
        elapsed = now - max(entry.updated, entry.last_used)
        return -elapsed / (1.0 + self.recalls(entry))  # log exp(-t / S)


class AgeWeightedAgent(ForgettingCurveAgent):
    """HEMA-style ``(1 + recalls) * decay ** age since written`` (see the module docstring)."""

    name = "age_weighted"
    decay = 0.99  # chosen on TRIM-KV val (0.8 / 0.9 / 0.95 / 0.99: mean QA 0.361 / 0.366 / 0.377 / 0.392)

    def retention(self, entry: Entry, now: int) -> float:
        return float(np.log1p(self.recalls(entry)) + (now - entry.updated) * np.log(self.decay))
