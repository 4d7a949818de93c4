"""ADD-only memory (mem0's current design): every fact is added, nothing is ever updated.

mem0's memory layer moved to an ADD-only write path: new facts are appended and time-aware
retrieval lets the latest statement win, instead of an LLM deciding UPDATE / DELETE. With
memgym's default reader, which breaks ties by text and never by time, such a memory scores
as stale (the old and the new value are both read); with ``reader_params: {time_aware:
true}`` (:class:`memgym.rewards.reader.RankingReader`) it reads as mem0 intends.

:class:`AddOnlyAgent` (``add_only``) adds every chunk the salience rule of
:mod:`memgym.agents.baselines` keeps (a parsed fact, not hedged), never rewrites an entry for
its content, and when memory is full makes room by overwriting the entry written longest ago
(a bounded memory must drop something; mem0's is unbounded).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from memgym.agents.baselines import BaselineAgent, salience

#: The salience score a chunk needs to be stored (the salience baseline's threshold).
KEEP_THRESHOLD = 0.5


class AddOnlyAgent(BaselineAgent):
    """Append every salient chunk; when full, overwrite the oldest-written entry."""

    name = "add_only"

    def choose(self, env: Any, mask: np.ndarray) -> int | None:
        if salience(env.core.view.text) <= KEEP_THRESHOLD:
            return 0
        return self.admit_or_replace(env, mask, lambda k: env.slot_num[1, k])  # updated step
