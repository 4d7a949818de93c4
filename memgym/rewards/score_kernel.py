"""The QA metrics of :mod:`memgym.rewards.metrics` on the compiled reader's answer codes.

The compiled reader (:mod:`memgym.rewards.reader_kernel`) answers with codes (a mode, a
chunk or a value id, the value ids of a multi-value answer); turning codes back into text to
score it in Python costs more than answering. Every metric here compares
:func:`memgym.facts.normalize`-d text, which is a sequence of ``[a-z0-9]+`` tokens with
articles dropped, so the scores are a function of token sequences: the normalised tokens of
every display value, chunk text, date and gold answer are numbered once per episode
(:func:`build_score_tables`) and :func:`score_code` computes ``em``, ``f1`` and
``contains`` on token ids, with the same float operations as the Python metrics. A joined
multi-value answer ``"a or b"`` is the tokens of ``a``, of ``or``, then of ``b``: no
token spans the spaces. What is not scored here (yes / no answers, ``locomo_f1`` with its
own normalisation) is NaN, and the caller scores it in Python.
``tests/test_score_kernel.py`` compares :func:`score_code` with
:func:`memgym.rewards.metrics.score_answer` on thousands of answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numba
import numpy as np

from memgym.facts import find_date, normalize
from memgym.rewards.reader import ABSTAIN_TEXT
from memgym.rewards.reader_tables import (
    CONTEXT, MODE_ABSTAIN, MODE_CONTEXT, MODE_VALUES, MODE_WHEN, WHEN, ReaderTables,
)

#: Metrics :func:`score_code` computes, by code; any other metric (``locomo_f1``) is -1.
SCORED_METRICS: dict[str, int] = {"em": 0, "f1": 1, "contains": 2}
EM, F1, CONTAINS = (SCORED_METRICS[m] for m in ("em", "f1", "contains"))
#: The text joining the values of a multi-value answer (``ReaderTables.answer``).
JOINER = " or "


def metric_code(metric: str) -> int:
    """The code :func:`score_code` takes for ``metric``, -1 when it is scored in Python."""
    return SCORED_METRICS.get(metric, -1)


@dataclass
class ScoreTables:
    """Normalised token ids of an episode's answer texts, as row pointers + flat ids."""

    display_ptr: np.ndarray  # (D + 1,) the reader tables' display values
    display_toks: np.ndarray
    #: (C + 1,) chunk texts, for context answers; empty when no question is answered in
    #: context (then such an answer is not scored here)
    text_ptr: np.ndarray
    text_toks: np.ndarray
    date_ptr: np.ndarray  # (C + 1,) the date in each chunk ("when" answers), likewise
    date_toks: np.ndarray
    gold_q_ptr: np.ndarray  # (Q + 1,) question q's gold answers: rows gold_q_ptr[q]...
    gold_ptr: np.ndarray
    gold_toks: np.ndarray
    abstain_toks: np.ndarray  # the abstaining answer's text
    joiner_toks: np.ndarray

    #: The fields in the order :func:`score_code` takes them.
    ARRAYS = ("display_ptr", "display_toks", "text_ptr", "text_toks", "date_ptr", "date_toks",
              "gold_q_ptr", "gold_ptr", "gold_toks", "abstain_toks", "joiner_toks")

    def arrays(self) -> list[np.ndarray]:
        return [getattr(self, name) for name in self.ARRAYS]

    def packed(self) -> tuple[np.ndarray, np.ndarray]:
        """The :attr:`ARRAYS` as one flat array and their bounds, as :func:`score_code`
        takes them."""
        bounds = np.zeros(len(self.ARRAYS) + 1, dtype=np.int64)
        bounds[1:] = np.cumsum([len(a) for a in self.arrays()])
        return np.concatenate(self.arrays()), bounds


