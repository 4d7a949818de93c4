"""Supervised warm start (behaviour cloning) of an LLM memory manager before GRPO.

Why: on CPU one GRPO step of SmolLM2-135M takes minutes, and the untrained model's calls are
mostly valid but uninformed, so the completions of a group score nearly alike and GRPO gets
little signal in the steps a CPU can afford. Mem-alpha and Memory-R1 style pipelines start
RL from a model that already speaks the tool format; here a *teacher* plays ``train`` streams
through the text environment and the model is fine-tuned on its calls:

- the teacher is label-free (it sees what the model sees): a chunk stating an unhedged fact
  updates the memory entry holding the same fact (``update_memory``) or is stored
  (``add_memory``); anything else is skipped (``next_chunk``). The prompt's worked example
  (:func:`memgym.llm.tool_env.demonstration`) uses the same policy
  (:mod:`memgym.llm.teacher`).
- each conversation is rendered with the training chat template (tools, forced tool-call
  opening, demonstration) exactly as :class:`memgym.llm.agent.LLMAgent` and GRPO render it,
  and only the tokens the model writes itself (after the forced opening, up to
  ``<|im_end|>``) are trained (labels ``-100`` elsewhere), with TRL's ``SFTTrainer``.
- the result (LoRA merged into the weights) is saved as a full model in ``<run>/sft/``; GRPO
  then starts from it and its adapters name it as their base.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from memgym.llm.teacher import SYSTEM_PROMPT, USER_INTRO, play_teacher, teacher_call  # noqa: F401


class SFTSpec(BaseModel):
    """The ``trl.sft:`` block: behaviour cloning of the teacher before GRPO."""

    model_config = ConfigDict(extra="forbid")

    episodes: int = Field(64, ge=1)
    """Teacher conversations (``train`` streams, seeds ``episode_seed ..``)."""
    episode_seed: int = Field(500_000, ge=0)
    """First stream seed (far from the GRPO rows' seeds)."""
    epochs: float = Field(2.0, gt=0)
    learning_rate: float = Field(2e-4, gt=0)
    gradient_accumulation_steps: int = Field(4, ge=1)
    max_length: int = Field(4096, ge=64)
    """Conversations longer than this (tokens) are left out, never cut mid-call."""


def tokenize_conversation(tokenizer: Any, messages: list[dict[str, Any]], tools: list[Any],
                          demonstration: list[dict[str, Any]]) -> dict[str, list[int]] | None:
    """``input_ids`` and ``labels`` (-100 except on the assistant's own tokens) of a
    conversation, or ``None`` when the template does not render it prefix-consistently."""
    def render(upto: int, prompt: bool) -> list[int]:
        out = tokenizer.apply_chat_template(
            messages[:upto], tools=tools, add_generation_prompt=prompt, tokenize=True,
            return_dict=True, demonstration=demonstration or None)
        return list(out["input_ids"])

    ids = render(len(messages), False)
    labels = [-100] * len(ids)
    newline = tokenizer.convert_tokens_to_ids(tokenizer.tokenize("\n"))
    for index, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        start, end = len(render(index, True)), render(index + 1, False)
        if ids[:len(end)] != end or start > len(end):
            return None
        stop = len(end) - (1 if end[-1:] == newline else 0)  # train <|im_end|>, not the "\n"
        labels[start:stop] = ids[start:stop]
    return {"input_ids": ids, "labels": labels}


def teacher_dataset(env_id: str, env_kwargs: dict[str, Any], options: dict[str, Any],
                    tokenizer: Any, tools: list[Any], demonstration: list[dict[str, Any]],
                    spec: SFTSpec) -> tuple[list[dict[str, list[int]]], dict[str, Any]]:
    """Tokenized teacher conversations on ``train`` streams, and stats about them."""
    import gymnasium as gym

    import memgym  # noqa: F401

    env = gym.make(env_id, **env_kwargs).unwrapped
    rows, scores, lengths, skipped = [], [], [], 0
    for seed in range(spec.episode_seed, spec.episode_seed + spec.episodes):
        conversation, qa = play_teacher(env, USER_INTRO, split="train", seed=seed, options=options)
        messages = [{"role": "system", "content": SYSTEM_PROMPT}, *conversation]
        row = tokenize_conversation(tokenizer, messages, tools, demonstration)
        if row is None or len(row["input_ids"]) > spec.max_length:
            skipped += 1
            continue
        rows.append(row)
        scores.append(qa)
        lengths.append(len(row["input_ids"]))
    stats = {"conversations": len(rows), "skipped": skipped,
             "teacher_qa": sum(scores) / len(scores) if scores else 0.0,
             "mean_tokens": sum(lengths) / len(lengths) if lengths else 0,
             "trained_tokens": sum(sum(t != -100 for t in r["labels"]) for r in rows)}
    if not rows:
        raise ValueError(f"trl.sft: no teacher conversation fits in max_length={spec.max_length} "
                         "tokens; raise it or shorten the streams (env.options.length)")
    return rows, stats


def warm_start(model: Any, tokenizer: Any, rows: list[dict[str, list[int]]], spec: SFTSpec,
               output_dir: Path, *, lora: Any = None, seed: int = 0) -> tuple[Any, list[dict]]:
    """Fine-tune ``model`` on ``rows`` with TRL's SFTTrainer; returns the model (LoRA merged)
    and the logged losses."""
    import torch
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    args = SFTConfig(
        output_dir=str(output_dir), num_train_epochs=spec.epochs, per_device_train_batch_size=1,
        gradient_accumulation_steps=spec.gradient_accumulation_steps,
        learning_rate=spec.learning_rate, logging_steps=1, save_strategy="no", report_to="none",
        use_cpu=not torch.cuda.is_available(), bf16=False, seed=seed, max_length=None,
        disable_tqdm=True)
    trainer = SFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(rows),
                         processing_class=tokenizer, peft_config=lora)
    trainer.train()
    trained = trainer.model
    if hasattr(trained, "merge_and_unload"):
        trained = trained.merge_and_unload()
    log = [entry for entry in trainer.state.log_history if "loss" in entry]
    return trained, log

