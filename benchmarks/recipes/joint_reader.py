"""Joint vs independent training of the memory manager and the memory selector (issue #21,
item 3; CoMAM: construction and retrieval agents trained jointly, local + global reward).

``memgym/Selector-Dialogue-v0``'s settings (8 candidates, pick up to 4, 0.02 per entry, a
16-entry memory with noop / add / update / delete), plus the manager's coverage term
(``rewards.evidence: 1.0``, reported to the manager only). RLlib multi-agent PPO
(:mod:`memgym.training.joint`), same env-step budget for both:

- **joint**: both policies learn together, ``alpha * local + (1 - alpha) * global`` each;
- **independent**: the manager learns against the fixed ``select_top_k`` selector (half the
  steps), then the selector against that manager, frozen (the other half).

Both pairs, each trained policy with its fixed partner, and the fixed baselines
(``add_only`` + ``select_top_k``: the Selector env's default pairing) are played greedily
on the same held-out episodes. No checkpoint selection: the final modules are evaluated.

Writes ``benchmarks/results/recipes/joint_reader.json`` and ``joint_reader.md``.

    python benchmarks/recipes/joint_reader.py [--steps 40000] [--episodes 100] [--alpha 0.5]
        [--credit-group 16]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import common  # this folder's shared helpers (the script's folder is on sys.path)

PAPER = ("CoMAM: construction and retrieval agents as one sequential MDP, local rewards mixed "
         "with the global QA reward; jointly trained beats independently trained.")


def run(steps: int, episodes: int, alpha: float, seed: int, out: Path,
        credit_group: int = 0) -> dict[str, Any]:
    from memgym.training.joint import (evaluate, selector_env_kwargs, summary, train_independent,
                                       train_joint)

    env = selector_env_kwargs(rewards={"evidence": 1.0}, alpha=alpha)
    seeds = list(range(10_000, 10_000 + episodes))
    start = time.perf_counter()
    joint = train_joint(env, steps, out, seed=seed)
    joint_s = time.perf_counter() - start
    start = time.perf_counter()
    ind = train_independent(env, steps, out, seed=seed)
    ind_s = time.perf_counter() - start
    credit = None
    if credit_group:
        start = time.perf_counter()
        credit = train_joint({**env, "credit_group": credit_group}, steps, out / "credit",
                             seed=seed)
        credit_s = time.perf_counter() - start
    jm, js = joint["modules"]["manager"], joint["modules"]["selector"]
    im, is_ = ind["modules"]["manager"], ind["modules"]["selector"]
    pairs = {"joint (both trained together)": (jm, js),
             "independent (manager vs top-k, then selector vs it)": (im, is_),
             "joint manager + select_top_k": (jm, "select_top_k"),
             "independent manager + select_top_k": (im, "select_top_k"),
             "add_only + joint selector": ("add_only", js),
             "add_only + select_top_k (fixed baselines)": ("add_only", "select_top_k")}
    if credit is not None:
        pairs[f"joint + CoMAM-style credit (group {credit_group})"] = (
            credit["modules"]["manager"], credit["modules"]["selector"])
    rows = {}
    for name, (manager, selector) in pairs.items():
        episodes_rows = evaluate(env, manager, selector, seeds, split="heldout")
        rows[name] = {**summary(episodes_rows),
                      "qa_scores": [r["qa_score"] for r in episodes_rows]}
    seconds = {"joint": round(joint_s, 1), "independent": round(ind_s, 1)}
    if credit is not None:
        seconds["credit"] = round(credit_s, 1)
    return {"paper": PAPER, "env": dict(env), "steps": steps, "alpha": alpha, "seed": seed,
            "credit_group": credit_group, "heldout_seeds": [seeds[0], seeds[-1]],
            "train_seconds": seconds,
            "samples": {"joint": {"env_steps": joint["env_steps"],
                                  "agent_steps": joint["agent_steps"]},
                        "independent": ind["phases"]},
            "rows": rows}


def markdown(result: dict[str, Any]) -> str:
    lines = [f"# Joint vs independent manager + selector ({result['steps']} env steps each, "
             f"alpha {result['alpha']}, seed {result['seed']})", "", result["paper"], "",
             f"Held-out episodes (seeds {result['heldout_seeds'][0]}-"
             f"{result['heldout_seeds'][1]}), greedy policies:", "",
             "| manager + selector | QA (mean ± 95% CI) | entries passed / question | "
             "selection evidence recall |", "|---|---|---|---|"]
    for name, row in result["rows"].items():
        recall = row["selection_recall"]
        rec = "n/a" if recall["mean"] is None else f"{recall['mean']:.3f} ± {recall['ci95']:.3f}"
        lines.append(f"| {name} | {row['qa_score']['mean']:.3f} ± {row['qa_score']['ci95']:.3f} "
                     f"| {row['entries_passed']['mean']:.2f} | {rec} |")
    s = result["samples"]
    seconds = ", ".join(f"{k} {v}" for k, v in result["train_seconds"].items())
    lines += ["", f"Training seconds: {seconds}. Samples per policy: joint "
              f"{s['joint']['agent_steps']}; independent phase 1 "
              f"{s['independent'][0]['agent_steps']}, phase 2 "
              f"{s['independent'][1]['agent_steps']} (the frozen manager's steps are not "
              "trained on).", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=40_000, help="env steps per arm")
    parser.add_argument("--episodes", type=int, default=100, help="held-out episodes")
    parser.add_argument("--alpha", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--credit-group", type=int, default=0,
                        help="also train a joint arm with the CoMAM-style credit over this "
                             "many episodes (0: no such arm)")
    parser.add_argument("--out", type=Path, default=None, help="run folder (default: a temp dir)")
    parser.add_argument("--results", type=Path, default=common.RESULTS)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="joint_reader") as tmp:
        result = run(args.steps, args.episodes, args.alpha, args.seed, args.out or Path(tmp),
                     args.credit_group)
    common.write_results(args.results, "joint_reader", result, markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
