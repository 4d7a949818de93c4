"""Baseline memory managers for the structured environment.

All act through the env's flat action space (so they obey the same masks and budgets as a
learned policy) and read its state through ``env.unwrapped``. Only the oracle reads labels:
it keeps exactly the evidence of questions still to come, which makes it the upper bound at
the same budget. The heuristics replace memory by overwriting (``update``) when full, the
one-op equivalent of evict-then-add.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator, MutableMapping
from typing import Any, Protocol

import numpy as np

from memgym.envs.text_features import SURFACE_CUES, surface_cues
from memgym.facts import extract_fact, is_hedged
from memgym.rewards.metrics import score_answer

_WORD = re.compile(r"[a-z]+")


class Agent(Protocol):
    name: str

    def reset(self, env: Any, seed: int | None = None) -> None: ...

    def act(self, obs: Any, info: dict[str, Any], env: Any) -> int: ...


class BaselineAgent:
    """Helpers shared by the heuristics: free room, the current view, action lookup."""

    name = "baseline"
    #: The action layout this baseline plays: an env's ``action_layout`` (the structured
    #: env's memory ops are ``"memory"``; a recipe with its own action space names its own).
    acts_on = "memory"

    def reset(self, env: Any, seed: int | None = None) -> None:
        base = env.unwrapped
        layout = getattr(base, "action_layout", "memory")
        if layout != self.acts_on:  # e.g. fifo on LTS-Admission's skip / admit
            env_id = base.spec.id if base.spec is not None else type(base).__name__
            names = list(getattr(base, "action_names", []))
            listed = f": {', '.join(map(str, names))}" \
                if len(names) == getattr(base.action_space, "n", None) and len(names) <= 8 else ""
            raise ValueError(f"baseline {self.name!r} plays {self.acts_on!r} actions; {env_id} "
                             f"takes {layout!r} actions ({base.action_space}{listed}); "
                             "use a baseline made for it")
        self.rng = np.random.default_rng(seed)

    def act(self, obs: Any, info: dict[str, Any], env: Any) -> int:
        env = env.unwrapped
        mask = env.action_masks()
        if env.core.view.kind == "question":
            return self.route_question(env, mask)
        choice = self.choose(env, mask)
        return choice if choice is not None and mask[choice] else 0

    def choose(self, env: Any, mask: np.ndarray) -> int | None:
        raise NotImplementedError

    def route_question(self, env: Any, mask: np.ndarray) -> int:
        return int(np.flatnonzero(mask)[0])  # the first (cheapest-listed) retrieval tier

    # -- helpers -------------------------------------------------------------------------
    @staticmethod
    def add_action(env: Any, mask: np.ndarray) -> int | None:
        for t in range(len(env.tier_names)):
            a = env.action_index.get(("add", -1, t))
            if a is not None and mask[a] and not env.core.tiers[t].always_shown:
                return a
        return None

    @staticmethod
    def overwrite_action(env: Any, slot: int) -> int | None:
        return env.action_index.get(("update", slot, -1))

    @staticmethod
    def occupied_slots(env: Any) -> np.ndarray:
        return np.flatnonzero(env.slot_entry >= 0)

    def admit_or_replace(self, env: Any, mask: np.ndarray, victim_key: Any) -> int | None:
        """Add when there is room, else overwrite the slot that minimises ``victim_key``."""
        add = self.add_action(env, mask)
        if add is not None:
            return add
        slots = [k for k in self.occupied_slots(env)
                 if (a := self.overwrite_action(env, k)) is not None and mask[a]]
        if not slots:
            return None
        return self.overwrite_action(env, min(slots, key=victim_key))


class RandomAgent(BaselineAgent):
    """Uniform over valid actions."""

    name = "random"

    def act(self, obs: Any, info: dict[str, Any], env: Any) -> int:
        return int(self.rng.choice(np.flatnonzero(env.unwrapped.action_masks())))


class KeepUntilFullAgent(BaselineAgent):
    """Store every chunk while there is room, then keep nothing more."""

    name = "keep"

    def choose(self, env: Any, mask: np.ndarray) -> int | None:
        return self.add_action(env, mask)


class FIFOAgent(BaselineAgent):
    """Store every chunk; when full, overwrite the entry written longest ago (an overwrite
    renews the slot, so memory holds the most recent chunks)."""

    name = "fifo"

    def choose(self, env: Any, mask: np.ndarray) -> int | None:
        return self.admit_or_replace(env, mask, lambda k: env.slot_num[1, k])  # updated step


class LRUAgent(BaselineAgent):
    """Store every chunk; when full, overwrite the least recently used entry (reads by the
    reader at mid-stream questions count as use)."""

    name = "lru"

    def choose(self, env: Any, mask: np.ndarray) -> int | None:
        store = env.core.store
        return self.admit_or_replace(
            env, mask, lambda k: store.entries[int(env.slot_entry[k])].last_used)


def salience(text: str) -> float:
    """How worth keeping a text looks: a parsed fact, few hedges, some substance."""
    words = _WORD.findall(text.lower())
    hedged = is_hedged(text)
    return (2.0 if extract_fact(text) else 0.0) - (3.0 if hedged else 0.0) + min(len(words), 20) / 20


class SalienceAgent(BaselineAgent):
    """Keep salient text (parsed facts, no hedging); overwrite a same-key entry with the new
    value, else the least salient entry when the newcomer is more salient."""

    name = "salience"

    def choose(self, env: Any, mask: np.ndarray) -> int | None:
        text = env.core.view.text
        score = salience(text)
        if score <= 0.5:
            return 0
        fact = extract_fact(text)
        if fact is not None:
            for k in self.occupied_slots(env):
                other = extract_fact(env.core.store.entries[int(env.slot_entry[k])].text)
                if other is not None and other.key == fact.key:
                    return self.overwrite_action(env, k)
        add = self.add_action(env, mask)
        if add is not None:
            return add
        entries = env.core.store.entries
        weakest = min(self.occupied_slots(env),
                      key=lambda k: salience(entries[int(env.slot_entry[k])].text), default=None)
        if weakest is None or salience(entries[int(env.slot_entry[weakest])].text) >= score:
            return 0
        return self.overwrite_action(env, weakest)


class OracleAgent(BaselineAgent):
    """Keeps exactly the evidence of questions still to be asked (reads the labels): the
    upper bound at the same budget. Replaces stale or unneeded entries first."""

    name = "oracle"

    def choose(self, env: Any, mask: np.ndarray) -> int | None:
        core = env.core
        needed = self.needed_chunks(core)
        source = core.view.source
        if source not in needed:
            return 0
        if core.sources_in[source] > 0:
            return 0  # already kept
        entries = core.store.entries
        useless = [k for k in self.occupied_slots(env)
                   if entries[int(env.slot_entry[k])].source not in needed]
        conflicting = self.conflicting_chunks(core)
        useless.sort(key=lambda k: entries[int(env.slot_entry[k])].source not in conflicting)
        for k in useless:  # conflicting (stale) entries first: they make answers ambiguous
            a = self.overwrite_action(env, k)
            if a is not None and mask[a]:
                return a
        return self.add_action(env, mask)

    @staticmethod
    def needed_chunks(core: Any) -> set[int]:
        questions = core.episode.questions
        return {c for i, q in enumerate(questions) if not core.answered[i] for c in q.evidence}

    @staticmethod
    def conflicting_chunks(core: Any) -> set[int]:
        questions = core.episode.questions
        return {c for i, q in enumerate(questions) if not core.answered[i] for c in q.conflicting}

    def route_question(self, env: Any, mask: np.ndarray) -> int:
        """The cheapest retrieval tier whose reader answers correctly (else the cheapest)."""
        core = env.core
        question = core.episode.questions[core.view.question]
        tiers = sorted(core.retrieval_tiers, key=lambda t: core.retrieval_tiers[t].get("cost", 0))
        for tier in tiers:
            texts, shown = core.retrieval_pool(tier)
            reply = core.retrieval_readers[tier].answer_all([question.text], texts, shown)[0]
            if score_answer(reply, question.answers, core.metric) > 0:
                return env.action_index[("answer", list(core.retrieval_tiers).index(tier), -1)]
        return env.action_index[("answer", list(core.retrieval_tiers).index(tiers[0]), -1)]


#: Every baseline by name, as ``"module:Class"`` (one table, like the readers'): a class loads
#: when first used, so a recipe's baselines need no import side effect to be found.
BASELINE_PATHS: dict[str, str] = {
    "random": "memgym.agents.baselines:RandomAgent",
    "keep": "memgym.agents.baselines:KeepUntilFullAgent",
    "fifo": "memgym.agents.baselines:FIFOAgent",
    "lru": "memgym.agents.baselines:LRUAgent",
    "salience": "memgym.agents.baselines:SalienceAgent",
    "oracle": "memgym.agents.baselines:OracleAgent",
    "recency": "memgym.agents.baselines:RecencyWeightedAgent",
    "longest": "memgym.agents.baselines:LongestAgent",
    "novelty": "memgym.agents.baselines:NoveltyAgent",
    "ebbinghaus": "memgym.agents.forgetting:EbbinghausAgent",
    "age_weighted": "memgym.agents.forgetting:AgeWeightedAgent",
    "add_only": "memgym.agents.append_only:AddOnlyAgent",
    "invalidate": "memgym.agents.append_only:InvalidateAgent",
    # recipe baselines (LTS admission control, TRIM-KV eviction)
    "admit_all": "memgym.recipes.lts:AdmitAllAgent",
    "admit_none": "memgym.recipes.lts:AdmitNoneAgent",
    "admit_facts": "memgym.recipes.lts:AdmitFactsAgent",
    "admit_random": "memgym.recipes.lts:RandomAdmissionAgent",
    "fifo_write": "memgym.recipes.trim_kv:WriteOrderFIFOAgent",
    # MemReread: answer / reread_pass per question
    "no_reread": "memgym.recipes.memreread:NoRereadAgent",
    "reread_1": "memgym.recipes.memreread:OnePassAgent",
    "reread_2": "memgym.recipes.memreread:TwoPassesAgent",
    "reread_3": "memgym.recipes.memreread:ThreePassesAgent",
    "reread_until": "memgym.recipes.memreread:UntilResolvedAgent",
    # learned-reader recipes: pick / answer per question (memgym.recipes.selector)
    "select_top_k": "memgym.recipes.selector:TopKSelector",
    "select_top_1": "memgym.recipes.selector:TopOneSelector",
    "select_budget": "memgym.recipes.selector:AllSelector",
    "select_none": "memgym.recipes.selector:NoneSelector",
    "select_oracle": "memgym.recipes.selector:EvidenceSelector",
}


class BaselineTable(MutableMapping[str, type]):
    """Name -> baseline class, imported from :data:`BASELINE_PATHS` on first use. Setting an
    entry takes a class or a ``"module:Class"`` path (a task module of one's own may add its
    baselines this way)."""

    def __init__(self, paths: dict[str, str]) -> None:
        self.paths, self.loaded = paths, {}

    def __getitem__(self, name: str) -> type:
        if name not in self.loaded:
            module, _, attr = self.paths[name].partition(":")
            self.loaded[name] = getattr(importlib.import_module(module), attr)
        return self.loaded[name]

    def __setitem__(self, name: str, value: type | str) -> None:
        if isinstance(value, str):
            self.paths[name] = value
            self.loaded.pop(name, None)
        else:
            self.paths[name] = f"{value.__module__}:{value.__qualname__}"
            self.loaded[name] = value

    def __delitem__(self, name: str) -> None:
        del self.paths[name]
        self.loaded.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        return iter(self.paths)

    def __len__(self) -> int:
        return len(self.paths)


BASELINES = BaselineTable(BASELINE_PATHS)


class RecencyWeightedAgent(BaselineAgent):
    """Store every chunk; when full, overwrite the entry with the lowest retention score
    ``hits + decay ** (steps since its text was written or last read)``: entries the reader
    has used stay (heavy hitters), the rest go oldest-touched first (an H2O-style
    accumulated-use + recency rule, the heuristic TRIM-KV's learned retention is set against).
    """

    name = "recency"
    decay = 0.9

    def choose(self, env: Any, mask: np.ndarray) -> int | None:
        store, now = env.core.store, env.core.step_count

        def retention(slot: int) -> float:
            entry = store.entries[int(env.slot_entry[slot])]
            return entry.hits + self.decay ** (now - max(entry.updated, entry.last_used))

        return self.admit_or_replace(env, mask, retention)



# -- baselines for real text: keep the informative-looking turns, or the novel ones -------
# FIFO and the parser-based salience heuristic are weak opponents on real conversations (the
# parser reads ~1 turn in 370 of LoCoMo, so salience reduces to length). These two are what a
# learned manager has to beat there (measured on LoCoMo conversations at 128 entries: keeping
# the longest turns already holds about half of the evidence; the oracle ~0.9, FIFO ~0.26):
#
# - :class:`LongestAgent` (``longest``): score = length + names + numbers + time expressions
#   (:func:`memgym.envs.text_features.surface_cues`); store while there is room, then
#   overwrite the lowest-scoring entry when the newcomer scores higher.
# - :class:`NoveltyAgent` (``novelty``): store a chunk unless memory already holds something
#   close to it (MiniLM cosine >= :attr:`NoveltyAgent.duplicate`); when full, overwrite the most
#   redundant entry (highest cosine to another entry) if the newcomer is more novel than that
#   entry is redundant-free.
#
# Both read only visible text, act through the env's masked flat actions, and use the env's
# own embedding features when it has them (``features="embedding"``), else encode the texts
# with the same MiniLM model.

#: Weights of the informativeness score over :data:`SURFACE_CUES`.
INFORMATIVENESS_WEIGHTS: dict[str, float] = {
    "has_number": 0.25, "has_time": 0.25, "names": 0.5, "question": 0.0, "length": 1.0,
}
_WEIGHTS = np.array([INFORMATIVENESS_WEIGHTS[c] for c in SURFACE_CUES])


def informativeness(text: str) -> float:
    """How much a text looks like it carries facts: long, with names, numbers, dates."""
    return float(np.dot(_WEIGHTS, surface_cues(text)))


class LongestAgent(BaselineAgent):
    """Keep the most informative-looking turns (see the module docstring)."""

    name = "longest"

    def choose(self, env: Any, mask: np.ndarray) -> int | None:
        text = env.core.view.text
        add = self.add_action(env, mask)
        if add is not None:
            return add
        entries = env.core.store.entries
        slots = self.occupied_slots(env)
        if not len(slots):
            return 0
        weakest = min(slots, key=lambda k: informativeness(entries[int(env.slot_entry[k])].text))
        if informativeness(entries[int(env.slot_entry[weakest])].text) >= informativeness(text):
            return 0
        return self.overwrite_action(env, weakest)


class NoveltyAgent(BaselineAgent):
    """Keep what memory does not already hold (see the module docstring)."""

    name = "novelty"
    duplicate = 0.9  # cosine at which a chunk counts as already held

    def choose(self, env: Any, mask: np.ndarray) -> int | None:
        slots = self.occupied_slots(env)
        view_vec, slot_vecs = self.vectors(env, slots)
        sims = slot_vecs @ view_vec if len(slots) else np.zeros(0)
        novelty = 1.0 - float(sims.max()) if len(slots) else 1.0
        if novelty <= 1.0 - self.duplicate:
            return 0
        add = self.add_action(env, mask)
        if add is not None:
            return add
        if len(slots) < 2:
            return 0
        pair = slot_vecs @ slot_vecs.T
        np.fill_diagonal(pair, -1.0)
        redundancy = pair.max(axis=1)
        victim = int(np.argmax(redundancy))
        if 1.0 - redundancy[victim] >= novelty:
            return 0  # every entry is more distinct than the newcomer
        return self.overwrite_action(env, int(slots[victim]))

    @staticmethod
    def vectors(env: Any, slots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The view's and the occupied slots' unit embeddings."""
        view = env.core.view
        if getattr(env, "text_features", False):
            text = env._text  # a slot holds its source chunk's text
            return text.of(view.text, view.source)[0], text.embedding[env.slots.source[slots]]
        from memgym.rewards.embedding import get_encoder

        entries = env.core.store.entries
        texts = [view.text] + [entries[int(env.slot_entry[k])].text for k in slots]
        vecs = get_encoder().encode(texts)
        return vecs[0], vecs[1:]

