"""One episode with two roles: a manager writes memory, a selector chooses what is read.

:class:`SelectionGame` drives a :class:`memgym.envs.structured.MemoryEnv` whose questions come
into view one at a time (a retrieval tier ``memory``): on a chunk view the **manager** acts
(the inner env's memory ops), on a question view the **selector** does: the retriever offers
the ``n_candidates`` entries BM25 ranks highest for the question, the selector picks up to
``budget`` of them one by one, then sends the selection to the answerer (the env's reader,
reading exactly the selection). The envs built on it (:mod:`memgym.recipes.selector`: one role
played by a fixed partner; the joint env: both roles learned) only decide who acts.

Reward terms of an answer (named as everywhere, :mod:`memgym.rewards.terms`): ``qa`` (and
the evidence terms) from the inner core; ``retrieval``: ``-select_cost`` per entry passed,
/ number of questions; ``rank_credit`` (MemSifter) and ``citation`` (RMM), see
:mod:`memgym.rewards.selection`. ``rank_credit`` asks the answerer once per prefix of the
selection, so it is computed only when its weight is not 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from memgym.envs.structured import MemoryEnv
from memgym.envs.text import apply_text_action
from memgym.rewards.metrics import score_answer
from memgym.rewards.reader import BM25Reader, make_reader
from memgym.rewards.selection import (
    CANDIDATE, CANDIDATE_COLUMNS, QUESTION_COLUMNS, SubsetReader, answerer_params, bm25_candidates,
    candidate_features, citation_signal, citations, question_features, rank_credit)
from memgym.rewards.terms import TERMS

#: Invalid selector actions on one question before it is answered with the selection so far
#: (bounds the episode, as the core does for chunk views).
MAX_INVALID = 3
PICKED = CANDIDATE["selected"]
#: Terms of an answer that belong to the manager's work (CoMAM's local "coverage" reward).
MANAGER_TERMS = ("evidence", "evidence_recall", "shaping")


class SelectionGame:
    """The two-role episode over ``inner`` (see the module docstring)."""

    def __init__(self, inner: MemoryEnv, *, reader: str = "bm25",
                 reader_params: dict[str, Any] | None = None, n_candidates: int = 8,
                 budget: int = 4, select_cost: float = 0.02) -> None:
        if not 1 <= budget <= n_candidates:
            raise ValueError(f"need 1 <= budget <= n_candidates, got budget={budget}, "
                             f"n_candidates={n_candidates}")
        if select_cost < 0:
            raise ValueError(f"select_cost must be >= 0, got {select_cost}")
        if list(inner.core.retrieval_tiers) != ["memory"]:
            raise ValueError("the inner env needs exactly one retrieval tier, 'memory' "
                             "(questions come into view one at a time)")
        self.inner, self.core = inner, inner.core
        self.n_candidates, self.budget, self.select_cost = n_candidates, budget, select_cost
        # the answerer: the env's reader, reading the whole selection (and nothing else)
        self.answerer = make_reader(reader, **answerer_params(reader_params, budget))
        self.subset = SubsetReader(self.answerer)
        self.core.retrieval_readers["memory"] = self.subset  # routing answers from the subset
        self.route_action = inner.action_names.index("answer via memory")
        self.scorer = BM25Reader()
        self.candidates: list[int] = []
        self.selected: list[int] = []
        self.invalid_here = 0
        self._rows: np.ndarray | None = None
        self.n_answered = 0
        self.last_sources: list[int | None] = []

    # -- whose turn ------------------------------------------------------------------------
    @property
    def role(self) -> str | None:
        """``"manager"`` on a chunk view, ``"selector"`` on a question view, ``None`` at the end."""
        if self.core.done:
            return None
        return "selector" if self.core.view.kind == "question" else "manager"

    def started(self) -> None:
        """Call after the inner env was reset: prepares the first question if one is in view."""
        self.n_answered, self.last_sources = 0, []
        self._new_question()

    # -- the manager ----------------------------------------------------------------------
    def manager_step(self, action: Any) -> tuple[dict[str, float], dict[str, Any]]:
        """One inner-env step on a chunk view; its terms (weighted) and info."""
        if self.role != "manager":
            raise RuntimeError(f"manager_step on a {self.role} turn")
        _, _, _, _, info = self.inner.step(action)
        self._new_question()
        return dict(info.get("reward_terms", {})), info

    def manager_tool_call(self, action: Any) -> tuple[dict[str, float], bool, str]:
        """One tool call on a chunk view (the text interface: a model playing the manager);
        its terms (weighted), whether it was valid, and the result line the next prompt shows."""
        if self.role != "manager":
            raise RuntimeError(f"manager_tool_call on a {self.role} turn")
        outcome, line = apply_text_action(self.core, action)
        self._new_question()
        return dict(outcome.terms), outcome.result.ok, line

    # -- the selector ---------------------------------------------------------------------
    def entries(self) -> list[Any]:
        return self.core.store.valid_entries()

    def _new_question(self) -> None:
        self.selected, self.invalid_here, self._rows = [], 0, None
        if self.role != "selector":
            self.candidates = []
            return
        texts = [e.text for e in self.entries()]
        self.candidates, self.scores = bm25_candidates(self.question_text, texts,
                                                       self.n_candidates, self.scorer)

    @property
    def question_text(self) -> str:
        return self.core.episode.questions[self.core.view.question].text

    def selection_mask(self) -> np.ndarray:
        """``n_candidates + 1`` booleans: pick candidate ``i`` (present, not yet picked, budget
        left), then ``answer`` (always valid on a question view)."""
        mask = np.zeros(self.n_candidates + 1, dtype=bool)
        if self.role != "selector":
            return mask
        if len(self.selected) < self.budget:
            for r, i in enumerate(self.candidates):
                mask[r] = i not in self.selected
        mask[-1] = True
        return mask

    def observation(self) -> dict[str, np.ndarray]:
        """The selector's view (zeros outside question views)."""
        if self.role != "selector":
            return {"candidates": np.zeros((self.n_candidates, len(CANDIDATE_COLUMNS)), np.float32),
                    "question": np.zeros(len(QUESTION_COLUMNS), np.float32)}
        question = self.question_text
        if self._rows is None:  # once per question: only the picked column changes after
            entries = self.entries()
            texts = [e.text for e in entries]
            times = [-1 if e.time is None else e.time for e in entries]
            self._rows = candidate_features(question, texts, self.candidates, self.scores,
                                            times, self.core.cursor, self.n_candidates)
        rows = self._rows.copy()
        rows[:len(self.candidates), PICKED] = [i in self.selected for i in self.candidates]
        left = (len(self.core.queue) - 1 + sum(map(len, (
            qs for t, qs in self.core.due.items() if t >= self.core.cursor)))) / \
            self.core.n_questions
        query = question_features(question, len(self.selected), self.budget,
                                  len(self.candidates), self.n_candidates,
                                  min(max(left, 0.0), 1.0), self.invalid_here)
        return {"candidates": rows, "question": query}

    def candidate_texts(self) -> list[str]:
        """The candidates' texts, best first (the text interface numbers them from 1)."""
        texts = [e.text for e in self.entries()]
        return [texts[i] for i in self.candidates]

    def select(self, action: Any) -> tuple[dict[str, float], str | None]:
        """One selector action: a candidate index (pick) or ``n_candidates`` (answer).
        Returns the weighted terms and an error name (``None`` when valid)."""
        if self.role != "selector":
            raise RuntimeError(f"select on a {self.role} turn")
        try:
            a = int(action)
        except (TypeError, ValueError):
            a = -1
        mask = self.selection_mask()
        if not 0 <= a < len(mask) or not mask[a]:
            return self.strike("invalid"), "invalid_action"
        if a == self.n_candidates:
            return self.answer(), None
        self.selected.append(self.candidates[a])
        return dict.fromkeys(TERMS, 0.0), None

    def choose(self, ranks: list[int]) -> tuple[dict[str, float], str | None]:
        """The whole selection at once (the text interface): candidate ranks (0-based), in
        order, then answer. A bad list changes nothing and returns an error."""
        if len(set(ranks)) != len(ranks) or len(ranks) > self.budget or \
                any(not 0 <= r < len(self.candidates) for r in ranks):
            return self.strike("invalid"), "invalid_selection"
        self.selected = [self.candidates[r] for r in ranks]
        return self.answer(), None

    def strike(self, term: str) -> dict[str, float]:
        """A failed attempt at this question (a bad action, an unreadable reply) costs the
        ``term`` penalty and changes nothing; the :data:`MAX_INVALID`-th answers with what is
        selected so far, so a policy that never acts validly still finishes the stream."""
        self.invalid_here += 1
        terms = dict.fromkeys(TERMS, 0.0)
        terms[term] = -self.core.weights[term]
        if self.invalid_here < MAX_INVALID:
            return terms
        answered = self.answer()
        answered[term] += terms[term]
        return answered

    def answer_record(self) -> dict[str, Any]:
        """The last answer, for per-question logs: entries passed, the evidence recall of
        the selection (None for a question without evidence), its score."""
        evidence = set(self.last_question.evidence)
        passed = self.last_sources
        recall = len(evidence & set(passed)) / len(evidence) if evidence else None
        return {"passed": len(passed), "recall": recall, "score": self.core.records[-1].score}

    def answer(self) -> dict[str, float]:
        """Send the selection to the answerer; the inner core scores it (weighted terms)."""
        core, weights = self.core, self.core.weights
        question = core.episode.questions[core.view.question]
        texts = [e.text for e in self.entries()]
        chosen = list(self.selected)
        extra = dict.fromkeys(TERMS, 0.0)
        extra["retrieval"] = -weights["retrieval"] * self.select_cost * len(chosen) / \
            core.n_questions
        if weights["rank_credit"] or weights["citation"]:
            times = [-1 if e.time is None else e.time for e in self.entries()]
            prefix = [self._score_prefix(question, texts, times, chosen[:r])
                      for r in range(len(chosen) + 1)] if weights["rank_credit"] else None
            if prefix is not None:
                extra["rank_credit"] = weights["rank_credit"] * rank_credit(prefix) / \
                    core.n_questions
            if weights["citation"]:
                reply = SubsetReader(self.answerer, chosen).answer_all(
                    [question.text], texts, (), times)[0]
                cited = citations(reply, [texts[i] for i in chosen])
                extra["citation"] = weights["citation"] * citation_signal(cited) / \
                    core.n_questions
        self.subset.chosen = chosen
        self.last_sources = [self.entries()[i].source for i in chosen]
        self.last_question = question
        self.n_answered += 1
        _, _, _, _, info = self.inner.step(self.route_action)
        terms = dict(info.get("reward_terms", {}))
        for k, v in extra.items():
            terms[k] = terms.get(k, 0.0) + v
        self.last_info = info
        self._new_question()
        return terms

    def _score_prefix(self, question: Any, texts: list[str], times: list[int],
                      chosen: list[int]) -> float:
        reply = SubsetReader(self.answerer, chosen).answer_all([question.text], texts, (),
                                                               times)[0]
        return score_answer(reply, question.answers, self.core.metric)
