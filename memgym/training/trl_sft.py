"""The ``trl.sft`` warm start of a ``backend: trl`` run (see :mod:`memgym.llm.sft`): the
teacher's conversations on the run's own environment and prompt, SFT, the model saved in
``<run>/sft/`` (reused on ``--resume``), and the base that GRPO's adapters then name."""

from __future__ import annotations

import json
import time
from typing import Any

from memgym.training.config import TrainConfig
from memgym.training.run import RunFolder
from memgym.training.trl_io import check_env, peak_rss_mb, save_model

SFT_STATS = "sft_stats.json"


def sft_warm_start(config: TrainConfig, run: RunFolder, spec: Any) -> tuple[str, dict[str, Any]]:
    """Warm-start the run's model on teacher conversations; returns the model folder and the
    warm start's statistics (teacher QA, tokens, losses, seconds)."""
    from memgym.llm.agent import tool_functions
    from memgym.llm.models import load_model
    from memgym.llm.sft import teacher_dataset, warm_start
    from memgym.llm.tool_env import demonstration, text_twin

    folder = run.path / "sft"
    stats_path = folder / SFT_STATS
    if stats_path.is_file():  # --resume: the warm start is done
        return str(folder), json.loads(stats_path.read_text())
    started = time.perf_counter()
    tools = tool_functions(check_env(config))
    if spec.rollout == "chunked":
        from memgym.llm.chunked_sft import chunked_teacher_dataset

        from memgym.training.trl_config import forced_tool_calls

        model, tokenizer = load_model(spec.model, force_tool_calls=forced_tool_calls(spec))
        rows, stats = chunked_teacher_dataset(
            text_twin(config.env.id), config.env.kwargs, config.env.options, tokenizer,
            tools if spec.write_mode == "tools" and spec.tool_schemas else None,
            spec.write_mode, spec.sft,
            describe_tools=spec.write_mode == "tools" and not spec.tool_schemas)
    else:
        model, tokenizer = load_model(spec.model, force_tool_calls=spec.force_tool_calls)
        demo = demonstration(config.env.id, config.env.kwargs, spec.demonstration)
        rows, stats = teacher_dataset(text_twin(config.env.id), config.env.kwargs,
                                      config.env.options, tokenizer, tools, demo, spec.sft)
    lora = None
    if spec.lora is not None:
        from peft import LoraConfig

        lora = LoraConfig(r=spec.lora.r, lora_alpha=spec.lora.alpha,
                          lora_dropout=spec.lora.dropout,
                          target_modules=spec.lora.target_modules, task_type="CAUSAL_LM")
    model.train()
    trained, log = warm_start(model, tokenizer, rows, spec.sft, run.path / ".sft_work",
                              lora=lora, seed=config.seed)
    save_model(trained, tokenizer, folder, spec.model)
    stats.update({"seconds": round(time.perf_counter() - started, 1),
                  "losses": [round(float(e["loss"]), 4) for e in log],
                  "peak_rss_mb": peak_rss_mb()})
    stats_path.write_text(json.dumps(stats, indent=2) + "\n")
    return str(folder), stats
