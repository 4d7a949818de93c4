"""Selective recall recipe: the grammar task, its knobs, the distractor sweep, config, script."""

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
from memgym.episode import Chunk, Episode, Question
from memgym.facts import extract_fact, is_hedged
from memgym.recipes.distractor_sweep import distractor_sweep, slope, sweep
from memgym.tasks.selective_recall import (
    COMMIT_MARKERS, VOID_MARKERS, SelectiveRecallTask, expand,
)
from memgym.training import load_config

ROOT = Path(__file__).resolve().parents[1]
TASK = SelectiveRecallTask()


def test_ids_registered_and_env_checks() -> None:
    for level in ("Easy", "Medium", "Hard"):
        for tag in ("", "-Text"):
            assert f"memgym/SelectiveRecall-{level}{tag}-v0" in memgym.REGISTRY
    env = gym.make("memgym/SelectiveRecall-Hard-v0")
    check_env(env.unwrapped, skip_render_check=True)
    obs, info = env.reset(seed=2)
    rng, done = np.random.default_rng(1), False
    while not done:
        obs, reward, done, truncated, info = env.step(
            int(rng.choice(np.flatnonzero(info["action_mask"]))))
        assert env.observation_space.contains(obs) and np.isfinite(reward)
    assert 0.0 <= info["qa_score"] <= 1.0


def test_grammar_productions() -> None:
    rng = np.random.default_rng(0)
    fill = {"$COMMIT": ["Commit:"], "$VOID": list(VOID_MARKERS), "$HEDGE": ["Allegedly,"],
            "$NOISE": ["Tick."], "$ANY": ["dovu", "mabo", "tire"], "$REG": "Register K4",
            "$SYM": "dovu"}
    item = expand("ITEM", rng, fill)
    assert item == "Commit: Register K4's symbol is dovu."
    fact = extract_fact(item)
    assert (fact.subject, fact.attribute, fact.value) == ("Register K4", "symbol", "dovu")
    seen = {"fact_hedged": 0, "fact_plain": 0, "no_fact": 0}
    for _ in range(60):
        text = expand("DISTRACTOR", rng, fill)
        if extract_fact(text) is None:
            seen["no_fact"] += 1
            assert text.startswith(("Noise burst:", "Garbled:"))
        elif is_hedged(text):
            seen["fact_hedged"] += 1
        else:
            seen["fact_plain"] += 1
            assert text.startswith(VOID_MARKERS)  # unhedged lures carry a "not stored" marker
    assert all(n > 5 for n in seen.values())  # all three distractor productions occur
    assert expand("NOISE", rng, fill) == "Tick."


def test_distractor_rate_knob() -> None:
    for rate, check in ((0.0, lambda d, f: d == 0), (1.0, lambda d, f: d == f)):
        for seed in range(5):
            ep = TASK.episode(seed, "train", distractor_rate=rate)
            fillers = len(ep.chunks) - len(ep.labels["facts"])
            assert check(len(ep.labels["distractors"]), fillers)
    mid = [len(TASK.episode(s, "train", distractor_rate=0.5).labels["distractors"])
           for s in range(30)]
    low = [len(TASK.episode(s, "train", distractor_rate=0.2).labels["distractors"])
           for s in range(30)]
    assert np.mean(mid) > np.mean(low)


def gaps(ep: Episode) -> list[int]:
    at = [-1, *ep.labels["facts"]]
    return [b - a - 1 for a, b in zip(at, at[1:])]


def test_gap_distributions() -> None:
    fixed = TASK.episode(0, "train", gap="fixed", mean_gap=3.0)
    assert gaps(fixed) == [3, 3, 3, 3] and len(fixed.chunks) == 4 * 4 + 3
    uniform = [g for s in range(40) for g in gaps(TASK.episode(s, "train", gap="uniform",
                                                               mean_gap=4.0))]
    assert min(uniform) >= 0 and max(uniform) <= 8 and len(set(uniform)) >= 7
    geometric = [g for s in range(200) for g in gaps(TASK.episode(s, "train", gap="geometric",
                                                                  mean_gap=4.0))]
    assert 3.4 < np.mean(geometric) < 4.6 and max(geometric) > 10  # long tail


