"""Memory-R1 recipe benchmark: PPO vs GRPO on the same small policy, against heuristic managers.

In one run on this machine (CPU, a few minutes):

1. the managers on held-out streams of ``memgym/MemoryR1-v0``: random, the built-in salience
   baseline, the vanilla overwrite heuristic (a new value for a known pair overwrites it) and
   the label-reading oracle (merges additions), with the per-story breakdown (the ``merge``
   questions are the paper's case);
2. MaskablePPO (``configs/recipes/memory_r1_ppo.yaml``) and small-policy GRPO
   (``configs/recipes/memory_r1_grpo.yaml``), same MLP, same step and wall-clock budget,
   evaluated on the same held-out streams; how often each merges, overwrites, deletes.

Writes ``benchmarks/results/recipes/memory_r1.json`` and ``.md``.

    nice -n 10 python benchmarks/recipes/memory_r1.py [--minutes 4] [--steps 150000]
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import common  # this folder's shared helpers (the script's folder is on sys.path)

ENV_ID = "memgym/MemoryR1-v0"
CLAIM = ("Memory-R1 (LoCoMo, LLaMA-3.1-8B / Qwen-2.5-7B managers): RL-trained ADD / UPDATE / "
         "DELETE / NOOP beats the heuristic (Mem0-style) manager, and GRPO beats PPO; the "
         "vanilla manager overwrites a second, different fact where it should merge.")


def policy_stats(agent: Any, episodes: int, seed: int) -> dict[str, Any]:
    """QA per question kind and op counts (merges counted apart from overwrites)."""
    import gymnasium as gym
    import numpy as np

    from memgym.agents.evaluate import run_episode

    env = gym.make(ENV_ID)
    merges, ops, scores = [], {}, {}
    for i in range(episodes):
        result = run_episode(env, agent, split="heldout", episode_seed=seed + i)
        merges.append(env.unwrapped.merges)
        for op, n in result["ops"].items():
            ops[op] = ops.get(op, 0) + n
        for record in result["records"]:
            scores.setdefault(record["kind"], []).append(record["score"])
    env.close()
    ops["update (overwrite)"] = ops.pop("update", 0) - sum(merges)
    ops["update (merge)"] = sum(merges)
    all_scores = [s for v in scores.values() for s in v]
    return {"qa": float(np.mean(all_scores)), "qa_ci95": common.ci95(all_scores),
        "per_kind": {k: float(np.mean(v)) for k, v in sorted(scores.items())},
        "ops_per_episode": {k: v / episodes for k, v in sorted(ops.items())}}


def train(config_name: str, out: Path, minutes: float, steps: int, seed: int
          ) -> tuple[Any, dict[str, Any]]:
    from memgym.loading import load_policy_agent

    config, run, seconds = common.train_timed(
        common.ROOT / "configs" / "recipes" / f"{config_name}.yaml", [
            f"output_dir={out}", f"max_minutes={minutes}", f"total_timesteps={steps}",
            "progress=false", f"seed={seed}"])
    curve = run.read_curve()
    return load_policy_agent(str(run.path)), {
        "config": f"configs/recipes/{config_name}.yaml", "backend": config.backend,
        "trained_steps": (run.latest_checkpoint() or (None, None))[1],
        "wall_minutes": round(seconds / 60, 2),
        "curve": [{"steps": p["steps"], "qa": round(p["qa_score"], 3)} for p in curve]}


def main() -> None:
    args = common.trainer_parser(__doc__.splitlines()[0], per="trainer", minutes=4.0,
                                 steps=150_000).parse_args()

    import torch

    import memgym  # noqa: F401
    from memgym.agents.baselines import RandomAgent, SalienceAgent
    from memgym.recipes.memory_r1 import MemoryR1Oracle, OverwriteHeuristic

    torch.set_num_threads(1)
    agents: dict[str, Any] = {"random": RandomAgent(), "salience": SalienceAgent(),
                              "heuristic (overwrite)": OverwriteHeuristic(),
                              "oracle (labels)": MemoryR1Oracle()}
    rows = {name: policy_stats(agent, args.episodes, 10_000) for name, agent in agents.items()}
    training = {}
    for label, config in (("PPO", "memory_r1_ppo"), ("GRPO", "memory_r1_grpo")):
        agent, training[label] = train(config, args.out, args.minutes, args.steps, args.seed)
        rows[label] = policy_stats(agent, args.episodes, 10_000)
    result = {"benchmark": "recipes/memory_r1", "env_id": ENV_ID, "claim": CLAIM,
              "episodes": args.episodes, "split": "heldout", "budget_minutes": args.minutes,
              "budget_steps": args.steps, "managers": rows, "training": training}
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "memory_r1.json").write_text(json.dumps(result, indent=2) + "\n")
    kinds = sorted({k for r in rows.values() for k in r["per_kind"]})
    lines = [f"# Memory-R1 recipe ({ENV_ID}, {args.episodes} held-out episodes)", "",
             f"Paper: {CLAIM}", "",
             "| manager | EM (±95%) | " + " | ".join(kinds) + " | merges / ep | overwrites / ep |",
             "|---|---|" + "---|" * len(kinds) + "---|---|"]
    for name, r in rows.items():
        ops = r["ops_per_episode"]
        lines.append(f"| {name} | {r['qa']:.3f} ± {r['qa_ci95']:.3f} | " + " | ".join(
            f"{r['per_kind'].get(k, 0.0):.2f}" for k in kinds)
            + f" | {ops.get('update (merge)', 0):.2f} | {ops.get('update (overwrite)', 0):.2f} |")
    lines += ["", "Trained policies are evaluated at their best held-out checkpoint; steps are the "
              "final checkpoint's.", "",
              "| trainer | steps | wall min | held-out curve (steps: EM) |", "|---|---|---|---|"]
    for label, t in training.items():
        curve = ", ".join(f"{p['steps'] // 1000}k: {p['qa']:.2f}" for p in t["curve"])
        lines.append(f"| {label} | {t['trained_steps']:,} | {t['wall_minutes']} | {curve} |")
    (args.results / "memory_r1.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
