"""The batched env (memgym.envs.vector) against the single env, and its trainer adapters."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

import memgym  # noqa: F401  (registers the ids)
from memgym.envs.registration import VECTOR_ENTRY, vectorizable
from memgym.envs import vector
from memgym.envs.episode_pool import clear_cache
from memgym.envs.vector import MemoryVectorEnv

RICH = {  # every supported op, two tiers with a token budget, shaping and costs on
    "ops": ("noop", "add", "update", "delete", "evict"), "ops_per_chunk": 2,
    "tiers": {"core": {"entries": 2, "tokens": 20, "always_shown": True},
              "episodic": {"entries": 4, "tokens": None}},
    "archive_capacity": 2, "slot_bow": True,
    "rewards": {"shaping": 1.0, "memory_size": 0.5, "compression": 0.3, "op_costs": {"add": 0.01}},
}


def play_both(env_id: str, kwargs: dict, n: int = 3, steps: int = 150, seed: int = 7) -> int:
    """Step SyncVectorEnv(MemoryEnv) and MemoryVectorEnv with the same actions (valid ones,
    plus 10% arbitrary ones, out of range included); assert every output is the same."""
    ref = gym.vector.SyncVectorEnv([lambda: gym.make(env_id, **kwargs) for _ in range(n)])
    vec = MemoryVectorEnv(n, **{**gym.spec(env_id).kwargs, **kwargs})
    obs_ref, info_ref = ref.reset(seed=seed)
    obs_vec, info_vec = vec.reset(seed=seed)
    rng, episodes = np.random.default_rng(0), 0
    for t in range(steps):
        for key in obs_ref:
            np.testing.assert_array_equal(obs_ref[key], obs_vec[key], err_msg=f"step {t} {key}")
        np.testing.assert_array_equal(info_ref["action_mask"], info_vec["action_mask"])
        mask = info_ref["action_mask"]
        if rng.random() < 0.1:
            actions = rng.integers(-1, mask.shape[1] + 2, size=n)
        else:
            actions = np.array([rng.choice(np.flatnonzero(row)) for row in mask])
        obs_ref, r_ref, term_ref, trunc_ref, info_ref = ref.step(actions)
        obs_vec, r_vec, term_vec, trunc_vec, info_vec = vec.step(actions)
        np.testing.assert_allclose(r_vec, r_ref, rtol=0, atol=1e-9, err_msg=f"step {t}")
        np.testing.assert_array_equal(term_vec, term_ref)
        np.testing.assert_array_equal(trunc_vec, trunc_ref)
        if term_ref.any():
            episodes += int(term_ref.sum())
            done = term_ref
            np.testing.assert_allclose(info_vec["qa_score"][done], info_ref["qa_score"][done])
    return episodes


@pytest.mark.parametrize("env_id, kwargs", [
    ("memgym/KVUpdates-Easy-v0", {}),
    ("memgym/MultiHop-Hard-v0", {}),  # mid-stream questions: the reader runs mid-episode
    ("memgym/Needle-Easy-v0", RICH),
    ("memgym/KVUpdates-Easy-v0", {"episode_pool": 2}),  # replays from the encoding cache
    # the latest statement wins (entry times = source chunks); evidence terms with recall@2
    ("memgym/KVUpdates-Easy-v0", {"reader_params": {"time_aware": True, "top_k": 2},
                                  "rewards": {"evidence": 1.0, "evidence_recall": 0.5,
                                              "evidence_k": 2}}),
    # free text: yes / no, "when" and answer-in-context questions
    ("memgym/Dialogue-Free-v0", {"ops": ("noop", "add", "delete"), "features": "parser"}),
    # text features (MiniLM embeddings, cues, slot cosines) beside the parser columns, two
    # tiers, evict and the evidence terms; then embeddings only, replayed from a pool
    ("memgym/Dialogue-Free-v0", {
        "task_params": {"length": 16}, "features": "both",
        "ops": ("noop", "add", "update", "delete", "evict"),
        "tiers": {"core": {"entries": 2, "tokens": 30, "always_shown": True},
                  "episodic": {"entries": 4, "tokens": None}},
        "rewards": {"evidence": 1.0, "evidence_recall": 0.5, "evidence_k": 3, "shaping": 1.0}}),
    ("memgym/Dialogue-Free-v0", {"task_params": {"length": 12}, "episode_pool": 2}),
    # rereads (archived entries, the most similar past chunk) over a bounded archive, with
    # reread / evict costs and two ops and two rereads per chunk
    ("memgym/KVUpdates-Easy-v0", {
        "ops": ("noop", "add", "update", "delete", "evict", "reread"), "archive_capacity": 3,
        "ops_per_chunk": 2, "max_rereads_per_chunk": 2,
        "rewards": {"reread_cost": 0.05, "shaping": 1.0,
                    "op_costs": {"reread": 0.01, "evict": 0.02}}}),
    # route between tiers and invalidate (kept, not read), with the evidence terms
    ("memgym/MultiHop-Hard-v0", {
        "ops": ("noop", "add", "update", "delete", "route", "invalidate"),
        "tiers": {"core": {"entries": 2, "tokens": 30, "always_shown": True},
                  "episodic": {"entries": 4, "tokens": None}},
        "rewards": {"evidence": 1.0, "evidence_recall": 0.5, "evidence_k": 2,
                    "op_costs": {"route": 0.01}}}),
    # every op at once, an unbounded archive; then an archive that keeps nothing
    ("memgym/Needle-Easy-v0", {
        "ops": ("noop", "add", "update", "delete", "evict", "route", "reread", "invalidate"),
        "tiers": {"core": {"entries": 2, "tokens": 20, "always_shown": True},
                  "episodic": {"entries": 3, "tokens": None}}, "slot_bow": True}),
    ("memgym/KVUpdates-Easy-v0", {"ops": ("noop", "add", "evict", "reread"),
                                  "archive_capacity": 0}),
    # text features of a recalled chunk (rereads with embeddings)
    ("memgym/Dialogue-Free-v0", {"task_params": {"length": 14},
                                 "ops": ("noop", "add", "update", "evict", "reread")}),
])
def test_same_results_as_single_env(env_id: str, kwargs: dict) -> None:
    assert play_both(env_id, kwargs) >= 3  # several episodes, so autoresets are compared too


def test_a_pool_larger_than_its_rows_copies_the_rest(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pooled episodes past the rows kept for them are copied into their env's row at
    reset: envs on pool rows and envs on their own rows side by side, same results."""
    monkeypatch.setattr(vector, "POOL_ROWS", 1)
    clear_cache()
    assert play_both("memgym/KVUpdates-Easy-v0", {"episode_pool": 3}, steps=200) >= 3
    venv = MemoryVectorEnv(3, episode_pool=3, **gym.spec("memgym/KVUpdates-Easy-v0").kwargs)
    venv.reset(seed=0)
    assert venv.buffers.pool_rows == 1 and len(venv.buffers._pooled) == 1


