"""Learned reader benchmark (#21): the fixed top-k reader vs a learned memory selector.

1. trains MaskablePPO on ``configs/recipes/selector.yaml`` per stream (generated Dialogue and
   MultiHop; an ADD-only manager writes a 16-entry memory), the checkpoint chosen on ``val``,
   and on Dialogue the seed papers' reward choices too (Memory-R1's answer agent: outcome
   only; MemSifter: + rank-discounted credit; RMM: + the citation signal);
2. plays held-out streams: the selector baselines (``select_top_k`` = the fixed reader's rule,
   top-1, the whole budget, the label oracle, no memory) and the learned selector, answered by
   the env's extractive reader (the training reward) and by the LLM answerer (SmolLM2 from the
   shipped wheel; F1) on the first ``--llm-episodes`` streams;
3. with ``--data``: the LoCoMo dev file's held-out conversation (a FIFO manager over a
   ``--locomo-entries`` memory), the Dialogue-trained selector played unchanged;
4. with ``--joint``: the manager + selector pair trained jointly vs independently on the
   Dialogue settings (``joint_reader.py`` in this folder, RLlib multi-agent PPO).

Per agent: QA (mean ± 95% CI over episodes; over questions on LoCoMo), evidence recall of the
selected set, entries passed to the answerer per question. Writes
``benchmarks/results/recipes/learned_reader.{json,md}``.

    python benchmarks/recipes/learned_reader.py [--steps 60000] [--minutes 3] [--episodes 50]
        [--llm-episodes 10] [--data ../shared/data/locomo-dev/locomo-dev.json] [--joint]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

import common  # this folder's shared helpers (the script's folder is on sys.path)

CONFIG = common.ROOT / "configs" / "recipes" / "selector.yaml"
STREAMS = {"Dialogue": "memgym/Selector-Dialogue-v0", "MultiHop": "memgym/Selector-MultiHop-v0"}
BASELINES = ("select_top_k", "select_top_1", "select_budget", "select_oracle", "select_none")
LLM_AGENTS = ("select_top_k", "select_budget", "learned", "Memory-R1 answer agent",
              "MemSifter", "RMM")
#: The seed papers' reward choices (ids in memgym.recipes.ids), trained like the plain
#: selector and played on the plain selector's Dialogue env (same spaces, reward aside).
RECIPES = {"Memory-R1 answer agent": "memgym/MemoryR1-AnswerAgent-v0",
           "MemSifter": "memgym/MemSifter-v0", "RMM": "memgym/RMM-v0"}
LOCOMO_TASK = "memgym.tasks.locomo:LoCoMoTask"
CLAIM = ("Memory-R1's answer agent, MemSifter and RMM learn which retrieved memories the "
         "answerer reads; the learned selector passes fewer entries at equal or better QA.")


def llm_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The same env answered by SmolLM2 (the shipped wheel; F1, as LoCoMo scores)."""
    return {**kwargs, "reader": "llm", "metric": "f1",
            "reader_params": {"model": "smollm2", "batch_size": 8, "max_new_tokens": 16}}


def play(kwargs: dict[str, Any], agent: Any, seeds: range, split: str = "heldout"
         ) -> dict[str, Any]:
    """Episodes ``seeds`` of ``split``: QA per episode and per question, passed, recall."""
    from memgym.recipes.selector import SelectorEnv

    env = SelectorEnv(**kwargs)
    per_episode, per_question, passed, recall = [], [], [], []
    start = time.perf_counter()
    for seed in seeds:
        obs, info = env.reset(seed=seed, options={"split": split, "episode_seed": seed})
        agent.reset(env, seed=seed)
        done = False
        while not done:
            obs, _, done, _, info = env.step(agent.act(obs, info, env))
        per_episode.append(info["qa_score"])
        per_question += [r.score for r in env.core.records]
        passed += [r["passed"] for r in env.log]
        recall += [r["recall"] for r in env.log if r["recall"] is not None]
    return {"qa": float(np.mean(per_episode)),
            "ci95": common.ci95(per_episode if len(per_episode) > 1 else per_question),
            "questions": len(per_question), "passed": float(np.mean(passed)),
            "selection_recall": float(np.mean(recall)) if recall else None,
            "seconds": time.perf_counter() - start}


def train_selector(env_id: str, args: argparse.Namespace, seed: int) -> tuple[Any, float]:
    start = time.perf_counter()
    stem = env_id.split("/")[1].lower()
    agent, _ = common.train_within_budget(CONFIG, args.out, args.minutes, args.steps, [
        f"env.id={env_id}", f"seed={seed}", f"name={stem}-s{seed}"])
    return agent, time.perf_counter() - start


def locomo_kwargs(data: str, entries: int) -> dict[str, Any]:
    import gymnasium as gym

    base = gym.spec(STREAMS["Dialogue"]).kwargs
    return {**{k: v for k, v in base.items() if k not in ("task", "task_params")},
            "task": LOCOMO_TASK, "data_path": data, "manager": "fifo", "metric": "f1",
            "tiers": {"episodic": {"entries": entries, "tokens": None}}}


