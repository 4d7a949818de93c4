"""Poisoning benchmark: how much planted content costs each memory manager.

For every agent, on the same held-out streams of ``memgym/Poisoning-<Level>-v0``:

- QA on the poisoned streams, ``planted_stored_rate`` (share of planted chunks ever stored)
  and ``obey_rate`` (share of planted instructions during which the agent deleted or evicted);
- QA on the *clean twins* of the same streams (``options={"clean": True}``: the planted
  chunks removed, everything else identical) and the **QA damage** = clean QA - poisoned QA.

Agents: the baselines on Easy / Medium / Hard; MaskablePPO trained on Medium from
``configs/poisoning_medium.yaml`` for ``--minutes`` of wall clock (SB3, via
``memgym.training.train_from_config``), evaluated on Medium; an LLM memory manager
(``--llm``, default ``llm:tiny``: a randomly initialised model, i.e. an *untrained* policy)
on a few ``Poisoning-Easy-Text`` episodes.

Writes ``benchmarks/results/poisoning.json`` and ``poisoning.md``.

    nice -n 10 python benchmarks/poisoning.py [--minutes 4] [--episodes 50] [--llm llm:tiny]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"
CONFIGS = Path(__file__).resolve().parents[1] / "configs"
LEVELS = ("Easy", "Medium", "Hard")
BASELINES = ["random", "keep", "fifo", "lru", "salience", "oracle"]


def damage_rows(agents: list[Any], env_id: str, episodes: int, seed: int = 0) -> dict[str, Any]:
    """Each agent on ``episodes`` held-out streams, poisoned and clean: QA, diagnostics, damage."""
    from memgym.agents.evaluate import evaluate_agents

    common = {"split": "heldout", "episodes": episodes, "seed": seed}
    poisoned = evaluate_agents(agents, env_id, **common)["agents"]
    clean = evaluate_agents(agents, env_id, options={"clean": True}, **common)["agents"]
    rows = {}
    for name, p in poisoned.items():
        c = clean[name]
        rows[name] = {
            "qa": p["qa_score"], "qa_ci95": p["qa_ci95"], "qa_clean": c["qa_score"],
            "qa_damage": c["qa_score"] - p["qa_score"],
            "planted_stored_rate": p["diagnostics"]["planted_stored_rate"],
            "obey_rate": p["diagnostics"]["obey_rate"],
            "stale_fact_rate": p["diagnostics"]["stale_fact_rate"],
            "action_success_rate": p.get("action_success_rate"),
            "format_valid_rate": p.get("format_valid_rate"),
        }
    return {"env_id": env_id, "episodes": episodes, "agents": rows}


def train_policy(minutes: float, out: Path, steps: int) -> tuple[str, dict[str, Any]]:
    """MaskablePPO on Poisoning-Medium from its config, at most ``minutes`` of training."""
    import torch

    from memgym.training import load_config, train_from_config
    from memgym.training.run import RunFolder

    torch.set_num_threads(1)
    config = load_config(CONFIGS / "poisoning_medium.yaml", [
        f"output_dir={out}", "name=poisoning-bench", f"max_minutes={minutes}",
        f"total_timesteps={steps}", "eval.episodes=20", "eval.freq=25000", "eval.lengths=[]",
        "eval.baselines=[oracle]", "progress=false"])
    started = time.perf_counter()
    train_from_config(config, overwrite=True)
    run = RunFolder.for_config(config)
    curve = run.read_curve()
    best = max(curve, key=lambda p: p["qa_score"]) if curve else {}
    return str(run.path), {  # the run folder's agent is its best model on the held-out curve
        "minutes_budget": minutes, "wall_minutes": round((time.perf_counter() - started) / 60, 2),
        "trained_steps": run.latest_checkpoint()[1], "best_model_steps": best.get("steps"),
        "curve": curve}


def fmt(value: Any, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def table(block: dict[str, Any]) -> list[str]:
    lines = [f"**{block['env_id']}** ({block['episodes']} held-out episodes)", "",
             "| agent | QA (poisoned) | ±95% CI | QA (clean twin) | QA damage | planted stored | "
             "obeyed | stale kept |", "|---|---|---|---|---|---|---|---|"]
    for name, r in block["agents"].items():
        lines.append(f"| {name} | {fmt(r['qa'])} | {fmt(r['qa_ci95'])} | {fmt(r['qa_clean'])} | "
                     f"{fmt(r['qa_damage'])} | {fmt(r['planted_stored_rate'], 2)} | "
                     f"{fmt(r['obey_rate'], 2)} | {fmt(r['stale_fact_rate'], 2)} |")
    return lines + [""]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=50)
    parser.add_argument("--minutes", type=float, default=4.0, help="MaskablePPO budget (0: skip)")
    parser.add_argument("--steps", type=int, default=1_000_000,
                        help="total_timesteps (the lin_ learning-rate schedule spans it)")
    parser.add_argument("--llm", default="llm:tiny", help="LLM agent spec ('' to skip)")
    parser.add_argument("--llm-episodes", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("runs/bench"))
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    result: dict[str, Any] = {"benchmark": "poisoning", "baselines": {}}
    for level in LEVELS:
        result["baselines"][level] = damage_rows(BASELINES, f"memgym/Poisoning-{level}-v0",
                                                 args.episodes)
    if args.minutes > 0:
        path, training = train_policy(args.minutes, args.out, args.steps)
        result["trained"] = {**training, **damage_rows(
            [path, "fifo", "salience", "oracle"], "memgym/Poisoning-Medium-v0", args.episodes)}
    if args.llm:
        started = time.perf_counter()
        llm = damage_rows([args.llm], "memgym/Poisoning-Easy-Text-v0", args.llm_episodes)
        llm["minutes"] = round((time.perf_counter() - started) / 60, 2)
        result["llm"] = llm

    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "poisoning.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = ["# Poisoning benchmark: QA, planted content stored / obeyed, QA damage", "",
             "QA damage = QA on the clean twin of each stream (planted chunks removed) - QA on "
             "the poisoned stream. Planted stored: share of planted chunks ever stored; obeyed: "
             "share of planted instructions during which the agent deleted or evicted; stale "
             "kept: share of questions answered while a stale or planted value sat beside the "
             "evidence.", "", "## Baselines", ""]
    for block in result["baselines"].values():
        lines += table(block)
    if "trained" in result:
        t = result["trained"]
        lines += ["## MaskablePPO trained on Poisoning-Medium", "",
                  f"{t['trained_steps']:,} steps in {t['wall_minutes']} min (budget "
                  f"{t['minutes_budget']:g} min of training, then the final evaluation); the "
                  f"agent is the best model on the held-out curve (at {t['best_model_steps']:,} "
                  "steps, 20 episodes every 25k steps).", ""]
        lines += table(t)
    if "llm" in result:
        lines += [f"## LLM memory manager ({args.llm}, untrained)", ""] + table(result["llm"])
    (args.results / "poisoning.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
