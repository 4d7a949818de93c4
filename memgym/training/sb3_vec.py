"""Stable-Baselines3 ``VecEnv`` over a Gymnasium vector env (memgym's batched env).

SB3 expects same-step autoreset (the returned observation of a finished env is already the
next episode's, the last one goes in ``info["terminal_observation"]``); Gymnasium 1.x vector
envs such as :class:`memgym.envs.vector.MemoryVectorEnv` reset on the *next* step. The
adapter bridges the two with a partial ``reset(options={"reset_mask": done})`` right after a
step that finished episodes, so the wrapped env never sees an autoreset step. Masks reach
sb3-contrib's MaskablePPO through ``env_method("action_masks")`` / ``has_attr``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from stable_baselines3.common.vec_env import VecEnv


class GymnasiumVecEnv(VecEnv):
    """Wrap a Gymnasium ``VectorEnv`` that supports ``reset(options={"reset_mask": m})``."""

    def __init__(self, venv: Any) -> None:
        self.venv = venv
        super().__init__(venv.num_envs, venv.single_observation_space, venv.single_action_space)
        self._actions: np.ndarray | None = None
        self._started = False

    # -- VecEnv API ----------------------------------------------------------------------
    def reset(self) -> Any:
        seed = self._seeds[0]
        options = self._options[0] or None
        obs, info = self.venv.reset(seed=seed, options=options)
        self.reset_infos = self._split_info(info)
        self._reset_seeds()
        self._reset_options()
        self._started = True
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions)

    def step_wait(self) -> tuple[Any, np.ndarray, np.ndarray, list[dict[str, Any]]]:
        obs, reward, terminated, truncated, info = self.venv.step(self._actions)
        dones = terminated | truncated
        infos = self._split_info(info)
        if dones.any():
            finished = np.flatnonzero(dones)
            for i in finished:
                infos[i]["terminal_observation"] = {k: v[i] for k, v in obs.items()}
                infos[i]["TimeLimit.truncated"] = bool(truncated[i] and not terminated[i])
            obs, _ = self.venv.reset(options={"reset_mask": dones})
        return obs, reward.astype(np.float32), dones, infos

    def close(self) -> None:
        self.venv.close()

    def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
        value = getattr(self.venv, attr_name)
        return [value for _ in self._indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
        setattr(self.venv, attr_name, value)

    def env_method(self, method_name: str, *method_args: Any, indices: Any = None,
                   **method_kwargs: Any) -> list[Any]:
        """Per-env results; ``action_masks`` is computed once for the batch and split."""
        result = getattr(self.venv, method_name)(*method_args, **method_kwargs)
        rows = self._indices(indices)
        if isinstance(result, np.ndarray) and result.ndim >= 1 and len(result) == self.num_envs:
            return [result[i] for i in rows]
        return [result for _ in rows]

    def env_is_wrapped(self, wrapper_class: type, indices: Any = None) -> list[bool]:
        return [False for _ in self._indices(indices)]

    def has_attr(self, attr_name: str) -> bool:
        return hasattr(self.venv, attr_name)

    def get_images(self) -> Sequence[np.ndarray | None]:
        return [None for _ in range(self.num_envs)]

    # -- helpers -------------------------------------------------------------------------
    def _indices(self, indices: Any) -> list[int]:
        if indices is None:
            return list(range(self.num_envs))
        return [indices] if isinstance(indices, int) else list(indices)

    def _split_info(self, info: dict[str, Any]) -> list[dict[str, Any]]:
        """Gymnasium's vector info (arrays + ``_key`` masks) -> SB3's list of dicts."""
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        for key, value in info.items():
            if key.startswith("_") or isinstance(value, dict):
                continue  # nested term dicts stay in the vector info; SB3 never reads them
            present = info.get(f"_{key}", np.ones(self.num_envs, dtype=bool))
            for i in np.flatnonzero(present):
                infos[i][key] = value[i]
        return infos
