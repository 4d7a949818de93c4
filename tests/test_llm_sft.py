"""Supervised warm start (memgym.llm.sft): teacher conversations, loss masks, and a ``trl.sft``
run with the tiny model (SFT -> GRPO -> adapters naming the warm-started base)."""

from __future__ import annotations

import json
from pathlib import Path

import gymnasium as gym
import pytest

import memgym  # noqa: F401
from memgym.llm.sft import SFTSpec, play_teacher, teacher_dataset, tokenize_conversation
from memgym.llm.tool_env import USER_INTRO, demonstration

TEXT_ID = "memgym/KVUpdates-Easy-Text-v0"
KWARGS = {"ops_per_chunk": 1}
SHORT = {"length": 8, "n_keys": 2}


@pytest.fixture
def cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    pytest.importorskip("trl")
    import torch

    folder = tmp_path_factory.getbasetemp() / "memgym_sft_cache"
    monkeypatch.setenv("MEMGYM_CACHE", str(folder))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    torch.set_num_threads(1)
    return folder


def test_teacher_plays_whole_streams_and_keeps_the_latest_values() -> None:
    env = gym.make(TEXT_ID, **KWARGS).unwrapped
    messages, qa = play_teacher(env, USER_INTRO, split="train", seed=3, options=SHORT)
    calls = [m["tool_calls"][0]["function"]["name"] for m in messages if m["role"] == "assistant"]
    responses = [m for m in messages if m["role"] == "tool"]
    assert env.core.done and len(calls) == len(responses) >= SHORT["length"]
    assert {"add_memory", "next_chunk"} <= set(calls)
    assert qa == 1.0  # short KV streams: update-in-place keeps every latest value
    short, _ = play_teacher(env, USER_INTRO, split="train", seed=3, options=SHORT, turns=2)
    assert short == messages[:5]


def test_only_the_tokens_the_model_writes_are_trained(cache: Path) -> None:
    from memgym.llm.agent import tool_functions
    from memgym.llm.models import TOOL_CALL_PREFILL, load_tokenizer, tokenizer_path

    tokenizer = load_tokenizer(tokenizer_path(), force_tool_calls=True)
    env = gym.make(TEXT_ID, **KWARGS).unwrapped
    env.reset(seed=0)
    tools = tool_functions(env.tools)
    demo = demonstration(TEXT_ID, KWARGS, 3)
    rows, stats = teacher_dataset(TEXT_ID, KWARGS, SHORT, tokenizer, tools, demo,
                                  SFTSpec(episodes=3))
    assert stats["conversations"] == 3 and stats["teacher_qa"] > 0.9
    row = rows[0]
    spans, current = [], []
    for token, label in zip(row["input_ids"], row["labels"]):
        assert label in (-100, token)
        if label != -100:
            current.append(token)
        elif current:
            spans.append(tokenizer.decode(current))
            current = []
    assert spans and all(s.endswith("}}\n</tool_call><|im_end|>") for s in spans), spans[:3]
    names = {json.loads('{"name": "' + s.split("\n</tool_call>")[0])["name"] for s in spans}
    assert names <= {"add_memory", "update_memory", "next_chunk"}
    # the forced opening is part of the prompt, never a label
    assert all(TOOL_CALL_PREFILL.strip() not in s for s in spans)
    # a template that is not prefix-consistent is refused, not trained on garbage
    turns = [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"},
             {"role": "user", "content": "z"}]
    assert tokenize_conversation(_Shuffled(tokenizer), turns, tools, []) is None


class _Shuffled:
    """A tokenizer whose rendering changes with the conversation length."""

    def __init__(self, tokenizer: object) -> None:
        self.tokenizer = tokenizer

    def apply_chat_template(self, messages: list, **_: object) -> dict:
        return {"input_ids": [len(messages)] * (3 * len(messages) + 1)}

    def tokenize(self, text: str) -> list[str]:
        return self.tokenizer.tokenize(text)

    def convert_tokens_to_ids(self, tokens: list[str]) -> list[int]:
        return self.tokenizer.convert_tokens_to_ids(tokens)


def test_sft_warm_start_then_grpo_with_lora(cache: Path, tmp_path: Path) -> None:
    from memgym.llm.models import load_model
    from memgym.training import load_config, train_from_config
    from memgym.training.run import RunFolder

    cfg = Path(__file__).resolve().parents[1] / "configs" / "grpo_tiny_kv.yaml"
    config = load_config(cfg, [f"output_dir={tmp_path / 'runs'}", "total_timesteps=1",
                               "eval.episodes=1", "progress=false", "trl.episodes=2",
                               "trl.max_completion_length=48", "eval.baselines=[]",
                               "trl.lora={r: 4, alpha: 8}",
                               "trl.sft={episodes: 2, epochs: 1, gradient_accumulation_steps: 1}"])
    train_from_config(config)
    run = RunFolder.for_config(config)
    stats = json.loads((run.path / "sft" / "sft_stats.json").read_text())
    assert stats["conversations"] == 2 and len(stats["losses"]) == 2
    assert all(loss == loss and loss > 0 for loss in stats["losses"])  # finite, positive
    assert (run.path / "sft" / "config.json").is_file()  # LoRA merged: a full model
    manifest = json.loads((run.path / "final" / "memgym_model.json").read_text())
    assert manifest == {"base": "../sft"}
    summary = json.loads(run.summary.read_text())
    assert summary["training"]["sft"]["conversations"] == 2
    assert summary["training"]["peak_rss_mb"] > 0
    # the final adapter loads on the warm-started base, from a moved copy of the run too
    moved = tmp_path / "moved"
    import shutil

    shutil.copytree(run.path, moved)
    shutil.rmtree(run.path)
    model, _ = load_model(moved / "final")
    assert model is not None
