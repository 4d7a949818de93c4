"""A learned reader: per question, choose which retrieved memory entries the answerer reads.

Memory-R1's answer agent, MemSifter's proxy and RMM's reranker all learn the *reading* side:
the retriever proposes, a policy selects, the answerer answers from the selection only and
its outcome is the reward. :class:`SelectorEnv` is that query phase over any memgym stream:
a fixed manager (a baseline, or any agent with ``act(obs, info, env)``) writes memory on the
inner :class:`memgym.envs.structured.MemoryEnv`; whenever a question comes into view, the
selector (the agent of this env) picks candidates one by one and answers
(:mod:`memgym.recipes.selection_game` holds the rules both this env and the joint env use).
The fixed top-k reader stays the default everywhere else and is this env's baseline
(``select_top_k``). Ids ``memgym/Selector-<Task>-v0`` are registered by :mod:`memgym.recipes.ids`.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from memgym.agents.baselines import BASELINES, BaselineAgent
from memgym.envs.structured import MemoryEnv
from memgym.recipes.selection_game import MANAGER_TERMS, SelectionGame
from memgym.rewards.selection import CANDIDATE_COLUMNS, QUESTION_COLUMNS


def make_partner(partner: Any, role: str, table: dict[str, Any] | None = None) -> Any:
    """A fixed partner for ``role``: a baseline name in ``table`` (default: every baseline,
    :data:`memgym.agents.baselines.BASELINES`) or an agent object with ``act``."""
    table = BASELINES if table is None else table
    if isinstance(partner, str):
        if partner not in table:
            raise ValueError(f"{role}: unknown baseline {partner!r}; expected an agent or one "
                             f"of {', '.join(sorted(table))}")
        return table[partner]()
    if not hasattr(partner, "act"):
        raise TypeError(f"{role} must be a baseline name or have act(obs, info, env); got "
                        f"{type(partner).__name__}")
    return partner


def inner_env(budget: int, env_kwargs: dict[str, Any]) -> MemoryEnv:
    """The manager's env: questions come into view one at a time (retrieval tier ``memory``)."""
    if "retrieval_tiers" in env_kwargs:
        raise ValueError("retrieval_tiers is set by the selector env (one tier, 'memory')")
    return MemoryEnv(**env_kwargs, retrieval_tiers={"memory": {"top_k": budget, "cost": 0.0}})


