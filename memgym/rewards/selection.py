"""The reading side as a decision: candidates for a question, a selected set, and its credit.

A retriever ranks memory for a question and offers its ``n`` best entries as *candidates*; a
selector (a policy) chooses which of them go to the answerer (the env's reader). This module
holds what that needs below the env layer:

- :class:`SubsetReader`: answers from exactly the selected entries, in the selector's order;
- :func:`candidate_features`: one row per candidate (:data:`CANDIDATE_COLUMNS`, one table)
  and :func:`question_features` (:data:`QUESTION_COLUMNS`);
- the credit the answerer's outcome gives a selection:

  - :func:`rank_credit` (MemSifter's outcome reward, "stepped decreasing contributions"):
    the answerer is asked again with each prefix of the selection; the gain of prefix ``r``
    over prefix ``r - 1`` is paid with weight ``1 / log2(r + 1)``, so the sum is the
    selection's marginal utility over answering with no memory, discounted by the rank at
    which the useful entries came;
  - :func:`citations` (RMM's retrospective signal): which selected entries the answer cites.
    An answerer that names entry ids is not among today's readers, so an entry counts as
    cited when it holds the answer (extraction: all the answer's content words; a context
    answer: the entry it returned). ``+1`` per cited, ``-1`` per uncited selected entry,
    averaged over the selection.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from memgym.facts import content_stems, extract_fact, fact_key, find_date, is_hedged, \
    is_yes_no, normalize, parse_question
from memgym.rewards.reader import _WHEN, ABSTAIN, BM25Reader, ReaderAnswer

#: Per-candidate observation columns, in order (the env, its text twin and the docs read it).
CANDIDATE_COLUMNS: tuple[str, ...] = (
    "present", "selected", "rank_share", "bm25_share", "question_overlap", "states_fact",
    "states_asked_fact", "hedged", "same_fact_candidates", "latest_of_fact", "has_date",
    "recency_rank", "age", "length",
)
#: Per-question observation columns, in order.
QUESTION_COLUMNS: tuple[str, ...] = (
    "yes_no", "when", "hops_1", "hops_2", "hops_3_plus", "other", "selected_share",
    "candidates_share", "questions_left", "invalid_here",
)
CANDIDATE = {name: i for i, name in enumerate(CANDIDATE_COLUMNS)}
QUESTION = {name: i for i, name in enumerate(QUESTION_COLUMNS)}
#: Tokens at which an entry's ``length`` column reads 1.
LENGTH_SCALE = 64.0


class SubsetReader:
    """A reader over exactly ``chosen`` (indices into the entries it is given), in that order.

    The answerer reads every chosen entry it can rank (its ``top_k`` should be >= the
    selection budget; :func:`answerer_params` sets it), never an entry left out. ``used``
    indices are mapped back to the full entry list, so hits and evidence recall count the
    entries the selector passed. Extra texts beyond memory (archive, log) are never passed.
    """

    def __init__(self, answerer: Any, chosen: Sequence[int] = ()) -> None:
        self.answerer = answerer
        self.chosen = list(chosen)
        self.time_aware = getattr(answerer, "time_aware", False)

    def answer_all(self, questions: Sequence[str], entries: Sequence[str],
                   always_shown: Sequence[int] = (), times: Sequence[int] | None = None
                   ) -> list[ReaderAnswer]:
        chosen = [i for i in self.chosen if 0 <= i < len(entries)]
        if not chosen:
            return [ABSTAIN for _ in questions]
        texts = [entries[i] for i in chosen]
        kwargs = {} if times is None or not self.time_aware else \
            {"times": [times[i] for i in chosen]}
        replies = self.answerer.answer_all(questions, texts, (), **kwargs)
        return [ReaderAnswer(r.text, r.mode, tuple(sorted(chosen[u] for u in r.used)))
                for r in replies]


def answerer_params(params: dict[str, Any] | None, budget: int) -> dict[str, Any]:
    """The answerer's parameters: the env's ``reader_params`` with ``top_k`` = ``budget``
    (it reads the whole selection; the selection, not the reader, decides what is read)."""
    return {**(params or {}), "top_k": int(budget)}


def rank_credit(prefix_scores: Sequence[float]) -> float:
    """MemSifter-style credit of a selection from the scores of its prefixes.

    ``prefix_scores[r]`` is the answerer's score with the first ``r`` selected entries
    (``prefix_scores[0]``: no memory). Returns ``sum_r (s_r - s_{r-1}) / log2(r + 1)``: the
    marginal utility of the selection, each step's gain discounted by its rank.
    """
    return float(sum((prefix_scores[r] - prefix_scores[r - 1]) / math.log2(r + 1)
                     for r in range(1, len(prefix_scores))))


def citations(answer: ReaderAnswer, texts: Sequence[str]) -> list[bool]:
    """Whether each selected entry (``texts``, in selection order) is cited by ``answer``."""
    if answer.mode == "abstain" or not texts:
        return [False] * len(texts)
    if answer.mode == "context":
        return [t == answer.text for t in texts]
    if is_yes_no_answer(answer.text):
        return [False] * len(texts)  # a bare yes / no names no entry
    parts = [p for p in answer.text.split(" or ") if content_stems(p)]
    return [any(content_stems(p) <= content_stems(t) for p in parts) for t in texts]


def is_yes_no_answer(text: str) -> bool:
    return normalize(text) in ("yes", "no")


def citation_signal(cited: Sequence[bool]) -> float:
    """RMM's per-question signal: +1 per cited, -1 per uncited selected entry, averaged."""
    return float(sum(1.0 if c else -1.0 for c in cited) / len(cited)) if cited else 0.0


