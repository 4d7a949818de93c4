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
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from memgym.training.config import ConfigError

MAX_TEMP_DIR_CHARS = 40
"""Longest Ray temp dir used as is; longer ones are reached through a short symlink."""

AFTER_SHUTDOWN: list[Callable[[], None]] = []
"""Called after :func:`ray_session` shuts down a session it started. Ray's ``register_env``
keeps a registration in the driver only until a session starts (it then moves to that
session's key-value store, which ``ray.shutdown()`` drops): whatever must still be
registered afterwards (an RLlib env runner built without Ray looks there) registers again."""


def short_temp_dir(folder: str | Path) -> tuple[str, Path | None]:
    """``folder`` itself if its path is short enough for Ray's sockets, else a fresh symlink
    ``/tmp/ray<random>`` pointing at it (returned second, for removal)."""
    folder = Path(folder).absolute()
    folder.mkdir(parents=True, exist_ok=True)
    if len(str(folder)) <= MAX_TEMP_DIR_CHARS:
        return str(folder), None
    link = Path(tempfile.mkdtemp(prefix="ray", dir="/tmp"))
    link.rmdir()
    os.symlink(folder, link, target_is_directory=True)
    return str(link), link


@contextmanager
def ray_session(*, address: str | None = None, num_cpus: int | None = None,
                temp_dir: str | Path | None = None) -> Iterator[bool]:
    """Use the running Ray session, else join ``address`` (or ``RAY_ADDRESS``), else start a
    local cluster with ``num_cpus`` whose files go under ``temp_dir`` (default ``RAY_TMPDIR``
    or Ray's own ``/tmp/ray``). Yields whether this call started the connection; only then is
    it shut down at the end. A cluster that cannot be joined is a :class:`ConfigError`."""
    import ray

    if ray.is_initialized():
        yield False
        return
    address = address or os.environ.get("RAY_ADDRESS") or None
    link: Path | None = None
    if address:
        try:
            ray.init(address=address, logging_level="warning")
        except ConnectionError as exc:
            raise ConfigError(f"could not join the Ray cluster at {address!r} (rllib.address "
                              f"or RAY_ADDRESS; start one with `ray start --head`): {exc}") from exc
    else:
        root = temp_dir or os.environ.get("RAY_TMPDIR")
        kwargs: dict[str, Any] = {}
        if root:
            kwargs["_temp_dir"], link = short_temp_dir(root)
        ray.init(num_cpus=num_cpus, include_dashboard=False, logging_level="warning", **kwargs)
    try:
        yield True
    finally:
        ray.shutdown()
        if link is not None:
            link.unlink(missing_ok=True)
        for hook in AFTER_SHUTDOWN:
            hook()


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
