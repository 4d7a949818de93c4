"""Memory-R1 recipe: the MERGE form of UPDATE for small policies, plus its heuristic managers.

Memory-R1's UPDATE is written by an LLM, which can overwrite a stale value or *merge* a second,
different fact into an entry ("Buddy" + "another dog, Scout" -> "two dogs, Buddy and Scout").
memgym's core ``update`` overwrites an entry with the text in view, so a small policy could
only overwrite. :class:`MemoryR1Env` keeps every existing action unchanged and appends
``merge slot k``: an ``update`` whose new text is :func:`merge_text` of the entry and the turn
in view, so both facts survive and the reader sees one entry with both values. In the text
interface no extra tool is needed: ``update_memory(id, text=...)`` takes the merged text the
model writes.

Agents (structured env): :class:`OverwriteHeuristic` is the vanilla manager the paper
compares against (a new value for a known pair is a contradiction: overwrite it);
:class:`MemoryR1Oracle` reads the episode labels and plays each story's right op (upper bound).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

from memgym.envs.action_layout import set_action_layout
from memgym.envs.memory import count_tokens
from memgym.envs.structured import MemoryEnv
from memgym.envs.text import TextMemoryEnv
from memgym.facts import extract_fact, normalize, parse_question


def merge_text(old: str, new: str) -> str:
    """The entry ``old`` with the fact of ``new`` combined into it, so both facts survive.

    Same (subject, attribute) on both sides: one sentence listing both values
    (``"Ann Lee's hobby is tennis and chess."``; a value already listed is not repeated).
    Otherwise the two texts are kept side by side.
    """
    a, b = extract_fact(old), extract_fact(new)
    if a is not None and b is not None and a.key == b.key:
        values = [v.strip() for v in a.value.split(" and ")]
        if normalize(b.value) not in {normalize(v) for v in values}:
            values.append(b.value.strip())
        return f"{a.subject}'s {a.attribute} is {' and '.join(values)}."
    return f"{old.rstrip()} {new.strip()}"


class MemoryR1Env(MemoryEnv):
    """:class:`MemoryEnv` with ``merge slot k`` actions appended (see the module doc and
    :mod:`memgym.tasks.memory_r1_stream` for the Gymnasium sections). A merge is offered (unmasked)
    only on an entry whose parsed fact names the same (subject, attribute) as the turn in view:
    the "related memory" Memory-R1 shows its manager; merging unrelated texts could only bury
    a fact. ``merge=False`` gives the plain env (overwrite-only UPDATE) on the same streams."""

    def __init__(self, *args: Any, merge: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.merge_enabled = merge and "update" in self.core.ops
        if self.merge_enabled:
            set_action_layout(
                self, [*self.action_names, *(f"merge slot {k}" for k in range(self.n_slots))],
                [*self.action_table, *(("merge", k, -1) for k in range(self.n_slots))])
            self.action_space = spaces.Discrete(len(self.action_table))
        self.merges = 0

    def start_episode(self, episode: Any) -> None:
        self.merges = 0
        super().start_episode(episode)

    def decode(self, action: Any) -> tuple[str, dict[str, Any]]:
        if not self._is_merge(action):
            return super().decode(action)
        slot = int(self.action_args[int(action)])
        entry_id = int(self.slot_entry[slot]) if self.core.episode else -1
        entry = self.core.store.entries.get(entry_id)
        if entry is None or not self.action_masks()[int(action)]:
            return "update", {"target": None}  # the core reports unknown_id: invalid, no change
        return "update", {"target": entry_id, "text": merge_text(entry.text, self.core.view.text)}

    def step(self, action: Any) -> tuple[dict[str, np.ndarray], float, bool, bool, dict]:
        merging = self._is_merge(action)
        obs, reward, terminated, truncated, info = super().step(action)
        if merging and info.get("ok"):
            self.merges += 1
        info["merge"] = merging
        return obs, reward, terminated, truncated, info

    def _is_merge(self, action: Any) -> bool:
        try:
            a = int(action)
        except (TypeError, ValueError):
            return False
        return 0 <= a < len(self.action_table) and self.action_table[a][0] == "merge"

    def compute_action_mask(self) -> np.ndarray:
        mask = super().compute_action_mask()
        if not self.merge_enabled:
            return mask
        rows = self._op_index["merge"]
        core = self.core
        view_fact = extract_fact(core.view.text) if not core.done else None
        if view_fact is None or core.view.kind not in ("chunk", "recalled"):
            mask[rows] = False
            return mask
        store = core.store
        for row in rows:
            entry = store.entries.get(int(self.slot_entry[self.action_args[row]]))
            fact = extract_fact(entry.text) if entry is not None else None
            mask[row] = fact is not None and fact.key == view_fact.key and store.room(
                entry.tier, count_tokens(merge_text(entry.text, core.view.text)),
                replacing=entry) is None
        return mask


def make_env(interface: str = "structured", merge: bool = True, **kwargs: Any) -> Any:
    """Entry point of ``memgym/MemoryR1-v0`` (structured) and ``memgym/MemoryR1-Text-v0``."""
    if interface == "structured":
        return MemoryR1Env(merge=merge, **kwargs)
    if interface == "text":
        return TextMemoryEnv(**kwargs)
    raise ValueError(f"interface: {interface!r}; choose 'structured' or 'text'")


# -- agents ------------------------------------------------------------------------------------
class _SlotAgent:
    """Shared helpers: the slot holding a (subject, attribute) pair, action lookup."""

    name = "memory_r1_base"

    def reset(self, env: Any, seed: int | None = None) -> None:
        pass

    @staticmethod
    def slot_with_key(env: Any, key: str) -> int | None:
        entries = env.core.store.entries
        for k in np.flatnonzero(env.slot_entry >= 0):
            fact = extract_fact(entries[int(env.slot_entry[k])].text)
            if fact is not None and fact.key == key:
                return int(k)
        return None

    @staticmethod
    def view_key(text: str) -> tuple[str | None, bool]:
        """(pair key of the turn, whether it states a fact) from visible text only."""
        fact = extract_fact(text)
        if fact is not None:
            return fact.key, True
        parsed = parse_question(text)
        if parsed is not None:
            return f"{normalize(parsed[0])}|{parsed[1][0]}", False
        return None, False

    def pick(self, env: Any, mask: np.ndarray, *choices: tuple[str, int]) -> int:
        for op, slot in choices:
            tier = 0 if op == "add" else -1
            a = env.action_index.get((op, -1 if op == "add" else slot, tier))
            if a is not None and mask[a]:
                return int(a)
        return 0


class OverwriteHeuristic(_SlotAgent):
    """The vanilla manager: a fact about a known pair replaces it (UPDATE as overwrite), a fact
    about a new pair is added (the oldest entry is overwritten when memory is full), a
    retraction deletes the pair, anything else is NOOP. Never merges."""

    name = "heuristic"

    def act(self, obs: Any, info: dict[str, Any], env: Any) -> int:
        env = env.unwrapped
        mask = env.action_masks()
        key, is_fact = self.view_key(env.core.view.text)
        if key is None:
            return 0
        slot = self.slot_with_key(env, key)
        if not is_fact:
            return self.pick(env, mask, ("delete", slot)) if slot is not None else 0
        if slot is not None:
            return self.pick(env, mask, ("update", slot))
        oldest = min(np.flatnonzero(env.slot_entry >= 0), key=lambda k: env.slot_num[0, k],
                     default=-1)
        return self.pick(env, mask, ("add", -1), ("update", int(oldest)))


class MemoryR1Oracle(_SlotAgent):
    """Reads the story labels (``episode.labels["kinds"]``): add a first statement, overwrite a
    change, merge an addition, delete a retraction, skip chatter. The upper bound."""

    name = "oracle"

    def act(self, obs: Any, info: dict[str, Any], env: Any) -> int:
        env = env.unwrapped
        mask = env.action_masks()
        view = env.core.view
        if view.kind != "chunk":
            return 0
        kind = env.core.episode.labels["kinds"][view.source]
        key, _ = self.view_key(view.text)
        slot = self.slot_with_key(env, key) if key is not None else None
        if kind == "state":
            return self.pick(env, mask, ("add", -1))
        if slot is None:
            return 0
        op = {"change": "update", "merge": "merge", "retract": "delete"}[kind]
        return self.pick(env, mask, (op, slot))
