"""Write ``<results>/SUMMARY.md`` from the benchmark results (run last by ``make bench``).

A headline table of every target (measured value, target, met or not), then each
benchmark's own markdown table. Results missing from the folder are listed as not run; the
numbers are read from the JSON files, never typed in.

    python benchmarks/summary.py [--results benchmarks/results]
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"
ORDER = ("env_throughput", "scaling", "reader_cost", "sb3_fps", "learning", "rllib_sampling")
TITLES = {
    "env_throughput": "Env throughput and memory per env (vs CartPole in the same run)",
    "scaling": "Step cost vs memory capacity and stream length",
    "reader_cost": "Reader / retrieval cost per question",
    "sb3_fps": "SB3 training fps (vs CartPole in the same run)",
    "learning": "Learning (MaskablePPO vs oracle)",
    "rllib_sampling": "RLlib sampling",
}


def headline(results: dict[str, dict[str, Any]]) -> list[tuple[str, float | None, str, bool | None]]:
    """(what, measured, target, met) for every target the results speak to."""
    rows: list[tuple[str, float | None, str, bool | None]] = []
    env = results.get("env_throughput")
    if env:
        for r in env["rows"]:
            rows.append((f"single env / CartPole-v1, {r['env_id']}", r["ratio"], ">= 0.5",
                         r["ratio"] >= 0.5))
            rows.append((f"vector x{env['num_envs']} / CartPoleVectorEnv x{env['num_envs']}, "
                         f"{r['env_id']}", r["vector_ratio"], ">= 0.5", r["vector_ratio"] >= 0.5))
            if r.get("pool_ratio") is not None:  # a fixed stream set, encoded once
                n = env["num_envs"]
                for key, label in (("pool_ratio", "single env / CartPole-v1"),
                                   ("pool_vector_ratio", f"vector x{n} / CartPoleVectorEnv x{n}")):
                    rows.append((f"{label}, episode_pool={r['pool']}, {r['env_id']}", r[key],
                                 ">= 0.5", r[key] >= 0.5))
            if r.get("ceiling_vector_ratio") is not None:  # the step alone, no resets
                rows.append((f"vector x{env['num_envs']} / CartPoleVectorEnv, resets not timed "
                             f"(ceiling), {r['env_id']}", r["ceiling_vector_ratio"], ">= 0.5",
                             r["ceiling_vector_ratio"] >= 0.5))
    scaling = results.get("scaling")
    if scaling:
        for key, label in (("single_vs_first", "single"), ("vector_vs_first", "vector")):
            worst = max(r[key] for r in scaling["rows"] if r["axis"] == "length")
            rows.append((f"{label} step cost, longest / shortest stream (worst)", worst,
                         "flat (<= 1.5)", worst <= 1.5))
    fps = results.get("sb3_fps")
    if fps:
        for r in fps["rows"]:
            if r.get("reference"):  # the bound, not a memgym measurement
                continue
            rows.append((f"SB3 PPO fps / CartPole, vec_env={r['vec_env']}", r["ratio"], ">= 0.8",
                         r["ratio"] >= 0.8))
    learning = results.get("learning")
    if learning and learning.get("sb3_fps"):
        ratio = learning["sb3_fps"]["ratio"]
        rows.append(("SB3 PPO fps / CartPole (learning.py, dummy, wall clock)", ratio, ">= 0.8",
                     ratio >= 0.8))
    return rows


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    results = {}
    others = sorted(p.stem for p in args.results.glob("*.json") if p.stem not in ORDER)
    for name in (*ORDER, *others):
        path = args.results / f"{name}.json"
        if path.is_file():
            results[name] = json.loads(path.read_text())
    lines = ["# Benchmark summary", "",
             "Written by `benchmarks/summary.py` from `benchmarks/results/*.json` (`make bench`).",
             "", "| target | measured | target | met |", "|---|---|---|---|"]
    for what, value, target, met in headline(results):
        shown = "-" if value is None else f"{value:.3f}"
        lines.append(f"| {what} | {shown} | {target} | {'yes' if met else 'NO'} |")
    missing = [name for name in ORDER if name not in results]
    if missing:
        lines += ["", f"Not run (no JSON in the results folder): {', '.join(missing)}."]
    for name in (*ORDER, *others):
        table = args.results / f"{name}.md"
        if name in results and table.is_file():
            written = datetime.fromtimestamp((args.results / f"{name}.json").stat().st_mtime,
                                             tz=timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
            lines += ["", f"## {TITLES.get(name, name)}", "",
                      f"`benchmarks/{name}.py`, results written {written}", "",
                      table.read_text().strip()]
    text = "\n".join(lines) + "\n"
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "SUMMARY.md").write_text(text)
    return text


if __name__ == "__main__":
    print(main())
