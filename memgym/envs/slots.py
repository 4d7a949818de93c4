"""The structured env's slot table: fixed-size per-slot arrays mirroring the store.

Memory entries live in :class:`memgym.envs.memory.MemoryStore`; a policy sees them as
``n_slots`` rows (tier blocks, in tier order). This table assigns entries to slots and keeps
each slot's text features and numbers in arrays, updated only when an op changes that slot;
the observation reads them in compiled code (:mod:`memgym.envs.observe_kernel`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from memgym.envs.features import TextFeatures

OPS_THAT_MOVE_ENTRIES = ("add", "update", "delete", "evict", "route")


class SlotTable:
    def __init__(self, slot_tier: np.ndarray, n_tiers: int, bow_dim: int) -> None:
        self.slot_tier = slot_tier  # tier index of each slot
        self.n, self.n_tiers, self.bow_dim = len(slot_tier), n_tiers, bow_dim
        self.reset()

    def reset(self) -> None:
        n = self.n
        self.entry = np.full(n, -1, dtype=np.int64)  # entry id per slot, -1 when free
        self.source = np.full(n, -1, dtype=np.int64)  # the chunk the entry holds, -1 when free
        self.bow = np.zeros((n, self.bow_dim), dtype=np.float32)
        self.count = np.zeros(n, dtype=np.float32)
        self.hedged = np.zeros(n, dtype=np.float32)
        self.ids = np.full((4, n), -1, dtype=np.int64)  # key, subject, attribute, value ids
        self.num = np.zeros((4, n), dtype=np.float32)  # created, updated, hits, tokens
        self.entry_slot: dict[int, int] = {}

    def apply(self, op: str, result: Any, store: Any, answered: bool,
              features_of: Any) -> None:
        """Mirror a store op (``features_of(text, source) -> TextFeatures``)."""
        if result.ok and result.entry_id is not None and op in OPS_THAT_MOVE_ENTRIES:
            entry_id = result.entry_id
            if op in ("delete", "evict"):
                self.free(self.entry_slot.pop(entry_id))
            else:
                entry = store.entries[entry_id]
                if op != "update":
                    if op == "route":
                        self.free(self.entry_slot.pop(entry_id))
                    tier = store.tiers.position[entry.tier]
                    self.entry_slot[entry_id] = self.free_slot(tier)
                self.fill(self.entry_slot[entry_id], entry, features_of(entry.text, entry.source))
        if answered:  # the reader read memory: hit counts changed
            for entry_id, slot in self.entry_slot.items():
                self.num[2, slot] = store.entries[entry_id].hits

    def free_slot(self, tier: int) -> int:
        return int(np.flatnonzero((self.slot_tier == tier) & (self.entry < 0))[0])

    def free(self, slot: int) -> None:
        self.entry[slot] = self.source[slot] = -1
        self.bow[slot] = 0.0
        self.count[slot] = self.hedged[slot] = 0.0
        self.ids[:, slot] = -1
        self.num[:, slot] = 0.0

    def fill(self, slot: int, entry: Any, feats: TextFeatures) -> None:
        self.entry[slot] = entry.id
        # a structured env's entries always hold a chunk's text (added from the view)
        self.source[slot] = -1 if entry.source is None else entry.source
        self.bow[slot] = feats.bow[0]
        self.count[slot] = feats.count[0]
        self.hedged[slot] = feats.hedged[0]
        self.ids[:, slot] = [feats.key[0], feats.subject[0], feats.attribute[0], feats.value[0]]
        self.num[:, slot] = (entry.created, entry.updated, entry.hits, entry.tokens)
