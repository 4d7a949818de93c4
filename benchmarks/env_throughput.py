"""Structured-env steps/s next to CartPole-v1 steps/s, measured in the same run.

Writes ``benchmarks/results/env_throughput.json`` and ``.md``. Actions are taken uniformly
from the valid ones (mask read from ``info`` as a policy would), both envs built with
``gym.make`` so the default wrappers are the same.

    python benchmarks/env_throughput.py [--seconds 3] [--env memgym/KVUpdates-Medium-v0 ...]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import gymnasium as gym
import numpy as np

import memgym

RESULTS = Path(__file__).parent / "results"
DEFAULT_ENVS = ("memgym/KVUpdates-Medium-v0", "memgym/Needle-Medium-v0",
                "memgym/MultiHop-Medium-v0", "memgym/Dialogue-Medium-v0")


def steps_per_second(env_id: str, seconds: float, masked: bool) -> float:
    env = gym.make(env_id)
    rng = np.random.default_rng(0)
    obs, info = env.reset(seed=0)
    n_actions = env.action_space.n
    steps, start = 0, time.perf_counter()
    while True:
        for _ in range(1000):
            if masked:
                valid = np.flatnonzero(info["action_mask"])
                action = valid[rng.integers(len(valid))]
            else:
                action = rng.integers(n_actions)
            obs, reward, terminated, truncated, info = env.step(action)
            if terminated or truncated:
                obs, info = env.reset()
        steps += 1000
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return steps / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--env", action="append", default=None)
    args = parser.parse_args()
    envs = args.env or list(DEFAULT_ENVS)
    rows = []
    for env_id in envs:
        cartpole = steps_per_second("CartPole-v1", args.seconds, masked=False)
        ours = steps_per_second(env_id, args.seconds, masked=True)
        rows.append({"env_id": env_id, "steps_per_s": ours, "cartpole_steps_per_s": cartpole,
                     "ratio": ours / cartpole})
        print(f"{env_id}: {ours:,.0f} steps/s; CartPole-v1 {cartpole:,.0f}; ratio {ours / cartpole:.2f}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    result = {"benchmark": "env_throughput", "memgym_version": memgym.__version__,
              "seconds_per_measurement": args.seconds, "target_ratio": 0.5, "rows": rows}
    (RESULTS / "env_throughput.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = ["| env | steps/s | CartPole-v1 steps/s | ratio (target >= 0.5) |", "|---|---|---|---|"]
    lines += [f"| {r['env_id']} | {r['steps_per_s']:,.0f} | {r['cartpole_steps_per_s']:,.0f} | "
              f"{r['ratio']:.2f} |" for r in rows]
    (RESULTS / "env_throughput.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
