"""Joint vs independent training of the memory manager and the memory selector (RLlib PPO,
multi-agent, new API stack) on :class:`memgym.recipes.joint_reader.JointReaderEnv`.

- :func:`train_joint`: both policies learn together, one module per agent
  (``policy_mapping_fn``: agent id -> module id; both ``ActionMaskingTorchRLModule``).
- :func:`train_independent`: the manager learns against the fixed ``select_top_k`` selector
  (frozen inside the env), then the selector learns against that manager, frozen through
  RLlib's ``policies_to_train`` (its module is loaded from phase 1 and never updated; it still
  samples from its distribution while the selector learns, as in the joint run). The env-step
  budget is the joint run's, half per phase; an "env step" is one action of a *learned*
  agent (RLlib's count), so phase 1 does not count the fixed selector's picks.
- :func:`evaluate`: plays held-out episodes (seeds given) with any pair of policies (trained
  RLModules, module folders or baseline names) and returns per-episode ``qa_score``,
  ``entries_passed`` and ``selection_recall``, greedy (argmax of the masked logits).

There is no checkpoint selection: each run's final modules are returned (so nothing here
reads ``val`` or ``heldout`` while training). CoMAM's group-level credit is the env's
``credit_group`` option (:mod:`memgym.recipes.joint_reader`: the global reward's weight per
agent = rank consistency of its local and the global returns over the env's last episodes);
it is off unless ``env_config`` sets it. It reweights the *reward*, not PPO's advantages.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from memgym.training.rllib_agent import RLlibPolicyAgent, logdir_under, ray_session

ROLES = ("manager", "selector")
DEFAULT_PPO: dict[str, Any] = {"train_batch_size_per_learner": 1024, "minibatch_size": 256,
                               "num_epochs": 4, "lr": 3e-4, "entropy_coeff": 0.01}
DEFAULT_MODEL: dict[str, Any] = {"fcnet_hiddens": [64, 64], "head_fcnet_hiddens": []}


def selector_env_kwargs(env_id: str = "memgym/Selector-Dialogue-v0",
                        **changes: Any) -> dict[str, Any]:
    """The inner-env settings of a ``memgym/Selector-*`` id as ``JointReaderEnv`` kwargs
    (its fixed ``manager`` dropped: the joint env decides who plays), with ``changes``."""
    import gymnasium as gym

    import memgym  # noqa: F401  (registers the ids)

    kwargs = dict(gym.spec(env_id).kwargs)
    kwargs.pop("manager", None)
    return {**kwargs, **changes}


def _module_spec(load: str | Path | None, model: dict[str, Any]) -> Any:
    import logging

    from ray.rllib.core.rl_module.rl_module import RLModuleSpec

    logging.getLogger("ray._common.deprecation").setLevel(logging.ERROR)
    from ray.rllib.examples.rl_modules.classes.action_masking_rlm import (
        ActionMaskingTorchRLModule,
    )

    return RLModuleSpec(module_class=ActionMaskingTorchRLModule, model_config=dict(model),
                        load_state_path=None if load is None else str(load))


def build_config(env_config: dict[str, Any], *, learn: Sequence[str],
                 train: Sequence[str] | None = None, load: dict[str, str | Path] | None = None,
                 ppo: dict[str, Any] | None = None, model: dict[str, Any] | None = None,
                 seed: int = 0) -> Any:
    """The multi-agent ``PPOConfig``: one module per role in ``learn`` (the env's agents: the
    other role must be frozen in ``env_config``), ``train`` of them updated (default all),
    ``load``: role -> RLModule folder to start from. Sampling runs in the driver."""
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.rllib.core.rl_module.multi_rl_module import MultiRLModuleSpec

    from memgym.recipes.joint_reader import JointReaderEnv

    learn = list(learn)
    frozen = [r for r in ROLES if env_config.get(r) is not None]
    if sorted(learn + frozen) != sorted(ROLES):
        raise ValueError(f"each role is learned or frozen: learn={learn}, frozen={frozen}")
    load = dict(load or {})
    specs = {r: _module_spec(load.get(r), model or DEFAULT_MODEL) for r in learn}
    return (
        PPOConfig()
        .environment(JointReaderEnv, env_config=dict(env_config))
        .env_runners(num_env_runners=0, num_envs_per_env_runner=1)
        .learners(num_learners=0)
        .multi_agent(policies=set(learn), policy_mapping_fn=_same_id,
                     policies_to_train=list(train if train is not None else learn))
        .rl_module(rl_module_spec=MultiRLModuleSpec(rl_module_specs=specs))
        .training(**{**DEFAULT_PPO, **(ppo or {})})
        .debugging(seed=seed, log_level="ERROR")
    )


def _same_id(agent_id: str, episode: Any = None, **kwargs: Any) -> str:
    return agent_id


def _sampled(result: dict[str, Any]) -> tuple[int, dict[str, int]]:
    from ray.rllib.utils.metrics import (
        ENV_RUNNER_RESULTS, NUM_AGENT_STEPS_SAMPLED_LIFETIME, NUM_ENV_STEPS_SAMPLED_LIFETIME)

    runners = result.get(ENV_RUNNER_RESULTS, {})
    agents = runners.get(NUM_AGENT_STEPS_SAMPLED_LIFETIME, {}) or {}
    return int(runners.get(NUM_ENV_STEPS_SAMPLED_LIFETIME, 0)), \
        {str(k): int(v) for k, v in agents.items()}


def run_ppo(config: Any, steps: int, out: Path, save: Sequence[str]) -> dict[str, Any]:
    """Train ``config`` for ``steps`` env steps (whole iterations); save the modules of
    ``save`` under ``out/<role>``. Returns their folders and the sample counts."""
    out.mkdir(parents=True, exist_ok=True)
    with logdir_under(out / "ray"):
        algo = config.build_algo()
    try:
        done, agents, iterations = 0, {}, 0
        while done < steps:
            done, agents = _sampled(algo.train())
            iterations += 1
        folders = {role: out / role for role in save}
        # from the learner: the env runner's modules are inference-only (no value head)
        algo.learner_group.foreach_learner(
            lambda learner: [learner.module[role].save_to_path(str(folder))
                             for role, folder in folders.items()])
    finally:
        algo.stop()
    return {"modules": folders, "env_steps": done, "agent_steps": agents,
            "iterations": iterations}


def _session(out: Path) -> Any:
    """A one-CPU local Ray session with its files under ``out`` (or the running one)."""
    return ray_session(num_cpus=1, temp_dir=out / "ray_tmp")


def train_joint(env_config: dict[str, Any], steps: int, out: str | Path, *, seed: int = 0,
                ppo: dict[str, Any] | None = None, model: dict[str, Any] | None = None
                ) -> dict[str, Any]:
    """Both roles learn together for ``steps`` env steps; modules under ``out/joint``."""
    import torch

    torch.set_num_threads(1)
    out = Path(out)
    cfg = {**env_config, "manager": None, "selector": None}
    with _session(out):
        return run_ppo(build_config(cfg, learn=ROLES, ppo=ppo, model=model, seed=seed),
                       steps, out / "joint", ROLES)


def train_independent(env_config: dict[str, Any], steps: int, out: str | Path, *,
                      seed: int = 0, fixed_selector: str = "select_top_k",
                      ppo: dict[str, Any] | None = None, model: dict[str, Any] | None = None
                      ) -> dict[str, Any]:
    """Phase 1: the manager against ``fixed_selector`` (``steps // 2``); phase 2: the selector
    against that manager, frozen (``steps - steps // 2``). Modules under
    ``out/independent_{manager,selector}`` (phase 2 saves the frozen manager too: the same
    weights as phase 1's, which the tests check)."""
    import torch

    torch.set_num_threads(1)
    out = Path(out)
    with _session(out):
        first = run_ppo(build_config({**env_config, "manager": None,
                                      "selector": fixed_selector},
                                     learn=["manager"], ppo=ppo, model=model, seed=seed),
                        steps // 2, out / "independent_manager", ["manager"])
        second = run_ppo(build_config({**env_config, "manager": None, "selector": None},
                                      learn=ROLES, train=["selector"],
                                      load={"manager": first["modules"]["manager"]},
                                      ppo=ppo, model=model, seed=seed),
                         steps - steps // 2, out / "independent_selector", ROLES)
    return {"modules": {"manager": first["modules"]["manager"],
                        "selector": second["modules"]["selector"]},
            "env_steps": first["env_steps"] + second["env_steps"],
            "phases": [{k: v for k, v in p.items() if k != "modules"} for p in (first, second)]}


# -- evaluation -----------------------------------------------------------------------------
def as_agent(policy: Any, role: str) -> Any:
    """A baseline name stays a name (the env builds it); an RLModule or a module folder
    becomes a greedy :class:`RLlibPolicyAgent`; anything with ``act`` is used as is."""
    if isinstance(policy, str) and not Path(policy).exists():
        return policy
    if isinstance(policy, (str, Path)):
        from ray.rllib.core.rl_module.rl_module import RLModule

        policy = RLModule.from_checkpoint(str(policy))
        policy.eval()
    if hasattr(policy, "act"):
        return policy
    return RLlibPolicyAgent(policy, name=role)


def evaluate(env_config: dict[str, Any], manager: Any, selector: Any, seeds: Sequence[int],
             split: str = "heldout") -> list[dict[str, Any]]:
    """Play one episode per seed on ``split`` with both roles fixed (greedy modules or
    baselines): per episode ``qa_score``, ``entries_passed`` (per question),
    ``selection_recall`` (evidence recall of the selection)."""
    import torch

    from memgym.recipes.joint_reader import JointReaderEnv

    torch.set_num_threads(1)
    env = JointReaderEnv({**env_config, "split": split, "manager": as_agent(manager, "manager"),
                          "selector": as_agent(selector, "selector")})
    rows = []
    for seed in seeds:
        final = env.play(seed=int(seed))
        rows.append({"seed": int(seed), "qa_score": final["qa_score"],
                     "entries_passed": final["entries_passed"],
                     "selection_recall": final["selection_recall"]})
    return rows


def summary(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Mean and normal 95% half-width of each per-episode number."""
    out: dict[str, Any] = {"episodes": len(rows)}
    for key in ("qa_score", "entries_passed", "selection_recall"):
        values = np.array([r[key] for r in rows if r[key] is not None], dtype=float)
        half = 1.96 * values.std(ddof=1) / np.sqrt(len(values)) if len(values) > 1 else 0.0
        out[key] = {"mean": float(values.mean()) if len(values) else None, "ci95": float(half)}
    return out