def test_make_vec_picks_the_batched_env_and_declares_next_step_autoreset() -> None:
    venv = gym.make_vec("memgym/KVUpdates-Medium-v0", num_envs=5)
    assert isinstance(venv.unwrapped, MemoryVectorEnv)
    assert venv.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    assert gym.spec("memgym/KVUpdates-Medium-v0").vector_entry_point == VECTOR_ENTRY
    obs, info = venv.reset(seed=0)
    assert venv.observation_space.contains(obs)
    assert info["action_mask"].shape == (5, venv.single_action_space.n)
    for _ in range(39):  # Medium: 40 chunks, one op per chunk
        obs, reward, terminated, truncated, info = venv.step(np.zeros(5, dtype=np.int64))
    assert not terminated.any()
    obs, reward, terminated, truncated, info = venv.step(np.zeros(5, dtype=np.int64))
    assert terminated.all() and set(info["qa_score"][info["_qa_score"]]) <= {0.0}
    obs, reward, terminated, truncated, info = venv.step(np.ones(5, dtype=np.int64))
    assert not terminated.any() and (reward == 0).all()  # the autoreset step ignores actions
    assert (obs["memory"][:, -3] == 0).all() and (obs["slots"][:, :, 0] == 0).all()


def test_partial_reset_and_bad_actions() -> None:
    venv = MemoryVectorEnv(3, **gym.spec("memgym/KVUpdates-Easy-v0").kwargs)
    venv.reset(seed=1)
    obs, *_ = venv.step(np.array([1, 1, 1]))  # add: one entry each
    assert (obs["slots"][:, :, 0].sum(axis=1) == 1).all()
    obs, _ = venv.reset(options={"reset_mask": np.array([True, False, False])})
    assert obs["slots"][:, :, 0].sum(axis=1).tolist() == [0, 1, 1]
    obs, reward, *_, info = venv.step(np.array([10**6, -3, 0]))
    assert info["ok"].tolist() == [False, False, True]
    assert reward[0] == pytest.approx(-0.1) and reward[1] == pytest.approx(-0.1)
    obs, reward, *_, info = venv.step(np.array(["x", None, 0.0], dtype=object))
    assert info["ok"].tolist() == [False, False, True]  # unparsable: invalid, no crash


