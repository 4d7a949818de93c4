"""MEM1 / MemAgent recipe: k-objective composed task, constant vs keep-all memory, config."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import memgym  # noqa: F401
from memgym.envs.memory import count_tokens
from memgym.episode import Chunk, Episode, Question
from memgym.recipes.peak_memory import PeakMemory, measure
from memgym.tasks.mem1 import CONST_SLOTS, MEM1ComposedTask

from recipe_checks import run_benchmark_script, validated_recipe_config

CONST, KEEP_ALL = "memgym/MEM1-Const-v0", "memgym/MEM1-KeepAll-v0"


def test_composed_task_has_k_objectives_and_a_stream_linear_in_k():
    task = MEM1ComposedTask()
    for k in (2, 4, 8, 16):
        episode = task.episode(5, "heldout", objectives=k)
        assert len(episode.questions) == k and len(episode.chunks) == 5 * k
        assert episode.params["objectives"] == k
        assert len({q.text for q in episode.questions}) == k
    assert task.episode(5, "train", objectives=4) == task.episode(5, "train", objectives=4)
    drawn = {task.episode(s, "train").params["objectives"] for s in range(40)}
    assert drawn == {2, 4, 8, 16}  # k drawn per episode from the choices
    with pytest.raises(ValueError, match="objectives"):
        task.episode(0, "train", objectives=0)
    with pytest.raises(ValueError, match="unknown parameter"):
        MEM1ComposedTask(objective=3)


@pytest.mark.parametrize("env_id", [CONST, KEEP_ALL])
def test_env_ids_pass_check_env_and_return_the_qa_score(env_id):
    env = gym.make(env_id)
    check_env(env.unwrapped, skip_render_check=True)
    env.reset(seed=2, options={"objectives": 4})
    rng, total, done = np.random.default_rng(0), 0.0, False
    while not done:
        obs, reward, done, _, info = env.step(int(rng.choice(np.flatnonzero(
            env.unwrapped.action_masks()))))
        assert env.observation_space.contains(obs)
        total += reward
    assert total == pytest.approx(info["qa_score"])  # default rewards: QA only
    assert len(env.unwrapped.core.store.entries) <= env.unwrapped.n_slots


def test_overwrite_keeps_memory_constant_and_peak_memory_is_measured():
    texts = ["Ann Lee's city is Oslo.", "Update: Ann Lee's city is now Lima.",
             "Update: Ann Lee's city is now Quito."]
    episode = Episode(chunks=tuple(Chunk(i, t) for i, t in enumerate(texts)),
                      questions=(Question("What is Ann Lee's city?", ("Quito",), (2,)),),
                      task="hand", split="train", seed=0)
    env = PeakMemory(gym.make(CONST))
    env.reset(seed=0, options={"episode": episode})
    u = env.unwrapped
    env.step(u.action_index[("add", -1, 0)])
    for _ in range(2):  # overwrite the one entry with each newer value: MEM1's rewrite
        *_, done, _, info = env.step(u.action_index[("update", 0, -1)])
    assert done and info["qa_score"] == 1.0
    assert env.peak_entries == 1
    assert env.peak_tokens == max(count_tokens(t) for t in texts)


def test_keep_all_grows_linearly_while_constant_memory_stays_bounded():
    """Measured on a few held-out streams: keep-everything peak memory scales with k, the
    constant memory never exceeds its slots, and a consolidating rule answers better."""
    keep = {k: measure(KEEP_ALL, "keep", k, episodes=3) for k in (2, 8)}
    const = {k: measure(CONST, "salience", k, episodes=3) for k in (2, 8)}
    assert keep[8]["peak_entries"] == 4 * keep[2]["peak_entries"] == 40
    assert keep[8]["peak_tokens"] > 3 * keep[2]["peak_tokens"]
    assert all(r["peak_entries"] <= CONST_SLOTS for r in const.values())
    assert const[8]["qa"] > keep[8]["qa"]


def test_config_validates():
    config = validated_recipe_config("mem1")
    assert config.env.id == CONST


@pytest.mark.slow
def test_benchmark_script_runs(tmp_path):
    result = run_benchmark_script(
        "mem1", ["--minutes", "0.3", "--steps", "4096", "--episodes", "2", "--out", str(tmp_path)],
        tmp_path)
    assert set(result["table"]["keep-all (unbounded)"]) == {"2", "4", "8", "16"}
    assert (tmp_path / "mem1.md").read_text().startswith("# MEM1")
