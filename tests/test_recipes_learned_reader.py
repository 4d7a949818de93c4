"""The learned reader benchmark (benchmarks/recipes/learned_reader.py): its player and table on
the selection baselines, and the script end to end on a tiny budget (slow)."""

from __future__ import annotations

import json
from pathlib import Path

import gymnasium as gym
import pytest

import memgym  # noqa: F401  (registers the environments)
from memgym.agents.baselines import BASELINES

from recipe_checks import load_benchmark_script, locomo_conversation, run_benchmark_script


def test_play_reports_qa_recall_and_entries_passed() -> None:
    bench = load_benchmark_script("learned_reader")
    kwargs = dict(gym.spec(bench.STREAMS["Dialogue"]).kwargs)
    top_k = bench.play(kwargs, BASELINES["select_top_k"](), range(2))
    none = bench.play(kwargs, BASELINES["select_none"](), range(2))
    oracle = bench.play(kwargs, BASELINES["select_oracle"](), range(2))
    budget = bench.play(kwargs, BASELINES["select_budget"](), range(2))
    # every question has at least the budget's candidates in a 16-entry memory
    assert top_k["passed"] == 3 and budget["passed"] == kwargs["budget"] == 4
    assert none["passed"] == 0
    assert none["qa"] == 0.0 and none["selection_recall"] == 0.0
    # the oracle passes only evidence: no more entries than top-k, at least its recall
    assert oracle["passed"] <= top_k["passed"]
    assert oracle["selection_recall"] >= top_k["selection_recall"]
    assert oracle["qa"] >= top_k["qa"] and top_k["questions"] == oracle["questions"] > 0
    text = bench.markdown({"claim": "c", "steps": 1, "seed": 0, "episodes": 2,
                           "llm_episodes": 0, "train_seconds": {"Dialogue: learned": 1.0},
                           "streams": {"Dialogue": {"select_top_k": {"extractive": top_k}}}})
    assert f"| select_top_k | {top_k['qa']:.3f} ± " in text and text.endswith("| - | - | - |\n\n")


@pytest.mark.slow
def test_learned_reader_script_runs_small(tmp_path: Path) -> None:
    data_path = tmp_path / "locomo-mini.json"
    data_path.write_text(json.dumps([locomo_conversation(i) for i in range(5)]))
    data = run_benchmark_script("learned_reader", [
        "--steps", "512", "--minutes", "1", "--episodes", "2", "--llm-episodes", "0",
        "--data", str(data_path), "--locomo-entries", "8", "--out", str(tmp_path / "runs"),
        "--results", str(tmp_path)], tmp_path, timeout=900)
    dialogue = data["streams"]["Dialogue"]
    assert {"select_top_k", "select_oracle", "learned", "Memory-R1 answer agent", "MemSifter",
            "RMM"} <= set(dialogue)
    assert "learned" in data["streams"]["MultiHop"]
    assert set(data["streams"]["LoCoMo held-out"]) == {"select_top_k", "select_top_1",
                                                      "select_budget", "learned"}
    locomo = data["streams"]["LoCoMo held-out"]["select_top_k"]["extractive"]
    assert locomo["questions"] > 0 and locomo["passed"] <= 4
    assert (tmp_path / "learned_reader.md").read_text().startswith("# Learned reader")
