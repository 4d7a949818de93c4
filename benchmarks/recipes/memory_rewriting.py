"""Memory rewriting recipe (Endless T-Maze): MLP vs LSTM policies, with and without memory ops.

Paper: "Memory Retention Is Not Enough to Master Memory Tasks in Reinforcement Learning"
(Shchendrigin, Cherepanov, Kovalev & Panov, AAMAS 2026, arXiv:2601.15086): on the Endless T-Maze
(a cue at the start of every corridor, turn per the LATEST cue at each junction), PPO with an
LSTM solves the classic case; a feed-forward (MLP) policy cannot. Fixed and Uniform
corridor-length regimes.

For each regime (``memgym/TMaze-{Fixed,Uniform}-v0`` and their ``-Memoryless`` twins), in one
run on this machine:

1. setting (b), memoryless: PPO (MLP) and RecurrentPPO (LSTM) answer each junction from the
   current chunk only; scripted references: random answers (chance) and a cue tracker (a
   perfect recurrent state);
2. setting (a), memory ops: PPO (MLP) and RecurrentPPO (LSTM) manage a 2-entry memory that the
   reader answers from; baselines random / fifo / lru / salience / oracle on the same streams.

Every training run uses the recipe configs (``configs/recipes/memory_rewriting_*.yaml``) with
the same step budget (``--steps``, so MLP and LSTM are compared at equal experience; a shared
2-core machine makes wall-clock budgets unfair to the slower LSTM) and a wall-clock safety
cap, 1 torch thread; scores are held-out QA (EM) of the best evaluated checkpoint, 50 episodes.
Writes ``benchmarks/results/recipes/memory_rewriting.json`` and ``.md``.

    nice -n 10 python benchmarks/recipes/memory_rewriting.py [--steps 40000] \
        [--regimes Fixed Uniform]
    nice -n 10 python benchmarks/recipes/memory_rewriting.py --regimes ColourCubes-Medium \
        --name memory_rewriting_colour_cubes
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results" / "recipes"
CONFIGS = ROOT / "configs" / "recipes"
#: (setting, policy) -> config file; the env id is set per regime.
RUNS: dict[tuple[str, str], str] = {
    ("memoryless", "MLP"): "memory_rewriting_memoryless_mlp.yaml",
    ("memoryless", "LSTM"): "memory_rewriting_memoryless_lstm.yaml",
    ("memory", "MLP"): "memory_rewriting_memory_mlp.yaml",
    ("memory", "LSTM"): "memory_rewriting_memory_lstm.yaml",
}
PAPER = {
    ("memoryless", "MLP"): "cannot solve (chance)",
    ("memoryless", "LSTM"): "solves the classic case",
    ("memory", "MLP"): "- (no explicit memory in the paper)",
    ("memory", "LSTM"): "-",
}


def env_id(regime: str, setting: str) -> str:
    """``Fixed`` / ``Uniform`` name the T-Maze regimes; ``<Task>-<Level>`` any task with a
    memoryless twin (e.g. ``ColourCubes-Medium``)."""
    name = regime if "-" in regime else f"TMaze-{regime}"
    return f"memgym/{name}{'-Memoryless' if setting == 'memoryless' else ''}-v0"


def train_run(setting: str, policy: str, regime: str, minutes: float, episodes: int,
              out: Path, steps: int) -> dict[str, Any]:
    """Train one recipe config on ``regime``; held-out scores of the policy (and baselines)."""
    from memgym.training import load_config, train_from_config
    from memgym.training.run import RunFolder

    name = f"{env_id(regime, 'memory')[7:-3].lower()}-{setting}-{policy.lower()}"
    overrides = [f"env.id={env_id(regime, setting)}", f"name={name}", f"output_dir={out}",
                 f"max_minutes={minutes}", f"eval.episodes={episodes}", "progress=false",
                 f"total_timesteps={steps}", f"eval.freq={max(steps // 4, 1)}"]
    config = load_config(CONFIGS / RUNS[setting, policy], overrides)
    started = time.perf_counter()
    train_from_config(config, overwrite=True)
    run = RunFolder.for_config(config)
    scores = json.loads(run.summary.read_text())["scores"]
    curve = run.read_curve()
    return {"setting": setting, "policy": policy, "regime": regime, "algo": config.algo.name,
            "env_id": config.env.id, "score": scores.pop(name), "baselines": scores,
            "trained_steps": curve[-1]["steps"] if curve else 0,
            "wall_minutes": round((time.perf_counter() - started) / 60, 2),
            "curve": [(p["steps"], round(p["qa_score"], 3)) for p in curve]}


def scripted(regime: str, episodes: int) -> dict[str, float]:
    """Chance and a perfect recurrent state on the memoryless env (same held-out streams)."""
    from memgym.agents.evaluate import evaluate_agents
    from memgym.recipes.memory_rewriting import CueTrackingAgent, RandomAnswerAgent

    report = evaluate_agents([RandomAnswerAgent(), CueTrackingAgent()],
                             env_id(regime, "memoryless"), split="heldout", episodes=episodes)
    return {k: v["qa_score"] for k, v in report["agents"].items()}


def table(result: dict[str, Any]) -> list[str]:
    regimes = result["regimes"]
    runs = {(r["setting"], r["policy"], r["regime"]): r for r in result["runs"]}
    head = " | ".join(regimes)
    lines = [f"| setting | policy | {head} | paper's claim (Endless T-Maze) |",
             "|---|---|" + "---|" * len(regimes) + "---|"]
    for (setting, policy), claim in PAPER.items():
        cells = []
        for regime in regimes:
            run = runs.get((setting, policy, regime))
            cells.append("-" if run is None
                         else f"{run['score']:.2f} ({run['trained_steps'] // 1000}k)")
        label = "memoryless (b)" if setting == "memoryless" else "memory ops (a)"
        algo = "PPO, MLP" if policy == "MLP" else "RecurrentPPO, LSTM"
        lines.append(f"| {label} | {algo} | {' | '.join(cells)} | {claim} |")
    for name in ("random-answer", "cue-tracker"):
        cells = [f"{result['scripted'][r][name]:.2f}" for r in regimes]
        lines.append(f"| memoryless (b) | {name} (scripted) | {' | '.join(cells)} | - |")
    names = sorted({b for r in result["runs"] for b in r["baselines"]})
    for name in names:
        cells = []
        for regime in regimes:
            run = runs.get(("memory", "MLP", regime)) or runs.get(("memory", "LSTM", regime))
            known = run is not None and name in run["baselines"]
            cells.append(f"{run['baselines'][name]:.2f}" if known else "-")
        lines.append(f"| memory ops (a) | {name} (baseline) | {' | '.join(cells)} | - |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0,
                        help="wall-clock safety cap per run (the step budget is the comparison)")
    parser.add_argument("--regimes", nargs="+", default=["Fixed", "Uniform"])
    parser.add_argument("--settings", nargs="+", default=["memoryless", "memory"])
    parser.add_argument("--policies", nargs="+", default=["MLP", "LSTM"])
    parser.add_argument("--episodes", type=int, default=50)
    parser.add_argument("--steps", type=int, default=40_000,
                        help="environment steps per run, the same for every policy")
    parser.add_argument("--out", type=Path, default=Path("runs/recipes/memory_rewriting"))
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--name", default="memory_rewriting", help="results file name")
    parser.add_argument("--render-only", action="store_true",
                        help="rewrite the .md from the existing .json (no training)")
    args = parser.parse_args()
    if args.render_only:
        result = json.loads((args.results / f"{args.name}.json").read_text())
        write_markdown(result, args.results / f"{args.name}.md")
        return
    import torch

    torch.set_num_threads(1)
    result: dict[str, Any] = {"benchmark": "memory_rewriting", "minutes_per_run": args.minutes,
                              "steps_per_run": args.steps, "episodes": args.episodes,
                              "regimes": args.regimes, "runs": [],
                              "scripted": {r: scripted(r, args.episodes) for r in args.regimes}}
    for regime in args.regimes:
        for setting in args.settings:
            for policy in args.policies:
                result["runs"].append(train_run(setting, policy, regime, args.minutes,
                                                args.episodes, args.out, args.steps))
    # The measured directions (not asserted): LSTM - MLP without memory, and memory ops' gain
    # for the MLP.
    runs = {(r["setting"], r["policy"], r["regime"]): r["score"] for r in result["runs"]}
    result["effects"] = {regime: {
        "memoryless_lstm_minus_mlp": _diff(runs, ("memoryless", "LSTM", regime),
                                           ("memoryless", "MLP", regime)),
        "mlp_memory_minus_memoryless": _diff(runs, ("memory", "MLP", regime),
                                             ("memoryless", "MLP", regime)),
    } for regime in args.regimes}
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / f"{args.name}.json").write_text(json.dumps(result, indent=2) + "\n")
    write_markdown(result, args.results / f"{args.name}.md")


def write_markdown(result: dict[str, Any], path: Path) -> None:
    steps = result.get("steps_per_run")
    budget = f"{steps:,} steps per run" if steps else "the same step budget per run"
    lines = [f"# Memory rewriting ({', '.join(result['regimes'])}): held-out QA (EM), "
             f"{result['episodes']} episodes; {budget} (steps trained in brackets)", "",
             *table(result), "",
             "Measured effects (differences of the QA above):", ""]
    for regime, effects in result["effects"].items():
        lines.append(f"- {regime}: memoryless LSTM - MLP = "
                     f"{_fmt(effects['memoryless_lstm_minus_mlp'])}; MLP with memory ops - "
                     f"memoryless MLP = {_fmt(effects['mlp_memory_minus_memoryless'])}")
    path.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:+.2f}"


def _diff(runs: dict, a: tuple, b: tuple) -> float | None:
    return round(runs[a] - runs[b], 3) if a in runs and b in runs else None


if __name__ == "__main__":
    main()
