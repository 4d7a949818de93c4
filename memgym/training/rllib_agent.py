"""Ray plumbing shared by the RLlib backend and parallel evaluation, and the RLlib policy agent.

- :func:`ray_session` starts a local Ray cluster (or joins one) and always shuts down what it
  started, then runs :data:`AFTER_SHUTDOWN` (the RLlib backend re-registers its env creators
  there: Ray's ``register_env`` registry forgets them when the session ends). Ray's session
  files (sockets, logs) go to a folder we choose; because an AF_UNIX
  socket path is limited to ~107 characters and Ray adds ~65 characters under its temp dir,
  a long folder is reached through a short symlink ``/tmp/ray<random>`` that is removed
  afterwards (the files stay in the long folder).
- :func:`save_dir_atomic` writes a checkpoint folder under a hidden name and renames it.
- :class:`RLlibPolicyAgent` plays a trained RLModule in memgym's evaluation harness: it builds
  the ``ActionMaskObservation`` layout from the plain env observation and takes the argmax of
  the (masked) action logits, carrying the LSTM state for recurrent modules.

Only ``ray`` / ``torch`` are imported on use, so ``memgym eval --workers`` does not load torch.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from memgym import ray_cluster as cluster
from memgym.ray_cluster import AFTER_SHUTDOWN, short_temp_dir  # noqa: F401  (re-exported)
from memgym.training.config import ConfigError

@contextmanager
def ray_session(*, address: str | None = None, num_cpus: int | None = None,
                temp_dir: str | Path | None = None) -> Iterator[bool]:
    """:func:`memgym.ray_cluster.ray_session`, with an unreachable cluster reported as the
    :class:`ConfigError` a training run expects (one clean line from the CLI; only the join
    raises :class:`~memgym.ray_cluster.ClusterUnreachable`)."""
    try:
        with cluster.ray_session(address=address, num_cpus=num_cpus,
                                 temp_dir=temp_dir) as started:
            yield started
    except cluster.ClusterUnreachable as exc:
        raise ConfigError(str(exc)) from exc


@contextmanager
def logdir_under(path: Path) -> Iterator[None]:
    """Algorithm (a Tune Trainable) makes a logdir under ``~/ray_results`` when built outside
    Tune; point that default at ``path`` while building."""
    from ray.tune.trainable import trainable

    path.mkdir(parents=True, exist_ok=True)
    old, trainable.DEFAULT_STORAGE_PATH = trainable.DEFAULT_STORAGE_PATH, str(path)
    try:
        yield
    finally:
        trainable.DEFAULT_STORAGE_PATH = old


def save_dir_atomic(save: Callable[[Path], Any], final: Path) -> None:
    """``save(tmp)`` into a hidden temporary folder, then rename it to ``final``: a crash
    while saving leaves the previous checkpoint (and ``latest.json``) untouched."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp, old = final.with_name(f".{final.name}.tmp"), final.with_name(f".{final.name}.old")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        save(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if final.exists():
        shutil.rmtree(old, ignore_errors=True)
        os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, final)


def module_batch(obs: dict[str, np.ndarray], recurrent: bool) -> dict[str, Any]:
    """One observation as a batch of one (and a time step of one for recurrent modules)."""
    import torch

    lead = (1, 1) if recurrent else (1,)
    return {key: torch.from_numpy(np.asarray(value, dtype=np.float32).reshape(*lead, -1))
            for key, value in obs.items()}


def map_nested(fn: Any, value: Any) -> Any:
    """``fn`` on every leaf of nested dicts (RLlib's recurrent state, e.g. actor/critic h, c)."""
    if isinstance(value, dict):
        return {k: map_nested(fn, v) for k, v in value.items()}
    return fn(value)


class RLlibPolicyAgent:
    """A trained RLlib RLModule as a memgym agent (greedy, masked, LSTM state kept)."""

    def __init__(self, module: Any, name: str = "policy") -> None:
        self.module, self.name = module, name
        self.recurrent = bool(module.is_stateful())
        self.state: Any = None

    def reset(self, env: Any, seed: int | None = None) -> None:
        if self.recurrent:
            import torch

            self.state = map_nested(lambda s: torch.as_tensor(s)[None],
                                    self.module.get_initial_state())

    def observation(self, obs: Any, env: Any) -> dict[str, np.ndarray]:
        """The ``ActionMaskObservation`` layout of a plain env observation."""
        from gymnasium import spaces

        return {"action_mask": env.unwrapped.action_masks().astype(np.float32),
                "observations": spaces.flatten(env.observation_space, obs).astype(np.float32)}

    def act(self, obs: Any, info: dict[str, Any], env: Any) -> int:
        import torch

        batch: dict[str, Any] = {"obs": module_batch(self.observation(obs, env), self.recurrent)}
        if self.recurrent:
            batch["state_in"] = self.state
        with torch.no_grad():
            out = self.module.forward_inference(batch)
        logits = out["action_dist_inputs"]
        if self.recurrent:
            self.state = out["state_out"]
            logits = logits[:, 0]
        return int(torch.argmax(logits[0]).item())


def load_module(path: str | Path) -> Any:
    """An RLModule from a module checkpoint folder, or from an Algorithm checkpoint folder
    (its ``learner_group/learner/rl_module/default_policy``)."""
    from ray.rllib.core.rl_module.rl_module import RLModule

    path = Path(path)
    inner = path / "learner_group" / "learner" / "rl_module" / "default_policy"
    module = RLModule.from_checkpoint(str(inner if inner.is_dir() else path))
    module.eval()
    return module
