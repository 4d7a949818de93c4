"""TRIM-KV recipe benchmark: score vs memory budget for learned eviction and heuristics.

1. trains MaskablePPO from ``configs/recipes/trim_kv.yaml`` (eviction choice, budget drawn
   per episode from 2, 4, 8, 16, 32) for at most ``--minutes``;
2. for each budget, on the same held-out streams: the learned policy, random eviction,
   FIFO (by write time), LRU, the recency-weighted heuristic (``recency``), the forgetting
   curves (``ebbinghaus``: MemoryBank; ``age_weighted``: HEMA; :mod:`memgym.agents.forgetting`), the salience
   rule and the oracle; the gap and ratio of the learned policy over the best of those five
   heuristics per budget;
3. the heuristics alone on the conflicting setting (values change, hedged rumours), where
   keeping more is not always better (no learned policy is trained there).

Writes ``benchmarks/results/recipes/trim_kv.json`` and ``trim_kv.md``.

    nice -n 10 python benchmarks/recipes/trim_kv.py [--minutes 5] [--episodes 30]
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import common  # this folder's shared helpers (the script's folder is on sys.path)

CONFIG = common.ROOT / "configs" / "recipes" / "trim_kv.yaml"
ENV_ID = "memgym/TrimKV-Eviction-v0"
BUDGETS = (2, 4, 8, 16, 32)
HEURISTICS = ("fifo_write", "lru", "recency", "ebbinghaus", "age_weighted")
REFERENCES = ("random", "salience", "oracle")
CONFLICT_KWARGS = {"task_params": {"length": 40, "n_keys": 6, "distractor_rate": 0.4,
                                   "update_rate": 0.8, "mid_stream_questions": 3},
                   "tiers": {"memory": {"entries": 8, "tokens": None}}, "budgets": (2, 4, 8)}
CLAIM = ("TRIM-KV: a learned per-token retention gate beats heuristic eviction (FIFO / "
         "recency windows, LRU-like and attention-score heuristics) at every KV budget, and "
         "its advantage is largest when the budget is smallest.")


def curve(agents: list[Any], budgets: tuple[int, ...], episodes: int,
          env_kwargs: dict[str, Any] | None = None) -> dict[str, dict[str, float]]:
    """``{agent: {budget: held-out QA}}`` on the same streams for every agent and budget."""
    from memgym.agents.evaluate import evaluate_agents

    out: dict[str, dict[str, float]] = {}
    for budget in budgets:
        report = evaluate_agents(agents, ENV_ID, episodes=episodes, options={"budget": budget},
                                 env_kwargs=env_kwargs)
        for name, summary in report["agents"].items():
            out.setdefault(name, {})[str(budget)] = summary["qa_score"]
    return out


def run(minutes: float, steps: int, episodes: int) -> dict[str, Any]:
    import torch

    torch.set_num_threads(1)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        policy, learning = common.train_within_budget(CONFIG, Path(tmp), minutes, steps)
        policy.name = "learned"
        train_minutes = (time.perf_counter() - started) / 60
        table = curve([policy, *HEURISTICS, *REFERENCES], BUDGETS, episodes)
    gaps = {}
    for b in map(str, BUDGETS):
        best = max(HEURISTICS, key=lambda h: table[h][b])
        learned, heuristic = table["learned"][b], table[best][b]
        gaps[b] = {"best_heuristic": best, "gap": learned - heuristic,
                   "ratio": learned / heuristic if heuristic else None,
                   "share_of_oracle": learned / table["oracle"][b] if table["oracle"][b] else None}
    conflict = curve([*HEURISTICS, *REFERENCES], CONFLICT_KWARGS["budgets"], episodes,
                     CONFLICT_KWARGS)
    return {"claim": CLAIM, "env_id": ENV_ID, "budgets": list(BUDGETS), "episodes": episodes,
            "trained_steps": learning[-1]["steps"] if learning else 0,
            "train_minutes": round(train_minutes, 2), "learning_curve": learning,
            "table": table, "learned_vs_best_heuristic": gaps,
            "conflict_setting": {"env_kwargs": CONFLICT_KWARGS, "table": conflict},
            "wall_minutes": round((time.perf_counter() - started) / 60, 2)}


def _table(table: dict[str, dict[str, float]], budgets: list[str]) -> list[str]:
    lines = ["| agent | " + " | ".join(f"budget {b}" for b in budgets) + " |",
             "|---" * (len(budgets) + 1) + "|"]
    for name, row in table.items():
        lines.append(f"| {name} | " + " | ".join(f"{row[b]:.3f}" for b in budgets) + " |")
    return lines


def markdown(result: dict[str, Any]) -> str:
    budgets = [str(b) for b in result["budgets"]]
    lines = ["# TRIM-KV recipe: learned eviction vs heuristics across budgets", "",
             f"Paper claim: {result['claim']}", "",
             f"`{result['env_id']}` (stable facts among chatter: keeping more never hurts), "
             f"held-out QA, {result['episodes']} streams per budget; one policy trained "
             f"across budgets, {result['trained_steps']:,} steps "
             f"({result['train_minutes']} min incl. eval).", ""]
    lines += _table(result["table"], budgets)
    lines += ["", "| budget | best heuristic | learned - it | learned / it | "
              "learned / oracle |", "|---|---|---|---|---|"]
    for b, g in result["learned_vs_best_heuristic"].items():
        ratio = "-" if g["ratio"] is None else f"{g['ratio']:.2f}x"
        share = "-" if g["share_of_oracle"] is None else f"{g['share_of_oracle']:.2f}"
        lines.append(f"| {b} | {g['best_heuristic']} | {g['gap']:+.3f} | {ratio} | {share} |")
    conflict = result["conflict_setting"]
    lines += ["", "Conflicting setting (values change, hedged rumours; heuristics only):", ""]
    lines += _table(conflict["table"], [str(b) for b in conflict["env_kwargs"]["budgets"]])
    return "\n".join(lines + [""])


def main() -> None:
    common.budget_main(__doc__.splitlines()[0], "trim_kv", run, markdown, minutes=5.0,
                       episodes=30)


if __name__ == "__main__":
    main()
