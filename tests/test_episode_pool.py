"""``episode_pool``: resets draw from a fixed set of streams, generated and encoded once."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils import seeding

import memgym  # noqa: F401  (registers the ids)
from memgym.envs import episode_pool
from memgym.envs.episode_pool import EpisodeSource, cached, clear_cache, task_token
from memgym.tasks.kv_updates import KVUpdatesTask

ENV = "memgym/KVUpdates-Easy-v0"


def texts(env: gym.Env) -> tuple[str, ...]:
    return tuple(c.render() for c in env.unwrapped.episode.chunks)


def play(env: gym.Env, seed: int, actions_seed: int = 0) -> tuple[list, list[float]]:
    """Observations and rewards of one episode under seeded random valid actions."""
    rng = np.random.default_rng(actions_seed)
    obs, info = env.reset(options={"episode_seed": seed})
    seen, rewards, done = [obs], [], False
    while not done:
        obs, reward, done, _, info = env.step(rng.choice(np.flatnonzero(info["action_mask"])))
        seen.append(obs)
        rewards.append(reward)
    return seen, rewards


def test_resets_draw_the_pool_seeds_only() -> None:
    clear_cache()
    env = gym.make(ENV, episode_pool=3)
    env.reset(seed=0)
    drawn = {texts(env)}
    for _ in range(30):
        env.reset()
        drawn.add(texts(env))
    task = env.unwrapped.task
    pool = {tuple(c.render() for c in task.episode(s, "train").chunks) for s in range(3)}
    assert drawn == pool  # 31 draws from 3 seeds: every one seen, nothing else


def test_cached_replays_equal_fresh_episodes() -> None:
    clear_cache()
    pooled, fresh = gym.make(ENV, episode_pool=4), gym.make(ENV)
    for seed in (0, 1, 0, 1):  # the second round replays from the cache
        obs_p, rewards_p = play(pooled, seed)
        obs_f, rewards_f = play(fresh, seed)
        assert rewards_p == rewards_f
        for a, b in zip(obs_p, obs_f, strict=True):
            for key in a:
                np.testing.assert_array_equal(a[key], b[key])


def test_pool_key_covers_split_and_task_options() -> None:
    clear_cache()
    env = gym.make(ENV, episode_pool=2)
    env.reset(options={"episode_seed": 0})
    train = texts(env)
    env.reset(options={"episode_seed": 0, "split": "heldout"})
    assert texts(env) != train
    env.reset(options={"episode_seed": 0, "length": 12})
    assert len(texts(env)) == 12 != len(train)
    env.reset(options={"episode_seed": 0})
    assert texts(env) == train


def test_no_pool_no_cache_and_same_draws_as_before() -> None:
    clear_cache()
    env = gym.make(ENV)
    env.reset(seed=5)
    seed = int(seeding.np_random(5)[0].integers(2**31 - 1))  # one draw, as without pools
    expected = tuple(c.render() for c in env.unwrapped.task.episode(seed, "train").chunks)
    assert texts(env) == expected
    assert len(episode_pool._CACHE) == 0


def test_text_env_and_vector_env_take_the_pool() -> None:
    text = gym.make("memgym/KVUpdates-Easy-Text-v0", episode_pool=1)
    text.reset(seed=0)
    first = text.unwrapped.episode
    text.reset()
    assert text.unwrapped.episode == first
    venv = gym.make_vec(ENV, num_envs=3, vectorization_mode="vector_entry_point", episode_pool=1)
    venv.reset(seed=0)
    buffers = venv.unwrapped.buffers
    assert buffers.row(0).episode == buffers.row(1).episode == buffers.row(2).episode
    # one pooled episode, one row of arrays: the three envs read it, nothing was copied
    assert len(set(buffers.episode_row.tolist())) == 1
    assert buffers.episode_row[0] >= venv.num_envs  # a pool row, not env 0's own


@pytest.mark.parametrize("bad", [0, -1, "3", 2.5, True])
def test_bad_pool_size_is_a_clear_error(bad: object) -> None:
    with pytest.raises(ValueError, match="episode_pool"):
        gym.make(ENV, episode_pool=bad)


def test_cache_is_bounded_and_tokens_identify_tasks(monkeypatch: pytest.MonkeyPatch) -> None:
    clear_cache()
    monkeypatch.setattr(episode_pool, "CACHE_ENTRIES", 3)
    for key in range(10):
        assert cached(("k", key), lambda: key) == key
    assert list(episode_pool._CACHE) == [("k", 7), ("k", 8), ("k", 9)]
    assert task_token("a:B", {"n": [1, 2]}) == task_token("a:B", {"n": [1, 2]})
    assert task_token("a:B", {"n": 1}) != task_token("a:B", {"n": 2})
    assert task_token(KVUpdatesTask(), None) is None  # an instance: no identity to key on
    source = EpisodeSource(KVUpdatesTask(), episode_pool=2, token=None)
    episode, key, _ = source.draw(np.random.default_rng(0), None, "train")
    assert key is None and episode.chunks
    clear_cache()
