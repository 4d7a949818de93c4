"""``prefetch_workers``: fresh episodes generated ahead in worker processes, the same episodes
as without workers whatever the resets do (reseeding, options, explicit seeds)."""

from __future__ import annotations

import functools
import gc
import operator
import os
import subprocess
import sys
import time

import gymnasium as gym
import numpy as np
import pytest

import memgym  # noqa: F401  (registers the ids)
from memgym.envs.episode_pool import EpisodeSource
from memgym.envs.features import EpisodeFeatures
from memgym.envs.prefetch import MAX_MISSES
from memgym.envs.structured import MemoryEnv
from memgym.tasks.kv_updates import KVUpdatesTask

ENV = "memgym/KVUpdates-Medium-v0"
#: (seed, options) of each reset: reseeding mid-way, options changing, explicit seeds.
RESETS = ([(3, None)] + [(None, None)] * 5 + [(7, None)] + [(None, None)] * 3
          + [(None, {"length": 12})] * 3 + [(None, {"episode_seed": 5})] + [(None, None)] * 3
          + [(None, {"split": "val"})] * 2 + [(None, None)] * 2)


def played(workers: int) -> tuple[list, dict | None]:
    env = gym.make(ENV, prefetch_workers=workers)
    prefetcher = env.unwrapped.episodes.prefetcher
    episodes = []
    for k, (seed, options) in enumerate(RESETS):
        env.reset(seed=seed, options=options)
        if k == 0 and prefetcher is not None:
            prefetcher.start(wait=True)  # from here on the queue is used
        episodes.append(env.unwrapped.episode)
    stats = None if prefetcher is None else dict(prefetcher.stats, streams=len(prefetcher._streams))
    env.close()
    return episodes, stats


def test_env_plays_the_same_episodes_with_and_without_prefetch() -> None:
    without, _ = played(0)
    with_workers, stats = played(1)
    assert [e.seed for e in with_workers] == [e.seed for e in without]
    assert with_workers == without  # chunks, questions, params: all equal
    # Synchronous: the first reset, each reseed, each change of options; the rest prefetched.
    assert stats["prefetched"] >= 8, stats  # 13 of 20 when the worker keeps up
    assert stats["streams"] == 1  # the generator replaced by reset(seed=7) was dropped


def test_bare_source_with_prepare_and_interleaved_generators() -> None:
    """Two generators drawing in turn (as a vector env's sub-envs do), a prepare run in the
    worker, and a foreign draw from one generator: the same as prefetch=0."""
    prepare = functools.partial(EpisodeFeatures, dim=16, parse=True)

    def run(workers: int) -> tuple[list, list, EpisodeSource]:
        source = EpisodeSource(KVUpdatesTask(), prefetch=workers)
        rngs = [np.random.default_rng(0), np.random.default_rng(1)]
        seeds, bows = [], []
        for k in range(14):
            rng = rngs[k % 2]
            episode, key, features = source.draw(rng, None, "train", prepare=prepare)
            assert key is None
            seeds.append(episode.seed)
            bows.append(features.chunks.bow.sum())
            if k == 0 and source.prefetcher is not None:
                source.prefetcher.start(wait=True)
            if k == 8:
                rngs[1].random()  # something else draws: predictions for rngs[1] miss once
        episode, _, seed = source.draw(rngs[0], {"episode_seed": 11}, "train",
                                       prepare=operator.attrgetter("seed"))
        assert seed == episode.seed == 11
        return seeds, bows, source

    seeds0, bows0, _ = run(0)
    seeds1, bows1, source = run(1)
    assert seeds1 == seeds0 and bows1 == bows0
    assert source.prefetcher.stats["prefetched"] >= 3, source.prefetcher.stats  # 7-9 of 14
    source.close()


