"""Wrappers over the structured environment."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces


class ActionMaskObservation(gym.ObservationWrapper):
    """RLlib-style observation ``Dict{"observations": <env obs>, "action_mask": Box}``.

    The mask comes from the env's ``action_masks()`` (as float32 0/1, the layout RLlib's
    ``ActionMaskingTorchRLModule`` reads); ``flatten=True`` also flattens the inner
    observation to one Box, which RLlib's default encoders need.
    """

    def __init__(self, env: gym.Env, flatten: bool = True) -> None:
        super().__init__(env)
        self.flatten = flatten
        inner = env.observation_space
        if flatten:
            inner = spaces.flatten_space(inner)
        n = env.action_space.n
        self.observation_space = spaces.Dict({
            "action_mask": spaces.Box(0.0, 1.0, (n,), np.float32),
            "observations": inner,
        })

    def observation(self, observation: Any) -> dict[str, Any]:
        if self.flatten:
            observation = spaces.flatten(self.env.observation_space, observation).astype(np.float32)
        mask = self.env.unwrapped.action_masks().astype(np.float32)
        return {"action_mask": mask, "observations": observation}

    def action_masks(self) -> np.ndarray:
        return self.env.unwrapped.action_masks()


class DefaultResetOptions(gym.Wrapper):
    """Merge fixed reset options (task parameters such as ``length``) into every reset, and
    draw the ``choices`` ones per episode (``{"length": [16, 32, 64]}``: one of the three,
    uniformly; domain randomisation, so a policy sees every length it will be tested on).

    Vectorised envs (SB3, RLlib) reset sub-environments without options; this is how a
    training config still sets per-episode task parameters. Draws are seeded by the first
    seeded reset (SB3 seeds each worker), so a run is reproducible.
    """

    def __init__(self, env: gym.Env, options: dict[str, Any] | None = None,
                 choices: dict[str, list[Any]] | None = None) -> None:
        super().__init__(env)
        self.default_options = dict(options or {})
        self.choices = {key: list(values) for key, values in (choices or {}).items()}
        empty = [key for key, values in self.choices.items() if not values]
        if empty:
            raise ValueError(f"option choices {empty}: each needs at least one value")
        self._choice_rng = np.random.default_rng()

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        if seed is not None:
            self._choice_rng = np.random.default_rng(seed)
        drawn = {key: values[int(self._choice_rng.integers(len(values)))]
                 for key, values in self.choices.items()}
        return self.env.reset(seed=seed, options={**self.default_options, **drawn,
                                                  **(options or {})})

    def action_masks(self) -> np.ndarray:
        return self.env.unwrapped.action_masks()
