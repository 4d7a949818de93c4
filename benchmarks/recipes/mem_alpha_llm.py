"""Mem-alpha recipe with the LLM backend: memory size and accuracy of SmolLM2-135M at two betas.

``configs/recipes/mem_alpha_llm.yaml`` on this machine's CPU, in one run:

1. the first beta's run does the ``trl.sft`` warm start (a label-free teacher's tool calls,
   behaviour cloning) and then GRPO for ``--grpo-minutes``; the warm start does not depend on
   beta, so every later beta starts GRPO from that same ``sft/`` model (``trl.model``);
2. each run's final report evaluates the GRPO model on the held-out streams; the warm-started
   model alone is evaluated on the same streams once, as the common starting point.

Reported per model: QA accuracy (exact match), memory tokens at the end of the stream (the
core's 4-token placeholder included), entries added, tool success and format validity, and
the GRPO steps the wall clock allowed. The paper: beta 0.05 -> 0.2 -> 0.4 shrinks memory
7.9K -> 4.7K -> 3.6K tokens while accuracy falls 0.642 -> 0.525 -> 0.509. Writes
``benchmarks/results/recipes/mem_alpha_llm.json`` and ``.md``.

    nice -n 10 python benchmarks/recipes/mem_alpha_llm.py [--betas 0.05 1.0] [--grpo-minutes 20]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

import common  # this folder's shared helpers (the script's folder is on sys.path)

CONFIG = common.ROOT / "configs" / "recipes" / "mem_alpha_llm.yaml"
PAPER = {0.05: {"memory_tokens": 7900, "accuracy": 0.642},
         0.2: {"memory_tokens": 4700, "accuracy": 0.525},
         0.4: {"memory_tokens": 3600, "accuracy": 0.509}}


def stage(agent_report: dict[str, Any]) -> dict[str, Any]:
    """The measures of one model in an evaluation report."""
    return {"accuracy": agent_report["qa_score"], "accuracy_ci95": agent_report["qa_ci95"],
            "memory_tokens": agent_report["memory_tokens"],
            "adds_per_episode": agent_report["ops_per_episode"].get("add", 0.0),
            "updates_per_episode": agent_report["ops_per_episode"].get("update", 0.0),
            "tool_success": agent_report.get("action_success_rate"),
            "format_valid": agent_report.get("format_valid_rate")}


def evaluate_sft(folder: Path, config: Any) -> dict[str, Any]:
    """The warm-started model alone, on the runs' held-out streams and prompt."""
    from memgym.agents.evaluate import evaluate_agents
    from memgym.llm.models import load_model
    from memgym.llm.tool_env import text_twin
    from memgym.training.trl import make_agent, trl_spec

    spec = trl_spec(config)
    model, tokenizer = load_model(str(folder), force_tool_calls=spec.force_tool_calls)
    agent = make_agent(model, tokenizer, config, spec)  # prompted exactly as in training
    agent.name = "sft"
    report = evaluate_agents([agent], text_twin(config.eval_id), split=config.eval.split,
                             episodes=config.eval.episodes, seed=config.eval.seed,
                             env_kwargs=config.eval_kwargs, options=config.eval.options)
    return stage(report["agents"]["sft"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--betas", type=float, nargs="+", default=[0.05, 1.0])
    parser.add_argument("--grpo-minutes", type=float, default=20.0)
    parser.add_argument("--episodes", type=int, default=8, help="held-out episodes per model")
    parser.add_argument("--runs", type=Path, default=common.ROOT / "runs" / "recipes")
    parser.add_argument("--results", type=Path, default=common.RESULTS)
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="config override for every run")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import json

    import torch

    from memgym.training.run import RunFolder

    torch.set_num_threads(1)
    started = time.perf_counter()
    rows, sft_folder, sft_stats, config = [], None, {}, None
    for beta in args.betas:
        overrides = [f"output_dir={args.runs}", f"name=mem_alpha-llm-beta{beta:g}",
                     f"trl.rewards.compression={beta}", f"max_minutes={args.grpo_minutes}",
                     f"eval.episodes={args.episodes}", "progress=false", *args.overrides]
        if sft_folder is not None:  # the warm start does not depend on beta: reuse it
            overrides += [f"trl.model={sft_folder}", "trl.sft=null"]
        config, run, seconds = common.train_timed(CONFIG, overrides)
        summary = json.loads(RunFolder.for_config(config).summary.read_text())
        report = json.loads((run.eval / "report.json").read_text())
        training = summary["training"]
        if sft_folder is None:
            sft_folder, sft_stats = run.path / "sft", training.get("sft", {})
        steps = training["step_seconds"]
        rows.append({"beta": beta, "grpo": stage(report["agents"][config.name]),
                     "grpo_steps": training["steps"],
                     "grpo_seconds_per_step": sum(steps) / len(steps) if steps else None,
                     "train_minutes": round(seconds / 60, 1),
                     "baselines": {k: stage(v) for k, v in report["agents"].items()
                                   if k != config.name},
                     "paper": PAPER.get(beta)})
    result = {"benchmark": "recipes/mem_alpha_llm", "config": CONFIG.name,
              "env_id": config.env.id, "options": config.env.options,
              "episodes": args.episodes, "split": "heldout", "grpo_minutes": args.grpo_minutes,
              "sft": {"model": evaluate_sft(sft_folder, config),
                      "teacher_qa": sft_stats.get("teacher_qa"),
                      "conversations": sft_stats.get("conversations"),
                      "seconds": sft_stats.get("seconds"),
                      "losses": sft_stats.get("losses")},
              "rows": rows, "total_minutes": round((time.perf_counter() - started) / 60, 1)}
    common.write_results(args.results, "mem_alpha_llm", result, markdown(result))
    print(markdown(result))


def markdown(result: dict[str, Any]) -> str:
    def cells(s: dict[str, Any]) -> str:
        return (f"{s['accuracy']:.3f} ± {s['accuracy_ci95']:.3f} | {s['memory_tokens']:.1f} | "
                f"{s['adds_per_episode']:.2f} | {s['tool_success'] or 0:.2f} | "
                f"{s['format_valid'] or 0:.2f}")

    sft = result["sft"]
    lines = [f"# Mem-alpha recipe, LLM backend ({result['env_id']}, options "
             f"{result['options']}, {result['episodes']} held-out episodes)", "",
             "| model | beta | accuracy (EM ±95%) | memory tokens | adds / episode | "
             "tool success | format valid | GRPO steps | paper accuracy / tokens |",
             "|---|---|---|---|---|---|---|---|---|",
             f"| SFT warm start (common start) | - | {cells(sft['model'])} | 0 | - |"]
    for r in result["rows"]:
        paper = r["paper"] or {}
        lines.append(f"| SFT + GRPO | {r['beta']:g} | {cells(r['grpo'])} | {r['grpo_steps']} | "
                     f"{paper.get('accuracy', '-')} / {paper.get('memory_tokens', '-')} |")
    first = result["rows"][0]
    lines += ["", "Baselines on the structured twin, same streams (accuracy / memory tokens): "
              + ", ".join(f"{k} {v['accuracy']:.3f} / {v['memory_tokens']:.1f}"
                          for k, v in first["baselines"].items()), "",
              f"- warm start: {sft['conversations']} teacher conversations (teacher QA "
              f"{sft['teacher_qa'] or 0:.3f}), {len(sft['losses'] or [])} steps in "
              f"{sft['seconds']} s", *[
                  f"- beta {r['beta']:g}: {r['grpo_steps']} GRPO steps, "
                  f"{r['grpo_seconds_per_step'] or 0:.0f} s/step, {r['train_minutes']} min "
                  "training + final evaluation" for r in result["rows"]],
              f"- whole benchmark: {result['total_minutes']} min", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
