"""Fresh-stream resets/s and env steps/s of the single env with ``prefetch_workers`` 0 vs 1.

A measurement, not a test. On fresh streams (no ``episode_pool``) every reset generates an
episode in Python; ``prefetch_workers=1`` generates the next ones in a worker process
(:mod:`memgym.envs.prefetch`). Measured, one after the other in this process and alternated
over ``--rounds`` rounds (the best round kept, as the machine is shared):

- resets/s: ``env.reset()`` in a loop (generation + the env's own encoding of the episode);
- env steps/s: uniformly drawn valid actions, resets on episode end included (as
  :func:`memgym.envs.speed.env_steps_per_second`);
- source draws/s: ``EpisodeSource.draw`` alone with ``prepare`` = the structured env's
  per-episode encoding (``EpisodeFeatures``), i.e. what a caller that hands its encoding to the
  worker (the batched env, #18) could take off its hot path.

Rates use WALL time: ``time.process_time`` counts this process's CPU only and would hide the
work moved to the worker (the parent's CPU per unit is reported beside, as "parent CPU").
Worker start-up (spawn: imports numpy and memgym) happens before timing and is reported
separately. On a 2-core machine shared with other jobs the numbers are indicative only.

    python benchmarks/prefetch.py [--seconds 3] [--rounds 2] [--env ID]

Writes ``benchmarks/results/prefetch.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

import memgym
from memgym.envs.episode_pool import EpisodeSource
from memgym.envs.features import EpisodeFeatures
from memgym.envs.speed import DEFAULT_ENV

RESULTS = Path(__file__).parent / "results"


def timed(step: Callable[[], int], seconds: float) -> tuple[float, float]:
    """(units per wall second, parent CPU ms per unit) of ``step`` (returns units done),
    called until ``seconds`` of wall time have passed."""
    units, wall, cpu = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - wall < seconds:
        units += step()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return units / wall, 1e3 * cpu / units


def make(env_id: str, workers: int) -> tuple[gym.Env, float]:
    """The env, reset once, with its workers up; and their start-up time (s)."""
    env = gym.make(env_id, prefetch_workers=workers)
    start = time.perf_counter()
    env.reset(seed=0)
    prefetcher = env.unwrapped.episodes.prefetcher
    if prefetcher is not None:
        prefetcher.start(wait=True)
    return env, time.perf_counter() - start


def resets_per_second(env_id: str, workers: int, seconds: float) -> dict[str, float]:
    env, start = make(env_id, workers)

    def reset() -> int:
        env.reset()
        return 1

    rate, cpu = timed(reset, seconds)
    env.close()
    return {"per_s": rate, "parent_cpu_ms": cpu, "start_s": start}


def steps_per_second(env_id: str, workers: int, seconds: float) -> dict[str, float]:
    env, start = make(env_id, workers)
    rng = np.random.default_rng(0)
    _, info = env.reset()

    def steps(chunk: int = 200) -> int:
        nonlocal info
        for _ in range(chunk):
            valid = np.flatnonzero(info["action_mask"])
            _, _, terminated, truncated, info = env.step(valid[rng.integers(len(valid))])
            if terminated or truncated:
                _, info = env.reset()
        return chunk

    rate, cpu = timed(steps, seconds)
    env.close()
    return {"per_s": rate, "parent_cpu_ms": cpu, "start_s": start}


def draws_per_second(env_id: str, workers: int, seconds: float) -> dict[str, float]:
    template = gym.make(env_id).unwrapped
    source = EpisodeSource(template.task, prefetch=workers)
    prepare = functools.partial(EpisodeFeatures, dim=template.bow_dim,
                                parse=template.parse_facts)
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    source.draw(rng, None, "train", prepare=prepare)
    if source.prefetcher is not None:
        source.prefetcher.start(wait=True)
    start = time.perf_counter() - start

    def draw() -> int:
        source.draw(rng, None, "train", prepare=prepare)
        return 1

    rate, cpu = timed(draw, seconds)
    source.close()
    return {"per_s": rate, "parent_cpu_ms": cpu, "start_s": start}


MEASURES = {"resets": resets_per_second, "env_steps": steps_per_second,
            "draws_with_prepare": draws_per_second}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--env", default=DEFAULT_ENV)
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    best: dict[str, dict[int, dict[str, float]]] = {name: {} for name in MEASURES}
    for _ in range(args.rounds):
        for name, measure in MEASURES.items():
            for workers in (0, 1):
                row = measure(args.env, workers, args.seconds)
                if row["per_s"] > best[name].get(workers, {"per_s": -1.0})["per_s"]:
                    best[name][workers] = row
    rows = [{"measure": name, "workers_0": runs[0], "workers_1": runs[1],
             "speedup": runs[1]["per_s"] / runs[0]["per_s"]} for name, runs in best.items()]
    for r in rows:
        print(f"{r['measure']}: {r['workers_0']['per_s']:,.0f}/s without workers, "
              f"{r['workers_1']['per_s']:,.0f}/s with 1 ({r['speedup']:.2f}x)")
    result = {"benchmark": "prefetch", "memgym_version": memgym.__version__, "env_id": args.env,
              "seconds_per_measurement": args.seconds, "rounds": args.rounds, "clock": "wall",
              "cpus": os.cpu_count(), "load_average_at_end": os.getloadavg()[0],
              "python": platform.python_version(), "rows": rows}
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "prefetch.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [f"Fresh streams of ``{args.env}`` (no ``episode_pool``), single env; wall-clock "
             f"rates, best of {args.rounds} alternated rounds of {args.seconds:g} s; "
             f"{os.cpu_count()} CPUs, load average {result['load_average_at_end']:.2f} at the "
             "end (indicative numbers on a shared machine).", "",
             "| measure | prefetch 0 /s | prefetch 1 /s | speedup | parent CPU ms per unit "
             "(0 / 1) | worker start s |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['measure']} | {r['workers_0']['per_s']:,.0f} | {r['workers_1']['per_s']:,.0f} "
              f"| {r['speedup']:.2f}x | {r['workers_0']['parent_cpu_ms']:.3f} / "
              f"{r['workers_1']['parent_cpu_ms']:.3f} | {r['workers_1']['start_s']:.2f} |"
              for r in rows]
    lines += ["", "Units: resets, env steps (resets on episode end included), "
              "``EpisodeSource.draw`` calls with ``prepare=EpisodeFeatures`` (the structured "
              "env's per-episode encoding, done in the worker). Wall time, not "
              "``process_time``: the parent's CPU would hide the work moved to the worker; "
              "the parent CPU column shows what is left on the hot path. A loop that only "
              "draws is bound by its one worker (generation + encoding + pickling); a training "
              "loop, busy between resets, pays the parent CPU column."]
    (args.results / "prefetch.md").write_text("\n".join(lines) + "\n")
    return result


if __name__ == "__main__":
    main()
