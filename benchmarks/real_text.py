"""Real text end to end: a policy trained on LoCoMo-format conversations vs the baselines.

    python benchmarks/real_text.py --data ../shared/data/locomo-dev/locomo-dev.json

1. trains ``configs/locomo_small.yaml`` on the file's train split (selection on ``val``);
2. trains the same policy shape on generated ``Dialogue-Free`` streams only (sim-to-real,
   ``configs/dialogue_free_sim2real.yaml``), unless ``--no-sim2real``;
3. evaluates on the held-out split, whole conversations, at 128 entries and at a token
   budget (``--tokens``): every baseline (on the write / overwrite / delete ops, so each
   heuristic can replace entries), the learned policy and the sim-to-real policy (on the
   admission ops they were trained with);
4. at the entry budget, answers a fixed random sample of questions (``--qa-questions``,
   the same for every agent; agents fifo, longest, novelty, oracle and the trained ones)
   with the LLM answerer (local SmolLM2 over the BM25 top ``--answer-top-k`` entries,
   LoCoMo-style F1) from the agent's final memory. The default top-3 was chosen on the
   ``val`` conversation: SmolLM2-135M reads 3 entries better than 5 or 10 (more are
   distractors to it), at a third of the cost.

Writes ``benchmarks/results/real_text.json`` and ``.md``. Heavy: ~15 min training + ~10 min
sim-to-real + QA (SmolLM2 on CPU ~1 s per question at top-3). Model selection never touches
``heldout``: only this final evaluation does.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
HEURISTICS = ("fifo", "keep", "lru", "salience", "longest", "novelty", "oracle")
BASELINE_OPS = ["noop", "add", "update", "delete"]
#: Row labels of the report -> the run names of their configs (for ``--reuse``).
RUN_NAMES = {"sim2real (Dialogue-Free only)": "dialogue-free-sim2real"}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True, help="a locomo10.json-format file")
    parser.add_argument("--minutes", type=float, default=14.0, help="training budget")
    parser.add_argument("--sim-minutes", type=float, default=8.0, help="sim-to-real budget")
    parser.add_argument("--no-sim2real", action="store_true")
    parser.add_argument("--entries", type=int, default=128)
    parser.add_argument("--tokens", type=int, default=4000, help="token budget of the 2nd table")
    parser.add_argument("--qa-questions", type=int, default=-1,
                        help="questions answered by SmolLM2 per agent (-1: all, 0: skip QA)")
    parser.add_argument("--out", default=str(ROOT / "runs" / "bench-real-text"))
    parser.add_argument("--answer-top-k", type=int, default=3,
                        help="entries the LLM answerer reads (BM25 top-k)")
    parser.add_argument("--reuse", nargs="*", metavar="RUN", default=None,
                        help="evaluate the policies already trained under --out (training "
                             "seconds from the previous --results JSON) instead of training: "
                             "all of them, or only the named runs (locomo-small, "
                             "dialogue-free-sim2real)")
    parser.add_argument("--results", default=str(RESULTS / "real_text"))
    return parser.parse_args()


def train(config: Path, overrides: list[str], reuse: dict[str, float] | None = None
          ) -> tuple[Any, float, list[str]]:
    """The trained agent, the training seconds and the ops it was trained with; with
    ``reuse`` (training seconds by run name) the run already under ``output_dir`` is loaded."""
    from memgym.training import load_config, train_from_config
    from memgym.training.run import RunFolder
    from memgym.training.sb3 import load_agent

    cfg = load_config(config, overrides)
    if reuse is not None and cfg.name in reuse:
        seconds = float(reuse[cfg.name])
    else:
        start = time.perf_counter()
        train_from_config(cfg, overwrite=True)
        seconds = time.perf_counter() - start
    return load_agent(RunFolder.for_config(cfg), cfg), seconds, list(cfg.env.kwargs["ops"])


def play(agent: Any, env_kwargs: dict[str, Any], split: str = "heldout") -> list[dict[str, Any]]:
    """Every episode of ``split``: the run_episode result plus the final memory texts."""
    import gymnasium as gym

    from memgym.agents.evaluate import make_agent, run_episode

    agent = make_agent(agent)
    env = gym.make("memgym/LoCoMo-v0", **env_kwargs)
    out = []
    for seed in range(len(env.unwrapped.task.splits[split])):
        result = run_episode(env, agent, split=split, episode_seed=seed)
        core = env.unwrapped.core
        result["memory"] = [e.text for e in core.store.entries.values()]
        result["questions"] = [(q.text, q.answers) for q in core.episode.questions]
        out.append(result)
    env.close()
    return out


def mean_ci(values: list[float]) -> tuple[float | None, float | None]:
    import numpy as np

    if not values:
        return None, None
    ci = 1.96 * float(np.std(values, ddof=1)) / math.sqrt(len(values)) if len(values) > 1 else 0.0
    return float(np.mean(values)), ci


def answer_f1(results: list[dict[str, Any]], sample: list[tuple[int, int]], reader: Any
              ) -> list[float]:
    """LoCoMo F1 of the LLM answerer on the sampled (episode, question) pairs, one batched
    call per episode (the reader batches and caches the prompts)."""
    scores = []
    for e in sorted({e for e, _ in sample}):
        asked = [results[e]["questions"][q] for e_, q in sample if e_ == e]
        records = reader.evaluate([t for t, _ in asked], results[e]["memory"],
                                  [a for _, a in asked], metric="locomo_f1")
        scores += [r.score for r in records]
    return scores


def summarise(results: list[dict[str, Any]]) -> dict[str, Any]:
    records = [r for e in results for r in e["records"]]
    retention = [r["evidence_kept"] for r in records if r["evidence_kept"] is not None]
    recall = [r["evidence_recall"] for r in records if r["evidence_recall"] is not None]
    return {"evidence_retention": mean_ci(retention)[0], "evidence_recall_at_10": mean_ci(recall)[0],
            "extractive_qa": mean_ci([r["score"] for r in records])[0],
            "memory_tokens": mean_ci([float(e["memory_tokens"]) for e in results])[0],
            "memory_entries": mean_ci([float(len(e["memory"])) for e in results])[0],
            "questions": len(records)}


def table(rows: dict[str, dict[str, Any]], title: str) -> list[str]:
    def cell(value: Any) -> str:
        return "-" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)

    cols = ["evidence_retention", "evidence_recall_at_10", "answer_f1", "answer_f1_ci95",
            "extractive_qa", "memory_tokens", "memory_entries"]
    lines = [f"### {title}", "", "| agent | " + " | ".join(cols) + " |", "|" + "---|" * (len(cols) + 1)]
    for name, row in rows.items():
        lines.append(f"| {name} | " + " | ".join(cell(row.get(c)) for c in cols) + " |")
    return lines + [""]


def main() -> None:
    args = parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import numpy as np
    import torch

    torch.set_num_threads(1)
    data = str(Path(args.data).resolve())
    common = [f"output_dir={args.out}", "progress=false"]
    reuse = None
    if args.reuse is not None:
        previous = json.loads(Path(args.results).with_suffix(".json").read_text())
        reuse = {RUN_NAMES.get(k, k): v for k, v in previous["training_seconds"].items()
                 if not args.reuse or RUN_NAMES.get(k, k) in args.reuse}
    policy, seconds, ops = train(ROOT / "configs" / "locomo_small.yaml",
                            [*common, f"env.kwargs.data_path={data}", f"max_minutes={args.minutes}"], reuse)
    trained = {"locomo-small": (policy, seconds, ops)}
    import gymnasium as gym

    import memgym  # noqa: F401  (registers the environments)

    if not args.no_sim2real and "memgym/Dialogue-Free-v0" not in gym.registry:
        print("memgym/Dialogue-Free-v0 is not registered: sim-to-real skipped")
    elif not args.no_sim2real:
        trained["sim2real (Dialogue-Free only)"] = train(
            ROOT / "configs" / "dialogue_free_sim2real.yaml",
            [*common, f"max_minutes={args.sim_minutes}"], reuse)

    reader = None
    if args.qa_questions:
        from memgym.llm.answerer import LLMReader

        reader = LLMReader(model="smollm2", top_k=args.answer_top_k, max_new_tokens=16,
                           batch_size=4,
                           cache_path=str(Path(args.out) / "answers.jsonl"))
    budgets = {f"{args.entries} entries": None, f"{args.entries} entries, {args.tokens} tokens": args.tokens}
    report: dict[str, Any] = {"data": Path(data).name, "split": "heldout", "budgets": {},
                              "training_seconds": {k: round(v[1], 1) for k, v in trained.items()},
                              "qa_questions_per_agent": args.qa_questions,
                              "answer_top_k": args.answer_top_k,
                              "reused_training": sorted(reuse or {})}
    lines = ["# Real text: LoCoMo-format held-out conversations", "",
             f"Data `{Path(data).name}`, held-out split, whole conversations. Training: "
             + ", ".join(f"{k} {v[1] / 60:.1f} min" for k, v in trained.items()) + ".", ""]
    for label, tokens in budgets.items():
        tiers = {"episodic": {"entries": args.entries, "tokens": tokens}}
        base = {"data_path": data, "tiers": tiers, "features": "embedding",
                "rewards": {"evidence_k": 10}}
        results = {name: play(name, {**base, "ops": BASELINE_OPS}) for name in HEURISTICS}
        for name, (agent, _, agent_ops) in trained.items():
            results[name] = play(agent, {**base, "ops": agent_ops})
        rows = {name: summarise(r) for name, r in results.items()}
        if reader is not None and tokens is None:  # SmolLM2 QA at the entry budget only
            pairs = [(e, q) for e, ep in enumerate(results["oracle"]) for q in range(len(ep["questions"]))]
            rng = np.random.default_rng(0)
            size = len(pairs) if args.qa_questions < 0 else min(args.qa_questions, len(pairs))
            sample = [pairs[i] for i in sorted(rng.choice(len(pairs), size, replace=False))]
            report["qa_questions_per_agent"] = size
            for name in ("fifo", "longest", "novelty", "oracle", *trained):
                rows[name]["answer_f1"], rows[name]["answer_f1_ci95"] = mean_ci(
                    answer_f1(results[name], sample, reader))
        report["budgets"][label] = rows
        lines += table(rows, label)
        print("\n".join(table(rows, label)), flush=True)
    first = report["budgets"][next(iter(budgets))]
    best_heuristic = max((first[h]["evidence_retention"] or 0.0) for h in HEURISTICS if h != "oracle")
    learned = first["locomo-small"]["evidence_retention"]
    report["targets"] = {"learned / oracle": learned / first["oracle"]["evidence_retention"],
                         "learned / best heuristic": learned / best_heuristic}
    lines += [f"Targets at {next(iter(budgets))}: learned / oracle retention "
              f"{report['targets']['learned / oracle']:.2f} (target >= 0.7), learned / best "
              f"heuristic {report['targets']['learned / best heuristic']:.2f} (target >= 1.1).", ""]
    out = Path(args.results)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    out.with_suffix(".md").write_text("\n".join(lines))
    print(f"wrote {out.with_suffix('.json')} and {out.with_suffix('.md')}")


if __name__ == "__main__":
    main()
