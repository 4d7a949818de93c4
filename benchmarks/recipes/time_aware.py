"""Time-aware memories: does the best write strategy change when the reader reads time?

Memory systems users run now keep old facts and let time decide: mem0's write path is
ADD-only with time-aware retrieval (the latest statement wins). memgym's default reader breaks
ties by text, never time, so such a memory scores as stale. This script evaluates the write
strategies on the same held-out streams with both readers (``reader_params: {time_aware:
true}``, :class:`memgym.rewards.reader.RankingReader`):

- ``add_only`` (mem0-style: append every salient chunk, never rewrite; FIFO when full),
- ``invalidate`` (Zep / Graphiti-style: the same appends, and a superseded fact is
  invalidated, kept but no longer read; the ``invalidate`` op is enabled in every row),
- ``salience`` (overwrite the entry holding the same fact: an UPDATE strategy),
- ``fifo`` (store everything), and the label-reading ``oracle``,

on KVUpdates-Medium and Dialogue-Medium, at the registered memory size and at 24 entries
(more than the facts a stream holds: capacity no longer forces a choice, so only the reader
decides whether keeping the stale value hurts). No training; no selection on these streams.

Writes ``benchmarks/results/recipes/time_aware.json`` and ``time_aware.md``.

    python benchmarks/recipes/time_aware.py [--episodes 100]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import common  # this folder's shared helpers (the script's folder is on sys.path)

ENVS = ("memgym/KVUpdates-Medium-v0", "memgym/Dialogue-Medium-v0")
AGENTS = ("add_only", "invalidate", "salience", "fifo", "oracle")
READERS = {"default": {}, "time-aware": {"time_aware": True}}
#: ``None``: the registered memory; 24 entries: room for every fact of a stream.
MEMORY_SIZES: tuple[int | None, ...] = (None, 24)
CLAIM = ("mem0 (current): ADD-only writes with time-aware retrieval, no UPDATE / DELETE; "
         "Zep / Graphiti: an old fact is invalidated, not deleted. With a reader that lets the "
         "latest statement win, keeping old facts is no longer a mistake.")


def env_kwargs(env_id: str, reader: dict[str, Any], entries: int | None) -> dict[str, Any]:
    """The registered env plus the ``invalidate`` op, the reader and the memory size."""
    import gymnasium as gym

    ops = tuple(gym.spec(env_id).kwargs.get("ops", ("noop", "add", "update")))
    kwargs: dict[str, Any] = {"ops": (*ops, "invalidate")}
    if reader:
        kwargs["reader_params"] = reader
    if entries is not None:
        kwargs["tiers"] = {"episodic": {"entries": entries, "tokens": None}}
    return kwargs


def run(episodes: int) -> dict[str, Any]:
    from memgym.agents.evaluate import evaluate_agents

    started = time.perf_counter()
    rows = []
    for env_id in ENVS:
        for entries in MEMORY_SIZES:
            for reader_name, reader in READERS.items():
                report = evaluate_agents(list(AGENTS), env_id, split="heldout",
                                         episodes=episodes, seed=0,
                                         env_kwargs=env_kwargs(env_id, reader, entries))
                scores = {a: {"qa": s["qa_score"], "ci95": s["qa_ci95"]}
                          for a, s in report["agents"].items()}
                top = max(scores[a]["qa"] for a in AGENTS if a != "oracle")
                best = " = ".join(a for a in AGENTS if a != "oracle" and scores[a]["qa"] == top)
                rows.append({"env_id": env_id, "entries": entries or "registered",
                             "reader": reader_name, "scores": scores, "best": best})
    return {"claim": CLAIM, "episodes": episodes, "split": "heldout", "agents": list(AGENTS),
            "rows": rows, "wall_minutes": round((time.perf_counter() - started) / 60, 2)}


def markdown(result: dict[str, Any]) -> str:
    agents = result["agents"]
    lines = ["# Time-aware memories: the write strategy vs the reader", "",
             f"Claim: {result['claim']}", "",
             f"Held-out QA ± 95% CI, {result['episodes']} streams per row (the same streams "
             "for every agent and reader of an env).", "",
             "| env | memory | reader | " + " | ".join(agents) + " | best (no labels) |",
             "|---" * (len(agents) + 4) + "|"]
    for row in result["rows"]:
        cells = [f"{row['scores'][a]['qa']:.3f} ± {row['scores'][a]['ci95']:.3f}" for a in agents]
        lines.append(f"| {row['env_id'].removeprefix('memgym/')} | {row['entries']} | "
                     f"{row['reader']} | " + " | ".join(cells) + f" | {row['best']} |")
    return "\n".join(lines + [""])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--out", type=Path, default=common.RESULTS)
    args = parser.parse_args()
    result = run(args.episodes)
    common.write_results(args.out, "time_aware", result, markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
