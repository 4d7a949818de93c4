"""ReMemR1 recipe benchmark: the alpha ablation and where rereads help (CPU, a few minutes).

1. alpha ablation: MaskablePPO from ``configs/recipes/rememr1.yaml`` with alpha in
   {0.2, 0.8, 1.0} (1.0 = outcome-only), each for the same number of environment steps and
   several seeds; held-out QA on ReMemR1-Medium and ReMemR1-Long;
2. rereads vs stream length: the alpha = 0.8 policies against the same recipe trained without
   the reread op (``memgym/ReMemR1-NoReread-Medium-v0``), and FIFO against FIFO + reread, on
   held-out Short (memory holds every fact), Medium and Long (facts overwritten) streams.

Writes ``benchmarks/results/recipes/rememr1.json`` and ``rememr1.md``.

    python benchmarks/recipes/rememr1.py [--steps 20000] [--seeds 0 1] [--episodes 40]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

import common  # this folder's shared helpers (the script's folder is on sys.path)

CONFIG = common.ROOT / "configs" / "recipes" / "rememr1.yaml"
LEVELS = ("Short", "Medium", "Long")
PAPER = ("ReMemR1 (Shi et al. 2025) ablation: alpha = 0.8 beats outcome-only alpha = 1.0 and a "
         "small alpha; callbacks (rereads) matter most on long inputs where memory overwrites "
         "evidence.")


def train_policy(out: Path, name: str, overrides: list[str], curve_every: int
                 ) -> tuple[Any, list[dict[str, Any]], float]:
    """Train from the recipe config: the final policy as an agent, its held-out learning curve
    (QA on 20 Medium episodes every ``curve_every`` steps) and the training seconds."""
    import torch

    from memgym.loading import load_policy_agent

    torch.set_num_threads(1)
    _, run, seconds = common.train_timed(CONFIG, [
        f"output_dir={out}", f"name={name}", "progress=false", "eval.baselines=[]",
        "eval.lengths=[]", "eval.episodes=20", f"eval.freq={curve_every}", *overrides])
    final = run.latest_checkpoint()  # the final policy, not the best-on-eval one
    return load_policy_agent(str(final[0])), run.read_curve(), seconds


#: Reset options of every evaluation (``--stale-rate`` adds stale values to the streams).
EVAL_OPTIONS: dict[str, Any] = {}


def evaluate(agent: Any, env_id: str, episodes: int) -> dict[str, float]:
    from memgym.agents.evaluate import evaluate_agents

    summary = next(iter(evaluate_agents([agent], env_id, episodes=episodes,
                                        options=EVAL_OPTIONS)["agents"].values()))
    return {"qa": summary["qa_score"], "ci95": summary["qa_ci95"],
            "rereads": summary["ops_per_episode"].get("reread", 0.0),
            "return": summary["return"]}


def spread(values: list[float]) -> dict[str, float]:
    return {"mean": float(np.mean(values)), "min": float(np.min(values)),
            "max": float(np.max(values)), "values": [float(v) for v in values]}


def run(steps: int, seeds: list[int], alphas: list[float], episodes: int, out: Path,
        stale_rate: float = 0.0, length_study: bool = True) -> dict[str, Any]:
    curve_every = max(steps // 5, 1)
    extra: list[str] = []
    if stale_rate:  # the registered Medium task parameters plus stale values
        extra = [f"env.kwargs.task_params={{length: 24, n_keys: 3, stale_rate: {stale_rate}}}",
                 f"eval.options={{stale_rate: {stale_rate}}}"]
        EVAL_OPTIONS["stale_rate"] = stale_rate
    import memgym  # noqa: F401
    from memgym.agents.evaluate import evaluate_agents
    from memgym.recipes.rememr1 import RereadFIFOAgent

    result: dict[str, Any] = {"steps": steps, "seeds": seeds, "episodes": episodes,
                              "stale_rate": stale_rate, "alpha": {}, "length": {},
                              "train_seconds": 0.0}
    policies: dict[str, list[Any]] = {"reread": [], "noreread": []}
    reread_alpha = 0.8 if 0.8 in alphas else alphas[0]  # the policies of the length study
    result["length_alpha"] = reread_alpha
    for alpha in alphas:
        runs, curves = [], []
        for seed in seeds:
            agent, curve, seconds = train_policy(out, f"a{alpha}-s{seed}", [
                f"env.kwargs.alpha={alpha}", f"seed={seed}", f"total_timesteps={steps}", *extra],
                curve_every)
            result["train_seconds"] += seconds
            curves.append(curve)
            runs.append({lvl: evaluate(agent, f"memgym/ReMemR1-{lvl}-v0", episodes)
                         for lvl in ("Medium", "Long")})
            if alpha == reread_alpha:
                policies["reread"].append(agent)
        result["alpha"][str(alpha)] = {
            lvl: {"qa": spread([r[lvl]["qa"] for r in runs]),
                  "rereads": spread([r[lvl]["rereads"] for r in runs])}
            for lvl in ("Medium", "Long")}
        # Sample efficiency: mean held-out QA over the learning curve (area under it).
        result["alpha"][str(alpha)]["curve"] = [
            {"steps": p["steps"], "qa": [p["qa_score"]]} for p in curves[0]]
        for curve in curves[1:]:
            for point, p in zip(result["alpha"][str(alpha)]["curve"], curve):
                point["qa"].append(p["qa_score"])
        result["alpha"][str(alpha)]["curve_mean"] = spread(
            [float(np.mean([p["qa_score"] for p in c])) for c in curves])
    for seed in seeds if length_study else []:
        agent, _, seconds = train_policy(out, f"noreread-s{seed}", [
            "env.id=memgym/ReMemR1-NoReread-Medium-v0", f"env.kwargs.alpha={reread_alpha}",
            f"seed={seed}", f"total_timesteps={steps}"], steps)
        result["train_seconds"] += seconds
        policies["noreread"].append(agent)
    for lvl in LEVELS if length_study else []:
        reread = [evaluate(a, f"memgym/ReMemR1-{lvl}-v0", episodes)["qa"]
                  for a in policies["reread"]]
        noreread = [evaluate(a, f"memgym/ReMemR1-NoReread-{lvl}-v0", episodes)["qa"]
                    for a in policies["noreread"]]
        heur = evaluate_agents(["fifo", RereadFIFOAgent(), "oracle"], f"memgym/ReMemR1-{lvl}-v0",
                               episodes=episodes)["agents"]
        result["length"][lvl] = {
            "ppo_reread": spread(reread), "ppo_noreread": spread(noreread),
            "ppo_gain": float(np.mean(reread) - np.mean(noreread)),
            "fifo": heur["fifo"]["qa_score"], "fifo_reread": heur["fifo+reread"]["qa_score"],
            "oracle": heur["oracle"]["qa_score"]}
    return result


def fmt_spread(s: dict[str, float]) -> str:
    return f"{s['mean']:.3f} [{s['min']:.3f}, {s['max']:.3f}]"


def markdown(result: dict[str, Any]) -> str:
    lines = [
        "# ReMemR1 recipe (memgym/ReMemR1-*-v0)", "",
        f"MaskablePPO, {result['steps']} env steps per run, seeds {result['seeds']}, "
        f"{result['episodes']} held-out episodes per evaluation; stale_rate "
        f"{result['stale_rate']}; total training "
        f"{result['train_seconds'] / 60:.1f} min. Mean [min, max] over seeds.", "",
        f"Paper's claim: {PAPER}", "",
        "## alpha ablation (r = alpha * outcome + (1 - alpha) * (recall gain + reread bonus))", "",
        "| alpha | final QA Medium | final QA Long | mean QA over the learning curve "
        "(Medium) | rereads / episode (Medium) |", "|---|---|---|---|---|",
    ]
    for alpha, row in result["alpha"].items():
        lines.append(f"| {alpha} | {fmt_spread(row['Medium']['qa'])} | "
                     f"{fmt_spread(row['Long']['qa'])} | {fmt_spread(row['curve_mean'])} | "
                     f"{row['Medium']['rereads']['mean']:.2f} |")
    steps = [str(p["steps"]) for p in next(iter(result["alpha"].values()))["curve"]]
    lines += ["", "Learning curves (held-out QA on 20 Medium episodes, mean over seeds):", "",
              "| alpha | " + " | ".join(f"{s} steps" for s in steps) + " |",
              "|---|" + "---|" * len(steps)]
    for alpha, row in result["alpha"].items():
        lines.append(f"| {alpha} | " + " | ".join(f"{np.mean(p['qa']):.3f}"
                                                  for p in row["curve"]) + " |")
    if not result["length"]:
        return "\n".join(lines) + "\n"
    lines += ["", "## Rereads vs stream length (held-out QA)", "",
              f"| stream | PPO + reread (alpha {result['length_alpha']}) | PPO no reread | gain "
              "| FIFO | FIFO + reread | oracle |", "|---|---|---|---|---|---|---|"]
    for lvl, row in result["length"].items():
        lines.append(f"| {lvl} | {fmt_spread(row['ppo_reread'])} | "
                     f"{fmt_spread(row['ppo_noreread'])} | {row['ppo_gain']:+.3f} | "
                     f"{row['fifo']:.3f} | {row['fifo_reread']:.3f} | {row['oracle']:.3f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--alphas", type=float, nargs="+", default=[0.2, 0.8, 1.0])
    parser.add_argument("--episodes", type=int, default=40)
    parser.add_argument("--stale-rate", type=float, default=0.0,
                        help="streams with stale values (the recall proxy no longer implies a "
                             "right answer); writes rememr1_stale.*, skips the length study")
    parser.add_argument("--results", type=Path, default=common.RESULTS)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        result = run(args.steps, args.seeds, args.alphas, args.episodes, Path(tmp),
                     args.stale_rate, length_study=not args.stale_rate)
    result["paper_claim"] = PAPER
    stem = "rememr1_stale" if args.stale_rate else "rememr1"
    common.write_results(args.results, stem, result, markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
