"""The slot-pointer policy: layout from the env, one scorer for every slot, SB3 round trip."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch as th

import memgym  # noqa: F401  (registers the ids)
from memgym.training import ConfigError, train_from_config
from memgym.training.config import validate_config
from memgym.training.pointer_policy import SlotPointerPolicy, pointer_policy_kwargs, slot_action_kinds
from memgym.training.run import RunFolder

from test_training_sb3 import tiny

OPS = ["noop", "add", "update", "delete"]


def make_env() -> gym.Env:
    return gym.make("memgym/KVUpdates-Easy-v0", ops=OPS)


def test_slot_action_kinds_follow_the_action_names() -> None:
    env = make_env()
    n_slots, kinds = slot_action_kinds(env)
    names = env.unwrapped.action_names
    assert n_slots == env.unwrapped.n_slots and len(kinds) == 2
    for op, rows in zip(("update", "delete"), kinds):
        assert [names[i] for i in rows] == [f"{op} slot {k}" for k in range(n_slots)]


def policy_for(env: gym.Env) -> SlotPointerPolicy:
    th.manual_seed(0)
    return SlotPointerPolicy(env.observation_space, env.action_space, lambda _: 3e-4,
                             hidden=16, **pointer_policy_kwargs(env))


def logits(policy: SlotPointerPolicy, obs: dict[str, np.ndarray]) -> np.ndarray:
    tensors = {k: th.as_tensor(v[None]) for k, v in obs.items()}
    with th.no_grad():
        return policy.action_net(policy.extract_features(tensors)).numpy()[0]


def test_slot_logits_move_with_their_slot() -> None:
    """Swapping two slots' rows swaps their actions' logits and leaves the rest: every slot
    is judged by the same weights (a flat MLP head gives no such guarantee)."""
    env = make_env()
    obs, _ = env.reset(seed=3)
    for _ in range(3):  # fill a few slots
        obs, *_ = env.step(env.unwrapped.action_names.index("add->episodic"))
    policy = policy_for(env)
    for module in policy.action_net.modules():  # make the scores large enough to compare
        if isinstance(module, th.nn.Linear):
            th.nn.init.normal_(module.weight)
    n_slots, kinds = slot_action_kinds(env)
    slot_keys = pointer_policy_kwargs(env)["slot_keys"]
    assert "slots" in slot_keys and n_slots == 4
    before = logits(policy, obs)
    swapped = {k: v.copy() for k, v in obs.items()}
    for key in slot_keys:
        swapped[key][[0, 3]] = obs[key][[3, 0]]
    after = logits(policy, swapped)
    for rows in kinds:
        assert after[rows[0]] == pytest.approx(before[rows[3]], abs=1e-5)
        assert after[rows[3]] == pytest.approx(before[rows[0]], abs=1e-5)
        assert before[rows[0]] != pytest.approx(before[rows[3]], abs=1e-4)
        moved = set(rows) - {rows[0], rows[3]}
        assert np.allclose(after[sorted(moved)], before[sorted(moved)], atol=1e-5)


def pointer_config(tmp_path: Path, **changes) -> dict:
    return tiny(tmp_path, **{"env.kwargs.ops": OPS, "algo.policy": "SlotPointerPolicy",
                             "algo.policy_kwargs": {"hidden": 16}, **changes})


def test_trains_saves_and_reloads_through_memgym(tmp_path: Path) -> None:
    config = validate_config(pointer_config(tmp_path))
    report = train_from_config(config)
    run = RunFolder.for_config(config)
    from memgym.training.sb3 import load_model

    model = load_model(run.latest_checkpoint()[0], config)
    assert isinstance(model.policy, SlotPointerPolicy)
    assert model.policy.hidden == 16 and model.num_timesteps == 256
    assert set(report["agents"]) == {"tiny", "fifo", "oracle"}


def test_config_errors_name_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="algo.policy: SlotPointerPolicy runs with MaskablePPO"):
        train_from_config(validate_config(pointer_config(tmp_path, **{"algo.name": "PPO"})))
    with pytest.raises(ConfigError, match="did you mean 'SlotPointerPolicy'"):
        train_from_config(validate_config(pointer_config(
            tmp_path, **{"algo.policy": "SlotPointerPolicyy"})))
    with pytest.raises(ConfigError, match="policy_kwargs.net_arch"):
        train_from_config(validate_config(pointer_config(
            tmp_path, **{"algo.policy_kwargs": {"net_arch": [8]}})))
    no_slots = pointer_config(tmp_path, **{"env.kwargs.ops": ["noop", "add"]})
    assert validate_config(no_slots).algo.policy == "SlotPointerPolicy"  # admission only: fine
