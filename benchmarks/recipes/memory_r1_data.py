"""Memory-R1's data efficiency: a manager trained on ~152 QA pairs' worth of streams.

Memory-R1 trains its manager on 152 QA pairs (one LoCoMo conversation's worth) and reports
that this is enough. Here the small MaskablePPO manager of ``configs/recipes/memory_r1_ppo.yaml``
is trained twice with the same step budget:

- on a fixed training set of 26 streams (``env.kwargs.episode_pool: 26``; 6 questions each:
  156 QA pairs, the closest whole number of streams to 152), every reset drawing one of them;
- on fresh streams (a new one every reset: unlimited data),

and both are scored once on the same held-out streams beside the overwrite heuristic (the
paper's vanilla manager) and the label-reading oracle. ``best/`` is chosen on val.

Writes ``benchmarks/results/recipes/memory_r1_data.{json,md}``.

    nice -n 10 python benchmarks/recipes/memory_r1_data.py [--steps 300000] [--episodes 200]
"""

from __future__ import annotations

import json
from typing import Any

import common  # this folder's shared helpers (the script's folder is on sys.path)
from memory_r1 import ENV_ID, policy_stats  # the Memory-R1 benchmark's own evaluation

CONFIG = common.ROOT / "configs" / "recipes" / "memory_r1_ppo.yaml"
QUESTIONS_PER_STREAM = 6
PAPER_QA_PAIRS = 152
POOL = -(-PAPER_QA_PAIRS // QUESTIONS_PER_STREAM)  # 25.3 -> 26 streams, 156 QA pairs
CLAIM = ("Memory-R1: 152 training QA pairs are enough for the RL-trained memory manager to "
         "beat the heuristic manager (data-efficient RL).")


def train(label: str, overrides: list[str], args: Any) -> tuple[Any, dict[str, Any]]:
    from memgym.loading import load_policy_agent

    config, run, seconds = common.train_timed(CONFIG, [
        f"output_dir={args.out}", f"name=memory_r1-data-{label}", f"max_minutes={args.minutes}",
        f"total_timesteps={args.steps}", "progress=false", f"seed={args.seed}",
        "eval.baselines=[]", *overrides])
    curve = run.read_curve()
    return load_policy_agent(str(run.path)), {
        "overrides": overrides, "trained_steps": (run.latest_checkpoint() or (None, None))[1],
        "wall_minutes": round(seconds / 60, 2),
        "val_curve": [{"steps": p["steps"], "qa": round(p["qa_score"], 3)} for p in curve]}


def main() -> None:
    parser = common.trainer_parser(__doc__.splitlines()[0], per="policy", minutes=6.0,
                                   steps=300_000)
    args = parser.parse_args()

    import torch

    import memgym  # noqa: F401
    from memgym.recipes.memory_r1 import MemoryR1Oracle, OverwriteHeuristic

    torch.set_num_threads(1)
    rows = {"heuristic (overwrite)": policy_stats(OverwriteHeuristic(), args.episodes, 10_000),
            "oracle (labels)": policy_stats(MemoryR1Oracle(), args.episodes, 10_000)}
    training = {}
    arms = ((f"PPO, {POOL} streams ({POOL * QUESTIONS_PER_STREAM} QA pairs)", "pool",
             [f"env.kwargs.episode_pool={POOL}"]),
            ("PPO, fresh streams", "fresh", []))
    for name, label, overrides in arms:
        agent, training[name] = train(label, overrides, args)
        rows[name] = policy_stats(agent, args.episodes, 10_000)
    result = {"benchmark": "recipes/memory_r1_data", "env_id": ENV_ID, "claim": CLAIM,
              "pool_streams": POOL, "pool_qa_pairs": POOL * QUESTIONS_PER_STREAM,
              "episodes": args.episodes, "split": "heldout", "budget_steps": args.steps,
              "managers": rows, "training": training}
    lines = [f"# Memory-R1 data efficiency ({ENV_ID}, {args.episodes} held-out episodes)", "",
             f"Paper: {CLAIM}", "",
             "| manager | EM (±95%) | merge | update | merges / ep | overwrites / ep |",
             "|---|---|---|---|---|---|"]
    for name, r in rows.items():
        ops, kinds = r["ops_per_episode"], r["per_kind"]
        lines.append(f"| {name} | {r['qa']:.3f} ± {r['qa_ci95']:.3f} | "
                     f"{kinds.get('merge', 0.0):.2f} | {kinds.get('update', 0.0):.2f} | "
                     f"{ops.get('update (merge)', 0):.2f} | {ops.get('update (overwrite)', 0):.2f} |")
    lines += ["", "| trainer | steps | wall min | val curve (steps: EM) |", "|---|---|---|---|"]
    for name, t in training.items():
        curve = ", ".join(f"{p['steps'] // 1000}k: {p['qa']:.2f}" for p in t["val_curve"])
        lines.append(f"| {name} | {t['trained_steps']:,} | {t['wall_minutes']} | {curve} |")
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "memory_r1_data.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.results / "memory_r1_data.md").write_text("\n".join(lines + [""]))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
