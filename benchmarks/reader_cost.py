"""Reader / retrieval cost per question: BM25 (Python, compiled) vs embeddings (MiniLM).

The env's reader answers an episode's due questions in one ``answer_all`` call over the
memory entries. Here memories of 6 / 32 / 128 entries are taken from fresh KVUpdates
streams (the episode's evidence first, then other chunks), and each reader answers the
episode's questions; cost = CPU time of the call / number of questions (torch: 1 thread).
Fresh streams per repeat, so the embedding cache helps only within a call, as in training;
the one-off model load is reported apart. Also the QA score of each reader on these memories.
Writes ``<results>/reader_cost.json`` and ``.md``.

    python benchmarks/reader_cost.py [--repeats 20] [--sizes 6 32 128]
        [--readers bm25 bm25_compiled embedding]
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


def memory_of(episode, size: int) -> list[int]:
    """``size`` chunk ids of ``episode``: every evidence chunk first, then the others."""
    evidence = sorted({c for q in episode.questions for c in q.evidence})
    others = [i for i in range(len(episode.chunks)) if i not in set(evidence)]
    return (evidence + others)[:size]


def compiled_answers(texts: list[str], questions: list[str], sources: list[int]
                     ) -> tuple[list, float, float]:
    """The compiled BM25 reader's replies, the CPU seconds of its reader tables (once per
    episode, cached with it in a pool) and of answering (codes + reply texts)."""
    from memgym.rewards.reader_kernel import answer_chunks
    from memgym.rewards.reader_tables import build_tables

    t = time.process_time()
    tables = build_tables(texts, questions)
    built = time.process_time()
    replies = answer_chunks(tables, sources, range(len(questions)), top_k=3)
    return replies, built - t, time.process_time() - built


def measure(reader_name: str, sizes: list[int], repeats: int) -> list[dict]:
    spec = gym.spec(ENV_ID)
    task = load_task(spec.kwargs["task"], spec.kwargs["task_params"])
    start = time.process_time()
    compiled = reader_name == "bm25_compiled"
    reader = make_reader("bm25" if compiled else reader_name, top_k=3)
    reader.answer_all(["What is Ann Lee's city?"], ["Ann Lee's city is Oslo."])  # loads a model
    if compiled:  # numba: compiled on first use (or loaded from its cache)
        compiled_answers(["Ann Lee's city is Oslo."], ["What is Ann Lee's city?"], [0])
    load = time.process_time() - start
    rows = []
    for size in sizes:
        cpu, tables_cpu, questions, score, same = 0.0, 0.0, 0, 0.0, True
        for seed in range(repeats):
            episode = task.episode(10_000 * size + seed, "heldout", length=max(size, 40))
            sources = memory_of(episode, size)
            chunk_texts = [c.render() for c in episode.chunks]
            entries = [chunk_texts[c] for c in sources]
            texts = [q.text for q in episode.questions]
            if compiled:
                replies, built, spent = compiled_answers(chunk_texts, texts, sources)
                tables_cpu += built
                cpu += spent
                same = same and replies == reader.answer_all(texts, entries)
            else:
                t = time.process_time()
                replies = reader.answer_all(texts, entries)
                cpu += time.process_time() - t
            questions += len(texts)
            score += sum(score_answer(r, q.answers, "em")
                         for r, q in zip(replies, episode.questions))
        rows.append({"reader": reader_name, "entries": size, "questions": questions,
                     "ms_per_question": 1e3 * cpu / questions, "qa_score": score / questions,
                     "load_seconds": load,
                     "tables_ms_per_episode": 1e3 * tables_cpu / repeats if compiled else None,
                     "same_answers_as_bm25": same if compiled else None})
        print(f"{reader_name} {size} entries: {1e3 * cpu / questions:.3f} ms/question, "
              f"QA {score / questions:.3f}")
    return rows


def _cell(value: object, spec: str = "") -> str:
    return "-" if value is None else format(value, spec)


def ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--sizes", type=int, nargs="+", default=[6, 32, 128])
    parser.add_argument("--readers", nargs="+", default=["bm25", "bm25_compiled", "embedding"])
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
    lines = ["| reader | memory entries | ms per question | x bm25 | QA (em) | model load s | "
             "tables ms per episode | same answers as bm25 |",
             "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['reader']} | {r['entries']} | {r['ms_per_question']:.3f} | "
              f"{ratio(r['vs_bm25'])} | {r['qa_score']:.3f} | {r['load_seconds']:.1f} | "
              f"{_cell(r['tables_ms_per_episode'], '.2f')} | {_cell(r['same_answers_as_bm25'])} |"
              for r in rows]
    lines += ["", "bm25_compiled: memgym.rewards.reader_kernel over reader tables built once per "
              "episode (their cost apart: a pool caches them); answers checked equal to bm25's."]
    (args.results / "reader_cost.md").write_text("\n".join(lines) + "\n")
    return result


if __name__ == "__main__":
    main()
