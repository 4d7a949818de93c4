"""Memory-R1 recipe: the env ids, the merge form of UPDATE, the managers, the configs."""

from __future__ import annotations

import json
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import memgym  # noqa: F401
from memgym.agents.evaluate import evaluate_agents
from memgym.episode import Chunk, Episode, Question
from memgym.recipes.memory_r1 import MemoryR1Oracle, OverwriteHeuristic, merge_text
from memgym.tasks.memory_r1_stream import MemoryR1Task

from recipe_checks import run_benchmark_script, validated_recipe_config


def hand_episode(second: str, answers: tuple[str, ...]) -> Episode:
    """Ann Lee's hobby stated, then a follow-up turn; one question about the pair."""
    return Episode(
        chunks=(Chunk(0, "Ann Lee's hobby is tennis."), Chunk(1, second),
                Chunk(2, "It rained all afternoon.")),
        questions=(Question("What is Ann Lee's hobby?", answers, evidence=(0, 1)),),
        task="hand", labels={"kinds": ["state", "merge", "filler"]})


def play(env: gym.Env, episode: Episode, actions: list[str]) -> tuple[float, dict]:
    """Play named actions (then noop to the end); returns the return and the last info."""
    base = env.unwrapped
    env.reset(seed=0)
    base.start_episode(episode)
    total, done, info = 0.0, False, {}
    for name in actions + ["noop"] * 10:
        if done:
            break
        action = base.action_names.index(name)
        assert base.action_masks()[action], f"{name} is masked"
        _, reward, done, _, info = env.step(action)
        total += reward
    return total, info


MERGE_ANSWERS = ("tennis and chess", "chess and tennis")


def test_merge_text_combines_same_pair_and_keeps_different_texts() -> None:
    merged = merge_text("Ann Lee's hobby is tennis.", "Also, the hobby of Ann Lee is chess.")
    assert merged == "Ann Lee's hobby is tennis and chess."
    assert merge_text(merged, "Plus a second one: Ann Lee's hobby is chess.") == merged
    assert merge_text("Ann Lee's hobby is tennis.", "Bo Xu's pet is cat.") == \
        "Ann Lee's hobby is tennis. Bo Xu's pet is cat."


@pytest.mark.parametrize("ops, expected", [
    (["add->episodic", "merge slot 0"], 1.0),  # the paper's case: merge keeps both
    (["add->episodic", "update slot 0"], 0.0),  # overwrite loses tennis
    (["add->episodic", "add->episodic"], 0.0),  # two entries: the reader sees "chess or tennis"
])
def test_merge_case_reward_is_exact_match_of_the_frozen_reader(ops: list[str],
                                                                 expected: float) -> None:
    env = gym.make("memgym/MemoryR1-v0")
    total, info = play(env, hand_episode("Also, Ann Lee's hobby is chess.", MERGE_ANSWERS), ops)
    assert info["qa_score"] == expected
    assert total == pytest.approx(expected)  # outcome reward only: no shaping, no op costs
    if "merge slot 0" in ops:
        assert env.unwrapped.merges == 1
        assert [e.text for e in env.unwrapped.core.store.entries.values()] == [
            "Ann Lee's hobby is tennis and chess."]


@pytest.mark.parametrize("ops, expected", [
    (["add->episodic", "update slot 0"], 1.0), (["add->episodic", "merge slot 0"], 0.0)])
def test_a_changed_value_must_be_overwritten_not_merged(ops: list[str], expected: float) -> None:
    env = gym.make("memgym/MemoryR1-v0")
    _, info = play(env, hand_episode("Update: Ann Lee's hobby is chess.", ("chess",)), ops)
    assert info["qa_score"] == expected


def test_a_retraction_is_deleted() -> None:
    env = gym.make("memgym/MemoryR1-v0")
    episode = hand_episode("Please forget Ann Lee's hobby.", ("unknown",))
    assert play(env, episode, ["add->episodic", "delete slot 0"])[1]["qa_score"] == 1.0
    assert play(env, episode, ["add->episodic"])[1]["qa_score"] == 0.0


def test_merge_is_offered_only_on_the_related_entry_and_plain_actions_are_unchanged() -> None:
    env = gym.make("memgym/MemoryR1-v0").unwrapped
    plain = gym.make("memgym/MemoryR1-v0", merge=False).unwrapped
    assert env.action_names[:plain.action_space.n] == plain.action_names
    assert env.action_space.n == plain.action_space.n + env.n_slots
    env.reset(seed=0)
    env.start_episode(Episode(
        chunks=(Chunk(0, "Ann Lee's hobby is tennis."), Chunk(1, "Bo Xu's pet is cat."),
                Chunk(2, "Also, Ann Lee's hobby is chess.")),
        questions=(Question("What is Ann Lee's hobby?", MERGE_ANSWERS),)))
    merge_rows = [i for i, n in enumerate(env.action_names) if n.startswith("merge")]
    assert not env.action_masks()[merge_rows].any()  # memory empty
    env.step(env.action_names.index("add->episodic"))
    assert not env.action_masks()[merge_rows].any()  # Bo Xu's pet: no related entry
    env.step(env.action_names.index("add->episodic"))
    assert env.action_masks()[merge_rows].tolist() == [True] + [False] * (env.n_slots - 1)