def _rows(rows: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
    ptr = np.zeros(len(rows) + 1, dtype=np.int64)
    ptr[1:] = np.cumsum([len(r) for r in rows])
    return ptr, np.fromiter((v for r in rows for v in r), dtype=np.int64, count=int(ptr[-1]))


def build_score_tables(tables: ReaderTables, golds: Sequence[Sequence[str]]) -> ScoreTables:
    """The token tables of an episode read by ``tables`` whose question ``q`` has the gold
    answers ``golds[q]``. Chunk texts and dates are tokenised only when a question can be
    answered with them (context / "when" questions)."""
    vocab: dict[str, int] = {}

    def ids(text: str | None) -> list[int]:
        return [vocab.setdefault(t, len(vocab)) for t in normalize(text or "").split()]

    kinds = set(tables.q_kind.tolist())
    texts = tables.texts
    display_ptr, display_toks = _rows([ids(d) for d in tables.display])
    text_ptr, text_toks = _rows([ids(t) for t in texts] if CONTEXT in kinds else [])
    date_ptr, date_toks = _rows([ids(find_date(t)) if has else []
                                 for t, has in zip(texts, tables.has_date.tolist())]
                                if WHEN in kinds else [])
    gold_q_ptr = np.zeros(len(golds) + 1, dtype=np.int64)
    gold_q_ptr[1:] = np.cumsum([len(g) for g in golds])
    gold_ptr, gold_toks = _rows([ids(g) for answers in golds for g in answers])
    return ScoreTables(display_ptr, display_toks, text_ptr, text_toks, date_ptr, date_toks,
                       gold_q_ptr, gold_ptr, gold_toks, np.array(ids(ABSTAIN_TEXT), np.int64),
                       np.array(ids(JOINER), np.int64))


@numba.njit(cache=True)
def _predicted(mode, ref, values, n_values, display_ptr, display_toks, text_ptr, text_toks,
               date_ptr, date_toks, abstain_toks, joiner_toks):
    """The normalised tokens of the answer the codes stand for."""
    if mode == MODE_ABSTAIN:
        return abstain_toks.copy()
    if mode == MODE_CONTEXT:
        return text_toks[text_ptr[ref]:text_ptr[ref + 1]].copy()
    if mode == MODE_WHEN:
        return date_toks[date_ptr[ref]:date_ptr[ref + 1]].copy()
    n = n_values if n_values > 1 else 1  # values: one value is ``ref``
    size = (n - 1) * joiner_toks.shape[0]
    for j in range(n):
        v = values[j] if n_values > 1 else ref
        size += display_ptr[v + 1] - display_ptr[v]
    out = np.empty(size, dtype=np.int64)
    at = 0
    for j in range(n):
        if j:
            out[at:at + joiner_toks.shape[0]] = joiner_toks
            at += joiner_toks.shape[0]
        v = values[j] if n_values > 1 else ref
        part = display_toks[display_ptr[v]:display_ptr[v + 1]]
        out[at:at + part.shape[0]] = part
        at += part.shape[0]
    return out


@numba.njit(cache=True)
def _token_f1(pred, gold):
    """:func:`memgym.rewards.metrics._token_f1` on token ids (same float operations)."""
    if pred.shape[0] == 0 or gold.shape[0] == 0:
        return 1.0 if pred.shape[0] == gold.shape[0] else 0.0
    taken = np.zeros(gold.shape[0], dtype=np.bool_)
    overlap = 0  # size of the multiset intersection (Counter & Counter)
    for t in pred:
        for g in range(gold.shape[0]):
            if not taken[g] and gold[g] == t:
                taken[g] = True
                overlap += 1
                break
    if overlap == 0:
        return 0.0
    precision = overlap / pred.shape[0]
    recall = overlap / gold.shape[0]
    return 2 * precision * recall / (precision + recall)


@numba.njit(cache=True)
def _contains(pred, gold):
    """``" gold " in " pred "`` on normalised text: a run of whole tokens (an empty gold
    only in an empty prediction)."""
    if gold.shape[0] == 0:
        return pred.shape[0] == 0
    for start in range(pred.shape[0] - gold.shape[0] + 1):
        same = True
        for g in range(gold.shape[0]):
            if pred[start + g] != gold[g]:
                same = False
                break
        if same:
            return True
    return False


@numba.njit(cache=True)
def score_code(metric, q, mode, ref, values, n_values, flat, bounds):
    """``score_answer`` of the reader's answer to question ``q`` given as codes (mode, ref,
    ``values[:n_values]``) under metric code ``metric``; NaN when it is not scored here
    (a yes / no answer, a metric of code -1, texts not tokenised). The episode's
    :class:`ScoreTables` are packed in ``flat``, field k at ``bounds[k]:bounds[k + 1]``
    (:meth:`ScoreTables.packed`)."""
    (display_ptr, display_toks, text_ptr, text_toks, date_ptr, date_toks, gold_q_ptr,
     gold_ptr, gold_toks, abstain_toks, joiner_toks) = (
        flat[bounds[0]:bounds[1]], flat[bounds[1]:bounds[2]], flat[bounds[2]:bounds[3]],
        flat[bounds[3]:bounds[4]], flat[bounds[4]:bounds[5]], flat[bounds[5]:bounds[6]],
        flat[bounds[6]:bounds[7]], flat[bounds[7]:bounds[8]], flat[bounds[8]:bounds[9]],
        flat[bounds[9]:bounds[10]], flat[bounds[10]:bounds[11]])
    if mode != MODE_ABSTAIN and mode != MODE_VALUES and mode != MODE_CONTEXT \
            and mode != MODE_WHEN:
        return np.nan
    if metric < 0 and mode != MODE_CONTEXT:
        return np.nan
    if (mode == MODE_CONTEXT and text_ptr.shape[0] <= ref + 1) or \
            (mode == MODE_WHEN and date_ptr.shape[0] <= ref + 1):  # not tokenised
        return np.nan
    pred = _predicted(mode, ref, values, n_values, display_ptr, display_toks, text_ptr,
                      text_toks, date_ptr, date_toks, abstain_toks, joiner_toks)
    kind = CONTAINS if mode == MODE_CONTEXT else metric  # context answers: contains
    best = 0.0
    for a in range(gold_q_ptr[q], gold_q_ptr[q + 1]):
        gold = gold_toks[gold_ptr[a]:gold_ptr[a + 1]]
        if kind == F1:
            best = max(best, _token_f1(pred, gold))
        elif kind == EM:
            if pred.shape[0] == gold.shape[0] and (pred == gold).all():
                return 1.0
        elif _contains(pred, gold):
            return 1.0
    return best


def score_of(score: ScoreTables, metric: str, question: int, mode: int, ref: int,
             values: Sequence[int] = ()) -> float:
    """:func:`score_code` from Python (tests, one answer at a time)."""
    vals = np.asarray(values, dtype=np.int64)
    return score_code(metric_code(metric), question, mode, ref,
                      vals if len(vals) else np.zeros(1, np.int64), len(vals), *score.packed())
