"""Agents from what a user names: baselines, trained runs, checkpoints and LLMs.

``memgym eval --agent runs/<name>`` (or a checkpoint inside a run, or ``llm:<model>``)
needs the trainers to load a policy, so loading lives here, on the top floor beside the CLI,
and evaluation (:mod:`memgym.agents.evaluate`) takes agent objects or baseline names, with a
loader passed in for anything else (as SB3's ``evaluate_policy(model, env)`` takes a model):

    evaluate_agents(["fifo", "runs/kv-medium"], env_id, load=load_agent)

A run folder's ``config.yaml`` names the backend that loads its checkpoints; a checkpoint
is loaded by the backend of the run folder it sits in. Backends are optional extras,
imported on use.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from memgym.agents.baselines import BASELINES, Agent


def run_folder_of(path: Path) -> Path | None:
    """The run folder a run path or checkpoint path belongs to (it holds ``config.yaml``)."""
    if path.is_dir() and (path / "config.yaml").is_file():
        return path
    return next((p for p in path.parents if (p / "config.yaml").is_file()), None)


#: Agent specs naming an LLM rather than a run folder: ``llm:<model>[#mode]``, ``endpoint:<model>``.
LLM_PREFIXES = ("llm:", "endpoint:")


def run_imports(spec: Any) -> list[str]:
    """The ``imports:`` of the run an agent spec points to (``[]`` for baselines, LLMs and
    anything unreadable: loading the agent reports those problems)."""
    import yaml

    if not isinstance(spec, str) or spec in BASELINES or spec.startswith(LLM_PREFIXES):
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


def agent_imports(specs: Sequence[Any], imports: Sequence[str] = ()) -> list[str]:
    """Import the run folders' own ``imports:`` (errors name the run), so the env id they
    were trained on is registered; returns ``imports`` plus those modules, for workers."""
    from memgym.plugins import import_modules

    out = list(imports)
    for spec in specs:
        own = run_imports(spec)
        import_modules(own, label=f"{spec}: imports:")
        out += [m for m in own if m not in out]
    return out


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


def load_agent(spec: str | Agent) -> Agent:
    """A baseline by name, ``llm:<model spec or backend: trl run folder>``, or a trained
    policy from a run folder / checkpoint path; agent objects are returned as they are."""
    if not isinstance(spec, str):
        return spec
    if spec in BASELINES:
        return BASELINES[spec]()
    if spec.startswith(LLM_PREFIXES):  # an LLM on a text env: llm:smollm2, endpoint:<model>
        kind, _, rest = spec.partition(":")
        path = Path(rest)
        if kind == "llm" and path.is_dir() and (path / "config.yaml").is_file():
            return load_policy_agent(str(path))  # a backend: trl run (its config's rollout)
        from memgym.llm.agent_specs import load_chunked_agent

        return load_chunked_agent(kind, rest)
    return load_policy_agent(spec)
