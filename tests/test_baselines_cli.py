"""Baselines order as they should, the CLI reports, the custom-task example runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from memgym.agents.evaluate import evaluate_agents, expand_agent_names
from memgym.cli import app

from conftest import ROOT, load_example

runner = CliRunner()


@pytest.mark.parametrize("task", ["KVUpdates", "Needle", "Dialogue", "MultiHop"])
def test_oracle_beats_fifo_beats_random_on_medium_tasks(task: str) -> None:
    report = evaluate_agents(["random", "fifo", "oracle"], f"memgym/{task}-Medium-v0",
                             split="heldout", episodes=60, seed=0)
    score = {name: s["qa_score"] for name, s in report["agents"].items()}
    assert score["oracle"] >= 0.95
    assert score["oracle"] - score["fifo"] >= 0.4
    assert score["fifo"] <= 0.5 * score["oracle"]
    assert score["oracle"] - score["random"] >= 0.4
    # FIFO is no better than random replacement on these tasks: the evidence is spread over a
    # stream 7-10x the memory, and FIFO's window holds only the last chunks (measured over 60
    # held-out episodes: KV 0.081 vs 0.083, Needle 0.071 vs 0.071, MultiHop 0.022 vs 0.017,
    # Dialogue 0.175 vs 0.219). An earlier FIFO that aged slots by creation, not by last
    # write, kept the first chunks and scored 0.139 on KV: that was a bug, not recency.
    assert abs(score["fifo"] - score["random"]) <= 0.1


def test_fifo_keeps_the_most_recent_chunks() -> None:
    import gymnasium as gym

    from memgym.agents.baselines import FIFOAgent

    env = gym.make("memgym/KVUpdates-Medium-v0").unwrapped
    obs, info = env.reset(seed=0, options={"split": "heldout", "episode_seed": 0})
    agent = FIFOAgent()
    agent.reset(env, seed=0)
    done = False
    while not done and env.core.view.kind == "chunk":
        obs, _, done, _, info = env.step(agent.act(obs, info, env))
    sources = sorted(entry.source for entry in env.core.store.entries.values())
    capacity = env.core.entry_capacity
    assert len(sources) == capacity
    chunk_ids = [chunk.id for chunk in env.core.episode.chunks]
    assert sources == sorted(chunk_ids[-capacity:])  # exactly the last chunks are held


def test_salience_heuristic_sits_between_fifo_and_oracle() -> None:
    report = evaluate_agents(["fifo", "salience", "oracle"], "memgym/KVUpdates-Medium-v0",
                             episodes=20)
    s = {name: v["qa_score"] for name, v in report["agents"].items()}
    assert s["fifo"] < s["salience"] < s["oracle"]


def test_report_is_deterministic_and_seeds_matter() -> None:
    def run(seed: int) -> str:
        report = evaluate_agents(["random", "oracle"], "memgym/Needle-Easy-v0", episodes=5,
                                 seed=seed)
        return json.dumps(report, sort_keys=True)

    assert run(0) == run(0)
    assert run(0) != run(1)


def test_progress_counts_chunks_within_episodes_and_the_report_is_unchanged() -> None:
    calls: list[tuple[str, float, str]] = []
    report = evaluate_agents(["fifo"], "memgym/Needle-Easy-v0", episodes=2,
                             progress=lambda label, done, note: calls.append((label, done, note)))
    done = [d for _, d, _ in calls]
    assert done == sorted(done) and done[-1] == 2  # never runs backwards, ends at the count
    within = [(d, note) for d, note in zip(done, [n for *_, n in calls]) if 0 < d < 1]
    assert within and all(note.startswith("chunk ") for _, note in within)
    assert any(d != int(d) for d in done)  # fractions: the bar moves inside an episode
    assert json.dumps(report, sort_keys=True) == json.dumps(
        evaluate_agents(["fifo"], "memgym/Needle-Easy-v0", episodes=2), sort_keys=True)


def test_expand_agent_names() -> None:
    assert expand_agent_names(["fifo,oracle", "fifo"]) == ["fifo", "oracle"]
    assert expand_agent_names(["all"])[0] == "random" and "oracle" in expand_agent_names(["all"])


def test_cli_list_shows_ids_with_descriptions() -> None:
    result = runner.invoke(app, ["list"])
    assert result.exit_code == 0
    assert "memgym/KVUpdates-Medium-v0" in result.output
    assert "memgym/Dialogue-Hard-Text-v0" in result.output


def test_cli_eval_writes_report_json_markdown_and_plot(tmp_path: Path) -> None:
    out = tmp_path / "report"
    result = runner.invoke(app, ["eval", "--agent", "fifo,oracle", "--env",
                                 "memgym/KVUpdates-Easy-v0", "--episodes", "4", "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert set(report["agents"]) == {"fifo", "oracle"}
    assert report["agents"]["oracle"]["oracle_ratio"] == 1.0
    assert "per_kind" in report["agents"]["fifo"]
    assert "| oracle |" in (out / "report.md").read_text()
    assert (out / "report.png").read_bytes()[:4] == b"\x89PNG"
    first = (out / "report.json").read_bytes()
    runner.invoke(app, ["eval", "--agent", "fifo,oracle", "--env", "memgym/KVUpdates-Easy-v0",
                        "--episodes", "4", "--out", str(out)])
    assert (out / "report.json").read_bytes() == first


@pytest.mark.parametrize("args, message", [
    (["--env", "memgym/Nope-v0"], "unknown env id"),
    (["--agent", "telepathy"], "telepathy"),
    (["--split", "test"], "--split 'test'"),
    (["--option", "length"], "expected KEY=VALUE"),
    (["--option", "colour=blue"], "colour"),
    (["--env-arg", "tiers={episodic: {entries: 0}}"], "entries must be >= 1"),
])
def test_cli_user_errors_exit_2_with_a_clear_message(args: list[str], message: str) -> None:
    result = runner.invoke(app, ["eval", "--episodes", "1", *args])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_custom_task_example_registers_and_evaluates() -> None:
    module = load_example("custom_task")
    import gymnasium as gym

    env = gym.make("examples/PhoneBook-v0")
    env.reset(seed=0)
    report = evaluate_agents(["fifo", "oracle"], "examples/PhoneBook-v0", episodes=5)
    assert report["agents"]["oracle"]["qa_score"] == 1.0
    assert isinstance(env.unwrapped.task, module.PhoneBookTask)
    assert "examples/PhoneBook-Text-v0" in gym.registry


def test_custom_task_example_runs_as_a_script() -> None:
    result = subprocess.run([sys.executable, str(ROOT / "examples" / "custom_task.py")],
                            capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert "oracle: QA 1.00" in result.stdout


def test_embedding_reader_backend_runs_in_the_env() -> None:
    report = evaluate_agents(["oracle"], "memgym/KVUpdates-Easy-v0", episodes=3,
                             env_kwargs={"reader": "embedding"})
    assert report["agents"]["oracle"]["qa_score"] >= 0.9


def test_operation_diagnostics_separate_the_baselines() -> None:
    report = evaluate_agents(["keep", "fifo", "oracle"], "memgym/KVUpdates-Medium-v0", episodes=10)
    diag = {name: s["diagnostics"] for name, s in report["agents"].items()}
    assert diag["oracle"] == {"extraction_recall": 1.0, "final_retention": 1.0,
                              "stale_fact_rate": 0.0, "wrong_delete_rate": None,
                              "planted_stored_rate": None, "obey_rate": None}
    assert diag["fifo"]["extraction_recall"] == 1.0  # stores everything ...
    assert diag["fifo"]["final_retention"] < 0.5  # ... and overwrites most of it
    assert diag["fifo"]["wrong_delete_rate"] > 0
    assert diag["keep"]["extraction_recall"] < 0.5 and diag["keep"]["wrong_delete_rate"] is None


def test_reports_carry_action_success_and_format_rates() -> None:
    report = evaluate_agents(["random", "oracle"], "memgym/KVUpdates-Easy-v0", episodes=3)
    for summary in report["agents"].values():
        assert summary["format_valid_rate"] == 1.0  # the structured interface cannot be malformed
        assert summary["action_success_rate"] == 1.0  # masked baselines only take valid actions


def test_llm_and_baselines_in_one_report_on_the_same_episodes() -> None:
    """Baselines named with an LLM on a text id play its structured twin, same episodes."""
    from memgym.agents.evaluate import evaluate_agents
    from memgym.loading import load_agent

    text_id, struct_id = "memgym/KVUpdates-Easy-Text-v0", "memgym/KVUpdates-Easy-v0"
    mixed = evaluate_agents(["llm:tiny", "fifo", "oracle"], text_id, episodes=1,
                            options={"length": 12}, load=load_agent)
    assert mixed["interfaces"] == {"llm:tiny": text_id, "fifo": struct_id, "oracle": struct_id}
    alone = evaluate_agents(["fifo", "oracle"], struct_id, episodes=1, options={"length": 12})
    for name in ("fifo", "oracle"):
        assert mixed["details"][name] == alone["details"][name]
    assert "llm:tiny" in mixed["agents"] and "interfaces" not in alone
    result = runner.invoke(app, ["eval", "--agent", "llm:tiny,fifo", "--env", text_id,
                                 "--episodes", "1", "--length", "12"])
    assert result.exit_code == 0, result.output
    assert f"fifo on {struct_id}" in result.output
