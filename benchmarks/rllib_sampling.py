"""RLlib benchmark: sampling throughput with 2 env runners vs 1, and RLlib next to SB3.

In one run on this machine:

1. sampling throughput (env steps/s, policy inference included) of RLlib's env runners on
   KVUpdates-Medium with the masking RLModule of ``configs/rllib_kv_medium.yaml``: 1 runner
   vs 2 runners (8 envs each), each runner sampling ``--sample-steps`` at a time in
   parallel (target ratio >= 1.5x on 2 cores); also end-to-end ``algo.train()`` steps/s;
2. held-out QA of a short RLlib run (``configs/rllib_kv_medium.yaml``) next to SB3
   (``configs/kv_updates_medium.yaml``), both limited to ``--minutes`` of wall-clock time
   and evaluated on the same held-out episodes beside the oracle.

Writes ``benchmarks/results/rllib_sampling.json`` and ``.md``. Ray's files go to a
temporary folder that is removed at the end.

    python benchmarks/rllib_sampling.py [--minutes 5] [--episodes 30] [--sample-seconds 20]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"
CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def sampling_fps(runners: int, seconds: float, sample_steps: int, logdir: Path) -> dict[str, Any]:
    """Env steps/s of ``runners`` env runners sampling in parallel (and of ``train()``)."""
    from memgym.training import load_config
    from memgym.training.rllib import (build_algo_config, logdir_under, register_envs,
                                       rllib_spec, sampled_steps)

    config = load_config(CONFIGS / "rllib_kv_medium.yaml", [f"rllib.num_env_runners={runners}"])
    register_envs()
    with logdir_under(logdir):
        algo = build_algo_config(config, rllib_spec(config)).build_algo()
    try:
        group = algo.env_runner_group

        def sample(er: Any) -> int:
            return sum(len(e) for e in er.sample(num_timesteps=sample_steps, explore=True))

        group.foreach_env_runner(sample, local_env_runner=False)  # warm-up
        steps, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            steps += sum(group.foreach_env_runner(sample, local_env_runner=False))
        fps = steps / (time.perf_counter() - start)
        first = last = sampled_steps(algo.train())  # warm-up
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            last = sampled_steps(algo.train())
        train_fps = (last - first) / (time.perf_counter() - start)
    finally:
        algo.stop()
    return {"runners": runners, "envs_per_runner": config.algo.n_envs, "sample_fps": round(fps),
            "train_fps": round(train_fps)}


def short_run(config_name: str, minutes: float, episodes: int, out: Path) -> dict[str, Any]:
    from memgym.training import load_config, train_from_config
    from memgym.training.run import RunFolder

    config = load_config(CONFIGS / config_name, [
        f"output_dir={out}", f"max_minutes={minutes}", f"eval.episodes={episodes}",
        "eval.lengths=[]", "eval.baselines=[fifo, oracle]", "eval.freq=25000", "progress=false"])
    started = time.perf_counter()
    train_from_config(config, overwrite=True)
    wall = time.perf_counter() - started
    run = RunFolder.for_config(config)
    scores = json.loads(run.summary.read_text())["scores"]
    curve = run.read_curve()
    return {"config": config_name, "backend": config.backend, "scores": scores,
            "oracle_ratio": scores[config.name] / scores["oracle"] if scores["oracle"] else None,
            "trained_steps": curve[-1]["steps"] if curve else 0,
            "wall_minutes_incl_eval": round(wall / 60, 2)}


def markdown(result: dict[str, Any]) -> str:
    lines = ["# RLlib benchmark", "", f"Machine: {result['cpus']} CPUs. {result['note']}", "",
             "## Sampling throughput (KVUpdates-Medium, masking RLModule)", "",
             "| env runners | envs/runner | sampling steps/s | train() steps/s |",
             "|---|---|---|---|"]
    for row in result["sampling"]:
        lines.append(f"| {row['runners']} | {row['envs_per_runner']} | {row['sample_fps']:,} | "
                     f"{row['train_fps']:,} |")
    lines += ["", f"2 runners / 1 runner: **{result['sampling_ratio']:.2f}x** sampling "
              f"(target >= 1.5x), {result['train_ratio']:.2f}x end to end.", "",
              f"## Held-out QA, runs capped at {result['minutes']} min or their total_timesteps "
              f"({result['episodes']} episodes, same streams)", "",
              "| backend | config | steps | policy QA | oracle | / oracle | wall min |",
              "|---|---|---|---|---|---|---|"]
    for row in result["runs"]:
        name = next(k for k in row["scores"] if k not in ("fifo", "oracle"))
        lines.append(f"| {row['backend']} | {row['config']} | {row['trained_steps']:,} | "
                     f"{row['scores'][name]:.3f} | {row['scores']['oracle']:.3f} | "
                     f"{row['oracle_ratio']:.2f} | {row['wall_minutes_incl_eval']} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    import os

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--episodes", type=int, default=30)
    parser.add_argument("--sample-seconds", type=float, default=20.0)
    parser.add_argument("--sample-steps", type=int, default=1000)
    parser.add_argument("--skip-runs", action="store_true", help="sampling only")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    import torch

    from memgym.training.rllib_agent import ray_session

    torch.set_num_threads(1)  # as train() does (torch_threads: 1): the learner shares 2 cores
    work = Path(tempfile.mkdtemp(prefix="rllib-bench-"))
    os.environ["RAY_TMPDIR"] = str(work / "ray")
    result: dict[str, Any] = {"cpus": os.cpu_count(), "minutes": args.minutes,
                              "episodes": args.episodes,
                              "note": "Sampling = env runners' sample() in parallel "
                                      "(env + inference); train() adds the serial learner."}
    try:
        with ray_session(temp_dir=work / "ray"):
            result["sampling"] = [sampling_fps(n, args.sample_seconds, args.sample_steps, work / "logs")
                                  for n in (1, 2)]
        one, two = result["sampling"]
        result["sampling_ratio"] = two["sample_fps"] / one["sample_fps"]
        result["train_ratio"] = two["train_fps"] / one["train_fps"]
        result["runs"] = [] if args.skip_runs else [
            short_run(name, args.minutes, args.episodes, work / "runs")
            for name in ("rllib_kv_medium.yaml", "kv_updates_medium.yaml")]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "rllib_sampling.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.results / "rllib_sampling.md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