def test_unsupported_settings_fail_clearly() -> None:
    kwargs = gym.spec("memgym/KVUpdates-Easy-v0").kwargs
    with pytest.raises(ValueError, match="retrieval_tiers"):
        MemoryVectorEnv(2, **{**kwargs, "retrieval_tiers": True})
    assert not vectorizable({"ops": ("noop", "add"), "retrieval_tiers": True})
    assert vectorizable({"ops": ("noop", "add", "route", "reread", "invalidate")})


def test_sb3_adapter_trains_maskable_ppo_and_follows_vecenv_api(tmp_path) -> None:
    pytest.importorskip("sb3_contrib")
    import torch
    from sb3_contrib import MaskablePPO
    from sb3_contrib.common.maskable.utils import get_action_masks, is_masking_supported
    from stable_baselines3.common.vec_env import VecMonitor

    from memgym.training.sb3_vec import GymnasiumVecEnv

    torch.set_num_threads(1)
    vec = GymnasiumVecEnv(gym.make_vec("memgym/KVUpdates-Easy-v0", num_envs=4,
                                       episode_options={"length": 8}))
    assert is_masking_supported(vec)
    vec.seed(3)
    obs = vec.reset()
    assert get_action_masks(vec).shape == (4, vec.action_space.n)
    for _ in range(8):
        vec.step_async(np.zeros(4, dtype=np.int64))
        obs, reward, dones, infos = vec.step_wait()
    assert dones.all() and all("terminal_observation" in i for i in infos)
    assert (obs["memory"][:, -3] == 0).all()  # already the next episode (SB3's convention)
    model = MaskablePPO("MultiInputPolicy", VecMonitor(vec), n_steps=16, batch_size=32,
                        n_epochs=1, seed=0, device="cpu", tensorboard_log=str(tmp_path))
    model.learn(64)
    assert len(model.ep_info_buffer) >= 4 and model.ep_info_buffer[0]["l"] == 8


def test_sb3_config_option_builds_the_batched_env() -> None:
    pytest.importorskip("stable_baselines3")
    from memgym.training.config import ConfigError, TrainConfig
    from memgym.training.sb3 import build_vec_env

    base = {"name": "t", "env": {"id": "memgym/KVUpdates-Easy-v0", "options": {"length": 5}},
            "algo": {"n_envs": 3, "vec_env": "vector_entry_point"}, "total_timesteps": 10}
    venv = build_vec_env(TrainConfig.model_validate(base))
    assert isinstance(venv.venv.venv.unwrapped, MemoryVectorEnv) and venv.num_envs == 3
    venv.close()
    bad = {**base, "env": {"id": "memgym/KVUpdates-Easy-v0", "kwargs": {"retrieval_tiers": True}}}
    with pytest.raises(ConfigError, match="algo.vec_env"):
        build_vec_env(TrainConfig.model_validate(bad))


