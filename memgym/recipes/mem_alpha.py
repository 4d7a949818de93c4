"""Mem-alpha recipe: an update-only core tier and Mem-alpha's reward, for both interfaces.

memgym's core already has tiers (``core`` always shown to the reader), the ``compression``
term (1 - memory tokens / stream tokens) and failed-op accounting. Mem-alpha adds:

- **an update-only core**: :class:`MemAlphaCore` starts every episode with one placeholder
  entry in each always-shown tier and refuses ``add`` to it and ``delete`` / ``evict`` /
  ``route`` of its entries (error ``core_update_only``); ``update`` rewrites it. The
  structured env masks those actions; the text env reports the error, as for any invalid op.
- **two reward terms at the end of an episode**, reported in ``info["reward_terms"]`` beside
  the core's: ``tool_success`` (share of ops that succeeded, Mem-alpha's tool-call reward)
  and ``content`` (share of memory entries whose source chunk belongs in their tier, from
  the episode's ``labels["kinds"]``; Mem-alpha judges this with an LLM).

``beta`` is the weight of the core's ``compression`` term.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from memgym.envs.core import MemoryCore, StepOutcome
from memgym.envs.memory import OpResult
from memgym.envs.structured import MemoryEnv
from memgym.envs.text import TextMemoryEnv
from memgym.tasks.mem_alpha_stream import TIER_OF_KIND

CORE_PLACEHOLDER = "Core memory: nothing yet."
CORE_RULE = ("the core tier is update-only: rewrite its entry with update, never add to it "
             "or delete it")


class MemAlphaCore(MemoryCore):
    """:class:`MemoryCore` with Mem-alpha's update-only core. It adds no state, so an env's
    core is switched to it in place (``core.__class__ = MemAlphaCore``)."""

    def core_tiers(self) -> set[str]:
        return {t.name for t in self.tiers if t.always_shown}

    def start(self, episode: Any) -> None:
        super().start(episode)
        for tier in sorted(self.core_tiers()):
            self.store.add(CORE_PLACEHOLDER, tier, source=None, step=0)

    def check(self, op: str, target: int | None = None, tier: str | None = None,
              *args: Any, **kwargs: Any) -> str | None:
        """The core's checks, after Mem-alpha's rule (extra arguments pass through)."""
        if not self.done and self.view.kind != "question":
            core = self.core_tiers()
            if op == "add" and (tier or self.default_tier) in core:
                return "core_update_only"
            entry = self.store.entries.get(target) if target is not None else None
            if op in ("delete", "evict", "route") and entry is not None and entry.tier in core:
                return "core_update_only"
        return super().check(op, target, tier, *args, **kwargs)

    def apply(self, op: str, **kwargs: Any) -> StepOutcome:
        outcome = super().apply(op, **kwargs)
        if outcome.result.error == "core_update_only":
            outcome.result = dataclasses.replace(outcome.result, message=CORE_RULE)
        return outcome


def content_validity(core: MemoryCore) -> float:
    """Share of non-placeholder entries whose source chunk's kind belongs in their tier
    (1.0 for an empty memory: nothing misfiled)."""
    kinds = core.episode.labels.get("kinds", [])
    entries = [e for e in core.store.entries.values() if e.text != CORE_PLACEHOLDER]
    if not entries:
        return 1.0
    valid = sum(e.source is not None and TIER_OF_KIND.get(kinds[e.source]) == e.tier
                for e in entries)
    return valid / len(entries)


class _MemAlphaRewards:
    """The end-of-episode terms, shared by both interfaces (mixed in before the env class,
    so these methods wrap the env's own ``__init__``, ``start_episode`` and ``step``)."""

    def __init__(self, *args: Any, tool_weight: float = 1.0, content_weight: float = 0.1,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._init_mem_alpha(tool_weight, content_weight)

    def _init_mem_alpha(self, tool_weight: float, content_weight: float) -> None:
        self.core.__class__ = MemAlphaCore  # same state, Mem-alpha's rules (see MemAlphaCore)
        self.tool_weight, self.content_weight = float(tool_weight), float(content_weight)
        self._ops = self._ops_ok = 0

    def start_episode(self, episode: Any) -> None:
        self._ops = self._ops_ok = 0
        super().start_episode(episode)

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = super().step(action)
        return obs, self._add_terms(reward, terminated, info), terminated, truncated, info

    def _add_terms(self, reward: float, terminated: bool, info: dict[str, Any]
                   ) -> float:
        self._ops += 1
        self._ops_ok += bool(info.get("ok"))
        terms = info.setdefault("reward_terms", {})
        terms["tool_success"] = terms["content"] = 0.0
        if terminated:
            tool = self.tool_weight * self._ops_ok / self._ops
            content = self.content_weight * content_validity(self.core)
            terms.update(tool_success=tool, content=content)
            reward += tool + content
        return reward


class MemAlphaEnv(_MemAlphaRewards, MemoryEnv):
    """Structured env (see :mod:`memgym.tasks.mem_alpha_stream` for the Gymnasium sections)."""

    def start_episode(self, episode: Any) -> None:
        super().start_episode(episode)
        store = self.core.store
        for entry in store.entries.values():  # the core placeholder: mirror it into a slot
            self.slots.apply("add", OpResult("add", True, entry.id), store, False,
                             self._features.features_of)

    def compute_action_mask(self) -> np.ndarray:
        mask = super().compute_action_mask()
        core_slots = np.isin(self.slot_tier, [self.tier_names.index(t)
                                              for t in self.core.core_tiers()])
        for op in ("delete", "evict", "route"):
            if op in self._op_index:
                rows = self._op_index[op]
                mask[rows] &= ~core_slots[self.action_args[rows]]
        return mask


class MemAlphaTextEnv(_MemAlphaRewards, TextMemoryEnv):
    """Text env: the same rules and reward terms, reported in words."""


def make_env(interface: str = "structured", beta: float = 0.05, tool_weight: float = 1.0,
             content_weight: float = 0.1, rewards: dict[str, Any] | None = None,
             **kwargs: Any) -> Any:
    """Entry point of ``memgym/MemAlpha-v0`` / ``memgym/MemAlpha-Text-v0``: ``beta`` is the
    weight of the compression term (it overrides ``rewards["compression"]``)."""
    if beta < 0 or tool_weight < 0 or content_weight < 0:
        raise ValueError("beta, tool_weight and content_weight must be >= 0")
    rewards = {**(rewards or {}), "compression": float(beta)}
    cls = {"structured": MemAlphaEnv, "text": MemAlphaTextEnv}.get(interface)
    if cls is None:
        raise ValueError(f"interface: {interface!r}; choose 'structured' or 'text'")
    return cls(rewards=rewards, tool_weight=tool_weight, content_weight=content_weight, **kwargs)


class FilingAgent:
    """A reference manager on the structured env that reads the chunk kinds from the labels:
    the profile rewrites the core entry, events go to episodic, facts to semantic, chatter is
    skipped. ``keep="important"`` stores only events / facts with an importance cue,
    ``keep="core"`` none of them. The three points bound the size / accuracy trade-off."""

    def __init__(self, keep: str = "all") -> None:
        if keep not in ("all", "important", "core"):
            raise ValueError(f"keep: {keep!r}; choose all, important or core")
        self.keep, self.name = keep, f"filing-{keep}"

    def reset(self, env: Any, seed: int | None = None) -> None:
        pass

    def act(self, obs: Any, info: dict[str, Any], env: Any) -> int:
        from memgym.tasks.mem_alpha_stream import IMPORTANT_MARKERS

        env = env.unwrapped
        view, mask = env.core.view, env.action_masks()
        if view.kind != "chunk":
            return 0
        kind = env.core.episode.labels["kinds"][view.source]
        if kind == "profile":
            core_slot = int(np.flatnonzero(env.slot_tier == env.tier_names.index("core"))[0])
            action = env.action_index[("update", core_slot, -1)]
        elif kind in ("event", "fact") and (
                self.keep == "all" or self.keep == "important" and view.text.startswith(
                    IMPORTANT_MARKERS)):
            action = env.action_index[("add", -1, env.tier_names.index(TIER_OF_KIND[kind]))]
        else:
            return 0
        return int(action) if mask[action] else 0
