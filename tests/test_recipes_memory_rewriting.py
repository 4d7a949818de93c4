"""Memory rewriting recipe: TMaze task, its memoryless variant, configs and the benchmark."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import memgym
from memgym.agents.evaluate import evaluate_agents
from memgym.episode import Chunk, Episode, Question
from memgym.recipes.memory_rewriting import CueTrackingAgent, RandomAnswerAgent, make_env
from memgym.facts import extract_fact, parse_question
from memgym.tasks.colour_cubes import ColourCubesTask, cells
from memgym.tasks.tmaze import STEP_TEMPLATES, TMazeTask
from memgym.training import load_config

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted((ROOT / "configs" / "recipes").glob("memory_rewriting*.yaml"))
CUE = "A signpost reads: the next turn of Junction is {}."
QUESTION = "Which way is the next turn of Junction?"


def hand_built() -> Episode:
    """Two corridors: cue left, one step, junction; cue right, one step, junction."""
    texts = [CUE.format("left"), "Dust hangs in the air.", CUE.format("right"), "Tick."]
    return Episode(
        chunks=tuple(Chunk(i, t) for i, t in enumerate(texts)),
        questions=(Question(QUESTION, ("left",), (0,), "update", 1, (), "q0"),
                   Question(QUESTION, ("right",), (2,), "update", 3, (0,), "q1")))


def test_ids_registered() -> None:
    for regime in ("Fixed", "Uniform"):
        for tag in ("", "-Text", "-Memoryless"):
            assert f"memgym/TMaze-{regime}{tag}-v0" in memgym.REGISTRY
    assert memgym.REGISTRY["memgym/TMaze-Fixed-Memoryless-v0"].interface == "memoryless"


@pytest.mark.parametrize("env_id", ["memgym/TMaze-Fixed-v0", "memgym/TMaze-Uniform-v0"])
def test_structured_env_checks_and_random_loop(env_id: str) -> None:
    env = gym.make(env_id)
    check_env(env.unwrapped, skip_render_check=True)
    obs, info = env.reset(seed=3)
    rng, total, done = np.random.default_rng(0), 0.0, False
    while not done:
        action = int(rng.choice(np.flatnonzero(info["action_mask"])))
        obs, reward, done, truncated, info = env.step(action)
        assert env.observation_space.contains(obs) and np.isfinite(reward) and not truncated
        total += reward
    assert 0.0 <= info["qa_score"] <= 1.0


def test_memoryless_env_checks() -> None:
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    env = gym.make("memgym/TMaze-Uniform-Memoryless-v0")
    sb3_check_env(env)
    assert set(env.observation_space.spaces) == {"view"}  # no memory, no slots, no clock
    assert env.action_space.n == 3  # move on, answer left, answer right


def test_regimes_set_corridor_lengths() -> None:
    task = TMazeTask()
    fixed = task.episode(0, "train", regime="fixed", corridor_length=5, n_corridors=4)
    assert [b - a for a, b in zip(fixed.labels["cues"], fixed.labels["junctions"])] == [5] * 4
    lengths = set()
    for seed in range(20):
        ep = task.episode(seed, "train", regime="uniform", min_length=2, corridor_length=6)
        lengths.update(b - a for a, b in zip(ep.labels["cues"], ep.labels["junctions"]))
    assert lengths <= set(range(2, 7)) and len(lengths) >= 4
    assert task.episode(7, "val").to_json() == TMazeTask().episode(7, "val").to_json()


def test_questions_ask_the_latest_cue_and_list_stale_ones() -> None:
    ep = TMazeTask().episode(1, "train", n_corridors=6)
    for q in ep.questions:
        cue = q.evidence[0]
        assert ep.chunks[cue].text.endswith(f"{q.answers[0]}.")
        assert cue == max(c for c in ep.labels["cues"] if c <= q.asked_after)
        stale = [c for c in ep.labels["cues"] if c < cue and not ep.chunks[c].text.endswith(
            f"{q.answers[0]}.")]
        assert list(q.conflicting) == stale


def test_templates_split_disjoint() -> None:
    texts = {s: {c.text for seed in range(15) for c in TMazeTask().episode(seed, s).chunks}
             for s in ("train", "heldout")}
    assert not texts["train"] & texts["heldout"]
    steps = {t for t in texts["train"] if t in STEP_TEMPLATES}
    assert steps and len(texts["train"] - steps) >= 2  # cues too, from their own pool


def play(env: gym.Env, actions: list[str]) -> tuple[list[float], dict]:
    base = env.unwrapped
    env.reset(options={"episode": hand_built()})
    rewards, info = [], {}
    for name in actions:
        _, reward, done, _, info = env.step(base.action_names.index(name))
        rewards.append(reward)
    assert done
    return rewards, info


def test_rewriting_scores_and_appending_is_ambiguous() -> None:
    """Hand-built episode: overwriting the old cue answers both junctions; appending the new
    cue beside the old one makes the second junction 'left or right' (EM 0)."""
    env = gym.make("memgym/TMaze-Fixed-v0")
    rewards, info = play(env, ["add->episodic", "noop", "update slot 0", "noop"])
    assert rewards[1] == pytest.approx(0.5) and rewards[3] == pytest.approx(0.5)
    assert info["qa_score"] == 1.0
    rewards, info = play(env, ["add->episodic", "noop", "add->episodic", "noop"])
    assert rewards[3] == 0.0 and info["qa_score"] == 0.5
    assert env.unwrapped.core.records[1].prediction == "left or right"


def test_memoryless_answers_come_from_the_agent() -> None:
    env = gym.make("memgym/TMaze-Fixed-Memoryless-v0")
    env.reset(options={"episode": hand_built()})
    # chunk: move on (0); question: 1 = left, 2 = right.
    _, r, *_ = env.step(0)
    assert r == 0.0
    obs, r, _, _, info = env.step(1)  # answering on a chunk: invalid, moves on anyway
    assert info["error"] == "op_not_enabled" and r == pytest.approx(-0.1)
    assert info["action_mask"].tolist() == [False, True, True] and obs["view"][-1] == 1.0
    _, r, *_ = env.step(1)  # left: correct
    assert r == pytest.approx(0.5)
    env.step(0), env.step(0)
    _, r, done, _, info = env.step(1)  # left, but the latest cue says right
    assert r == 0.0 and done and info["qa_score"] == 0.5


def test_memoryless_chance_and_perfect_state_are_measured() -> None:
    report = evaluate_agents([RandomAnswerAgent(), CueTrackingAgent()],
                             "memgym/TMaze-Uniform-Memoryless-v0", episodes=20)
    scores = {k: v["qa_score"] for k, v in report["agents"].items()}
    assert scores["cue-tracker"] == 1.0
    assert 0.3 < scores["random-answer"] < 0.7


def test_baselines_on_memory_env() -> None:
    report = evaluate_agents(["fifo", "salience", "oracle"], "memgym/TMaze-Fixed-v0", episodes=10)
    scores = {k: v["qa_score"] for k, v in report["agents"].items()}
    assert scores["oracle"] == 1.0 and scores["salience"] == 1.0  # rewriting by rule works
    assert scores["fifo"] < 0.5  # corridor steps push the cue out


def test_bad_input_errors() -> None:
    with pytest.raises(ValueError, match="regime"):
        TMazeTask(regime="spiral")
    with pytest.raises(ValueError, match="min_length"):
        TMazeTask(min_length=5, corridor_length=2)
    with pytest.raises(ValueError, match="answer_choices"):
        make_env("memgym.tasks.needle:NeedleTask")
    env = gym.make("memgym/TMaze-Fixed-Memoryless-v0")
    env.reset(seed=0)
    _, r, *_, info = env.step("not an action")  # never crashes: an invalid op
    assert info["ok"] is False and r < 0


def test_colour_cubes_questions_ask_current_cells() -> None:
    task = ColourCubesTask()
    ep = task.episode(2, "train", n_cubes=3, length=30, move_rate=0.6, n_questions=4)
    assert ep.questions[-1].asked_after == 29 and len(ep.questions) == 4
    for q in ep.questions:
        subject = parse_question(q.text)[0]
        setting = [c.id for c in ep.chunks[:q.asked_after + 1]
                   if (f := extract_fact(c.text)) is not None and f.subject == subject]
        assert q.evidence == (setting[-1],)  # the latest teleport (or placement) of that cube
        assert ep.chunks[setting[-1]].text.endswith(f"{q.answers[0]}.")
        assert set(q.conflicting) <= set(setting[:-1])
    assert task.answer_choices == cells(3) and len(cells(3)) == 9
    assert ep.labels["choices"] == list(cells(3, "train"))
    assert not set(cells(3, "train")) & set(cells(3, "heldout"))  # split-disjoint answers


def test_colour_cubes_memoryless_and_baselines() -> None:
    for tag in ("", "-Text", "-Memoryless"):
        assert f"memgym/ColourCubes-Medium{tag}-v0" in memgym.REGISTRY
    env = gym.make("memgym/ColourCubes-Medium-Memoryless-v0")
    assert env.action_space.n == 10  # move on + 9 cells
    report = evaluate_agents([RandomAnswerAgent(), CueTrackingAgent()],
                             "memgym/ColourCubes-Medium-Memoryless-v0", episodes=20)
    scores = {k: v["qa_score"] for k, v in report["agents"].items()}
    assert scores["cue-tracker"] == 1.0 and scores["random-answer"] < 0.35
    memory = evaluate_agents(["fifo", "salience", "oracle"], "memgym/ColourCubes-Medium-v0",
                             episodes=10)
    scores = {k: v["qa_score"] for k, v in memory["agents"].items()}
    assert scores["oracle"] == 1.0 and scores["salience"] == 1.0 and scores["fifo"] < 0.6
    with pytest.raises(ValueError, match="n_questions"):
        ColourCubesTask(length=4, n_cubes=3, n_questions=5)


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_configs_validate(path: Path) -> None:
    from memgym.training.sb3 import validate

    config = load_config(path)
    validate(config)
    assert config.env.id.startswith("memgym/TMaze-Fixed")
    uniform = load_config(path, [f"env.id={config.env.id.replace('Fixed', 'Uniform')}"])
    assert uniform.env.id in gym.registry


def test_four_configs_cover_the_comparison() -> None:
    combos = {(load_config(p).env.id.endswith("Memoryless-v0"), load_config(p).algo.name)
              for p in CONFIGS}
    assert combos == {(True, "PPO"), (True, "RecurrentPPO"), (False, "PPO"),
                      (False, "RecurrentPPO")}


@pytest.mark.slow
def test_benchmark_script_runs(tmp_path: Path) -> None:
    script = ROOT / "benchmarks" / "recipes" / "memory_rewriting.py"
    subprocess.run([sys.executable, str(script), "--minutes", "0.2", "--steps", "2048",
                    "--episodes", "4", "--regimes", "Fixed", "--out", str(tmp_path / "runs"),
                    "--results", str(tmp_path)], check=True, cwd=tmp_path, timeout=600)
    result = json.loads((tmp_path / "memory_rewriting.json").read_text())
    assert {(r["setting"], r["policy"]) for r in result["runs"]} == {
        ("memoryless", "MLP"), ("memoryless", "LSTM"), ("memory", "MLP"), ("memory", "LSTM")}
    assert result["scripted"]["Fixed"]["cue-tracker"] == 1.0
    assert "memoryless_lstm_minus_mlp" in result["effects"]["Fixed"]
    assert (tmp_path / "memory_rewriting.md").read_text().count("\n") > 5
