"""Loading trained policies as agents: ``memgym eval --agent runs/<name>`` (or a checkpoint).

A run folder's ``config.yaml`` names the backend that can load its checkpoints; a checkpoint
file is loaded by the backend of the run folder it sits in. Backends are optional extras,
imported only here, on use.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from memgym.agents.baselines import BASELINES


def run_folder_of(path: Path) -> Path | None:
    """The run folder a run path or checkpoint path belongs to (it holds ``config.yaml``)."""
    if path.is_dir() and (path / "config.yaml").is_file():
        return path
    return next((p for p in path.parents if (p / "config.yaml").is_file()), None)


def run_imports(spec: Any) -> list[str]:
    """The ``imports:`` of the run an agent spec points to (``[]`` for baselines, LLMs and
    anything unreadable: loading the agent reports those problems). Imported before the env
    id is looked up, so ``memgym eval --agent runs/<name>`` sees a run's own tasks."""
    import yaml

    if not isinstance(spec, str) or spec in BASELINES or spec.startswith("llm:"):
        return []
    path = Path(spec)
    folder = run_folder_of(path) if path.exists() else None
    if folder is None:
        return []
    try:
        data = yaml.safe_load((folder / "config.yaml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return []
    imports = data.get("imports") if isinstance(data, dict) else None
    return [m for m in imports if isinstance(m, str)] if isinstance(imports, list) else []


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
    folder = run_folder_of(path)
    if folder is None:  # a checkpoint file (SB3 .zip, GRPO .safetensors) or folder (RLlib)
        raise ValueError(f"{path}: no config.yaml in the folders above this checkpoint")
    run, checkpoint = RunFolder(folder), (None if folder == path else path)
    config = run.load_config()
    return backend_module(config.backend).load_agent(run, config, checkpoint)
