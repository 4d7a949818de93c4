"""The evidence ledger of an episode: which chunks memory holds, for which questions.

Mixed into :class:`memgym.envs.core.MemoryCore`. Every op that stores or drops a chunk's content
calls :meth:`EvidenceLedger._source_moved`; the ledger keeps, per question, how much of its
evidence and how many conflicting chunks memory holds, the potential the ``shaping`` reward
term differences (:meth:`EvidenceLedger.potential`) and the removal counts the diagnostics
report. It reads ``self.reader`` (time-aware or not) and ``self.n_questions`` from the core.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from memgym.episode import Question


class EvidenceLedger:
    """Evidence and conflicts held per question, and the shaping potential over them."""

    reader: Any
    n_questions: int

    def _init_potential(self, questions: tuple[Question, ...]) -> None:
        self.roles: dict[int, list[tuple[int, int]]] = {}  # chunk -> [(question, +1/-1)]
        self.need = [len(set(q.evidence)) for q in questions]
        # A time-aware reader lets the latest statement win, so a kept value older than the
        # evidence no longer spoils the answer: only later conflicting chunks count then.
        time_aware = bool(getattr(self.reader, "time_aware", False))
        for i, q in enumerate(questions):
            for c in set(q.evidence):
                self.roles.setdefault(c, []).append((i, 1))
            latest = max(q.evidence, default=-1)
            for c in set(q.conflicting) - set(q.evidence):
                if not time_aware or c > latest:
                    self.roles.setdefault(c, []).append((i, -1))
        self.evidence_in = [0] * len(questions)
        self.conflicts_in = [0] * len(questions)
        self.answered = [False] * len(questions)
        self.sources_in: Counter[int] = Counter()
        self.ever_stored: set[int] = set()  # chunk ids ever held in memory (diagnostics)
        self.removals = 0  # entries whose content left memory (delete / evict / overwrite)
        self.needed_removals = 0  # ... while it was evidence of a question still to come
        self.removed_during: set[int] = set()  # chunks in view during a delete / evict
        self.ready_sum = sum(self._ready(i) for i in range(len(questions)))

    def _ready(self, q: int) -> float:
        """How answerable question ``q`` looks from memory: the share of its evidence kept,
        divided by 1 + the number of conflicting chunks kept (a stale value beside the fresh
        one makes the reader's answer ambiguous; for a time-aware reader only conflicting
        chunks later than the evidence count, see :meth:`_init_potential`). Dense on purpose:
        it pays for each piece of evidence and charges for each conflict, not only for the
        finished state."""
        need = self.need[q]
        kept = self.evidence_in[q] / need if need else 1.0
        return kept / (1 + self.conflicts_in[q])

    def is_ready(self, q: int) -> bool:
        """All evidence of ``q`` kept and nothing conflicting."""
        return self.evidence_in[q] == self.need[q] and self.conflicts_in[q] == 0

    def potential(self) -> float:
        return self.ready_sum / self.n_questions

    def _source_moved(self, source: int | None, delta: int) -> None:
        if source is None:
            return
        before = self.sources_in[source]
        self.sources_in[source] = before + delta
        if delta > 0:
            self.ever_stored.add(source)
        else:
            self.removals += 1
            if any(role > 0 and not self.answered[q] for q, role in self.roles.get(source, ())):
                self.needed_removals += 1
        if (before == 0) == (before + delta == 0):
            return  # presence unchanged
        for q, role in self.roles.get(source, ()):
            was = self._ready(q)
            counts = self.evidence_in if role > 0 else self.conflicts_in
            counts[q] += 1 if delta > 0 else -1
            if not self.answered[q]:
                self.ready_sum += self._ready(q) - was
