"""Reward = a weighted sum of named terms, each reported separately in ``info``.

Terms (raw values; the weight of each is a field of :class:`RewardConfig`):

- ``qa``: score of each answered question / number of questions (sums to the mean QA score).
- ``shaping``: change in the evidence potential (mean over unanswered questions of the share
  of their evidence kept / (1 + conflicting chunks kept)); potential-based, so it sums to a
  constant and does not change the optimal policy (Ng et al. 1999), but pays for keeping
  evidence early.
- ``memory_size``: minus the memory fill fraction, averaged over the stream (per chunk).
- ``compression``: at the end, 1 - memory tokens / stream tokens (Mem-alpha's term).
- ``op_cost``: minus the cost of each executed op (``op_costs``).
- ``retrieval``: minus the cost of rereads and of query routing tiers.
- ``invalid``: -1 for an invalid action (masked in the structured interface, an error in the
  text one); memory is left unchanged.
- ``format``: -1 for an unparsable text action.
- ``evidence``: when a question is asked, the share of its evidence chunks held in memory,
  divided by the number of questions that name evidence (sums to the mean evidence retention).
  Needs evidence ids (every built-in task and LoCoMo-style data have them), no parser and no
  reader: it is the signal that trains on real text, where extractive QA cannot tell a good
  memory from a bad one (docs/real_text.md).
- ``evidence_recall``: likewise, the share of its evidence chunks among the ``evidence_k``
  entries the reader's retriever ranks highest for the question (BM25, or MiniLM with the
  embedding reader): kept *and* findable.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

TERMS: tuple[str, ...] = (
    "qa", "shaping", "memory_size", "compression", "op_cost", "retrieval", "invalid", "format",
    "evidence", "evidence_recall", "rank_credit", "citation",
)


class RewardConfig(BaseModel):
    """Weights of the reward terms and the raw costs they multiply."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    qa: float = 1.0
    shaping: float = 0.0
    memory_size: float = 0.0
    compression: float = 0.0
    op_cost: float = 1.0
    retrieval: float = 1.0
    invalid: float = 0.1
    format: float = 0.1
    evidence: float = 0.0
    evidence_recall: float = 0.0
    rank_credit: float = 0.0
    citation: float = 0.0
    op_costs: dict[str, float] = Field(default_factory=dict)
    """Raw cost per executed op name (e.g. ``{"add": 0.01}``); ops not listed cost 0."""
    reread_cost: float = 0.02
    """Raw cost of one reread (of a past chunk or an archived entry)."""
    evidence_k: int = Field(10, ge=1)
    """``k`` of ``evidence_recall@k``: how many ranked entries count as retrieved."""

    def weight(self, term: str) -> float:
        return float(getattr(self, term))


def reward_config(value: RewardConfig | dict | None) -> RewardConfig:
    """Accept a config, a plain dict (from YAML / env kwargs) or ``None`` (defaults)."""
    if value is None:
        return RewardConfig()
    if isinstance(value, RewardConfig):
        return value
    return RewardConfig.model_validate(value)
