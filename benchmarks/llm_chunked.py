"""LLM benchmark over real-length streams: SmolLM2-135M per-chunk on 64-chunk streams, on CPU.

In one run (``configs/llm_chunked_smollm2.yaml``, ``trl.rollout: chunked``):

1. the untrained model, prompted per chunk exactly as in training, on held-out streams;
2. ``memgym train``: the ``trl.sft`` warm start on the label-free teacher's per-chunk turns,
   then GRPO (each rollout's group advantage shared by its 64 turns) until ``--grpo-minutes``;
3. the warm-started model alone (``<run>/sft``) and the final model (warm start + GRPO) on the
   same held-out streams, beside the baselines the run reports (structured twin).

Per stage: held-out QA ± 95% CI, evidence retention, tool success (valid calls / calls),
format (well-formed turns), memory tokens at the end and the longest turn prompt; costs:
seconds per SFT step and per GRPO step, turns per GRPO step, peak memory. Writes
``benchmarks/results/llm_chunked.json`` and ``.md``.

    python benchmarks/llm_chunked.py [--episodes 8] [--grpo-minutes 20] [--set K=V]
        [--config configs/llm_chunked_gpu.yaml --out benchmarks/results/gpu_llm]

``benchmarks/gpu_llm.sh`` runs it on one GPU with ``configs/llm_chunked_gpu.yaml`` (vLLM).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"
CONFIG = Path(__file__).resolve().parents[1] / "configs" / "llm_chunked_smollm2.yaml"


def stage(report: dict[str, Any], name: str) -> dict[str, Any]:
    agent = report["agents"][name]
    stats = agent.get("agent_stats", {})
    return {"qa": agent["qa_score"], "qa_ci95": agent["qa_ci95"],
            "evidence_retention": agent.get("evidence_retention"),
            "tool_success": agent.get("action_success_rate"),
            "format": stats.get("format"), "memory_tokens": agent.get("memory_tokens"),
            "max_prompt_tokens": stats.get("max_prompt_tokens"), "turns": stats.get("turns")}


def stage_parser(description: str, *, episodes: int, minutes: float, out: Path,
                 config: Path | None = None) -> argparse.ArgumentParser:
    """The arguments of a three-stage LLM benchmark (this one and ``llm_grpo.py``)."""
    parser = argparse.ArgumentParser(description=description)
    if config is not None:
        parser.add_argument("--config", type=Path, default=config, help="a chunked trl config")
    parser.add_argument("--episodes", type=int, default=episodes, help="held-out episodes per stage")
    parser.add_argument("--grpo-minutes", type=float, default=minutes)
    parser.add_argument("--grpo-steps", type=int, default=30)
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="config override, as `memgym train --set`")
    parser.add_argument("--output-dir", default="runs/bench")
    parser.add_argument("--out", default=str(out))
    return parser


def run_stages(config_path: Path, args: argparse.Namespace,
               stage_of: Callable[[dict[str, Any], str], dict[str, Any]]) -> dict[str, Any]:
    """Untrained model, ``memgym train`` (warm start + GRPO), warm start alone, all on the
    same held-out streams; each stage summarised by ``stage_of(report, agent name)``."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import torch

    from memgym.training import load_config, train_from_config
    from memgym.training.run import RunFolder
    from memgym.training.trl import evaluate_policy, model_agent, trl_spec

    def evaluate(model: str, label: str) -> tuple[dict[str, Any], float]:
        started = time.perf_counter()
        report = evaluate_policy(config, model_agent(model, config, label), baselines=False)
        return stage_of(report, label), time.perf_counter() - started

    torch.set_num_threads(1)
    overrides = [f"output_dir={args.output_dir}", f"eval.episodes={args.episodes}",
                 f"total_timesteps={args.grpo_steps}", f"max_minutes={args.grpo_minutes}",
                 "progress=false", *args.overrides]
    config = load_config(config_path, overrides)
    started = time.perf_counter()
    before, before_s = evaluate(trl_spec(config).model, "untrained")
    report = train_from_config(config, overwrite=True)
    run = RunFolder.for_config(config)
    training = json.loads(run.summary.read_text())["training"]
    warm, _ = evaluate(str(run.path / "sft"), "sft")
    return {"config": config, "report": report, "training": training,
            "stages": {"untrained": before, "sft": warm,
                       "sft+grpo": stage_of(report, config.name)},
            "eval_seconds_untrained": round(before_s, 1),
            "total_minutes": round((time.perf_counter() - started) / 60, 1)}


