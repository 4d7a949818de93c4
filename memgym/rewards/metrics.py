"""QA metrics: exact match, SQuAD token F1, answer containment and LoCoMo-style F1.

All metrics compare :func:`memgym.facts.normalize`-d text (lower case, punctuation and
articles removed) and take the best score over the gold answers, as SQuAD does. A question
with no gold answers scores 0 under every metric.

:func:`score_answer` scores a :class:`~memgym.rewards.reader.ReaderAnswer`: answers in mode
``"context"`` (the reader returned retrieved text instead of a span) are always scored with
:func:`contains`, because EM/F1 of a whole memory entry against a short span would punish
a reader for having the answer in front of it.

:func:`locomo_f1` (``metric="locomo_f1"``) follows LoCoMo's evaluation script instead: its
own normalisation (punctuation deleted, ``and`` dropped too) and comma-split multi-hop
answers; it does not stem (no stemmer is a dependency), see its docstring.
"""

from __future__ import annotations

import string
from collections import Counter
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from memgym.facts import normalize

if TYPE_CHECKING:  # reader imports nothing heavy, but metrics must not depend on it at runtime
    from memgym.rewards.reader import ReaderAnswer


def exact_match(prediction: str, answers: Sequence[str]) -> float:
    """1.0 if the normalized prediction equals any normalized gold answer, else 0.0."""
    pred = normalize(prediction)
    return float(any(pred == normalize(gold) for gold in answers))


def _token_f1(pred_tokens: list[str], gold_tokens: list[str]) -> float:
    if not pred_tokens or not gold_tokens:
        # SQuAD convention: an empty side scores 1 only against another empty side.
        return float(pred_tokens == gold_tokens)
    common = Counter(pred_tokens) & Counter(gold_tokens)
    overlap = sum(common.values())
    if overlap == 0:
        return 0.0
    precision = overlap / len(pred_tokens)
    recall = overlap / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def f1(prediction: str, answers: Sequence[str]) -> float:
    """SQuAD token F1 between the prediction and the best-matching gold answer."""
    pred_tokens = normalize(prediction).split()
    return max((_token_f1(pred_tokens, normalize(g).split()) for g in answers), default=0.0)


def contains(prediction: str, answers: Sequence[str]) -> float:
    """1.0 if any normalized gold answer occurs as a run of whole tokens in the prediction.

    Token boundaries matter: gold ``"Oslo"`` is not found in ``"Oslofjord"``.
    """
    padded = f" {normalize(prediction)} "
    for gold in answers:
        norm = normalize(gold)
        # An empty gold (e.g. "the") would match anything; accept it only for an empty pred.
        if (norm and f" {norm} " in padded) or (not norm and padded == "  "):
            return 1.0
    return 0.0


_LOCOMO_PUNCT = str.maketrans("", "", string.punctuation)
_LOCOMO_DROP = frozenset({"a", "an", "the", "and"})


def locomo_normalize(text: str) -> list[str]:
    """LoCoMo's ``normalize_answer`` as tokens, less its Porter stemming (see
    :func:`locomo_f1`): commas removed, lower case, ASCII punctuation deleted (``Ann's`` ->
    ``anns``, unlike :func:`memgym.facts.normalize`), ``a`` / ``an`` / ``the`` / ``and``
    dropped, split on whitespace."""
    return [t for t in text.replace(",", "").lower().translate(_LOCOMO_PUNCT).split()
            if t not in _LOCOMO_DROP]


def locomo_f1(prediction: str, answers: Sequence[str], multi_hop: bool | None = None) -> float:
    """LoCoMo-style token F1 against the best-matching gold answer.

    As LoCoMo's ``task_eval/evaluation.py``, except that tokens are **not Porter-stemmed**
    (LoCoMo uses nltk's stemmer; no light stemmer is a dependency here), so ``"hiking"``
    does not match ``"hike"`` and scores can be a little lower than LoCoMo's.
    Multi-hop answers (``multi_hop=True``, LoCoMo's category 1) are split on commas: each
    gold part is scored against its best prediction part, and the scores are averaged. With
    ``multi_hop=None`` (the registered ``"locomo_f1"``) a gold answer is split when it
    contains a comma; ``False`` never splits. An answer that normalises to nothing scores 1
    only against a gold that does too (the SQuAD convention of :func:`f1`; LoCoMo gives 0).
    """
    best = 0.0
    for gold in answers:
        split = multi_hop if multi_hop is not None else "," in gold
        if split:
            golds = [g for g in (p.strip() for p in gold.split(",")) if g] or [gold]
            preds = [p for p in (q.strip() for q in prediction.split(",")) if p] or [prediction]
            pred_tokens = [locomo_normalize(p) for p in preds]
            score = sum(max(_token_f1(p, locomo_normalize(g)) for p in pred_tokens)
                        for g in golds) / len(golds)
        else:
            score = _token_f1(locomo_normalize(prediction), locomo_normalize(gold))
        best = max(best, score)
    return best


#: Metric name -> function(prediction, answers) -> score in [0, 1].
METRICS: dict[str, Callable[[str, Sequence[str]], float]] = {
    "em": exact_match,
    "f1": f1,
    "contains": contains,
    "locomo_f1": locomo_f1,
}


def get_metric(metric: str) -> Callable[[str, Sequence[str]], float]:
    """The metric function called ``metric``; ValueError naming the valid ones otherwise."""
    try:
        return METRICS[metric]
    except KeyError:
        raise ValueError(
            f"unknown QA metric {metric!r}; expected one of {', '.join(sorted(METRICS))}"
        ) from None


def score_answer(answer: ReaderAnswer, answers: Sequence[str], metric: str = "f1") -> float:
    """Score a reader answer: ``contains`` for context answers, ``metric`` otherwise."""
    fn = get_metric(metric)  # validate the name even when the context rule overrides it
    if answer.mode == "context":
        return contains(answer.text, answers)
    return fn(answer.text, answers)
