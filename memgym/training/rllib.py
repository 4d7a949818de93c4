"""RLlib backend: PPO on the new API stack, from the same YAML config as the SB3 backend.

The config maps onto ``PPOConfig`` as follows (``rllib:`` holds the Ray-only settings, see
:class:`RLlibSpec`):

- ``env.id / kwargs / split / options`` -> an env creator registered with ``register_env``
  (``gym.make`` + ``DefaultResetOptions`` + ``ActionMaskObservation``);
- ``algo.n_envs`` -> ``num_envs_per_env_runner``; ``rllib.num_env_runners`` -> runners;
- ``algo.hyperparams`` -> ``.training(...)`` (names checked against its signature;
  ``lr`` / ``entropy_coeff`` accept ``lin_<value>``, linear decay to 0 over the run);
- ``algo.policy_kwargs`` -> the RLModule's ``model_config`` (``DefaultModelConfig`` fields:
  ``fcnet_hiddens``, ``head_fcnet_hiddens``, ``use_lstm``, ``lstm_cell_size``, ...;
  ``net_arch`` is accepted as an alias of ``fcnet_hiddens``);
- action masking: ``ActionMaskingTorchRLModule`` (``rllib.action_masking: false`` keeps the
  same observations but ignores the mask, like SB3's PPO).

``train(config, run)`` starts (or joins) Ray, trains with memgym's own evaluation on
``eval.select_split`` every ``eval.freq`` steps (:class:`memgym.training.run.PeriodicEval`:
``eval/curve.json``, ``best/model`` = the best RLModule), saves Algorithm checkpoints
atomically into ``checkpoints/step_<n>/`` and writes the same final report (on ``eval.split``)
as the SB3 backend. ``resume=True`` restores the newest checkpoint.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import json
import logging
import os
import time
from pathlib import Path
from typing import Any, Literal

import gymnasium as gym
from pydantic import BaseModel, ConfigDict, Field
from ray.util import log_once
from ray.tune.registry import ENV_CREATOR, _global_registry, register_env

# Quiet two notices that are not for memgym users: the example module imports PPO's module
# under its deprecated name, and "PPO runs on the new API stack" (we chose it).
logging.getLogger("ray._common.deprecation").setLevel(logging.ERROR)
from ray.rllib.examples.rl_modules.classes.action_masking_rlm import (  # noqa: E402
    ActionMaskingTorchRLModule,
)
logging.getLogger("ray._common.deprecation").setLevel(logging.NOTSET)
log_once("PPO_on_new_api_stack")

from memgym.training.config import (  # noqa: E402
    ConfigError, TrainConfig, refuse_option_choices, validate_block)
from memgym.training.hyperparams import (  # noqa: E402
    LinearDecay, given, signature_model, validate_hyperparams)
from memgym.training.rllib_agent import (  # noqa: F401  (re-exported)
    AFTER_SHUTDOWN, RLlibPolicyAgent, load_module, logdir_under, ray_session, save_dir_atomic)
from memgym.training.run import PeriodicEval, RunFolder, final_report

ALGOS = ("PPO", "MaskablePPO")
# Arguments of PPOConfig.training that a config file must not set (deprecated, old API stack,
# or objects rather than values).
NOT_SETTABLE = {"self", "kwargs", "model", "lr_schedule", "vf_share_layers", "num_sgd_iter",
                "learner_class", "learner_connector", "add_default_connectors_to_learner_pipeline",
                "num_aggregator_actors_per_learner", "max_requests_in_flight_per_aggregator_actor",
                "max_requests_in_flight_per_sampler_worker"}
SB3_NAMES = {"learning_rate": "lr", "ent_coef": "entropy_coeff", "n_epochs": "num_epochs",
             "batch_size": "minibatch_size", "gae_lambda": "lambda_", "clip_range": "clip_param",
             "vf_coef": "vf_loss_coeff", "max_grad_norm": "grad_clip",
             "n_steps": "train_batch_size_per_learner"}
SCHEDULED = ("lr", "entropy_coeff")


class RLlibSpec(BaseModel):
    """The ``rllib:`` block of a config file (``backend: rllib``)."""

    model_config = ConfigDict(extra="forbid")

    address: str | None = None
    """Ray cluster to join (``auto``, ``host:6379``, ``ray://host:10001``); default
    ``RAY_ADDRESS``; if neither is set a local cluster is started and stopped."""
    num_cpus: int | None = Field(None, ge=1)
    """CPUs of the local cluster (default: all of this machine)."""
    num_env_runners: int = Field(2, ge=0)
    """Sampling actors (0: sample in the driver)."""
    num_cpus_per_env_runner: float = Field(1.0, ge=0)
    storage_path: str | None = None
    """Folder for Ray/RLlib's own outputs (logdir, ``progress.jsonl``): ``<storage_path>/<name>``;
    default ``<run>/ray``."""
    temp_dir: str | None = None
    """Ray session files of a local cluster; default ``RAY_TMPDIR``, else
    ``<storage_path>/tmp`` (reached through a short ``/tmp/ray*`` symlink if long)."""
    action_masking: bool = True
    restart_failed_env_runners: bool = True
    max_env_runner_restarts: int = Field(100, ge=0)
    env_runner_restart_delay_s: float = Field(5.0, ge=0)
    """A failed env runner waits this long before it exits and is restarted (RLlib: 60)."""
    sample_timeout_s: float = Field(60.0, gt=0)
    gym_env_vectorize_mode: Literal["sync", "async", "vector_entry_point"] = "sync"
    """How each env runner batches its ``algo.n_envs`` envs: Gymnasium's ``sync`` / ``async``
    vector envs over single envs, or ``vector_entry_point``: memgym's batched numpy env."""


def _hint(key: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(key, choices, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def rllib_spec(config: TrainConfig) -> RLlibSpec:
    return validate_block(RLlibSpec, config.rllib, "rllib")


@functools.cache
def hyperparams_model() -> type[BaseModel]:
    """The typed ``algo.hyperparams``: the arguments of ``PPOConfig.training`` (and of
    ``AlgorithmConfig.training``, which it forwards to), with their types."""
    from ray.rllib.algorithms.algorithm_config import AlgorithmConfig
    from ray.rllib.algorithms.ppo import PPOConfig

    return signature_model("RLlibPPOHyperparams",
                           [PPOConfig.training, AlgorithmConfig.training],
                           skip=NOT_SETTABLE, scheduled=SCHEDULED)


def hyperparams(config: TrainConfig) -> BaseModel:
    """``algo.hyperparams`` validated into :func:`hyperparams_model` (once per run)."""
    return validate_hyperparams(hyperparams_model(), config.algo.hyperparams,
                                "PPOConfig.training", hints=SB3_NAMES)


def training_kwargs(config: TrainConfig, params: BaseModel) -> dict[str, Any]:
    """The hyperparameters the config set, as ``PPOConfig.training`` takes them (a
    ``lin_<v>`` decay becomes RLlib's ``[[0, v], [total_timesteps, 0]]``)."""
    return {key: [[0, value.start], [config.total_timesteps, 0.0]]
            if isinstance(value, LinearDecay) else value
            for key, value in given(params).items()}


def model_config(config: TrainConfig) -> dict[str, Any]:
    """``algo.policy_kwargs`` as the RLModule's ``model_config`` (``DefaultModelConfig``)."""
    from ray.rllib.core.rl_module.default_model_config import DefaultModelConfig

    fields = [f.name for f in dataclasses.fields(DefaultModelConfig)]
    out = dict(config.algo.policy_kwargs)
    if "net_arch" in out:
        if "fcnet_hiddens" in out:
            raise ConfigError("algo.policy_kwargs.net_arch: give fcnet_hiddens or net_arch, not both")
        out["fcnet_hiddens"] = out.pop("net_arch")
    if out.get("use_lstm"):
        out.setdefault("max_seq_len", 20)  # DefaultModelConfig's; RLlib's connector needs it set
    for key in out:
        if key not in fields:
            raise ConfigError(f"algo.policy_kwargs.{key}: not a field of RLlib's "
                              f"DefaultModelConfig{_hint(key, fields)}")
    return out


def validate(config: TrainConfig) -> RLlibSpec:
    """Fail on anything RLlib would reject, before any file is written."""
    return validated(config)[0]


def validated(config: TrainConfig) -> tuple[RLlibSpec, BaseModel]:
    """The ``rllib:`` block and the typed hyperparameters, each validated once, after RLlib
    has accepted the whole ``PPOConfig`` they make."""
    if config.algo.name not in ALGOS:
        hint = " (set algo.policy_kwargs.use_lstm: true)" if config.algo.name == "RecurrentPPO" \
            else _hint(config.algo.name, list(ALGOS))
        raise ConfigError(f"algo.name: {config.algo.name!r} is not an rllib algorithm{hint}; "
                          f"choose {', '.join(ALGOS)} (both: RLlib PPO, masked per rllib.action_masking)")
    refuse_option_choices(config, "rllib")
    if config.algo.policy is not None:
        raise ConfigError("algo.policy: not used by the rllib backend (set algo.policy_kwargs)")
    spec, params = rllib_spec(config), hyperparams(config)
    algo_config = build_algo_config(config, spec, params)
    try:
        algo_config.validate()
    except (ValueError, TypeError) as exc:
        message = str(exc).split("\nTo suppress")[0].strip()
        raise ConfigError(f"algo / rllib settings rejected by RLlib: {message}") from exc
    return spec, params


# -- environments -------------------------------------------------------------------------
def make_env(env_id: str, env_config: dict[str, Any] | None = None) -> gym.Env:
    """RLlib env creator: ``env_config`` holds ``gym.make`` kwargs plus ``reset_options``
    and ``imports`` (the config's task modules, imported first: Ray workers are fresh)."""
    from memgym.envs.wrappers import ActionMaskObservation, DefaultResetOptions
    from memgym.plugins import prepare

    kwargs = dict(env_config or {})
    prepare(kwargs.pop("imports", None) or (), label="imports:")
    options = kwargs.pop("reset_options", None)
    num_envs = kwargs.pop("num_envs", None)
    if num_envs is not None:  # RLlib's vector_entry_point call (gym_env_vectorize_mode)
        from memgym.envs.vector import MemoryVectorEnv
        from memgym.envs.vector_wrappers import VectorActionMaskObservation

        kwargs = {**gym.spec(env_id).kwargs, **kwargs}
        return VectorActionMaskObservation(
            MemoryVectorEnv(int(num_envs), episode_options=options, **kwargs))
    return ActionMaskObservation(DefaultResetOptions(gym.make(env_id, **kwargs), options))


_EXTRA_IDS: set[str] = set()
"""Non-memgym ids (``extra_ids``) that :func:`register_envs` registered: registered again with
the memgym ids."""


def register_envs(*extra_ids: str) -> None:
    """``register_env`` every structured memgym id (and ``extra_ids`` not registered yet) so
    ``PPOConfig().environment("memgym/...")`` builds its envs with :func:`make_env`, on every
    Ray worker and without Ray. Idempotent; called at import, again once Ray is up and again
    after ``ray_session`` shuts Ray down: Ray's registry holds a registration in the driver
    only until a session starts, then in that session only. An id missing from it is made by
    RLlib with ``gym.make_vec(id, **env_config)``: no ``reset_options`` handling and no
    ``ActionMaskObservation``. After a ``ray.shutdown()`` of your own, call this again."""
    import memgym

    ids = [i for i, info in memgym.REGISTRY.items() if info.interface == "structured"]
    extra = [i for i in dict.fromkeys([*extra_ids, *sorted(_EXTRA_IDS)])
             if i not in ids and not _global_registry.contains(ENV_CREATOR, i)]
    _EXTRA_IDS.update(extra)
    for env_id in ids + extra:
        register_env(env_id, functools.partial(make_env, env_id))


register_envs()
AFTER_SHUTDOWN.append(register_envs)


class UnmaskedTorchRLModule(ActionMaskingTorchRLModule):
    """Same observations as the masking module, but the mask is ignored (``action_masking:
    false``): invalid actions are sampled and cost the env's penalty, like SB3's PPO."""

    def _mask_action_logits(self, batch: dict[str, Any], action_mask: Any) -> dict[str, Any]:
        return batch


def build_algo_config(config: TrainConfig, spec: RLlibSpec, params: BaseModel | None = None
                      ) -> Any:
    """The ``PPOConfig`` of the run (``params``: the typed hyperparameters, validated here
    when not given)."""
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.rllib.core.rl_module.rl_module import RLModuleSpec

    module_class = ActionMaskingTorchRLModule if spec.action_masking else UnmaskedTorchRLModule
    env_config = {**config.env.kwargs, "split": config.env.split,
                  "reset_options": dict(config.env.options), "imports": list(config.imports)}
    return (
        PPOConfig()
        .environment(config.env.id, env_config=env_config)
        .env_runners(num_env_runners=spec.num_env_runners,
                     num_envs_per_env_runner=config.algo.n_envs,
                     num_cpus_per_env_runner=spec.num_cpus_per_env_runner,
                     sample_timeout_s=spec.sample_timeout_s,
                     gym_env_vectorize_mode=spec.gym_env_vectorize_mode)
        .learners(num_learners=0)
        .training(**training_kwargs(config, hyperparams(config) if params is None else params))
        .rl_module(rl_module_spec=RLModuleSpec(module_class=module_class,
                                               model_config=model_config(config)))
        .fault_tolerance(restart_failed_env_runners=spec.restart_failed_env_runners,
                         max_num_env_runner_restarts=spec.max_env_runner_restarts,
                         delay_between_env_runner_restarts_s=spec.env_runner_restart_delay_s)
        .debugging(seed=config.seed, log_level="WARN")
    )


# -- checkpoints ----------------------------------------------------------------------------
def save_checkpoint(algo: Any, run: RunFolder, steps: int) -> Path:
    final = run.checkpoint_path(steps, suffix="")
    save_dir_atomic(lambda tmp: algo.save_to_path(str(tmp)), final)
    run.record_checkpoint(final, steps)
    return final


def sampled_steps(result: dict[str, Any]) -> int:
    from ray.rllib.utils.metrics import ENV_RUNNER_RESULTS, NUM_ENV_STEPS_SAMPLED_LIFETIME

    return int(result.get(ENV_RUNNER_RESULTS, {}).get(NUM_ENV_STEPS_SAMPLED_LIFETIME, 0))


# -- loading --------------------------------------------------------------------------------
def load_agent(run: RunFolder, config: TrainConfig,
               checkpoint: Path | None = None) -> RLlibPolicyAgent:
    """The best RLModule of a run (else the newest checkpoint's), or ``checkpoint`` (an
    Algorithm checkpoint folder or an RLModule folder), as an evaluation agent."""
    import torch

    torch.set_num_threads(config.torch_threads)
    path = checkpoint or run.best_model(suffix="") or (run.latest_checkpoint() or (None,))[0]
    if path is None:
        raise ConfigError(f"{run.path}: no checkpoint to load yet")
    return RLlibPolicyAgent(load_module(path), name=config.name)


# -- training -------------------------------------------------------------------------------
class Trainer:
    """The training loop's bookkeeping: selection curve, best module, checkpoints, progress."""

    def __init__(self, config: TrainConfig, run: RunFolder, algo: Any, storage: Path) -> None:
        self.config, self.run, self.algo = config, run, algo
        self.periodic = PeriodicEval(config, run)
        self.steps = 0
        """Environment steps after the last completed ``algo.train()``."""
        self.log = storage / "progress.jsonl"
        self.start = time.perf_counter()
        try:  # the same tensorboard folder as SB3 runs, when tensorboard is installed
            from torch.utils.tensorboard import SummaryWriter

            self.writer: Any = SummaryWriter(str(run.tensorboard / "rllib"))
        except ImportError:
            self.writer = None

    def scalar(self, tag: str, value: Any, steps: int) -> None:
        if self.writer is not None and value is not None:
            self.writer.add_scalar(tag, value, steps)

    def evaluate(self, steps: int) -> dict[str, Any]:
        """One periodic evaluation (selection split); saves ``best/model`` when it is the best."""
        module = self.algo.get_module()
        summary, is_best = self.periodic(RLlibPolicyAgent(module, name=self.config.name), steps)
        for tag, value in self.periodic.scalars(summary).items():
            self.scalar(tag, value, steps)
        if is_best:
            save_dir_atomic(lambda tmp: module.save_to_path(str(tmp)), self.run.best / "model")
        return summary

    def record(self, result: dict[str, Any], steps: int) -> None:
        from ray.rllib.utils.metrics import (ENV_RUNNER_RESULTS, EPISODE_RETURN_MEAN,
                                             FAULT_TOLERANCE_STATS)

        row = {"iteration": result.get("training_iteration"), "steps": steps,
               "episode_return_mean": result.get(ENV_RUNNER_RESULTS, {}).get(EPISODE_RETURN_MEAN),
               "env_runner_restarts": result.get(FAULT_TOLERANCE_STATS, {}).get(
                   "num_remote_worker_restarts"),
               "seconds": round(time.perf_counter() - self.start, 2)}
        with self.log.open("a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")
        self.scalar("rollout/ep_rew_mean", row["episode_return_mean"], steps)

    def loop(self, steps: int) -> int:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        config = self.config
        next_eval = (steps // config.eval.freq + 1) * config.eval.freq
        next_ckpt = (steps // config.checkpoint_freq + 1) * config.checkpoint_freq
        start_steps = steps
        progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                            TextColumn("{task.completed:,}/{task.total:,} steps"),
                            TextColumn("{task.fields[fps]:>6} fps"),
                            TextColumn(f"{self.periodic.label} {{task.fields[score]}}"),
                            TimeElapsedColumn(),
                            disable=not config.progress)
        with progress:
            bar = progress.add_task(config.name, total=config.total_timesteps, completed=steps,
                                    fps="-", score=self.periodic.text())
            while steps < config.total_timesteps:
                if (config.max_minutes is not None
                        and time.perf_counter() - self.start > 60 * config.max_minutes):
                    break
                result = self.algo.train()
                steps = self.steps = sampled_steps(result)
                self.record(result, steps)
                if steps >= next_ckpt:
                    save_checkpoint(self.algo, self.run, steps)
                    next_ckpt = (steps // config.checkpoint_freq + 1) * config.checkpoint_freq
                if steps >= next_eval:
                    self.evaluate(steps)
                    next_eval = (steps // config.eval.freq + 1) * config.eval.freq
                fps = int((steps - start_steps) / max(time.perf_counter() - self.start, 1e-9))
                progress.update(bar, completed=steps, fps=fps, score=self.periodic.text())
                self.scalar("time/fps", fps, steps)
        return steps

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def train(config: TrainConfig, run: RunFolder, *, resume: bool = False) -> dict[str, Any]:
    """Train (or continue) the run on Ray; returns the final report."""
    import torch

    torch.set_num_threads(config.torch_threads)
    spec, params = validated(config)
    storage = (Path(spec.storage_path) / config.name if spec.storage_path
               else run.path / "ray").absolute()
    temp_dir = spec.temp_dir or os.environ.get("RAY_TMPDIR") or storage / "tmp"
    with ray_session(address=spec.address, num_cpus=spec.num_cpus, temp_dir=temp_dir):
        register_envs(config.env.id)
        with logdir_under(storage):
            algo = build_algo_config(config, spec, params).build_algo()
        try:
            latest = run.latest_checkpoint() if resume else None
            steps = 0
            if latest is not None:
                algo.restore_from_path(str(latest[0]))
                steps = latest[1]
            trainer = Trainer(config, run, algo, storage)
            trainer.steps = steps
            try:
                try:
                    steps = trainer.loop(steps)
                except KeyboardInterrupt:  # Ctrl-C: keep the iterations since the last one
                    if trainer.steps > (latest[1] if latest is not None else 0):
                        save_checkpoint(algo, run, trainer.steps)
                    raise
                if latest is None or steps != latest[1]:
                    save_checkpoint(algo, run, steps)
                if run.best_model(suffix="") is None:
                    trainer.evaluate(steps)
            finally:
                trainer.close()
        finally:
            algo.stop()
    return final_report(config, run, load_agent(run, config))
