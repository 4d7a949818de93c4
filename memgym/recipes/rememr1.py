"""ReMemR1 (Shi et al. 2025, "Look Back to Reason Forward"): rereads plus multi-level rewards.

ReMemR1 lets a memorize-while-reading agent call back past content and trains it with RLMLR:
the final-answer (outcome) reward mixed with dense step-level rewards. Our reading of their mix
(per step ``t``)::

    r_t = alpha * outcome_t + (1 - alpha) * (recall_gain_t + reread_bonus_t) + costs_t

- ``outcome_t``: the QA term (score / number of questions of each question answered at ``t``);
- ``recall_gain_t``: the change, over the questions still pending before the step, in the
  share whose gold answer appears in memory (normalised text; / number of questions);
- ``reread_bonus_t``: ``reread_bonus`` / number of questions when a reread brings into view the
  evidence chunk of a pending question whose evidence is not in memory (recovered evidence);
- ``costs_t``: reread cost and invalid-action penalty, never mixed (they are not rewards).

``alpha = 1`` is outcome-only training; ReMemR1's ablation reports an intermediate alpha best.
The env is :class:`memgym.envs.structured.MemoryEnv` on the Revisit task
(:mod:`memgym.tasks.revisit`) with ``reread similar`` (reread by query: the past chunk most
similar to the view), registered as ``memgym/ReMemR1-{Short,Medium,Long}-v0`` and
``memgym/ReMemR1-NoReread-*`` (the same stream without rereads).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from memgym.agents.baselines import FIFOAgent
from memgym.envs.structured import MemoryEnv
from memgym.facts import extract_fact, normalize, parse_question

#: Terms of the core reward that are costs (kept outside the alpha mix).
COST_TERMS = ("memory_size", "compression", "op_cost", "retrieval", "invalid", "format")


def answer_in(answer_norms: tuple[str, ...], memory_norm: str) -> bool:
    """Whether a gold answer occurs (as whole words) in the normalised memory text."""
    return any(a and f" {a} " in memory_norm for a in answer_norms)


class ReMemR1Env(MemoryEnv):
    """
    ## Description

    The Revisit stream (facts cued long after) with ReMemR1's reread op and multi-level
    reward (module docstring). Everything else is :class:`MemoryEnv`.

    ## Action Space

    ``MemoryEnv``'s: noop, add, update slot k, ``reread similar`` (masked when invalid).

    ## Observation Space

    ``MemoryEnv``'s ``Dict`` of ``Box`` arrays.

    ## Rewards

    ``alpha * qa + (1 - alpha) * (step_recall + reread_bonus) + costs``; each of
    ``step_recall`` and ``reread_bonus`` (unweighted) is added to ``info["reward_terms"]``,
    and ``info["reward_mix"]`` holds the mixed parts.

    ## Episode End

    As ``MemoryEnv``: after the last chunk, once every question is answered.

    ## Arguments

    ``alpha`` (in [0, 1], default 0.8), ``reread_bonus`` (default 0.5), plus every
    ``MemoryEnv`` argument.

    ## Version History

    - v0: initial release.
    """

    def __init__(self, *args: Any, alpha: float = 0.8, reread_bonus: float = 0.5,
                 **kwargs: Any) -> None:
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {alpha}")
        if reread_bonus < 0:
            raise ValueError(f"reread_bonus must be >= 0, got {reread_bonus}")
        super().__init__(*args, **kwargs)
        self.alpha, self.reread_bonus = float(alpha), float(reread_bonus)

    def start_episode(self, episode: Any) -> None:
        super().start_episode(episode)
        self._answers = [tuple(normalize(a) for a in q.answers) for q in episode.questions]

    def answer_recall(self, pending: list[int]) -> np.ndarray:
        """Per pending question: 1.0 when its gold answer is in memory."""
        memory = " " + " ".join(normalize(t) for t in self.core.store.texts()) + " "
        return np.array([answer_in(self._answers[q], memory) for q in pending], dtype=float)

    def step(self, action: Any) -> tuple[dict[str, np.ndarray], float, bool, bool, dict]:
        core = self.core
        pending = [q for q, done in enumerate(core.answered) if not done]
        before = self.answer_recall(pending)
        obs, _, terminated, truncated, info = super().step(action)
        n = core.n_questions
        gain = float((self.answer_recall(pending) - before).sum()) / n
        bonus = 0.0
        view = core.view
        if info.get("op") == "reread" and info.get("ok") and view.kind == "recalled":
            source = view.source
            needed = any(source in core.episode.questions[q].evidence for q in pending)
            if needed and core.sources_in[source] == 0:
                bonus = self.reread_bonus / n
        terms = info["reward_terms"]
        outcome = terms.get("qa", 0.0)
        costs = sum(terms.get(k, 0.0) for k in COST_TERMS)
        step_part = gain + bonus
        reward = self.alpha * outcome + (1.0 - self.alpha) * step_part + costs
        info["reward_terms"] = {**terms, "step_recall": gain, "reread_bonus": bonus}
        info["reward_mix"] = {"outcome": outcome, "step": step_part, "costs": costs}
        return obs, float(reward), terminated, truncated, info


def make_env(**kwargs: Any) -> ReMemR1Env:
    """Gymnasium entry point (``memgym.recipes.rememr1:make_env``)."""
    return ReMemR1Env(**kwargs)


def is_cue(text: str) -> bool:
    """A chunk that names a pair without a value (a question-like cue)."""
    return extract_fact(text) is None and parse_question(text) is not None


class RereadFIFOAgent(FIFOAgent):
    """FIFO memory that, on a cue, rereads the most similar past chunk and stores it (the
    hand-written use of ReMemR1's callback; without ``reread`` it is plain FIFO)."""

    name = "fifo+reread"

    def choose(self, env: Any, mask: np.ndarray) -> int | None:
        view = env.core.view
        similar = env.action_index.get(("reread_similar", -1, -1))
        if view.kind == "chunk" and is_cue(view.text) and similar is not None and mask[similar]:
            return similar
        if view.kind == "chunk" and is_cue(view.text):
            return 0  # a cue itself is not worth storing
        return super().choose(env, mask)