def test_vector_env_steps_the_same_with_and_without_prefetch() -> None:
    """The batched env passes ``prefetch_workers`` to its template; its sub-envs' generators
    draw from one source in turn, through autoresets."""
    from memgym.envs.speed import random_valid

    def run(workers: int) -> tuple[list, dict | None]:
        venv = gym.make_vec(ENV, num_envs=4, vectorization_mode="vector_entry_point",
                            prefetch_workers=workers)
        rng = np.random.default_rng(0)
        _, info = venv.reset(seed=1)
        prefetcher = venv.unwrapped.template.episodes.prefetcher
        if prefetcher is not None:
            prefetcher.start(wait=True)
        steps = []
        for _ in range(400):
            obs, reward, _, _, info = venv.step(random_valid(info["action_mask"], rng))
            steps.append((obs["view"].copy(), reward.copy()))
        stats = None if prefetcher is None else dict(prefetcher.stats)
        venv.close()  # closes the template env, whose source owns the workers
        return steps, stats

    without, _ = run(0)
    with_workers, stats = run(1)
    assert all((a[0] == b[0]).all() and (a[1] == b[1]).all()
               for a, b in zip(with_workers, without))
    assert stats["prefetched"] >= 5, stats


def test_foreign_draws_between_resets_stop_prefetching_with_a_warning() -> None:
    source = EpisodeSource(KVUpdatesTask(), prefetch=1)
    rng, reference = np.random.default_rng(4), np.random.default_rng(4)
    source.prefetcher.start(wait=True)
    seeds, expected = [], []
    with pytest.warns(RuntimeWarning, match="no longer prefetch"):
        for _ in range(MAX_MISSES + 3):
            seeds.append(source.draw(rng, None, "train")[0].seed)
            expected.append(int(reference.integers(2**31 - 1)))
            rng.integers(4), reference.integers(4)  # e.g. a subclass drawing a budget
    assert seeds == expected
    source.close()


def test_workers_stop_on_close_and_on_collection() -> None:
    env = gym.make(ENV, prefetch_workers=1)
    env.reset(seed=0)
    prefetcher = env.unwrapped.episodes.prefetcher
    prefetcher.start(wait=True)
    processes = list(prefetcher._executor._processes.values())
    assert processes and all(p.is_alive() for p in processes)
    env.close()
    assert not any(p.is_alive() for p in processes)
    env.reset()  # still usable: a reset after close starts new workers
    processes = list(prefetcher._executor._processes.values())
    assert processes
    del env, prefetcher
    gc.collect()
    deadline = time.monotonic() + 10
    while any(p.is_alive() for p in processes) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(p.is_alive() for p in processes)


def test_interpreter_exit_without_close_leaves_nothing_running() -> None:
    code = ("import gymnasium as gym, memgym\n"
            "if __name__ == '__main__':\n"
            f"    env = gym.make({ENV!r}, prefetch_workers=1)\n"
            "    env.reset(seed=0)\n"
            "    env.unwrapped.episodes.prefetcher.start(wait=True)\n"
            "    [env.reset() for _ in range(5)]\n"
            "    print(*env.unwrapped.episodes.prefetcher._executor._processes)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    for pid in map(int, done.stdout.split()):
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)  # the worker is gone (and reaped)


class _UnpicklableTask(KVUpdatesTask):
    def __init__(self) -> None:
        super().__init__()
        self.hook = lambda: None


def test_unpicklable_task_or_prepare_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"_UnpicklableTask.*prefetch_workers=0"):
        EpisodeSource(_UnpicklableTask(), prefetch=1)
    with pytest.raises(ValueError, match="_UnpicklableTask"):
        MemoryEnv(task=_UnpicklableTask(), prefetch_workers=1)
    EpisodeSource(_UnpicklableTask(), prefetch=0)  # fine without workers
    source = EpisodeSource(KVUpdatesTask(), prefetch=1)
    with pytest.raises(ValueError, match="prepare"):
        source.draw(np.random.default_rng(0), None, "train", prepare=lambda e: e.seed)
    source.close()


def test_pooled_sources_never_prefetch_and_bad_counts_are_refused() -> None:
    assert EpisodeSource(KVUpdatesTask(), episode_pool=4, prefetch=2).prefetcher is None
    assert EpisodeSource(KVUpdatesTask()).prefetcher is None
    for bad in (-1, True, 1.5):
        with pytest.raises(ValueError, match="prefetch"):
            EpisodeSource(KVUpdatesTask(), prefetch=bad)