class SelectorEnv(gym.Env):
    """
    ## Description

    The query phase as a decision (module docstring). A manager partner writes memory chunk
    by chunk; each question comes into view with the ``n_candidates`` entries BM25 ranks
    highest for it; the agent picks up to ``budget`` of them, one per step, then answers:
    the env's reader answers from exactly the picked entries.

    ## Action Space

    ``Discrete(n_candidates + 1)``: ``i < n_candidates`` picks the candidate of rank ``i``
    (masked when absent, already picked or the budget is spent); ``n_candidates`` answers.

    ## Observation Space

    ``Dict``: ``candidates`` ``Box(0, 1, (n_candidates, 14))``, columns
    :data:`memgym.rewards.selection.CANDIDATE_COLUMNS` (rank, BM25 score share, overlap with
    the question, parsed-fact columns (hedged; whether no other candidate states the same fact
    later, unhedged), recency among the candidates, age, length, picked);
    ``question`` ``Box(0, 1, (10,))``, :data:`memgym.rewards.selection.QUESTION_COLUMNS`.
    Nothing is read from labels.

    ## Rewards

    Per answer: ``qa`` (score / number of questions), ``retrieval`` (``-select_cost`` per entry
    picked, / number of questions), ``rank_credit`` (MemSifter) and ``citation`` (RMM) with
    their weights in ``rewards`` (0 by default), ``invalid`` for a masked action. The
    manager's terms (its op costs, the evidence terms of the memory it kept) are in
    ``info["manager_terms"]``, not in this reward.

    ## Episode End

    Terminates after the last question. Three invalid actions on one question answer it with
    the entries picked so far.

    ## Arguments

    ``manager`` (``"salience"``; a baseline name or an agent), ``n_candidates`` (8),
    ``budget`` (4), ``select_cost`` (0.02); every other keyword goes to the inner
    :class:`memgym.envs.structured.MemoryEnv` (``task``, ``task_params``, ``tiers``, ``ops``,
    ``reader``, ``reader_params``, ``metric``, ``rewards``, ``episode_pool``, ``split``, ...).

    ## Version History

    - v0: initial release.
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 4}
    action_layout = "select"

    def __init__(self, manager: Any = "salience", *, n_candidates: int = 8, budget: int = 4,
                 select_cost: float = 0.02, render_mode: str | None = None,
                 **env_kwargs: Any) -> None:
        self.inner = inner_env(budget, env_kwargs)
        self.game = SelectionGame(self.inner, reader=env_kwargs.get("reader", "bm25"),
                                  reader_params=env_kwargs.get("reader_params"),
                                  n_candidates=n_candidates, budget=budget,
                                  select_cost=select_cost)
        self.manager = make_partner(manager, "manager")
        self.render_mode = render_mode
        self.action_names = [f"pick {r + 1}" for r in range(n_candidates)] + ["answer"]
        self.action_space = spaces.Discrete(n_candidates + 1)
        self.observation_space = spaces.Dict({
            "candidates": spaces.Box(0, 1, (n_candidates, len(CANDIDATE_COLUMNS)), np.float32),
            "question": spaces.Box(0, 1, (len(QUESTION_COLUMNS),), np.float32)})

    def pointer_layout(self) -> dict[str, Any]:
        """The rows a pointer policy scores with shared weights (``algo.policy:
        SlotPointerPolicy``): one per candidate, its pick action, the ``candidates`` key."""
        n = self.game.n_candidates
        return {"n_slots": n, "slot_actions": [list(range(n))], "slot_keys": ["candidates"]}

    @property
    def core(self) -> Any:
        return self.inner.core

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        super().reset(seed=seed)
        inner_seed = None if seed is None else int(self.np_random.integers(2**31))
        obs, info = self.inner.reset(seed=inner_seed, options=options)
        if hasattr(self.manager, "reset"):
            self.manager.reset(self.inner, seed=inner_seed)
        self.game.started()
        self.log: list[dict[str, Any]] = []
        self.manager_terms: dict[str, float] = {}
        self._manager_obs = (obs, info)
        self._play_manager()
        if self.game.role is None:
            raise ValueError("the episode has no question (the task asked none): the selector "
                             "has nothing to do; use a task with questions")
        return self.game.observation(), self._info(None, None)

    def _play_manager(self) -> None:
        """The partner acts on every chunk view until a question is in view (or the end)."""
        obs, info = self._manager_obs
        while self.game.role == "manager":
            action = self.manager.act(obs, info, self.inner)
            terms, info = self.game.manager_step(action)
            obs = self.inner._observation() if self.game.role == "manager" else obs
            for k, v in terms.items():
                self.manager_terms[k] = self.manager_terms.get(k, 0.0) + v
        self._manager_obs = (obs, info)

    def action_masks(self) -> np.ndarray:
        """Valid actions now (sb3-contrib's MaskablePPO calls this)."""
        return self.game.selection_mask()

    def step(self, action: Any) -> tuple[dict[str, np.ndarray], float, bool, bool, dict]:
        game = self.game
        if game.role != "selector":
            return game.observation(), 0.0, True, False, self._info({}, "episode_over")
        answered = game.n_answered
        terms, error = game.select(action)
        mine = self._settle(answered, terms)
        return game.observation(), float(sum(mine.values())), game.role is None, False, \
            self._info(mine, error)

    def _settle(self, answered: int, terms: dict[str, float]) -> dict[str, float]:
        """After a selector action (``answered``: questions answered before it): log a new
        answer, let the manager play on to the next question, and split the terms: the
        manager's go to ``manager_terms``, the selector's are returned (its reward's terms)."""
        if self.game.n_answered > answered:
            self.log.append(self.game.answer_record())
        self._play_manager()
        for k in MANAGER_TERMS:
            self.manager_terms[k] = self.manager_terms.get(k, 0.0) + terms.get(k, 0.0)
        return {k: v for k, v in terms.items() if k not in MANAGER_TERMS}

    def _info(self, terms: dict[str, float] | None, error: str | None) -> dict[str, Any]:
        info: dict[str, Any] = {"action_mask": self.action_masks(), "error": error,
                                "ok": error is None, "candidates": len(self.game.candidates),
                                "picked": len(self.game.selected)}
        if terms is not None:
            info["reward_terms"] = terms
        if self.game.role is None:
            records = self.core.records
            info["qa_score"] = sum(r.score for r in records) / max(len(records), 1)
            info["entries_passed"] = float(np.mean([r["passed"] for r in self.log])) \
                if self.log else 0.0
            recalls = [r["recall"] for r in self.log if r["recall"] is not None]
            info["selection_recall"] = float(np.mean(recalls)) if recalls else None
            info["manager_terms"] = dict(self.manager_terms)
        return info

    def render(self) -> str | None:
        if self.render_mode != "ansi":
            return None
        game = self.game
        if game.role != "selector":
            return f"view: {game.core.view.kind}"
        lines = [f"question: {game.question_text}"]
        lines += [f"  [{r + 1}]{'*' if i in game.selected else ' '} {text}"
                  for r, (i, text) in enumerate(zip(game.candidates, game.candidate_texts()))]
        return "\n".join(lines)


def make_env(**kwargs: Any) -> SelectorEnv:
    """Gymnasium entry point (``memgym.recipes.selector:make_env``)."""
    return SelectorEnv(**kwargs)


# -- baselines (act on the pick / answer actions) ------------------------------------------
class SelectionBaseline(BaselineAgent):
    """A baseline of the selector's actions: picks the ranks :meth:`ranks` gives, in order,
    then answers."""

    acts_on = "select"

    def act(self, obs: Any, info: dict[str, Any], env: Any) -> int:
        game = env.unwrapped.game
        mask = game.selection_mask()
        for r in self.ranks(game):
            if r < game.n_candidates and mask[r]:
                return r
        return game.n_candidates

    def ranks(self, game: SelectionGame) -> list[int]:
        raise NotImplementedError


class TopKSelector(SelectionBaseline):
    """The fixed reader's rule: the retriever's ``k`` best candidates (k = 3, the default
    reader's ``top_k``)."""

    name, k = "select_top_k", 3

    def ranks(self, game: SelectionGame) -> list[int]:
        return list(range(min(self.k, game.budget)))


class TopOneSelector(TopKSelector):
    name, k = "select_top_1", 1


class AllSelector(SelectionBaseline):
    """As many candidates as the budget allows, best first."""

    name = "select_budget"

    def ranks(self, game: SelectionGame) -> list[int]:
        return list(range(game.budget))


class NoneSelector(SelectionBaseline):
    """Answer with no memory (the floor; MemSifter's 'no retrieval' reference)."""

    name = "select_none"

    def ranks(self, game: SelectionGame) -> list[int]:
        return []


class EvidenceSelector(SelectionBaseline):
    """Reads the labels: picks the candidates written from the question's evidence chunks,
    best ranked first (an upper bound for selection over these candidates, not a policy)."""

    name = "select_oracle"

    def ranks(self, game: SelectionGame) -> list[int]:
        evidence = set(game.core.episode.questions[game.core.view.question].evidence)
        entries = game.entries()
        return [r for r, i in enumerate(game.candidates) if entries[i].source in evidence]


#: The selection baselines (named in :data:`memgym.agents.baselines.BASELINE_PATHS`).
SELECTION_BASELINES = {cls.name: cls for cls in (TopKSelector, TopOneSelector, AllSelector,
                                                 NoneSelector, EvidenceSelector)}
