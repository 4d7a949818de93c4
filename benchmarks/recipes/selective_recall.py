"""Selective recall recipe (SelectivBench-style): the effect of the distractor rate.

Claim reproduced in spirit (SelectivBench-style selective copying): distractors that look like
the items hurt memories that do not select, and a policy that learns what to keep is robust to
them. On ``memgym/SelectiveRecall-Medium-v0`` (4 register writes, uniform gaps of mean 6,
vocabulary 16), in one run on this machine:

1. MaskablePPO trained from ``configs/recipes/selective_recall.yaml`` at distractor rate 0.4
   for at most ``--minutes`` (1 torch thread);
2. the trained policy and the baselines (random, fifo, lru, salience, oracle) on the same
   held-out streams at each distractor rate; per agent the QA at each rate and the
   least-squares slope of QA against the rate (the measured direction of the effect);
3. the same agents at rate 0.4 across the other knobs (gap distribution, items to recall,
   vocabulary size), fewer episodes each.

Writes ``benchmarks/results/recipes/selective_recall.json`` and ``.md``.

    nice -n 10 python benchmarks/recipes/selective_recall.py [--minutes 4] \
        [--rates 0 0.2 0.4 0.6 0.8]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results" / "recipes"
CONFIG = ROOT / "configs" / "recipes" / "selective_recall.yaml"
BASELINES = ("random", "fifo", "lru", "salience", "oracle")
#: Secondary knobs (Medium defaults otherwise): gap distribution, items to recall, vocabulary.
KNOBS: dict[str, list] = {"gap": ["fixed", "uniform", "geometric"], "n_items": [2, 4, 6],
                          "vocab_size": [6, 16, 64]}


def train_policy(minutes: float, out: Path, steps: int | None) -> tuple[Any, dict[str, Any]]:
    """Train the recipe config; returns the best policy as an agent and run facts."""
    from memgym.training import load_config, train_from_config
    from memgym.training.run import RunFolder
    from memgym.training.sb3 import load_agent

    overrides = [f"output_dir={out}", f"max_minutes={minutes}", "progress=false",
                 "eval.episodes=30", "eval.freq=50000", "eval.baselines=[oracle]"]
    if steps is not None:
        overrides.append(f"total_timesteps={steps}")
    config = load_config(CONFIG, overrides)
    started = time.perf_counter()
    train_from_config(config, overwrite=True)
    run = RunFolder.for_config(config)
    curve = run.read_curve()
    agent = load_agent(run, config)
    agent.name = "MaskablePPO"
    return agent, {"trained_steps": curve[-1]["steps"] if curve else 0,
                   "train_rate": 0.4,
                   "wall_minutes": round((time.perf_counter() - started) / 60, 2),
                   "curve": [(p["steps"], round(p["qa_score"], 3)) for p in curve]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=4.0, help="training wall-clock cap")
    parser.add_argument("--rates", nargs="+", type=float, default=[0.0, 0.2, 0.4, 0.6, 0.8])
    parser.add_argument("--episodes", type=int, default=40)
    parser.add_argument("--knob-episodes", type=int, default=20)
    parser.add_argument("--steps", type=int, default=None, help="total_timesteps override")
    parser.add_argument("--out", type=Path, default=Path("runs/recipes/selective_recall"))
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    import torch

    from memgym.recipes.distractor_sweep import distractor_sweep, slope, sweep

    torch.set_num_threads(1)
    policy, training = train_policy(args.minutes, args.out, args.steps)
    agents = [policy, *BASELINES]
    scores = distractor_sweep(agents, args.rates, episodes=args.episodes)
    # The other knobs at the training distractor rate, fewer episodes each (secondary).
    knobs = {knob: sweep(agents, knob, values, episodes=args.knob_episodes)
             for knob, values in KNOBS.items()}
    result = {"benchmark": "selective_recall", "env_id": "memgym/SelectiveRecall-Medium-v0",
              "episodes": args.episodes, "rates": args.rates, "training": training,
              "scores": scores, "slopes": {k: round(slope(v), 3) for k, v in scores.items()},
              "knob_episodes": args.knob_episodes, "knobs": knobs}
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "selective_recall.json").write_text(json.dumps(result, indent=2) + "\n")
    rates = [f"{r:g}" for r in args.rates]
    lines = [f"# Selective recall: held-out QA vs distractor rate ({args.episodes} episodes per "
             f"rate; policy trained at 0.4 for {training['trained_steps']:,} steps)", "",
             f"| agent | {' | '.join(f'rate {r}' for r in rates)} | slope (QA per unit rate) |",
             "|---|" + "---|" * len(rates) + "---|"]
    for name, per_rate in scores.items():
        cells = " | ".join(f"{per_rate[r]:.2f}" for r in rates)
        lines.append(f"| {name} | {cells} | {result['slopes'][name]:+.2f} |")
    for knob, per_agent in knobs.items():
        values = list(next(iter(per_agent.values())))
        lines += ["", f"| agent ({knob}, rate 0.4, {args.knob_episodes} episodes) | "
                  + " | ".join(values) + " |", "|---|" + "---|" * len(values)]
        lines += [f"| {name} | " + " | ".join(f"{v:.2f}" for v in per.values()) + " |"
                  for name, per in per_agent.items()]
    (args.results / "selective_recall.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
