"""Features extractors for SB3 policies on the structured memory env.

``SlotFeaturesExtractor`` embeds the view (bag of words + flags + memory state) with an MLP
and every memory slot with ONE shared MLP over ``[slot features, view embedding]``, then
concatenates ``[view embedding, slot_1, ..., slot_n]``. Shared weights mean what is learnt
about one slot ("same key as a reliable fact: overwrite it") holds for every slot, and the
action head can read slot k's embedding for the "op on slot k" logits — the pointer-like
structure the prototype needed (shared/DESIGN.md §4a lesson 1).
"""

from __future__ import annotations

import gymnasium as gym
import torch
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn


class SlotFeaturesExtractor(BaseFeaturesExtractor):
    def __init__(self, observation_space: gym.spaces.Dict, view_dim: int = 64,
                 slot_dim: int = 32) -> None:
        slots_shape = observation_space["slots"].shape
        self.n_slots, slot_features = int(slots_shape[0]), int(slots_shape[1])
        self.extra_keys = [k for k in observation_space.spaces if k not in ("view", "slots")]
        view_in = observation_space["view"].shape[0] + sum(
            int(torch.tensor(observation_space[k].shape).prod()) for k in self.extra_keys)
        super().__init__(observation_space, features_dim=view_dim + self.n_slots * slot_dim)
        self.view_net = nn.Sequential(nn.Linear(view_in, view_dim), nn.ReLU(),
                                      nn.Linear(view_dim, view_dim), nn.ReLU())
        self.slot_net = nn.Sequential(nn.Linear(slot_features + view_dim, slot_dim), nn.ReLU(),
                                      nn.Linear(slot_dim, slot_dim), nn.ReLU())

    def forward(self, observations: dict[str, torch.Tensor]) -> torch.Tensor:
        batch = observations["view"].shape[0]
        view_in = [observations["view"]] + [observations[k].reshape(batch, -1)
                                            for k in self.extra_keys]
        view = self.view_net(torch.cat(view_in, dim=1))
        slots = observations["slots"].reshape(batch, self.n_slots, -1)
        paired = torch.cat([slots, view.unsqueeze(1).expand(-1, self.n_slots, -1)], dim=2)
        per_slot = self.slot_net(paired).reshape(batch, -1)
        return torch.cat([view, per_slot], dim=1)


#: Names usable as ``policy_kwargs.features_extractor_class`` in config files.
EXTRACTORS: dict[str, type[BaseFeaturesExtractor]] = {"slots": SlotFeaturesExtractor}
