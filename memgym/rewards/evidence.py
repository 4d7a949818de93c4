"""Evidence signals: is what a question needs in memory, and would a retriever find it?

Both are functions of the question's evidence chunk ids (labels of the data, never shown to
an agent) and of which chunk each memory entry was written from. They need no fact parser and
no answer extraction, so they work on any text: on real LoCoMo conversations the extractive
reader scores a perfect memory within the interval of FIFO (QA 0.109 vs 0.081 at 32 entries),
while evidence retention separates the oracle from every heuristic by 2-4x (DESIGN.md §4b).

- retention: share of the evidence chunks that some entry holds;
- recall@k: share of the evidence chunks held by one of the ``k`` entries the retriever ranks
  highest for the question text (``evidence_recall@k``): kept *and* findable.

The single and the batched environment both call :func:`evidence_shares`, so the two reward
terms have one definition.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from memgym.rewards.reader import BM25Reader


def recall_ranker(reader: Any, k: int) -> Any:
    """The retriever ``evidence_recall@k`` ranks with: the reader's own when it ranks
    (BM25, embeddings), else BM25 (an LLM answerer's retrieval is BM25 top-k too)."""
    if hasattr(reader, "rank"):
        return reader
    return BM25Reader(top_k=k)


def evidence_shares(
    evidence: Sequence[Sequence[int]],
    questions: Sequence[str],
    texts: Sequence[str],
    sources: Sequence[int | None],
    ranker: Any | None,
    k: int,
) -> list[tuple[float | None, float | None]]:
    """``(retention, recall@k)`` per question (``None`` for a question without evidence ids).

    ``texts`` / ``sources`` are the memory entries and the chunk each was written from
    (``None``: text that carries no chunk's evidence). ``ranker`` ranks entries for the
    questions (``rank(queries, entries)``); ``None`` skips recall (returned as ``None``).
    """
    held = {s for s in sources if s is not None}
    wanted = [i for i, ev in enumerate(evidence) if ev]
    rankings: dict[int, list[int]] = {}
    if ranker is not None and wanted and texts:
        ranked = ranker.rank([questions[i] for i in wanted], list(texts))
        rankings = dict(zip(wanted, ranked))
    out: list[tuple[float | None, float | None]] = []
    for i, ev in enumerate(evidence):
        need = set(ev)
        if not need:
            out.append((None, None))
            continue
        retention = len(need & held) / len(need)
        recall = None
        if ranker is not None:
            top = {sources[j] for j in rankings.get(i, [])[:k]} - {None}
            recall = len(need & top) / len(need)
        out.append((retention, recall))
    return out
