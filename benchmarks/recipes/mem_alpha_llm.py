"""Mem-alpha recipe with the LLM backend: memory size and accuracy of SmolLM2-135M at two betas.

``configs/recipes/mem_alpha_llm.yaml`` on this machine's CPU, in one run:

1. the first beta's run does the ``trl.sft`` warm start (a label-free teacher's tool calls,
   behaviour cloning) and then GRPO for ``--grpo-minutes``; the warm start does not depend on
   beta, so every later beta starts GRPO from that same ``sft/`` model (``trl.model``);
2. each run's final report evaluates the GRPO model on the held-out streams; the warm-started
   model alone is evaluated on the same streams once, as the common starting point.

Reported per model: QA accuracy (exact match), memory tokens at the end of the stream (the
core's 4-token placeholder included), entries added, tool success and format validity, and
the GRPO steps the wall clock allowed.

A CPU affords only a step or two of GRPO per beta, so the script also measures the
*direction* GRPO pushes the memory size at each beta, without training (``--signal-streams``,
written to ``mem_alpha_llm_signal.{json,md}``; ``--signal-only --sft FOLDER`` runs just this,
``--rescore`` scores the saved rollouts at other betas): the warm-started model samples
``--signal-group`` rollouts per training stream at the training temperature, every rollout is
scored with each beta's reward, and within each group the group-normalised advantages (as
GRPO computes them) are correlated with the rollouts' memory tokens. Positive: the update
favours the larger memories of the group; negative: the smaller.

The paper: beta 0.05 -> 0.2 -> 0.4 shrinks memory 7.9K -> 4.7K -> 3.6K tokens while accuracy
falls 0.642 -> 0.525 -> 0.509. Writes ``benchmarks/results/recipes/mem_alpha_llm.json`` and
``.md``.

    nice -n 10 python benchmarks/recipes/mem_alpha_llm.py [--betas 0.05 1.0] [--grpo-minutes 20]
"""

from __future__ import annotations

import argparse
import json
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
    from memgym.training.trl import evaluate_policy, model_agent

    report = evaluate_policy(config, model_agent(folder, config, "sft"), baselines=False)
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
    parser.add_argument("--signal-streams", type=int, default=8,
                        help="training streams for the GRPO-direction measurement (0: skip)")
    parser.add_argument("--signal-group", type=int, default=4, help="rollouts per stream")
    parser.add_argument("--signal-only", action="store_true",
                        help="only the GRPO-direction measurement, from --sft")
    parser.add_argument("--sft", type=Path, help="a warm-started model folder (<run>/sft)")
    parser.add_argument("--signal-betas", type=float, nargs="+",
                        default=[0.05, 0.2, 0.4, 1.0, 2.5, 5.0],
                        help="betas the sampled rollouts are scored with (scoring is free)")
    parser.add_argument("--rescore", action="store_true", help="score the rollouts saved in "
                        "<results>/mem_alpha_llm_signal.json again (no sampling)")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.signal_only and (args.sft is None or not args.sft.is_dir()):
        parser.error("--signal-only needs --sft <run>/sft (an existing folder)")
    saved_signal = args.results / "mem_alpha_llm_signal.json"
    if args.rescore and not saved_signal.is_file():
        parser.error(f"--rescore needs {saved_signal} (run with --signal-only first)")
    if args.rescore or args.signal_only:
        from memgym.training import load_config

        config = load_config(CONFIG, args.overrides)
        if args.rescore:
            saved = json.loads(saved_signal.read_text())
            write_signal(args, Path(saved["model"]), config, saved=saved)
        else:
            write_signal(args, args.sft, config)
        return

    import torch

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
        summary = json.loads(run.summary.read_text())
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
    if args.signal_streams:
        write_signal(args, sft_folder, config)


def write_signal(args: argparse.Namespace, sft_folder: Path, config: Any,
                 saved: dict[str, Any] | None = None) -> None:
    """Sample the groups (or take ``saved`` ones) and write their direction per beta."""
    import torch

    torch.set_num_threads(1)
    started = time.perf_counter()
    if saved is None:
        groups = sample_groups(sft_folder, config, args.signal_streams, args.signal_group)
        minutes = round((time.perf_counter() - started) / 60, 1)
        streams, group = args.signal_streams, args.signal_group
    else:
        groups, minutes, streams, group = (saved[k] for k in ("groups", "minutes", "streams",
                                                              "group"))
    betas = sorted(set(args.signal_betas) | set(args.betas))
    result = {"benchmark": "recipes/mem_alpha_llm_signal", "model": str(sft_folder),
              "env_id": config.env.id, "options": config.env.options, "split": "train",
              "streams": streams, "group": group, "groups": groups,
              "betas": {f"{b:g}": grpo_direction(groups, config, b) for b in betas},
              "minutes": minutes}
    common.write_results(args.results, "mem_alpha_llm_signal", result, signal_markdown(result))
    print(signal_markdown(result))


