"""Memory-R1's managers on LoCoMo (benchmarks/recipes/memory_r1_locomo.py): Memory-R1's layout
over a LoCoMo-format file has MemoryR1-v0's spaces, and the script runs end to end on a tiny
fixture of its own."""

from __future__ import annotations

import json
from pathlib import Path

import gymnasium as gym
import pytest

import memgym  # noqa: F401  (registers the environments)

from recipe_checks import ROOT, load_benchmark_script, locomo_conversation, run_benchmark_script

@pytest.fixture
def data_path(tmp_path: Path) -> Path:
    path = tmp_path / "locomo-mini.json"
    path.write_text(json.dumps([locomo_conversation(i) for i in range(5)]))
    return path


def script():
    return load_benchmark_script("memory_r1_locomo")


def test_memory_r1_layout_over_locomo_has_memory_r1_spaces(data_path: Path) -> None:
    bench = script()
    env = bench.r1_env(bench.r1_layout_kwargs(str(data_path)))
    match = bench.spaces_match(gym.make("memgym/MemoryR1-v0"), env)
    assert match["observation_space"] and match["action_space"] and match["action_names"]
    assert match["slots"] == [6, 6] and match["features"] == ["parser", "parser"]
    wide = bench.r1_env(bench.r1_layout_kwargs(str(data_path), features="embedding",
                                               entries=128))
    assert not bench.spaces_match(gym.make("memgym/MemoryR1-v0"), wide)["observation_space"]


@pytest.mark.slow
def test_memory_r1_locomo_script_runs_small(data_path: Path, tmp_path: Path) -> None:
    data = run_benchmark_script("memory_r1_locomo", [
        "--data", str(data_path), "--r1-steps", "1024", "--r1-locomo-steps", "1024",
        "--locomo-steps", "2048", "--eval-freq", "1024", "--home-episodes", "4",
        "--entries", "8", "--out", str(tmp_path / "runs"), "--results", str(tmp_path)],
        tmp_path, timeout=900)
    a, b = data["tables"]["A"], data["tables"]["B"]
    assert data["transfer"]["observation_space"] and data["pool_qa_pairs"] == 156
    assert {"heuristic (overwrite, vanilla)", "salience", "add_only (mem0-style)", "fifo",
            "oracle"} <= set(a) & set(b)
    assert any(name.startswith("PPO on 26 generated streams") for name in a)
    assert any(name.startswith("locomo-small") for name in b)
    assert a["oracle"]["evidence_retention"] >= a["fifo"]["evidence_retention"]
    assert set(a["oracle"]["per_kind"]) == {"single-hop", "temporal"}
    # the fixture's fact turns parse: the overwrite heuristic stores them
    assert data["parser_reach"]["locomo"]["turns_with_a_parsed_fact"] == 4
    assert a["heuristic (overwrite, vanilla)"]["ops_per_episode"].get("add", 0) >= 1
    assert set(data["training"]) == {"memory_r1-locomo-pool", "memory_r1-locomo-indomain",
                                     "locomo-small"}
    assert (tmp_path / "memory_r1_locomo.md").read_text().startswith("# Memory-R1's managers")
