"""`make bench`: every benchmark script runs with a tiny budget and writes its results."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_make_bench_runs_every_script_then_the_summary() -> None:
    out = subprocess.run(["make", "-n", "bench"], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout
    ran = re.findall(r"python benchmarks/(\w+)\.py", out)
    # the hour-long SmolLM2 benchmarks have their own target
    llm_scripts = ["llm_grpo", "llm_chunked"]
    expected = sorted(p.stem for p in BENCH.glob("*.py") if p.stem not in llm_scripts)
    assert sorted(ran) == expected and ran[-1] == "summary"
    llm = subprocess.run(["make", "-n", "bench-llm"], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout
    assert re.findall(r"python benchmarks/(\w+)\.py", llm) == llm_scripts


def test_env_throughput_tiny(tmp_path: Path) -> None:
    result = load("env_throughput").main(["--seconds", "0.05", "--num-envs", "4",
                                          "--env", "memgym/KVUpdates-Easy-v0",
                                          "--ceiling-length", "60", "--pool", "3",
                                          "--results", str(tmp_path)])
    row = result["rows"][0]
    assert row["steps_per_s"] > 0 and row["vector_steps_per_s"] > 0
    assert row["pool"] == 3 and row["pool_ratio"] > 0 and row["pool_vector_ratio"] > 0
    assert row["pool_reader_free_vector_ratio"] > 0
    assert row["ceiling_ratio"] > 0 and row["ceiling_vector_ratio"] > 0
    assert row["bytes_per_env_single"] > 0 and row["bytes_per_env_vector"] > 0
    assert json.loads((tmp_path / "env_throughput.json").read_text())["rows"][0] == row
    assert "CartPoleVectorEnv x4" in (tmp_path / "env_throughput.md").read_text()


def test_scaling_tiny(tmp_path: Path) -> None:
    result = load("scaling").main(["--tiny", "--results", str(tmp_path)])
    axes = [(r["axis"], r["slots"], r["length"]) for r in result["rows"]]
    assert axes == [("capacity", 8, 40), ("capacity", 64, 40), ("length", 8, 100),
                    ("length", 8, 300)]
    assert all(r["vector_us_per_step"] > 0 and r["single_reset_us_per_chunk"] > 0
               for r in result["rows"])


def test_reader_cost_tiny(tmp_path: Path) -> None:
    result = load("reader_cost").main(["--repeats", "1", "--sizes", "6", "--readers", "bm25",
                                       "--results", str(tmp_path)])
    (row,) = result["rows"]
    assert row["ms_per_question"] > 0 and row["questions"] >= 1 and row["vs_bm25"] == 1.0


def test_summary_reads_the_json_and_flags_targets(tmp_path: Path) -> None:
    (tmp_path / "sb3_fps.json").write_text(json.dumps({"rows": [
        {"vec_env": "dummy", "memgym_fps": 1.0, "ratio": 0.5},
        {"vec_env": "vector_entry_point", "memgym_fps": 2.0, "ratio": 0.9},
        {"vec_env": "bound: zero-cost env", "memgym_fps": 3.0, "ratio": 0.95, "reference": True}]}))
    (tmp_path / "sb3_fps.md").write_text("| table |")
    text = load("summary").main(["--results", str(tmp_path)])
    assert "| SB3 PPO fps / CartPole, vec_env=dummy | 0.500 | >= 0.8 | NO |" in text
    assert "vec_env=vector_entry_point | 0.900 | >= 0.8 | yes |" in text
    assert "zero-cost" not in text.split("## ")[0]  # a bound, not a target row
    assert "Not run" in text and "env_throughput" in text
    assert (tmp_path / "SUMMARY.md").read_text() == text


@pytest.mark.slow
def test_sb3_fps_tiny(tmp_path: Path) -> None:
    result = load("sb3_fps").main(["--seconds", "0.2", "--warmup", "256",
                                   "--results", str(tmp_path)])
    assert result["cartpole_fps"] > 0 and all(r["memgym_fps"] > 0 for r in result["rows"])
    assert [r.get("reference", False) for r in result["rows"]] == [False, False, False, True]


@pytest.mark.slow
def test_learning_fps_only_tiny(tmp_path: Path) -> None:
    load("learning").main(["--tasks", "--fps-seconds", "0.2", "--results", str(tmp_path)])
    result = json.loads((tmp_path / "learning.json").read_text())
    assert result["tasks"] == [] and result["sb3_fps"]["ratio"] > 0


@pytest.mark.slow
def test_rllib_sampling_tiny(tmp_path: Path) -> None:
    pytest.importorskip("ray.rllib")
    load("rllib_sampling").main(["--skip-runs", "--sample-seconds", "0.5", "--sample-steps",
                                 "64", "--results", str(tmp_path)])
    result = json.loads((tmp_path / "rllib_sampling.json").read_text())
    assert result["sampling"][0]["sample_fps"] > 0


def test_serve_load_tiny(tmp_path: Path) -> None:
    pytest.importorskip("openenv")
    result = load("serve_load").main(["--clients", "2", "--episodes", "1", "--rounds", "2",
                                      "--length", "8", "--out", str(tmp_path / "serve_load")])
    assert result["episodes"] == result["expected_episodes"] == 6
    assert result["mismatched_episodes"] == 0 and result["server_alive"]
    assert result["malformed"].get("4xx", 0) > 0
    assert not any(k.startswith("other") for k in result["malformed"])  # no 5xx, no 2xx
    assert (tmp_path / "serve_load.md").read_text().startswith("# memgym serve load test")


def test_time_to_oracle_tiny(tmp_path: Path) -> None:
    result = load("time_to_oracle").main([
        "--seeds", "0", "--minutes", "0.05", "--every", "2048", "--episodes", "2",
        "--settings", "pointer", "--out", str(tmp_path / "runs"), "--results", str(tmp_path)])
    run = result["settings"]["pointer"][0]
    assert run["steps_trained"] >= 2048 and run["val"]  # checkpoints were scored on val
    steps = [s for s, _, _ in run["val"]]
    assert steps == sorted(steps) and all(0 <= qa <= 1 for _, qa, _ in run["val"])
    for hit in run["reached"].values():  # a target reached is one of the scored checkpoints
        assert hit["steps"] in steps and 0 <= hit["heldout_qa"] <= 1
    assert "default (slot pointer, 1 prefetch worker)" in (tmp_path / "time_to_oracle.md").read_text()


def test_text_env_fps_tiny(tmp_path: Path) -> None:
    result = load("text_env_fps").main([
        "--seconds", "0.2", "--pool", "2", "--warmup", "64", "--results", str(tmp_path),
        "--set", "env.options.length=24", "--set", "env.kwargs.tiers.episodic.entries=8",
        "--set", "algo.n_envs=2", "--set", "algo.hyperparams.n_steps=16",
        "--set", "algo.hyperparams.batch_size=32", "--set", "algo.hyperparams.n_epochs=1"])
    assert [r["measure"] for r in result["rows"]] == [
        "env steps/s, random valid actions", "MaskablePPO training fps (the config)"]
    assert all(r["single_envs"] > 0 and r["batched"] > 0 for r in result["rows"])
    assert "vector_entry_point" in (tmp_path / "text_env_fps.md").read_text()
