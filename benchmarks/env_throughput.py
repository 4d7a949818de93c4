"""Env steps/s (single and batched) next to CartPole in the same run, and memory per env.

For each env id, measured one after the other in this process:

- single env: ``gym.make(id)`` steps/s vs ``gym.make("CartPole-v1")`` (target ratio >= 0.5);
- vector env: ``gym.make_vec(id, num_envs=64, vectorization_mode="vector_entry_point")``
  (:class:`memgym.envs.vector.MemoryVectorEnv`) vs ``CartPoleVectorEnv`` x64 (target >= 0.5);
- the same two with resets left out of the time (``--ceiling-length``-chunk streams, steps
  that reset not timed): what the step alone allows, i.e. the ratio a free episode pipeline
  (stream generation, text features) would reach;
- pooled: the same two with ``episode_pool=--pool`` (resets draw from a fixed set of
  streams, generated and encoded once; the pool is filled before timing): the rate of a
  training run on a fixed stream set, the reader's work included; and the pooled vector env
  once more with the reader replaced by a no-op (the reader's share of the time);
- fresh streams with ``prefetch_workers=1``: the batched env's steps/s in this process's CPU
  time while one worker generates and encodes the next streams on the other core;
- memory per env: bytes traced (``tracemalloc``, numpy included) by building, resetting
  and stepping 8 single envs or one 64-env vector env, divided by the number of envs.

Actions are drawn uniformly from the valid ones (mask read from ``info`` as a policy would),
CartPole's uniformly. Writes ``<results>/env_throughput.json`` and ``.md``.

    python benchmarks/env_throughput.py [--seconds 3] [--num-envs 64] [--env ID ...]
"""

from __future__ import annotations

import argparse
import json
import tracemalloc
from pathlib import Path

import gymnasium as gym
import numpy as np

import memgym
from memgym.envs.speed import (cartpole_reference, env_steps_per_second, fill_pool,
                               random_valid, vector_steps_per_second)
from memgym.envs.vector import MemoryVectorEnv

RESULTS = Path(__file__).parent / "results"
DEFAULT_ENVS = ("memgym/KVUpdates-Medium-v0", "memgym/Needle-Medium-v0",
                "memgym/MultiHop-Medium-v0", "memgym/Dialogue-Medium-v0")


def memory_per_env(env_id: str, num_envs: int, vector: bool, steps: int = 50) -> float:
    """Bytes held per env after build + reset + ``steps`` steps (tracemalloc, numpy included)."""
    rng = np.random.default_rng(0)
    tracemalloc.start()
    if vector:
        venv = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="vector_entry_point")
        _, info = venv.reset(seed=0)
        for _ in range(steps):
            _, _, _, _, info = venv.step(random_valid(info["action_mask"], rng))
        held = [venv]
    else:
        held = [gym.make(env_id) for _ in range(num_envs)]
        for env in held:
            _, info = env.reset(seed=0)
            for _ in range(steps):
                _, _, done, _, info = env.step(int(random_valid(info["action_mask"], rng)))
                if done:
                    _, info = env.reset()
    current, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del held
    return current / num_envs


def ceiling(env_id: str, length: int, seconds: float, num_envs: int, cartpole: float,
            cartpole_vec: float) -> dict[str, float | None]:
    """Steps/s and CartPole ratios on ``length``-chunk streams (resets amortised away), or
    ``None`` where the task has no ``length`` option (or ``length`` is 0)."""
    if not length:
        return {"ceiling_ratio": None, "ceiling_vector_ratio": None}
    options = {"length": length}
    try:
        single = env_steps_per_second(gym.make(env_id), seconds, options=options,
                                      time_resets=False)
        venv = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="vector_entry_point",
                            episode_options=options)
        vector = vector_steps_per_second(venv, seconds, time_resets=False)
    except (TypeError, ValueError):  # no such task option
        return {"ceiling_ratio": None, "ceiling_vector_ratio": None}
    return {"ceiling_steps_per_s": single, "ceiling_ratio": single / cartpole,
            "ceiling_vector_steps_per_s": vector, "ceiling_vector_ratio": vector / cartpole_vec}


class ReaderFreeVectorEnv(MemoryVectorEnv):
    """The batched env with questions left unanswered: measures what the reader costs."""

    def _answer(self, i: int, terms: np.ndarray) -> None:
        return None

    def _answer_compiled(self, envs: np.ndarray, terms: np.ndarray) -> None:
        return None


def prefetched(env_id: str, seconds: float, num_envs: int, cartpole_vec: float
               ) -> dict[str, float]:
    """The batched env on fresh streams with ``prefetch_workers=1``: generation and encoding
    run in a worker on the other core; the rate counts this process's CPU only, which is what
    a training process pays (a reset whose episode is not ready is generated here, so a
    worker that falls behind shows up as cost, not as waiting)."""
    venv = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="vector_entry_point",
                        prefetch_workers=1)
    venv.reset(seed=0)
    venv.unwrapped.template.episodes.prefetcher.start(wait=True)
    vector = vector_steps_per_second(venv, seconds)
    venv.close()
    return {"prefetch_vector_steps_per_s": vector, "prefetch_vector_ratio": vector / cartpole_vec}


