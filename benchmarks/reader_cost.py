"""Reader / retrieval cost per question: BM25 (bm25s) vs embeddings (all-MiniLM-L6-v2).

The env's reader answers an episode's due questions in one ``answer_all`` call over the
memory entries. Here memories of 6 / 32 / 128 entries are taken from fresh KVUpdates
streams (the episode's evidence first, then other chunks), and each reader answers the
episode's questions; cost = CPU time of the call / number of questions (torch: 1 thread).
Fresh streams per repeat, so the embedding cache helps only within a call, as in training;
the one-off model load is reported apart. Also the QA score of each reader on these memories.
Writes ``<results>/reader_cost.json`` and ``.md``.

    python benchmarks/reader_cost.py [--repeats 20] [--sizes 6 32 128] [--readers bm25 embedding]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import gymnasium as gym

import memgym
from memgym.envs.registration import load_task
from memgym.rewards.metrics import score_answer
from memgym.rewards.reader import make_reader

RESULTS = Path(__file__).parent / "results"
ENV_ID = "memgym/KVUpdates-Medium-v0"


def memory_of(episode, size: int) -> list[str]:
    """``size`` chunk texts of ``episode``: every evidence chunk first, then the others."""
    evidence = sorted({c for q in episode.questions for c in q.evidence})
    others = [i for i in range(len(episode.chunks)) if i not in set(evidence)]
    return [episode.chunks[i].render() for i in (evidence + others)[:size]]


def measure(reader_name: str, sizes: list[int], repeats: int) -> list[dict]:
    spec = gym.spec(ENV_ID)
    task = load_task(spec.kwargs["task"], spec.kwargs["task_params"])
    start = time.process_time()
    reader = make_reader(reader_name, top_k=3)
    reader.answer_all(["What is Ann Lee's city?"], ["Ann Lee's city is Oslo."])  # loads a model
    load = time.process_time() - start
    rows = []
    for size in sizes:
        cpu, questions, score = 0.0, 0, 0.0
        for seed in range(repeats):
            episode = task.episode(10_000 * size + seed, "heldout", length=max(size, 40))
            entries = memory_of(episode, size)
            texts = [q.text for q in episode.questions]
            t = time.process_time()
            replies = reader.answer_all(texts, entries)
            cpu += time.process_time() - t
            questions += len(texts)
            score += sum(score_answer(r, q.answers, "em")
                         for r, q in zip(replies, episode.questions))
        rows.append({"reader": reader_name, "entries": size, "questions": questions,
                     "ms_per_question": 1e3 * cpu / questions, "qa_score": score / questions,
                     "load_seconds": load})
        print(f"{reader_name} {size} entries: {1e3 * cpu / questions:.2f} ms/question, "
              f"QA {score / questions:.3f}")
    return rows


def ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--sizes", type=int, nargs="+", default=[6, 32, 128])
    parser.add_argument("--readers", nargs="+", default=["bm25", "embedding"])
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
    rows = [row for name in args.readers for row in measure(name, args.sizes, args.repeats)]
    bm25 = {r["entries"]: r["ms_per_question"] for r in rows if r["reader"] == "bm25"}
    for r in rows:
        r["vs_bm25"] = r["ms_per_question"] / bm25[r["entries"]] if r["entries"] in bm25 else None
    result = {"benchmark": "reader_cost", "memgym_version": memgym.__version__, "env_id": ENV_ID,
              "repeats": args.repeats, "rows": rows}
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "reader_cost.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = ["| reader | memory entries | ms per question | x bm25 | QA (em) | model load s |",
             "|---|---|---|---|---|---|"]
    lines += [f"| {r['reader']} | {r['entries']} | {r['ms_per_question']:.2f} | "
              f"{ratio(r['vs_bm25'])} | {r['qa_score']:.3f} | "
              f"{r['load_seconds']:.1f} |" for r in rows]
    (args.results / "reader_cost.md").write_text("\n".join(lines) + "\n")
    return result


if __name__ == "__main__":
    main()
