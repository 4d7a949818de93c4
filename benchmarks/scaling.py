"""How step cost grows with memory capacity and stream length (single and vector env).

On KVUpdates (Medium task parameters otherwise), in one run:

- capacity: 8 / 64 / 512 memory slots at the Medium length (40 chunks);
- stream length: 10^2 / 10^3 / 10^4 chunks at 8 slots.

For each point, the per-step cost (microseconds per env step, masked random valid actions,
episode resets excluded: the clock, CPU time of this process, runs only around ``step``) of the single env and of the
64-env batched env, and the reset cost per chunk (episode generation + text features, the
per-episode work). Cost per step must stay flat in stream length: the table shows each
point as a ratio of the shortest stream's. Writes ``<results>/scaling.json`` and ``.md``.

    python benchmarks/scaling.py [--seconds 1.5] [--num-envs 64] [--tiny]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import gymnasium as gym
import numpy as np

import memgym
from memgym.envs.speed import random_valid

RESULTS = Path(__file__).parent / "results"
ENV_ID = "memgym/KVUpdates-Medium-v0"


def env_kwargs(slots: int) -> dict:
    return {"tiers": {"episodic": {"entries": slots, "tokens": None}}}


def single_cost(slots: int, length: int, seconds: float) -> tuple[float, float]:
    """(microseconds per step, microseconds of reset per chunk) of ``gym.make``."""
    env = gym.make(ENV_ID, **env_kwargs(slots))
    rng = np.random.default_rng(0)
    options = {"length": length}
    start = time.process_time()
    _, info = env.reset(seed=0, options=options)
    reset_time, resets, stepping, steps = time.process_time() - start, 1, 0.0, 0
    while stepping < seconds:
        batch_start = time.process_time()
        for _ in range(200):
            _, _, done, _, info = env.step(int(random_valid(info["action_mask"], rng)))
            steps += 1
            if done:
                stepping += time.process_time() - batch_start
                t = time.process_time()
                _, info = env.reset(options=options)
                reset_time, resets = reset_time + time.process_time() - t, resets + 1
                batch_start = time.process_time()
        stepping += time.process_time() - batch_start
    return 1e6 * stepping / steps, 1e6 * reset_time / resets / length


def vector_cost(slots: int, length: int, seconds: float, num_envs: int) -> tuple[float, float]:
    """(microseconds per env step, reset microseconds per chunk) of the batched env; only
    steps with no autoreset are timed as steps."""
    venv = gym.make_vec(ENV_ID, num_envs=num_envs, vectorization_mode="vector_entry_point",
                        episode_options={"length": length}, **env_kwargs(slots))
    env = venv.unwrapped
    rng = np.random.default_rng(0)
    start = time.process_time()
    _, info = venv.reset(seed=0)
    reset_time, chunks_reset = time.process_time() - start, num_envs * length
    stepping, steps = 0.0, 0
    while stepping < seconds:
        resetting = int(env.prev_done.sum())
        t = time.process_time()
        _, _, _, _, info = venv.step(random_valid(info["action_mask"], rng))
        elapsed = time.process_time() - t
        if resetting:
            reset_time, chunks_reset = reset_time + elapsed, chunks_reset + resetting * length
        else:
            stepping, steps = stepping + elapsed, steps + num_envs
    return 1e6 * stepping / max(steps, 1), 1e6 * reset_time / chunks_reset


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.5)
    parser.add_argument("--num-envs", type=int, default=16)
    parser.add_argument("--capacities", type=int, nargs="+", default=[8, 64, 512])
    parser.add_argument("--lengths", type=int, nargs="+", default=[100, 1_000, 10_000])
    parser.add_argument("--tiny", action="store_true",
                        help="tests: 0.1 s per point, 4 envs, capacities 8 64, lengths 100 300")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.tiny:
        args.seconds, args.num_envs, args.capacities, args.lengths = 0.1, 4, [8, 64], [100, 300]
    points = [("capacity", c, c, 40) for c in args.capacities]
    points += [("length", n, args.capacities[0], n) for n in args.lengths]
    rows = []
    for axis, value, slots, length in points:
        single_step, single_reset = single_cost(slots, length, args.seconds)
        vec_step, vec_reset = vector_cost(slots, length, args.seconds, args.num_envs)
        rows.append({"axis": axis, "value": value, "slots": slots, "length": length,
                     "single_us_per_step": single_step, "single_reset_us_per_chunk": single_reset,
                     "vector_us_per_step": vec_step, "vector_reset_us_per_chunk": vec_reset})
        print(f"{axis}={value}: single {single_step:.1f} us/step, vector {vec_step:.2f} us/step; "
              f"reset {single_reset:.1f} / {vec_reset:.1f} us per chunk")
    for axis in ("capacity", "length"):
        base = next(r for r in rows if r["axis"] == axis)
        for r in rows:
            if r["axis"] == axis:
                r["single_vs_first"] = r["single_us_per_step"] / base["single_us_per_step"]
                r["vector_vs_first"] = r["vector_us_per_step"] / base["vector_us_per_step"]
    result = {"benchmark": "scaling", "memgym_version": memgym.__version__, "env_id": ENV_ID,
              "num_envs": args.num_envs, "seconds_per_point": args.seconds, "rows": rows}
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "scaling.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [f"| axis | slots | chunks | single us/step | x first | vector x{args.num_envs} "
             "us/step | x first | reset us/chunk single | reset us/chunk vector |",
             "|---|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['axis']} | {r['slots']} | {r['length']:,} | {r['single_us_per_step']:.1f} | "
              f"{r['single_vs_first']:.2f} | {r['vector_us_per_step']:.2f} | "
              f"{r['vector_vs_first']:.2f} | {r['single_reset_us_per_chunk']:.1f} | "
              f"{r['vector_reset_us_per_chunk']:.1f} |" for r in rows]
    (args.results / "scaling.md").write_text("\n".join(lines) + "\n")
    return result


if __name__ == "__main__":
    main()