@pytest.mark.slow
def test_rllib_samples_from_the_batched_env() -> None:
    pytest.importorskip("ray.rllib")
    import torch
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.rllib.core.rl_module.rl_module import RLModuleSpec
    from ray.rllib.env.single_agent_env_runner import SingleAgentEnvRunner

    from memgym.training import rllib

    torch.set_num_threads(1)
    config = (
        PPOConfig()
        .environment("memgym/KVUpdates-Easy-v0",
                     env_config={"split": "train", "reset_options": {"length": 8}})
        .env_runners(num_env_runners=0, num_envs_per_env_runner=4,
                     gym_env_vectorize_mode="vector_entry_point")
        .rl_module(rl_module_spec=RLModuleSpec(module_class=rllib.ActionMaskingTorchRLModule))
    )
    runner = SingleAgentEnvRunner(config=config)
    assert isinstance(runner.env.unwrapped, MemoryVectorEnv)
    episodes = runner.sample(num_timesteps=64)
    assert sum(len(e) for e in episodes) >= 64
    finished = [e for e in episodes if e.is_done]
    assert len(finished) >= 4 and all(len(e) == 8 for e in finished)
    runner.stop()


@pytest.mark.slow  # ~10 s: one local Ray start-up
def test_rllib_samples_from_the_batched_env_after_a_ray_session(tmp_path) -> None:
    """Ray's ``register_env`` registry empties when a session ends (its entries moved into
    the session); ``ray_session`` registers memgym's env creators again, so an env runner
    built afterwards without Ray still makes its envs with ``make_env`` (not ``gym.make_vec``
    with the RLlib-only ``reset_options``). The slow suite runs Ray tests before this one."""
    pytest.importorskip("ray.rllib")
    import ray
    from ray.tune.registry import ENV_CREATOR, _global_registry

    from memgym.training import rllib  # noqa: F401  (registers the env creators)
    from memgym.training.rllib_agent import ray_session

    if ray.is_initialized():
        pytest.skip("a Ray session is already running in this process")
    with ray_session(num_cpus=1, temp_dir=tmp_path / "ray"):
        assert _global_registry.contains(ENV_CREATOR, "memgym/KVUpdates-Easy-v0")
    assert not ray.is_initialized()
    assert _global_registry.contains(ENV_CREATOR, "memgym/KVUpdates-Easy-v0")
    test_rllib_samples_from_the_batched_env()


def test_python_reader_path_gives_the_compiled_readers_results() -> None:
    """A reader that is not compiled (embeddings, LLMs) answers env by env in Python: with
    the compiled path switched off, the BM25 reader gives the same rewards and scores."""
    kwargs = {**gym.spec("memgym/KVUpdates-Easy-v0").kwargs,
              "rewards": {"evidence": 1.0, "evidence_recall": 1.0, "evidence_k": 3}}
    compiled, python = MemoryVectorEnv(3, **kwargs), MemoryVectorEnv(3, **kwargs)
    python.compiled_reader = False
    rng = np.random.default_rng(1)
    _, info = compiled.reset(seed=3)
    python.reset(seed=3)
    answered = 0.0
    for _ in range(200):
        actions = np.array([rng.choice(np.flatnonzero(row)) for row in info["action_mask"]])
        obs_c, r_c, term_c, _, info = compiled.step(actions)
        obs_p, r_p, term_p, _, info_p = python.step(actions)
        np.testing.assert_allclose(r_c, r_p, rtol=0, atol=1e-12)
        np.testing.assert_array_equal(obs_c["slots"], obs_p["slots"])  # reader hits included
        for term in ("qa", "evidence", "evidence_recall"):
            np.testing.assert_allclose(info["reward_terms"][term], info_p["reward_terms"][term])
        np.testing.assert_array_equal(compiled.answered, python.answered)
        answered += np.abs(info["reward_terms"]["evidence_recall"]).sum()
    assert answered > 0  # evidence was kept and found along the way
