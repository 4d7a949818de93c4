"""Loading trained policies as agents: ``memgym eval --agent runs/<name>`` (or a checkpoint).

A run folder's ``config.yaml`` names the backend that can load its checkpoints; a checkpoint
file is loaded by the backend of the run folder it sits in. Backends are optional extras,
imported only here, on use.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from memgym.agents.baselines import BASELINES


def load_policy_agent(spec: str) -> Any:
    """An agent from a run folder or checkpoint path; unknown names fail with the choices."""
    from memgym.training import backend_module
    from memgym.training.run import RunFolder

    path = Path(spec)
    if not path.exists():
        raise ValueError(
            f"unknown agent {spec!r}: expected a baseline ({', '.join(BASELINES)}), "
            "the path of a training run folder / checkpoint, or llm:<smollm2 | tiny | model path>"
        )
    if path.is_dir() and (path / "config.yaml").is_file():
        run, checkpoint = RunFolder(path), None
    else:  # a checkpoint file (SB3 .zip, GRPO .safetensors) or folder (RLlib step_<n>/)
        folder = next((p for p in path.parents if (p / "config.yaml").is_file()), None)
        if folder is None:
            raise ValueError(f"{path}: no config.yaml in the folders above this checkpoint")
        run, checkpoint = RunFolder(folder), path
    config = run.load_config()
    return backend_module(config.backend).load_agent(run, config, checkpoint)
