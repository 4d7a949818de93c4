"""Selective recall recipe: evaluate agents across distractor rates on the same streams.

``memgym/SelectiveRecall-{Easy,Medium,Hard}-v0`` need no wrapper (the knobs are task
parameters, settable per episode through reset options); what the recipe adds is the sweep:
every agent on the same held-out episode seeds at each ``distractor_rate``, so the effect of
the rate on each agent is a within-run comparison.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from memgym.agents.evaluate import evaluate_agents

DEFAULT_RATES: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8)


def sweep(agents: Sequence[Any], knob: str, values: Sequence[Any], *,
          env_id: str = "memgym/SelectiveRecall-Medium-v0", episodes: int = 30,
          split: str = "heldout", seed: int = 0,
          options: dict[str, Any] | None = None) -> dict[str, dict[str, float]]:
    """``{agent name: {value: mean QA}}``: each agent (baseline name or agent object) on the
    same ``episodes`` streams at each value of the task parameter ``knob`` (other task
    ``options`` fixed)."""
    if not values:
        raise ValueError(f"values: give at least one value of {knob!r}")
    out: dict[str, dict[str, float]] = {}
    for value in values:
        report = evaluate_agents(list(agents), env_id, split=split, episodes=episodes, seed=seed,
                                 options={**(options or {}), knob: value})
        for name, summary in report["agents"].items():
            out.setdefault(name, {})[f"{value:g}" if isinstance(value, float) else str(value)] = \
                summary["qa_score"]
    return out


def distractor_sweep(agents: Sequence[Any], rates: Sequence[float] = DEFAULT_RATES,
                     **kwargs: Any) -> dict[str, dict[str, float]]:
    """:func:`sweep` over ``distractor_rate`` (the recipe's headline knob)."""
    if not rates:
        raise ValueError("rates: give at least one distractor rate")
    return sweep(agents, "distractor_rate", [float(r) for r in rates], **kwargs)


def slope(scores: dict[str, float]) -> float:
    """Least-squares slope of QA against the distractor rate (QA change per unit rate)."""
    if len(scores) < 2:
        raise ValueError("slope needs scores at two or more rates")
    rates = np.array([float(r) for r in scores])
    return float(np.polyfit(rates, np.array(list(scores.values())), 1)[0])