def run(args: argparse.Namespace) -> dict[str, Any]:
    import gymnasium as gym
    import torch

    import memgym  # noqa: F401
    from memgym.agents.baselines import BASELINES as TABLE

    torch.set_num_threads(1)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    result: dict[str, Any] = {"claim": CLAIM, "steps": args.steps, "seed": args.seed,
                              "episodes": args.episodes, "llm_episodes": args.llm_episodes,
                              "streams": {}, "train_seconds": {}}
    learned: dict[str, Any] = {}
    held = range(args.episodes)
    for stream, env_id in STREAMS.items():
        kwargs = dict(gym.spec(env_id).kwargs)
        trained = {"learned": env_id} | (RECIPES if stream == "Dialogue" else {})
        agents = {name: TABLE[name]() for name in BASELINES}
        for label, train_id in trained.items():
            agents[label], result["train_seconds"][f"{stream}: {label}"] = \
                train_selector(train_id, args, args.seed)
        learned[stream] = agents["learned"]
        rows: dict[str, Any] = {}
        for name, player in agents.items():
            rows[name] = {"extractive": play(kwargs, player, held)}
            print(f"{stream:9s} {name:14s} extractive QA {rows[name]['extractive']['qa']:.3f} "
                  f"passed {rows[name]['extractive']['passed']:.2f}", flush=True)
        if args.llm_episodes:
            for name in (n for n in LLM_AGENTS if n in agents):
                rows[name]["llm"] = play(llm_kwargs(kwargs), agents[name],
                                         range(args.llm_episodes))
                print(f"{stream:9s} {name:14s} LLM F1 {rows[name]['llm']['qa']:.3f}",
                      flush=True)
        result["streams"][stream] = rows
    if args.data:
        kwargs = locomo_kwargs(args.data, args.locomo_entries)
        rows = {}
        for name in ("select_top_k", "select_top_1", "select_budget", "learned"):
            player = learned["Dialogue"] if name == "learned" else TABLE[name]()
            rows[name] = {"extractive": play(kwargs, player, range(1))}
            if args.llm_episodes:
                rows[name]["llm"] = play(llm_kwargs(kwargs), player, range(1))
            print(f"LoCoMo    {name:14s} {rows[name]}", flush=True)
        result["streams"]["LoCoMo held-out"] = rows
        result["locomo_entries"] = args.locomo_entries
    if args.joint:
        import joint_reader  # this folder's joint vs independent benchmark

        result["joint"] = joint_reader.run(args.joint_steps, args.episodes, alpha=0.5,
                                           seed=args.seed, out=args.out / "joint")
        result["joint"]["markdown"] = joint_reader.markdown(result["joint"])
    return result


def _cell(row: dict[str, Any] | None) -> str:
    if row is None:  # not played (the LLM answers only some agents): one dash per column
        return "- | - | -"
    recall = "-" if row["selection_recall"] is None else f"{row['selection_recall']:.3f}"
    return f"{row['qa']:.3f} ± {row['ci95']:.3f} | {recall} | {row['passed']:.2f}"


def markdown(result: dict[str, Any]) -> str:
    lines = ["# Learned reader: fixed top-k vs a learned selector (held-out)", "",
             f"Claim: {result['claim']}", "",
             f"MaskablePPO, at most {result['steps']} env steps per stream (seed "
             f"{result['seed']}; "
             + ", ".join(f"{s}: {v:.0f} s" for s, v in result["train_seconds"].items())
             + " of training), checkpoint chosen on val. Extractive: the env's BM25 + "
             f"extraction reader (the training reward), {result['episodes']} held-out episodes;"
             f" LLM: SmolLM2-135M answering from the selection (F1), the first "
             f"{result['llm_episodes']} of them. QA ± 95% CI over episodes (over questions on "
             "LoCoMo); recall: share of each question's evidence among the entries passed; "
             "passed: entries per question.", ""]
    for stream, rows in result["streams"].items():
        lines += [f"## {stream}", "",
                  "| selector | QA (extractive) | recall | passed | F1 (LLM) | recall | passed |",
                  "|---|---|---|---|---|---|---|"]
        for name, row in rows.items():
            lines.append(f"| {name} | {_cell(row['extractive'])} | {_cell(row.get('llm'))} |")
        lines.append("")
    if "joint" in result:
        lines += ["## Manager + selector: joint vs independent training", "",
                  result["joint"].get("markdown", "")]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=3.0, help="training wall clock per stream")
    parser.add_argument("--steps", type=int, default=60_000, help="env steps per stream")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--episodes", type=int, default=50, help="held-out episodes per cell")
    parser.add_argument("--llm-episodes", type=int, default=10,
                        help="held-out episodes answered by SmolLM2 (0: skip the LLM)")
    parser.add_argument("--data", default=None, help="a locomo10.json-format file (optional)")
    parser.add_argument("--locomo-entries", type=int, default=64)
    parser.add_argument("--joint", action="store_true", help="also joint vs independent")
    parser.add_argument("--joint-steps", type=int, default=40_000)
    parser.add_argument("--out", type=Path, default=Path("runs/bench_recipes"))
    parser.add_argument("--results", type=Path, default=common.RESULTS)
    args = parser.parse_args()
    result = run(args)
    text = markdown(result)
    common.write_results(args.results, "learned_reader", result, text)
    print(text)


if __name__ == "__main__":
    main()
