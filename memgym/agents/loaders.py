"""Loading trained policies as agents: ``memgym eval --agent runs/<name>`` (or a checkpoint).

Each training backend saves a run folder with ``config.yaml``; the backend named there knows
how to load its checkpoint. Backends are optional extras and are imported only here, on use.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from memgym.agents.baselines import BASELINES


def load_policy_agent(spec: str) -> Any:
    """An agent from a run folder or checkpoint path; unknown names fail with the choices."""
    path = Path(spec)
    if not path.exists():
        raise ValueError(
            f"unknown agent {spec!r}: expected a baseline ({', '.join(BASELINES)}) "
            "or the path of a training run folder / checkpoint"
        )
    raise ValueError(f"{spec}: no training backend can load this path (no run config found)")
