"""LLM benchmark: SmolLM2-135M on KVUpdates-Easy (text tools), before vs after training, on CPU.

In one run:

1. the untrained model (``llm:smollm2``, prompted exactly as in training: forced tool-call
   opening, 3-call demonstration) on held-out streams;
2. ``memgym train configs/grpo_smollm2_kv.yaml``: the ``trl.sft`` warm start (behaviour cloning
   of a label-free teacher) and then GRPO until ``--grpo-minutes``;
3. the warm-started model alone (``<run>/sft``) and the final model (SFT + GRPO) on the same
   held-out streams, next to the baselines the run reports.

Reports per stage: held-out QA, tool-success rate (valid calls / calls), format validity
(well-formed turns / turns), and the cost: seconds per SFT optimizer step and per GRPO step,
peak resident memory of the training process. Writes ``benchmarks/results/llm_grpo.json`` and
``llm_grpo.md``.

    python benchmarks/llm_grpo.py [--episodes 5] [--grpo-minutes 15] [--grpo-steps 30] [--set K=V]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from llm_chunked import fmt, run_stages, stage_parser, write_results  # this folder is on sys.path (a script)

RESULTS = Path(__file__).parent / "results"
CONFIG = Path(__file__).resolve().parents[1] / "configs" / "grpo_smollm2_kv.yaml"


def _stage(report: dict[str, Any], name: str) -> dict[str, Any]:
    agent = report["agents"][name]
    return {"qa": agent["qa_score"], "qa_ci95": agent["qa_ci95"],
            "tool_success": agent.get("action_success_rate"),
            "format_valid": agent.get("format_valid_rate")}


def main() -> None:
    args = stage_parser(__doc__.split("\n")[0], episodes=5, minutes=15.0,
                        out=RESULTS / "llm_grpo").parse_args()
    ran = run_stages(CONFIG, args, _stage)
    report, training = ran["report"], ran["training"]
    sft = training.get("sft", {})
    sft_steps = len(sft.get("losses", []))
    result = {
        "config": str(CONFIG.name), "env_id": report["env_id"], "episodes": args.episodes,
        "stages": ran["stages"],
        "baselines": {k: v["qa_score"] for k, v in report["agents"].items()
                      if k != ran["config"].name},
        "sft": {"conversations": sft.get("conversations"), "teacher_qa": sft.get("teacher_qa"),
                "mean_tokens": sft.get("mean_tokens"), "optimizer_steps": sft_steps,
                "seconds": sft.get("seconds"),
                "seconds_per_step": sft["seconds"] / sft_steps if sft_steps else None,
                "first_loss": (sft.get("losses") or [None])[0],
                "last_loss": (sft.get("losses") or [None])[-1],
                "peak_rss_mb": sft.get("peak_rss_mb")},
        "grpo": {"steps": training["steps"], "seconds": training["seconds"],
                 "step_seconds": training["step_seconds"],
                 "peak_rss_mb": training.get("peak_rss_mb")},
        "eval_seconds_untrained": ran["eval_seconds_untrained"],
        "total_minutes": ran["total_minutes"],
    }
    write_results(result, Path(args.out), markdown)


def markdown(result: dict[str, Any]) -> str:
    lines = [f"# SmolLM2-135M on {result['env_id']} (held-out, {result['episodes']} episodes)", "",
             "| stage | QA | tool success | format valid |", "|---|---|---|---|"]
    for name, stage in result["stages"].items():
        lines.append(f"| {name} | {fmt(stage['qa'])} | {fmt(stage['tool_success'])} | "
                     f"{fmt(stage['format_valid'])} |")
    lines += ["", "Baselines (structured twin, same episodes): " + ", ".join(
        f"{k} {v:.3f}" for k, v in result["baselines"].items()), ""]
    sft, grpo = result["sft"], result["grpo"]
    steps = grpo["step_seconds"]
    lines += [
        f"- SFT: {sft['conversations']} teacher conversations (teacher QA {fmt(sft['teacher_qa'])}, "
        f"~{fmt(sft['mean_tokens'])} tokens), {sft['optimizer_steps']} optimizer steps in "
        f"{fmt(sft['seconds'])} s ({fmt(sft['seconds_per_step'])} s/step), loss "
        f"{fmt(sft['first_loss'])} -> {fmt(sft['last_loss'])}, peak RSS {fmt(sft['peak_rss_mb'])} MiB",
        f"- GRPO: {grpo['steps']} steps in {fmt(grpo['seconds'])} s "
        f"({fmt(sum(steps) / len(steps) if steps else None)} s/step), "
        f"peak RSS {fmt(grpo['peak_rss_mb'])} MiB",
        f"- whole benchmark: {result['total_minutes']} min", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
