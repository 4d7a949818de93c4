"""A slot-pointer policy for MaskablePPO: one shared scorer per memory slot.

SB3's ``MultiInputPolicy`` flattens the slot table into one vector and gives each
``update slot k`` action its own output weights, so an MLP must learn the same rule once per
slot (128 times at LoCoMo's budget) and never sees that slot 3 and slot 97 are alike. Here:

- a global encoder reads every non-slot observation key (the view, memory counters, ...);
- a slot encoder reads each slot's rows of the per-slot keys (``slots``, ``text_slots``,
  ``text_slot_sketch``, ...) together with the global code: the same weights for every slot;
- each slot-indexed action (``update`` / ``delete`` / ``evict`` slot k, ``route`` slot k to a
  tier) gets its logit from its slot's code, one output per action kind (pointer-network
  style, as in the attention / pointer heads of Memory-R1-like entry selection);
- the other actions (noop, add, reread, answer) and the value read the global code and the
  mean / max pooled slot codes.

Written against sb3-contrib's ``MaskableMultiInputActorCriticPolicy``: masks, saving and
loading are SB3's own; only the feature extractor and the two heads are replaced (SB3 has no
per-slot policy to configure). Choose it with ``algo.policy: SlotPointerPolicy``; the action
layout is read from the env by :func:`pointer_policy_kwargs`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch as th
from gymnasium import spaces
from sb3_contrib.common.maskable.policies import MaskableMultiInputActorCriticPolicy
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn

from memgym.envs.structured import SLOT_OBSERVATION_KEYS

#: Ops whose action rows carry a slot index (``reread`` carries an archive index instead).
SLOT_OPS = ("update", "delete", "evict", "route")
POLICY_NAME = "SlotPointerPolicy"


def slot_action_kinds(env: Any) -> tuple[int, list[list[int]]]:
    """``(n_slots, kinds)`` of a structured env: one list per (op, tier) kind of slot action,
    holding the action index of slot 0, 1, ... in order."""
    base = env.unwrapped
    n_slots = int(base.n_slots)
    kinds: dict[tuple[str, int], list[int]] = {}
    for index, (op, arg, tier) in enumerate(base.action_table):
        if op in SLOT_OPS and arg >= 0:
            kinds.setdefault((op, tier), [-1] * n_slots)[arg] = index
    for (op, tier), rows in kinds.items():
        if min(rows) < 0:
            raise ValueError(f"{op} (tier {tier}): some slots have no action")
    return n_slots, list(kinds.values())


def pointer_policy_kwargs(env: Any) -> dict[str, Any]:
    """What :class:`SlotPointerPolicy` needs from the env beside its spaces. An env with rows
    of its own (a selector's candidates) says so with ``pointer_layout()``, returning the
    same three keys."""
    if hasattr(env.unwrapped, "pointer_layout"):
        return dict(env.unwrapped.pointer_layout())
    n_slots, kinds = slot_action_kinds(env)
    keys = [k for k in SLOT_OBSERVATION_KEYS if k in env.observation_space.spaces]
    return {"n_slots": n_slots, "slot_actions": kinds, "slot_keys": keys}


class SlotPointerExtractor(BaseFeaturesExtractor):
    """Features ``[global (h), mean slot (h), max slot (h), slot codes (n_slots * h)]``."""

    def __init__(self, observation_space: spaces.Dict, n_slots: int, slot_keys: list[str],
                 hidden: int = 64) -> None:
        self.slot_keys = list(slot_keys)
        for key in self.slot_keys:
            shape = observation_space[key].shape
            if len(shape) != 2 or shape[0] != n_slots:
                raise ValueError(f"observation {key!r} {shape}: not one row per slot ({n_slots})")
        if not self.slot_keys:
            raise ValueError("no observation key holds one row per slot")
        self.global_keys = [k for k in observation_space.spaces if k not in self.slot_keys]
        super().__init__(observation_space, features_dim=(3 + n_slots) * hidden)
        self.n_slots, self.hidden = n_slots, hidden
        global_dim = sum(int(np.prod(observation_space[k].shape)) for k in self.global_keys)
        slot_dim = sum(observation_space[k].shape[1] for k in self.slot_keys)
        self.global_net = nn.Sequential(nn.Linear(global_dim, hidden), nn.ReLU(),
                                        nn.Linear(hidden, hidden), nn.ReLU())
        self.slot_in = nn.Linear(slot_dim, hidden)
        self.slot_context = nn.Linear(hidden, hidden, bias=False)
        self.slot_out = nn.Sequential(nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU())

    def forward(self, obs: dict[str, th.Tensor]) -> th.Tensor:
        batch = next(iter(obs.values())).shape[0]
        flat = th.cat([obs[k].reshape(batch, -1).float() for k in self.global_keys], dim=1)
        context = self.global_net(flat)
        rows = th.cat([obs[k].float() for k in self.slot_keys], dim=2)
        codes = self.slot_out(self.slot_in(rows) + self.slot_context(context).unsqueeze(1))
        return th.cat([context, codes.mean(dim=1), codes.amax(dim=1),
                       codes.reshape(batch, -1)], dim=1)


class PointerHead(nn.Module):
    """Action logits: per-slot scores for slot actions, a linear head for the rest."""

    def __init__(self, hidden: int, n_slots: int, n_actions: int,
                 slot_actions: list[list[int]]) -> None:
        super().__init__()
        self.hidden, self.n_slots = hidden, n_slots
        slot_index = np.array(slot_actions, dtype=np.int64).T.reshape(-1)  # slot-major
        other = np.setdiff1d(np.arange(n_actions), slot_index)
        self.register_buffer("slot_index", th.as_tensor(slot_index), persistent=False)
        self.register_buffer("other_index", th.as_tensor(other), persistent=False)
        self.n_actions = n_actions
        self.other = nn.Linear(3 * hidden, len(other))
        self.score = nn.Linear(hidden, len(slot_actions)) if slot_actions else None

    def forward(self, features: th.Tensor) -> th.Tensor:
        batch, pooled = features.shape[0], features[:, :3 * self.hidden]
        logits = features.new_zeros(batch, self.n_actions)
        logits[:, self.other_index] = self.other(pooled)
        if self.score is not None:
            codes = features[:, 3 * self.hidden:].reshape(batch, self.n_slots, self.hidden)
            logits[:, self.slot_index] = self.score(codes).reshape(batch, -1)
        return logits


class ValueHead(nn.Module):
    """State value from the global code and the pooled slot codes."""

    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.hidden = hidden
        self.net = nn.Sequential(nn.Linear(3 * hidden, hidden), nn.Tanh(), nn.Linear(hidden, 1))

    def forward(self, features: th.Tensor) -> th.Tensor:
        return self.net(features[:, :3 * self.hidden])


class SlotPointerPolicy(MaskableMultiInputActorCriticPolicy):
    """MaskablePPO policy with a shared slot scorer (see the module docstring).

    ``n_slots`` / ``slot_actions`` / ``slot_keys``: from :func:`pointer_policy_kwargs`;
    ``hidden``: the width of every code."""

    def __init__(self, observation_space: spaces.Dict, action_space: spaces.Discrete,
                 lr_schedule: Any, *, n_slots: int, slot_actions: list[list[int]],
                 slot_keys: list[str], hidden: int = 64, **kwargs: Any) -> None:
        for key in ("features_extractor_class", "net_arch"):
            if key in kwargs:
                raise ValueError(f"{POLICY_NAME} sets {key} itself")
        self.n_slots, self.slot_actions, self.hidden = n_slots, slot_actions, hidden
        self.slot_keys = list(slot_keys)
        super().__init__(observation_space, action_space, lr_schedule,
                         net_arch=dict(pi=[], vf=[]),
                         features_extractor_class=SlotPointerExtractor,
                         features_extractor_kwargs={"n_slots": n_slots, "hidden": hidden,
                                                    "slot_keys": self.slot_keys},
                         **kwargs)

    def _build(self, lr_schedule: Any) -> None:
        super()._build(lr_schedule)
        self.action_net = PointerHead(self.hidden, self.n_slots, int(self.action_space.n),
                                      self.slot_actions)
        self.value_net = ValueHead(self.hidden)
        if self.ortho_init:
            from functools import partial

            self.action_net.apply(partial(self.init_weights, gain=0.01))
            self.value_net.apply(partial(self.init_weights, gain=1.0))
        self.optimizer = self.optimizer_class(self.parameters(), lr=lr_schedule(1),
                                              **self.optimizer_kwargs)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        for key in ("net_arch", "features_extractor_class", "features_extractor_kwargs"):
            data.pop(key, None)
        data.update(n_slots=self.n_slots, slot_actions=self.slot_actions,
                    slot_keys=self.slot_keys, hidden=self.hidden)
        return data
