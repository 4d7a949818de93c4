"""LLM memory selector benchmark (#21): SmolLM2-135M as Memory-R1's answer agent, on CPU.

``configs/recipes/selector_llm.yaml`` (``trl.rollout: chunked``, ``trl.write_mode: select``):
an ADD-only manager writes a 16-entry memory of a generated Dialogue stream; per question the
model sees the 8 notes BM25 ranks highest and names the ones the answerer reads.

1. the untrained model, prompted exactly as in training, on held-out streams;
2. ``memgym train``: GRPO + LoRA over per-question turns until ``--grpo-minutes`` /
   ``--grpo-steps``;
3. the trained model on the same held-out streams, beside the fixed selectors (the structured
   twin: top-k = the fixed reader, top-1, the whole budget, the label oracle).

Per stage: held-out QA ± 95% CI, the episode return (QA minus note costs and penalties),
format (readable replies), turns per episode. Writes
``benchmarks/results/recipes/selector_llm.{json,md}``.

    python benchmarks/recipes/selector_llm.py [--episodes 20] [--grpo-minutes 25]
        [--grpo-steps 30] [--set K=V]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import common  # this folder's shared helpers (the script's folder is on sys.path)

CONFIG = common.ROOT / "configs" / "recipes" / "selector_llm.yaml"
CLAIM = ("Memory-R1: an answer agent trained with RL to select the relevant memories among "
         "those retrieved, rewarded by the answer's exact match, improves QA.")


def stage(report: dict[str, Any], name: str) -> dict[str, Any]:
    agent = report["agents"][name]
    stats = agent.get("agent_stats") or {}
    return {"qa": agent["qa_score"], "qa_ci95": agent["qa_ci95"], "return": agent["return"],
            "format": stats.get("format"), "turns": stats.get("turns"),
            "max_prompt_tokens": stats.get("max_prompt_tokens")}


def run(args: argparse.Namespace) -> dict[str, Any]:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    from memgym.training import load_config, train_from_config
    from memgym.training.run import RunFolder
    from memgym.training.trl import evaluate_policy, model_agent, trl_spec

    torch.set_num_threads(1)
    config = load_config(CONFIG, [
        f"output_dir={args.output_dir}", f"eval.episodes={args.episodes}",
        f"total_timesteps={args.grpo_steps}", f"max_minutes={args.grpo_minutes}",
        "progress=false", *args.overrides])
    started = time.perf_counter()
    untrained = evaluate_policy(config, model_agent(trl_spec(config).model, config, "untrained"),
                                baselines=False)
    untrained_s = time.perf_counter() - started
    report = train_from_config(config, overwrite=True)
    training = json.loads(RunFolder.for_config(config).summary.read_text())["training"]
    steps = training["step_seconds"]
    return {"claim": CLAIM, "config": CONFIG.name, "env_id": report["env_id"],
            "episodes": args.episodes, "overrides": args.overrides,
            "stages": {"untrained": stage(untrained, "untrained"),
                       "GRPO": stage(report, config.name)},
            "baselines": {k: stage(report, k) for k in report["agents"] if k != config.name},
            "grpo": {"steps": training["steps"], "seconds": training["seconds"],
                     "seconds_per_step": sum(steps) / len(steps) if steps else None,
                     "turns": training.get("turns"), "peak_rss_mb": training.get("peak_rss_mb")},
            "eval_seconds_untrained": round(untrained_s, 1),
            "total_minutes": round((time.perf_counter() - started) / 60, 1)}


def _f(value: Any) -> str:
    return "-" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def markdown(result: dict[str, Any]) -> str:
    lines = [f"# LLM memory selector: SmolLM2-135M on {result['env_id']} (held-out, "
             f"{result['episodes']} episodes)", "", f"Claim: {result['claim']}", "",
             "| selector | QA | ±95% CI | return | format | turns / episode |",
             "|---|---|---|---|---|---|"]
    rows = {**{f"SmolLM2 {k}": v for k, v in result["stages"].items()}, **result["baselines"]}
    for name, s in rows.items():
        lines.append(f"| {name} | {_f(s['qa'])} | {_f(s['qa_ci95'])} | {_f(s['return'])} | "
                     f"{_f(s['format'])} | {_f(s['turns'])} |")
    grpo = result["grpo"]
    lines += ["", f"GRPO: {grpo['steps']} steps in {_f(grpo['seconds'])} s "
              f"({_f(grpo['seconds_per_step'])} s/step), peak RSS {_f(grpo['peak_rss_mb'])} MiB;"
              f" whole benchmark {result['total_minutes']} min. Baselines play the structured "
              "twin (same streams); return = QA minus 0.02 of a question's share per note "
              "passed and the penalties.", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--episodes", type=int, default=20, help="held-out episodes per stage")
    parser.add_argument("--grpo-minutes", type=float, default=25.0)
    parser.add_argument("--grpo-steps", type=int, default=30)
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="config override, as `memgym train --set`")
    parser.add_argument("--output-dir", default="runs/bench_recipes")
    parser.add_argument("--results", type=Path, default=common.RESULTS)
    args = parser.parse_args()
    result = run(args)
    common.write_results(args.results, "selector_llm", result, markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
