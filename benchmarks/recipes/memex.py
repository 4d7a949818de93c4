"""Memex recipe benchmark: working-context size and accuracy with and without the indexed
archive, under the same context budget (CPU, a few minutes).

MaskablePPO from ``configs/recipes/memex.yaml`` on ``memgym/Memex-v0`` (evict to an index with
a summary in context, reread by index) and on ``memgym/Memex-NoArchive-v0`` (same stream,
budget and penalties, no archive), same steps and seeds; beside them the hand-written
archive heuristic, the best no-archive heuristic (keep the latest facts) and the oracle
(keeps exactly the asked facts, reads labels). Working context = memory entries + summaries
of archived entries, in tokens, averaged over the stream.

Writes ``benchmarks/results/recipes/memex.json`` and ``memex.md``.

    python benchmarks/recipes/memex.py [--steps 80000] [--seeds 0] [--episodes 40]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

import common  # this folder's shared helpers (the script's folder is on sys.path)

CONFIG = common.ROOT / "configs" / "recipes" / "memex.yaml"
PAPER = ("Memex: an indexed archive (summaries + stable indices in context, full content "
         "dereferenced on demand) keeps a much smaller working context at equal or better "
         "task success than keeping everything in context.")


def train_policy(out: Path, name: str, overrides: list[str]) -> tuple[Any, float]:
    import torch

    from memgym.loading import load_policy_agent

    torch.set_num_threads(1)
    _, _, seconds = common.train_timed(CONFIG, [
        f"output_dir={out}", f"name={name}", "progress=false", "eval.baselines=[]",
        "eval.episodes=5", "max_minutes=15", *overrides])  # same step count for both agents
    return load_policy_agent(str(out / name)), seconds


def evaluate(agent: Any, env_id: str, episodes: int) -> dict[str, Any]:
    """QA, working-context tokens (mean over chunks), return and ops on held-out streams."""
    import gymnasium as gym

    from memgym.agents.evaluate import run_episode

    env = gym.make(env_id)
    qa, working, returns, ops = [], [], [], {}
    for seed in range(episodes):
        result = run_episode(env, agent, split="heldout", episode_seed=seed)
        qa.append(result["qa_score"])
        returns.append(result["return"])
        working.append(float(np.mean(env.unwrapped.working_trace)))
        for op, count in result["ops"].items():
            ops[op] = ops.get(op, 0.0) + count / episodes
    env.close()
    return {"qa": float(np.mean(qa)), "qa_ci95": common.ci95(qa),
            "working_tokens": float(np.mean(working)), "return": float(np.mean(returns)),
            "ops": ops}


def run(steps: int, seeds: list[int], episodes: int, out: Path) -> dict[str, Any]:
    import memgym  # noqa: F401
    from memgym.recipes.memex import ArchiveAgent, KeepFactsAgent

    result: dict[str, Any] = {"steps": steps, "seeds": seeds, "episodes": episodes,
                              "rows": [], "train_seconds": 0.0}
    for seed in seeds:
        for label, env_id in (("PPO + archive", "memgym/Memex-v0"),
                              ("PPO, no archive", "memgym/Memex-NoArchive-v0")):
            name = f"{'archive' if 'NoArchive' not in env_id else 'noarchive'}-s{seed}"
            agent, seconds = train_policy(out, name, [f"env.id={env_id}", f"seed={seed}",
                                                      f"total_timesteps={steps}"])
            result["train_seconds"] += seconds
            result["rows"].append({"agent": label, "seed": seed, "env": env_id,
                                   **evaluate(agent, env_id, episodes)})
    for label, agent, env_id in (("archive heuristic", ArchiveAgent(), "memgym/Memex-v0"),
                                 ("keep-facts heuristic", KeepFactsAgent(),
                                  "memgym/Memex-NoArchive-v0"),
                                 ("oracle (labels)", "oracle", "memgym/Memex-NoArchive-v0")):
        if isinstance(agent, str):
            from memgym.agents.evaluate import make_agent

            agent = make_agent(agent)
        result["rows"].append({"agent": label, "seed": None, "env": env_id,
                               **evaluate(agent, env_id, episodes)})
    return result


def markdown(result: dict[str, Any]) -> str:
    lines = [
        "# Memex recipe (memgym/Memex-v0 vs memgym/Memex-NoArchive-v0)", "",
        f"Held-out streams ({result['episodes']} episodes); learned agents: MaskablePPO, "
        f"{result['steps']} env steps each (total training {result['train_seconds'] / 60:.1f} "
        "min). Context budget 32 tokens; facts ~25 tokens, summaries ~4.", "",
        f"Paper's claim: {PAPER}", "",
        "| agent | seed | QA (95% CI) | working context (tokens) | return | evict / reread / add "
        "per episode |", "|---|---|---|---|---|---|",
    ]
    for row in result["rows"]:
        ops = row["ops"]
        lines.append(f"| {row['agent']} | {row['seed'] if row['seed'] is not None else '-'} | "
                     f"{row['qa']:.3f} ± {row['qa_ci95']:.3f} | {row['working_tokens']:.1f} | "
                     f"{row['return']:.3f} | {ops.get('evict', 0):.1f} / "
                     f"{ops.get('reread', 0):.1f} / {ops.get('add', 0):.1f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=80000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--episodes", type=int, default=40)
    parser.add_argument("--results", type=Path, default=common.RESULTS)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        result = run(args.steps, args.seeds, args.episodes, Path(tmp))
    result["paper_claim"] = PAPER
    common.write_results(args.results, "memex", result, markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
