"""Wrappers over the batched environment (:class:`memgym.envs.vector.MemoryVectorEnv`)."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.vector import VectorEnv, VectorObservationWrapper
from gymnasium.vector.utils import batch_space


class VectorActionMaskObservation(VectorObservationWrapper):
    """Batched :class:`memgym.envs.wrappers.ActionMaskObservation`: every env's observation
    becomes ``{"observations": flat Box, "action_mask": float 0/1}`` (RLlib's
    ``ActionMaskingTorchRLModule`` layout), flattened as ``spaces.flatten`` would, with one
    concatenate for the whole batch."""

    def __init__(self, env: VectorEnv) -> None:
        super().__init__(env)
        inner = env.single_observation_space
        self._keys = list(inner.spaces)  # spaces.flatten's order for a Dict
        n_actions = env.single_action_space.n
        self.single_observation_space = spaces.Dict({
            "action_mask": spaces.Box(0.0, 1.0, (n_actions,), np.float32),
            "observations": spaces.flatten_space(inner),
        })
        self.observation_space = batch_space(self.single_observation_space, env.num_envs)

    def observations(self, observations: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        n = self.env.num_envs
        flat = np.concatenate([observations[k].reshape(n, -1) for k in self._keys], axis=1)
        mask = self.env.unwrapped.action_masks().astype(np.float32)
        return {"action_mask": mask, "observations": flat.astype(np.float32, copy=False)}

    def action_masks(self) -> np.ndarray:
        return self.env.unwrapped.action_masks()

    def reset(self, *, seed: Any = None, options: dict[str, Any] | None = None) -> Any:
        obs, info = self.env.reset(seed=seed, options=options)
        return self.observations(obs), info