def bm25_candidates(question: str, texts: Sequence[str], n: int,
                    scorer: BM25Reader | None = None) -> tuple[list[int], np.ndarray]:
    """The ``n`` entries BM25 ranks highest for ``question`` (score > 0, ties by text) and
    every entry's score."""
    if not texts:
        return [], np.zeros(0)
    scores = (scorer or BM25Reader()).scorer(texts)([question])[0]
    ranked = sorted(np.flatnonzero(scores > 0).tolist(), key=lambda i: (-scores[i], texts[i], i))
    return ranked[:n], scores


def candidate_features(question: str, texts: Sequence[str], candidates: Sequence[int],
                       scores: np.ndarray, times: Sequence[int], now: int, n_rows: int,
                       selected: Sequence[int] = ()) -> np.ndarray:
    """(``n_rows`` x :data:`CANDIDATE_COLUMNS`) features of ``candidates`` (indices into
    ``texts``, best first); rows past the candidates are zero. ``times``: each entry's write
    time (-1 unknown), ``now``: the stream position. Everything is read from visible text and
    times; no label."""
    out = np.zeros((n_rows, len(CANDIDATE_COLUMNS)), dtype=np.float32)
    if not candidates:
        return out
    asked = content_stems(question)
    parsed = parse_question(question)
    asked_key = fact_key(parsed[0], parsed[1][0]) if parsed is not None else None
    facts = [extract_fact(texts[i]) for i in candidates]
    keys = [f.key if f is not None else None for f in facts]
    hedged = [is_hedged(texts[i]) for i in candidates]
    best = max(float(scores[candidates[0]]), 1e-9)
    stamps = [times[i] for i in candidates]
    order = sorted(range(len(candidates)), key=lambda r: -stamps[r])  # newest first
    recency = {r: pos for pos, r in enumerate(order)}
    chosen = set(selected)
    for r, i in enumerate(candidates[:n_rows]):
        row = out[r]
        row[CANDIDATE["present"]] = 1.0
        row[CANDIDATE["selected"]] = i in chosen
        row[CANDIDATE["rank_share"]] = r / max(n_rows - 1, 1)
        row[CANDIDATE["bm25_share"]] = float(scores[i]) / best
        words = content_stems(texts[i])
        row[CANDIDATE["question_overlap"]] = len(asked & words) / len(asked) if asked else 0.0
        row[CANDIDATE["states_fact"]] = keys[r] is not None
        row[CANDIDATE["states_asked_fact"]] = keys[r] is not None and keys[r] == asked_key
        row[CANDIDATE["hedged"]] = hedged[r]
        if keys[r] is not None:
            same = sum(k == keys[r] for k in keys) - 1
            row[CANDIDATE["same_fact_candidates"]] = min(same / 3.0, 1.0)
            # no other candidate states this fact later without hedging: the fresh value
            # beside stale ones (a later rumour does not make a statement stale)
            row[CANDIDATE["latest_of_fact"]] = all(
                stamps[o] <= stamps[r] for o in range(len(candidates))
                if keys[o] == keys[r] and not hedged[o])
        row[CANDIDATE["has_date"]] = find_date(texts[i]) is not None
        row[CANDIDATE["recency_rank"]] = recency[r] / max(len(candidates) - 1, 1)
        row[CANDIDATE["age"]] = 1.0 if stamps[r] < 0 else min((now - stamps[r]) / max(now, 1), 1.0)
        row[CANDIDATE["length"]] = min(len(texts[i].split()) / LENGTH_SCALE, 1.0)
    return out


def question_features(question: str, n_selected: int, budget: int, n_candidates: int,
                      n_rows: int, questions_left: float, invalid_here: int) -> np.ndarray:
    """:data:`QUESTION_COLUMNS` of the question in view and the selection so far."""
    out = np.zeros(len(QUESTION_COLUMNS), dtype=np.float32)
    parsed = None if is_yes_no(question) else parse_question(question)
    if is_yes_no(question):
        out[QUESTION["yes_no"]] = 1.0
    elif _WHEN.match(question):
        out[QUESTION["when"]] = 1.0
    elif parsed is not None:
        hops = len(parsed[1])
        out[QUESTION["hops_1" if hops == 1 else "hops_2" if hops == 2 else "hops_3_plus"]] = 1.0
    else:
        out[QUESTION["other"]] = 1.0
    out[QUESTION["selected_share"]] = n_selected / max(budget, 1)
    out[QUESTION["candidates_share"]] = n_candidates / max(n_rows, 1)
    out[QUESTION["questions_left"]] = questions_left
    out[QUESTION["invalid_here"]] = min(invalid_here / 3.0, 1.0)
    return out
