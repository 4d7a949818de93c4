"""Time to 0.9x the oracle on the default recipe (issue: the default recipe reaches 0.9x oracle
within 60 s on 2 cores), beside the recipe's previous flat-MLP settings, in one run.

For each setting and seed: train ``configs/default.yaml`` (plus the setting's overrides) with
a checkpoint every ``--every`` steps and no evaluation, for at most ``--minutes``; afterwards
the checkpoints are scored on ``val`` in order, and the first whose val QA reaches 0.9x the
oracle's gives the time (training wall clock when it was written) and the steps; that
checkpoint alone is scored on ``heldout`` once. The same for a stricter val target
(``--stricter``, 0.95x): held-out streams (disjoint names, values and templates) score a
little below val, so a checkpoint at 0.9x on val can sit below 0.9x on held-out. Model
selection reads only ``val``.

Writes ``benchmarks/results/time_to_oracle.json`` and ``.md``.

    python benchmarks/time_to_oracle.py [--seeds 0 1 2] [--minutes 3]
        [--settings pointer flat_mlp pointer_no_prefetch]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
CONFIG = ROOT / "configs" / "default.yaml"
#: The default recipe's settings before the slot-pointer policy (commit 0a0c2a1).
FLAT_MLP = ["algo.policy=null", "algo.n_envs=16", "algo.hyperparams.n_steps=64",
            "algo.hyperparams.batch_size=256", "algo.hyperparams.n_epochs=10",
            "algo.hyperparams.learning_rate=lin_1.0e-3", "algo.policy_kwargs={net_arch: [128, 128]}"]
SETTINGS = {"pointer": [], "flat_mlp": FLAT_MLP,
            "pointer_no_prefetch": ["env.kwargs.prefetch_workers=0"]}
LABELS = {"pointer": "default (slot pointer, 1 prefetch worker)",
          "flat_mlp": "previous default (flat MLP)",
          "pointer_no_prefetch": "default without the prefetch worker"}


def one_run(name: str, overrides: list[str], seed: int, args: argparse.Namespace,
            oracle_val: float) -> dict[str, Any]:
    """Train with a checkpoint every ``args.every`` steps and no periodic evaluation; then
    score the checkpoints in order on val until one reaches 0.9x the oracle."""
    from memgym.loading import load_policy_agent
    from memgym.training import load_config, train_from_config
    from memgym.training.run import RunFolder

    config = load_config(CONFIG, [
        f"output_dir={args.out}", f"name={name}-s{seed}", f"seed={seed}", "progress=false",
        "eval.baselines=[]", "eval.lengths=[]", "eval.freq=1000000000",
        f"checkpoint_freq={args.every}", f"max_minutes={args.minutes}", *overrides])
    folder = RunFolder.for_config(config)
    start = time.time()
    train_from_config(config, overwrite=True)
    seconds = time.time() - start
    checkpoints = sorted(folder.checkpoints.glob("step_*.zip"))
    row: dict[str, Any] = {"seed": seed, "train_seconds": seconds, "val": [],
                           "steps_trained": int(checkpoints[-1].stem[5:]) if checkpoints else 0,
                           "reached": {}}
    targets = sorted({0.9, args.stricter})
    for path in checkpoints:
        agent = load_policy_agent(str(path))
        val = qa(agent, config.env.id, "val", args.episodes)
        # The file's write time: training time up to this checkpoint, no evaluation in it.
        at = path.stat().st_mtime - start
        row["val"].append((int(path.stem[5:]), val, at))
        for target in [t for t in targets if str(t) not in row["reached"]]:
            if val >= target * oracle_val:
                row["reached"][str(target)] = {
                    "seconds": at, "steps": int(path.stem[5:]),
                    "heldout_qa": qa(agent, config.env.id, "heldout", args.episodes)}
        if len(row["reached"]) == len(targets):
            break
    return row


def qa(agent: Any, env_id: str, split: str, episodes: int) -> float:
    from memgym.agents.evaluate import evaluate_agents

    report = evaluate_agents([agent], env_id, episodes=episodes, split=split)
    return float(next(iter(report["agents"].values()))["qa_score"])


def markdown(result: dict[str, Any]) -> str:
    lines = [
        "# Time to 0.9x the oracle, default recipe (KVUpdates-Medium, MaskablePPO, 2 cores)", "",
        f"Val oracle QA {result['oracle_val']:.3f} (target: val QA >= "
        f"{0.9 * result['oracle_val']:.3f}); a checkpoint every {result['every']} steps, at "
        f"most {result['minutes']} min of training per run; the checkpoints are scored on val "
        f"({result['episodes']} episodes) afterwards, in order: seconds are the training wall "
        "clock up to the first one at 0.9x (no evaluation in it). Held-out QA: that "
        f"checkpoint, {result['episodes']} episodes, scored once.", "",
        "| setting | seed | val target | seconds | steps | held-out QA then | fps |",
        "|---|---|---|---|---|---|---|",
    ]
    for key, runs in result["settings"].items():
        name = LABELS[key]
        for target in sorted({"0.9", str(result["stricter"])}):
            times = []
            for r in runs:
                fps = r["steps_trained"] / r["train_seconds"] if r["train_seconds"] else 0.0
                hit = r["reached"].get(target)
                if hit is None:
                    lines.append(f"| {name} | {r['seed']} | {target}x | not within "
                                 f"{result['minutes']} min | - | - | {fps:,.0f} |")
                    continue
                times.append(hit["seconds"])
                lines.append(f"| {name} | {r['seed']} | {target}x | {hit['seconds']:.1f} | "
                             f"{hit['steps']:,} | {hit['heldout_qa']:.3f} | {fps:,.0f} |")
            if times:
                lines.append(f"| {name} | median | {target}x | {float(np.median(times)):.1f} "
                             f"({len(times)} of {len(runs)} reached it) | | | |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--minutes", type=float, default=3.0, help="training cap per run")
    parser.add_argument("--every", type=int, default=10_000, help="checkpoint interval (steps)")
    parser.add_argument("--episodes", type=int, default=50, help="val / held-out episodes")
    parser.add_argument("--stricter", type=float, default=0.95,
                        help="a second val target (x the oracle), also reported")
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "bench-time-to-oracle")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    import torch

    import memgym  # noqa: F401
    from memgym.agents.baselines import BASELINES
    from memgym.training import load_config

    torch.set_num_threads(1)
    env_id = load_config(CONFIG, []).env.id
    result: dict[str, Any] = {"config": str(CONFIG.relative_to(ROOT)), "env_id": env_id,
                              "seeds": args.seeds, "minutes": args.minutes, "every": args.every,
                              "episodes": args.episodes, "stricter": args.stricter,
                              "oracle_val": qa(BASELINES["oracle"](), env_id, "val", args.episodes),
                              "settings": {}}
    for name in args.settings:
        result["settings"][name] = [one_run(name, SETTINGS[name], seed, args, result["oracle_val"])
                                    for seed in args.seeds]
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "time_to_oracle.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.results / "time_to_oracle.md").write_text(markdown(result))
    print(markdown(result))
    return result


if __name__ == "__main__":
    main()
