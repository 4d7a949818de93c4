"""MemReread recipe: the HopChains task, sub-questions, reading and reread passes on hand-built
episodes, ReMemR1-style recall, masks and bad actions, baselines, config and benchmark."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import memgym  # noqa: F401
from memgym.agents.baselines import BASELINES
from memgym.episode import Chunk, Episode, Question
from memgym.recipes.memreread import (
    ANSWER, QUESTION_COLUMNS, REREAD, MemRereadEnv, sub_question,
)
from memgym.tasks.hop_chains import HopChainsTask

from recipe_checks import run_benchmark_script, validated_recipe_config

COL = {name: i for i, name in enumerate(QUESTION_COLUMNS)}
TARGET = "Bob Stone's city is Oslo."  # stated before the bridge that makes it relevant
BRIDGE = "Ann Lee's manager is Bob Stone."
RUMOUR = "Rumour has it: Bob Stone's city is Lima."
FILLER = "It rained all afternoon."
Q_CHAIN = Question("What is Ann Lee's manager's city?", ("Oslo",), evidence=(0,),
                   kind="multi-hop", id="q0")
Q_NEVER = Question("What is Ann Lee's dentist's city?", ("unknown",), kind="abstain", id="q1")


def _episode(texts: list[str], questions: list[Question]) -> Episode:
    return Episode(chunks=tuple(Chunk(i, t) for i, t in enumerate(texts)),
                   questions=tuple(questions), task="hand", split="train", seed=0)


def _env(texts: list[str], questions: list[Question], **kwargs) -> tuple[MemRereadEnv, dict]:
    env = MemRereadEnv(tiers={"episodic": {"entries": 4, "tokens": None}}, **kwargs)
    obs, _ = env.reset(seed=0, options={"episode": _episode(texts, questions)})
    return env, obs


def test_hop_chains_task_is_deterministic_with_hop_ordered_evidence():
    task = HopChainsTask(abstain_questions=1)
    a, b = task.episode(5, "train"), task.episode(5, "train")
    assert a == b and a != task.episode(5, "heldout")
    for seed in range(20):
        ep = task.episode(seed, "val", length=60)
        assert len(ep.chunks) == 60 and len(ep.questions) == 4
        for q, hops in zip(ep.questions, ep.labels["hops"]):
            parsed_hops = sub_question(q.text, [])[0]
            assert parsed_hops == hops == len(q.evidence)
            assert q.kind == ("lookup" if hops == 1 else "multi-hop")
            # evidence in hop order: the memory of the first k facts resolves k hops
            facts = [ep.chunks[c].text for c in q.evidence]
            for k in range(hops + 1):
                assert sub_question(q.text, facts[:k])[1] == k
        assert ep.questions[-1].kind == "abstain" and ep.questions[-1].evidence == ()


def test_hop_chains_rejects_bad_parameters():
    with pytest.raises(ValueError, match="max_hops"):
        HopChainsTask(max_hops=0)
    with pytest.raises(ValueError, match="unknown parameter"):
        HopChainsTask(hops=2)


def test_sub_question_follows_memory_and_ignores_hedged_entries():
    hops, resolved, keys = sub_question(Q_CHAIN.text, [])
    assert (hops, resolved, keys) == (2, 0, frozenset({"ann lee|manager"}))
    assert sub_question(Q_CHAIN.text, [BRIDGE])[1:] == (1, frozenset({"bob stone|city"}))
    assert sub_question(Q_CHAIN.text, [BRIDGE, RUMOUR])[1] == 1  # a rumour resolves nothing
    assert sub_question(Q_CHAIN.text, [BRIDGE, TARGET]) == (2, 2, frozenset())
    assert sub_question("How was the weather?", [TARGET]) == (0, 0, frozenset())


def test_reading_passes_over_an_out_of_order_hop_and_a_pass_recovers_it():
    env, obs = _env([TARGET, RUMOUR, BRIDGE, FILLER], [Q_CHAIN])
    assert env.memory_texts() == [BRIDGE]  # the target came before it was relevant
    assert env.chunks_read == 4
    q = obs["question"]
    assert q[COL["hops_2"]] == 1 and q[COL["resolved_share"]] == 0.5
    assert q[COL["answer_abstains"]] == 1 and q[COL["no_pass_yet"]] == 1
    obs, reward, done, _, info = env.step(REREAD)
    assert not done and reward == pytest.approx(-0.2)  # pass_cost / 1 question
    assert info["reward_terms"]["retrieval"] == pytest.approx(-0.2)
    assert env.memory_texts() == [BRIDGE, TARGET] and env.chunks_read == 8
    q = obs["question"]
    assert q[COL["last_pass_progressed"]] == 1 and q[COL["resolved_share"]] == 1.0
    assert q[COL["answer_single"]] == 1 and q[COL["passes_share"]] == 0.25
    obs, reward, done, _, info = env.step(ANSWER)
    assert done and reward == pytest.approx(1.0) and info["qa_score"] == 1.0
    assert info["passes_by_hops"] == {"2-hop": [1]} and info["chunks_read"] == 8
    assert env.core.records[0].prediction == "Oslo"


def test_without_the_pass_the_question_fails():
    env, _ = _env([TARGET, BRIDGE], [Q_CHAIN])
    _, reward, done, _, info = env.step(ANSWER)
    assert done and reward == 0.0 and info["qa_score"] == 0.0


def test_a_pass_that_finds_nothing_says_so_and_abstaining_is_right():
    env, obs = _env([BRIDGE, FILLER], [Q_NEVER])
    assert obs["question"][COL["resolved_share"]] == 0.0
    obs, _, _, _, _ = env.step(REREAD)
    assert obs["question"][COL["last_pass_found_nothing"]] == 1
    _, reward, done, _, info = env.step(ANSWER)
    assert done and info["qa_score"] == 1.0  # "unknown" is the gold answer


def test_masks_bad_actions_and_the_pass_limit():
    env, _ = _env([TARGET, BRIDGE], [Q_CHAIN, Q_NEVER], max_passes=1)
    assert env.action_masks().tolist() == [True, True]
    env.step(REREAD)
    assert env.action_masks().tolist() == [True, False]
    memory = env.memory_texts()
    for bad in (REREAD, 7):  # masked, out of range: penalised, nothing changes
        obs, reward, done, _, info = env.step(bad)
        assert info["ok"] is False and reward == pytest.approx(-0.1) and not done
        assert env.memory_texts() == memory and env.core.view.question == 0
    _, reward, done, _, info = env.step("x")  # the third bad action answers the question
    assert info["ok"] is False and env.core.view.question == 1
    assert reward == pytest.approx(0.5 - 0.1)  # Q_CHAIN was answered right: 1 of 2 questions
    assert env.core.invalid_count == 3


def test_recall_reading_finds_the_earlier_hop_without_passes_and_pays_scans():
    env, obs = _env([TARGET, FILLER, BRIDGE, FILLER], [Q_CHAIN], reading="recall",
                    max_passes=0)
    assert env.memory_texts() == [BRIDGE, TARGET]
    assert env.action_masks().tolist() == [True, False]
    # a recall per chunk while a sub-question is open, over the chunks before it: at chunk 1
    # (Ann's manager: nothing), at chunk 2 (Bob's city: the target); none once resolved
    assert env.chunks_scanned == 1 + 2 and env.recalls == 2
    _, reward, done, _, info = env.step(ANSWER)
    assert info["qa_score"] == 1.0 and info["chunks_scanned"] == env.chunks_scanned


def test_registered_envs_pass_check_env_and_are_deterministic():
    for env_id in ("memgym/MemReread-v0", "memgym/MemReread-Recall-v0"):
        check_env(gym.make(env_id).unwrapped, skip_render_check=True)
    env = gym.make("memgym/MemReread-v0")

    def rollout() -> list:
        obs, info = env.reset(seed=3)
        out, rng, done = [obs["question"].tolist()], np.random.default_rng(0), False
        while not done:
            action = int(rng.choice(np.flatnonzero(info["action_mask"])))
            obs, reward, done, _, info = env.step(action)
            out.append((obs["question"].tolist(), reward))
        return out

    assert rollout() == rollout()


def test_baselines_order_and_memory_baselines_refuse_the_env():
    from memgym.agents.evaluate import evaluate_agents

    names = ["no_reread", "reread_1", "reread_until"]
    report = evaluate_agents([BASELINES[n]() for n in names], "memgym/MemReread-v0",
                             episodes=12, split="val")["agents"]
    qa = {n: report[n]["qa_score"] for n in names}
    passes = {n: report[n]["ops_per_episode"].get("reread_pass", 0.0) for n in names}
    assert qa["no_reread"] < qa["reread_1"] <= qa["reread_until"]
    assert passes["no_reread"] == 0 < passes["reread_until"] < passes["reread_1"]
    with pytest.raises(ValueError, match="takes 'reread_pass' actions"):
        BASELINES["fifo"]().reset(gym.make("memgym/MemReread-v0"), seed=0)


def test_config_validates():
    config = validated_recipe_config("memreread")
    assert config.env.id == "memgym/MemReread-v0"


@pytest.mark.slow
def test_benchmark_script_writes_its_table(tmp_path):
    result = run_benchmark_script("memreread", [
        "--steps", "512", "--seeds", "0", "--lengths", "40", "80", "--episodes", "3",
        "--out", str(tmp_path / "runs"), "--results", str(tmp_path)], tmp_path)
    rows = result["rows"]
    assert set(rows) >= {"learned (seed 0)", "no_reread", "reread_until", "ReMemR1-style recall"}
    recall = rows["ReMemR1-style recall"]
    assert recall["80"]["chunks_scanned"] > 2 * recall["40"]["chunks_scanned"]  # superlinear
    assert (tmp_path / "memreread.md").read_text().startswith("# MemReread")
