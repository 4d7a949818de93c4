"""The bounded memory store: tiers of entries, an archive of evicted entries, the stream log.

Every operation validates its arguments and returns an :class:`OpResult`; nothing here raises
on a bad request, so an agent's mistake can never crash an environment. Capacity is checked in
entries and (optionally) tokens per tier. Semantics (DESIGN.md §3):

- ``add(text, tier)``: new entry with a fresh id; fails when the tier is full.
- ``update(id, text)``: overwrite an entry's text in place (id and tier kept).
- ``delete(id)``: remove permanently.
- ``evict(id)``: move to the archive (recoverable by ``recall_archived``); the archive keeps at
  most ``archive_capacity`` entries and drops the oldest beyond that.
- ``route(id, tier)``: move an entry to another tier.
- ``invalidate(id)``: mark an entry no longer true (Zep / Graphiti keep an old fact with an
  end of validity instead of deleting it): it stays in memory and takes its room, the reader
  no longer reads it, and an ``update`` of it makes it valid again with the new text.
- ``recall_archived(id)`` / ``recall_chunk(chunk id)``: the text of an archived entry or a
  past chunk, to bring back into view (the reread op); memory itself is unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from memgym.episode import Chunk
from memgym.facts import tokenize

#: The operations of DESIGN.md §3, in the order the action spaces list them (``invalidate``
#: last: an op added later, so the layouts of envs without it stay as they were).
OPS: tuple[str, ...] = ("noop", "add", "update", "delete", "evict", "route", "reread",
                        "invalidate")

#: Default tiers: ``core`` is always shown to the reader; capacities in entries and tokens.
DEFAULT_TIERS: dict[str, dict[str, Any]] = {
    "core": {"entries": 2, "tokens": 64, "always_shown": True},
    "episodic": {"entries": 8, "tokens": None},
    "semantic": {"entries": 4, "tokens": None},
}


def count_tokens(text: str) -> int:
    return len(tokenize(text))


@dataclass(frozen=True)
class TierSpec:
    name: str
    entries: int
    tokens: int | None = None
    always_shown: bool = False

    def __post_init__(self) -> None:
        if self.entries < 1:
            raise ValueError(f"tier {self.name!r}: entries must be >= 1, got {self.entries}")
        if self.tokens is not None and self.tokens < 1:
            raise ValueError(f"tier {self.name!r}: tokens must be >= 1 or null, got {self.tokens}")


class TierLayout(tuple):
    """The parsed tier spec: a tuple of :class:`TierSpec` plus the arrays every layer reads
    (the store, the structured env's slots and mask, the batched env), computed once here.

    Slots are laid out tier by tier: the first ``entries[0]`` slots belong to tier 0, etc."""

    def __new__(cls, specs: tuple[TierSpec, ...]) -> TierLayout:
        layout = super().__new__(cls, specs)
        layout.names = tuple(t.name for t in specs)
        if len(set(layout.names)) != len(layout.names):
            raise ValueError("tier names must be unique")
        layout.by_name = {t.name: t for t in specs}
        layout.position = {t.name: i for i, t in enumerate(specs)}
        layout.entries = np.array([t.entries for t in specs], dtype=np.int64)
        layout.token_caps = np.array([t.tokens or np.inf for t in specs], dtype=np.float64)
        layout.always_shown = np.array([t.always_shown for t in specs], dtype=bool)
        layout.slot_tier = np.repeat(np.arange(len(specs)), layout.entries)
        layout.n_slots = int(layout.entries.sum())
        #: Where an add with no tier goes: the first tier not always shown.
        layout.default = next((t.name for t in specs if not t.always_shown), specs[0].name)
        return layout

    def __reduce__(self) -> tuple[Any, ...]:  # pickles (subprocess workers) as its specs
        return (TierLayout, (tuple(self),))


def parse_tiers(tiers: dict[str, dict[str, Any]] | TierLayout | None) -> TierLayout:
    """Validate a ``{"name": {"entries": n, "tokens": m, "always_shown": b}}`` mapping; the one
    place a tier spec is read (a :class:`TierLayout` passes through)."""
    if isinstance(tiers, TierLayout):
        return tiers
    tiers = DEFAULT_TIERS if tiers is None else tiers
    if not tiers:
        raise ValueError("tiers: at least one tier is needed")
    specs = []
    for name, spec in tiers.items():
        unknown = set(spec) - {"entries", "tokens", "always_shown"}
        if unknown:
            raise ValueError(f"tiers.{name}: unknown keys {sorted(unknown)}")
        if "entries" not in spec:
            raise ValueError(f"tiers.{name}: 'entries' is required")
        specs.append(TierSpec(name, int(spec["entries"]), spec.get("tokens"),
                              bool(spec.get("always_shown", False))))
    return TierLayout(tuple(specs))


@dataclass
class Entry:
    id: int
    text: str
    tier: str
    source: int | None
    created: int
    updated: int
    tokens: int
    hits: int = 0
    last_used: int = 0
    #: Stream time of the content: the chunk in view when it was written (a time-aware reader
    #: lets the latest of conflicting facts win); None when nothing was in view.
    time: int | None = None
    #: Step at which the entry was invalidated (kept, no longer read); None while valid.
    invalidated: int | None = None


@dataclass(frozen=True)
class OpResult:
    """What an operation did. ``error`` is a stable code, ``message`` says it in words."""

    op: str
    ok: bool
    entry_id: int | None = None
    error: str | None = None
    message: str = ""
    view: str | None = None
    view_source: int | None = None


def _fail(op: str, error: str, message: str) -> OpResult:
    return OpResult(op=op, ok=False, error=error, message=message)


@dataclass
class MemoryStore:
    tiers: TierLayout
    archive_capacity: int | None = None
    entries: dict[int, Entry] = field(default_factory=dict)
    archive: dict[int, Entry] = field(default_factory=dict)
    log: list[Chunk] = field(default_factory=list)
    next_id: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.tiers, TierLayout):
            self.tiers = TierLayout(tuple(self.tiers))
        self.tier_specs = self.tiers.by_name
        self.tier_entries = {t.name: 0 for t in self.tiers}
        self.tier_tokens = {t.name: 0 for t in self.tiers}

    # -- queries -------------------------------------------------------------------------
    def room(self, tier: str, tokens: int, replacing: Entry | None = None) -> str | None:
        """``None`` when an entry of ``tokens`` fits in ``tier`` (else an error code);
        ``replacing`` is the entry whose text it would replace (an update)."""
        spec = self.tier_specs.get(tier)
        if spec is None:
            return "unknown_tier"
        if replacing is None and self.tier_entries[tier] >= spec.entries:
            return "tier_full"
        freed = replacing.tokens if replacing is not None else 0
        if spec.tokens is not None and self.tier_tokens[tier] - freed + tokens > spec.tokens:
            return "over_token_budget"
        return None

    def total_tokens(self) -> int:
        return sum(self.tier_tokens.values())

    def texts(self) -> list[str]:
        return [e.text for e in self.entries.values()]

    # -- operations ----------------------------------------------------------------------
    def add(self, text: str, tier: str, *, source: int | None, step: int,
            time: int | None = None) -> OpResult:
        if not text.strip():
            return _fail("add", "empty_text", "cannot add an empty entry")
        tokens = count_tokens(text)
        error = self.room(tier, tokens)
        if error:
            return _fail("add", error, self._room_message(tier, tokens, error))
        entry = Entry(self.next_id, text, tier, source, step, step, tokens, last_used=step,
                      time=time)
        self.next_id += 1
        self.entries[entry.id] = entry
        self.tier_entries[tier] += 1
        self.tier_tokens[tier] += tokens
        return OpResult("add", True, entry.id, message=f"added entry {entry.id} to {tier}")

    def update(self, entry_id: int, text: str, *, source: int | None, step: int,
               time: int | None = None) -> OpResult:
        entry = self.entries.get(entry_id)
        if entry is None:
            return _fail("update", "unknown_id", f"no entry with id {entry_id} in memory")
        if not text.strip():
            return _fail("update", "empty_text", "cannot update an entry to empty text")
        tokens = count_tokens(text)
        error = self.room(entry.tier, tokens, replacing=entry)
        if error:
            return _fail("update", error, self._room_message(entry.tier, tokens, error))
        self.tier_tokens[entry.tier] += tokens - entry.tokens
        entry.text, entry.tokens, entry.source, entry.time = text, tokens, source, time
        entry.updated = entry.last_used = step
        entry.invalidated = None
        return OpResult("update", True, entry_id, message=f"updated entry {entry_id}")

    def delete(self, entry_id: int) -> OpResult:
        entry = self._pop(entry_id)
        if entry is None:
            return _fail("delete", "unknown_id", f"no entry with id {entry_id} in memory")
        return OpResult("delete", True, entry_id, message=f"deleted entry {entry_id}")

    def evict(self, entry_id: int) -> OpResult:
        entry = self._pop(entry_id)
        if entry is None:
            return _fail("evict", "unknown_id", f"no entry with id {entry_id} in memory")
        self.archive[entry.id] = entry
        if self.archive_capacity is not None and len(self.archive) > self.archive_capacity:
            del self.archive[next(iter(self.archive))]
        return OpResult("evict", True, entry_id, message=f"archived entry {entry_id}")

    def invalidate(self, entry_id: int, *, step: int) -> OpResult:
        entry = self.entries.get(entry_id)
        if entry is None:
            return _fail("invalidate", "unknown_id", f"no entry with id {entry_id} in memory")
        if entry.invalidated is not None:
            return _fail("invalidate", "already_invalid",
                         f"entry {entry_id} was invalidated at step {entry.invalidated}")
        entry.invalidated = step
        return OpResult("invalidate", True, entry_id,
                        message=f"invalidated entry {entry_id} (kept, no longer read)")

    def valid_entries(self) -> list[Entry]:
        """The entries a reader reads: all but the invalidated ones, in memory order."""
        return [e for e in self.entries.values() if e.invalidated is None]

    def route(self, entry_id: int, tier: str) -> OpResult:
        entry = self.entries.get(entry_id)
        if entry is None:
            return _fail("route", "unknown_id", f"no entry with id {entry_id} in memory")
        if tier == entry.tier:
            return _fail("route", "same_tier", f"entry {entry_id} is already in {tier}")
        error = self.room(tier, entry.tokens)
        if error:
            return _fail("route", error, self._room_message(tier, entry.tokens, error))
        self.tier_entries[entry.tier] -= 1
        self.tier_tokens[entry.tier] -= entry.tokens
        entry.tier = tier
        self.tier_entries[tier] += 1
        self.tier_tokens[tier] += entry.tokens
        return OpResult("route", True, entry_id, message=f"moved entry {entry_id} to {tier}")

    def recall_archived(self, entry_id: int) -> OpResult:
        entry = self.archive.get(entry_id)
        if entry is None:
            return _fail("reread", "unknown_id", f"no archived entry with id {entry_id}")
        return OpResult("reread", True, entry_id, message=f"recalled archived entry {entry_id}",
                        view=entry.text, view_source=entry.source)

    def recall_chunk(self, chunk_id: int) -> OpResult:
        if not 0 <= chunk_id < len(self.log):
            return _fail("reread", "unknown_chunk",
                         f"no past chunk with id {chunk_id} (0..{len(self.log) - 1} were seen)")
        chunk = self.log[chunk_id]
        return OpResult("reread", True, None, message=f"recalled chunk {chunk_id}",
                        view=chunk.render(), view_source=chunk.id)

    # -- bookkeeping ---------------------------------------------------------------------
    def _pop(self, entry_id: int) -> Entry | None:
        entry = self.entries.pop(entry_id, None)
        if entry is not None:
            self.tier_entries[entry.tier] -= 1
            self.tier_tokens[entry.tier] -= entry.tokens
        return entry

    def _room_message(self, tier: str, tokens: int, error: str) -> str:
        if error == "unknown_tier":
            return f"unknown tier {tier!r}; tiers are {', '.join(self.tier_specs)}"
        spec = self.tier_specs[tier]
        if error == "tier_full":
            return f"tier {tier} is full ({spec.entries} entries)"
        return (f"tier {tier} has {spec.tokens} tokens, {self.tier_tokens[tier]} used; "
                f"the text needs {tokens}")

    def snapshot(self) -> dict[str, Any]:
        """A copy of the state, for tests that check an op changed nothing."""
        return {
            "entries": {k: replace(v) for k, v in self.entries.items()},
            "archive": dict(self.archive),
            "tier_entries": dict(self.tier_entries),
            "tier_tokens": dict(self.tier_tokens),
            "next_id": self.next_id,
        }

    def check_invariants(self) -> None:
        """Raise ``AssertionError`` naming the first broken invariant."""
        for spec in self.tiers:
            members = [e for e in self.entries.values() if e.tier == spec.name]
            assert len(members) == self.tier_entries[spec.name], f"{spec.name}: entry count"
            assert len(members) <= spec.entries, f"{spec.name}: over entry capacity"
            tokens = sum(e.tokens for e in members)
            assert tokens == self.tier_tokens[spec.name], f"{spec.name}: token count"
            assert spec.tokens is None or tokens <= spec.tokens, f"{spec.name}: over tokens"
        assert all(e.tier in self.tier_specs for e in self.entries.values()), "unknown tier"
        assert not set(self.entries) & set(self.archive), "entry both in memory and archive"
        assert all(i < self.next_id for i in (*self.entries, *self.archive)), "id reuse"
        if self.archive_capacity is not None:
            assert len(self.archive) <= self.archive_capacity, "archive over capacity"
        assert all(c.id == i for i, c in enumerate(self.log)), "stream log out of order"