def test_vocab_size_and_items() -> None:
    ep = TASK.episode(4, "train", vocab_size=5, n_items=5, distractor_rate=1.0, mean_gap=8.0)
    values = {extract_fact(c.text).value for c in ep.chunks if extract_fact(c.text)}
    assert len(values) <= 5 and len(ep.questions) == 5
    for q in ep.questions:
        assert ep.chunks[q.evidence[0]].text.endswith(f"symbol is {q.answers[0]}.")
        for c in q.conflicting:  # lures about the same register, never the true symbol
            fact = extract_fact(ep.chunks[c].text)
            assert fact.subject in q.text and fact.value != q.answers[0]


def test_splits_disjoint_and_deterministic() -> None:
    def surface(split: str) -> set[str]:
        out = set()
        for seed in range(20):
            for c in TASK.episode(seed, split).chunks:
                fact = extract_fact(c.text)
                if fact is not None:
                    out |= {fact.subject, fact.value}
        return out
    assert not surface("train") & surface("heldout")
    assert TASK.episode(9, "val").to_json() == SelectiveRecallTask().episode(9, "val").to_json()
    assert len(set(COMMIT_MARKERS)) == len(COMMIT_MARKERS)


def test_kept_lure_makes_the_answer_ambiguous() -> None:
    """Hand-built: committing the item and skipping the lure answers; keeping the "not stored"
    lure beside it gives an ambiguous answer (EM 0)."""
    texts = ["Commit: Register K4's symbol is dovu.",
             "Cancelled write: Register K4's symbol is mabo.", "Tick."]
    question = Question("What is Register K4's symbol?", ("dovu",), (0,), "lookup", None, (1,))
    ep = Episode(tuple(Chunk(i, t) for i, t in enumerate(texts)), (question,))
    env = gym.make("memgym/SelectiveRecall-Medium-v0")
    for second, expected in (("noop", 1.0), ("add->episodic", 0.0)):
        env.reset(options={"episode": ep})
        names = env.unwrapped.action_names
        for name in ("add->episodic", second, "noop"):
            *_, done, _, info = env.step(names.index(name))
        assert done and info["qa_score"] == expected


def test_distractor_rate_effect_is_measured() -> None:
    scores = distractor_sweep(["salience", "oracle"], [0.0, 0.8], episodes=8)
    assert scores["oracle"] == {"0": 1.0, "0.8": 1.0}
    assert scores["salience"]["0"] > scores["salience"]["0.8"]  # unhedged lures fool it
    assert slope(scores["salience"]) < 0 and slope(scores["oracle"]) == pytest.approx(0.0)
    with pytest.raises(ValueError, match="rates"):
        distractor_sweep(["oracle"], [])
    by_gap = sweep(["oracle"], "gap", ["fixed", "geometric"], episodes=2)
    assert by_gap == {"oracle": {"fixed": 1.0, "geometric": 1.0}}


def test_bad_params() -> None:
    with pytest.raises(ValueError, match="gap"):
        SelectiveRecallTask(gap="zipf")
    with pytest.raises(ValueError, match="vocab_size"):
        SelectiveRecallTask(n_items=6, vocab_size=4)
    with pytest.raises(ValueError, match="distractor_rate"):
        TASK.episode(0, "train", distractor_rate=1.5)
    with pytest.raises(ValueError, match="unknown parameter"):
        TASK.episode(0, "train", distractors=0.5)


def test_config_validates() -> None:
    from memgym.training.sb3 import validate

    config = load_config(ROOT / "configs" / "recipes" / "selective_recall.yaml")
    validate(config)
    assert config.env.id == "memgym/SelectiveRecall-Medium-v0"
    assert config.algo.name == "MaskablePPO"


@pytest.mark.slow
def test_benchmark_script_runs(tmp_path: Path) -> None:
    script = ROOT / "benchmarks" / "recipes" / "selective_recall.py"
    subprocess.run([sys.executable, str(script), "--minutes", "0.2", "--steps", "2048",
                    "--episodes", "3", "--knob-episodes", "2", "--rates", "0", "0.8",
                    "--out", str(tmp_path / "runs"),
                    "--results", str(tmp_path)], check=True, cwd=tmp_path, timeout=600)
    result = json.loads((tmp_path / "selective_recall.json").read_text())
    assert set(result["scores"]) == {"MaskablePPO", "random", "fifo", "lru", "salience", "oracle"}
    assert result["scores"]["oracle"] == {"0": 1.0, "0.8": 1.0}
    assert "slope" in (tmp_path / "selective_recall.md").read_text()
    assert set(result["knobs"]["gap"]["oracle"]) == {"fixed", "uniform", "geometric"}
