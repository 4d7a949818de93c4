"""What the TRL backend (:mod:`memgym.training.trl`) and its warm start
(:mod:`memgym.training.trl_sft`) share: the training env check and saving a model with its
manifest. Its own module so that neither of the two imports the other's internals."""

from __future__ import annotations

import os
import resource
import shutil
import sys
from pathlib import Path
from typing import Any

from memgym.training.config import TrainConfig


def base_spec(base: str, folder: str | Path) -> str:
    """How a manifest in ``folder`` names its base model: a model spec as is, a folder
    relative to ``folder`` (so a run folder can be moved or copied whole)."""
    path = Path(base)
    if base in ("smollm2", "tiny") or not path.is_dir():
        return base
    return os.path.relpath(path.resolve(), Path(folder).resolve())


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024, 1)


def built_env(config: TrainConfig) -> Any:
    """The training env (text twin of ``env.id``), built and reset once: bad kwargs fail here."""
    import gymnasium as gym

    from memgym.llm.tool_env import text_twin

    env = gym.make(text_twin(config.env.id), **config.env.kwargs).unwrapped
    env.reset(seed=0, options={"split": config.env.split, "episode_seed": 0, **config.env.options})
    return env


#: The write mode each kind of text env is played in (memory envs: ``tools`` / ``rewrite``).
MODE_OF_LAYOUT = {"select_text": "select", "joint_text": "joint"}


def env_write_mode(env: Any) -> str | None:
    """``select`` for a selector text env, ``joint`` for a manager + selector one, None for a
    memory env (``tools`` or ``rewrite``)."""
    return MODE_OF_LAYOUT.get(getattr(env, "action_layout", None))


def check_env(config: TrainConfig) -> list[str]:
    """Build the training env once (bad kwargs fail here); returns its enabled tool names
    (none for a selector env)."""
    return list(getattr(built_env(config), "tools", []))


def save_model(model: Any, tokenizer: Any, folder: Path, base: str) -> None:
    """Weights (or a LoRA adapter) + tokenizer + manifest, into ``folder`` atomically."""
    from memgym.llm.models import write_manifest

    folder = Path(folder)
    tmp = folder.with_name(f".{folder.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    adapter = _is_adapter(model)
    model.save_pretrained(str(tmp))
    tokenizer.save_pretrained(str(tmp))
    write_manifest(tmp, base_spec(base, folder), adapter=adapter)
    old = folder.with_name(f".{folder.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if folder.exists():
        os.replace(folder, old)
    os.replace(tmp, folder)
    shutil.rmtree(old, ignore_errors=True)


def _is_adapter(model: Any) -> bool:
    try:
        from peft import PeftModel
    except ImportError:  # pragma: no cover - peft ships with the trl extra
        return False
    return isinstance(model, PeftModel)