def sample_groups(folder: Path, config: Any, streams: int, group: int) -> list[list[dict]]:
    """``group`` sampled rollouts of the model on each of the first ``streams`` training rows
    (GRPO's own streams and temperature), with the reward terms of each (``format`` here: the
    share of well-formed calls)."""
    import gymnasium as gym

    from memgym.agents.evaluate import run_episode
    from memgym.llm.tool_env import compression, text_twin
    from memgym.training.trl import model_agent, trl_spec

    spec = trl_spec(config)
    agent = model_agent(folder, config, "sft-sampled", temperature=spec.temperature)
    env = gym.make(text_twin(config.env.id), **config.env.kwargs)
    groups = []
    for stream in range(streams):
        rollouts = []
        for _ in range(group):
            result = run_episode(env, agent, split="train", episode_seed=spec.episode_seed + stream,
                                 options=config.env.options)
            calls = result["actions"]
            rollouts.append({
                "qa": result["qa_score"], "memory_tokens": result["memory_tokens"],
                "tool_success": calls["succeeded"] / calls["total"] if calls["total"] else 0.0,
                "format": 1.0 - calls["malformed"] / calls["total"] if calls["total"] else 0.0,
                "compression": compression(env.unwrapped.core)})
        groups.append(rollouts)
    env.close()
    return groups


def grpo_direction(groups: list[list[dict]], config: Any, beta: float) -> dict[str, Any]:
    """Per group: the training reward of each rollout at ``beta`` (the config's other weights),
    GRPO's advantages ``(r - mean) / (std + 1e-4)`` and their mean product with the centred
    memory tokens; groups whose rollouts all score alike teach nothing and are left out."""
    import numpy as np

    from memgym.training.trl import trl_spec

    weights = trl_spec(config).rewards
    products, best_minus_mean = [], []
    for rollouts in groups:
        reward = np.array([weights.qa * x["qa"] + weights.tool_success * x["tool_success"]
                           + beta * x["compression"] + weights.format * x["format"]
                           for x in rollouts])
        tokens = np.array([x["memory_tokens"] for x in rollouts], dtype=float)
        if np.ptp(reward) < 1e-9:
            continue
        advantage = (reward - reward.mean()) / (reward.std(ddof=1) + 1e-4)
        products.append(float(np.mean(advantage * (tokens - tokens.mean()))))
        best_minus_mean.append(float(tokens[reward.argmax()] - tokens.mean()))
    return {"informative_groups": len(products),
            "advantage_x_tokens": float(np.mean(products)) if products else None,
            "advantage_x_tokens_ci95": common.ci95(products) if len(products) > 1 else None,
            "best_minus_mean_tokens": float(np.mean(best_minus_mean)) if products else None}


def direction(product: float, ci95: float | None) -> str:
    if ci95 is not None and abs(product) <= ci95:
        return "no clear direction (0 within ±95%)"
    return "larger" if product > 0 else "smaller"


def signal_markdown(result: dict[str, Any]) -> str:
    groups = result["groups"]
    flat = [x for g in groups for x in g]
    lines = [f"# Direction of GRPO's update on memory size, per beta ({result['env_id']})", "",
             f"{result['group']} sampled rollouts of the warm-started model on each of "
             f"{result['streams']} training streams ({result['minutes']} min): QA "
             f"{sum(x['qa'] for x in flat) / len(flat):.3f}, memory tokens "
             f"{min(x['memory_tokens'] for x in flat)}-{max(x['memory_tokens'] for x in flat)} "
             f"(mean {sum(x['memory_tokens'] for x in flat) / len(flat):.1f}).", "",
             "| beta | groups with a reward spread | mean advantage x centred memory tokens "
             "(±95%) | best rollout's tokens - group mean | GRPO pushes memory |",
             "|---|---|---|---|---|"]
    for beta, d in result["betas"].items():
        product = d["advantage_x_tokens"]
        if product is None:
            lines.append(f"| {beta} | 0 | - | - | - |")
            continue
        ci = d["advantage_x_tokens_ci95"]
        lines.append(f"| {beta} | {d['informative_groups']} | {product:+.2f}"
                     f"{f' ± {ci:.2f}' if ci is not None else ''} | "
                     f"{d['best_minus_mean_tokens']:+.1f} | "
                     f"{direction(product, ci)} |")
    return "\n".join(lines) + "\n"


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