def main() -> None:
    args = stage_parser(__doc__.split("\n")[0], episodes=8, minutes=20.0,
                        out=RESULTS / "llm_chunked", config=CONFIG).parse_args()
    ran = run_stages(args.config, args, stage)
    config, report, training = ran["config"], ran["report"], ran["training"]
    warm = ran["stages"]["sft"]
    sft = training.get("sft", {})
    sft_steps = len(sft.get("losses", []))
    steps = training["step_seconds"]
    result = {
        "config": args.config.name, "env_id": report["env_id"], "episodes": args.episodes,
        "options": config.eval.options,
        "stages": ran["stages"],
        "baselines": {k: {"qa": v["qa_score"], "qa_ci95": v["qa_ci95"],
                          "evidence_retention": v.get("evidence_retention")}
                      for k, v in report["agents"].items() if k != config.name},
        "sft": {"turns": sft.get("turns"), "teacher_qa": sft.get("teacher_qa"),
                "mean_tokens": sft.get("mean_tokens"), "optimizer_steps": sft_steps,
                "seconds": sft.get("seconds"),
                "seconds_per_step": sft["seconds"] / sft_steps if sft_steps else None,
                "first_loss": (sft.get("losses") or [None])[0],
                "last_loss": (sft.get("losses") or [None])[-1]},
        "grpo": {"steps": training["steps"], "seconds": training["seconds"],
                 "step_seconds": steps,
                 "seconds_per_step": sum(steps) / len(steps) if steps else None,
                 "turns": training.get("turns"), "peak_rss_mb": training.get("peak_rss_mb")},
        "eval_seconds_untrained": ran["eval_seconds_untrained"],
        "total_minutes": ran["total_minutes"],
    }
    gain = result["stages"]["sft+grpo"]["qa"] - warm["qa"]
    interval = result["stages"]["sft+grpo"]["qa_ci95"] + warm["qa_ci95"]
    result["grpo_gain_over_sft"] = {"qa": gain, "ci95_sum": interval,
                                    "beyond_interval": gain > interval}
    write_results(result, Path(args.out), markdown)


def write_results(result: dict[str, Any], out: Path, render: Any) -> None:
    """``out``.json and ``out``.md (``render(result)``, also printed); shared by the LLM
    benchmarks."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    out.with_suffix(".md").write_text(render(result))
    print(render(result))


def fmt(value: Any) -> str:
    """A table cell: 3 decimals for floats, '-' for a missing value."""
    return "-" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def markdown(result: dict[str, Any]) -> str:
    lines = [f"# {result['config']}: per-chunk on {result['env_id']} {result['options']} "
             f"(held-out, {result['episodes']} episodes)", "",
             "| stage | QA | ±95% CI | evidence | tool success | format | memory tokens "
             "| max prompt tokens |", "|---|---|---|---|---|---|---|---|"]
    for name, s in result["stages"].items():
        lines.append(f"| {name} | {fmt(s['qa'])} | {fmt(s['qa_ci95'])} | "
                     f"{fmt(s['evidence_retention'])} | {fmt(s['tool_success'])} | "
                     f"{fmt(s['format'])} | {fmt(s['memory_tokens'])} | "
                     f"{fmt(s['max_prompt_tokens'])} |")
    lines += ["", "Baselines (structured twin, same episodes): " + ", ".join(
        f"{k} {v['qa']:.3f} ± {v['qa_ci95']:.3f}" for k, v in result["baselines"].items()), ""]
    sft, grpo, gain = result["sft"], result["grpo"], result["grpo_gain_over_sft"]
    turns = grpo.get("turns") or {}
    lines += [
        f"- SFT: {sft['turns']} teacher turns (teacher QA {fmt(sft['teacher_qa'])}, "
        f"~{fmt(sft['mean_tokens'])} tokens each), {sft['optimizer_steps']} optimizer steps in "
        f"{fmt(sft['seconds'])} s ({fmt(sft['seconds_per_step'])} s/step), loss "
        f"{fmt(sft['first_loss'])} -> {fmt(sft['last_loss'])}",
        f"- GRPO: {grpo['steps']} steps in {fmt(grpo['seconds'])} s "
        f"({fmt(grpo['seconds_per_step'])} s/step, {fmt(turns.get('turns_per_step'))} turn rows "
        f"per step, longest prompt {turns.get('max_prompt_tokens')} tokens), "
        f"peak RSS {fmt(grpo['peak_rss_mb'])} MiB",
        f"- GRPO gain over the warm start: {gain['qa']:+.3f} QA (sum of the two 95% intervals "
        f"{gain['ci95_sum']:.3f}): {'beyond' if gain['beyond_interval'] else 'not beyond'} "
        "the interval",
        f"- whole benchmark: {result['total_minutes']} min", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
