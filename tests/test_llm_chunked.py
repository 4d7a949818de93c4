"""Per-chunk LLM rollouts: the turn rules, the evaluation agent, the warm start's data and GRPO
over per-chunk turns (tiny random model; SmolLM2 only in benchmarks/llm_chunked.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import gymnasium as gym
import pytest

import memgym  # noqa: F401
from memgym.llm.chunked import (ChunkedEpisode, TurnCodec, memory_lines, parse_turn,
                                play_lockstep, turn_messages)
from memgym.llm.chunked_agent import ChunkedLLMAgent, Reply
from memgym.llm.teacher import play_teacher, teacher_call

ROOT = Path(__file__).resolve().parents[1]
TEXT_ID = "memgym/KVUpdates-Easy-Text-v0"
LONG = {"length": 64, "n_keys": 4}
PREFILL = '<tool_call>\n{"name": "'


def call(name: str, **arguments: Any) -> str:
    return f"<tool_call>{json.dumps({'name': name, 'arguments': arguments})}</tool_call>"


def episode(mode: str = "tools", seed: int = 3, **kwargs: Any) -> ChunkedEpisode:
    e = ChunkedEpisode(TEXT_ID, {"ops_per_chunk": 2, **kwargs}, write_mode=mode)
    e.reset(episode_seed=seed, options=LONG, split="heldout")
    return e


# -- the turn rules ---------------------------------------------------------------------------
def test_teacher_replies_per_chunk_score_what_the_teacher_scores_in_one_conversation() -> None:
    e = episode()
    tools = set(e.env.tools)
    acted: int | None = None
    while not e.done:
        name, arguments = teacher_call(e.env.core, tools, acted)
        acted = e.env.core.view.source
        e.apply(call(name, **arguments))
    env = gym.make(TEXT_ID, ops_per_chunk=2).unwrapped
    _, teacher_qa = play_teacher(env, "", split="heldout", seed=3, options=LONG)
    terms = e.rollout_terms
    assert terms["turns"] == 64 and terms["format"] == 1.0
    assert terms["qa"] == pytest.approx(teacher_qa) and teacher_qa > 0.5


def test_a_turn_ends_when_its_view_changes_and_the_stream_always_moves_on() -> None:
    e = episode()
    e.apply(call("next_chunk") + call("add_memory"))  # the add was written for chunk 0
    assert len(e.env.core.store.entries) == 0 and e.env.core.cursor == 1
    record = e.apply(call("add_memory"))  # one call, then next_chunk moves on by itself
    assert record.ok_calls == 1 and e.env.core.cursor == 2 and len(e.env.core.store.entries) == 1
    bad = e.apply("I think I will keep this one")
    assert (bad.calls, bad.ok_calls, bad.well_formed) == (1, 0, False)
    assert e.env.core.cursor == 3 and e.env.core.invalid_count == 1
    assert parse_turn(call("add_memory") + "<tool_call>{oops")[1] is False


def test_prompts_stay_bounded_on_a_long_stream() -> None:
    from memgym.llm.models import load_tokenizer, tokenizer_path

    tokenizer = load_tokenizer(tokenizer_path(), force_tool_calls=True)
    codec = TurnCodec(tokenizer)
    episodes = [episode() for _ in range(2)]
    reply = tokenizer.encode('add_memory", "arguments": {}}\n</tool_call>') + [tokenizer.eos_token_id]

    def generate(prompts: list[list[int]]) -> tuple[list[list[int]], None, list[bool]]:
        return [list(reply) for _ in prompts], None, [False] * len(prompts)

    samples = play_lockstep(episodes, codec, generate, max_prompt_tokens=400)
    lengths = [len(s.prompt_ids) for s in samples]
    assert len(samples) == 128 and max(lengths) <= 400
    assert max(lengths) - min(lengths) < 120  # memory full after 4 turns: no growth after
    assert all(s.completion_ids == reply for s in samples)
    with pytest.raises(ValueError, match="max_prompt_tokens=100"):
        play_lockstep([episode()], codec, generate, max_prompt_tokens=100)


def test_rewrite_mode_keeps_repeated_lines_and_charges_lines_that_do_not_fit() -> None:
    e = episode("rewrite")
    assert "ops_per_chunk" not in turn_messages(e.env, "rewrite")[0]["content"]
    e.apply("- alpha\n- beta\nbeta\n")
    store = e.env.core.store
    first = {x.text: x.id for x in store.entries.values()}
    assert set(first) == {"alpha", "beta"}
    e.apply("beta\ngamma")  # KVUpdates has no delete: alpha's entry is overwritten
    second = {x.text: x.id for x in store.entries.values()}
    assert second == {"beta": first["beta"], "gamma": first["alpha"]}
    deleting = episode("rewrite", ops=["noop", "add", "delete"])
    deleting.apply("alpha\nbeta")
    deleting.apply("beta")
    assert [x.text for x in deleting.env.core.store.entries.values()] == ["beta"]
    record = e.apply("\n".join(f"line {i}" for i in range(7)))  # capacity is 4 entries
    assert len(store.entries) == 4 and record.ok_calls == record.calls - 3
    assert memory_lines("[3] x\n* y\n\n") == ["x", "y"]


# -- the evaluation agent plays what training plays ---------------------------------------------
def _scripted(mode: str) -> Any:
    def complete(messages: list[dict[str, Any]], tool_names: list[str] | None = None) -> Reply:
        text = messages[-1]["content"]
        chunk = text.split("\n")[-2] if mode == "rewrite" else text
        if mode == "rewrite":
            memory = text.split("## Memory\n", 1)[1].split("\n## ", 1)[0]
            kept = [] if memory == "(empty)" else memory.split("\n")[-3:]
            return Reply("\n".join([*kept, chunk]), len(text), False)
        return Reply('add_memory", "arguments": {}}</tool_call>' if "hobby" in text
                     else 'next_chunk", "arguments": {}}</tool_call>', len(text), False)
    return complete


@pytest.mark.parametrize("mode", ["tools", "rewrite"])
def test_the_agent_and_a_training_rollout_play_the_same_turns(mode: str) -> None:
    from memgym.agents.evaluate import evaluate_agents
    from memgym.llm.chunked import mode_env_kwargs

    complete = _scripted(mode)
    prefill = PREFILL if mode == "tools" else ""
    agent = ChunkedLLMAgent(complete, name="scripted", write_mode=mode, prefill=prefill)
    kwargs = mode_env_kwargs({"ops_per_chunk": 2}, mode)
    report = evaluate_agents([agent], TEXT_ID, split="heldout", episodes=1, seed=5,
                             env_kwargs=kwargs, options=LONG)
    summary = report["agents"]["scripted"]
    e = ChunkedEpisode(TEXT_ID, {"ops_per_chunk": 2}, write_mode=mode, prefill=prefill)
    e.reset(episode_seed=5, options=LONG, split="heldout")
    while not e.done:
        e.apply(complete(e.messages()).text)
    assert summary["agent_stats"]["turns"] == 64 == e.rollout_terms["turns"]
    assert summary["qa_score"] == pytest.approx(e.rollout_terms["qa"])
    assert summary["memory_tokens"] == e.env.core.store.total_tokens() > 0


def test_a_rewrite_agent_refuses_an_env_that_cannot_apply_a_rewrite() -> None:
    env = gym.make(TEXT_ID, ops_per_chunk=2)
    with pytest.raises(ValueError, match="ops_per_chunk"):
        ChunkedLLMAgent(_scripted("rewrite"), write_mode="rewrite").reset(env)


def test_endpoint_agent_sends_one_bounded_request_per_turn(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from memgym.loading import load_agent

    proc = subprocess.Popen([sys.executable, str(ROOT / "tests" / "openai_stub_server.py"),
                             "--port", "0"], stdout=subprocess.PIPE, text=True)
    try:
        port = int(proc.stdout.readline().split()[1])
        monkeypatch.setenv("MEMGYM_ENDPOINT_URL", f"http://127.0.0.1:{port}/v1")
        agent = load_agent("endpoint:stub-model")
        from memgym.agents.evaluate import evaluate_agents

        report = evaluate_agents([agent], TEXT_ID, split="heldout", episodes=1,
                                 options={"length": 16, "n_keys": 2})
        import urllib.request

        stats = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/stats").read())
    finally:
        proc.kill()
    summary = report["agents"]["endpoint:stub-model"]
    assert stats["requests"] == summary["agent_stats"]["turns"] == 16
    assert all(u.count("## Chunk") == 1 for u in stats["users"])  # stateless: one chunk each


# -- the warm start's data ----------------------------------------------------------------------
def test_chunked_teacher_rows_train_only_the_reply() -> None:
    from memgym.llm.chunked_sft import chunked_teacher_dataset
    from memgym.llm.models import load_tokenizer, tokenizer_path
    from memgym.llm.sft import SFTSpec

    tokenizer = load_tokenizer(tokenizer_path(), force_tool_calls=True)
    rows, stats = chunked_teacher_dataset(TEXT_ID, {"ops_per_chunk": 2}, LONG, tokenizer, None,
                                          "tools", SFTSpec(episodes=1), describe_tools=True)
    assert stats["turns"] == len(rows) == 64 and stats["teacher_qa"] > 0.5
    trained = [tokenizer.decode([t for t, lab in zip(r["input_ids"], r["labels"]) if lab != -100])
               for r in rows]
    assert all("Chunk" not in t and t.split('"')[0] in {"add_memory", "update_memory",
                                                        "next_chunk"} for t in trained)
    assert max(len(r["input_ids"]) for r in rows) < 512


# -- config errors ------------------------------------------------------------------------------
@pytest.mark.parametrize("trl, message", [
    ({"write_mode": "rewrite"}, "only for trl.rollout: chunked"),
    ({"rollout": "chunked", "demonstration": 3}, "no worked example"),
    ({"rollout": "chunked", "write_mode": "pages"}, "write_mode"),
])
def test_chunked_config_errors(trl: dict[str, Any], message: str) -> None:
    from memgym.training.config import ConfigError, validate_config
    from memgym.training.trl_config import trl_spec

    config = validate_config({"name": "x", "backend": "trl", "total_timesteps": 1, "env": {"id": TEXT_ID}, "trl": trl})
    with pytest.raises(ConfigError, match=message):
        trl_spec(config)


def test_rewrite_needs_update_or_delete(tmp_path: Path) -> None:
    pytest.importorskip("trl")
    from memgym.training.config import ConfigError, validate_config
    from memgym.training.trl import validate

    config = validate_config({"name": "x", "backend": "trl", "total_timesteps": 1, "env": {
        "id": TEXT_ID, "kwargs": {"ops": ["noop", "add"]}},
        "trl": {"rollout": "chunked", "write_mode": "rewrite", "model": "tiny"}})
    with pytest.raises(ConfigError, match="update or delete"):
        validate(config)


# -- GRPO over per-chunk turns (tiny random model) ----------------------------------------------
@pytest.fixture
def tiny_trainer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    pytest.importorskip("trl")
    import torch

    from memgym.training import load_config
    from memgym.training.run import RunFolder
    from memgym.training.trl import build_trainer, trl_spec

    monkeypatch.setenv("MEMGYM_CACHE", str(tmp_path / "cache"))
    torch.set_num_threads(1)
    config = load_config(ROOT / "configs" / "llm_chunked_tiny.yaml",
                         [f"output_dir={tmp_path / 'runs'}", "env.options.length=8"])
    run = RunFolder.for_config(config)
    run.path.mkdir(parents=True)
    trainer, _ = build_trainer(config, run, trl_spec(config))
    return trainer


def test_the_rollout_advantage_is_broadcast_to_its_turns_token_exactly(tiny_trainer: Any) -> None:
    import torch

    trainer = tiny_trainer
    generated: list[list[int]] = []
    inner = trainer._generate_turns

    def record(prompts: list[list[int]]) -> Any:
        out = inner(prompts)
        generated.extend(out[0])
        return out

    trainer._generate_turns = record
    trainer._calculate_rewards = lambda rows, *a: torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    batch = next(iter(trainer.get_train_dataloader()))
    assert batch[0]["episode_seed"] == batch[1]["episode_seed"]  # one GRPO group
    trainer.model.train()
    out = trainer._generate_and_score_completions(batch)
    rows = out["completion_ids"].size(0)
    turns = len(generated)
    assert turns == 16 and rows % trainer.args.steps_per_generation == 0 and rows >= turns
    episodes = trainer._episodes[:2]
    assert [len(e.turns) for e in episodes] == [8, 8]
    adv = out["advantages"]
    assert sorted(set(adv[:turns].tolist())) == pytest.approx([-0.7071, 0.7071], abs=1e-3)
    assert (adv[:turns] > 0).sum() == 8 and adv[turns:].abs().sum() == 0
    for i, ids in enumerate(generated):  # trained on the generated ids, nothing re-tokenised
        mask = out["completion_mask"][i].bool()
        assert out["completion_ids"][i][mask].tolist() == ids[:int(mask.sum())]
    trainer.current_gradient_accumulation_steps = trainer.args.gradient_accumulation_steps
    loss = trainer._compute_loss(trainer.model, out)
    loss.backward()
    grads = [p.grad.abs().sum() for p in trainer.model.parameters() if p.grad is not None]
    assert grads and float(sum(grads)) > 0


def test_llm_chunked_tiny_trains_on_64_chunk_streams_with_bounded_prompts(tmp_path: Path) -> None:
    pytest.importorskip("trl")
    env = {**os.environ, "MEMGYM_CACHE": str(tmp_path / "cache"), "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "memgym.cli", "train", str(ROOT / "configs" / "llm_chunked_tiny.yaml"),
         "--set", f"output_dir={tmp_path}", "--no-progress"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    run = tmp_path / "llm-chunked-tiny"
    steps = [json.loads(line) for line in (run / "rollouts.jsonl").read_text().splitlines()]
    assert len(steps) == 2
    for step in steps:
        assert step["rollouts"] == 2 and step["turns"] == 128
        assert len(step["max_prompt_tokens_per_turn"]) == 64
        assert max(step["max_prompt_tokens_per_turn"]) <= 1024
    summary = json.loads((run / "summary.json").read_text())
    assert summary["training"]["steps"] == 2
    assert summary["training"]["turns"]["max_prompt_tokens"] <= 1024
    report = json.loads((run / "eval" / "report.json").read_text())
    assert report["agents"]["llm-chunked-tiny"]["agent_stats"]["turns"] == 64
    assert (run / "final" / "memgym_model.json").is_file()


def test_rloo_advantage_is_the_leave_one_out_baseline(tiny_trainer: Any) -> None:
    import torch

    trainer = tiny_trainer
    trainer.model.train()
    rewards = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    grpo = trainer._advantages(rewards, 2)
    trainer.advantage = "rloo"
    rloo = trainer._advantages(rewards, 2)
    assert grpo.tolist() == pytest.approx([0.7071, -0.7071], abs=1e-3)
    assert rloo.tolist() == pytest.approx([1.0, -1.0])  # 1 - 0 and 0 - 1


def test_the_accelerate_launch_configs_load_with_accelerate() -> None:
    config_args = pytest.importorskip("accelerate.commands.config.config_args")
    paths = sorted((ROOT / "configs" / "accelerate").glob("*.yaml"))
    assert {p.name for p in paths} == {"single_gpu.yaml", "multi_gpu.yaml"}
    loaded = {p.stem: config_args.ClusterConfig.from_yaml_file(str(p)) for p in paths}
    assert loaded["multi_gpu"].distributed_type.value == "MULTI_GPU"
    assert loaded["single_gpu"].distributed_type.value == "NO"
    assert not any(c.use_cpu for c in loaded.values())


@pytest.mark.slow
def test_the_chunked_benchmark_runs_its_three_stages_on_the_tiny_model(tmp_path: Path) -> None:
    pytest.importorskip("trl")
    env = {**os.environ, "MEMGYM_CACHE": str(tmp_path / "cache"), "HF_HUB_OFFLINE": "1"}
    out = tmp_path / "llm_chunked"
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "llm_chunked.py"),
         "--config", str(ROOT / "configs" / "llm_chunked_tiny.yaml"), "--episodes", "1",
         "--grpo-steps", "1", "--output-dir", str(tmp_path / "runs"), "--out", str(out),
         "--set", "env.options.length=16", "--set", "eval.options.length=16",
         "--set", "trl.sft={episodes: 1, epochs: 1, gradient_accumulation_steps: 8}"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    data = json.loads(out.with_suffix(".json").read_text())
    assert list(data["stages"]) == ["untrained", "sft", "sft+grpo"]
    assert data["sft"]["turns"] == 16 and data["grpo"]["steps"] == 1
    assert all(s["turns"] == 16 for s in data["stages"].values())
    assert "| sft+grpo |" in out.with_suffix(".md").read_text()
