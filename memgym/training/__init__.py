"""Training backends (SB3, RLlib, TRL, GRPO). They import the core; the core never imports them.

``train_from_config`` is the single entry point behind ``memgym train``: it resolves the run
folder, dispatches to the backend named in the config and returns the final report.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from memgym.training.config import ConfigError, TrainConfig, check_env_kwargs, load_config


BACKENDS = ("sb3", "rllib", "trl", "grpo")
#: Backends whose module is not named after them.
BACKEND_MODULES = {"grpo": "grpo_small"}


def backend_module(name: str) -> Any:
    """The module of a backend: it provides ``validate(config)``, ``train(config, run,
    resume=False)`` and ``load_agent(run, config, checkpoint=None)``. Imported on use, so a
    backend's heavy dependencies load only when it is chosen."""
    import importlib

    if name not in BACKENDS:
        raise ConfigError(f"backend: {name!r}; choose one of {', '.join(BACKENDS)}")
    try:
        return importlib.import_module(f"memgym.training.{BACKEND_MODULES.get(name, name)}")
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("memgym"):
            raise ConfigError(f"backend: {name!r} is not available in this version") from exc
        raise ConfigError(f"backend {name!r} needs the {name} extra: pip install "
                          f"'memgym[{name}]' ({exc})") from exc


class TrainingInterrupted(Exception):
    """Ctrl-C during training: the backend saved a checkpoint (``checkpoint``, at ``steps``;
    ``None`` when there is none yet) and ``memgym train --resume <run>`` continues."""

    def __init__(self, run: Path, checkpoint: Path | None, steps: int | None) -> None:
        self.run, self.checkpoint, self.steps = run, checkpoint, steps
        saved = (f"saved checkpoint {checkpoint} (step {steps:,})" if checkpoint is not None
                 else "no checkpoint yet")
        super().__init__(f"interrupted: {saved}; continue with: memgym train --resume {run}")


def _train(backend: Any, config: TrainConfig, run: Any, resume: bool) -> dict[str, Any]:
    """``backend.train``; on Ctrl-C (the backends checkpoint before they let it through)
    raises :class:`TrainingInterrupted` naming the newest checkpoint."""
    try:
        return backend.train(config, run, resume=resume)
    except KeyboardInterrupt:
        latest = run.latest_checkpoint()
        raise TrainingInterrupted(run.path, *(latest or (None, None))) from None


def train_from_config(config: TrainConfig, *, overwrite: bool = False) -> dict[str, Any]:
    from memgym.training.run import RunFolder

    run = RunFolder.for_config(config)
    backend = backend_module(config.backend)
    check_env_kwargs(config)  # bad env arguments and hyperparameters fail before the run
    backend.validate(config)  # folder is made
    run.create(config, overwrite=overwrite)
    return _train(backend, config, run, resume=False)


def resume_run(path: str | Path, overrides: list[str] | None = None,
               imports: list[str] | None = None) -> dict[str, Any]:
    """Continue a run from its newest checkpoint. ``overrides`` (e.g. a larger
    ``total_timesteps``) and extra ``imports`` are applied to its config.yaml first."""
    from memgym.training.config import (add_imports, apply_overrides, dump_config, read_yaml,
                                        validate_config)
    from memgym.report import atomic_write_text
    from memgym.training.run import RunFolder

    run = RunFolder(path)
    if not run.config.is_file():
        raise ConfigError(f"{run.path}: not a run folder (no config.yaml)")
    data = add_imports(apply_overrides(read_yaml(run.config), overrides), imports)
    config = validate_config(data, str(run.config), overrides)
    backend = backend_module(config.backend)
    check_env_kwargs(config)
    backend.validate(config)
    if overrides or imports:
        atomic_write_text(run.config, dump_config(config))
    run.remove_temporaries()
    return _train(backend, config, run, resume=True)


__all__ = ["ConfigError", "TrainConfig", "TrainingInterrupted", "load_config",
           "train_from_config", "resume_run"]