def pooled(env_id: str, pool: int, seconds: float, num_envs: int, cartpole: float,
           cartpole_vec: float) -> dict[str, float | None]:
    """Steps/s and CartPole ratios with ``episode_pool=pool`` (pool filled first)."""
    if not pool:
        return {"pool_ratio": None, "pool_vector_ratio": None}
    env = gym.make(env_id, episode_pool=pool)
    fill_pool(env, pool)
    single = env_steps_per_second(env, seconds)
    venv = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="vector_entry_point",
                        episode_pool=pool)
    fill_pool(venv, pool)
    vector = vector_steps_per_second(venv, seconds)
    free = ReaderFreeVectorEnv(num_envs, episode_pool=pool, **gym.spec(env_id).kwargs)
    fill_pool(free, pool)
    reader_free = vector_steps_per_second(free, seconds)
    return {"pool": pool, "pool_steps_per_s": single, "pool_ratio": single / cartpole,
            "pool_vector_steps_per_s": vector, "pool_vector_ratio": vector / cartpole_vec,
            "pool_reader_free_vector_ratio": reader_free / cartpole_vec}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--num-envs", type=int, default=64)
    parser.add_argument("--env", action="append", default=None)
    parser.add_argument("--ceiling-length", type=int, default=1_000,
                        help="chunks per stream for the resets-amortised ceiling (0: skip)")
    parser.add_argument("--pool", type=int, default=256,
                        help="episode_pool of the pooled measurement (0: skip)")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    rows = []
    for env_id in args.env or list(DEFAULT_ENVS):
        cartpole = cartpole_reference(args.seconds)
        single = env_steps_per_second(gym.make(env_id), args.seconds)
        cartpole_vec = cartpole_reference(args.seconds, args.num_envs)
        venv = gym.make_vec(env_id, num_envs=args.num_envs, vectorization_mode="vector_entry_point")
        vector = vector_steps_per_second(venv, args.seconds)
        row = {"env_id": env_id, "steps_per_s": single, "cartpole_steps_per_s": cartpole,
               "ratio": single / cartpole, "vector_steps_per_s": vector,
               "cartpole_vector_steps_per_s": cartpole_vec, "vector_ratio": vector / cartpole_vec,
               "vector_over_single": vector / single,
               "bytes_per_env_single": memory_per_env(env_id, 8, vector=False),
               "bytes_per_env_vector": memory_per_env(env_id, args.num_envs, vector=True),
               **prefetched(env_id, args.seconds, args.num_envs, cartpole_vec),
               **pooled(env_id, args.pool, args.seconds, args.num_envs, cartpole, cartpole_vec),
               **ceiling(env_id, args.ceiling_length, args.seconds, args.num_envs,
                         cartpole, cartpole_vec)}
        rows.append(row)
        print(f"{env_id}: single {single:,.0f} steps/s (CartPole {cartpole:,.0f}, ratio "
              f"{row['ratio']:.2f}); vector x{args.num_envs} {vector:,.0f} (CartPoleVectorEnv "
              f"{cartpole_vec:,.0f}, ratio {row['vector_ratio']:.3f}); pooled {_pool_cell(row)}")
    result = {"benchmark": "env_throughput", "memgym_version": memgym.__version__,
              "seconds_per_measurement": args.seconds, "num_envs": args.num_envs,
              "target_ratio": 0.5, "rows": rows}
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "env_throughput.json").write_text(json.dumps(result, indent=2) + "\n")
    n = args.num_envs
    lines = [
        f"| env | single steps/s | CartPole-v1 | ratio (>= 0.5) | vector x{n} steps/s | "
        f"CartPoleVectorEnv x{n} | ratio (>= 0.5) | vector, 1 prefetch worker | "
        f"vector / single | pooled single / vector "
        f"(ratios) | pooled vector, reader free | ceiling single / vector (no resets) | "
        f"KiB per env single | KiB per env vector |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['env_id']} | {r['steps_per_s']:,.0f} | {r['cartpole_steps_per_s']:,.0f} | "
              f"{r['ratio']:.3f} | {r['vector_steps_per_s']:,.0f} | "
              f"{r['cartpole_vector_steps_per_s']:,.0f} | {r['vector_ratio']:.3f} | "
              f"{r['prefetch_vector_ratio']:.3f} | {r['vector_over_single']:.1f}x | {_pool_cell(r)} | "
              f"{_ratio_cell(r.get('pool_reader_free_vector_ratio'))} | {_ceiling_cell(r)} | "
              f"{r['bytes_per_env_single'] / 1024:,.0f} | "
              f"{r['bytes_per_env_vector'] / 1024:,.0f} |" for r in rows]
    lines += ["", "Times are this process's CPU time. Fresh streams: a new stream every reset. "
              "1 prefetch worker: the batched env with ``prefetch_workers=1`` (generation and "
              "encoding on the other core; the main process's CPU only, a reset whose episode "
              "is not ready yet is generated in the main process)."]
    if args.pool:
        lines += ["", f"Pooled: ``episode_pool={args.pool}`` (a fixed set of {args.pool} training "
                  "streams, each generated and encoded once per process; filled before timing). "
                  "Reader free: the pooled vector env with questions left unanswered."]
    if args.ceiling_length:
        lines += ["", f"Ceiling: the same measurement on {args.ceiling_length:,}-chunk streams "
                  "with the resets (stream generation, text features) left out of the time: "
                  "it bounds what a faster episode pipeline alone could give."]
    (args.results / "env_throughput.md").write_text("\n".join(lines) + "\n")
    return result


def _ratio_cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _pool_cell(row: dict) -> str:
    if row.get("pool_ratio") is None:
        return "-"
    return f"{row['pool_ratio']:.3f} / {row['pool_vector_ratio']:.3f}"


def _ceiling_cell(row: dict) -> str:
    if row.get("ceiling_ratio") is None:
        return "-"
    return f"{row['ceiling_ratio']:.3f} / {row['ceiling_vector_ratio']:.3f}"


if __name__ == "__main__":
    main()