def test_structured_env_passes_check_env_and_random_play_ends_with_finite_rewards() -> None:
    env = gym.make("memgym/MemoryR1-v0")
    check_env(env.unwrapped, skip_render_check=True)
    rng = np.random.default_rng(0)
    for seed in range(3):
        _, info = env.reset(seed=seed)
        done, qa = False, 0.0
        while not done:
            action = int(rng.choice(np.flatnonzero(info["action_mask"])))
            _, reward, done, _, info = env.step(action)
            assert np.isfinite(reward) and info["ok"]
            qa += info["reward_terms"]["qa"]
        assert qa == pytest.approx(info["qa_score"])


def test_text_env_merges_through_update_memory_with_written_text() -> None:
    env = gym.make("memgym/MemoryR1-Text-v0")
    env.reset(seed=0)
    env.unwrapped.start_episode(hand_episode("Also, Ann Lee's hobby is chess.", MERGE_ANSWERS))
    env.step('{"name": "add_memory", "arguments": {}}')
    env.step('{"name": "next_chunk", "arguments": {}}')
    env.step(json.dumps({"name": "update_memory", "arguments": {
        "id": 0, "text": "Ann Lee's hobby is tennis and chess."}}))
    done, info = False, {}
    while not done:
        _, _, done, _, info = env.step('{"name": "next_chunk", "arguments": {}}')
    assert info["qa_score"] == 1.0


def test_task_is_deterministic_split_disjoint_and_always_has_a_merge_case() -> None:
    task = MemoryR1Task()
    assert task.episode(5, "train") == task.episode(5, "train")
    names = {split: {q.text.split("'s")[0].split()[-2] for s in range(20)
                     for q in task.episode(s, split).questions if "'s" in q.text}
             for split in ("train", "heldout")}
    assert not names["train"] & names["heldout"]
    for seed in range(30):
        episode = task.episode(seed, "heldout")
        assert "merge" in {q.kind for q in episode.questions}
        assert len(episode.chunks) == task.params.length
    with pytest.raises(ValueError, match="merge_share"):
        MemoryR1Task(merge_share=0.9, change_share=0.5)
    with pytest.raises(ValueError, match="unknown parameter"):
        MemoryR1Task(colour="blue")


def test_oracle_merges_and_beats_the_overwrite_heuristic_on_merge_questions() -> None:
    report = evaluate_agents([MemoryR1Oracle(), OverwriteHeuristic(), "random"],
                             "memgym/MemoryR1-v0", episodes=12)
    oracle, heuristic = report["agents"]["oracle"], report["agents"]["heuristic"]
    assert oracle["per_kind"]["merge"] > heuristic["per_kind"]["merge"]
    assert heuristic["per_kind"]["update"] > heuristic["per_kind"]["merge"]
    assert oracle["qa_score"] > heuristic["qa_score"] > report["agents"]["random"]["qa_score"]


@pytest.mark.parametrize("name", ["memory_r1_ppo", "memory_r1_grpo"])
def test_configs_validate(name: str) -> None:
    config = validated_recipe_config(name)
    assert config.env.id == "memgym/MemoryR1-v0"


@pytest.mark.slow
def test_benchmark_script_runs_small(tmp_path: Path) -> None:
    data = run_benchmark_script("memory_r1", [
        "--minutes", "0.3", "--steps", "3000", "--episodes", "6", "--out", str(tmp_path / "runs"),
        "--results", str(tmp_path)], tmp_path, timeout=600)
    assert {"PPO", "GRPO", "heuristic (overwrite)"} <= set(data["managers"])


@pytest.mark.slow
def test_data_efficiency_script_runs_small(tmp_path: Path) -> None:
    data = run_benchmark_script("memory_r1_data", [
        "--minutes", "0.3", "--steps", "3000", "--episodes", "6", "--out", str(tmp_path / "runs"),
        "--results", str(tmp_path)], tmp_path, timeout=600)
    assert data["pool_qa_pairs"] == 156 and data["pool_streams"] == 26
    pooled = next(t for name, t in data["training"].items() if "26 streams" in name)
    assert pooled["overrides"] == ["env.kwargs.episode_pool=26"]
    assert (tmp_path / "memory_r1_data.md").read_text().startswith("# Memory-R1 data efficiency")


def test_llm_config_trains_on_156_qa_pairs_only() -> None:
    from memgym.training.trl import trl_spec

    config = validated_recipe_config("memory_r1_llm")
    spec = trl_spec(config)
    assert config.env.id == "memgym/MemoryR1-Text-v0"
    assert spec.episodes == 26 and spec.episode_seed == 0  # 26 streams x 6 questions
    assert spec.sft is not None and spec.sft.episode_seed + spec.sft.episodes <= 26


@pytest.mark.slow
def test_llm_config_runs_with_a_tiny_model(tmp_path) -> None:
    from memgym.training import load_config, train_from_config
    from memgym.training.run import RunFolder

    root = Path(__file__).resolve().parents[1]
    config = load_config(root / "configs" / "recipes" / "memory_r1_llm.yaml", [
        f"output_dir={tmp_path}", "trl.model=tiny", "trl.num_generations=2",
        "trl.gradient_accumulation_steps=2", "trl.max_completion_length=128",
        "total_timesteps=1", "trl.sft.episodes=2", "trl.eval_max_new_tokens=16",
        "eval.episodes=2", "eval.baselines=[]", "progress=false"])
    train_from_config(config, overwrite=True)
    summary = json.loads(RunFolder.for_config(config).summary.read_text())
    assert 0.0 <= summary["scores"]["memory_r1-llm"] <= 1.0
