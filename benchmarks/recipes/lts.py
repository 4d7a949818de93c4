"""LTS recipe benchmark: learned admission vs admit-all / admit-none at equal budget.

1. trains MaskablePPO from ``configs/recipes/lts.yaml`` (admit / skip per chunk, 6-entry
   memory with forced FIFO eviction, reward = reuse credit - sparsity cost) for at most
   ``--minutes``;
2. evaluates it on held-out streams beside admit-all, admit-none, random admission and the
   hand-written admit-facts rule, all at the same budget, on the same streams: QA (EM),
   the training reward (reuse credit - admission cost), admissions per episode and the
   share of admissions ever credited (admission precision).

Writes ``benchmarks/results/recipes/lts.json`` and ``lts.md``.

    nice -n 10 python benchmarks/recipes/lts.py [--minutes 4] [--episodes 50]
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

import common  # this folder's shared helpers (the script's folder is on sys.path)

CONFIG = common.ROOT / "configs" / "recipes" / "lts.yaml"
ENV_ID = "memgym/LTS-Admission-v0"
BASELINES = ("admit_all", "admit_none", "admit_random", "admit_facts")
CLAIM = ("LTS: a learned admission policy trained with reuse-based credit and a sparsity "
         "penalty stores fewer items and answers better than admitting everything (or "
         "nothing) under the same memory budget.")


def evaluate(agent: Any, episodes: int) -> dict[str, Any]:
    """QA, reward, admissions and admission precision of one agent on held-out streams."""
    import gymnasium as gym

    from memgym.agents.evaluate import make_agent

    env = gym.make(ENV_ID)
    agent = make_agent(agent)
    rows = []
    try:
        for seed in range(episodes):
            obs, info = env.reset(seed=seed, options={"split": "heldout", "episode_seed": seed})
            agent.reset(env, seed=seed)
            total, done = 0.0, False
            while not done:
                obs, reward, done, _, info = env.step(agent.act(obs, info, env))
                total += reward
            core = env.unwrapped.core
            rows.append({"qa": info["qa_score"], "reward": total,
                         "admissions": core.op_counts["add"] + core.op_counts["update"],
                         "precision": info["admission_precision"]})
    finally:
        env.close()
    qa = [r["qa"] for r in rows]
    precision = [r["precision"] for r in rows if r["precision"] is not None]
    return {"qa": float(np.mean(qa)), "qa_ci95": common.ci95(qa),
            "reward": float(np.mean([r["reward"] for r in rows])),
            "admissions": float(np.mean([r["admissions"] for r in rows])),
            "admission_precision": float(np.mean(precision)) if precision else None,
            "episodes": episodes}


def run(minutes: float, steps: int, episodes: int) -> dict[str, Any]:
    import torch

    torch.set_num_threads(1)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        policy, curve = common.train_within_budget(CONFIG, Path(tmp), minutes, steps)
        train_minutes = (time.perf_counter() - started) / 60
        table = {"learned": evaluate(policy, episodes)}
        table.update({name: evaluate(name, episodes) for name in BASELINES})
    learned = table["learned"]["qa"]
    return {
        "claim": CLAIM, "env_id": ENV_ID, "budget_entries": 6, "episodes": episodes,
        "trained_steps": curve[-1]["steps"] if curve else 0,
        "train_minutes": round(train_minutes, 2), "curve": curve, "table": table,
        "learned_minus_admit_all": learned - table["admit_all"]["qa"],
        "learned_minus_admit_none": learned - table["admit_none"]["qa"],
        "learned_minus_admit_facts": learned - table["admit_facts"]["qa"],
        "wall_minutes": round((time.perf_counter() - started) / 60, 2),
    }


def markdown(result: dict[str, Any]) -> str:
    lines = ["# LTS recipe: learned admission control at equal budget", "",
             f"Paper claim: {result['claim']}", "",
             f"`{result['env_id']}`, {result['budget_entries']}-entry memory (FIFO eviction "
             f"when full), {result['episodes']} held-out streams; policy trained "
             f"{result['trained_steps']:,} steps ({result['train_minutes']} min incl. eval).", "",
             "| agent | QA (EM) | reward (reuse - cost) | admissions / episode | "
             "admission precision |", "|---|---|---|---|---|"]
    for name, r in result["table"].items():
        precision = r["admission_precision"]
        lines.append(f"| {name} | {r['qa']:.3f} ± {r['qa_ci95']:.3f} | {r['reward']:.3f} | "
                     f"{r['admissions']:.1f} | "
                     f"{'-' if precision is None else f'{precision:.2f}'} |")
    lines += ["", f"Learned - admit-all: {result['learned_minus_admit_all']:+.3f} QA; "
              f"learned - admit-none: {result['learned_minus_admit_none']:+.3f}; "
              f"learned - admit-facts rule: {result['learned_minus_admit_facts']:+.3f}.", ""]
    return "\n".join(lines)


def main() -> None:
    common.budget_main(__doc__.splitlines()[0], "lts", run, markdown, minutes=4.0, episodes=50)


if __name__ == "__main__":
    main()
