"""Stable-Baselines3 backend: PPO, MaskablePPO (sb3-contrib) and RecurrentPPO from a config.

``train(config, run)`` builds the vectorised training envs, the algorithm (hyperparameters
checked against its constructor), trains with periodic evaluation on ``eval.select_split``
(``best/``), checkpoints and a progress bar, then writes the final report on ``eval.split``.
``resume(run)`` continues from the newest checkpoint.
"""

from __future__ import annotations

import difflib
import functools
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from pydantic import BaseModel

from memgym.training.config import ConfigError, TrainConfig
from memgym.training.hyperparams import (LinearDecay, given, signature_model,
                                         validate_hyperparams)
from memgym.training.run import RunFolder, final_report

ALGOS = ("PPO", "MaskablePPO", "RecurrentPPO")
DEFAULT_POLICY = {"PPO": "MultiInputPolicy", "MaskablePPO": "MultiInputPolicy",
                  "RecurrentPPO": "MultiInputLstmPolicy"}
SCHEDULED = ("learning_rate", "clip_range", "clip_range_vf")
POINTER_POLICY = "SlotPointerPolicy"


def algo_class(name: str) -> type:
    if name == "PPO":
        from stable_baselines3 import PPO

        return PPO
    if name == "MaskablePPO":
        from sb3_contrib import MaskablePPO

        return MaskablePPO
    if name == "RecurrentPPO":
        from sb3_contrib import RecurrentPPO

        return RecurrentPPO
    close = difflib.get_close_matches(name, ALGOS, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise ConfigError(f"algo.name: {name!r} is not an sb3 algorithm{hint}; choose {', '.join(ALGOS)}")


def linear_schedule(start: float) -> Any:
    """Zoo's ``lin_<value>``: from ``start`` at the beginning down to 0 at the end."""
    from stable_baselines3.common.utils import LinearSchedule

    return LinearSchedule(start, 0.0, 1.0)


#: Constructor arguments memgym sets from the config's top-level keys.
MANAGED = ("seed", "tensorboard_log", "verbose", "device", "policy_kwargs")


@functools.cache
def hyperparams_model(name: str) -> type[BaseModel]:
    """The typed ``algo.hyperparams`` of algorithm ``name``: its constructor's arguments,
    types and defaults (less ``policy``, ``env`` and :data:`MANAGED`)."""
    cls = algo_class(name)
    return signature_model(f"{name}Hyperparams", [cls.__init__],
                           skip={"policy", "env", *MANAGED}, scheduled=SCHEDULED)


def hyperparams(config: TrainConfig) -> BaseModel:
    """``algo.hyperparams`` validated into the algorithm's typed model (once per run)."""
    model = hyperparams_model(config.algo.name)
    return validate_hyperparams(model, config.algo.hyperparams, config.algo.name,
                                managed=MANAGED)


def sb3_value(value: Any) -> Any:
    """A typed hyperparameter as SB3 takes it (a ``lin_<v>`` decay -> its schedule)."""
    return linear_schedule(value.start) if isinstance(value, LinearDecay) else value


def algo_kwargs(params: BaseModel) -> dict[str, Any]:
    """The hyperparameters the config set, as the algorithm's constructor takes them."""
    return {key: sb3_value(value) for key, value in given(params).items()}


def policy_class(config: TrainConfig) -> type:
    """The policy class ``algo.policy`` names: one of the algorithm's own aliases, or
    memgym's ``SlotPointerPolicy`` (MaskablePPO only; :mod:`memgym.training.pointer_policy`)."""
    cls = algo_class(config.algo.name)
    name = config.algo.policy or DEFAULT_POLICY[config.algo.name]
    if name == POINTER_POLICY:
        if config.algo.name != "MaskablePPO":
            raise ConfigError(f"algo.policy: {POINTER_POLICY} runs with MaskablePPO, "
                              f"not {config.algo.name}")
        from memgym.training.pointer_policy import SlotPointerPolicy

        return SlotPointerPolicy
    if name not in cls.policy_aliases:
        choices = [*cls.policy_aliases, *([POINTER_POLICY] if config.algo.name == "MaskablePPO"
                                          else [])]
        close = difflib.get_close_matches(name, choices, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"algo.policy: {name!r} is not a {config.algo.name} policy{hint}; "
                          f"choose {', '.join(choices)}")
    return cls.policy_aliases[name]


def policy_kwargs(config: TrainConfig, env: Any = None, *, layout: bool = True
                  ) -> dict[str, Any]:
    """``policy_kwargs`` with names from YAML turned into what SB3 takes; for the slot-pointer
    policy, plus the env's slot-action layout (``env``, or one made from the config; skipped
    with ``layout=False``, when only the config is checked)."""
    from torch import nn

    kwargs = dict(config.algo.policy_kwargs)
    if config.algo.policy == POINTER_POLICY:
        from memgym.training.pointer_policy import pointer_policy_kwargs

        if "net_arch" in kwargs:
            raise ConfigError(f"algo.policy_kwargs.net_arch: {POINTER_POLICY} has its own "
                              "architecture; set its width with policy_kwargs.hidden")
        made = env is None and layout
        env = gym.make(config.env.id, **config.env.kwargs) if made else env
        try:
            kwargs.update(pointer_policy_kwargs(env) if layout else {})
        except (AttributeError, ValueError) as exc:
            raise ConfigError(f"algo.policy: {POINTER_POLICY} needs the structured env's "
                              f"slot actions ({config.env.id}: {exc})") from exc
        finally:
            if made:
                env.close()
    if "features_extractor_class" in kwargs:
        raise ConfigError("algo.policy_kwargs.features_extractor_class: not settable from a "
                          "config file (the env's per-slot relation features feed SB3's own "
                          "extractor; see docs/DESIGN.md)")
    activation = kwargs.get("activation_fn")
    if isinstance(activation, str):
        table = {"relu": nn.ReLU, "tanh": nn.Tanh, "elu": nn.ELU, "gelu": nn.GELU}
        if activation not in table:
            raise ConfigError(f"algo.policy_kwargs.activation_fn: {activation!r}; "
                              f"choose {', '.join(table)}")
        kwargs["activation_fn"] = table[activation]
    return kwargs


def make_env_fn(env_id: str, kwargs: dict[str, Any], options: dict[str, Any],
                imports: list[str] | tuple[str, ...] = (),
                choices: dict[str, list[Any]] | None = None) -> Any:
    """A picklable env factory; in a subprocess worker it registers the ids first (built-in
    tasks, installed plugins and the config's ``imports``). ``choices``: reset options drawn
    per episode (``env.option_choices``)."""
    def make() -> gym.Env:
        from memgym.envs.wrappers import DefaultResetOptions
        from memgym.plugins import prepare

        prepare(imports, label="imports:")  # subprocess workers register the ids here

        return DefaultResetOptions(gym.make(env_id, **kwargs), options, choices)

    return make


def build_vec_env(config: TrainConfig) -> Any:
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

    kwargs = {**config.env.kwargs, "split": config.env.split}
    if config.algo.vec_env == "vector_entry_point":  # opt-in: memgym's batched numpy env
        return build_batched_vec_env(config, kwargs)
    vec_cls = SubprocVecEnv if config.algo.vec_env == "subproc" else DummyVecEnv
    try:
        return make_vec_env(make_env_fn(config.env.id, kwargs, config.env.options,
                                        config.imports, config.env.option_choices),
                            n_envs=config.algo.n_envs, seed=config.seed, vec_env_cls=vec_cls)
    except (EOFError, ConnectionError) as exc:  # a worker died building its env
        raise ConfigError(f"algo.vec_env: subproc: a worker process could not build "
                          f"{config.env.id} (its stderr above says why; modules in imports: "
                          f"must be importable there too) ({type(exc).__name__})") from exc


def build_batched_vec_env(config: TrainConfig, kwargs: dict[str, Any]) -> Any:
    """``algo.vec_env: vector_entry_point``: one :class:`memgym.envs.vector.MemoryVectorEnv`
    stepping all ``n_envs`` streams with array ops, behind SB3's ``VecEnv`` API."""
    from stable_baselines3.common.vec_env import VecMonitor

    import memgym  # noqa: F401  (registers the ids)
    from memgym.training.sb3_vec import GymnasiumVecEnv

    try:
        venv = gym.make_vec(config.env.id, num_envs=config.algo.n_envs,
                            vectorization_mode="vector_entry_point",
                            episode_options=config.env.options, **kwargs)
    except (ValueError, gym.error.Error) as exc:
        raise ConfigError(f"algo.vec_env: vector_entry_point is not available for "
                          f"{config.env.id}: {exc}") from exc
    vec = GymnasiumVecEnv(venv)
    vec.seed(config.seed)
    return VecMonitor(vec)


def build_model(config: TrainConfig, venv: Any, run: RunFolder, params: BaseModel) -> Any:
    cls = algo_class(config.algo.name)
    if config.algo.name == "PPO" and not isinstance(venv.action_space, gym.spaces.Discrete):
        raise ConfigError("algo.name: PPO needs a Discrete action space")
    return cls(policy_class(config), venv,
               seed=config.seed, verbose=0, device="cpu", tensorboard_log=str(run.tensorboard),
               policy_kwargs=policy_kwargs(config), **algo_kwargs(params))


def validate(config: TrainConfig) -> BaseModel:
    """Fail on anything the algorithm would reject, before any file is written; returns the
    typed hyperparameters."""
    params = hyperparams(config)
    if config.env.option_choices and config.algo.vec_env == "vector_entry_point":
        raise ConfigError("env.option_choices: not supported with algo.vec_env: "
                          "vector_entry_point (use dummy or subproc)")
    policy_class(config)
    policy_kwargs(config, layout=False)  # the env is built (and checked) by check_env_kwargs
    return params


class SB3PolicyAgent:
    """A trained SB3 model as a memgym agent (masks applied, LSTM state kept)."""

    def __init__(self, model: Any, name: str = "policy", deterministic: bool = True) -> None:
        self.model, self.name, self.deterministic = model, name, deterministic
        self.masked = type(model).__name__ == "MaskablePPO"
        self.recurrent = type(model).__name__ == "RecurrentPPO"

    def reset(self, env: Any, seed: int | None = None) -> None:
        self.state, self.episode_start = None, np.ones((1,), dtype=bool)

    def act(self, obs: Any, info: dict[str, Any], env: Any) -> int:
        if self.masked:
            action, _ = self.model.predict(obs, action_masks=env.unwrapped.action_masks(),
                                           deterministic=self.deterministic)
        elif self.recurrent:
            action, self.state = self.model.predict(obs, state=self.state,
                                                    episode_start=self.episode_start,
                                                    deterministic=self.deterministic)
            self.episode_start = np.zeros((1,), dtype=bool)
        else:
            action, _ = self.model.predict(obs, deterministic=self.deterministic)
        return int(action)


#: Pickled fields of an SB3 checkpoint's ``data`` that memgym rebuilds from trusted sources
#: (the run's config and the env's spaces) instead of unpickling: ``None`` lets SB3 recreate
#: them (buffers, last observation: the env is reset on the next ``learn``).
REBUILT_FIELDS = ("policy_class", "policy_kwargs", "learning_rate", "lr_schedule", "clip_range", "clip_range_vf",
                  "observation_space", "action_space", "rollout_buffer_class", "_last_obs",
                  "_last_episode_starts", "_last_original_obs", "ep_info_buffer",
                  "ep_success_buffer")


def trusted_objects(path: Path, config: TrainConfig) -> dict[str, Any]:
    """Replacements for every pickled field of the checkpoint, so loading never unpickles
    (SB3 loads weights with ``weights_only=True``; its ``data`` JSON embeds cloudpickle).
    An unexpected pickled field means a checkpoint memgym did not write: refuse it."""
    import json
    import zipfile

    from stable_baselines3.common.utils import FloatSchedule

    try:
        with zipfile.ZipFile(path) as archive:
            data = json.loads(archive.read("data"))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise ConfigError(f"{path}: not a readable SB3 checkpoint ({exc})") from exc
    pickled = {k for k, v in data.items() if isinstance(v, dict) and ":serialized:" in v}
    unexpected = sorted(pickled - set(REBUILT_FIELDS))
    if unexpected:
        raise ConfigError(f"{path}: refusing to unpickle unexpected checkpoint fields {unexpected}")
    env = gym.make(config.env.id, **config.env.kwargs)
    params = hyperparams(config)  # its defaults are the algorithm's own
    learning_rate, clip_range, clip_range_vf = (
        sb3_value(v) for v in (params.learning_rate, params.clip_range, params.clip_range_vf))
    objects: dict[str, Any] = dict.fromkeys(REBUILT_FIELDS)
    objects.update(
        policy_class=policy_class(config), policy_kwargs=policy_kwargs(config, env),
        learning_rate=learning_rate, lr_schedule=FloatSchedule(learning_rate),
        clip_range=FloatSchedule(clip_range),
        clip_range_vf=FloatSchedule(clip_range_vf) if clip_range_vf is not None else None,
        observation_space=env.observation_space, action_space=env.action_space)
    env.close()
    return objects


def load_model(path: Path, config: TrainConfig, env: Any = None) -> Any:
    """Load a checkpoint without unpickling anything (see :func:`trusted_objects`)."""
    import pickle
    import zipfile

    objects = trusted_objects(Path(path), config)
    try:
        return algo_class(config.algo.name).load(str(path), env=env, device="cpu",
                                                 custom_objects=objects)
    except (RuntimeError, ValueError, KeyError, OSError, EOFError, pickle.UnpicklingError,
            zipfile.BadZipFile) as exc:  # tampered weights (weights_only refuses), shapes
        raise ConfigError(f"{path}: cannot load checkpoint ({exc})") from exc


def load_agent(run: RunFolder, config: TrainConfig, checkpoint: Path | None = None) -> SB3PolicyAgent:
    path = checkpoint or run.best_model() or (run.latest_checkpoint() or (None,))[0]
    if path is None:
        raise ConfigError(f"{run.path}: no checkpoint to load yet")
    return SB3PolicyAgent(load_model(path, config), name=config.name)


def train(config: TrainConfig, run: RunFolder, *, resume: bool = False) -> dict[str, Any]:
    """Train (or continue) the run; returns the final report."""
    import torch

    from memgym.training.callbacks import TrainingCallback

    torch.set_num_threads(config.torch_threads)
    params = validate(config)
    venv = build_vec_env(config)
    interrupted = False
    try:
        latest = run.latest_checkpoint() if resume else None
        if latest is not None:
            model = load_model(latest[0], config, env=venv)
            model.tensorboard_log = str(run.tensorboard)
        else:
            model = build_model(config, venv, run, params)
        remaining = config.total_timesteps - model.num_timesteps
        callback = TrainingCallback(config, run, agent_factory=lambda m: SB3PolicyAgent(
            m, name=config.name))
        if remaining > 0:
            try:
                model.learn(remaining, callback=callback, reset_num_timesteps=latest is None,
                            tb_log_name="sb3")
            except KeyboardInterrupt:  # Ctrl-C: keep the steps since the last checkpoint
                interrupted = True
                callback.stop_progress()
                callback.save_checkpoint(model)
                raise
        callback.save_checkpoint(model)
        if run.best_model() is None:
            callback.evaluate_and_keep_best(model)
    finally:
        try:
            venv.close()
        except (OSError, EOFError):  # subproc workers that Ctrl-C already ended
            if not interrupted:
                raise
    return final_report(config, run, load_agent(run, config))
