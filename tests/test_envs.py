"""A POPGym-style abstract test applied to every registered structured environment."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import memgym
from memgym.facts import extract_fact, normalize

STRUCTURED = [i for i, info in memgym.REGISTRY.items()
              if info.interface == "structured" and not info.needs_data]
MEDIUM = [i for i in STRUCTURED if "-Medium-" in i]


def play(env: gym.Env, seed: int, masked: bool, steps: int | None = None,
         options: dict | None = None):
    """Random actions (masked or not); yields (action, obs, reward, done, info) per step."""
    rng = np.random.default_rng(seed)
    obs, info = env.reset(seed=seed, options=options)
    n = 0
    while steps is None or n < steps:
        mask = info["action_mask"]
        action = rng.choice(np.flatnonzero(mask)) if masked else rng.integers(env.action_space.n)
        obs, reward, terminated, truncated, info = env.step(action)
        n += 1
        yield action, obs, reward, terminated or truncated, info
        if terminated or truncated:
            if steps is None:
                return
            obs, info = env.reset()


def test_every_task_level_is_registered() -> None:
    for task in ("KVUpdates", "Needle", "MultiHop", "Dialogue"):
        for level in ("Easy", "Medium", "Hard"):
            assert f"memgym/{task}-{level}-v0" in memgym.REGISTRY
            assert f"memgym/{task}-{level}-Text-v0" in memgym.REGISTRY


@pytest.mark.parametrize("env_id", STRUCTURED)
def test_gymnasium_and_sb3_env_checkers(env_id: str) -> None:
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    env = gym.make(env_id).unwrapped
    check_env(env, skip_render_check=True)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*unconventional shape.*")
        sb3_check_env(env, warn=True)


@pytest.mark.parametrize("env_id", STRUCTURED)
def test_spaces_and_seeded_replay_is_bit_identical(env_id: str) -> None:
    def trajectory() -> list:
        env = gym.make(env_id)
        out = []
        for action, obs, reward, done, info in play(env, seed=7, masked=True, steps=150):
            assert env.observation_space.contains(obs), f"observation outside its space: {obs}"
            assert np.isfinite(reward)
            out.append((int(action), reward, done,
                        tuple(np.concatenate([v.ravel() for v in obs.values()]).tobytes())))
        return out

    first, second = trajectory(), trajectory()
    assert first == second


@pytest.mark.parametrize("env_id", STRUCTURED)
def test_different_seeds_give_different_streams(env_id: str) -> None:
    env = gym.make(env_id).unwrapped
    texts = set()
    for seed in range(3):
        env.reset(options={"episode_seed": seed})
        texts.add(tuple(c.text for c in env.episode.chunks))
    assert len(texts) == 3


@pytest.mark.parametrize("env_id", MEDIUM)
def test_splits_share_no_entities_or_values(env_id: str) -> None:
    env = gym.make(env_id).unwrapped

    def surface(split: str) -> tuple[set, set]:
        subjects, values = set(), set()
        for seed in range(15):
            env.reset(options={"split": split, "episode_seed": seed})
            for chunk in env.episode.chunks:
                fact = extract_fact(chunk.render())
                if fact:
                    subjects.add(normalize(fact.subject))
                    values.add(normalize(fact.value))
        return subjects, values

    train_subjects, train_values = surface("train")
    held_subjects, held_values = surface("heldout")
    assert train_subjects and held_subjects
    assert not train_subjects & held_subjects
    assert not train_values & held_values


@pytest.mark.parametrize("env_id", STRUCTURED)
@pytest.mark.parametrize("masked", [True, False])
def test_invariants_under_random_actions(env_id: str, masked: bool) -> None:
    env = gym.make(env_id).unwrapped
    for action, obs, reward, done, info in play(env, seed=3, masked=masked, steps=600):
        env.core.store.check_invariants()
        assert env.observation_space.contains(obs)
        assert np.isfinite(reward)
        assert info["action_mask"].any()
        assert len(set(env.core.store.entries)) == len(env.core.store.entries)


@pytest.mark.parametrize("env_id", MEDIUM)
def test_mask_agrees_with_the_core_and_masked_actions_change_nothing(env_id: str) -> None:
    env = gym.make(env_id).unwrapped
    rng = np.random.default_rng(1)
    env.reset(seed=1)
    for _ in range(300):
        if env.core.done:
            env.reset()
        mask = env.action_masks()
        for action in range(env.action_space.n):
            op, kwargs = env.decode(action)
            valid = env.core.check(op, kwargs.get("target"), kwargs.get("tier"),
                                   chunk=kwargs.get("chunk")) is None
            assert mask[action] == valid, (env.action_names[action], mask[action], valid)
        invalid = np.flatnonzero(~mask)
        if len(invalid):
            before = env.core.store.snapshot()
            _, reward, _, _, info = env.step(rng.choice(invalid))
            assert env.core.store.snapshot()["entries"] == before["entries"]
            assert not info["ok"] and info["reward_terms"]["invalid"] < 0
        else:
            env.step(rng.choice(np.flatnonzero(mask)))


def test_out_of_range_and_garbage_actions_never_crash() -> None:
    env = gym.make("memgym/KVUpdates-Medium-v0").unwrapped
    env.reset(seed=0)
    for action in (-1, 10**9, "add", None, 3.5, np.int64(2)):
        obs, reward, terminated, truncated, info = env.step(action)
        assert np.isfinite(reward)
        env.core.store.check_invariants()


def test_qa_term_sums_to_the_mean_question_score() -> None:
    env = gym.make("memgym/KVUpdates-Medium-v0")
    from memgym.agents.baselines import OracleAgent

    agent = OracleAgent()
    obs, info = env.reset(seed=0, options={"episode_seed": 0})
    agent.reset(env, seed=0)
    qa, done = 0.0, False
    while not done:
        obs, reward, done, _, info = env.step(agent.act(obs, info, env))
        qa += info["reward_terms"]["qa"]
    assert qa == pytest.approx(info["qa_score"])


def test_shaping_is_potential_based() -> None:
    """The shaping term sums to minus the start potential, whatever the agent does."""
    env = gym.make("memgym/KVUpdates-Medium-v0", rewards={"shaping": 1.0}).unwrapped
    for seed in range(3):
        env.reset(seed=seed)
        start = env.core.potential()
        total = 0.0
        for _, _, _, done, info in play(env, seed=seed, masked=True):
            total += info["reward_terms"]["shaping"]
        assert total == pytest.approx(-start)


def test_mid_stream_questions_are_answered_when_due() -> None:
    env = gym.make("memgym/KVUpdates-Medium-v0").unwrapped
    options = {"episode_seed": 0, "mid_stream_questions": 2}
    answered_after = []
    for _, _, _, done, info in play(env, seed=0, masked=True, options=options):
        if info["answered"] and not done:
            answered_after.extend([env.core.cursor - 1] * info["answered"])
    due = sorted(q.asked_after for q in env.episode.questions if q.asked_after is not None)
    assert len(due) == 2 and answered_after == due


def test_length_parameter_gives_long_heldout_streams() -> None:
    env = gym.make("memgym/KVUpdates-Medium-v0").unwrapped
    env.reset(options={"split": "heldout", "episode_seed": 0, "length": 640})
    assert len(env.episode.chunks) == 640


def test_retrieval_routing_puts_questions_in_view() -> None:
    env = gym.make("memgym/KVUpdates-Medium-v0", retrieval_tiers=True).unwrapped
    names = env.action_names
    assert [n for n in names if n.startswith("answer via")] == [
        "answer via low", "answer via mid", "answer via high"]
    routed = 0
    for _, _, reward, done, info in play(env, seed=0, masked=True):
        if info["op"] == "route" and env.core.records and env.core.records[-1].route:
            routed += 1
    assert routed == len(env.episode.questions)
    assert {r.route for r in env.core.records} <= {"low", "mid", "high"}


def test_reread_and_archive_ops() -> None:
    env = gym.make("memgym/KVUpdates-Medium-v0",
                   ops=("noop", "add", "update", "delete", "evict", "route", "reread"),
                   tiers={"core": {"entries": 1, "tokens": 40, "always_shown": True},
                          "episodic": {"entries": 3}}).unwrapped
    seen = set()
    for _, obs, _, _, info in play(env, seed=2, masked=True, steps=800):
        seen.add(info["op"])
        assert "archive" in obs
        env.core.store.check_invariants()
    assert {"evict", "reread", "route"} <= seen
