"""Learning benchmark: MaskablePPO on the Medium KV-updates and needle tasks (issue quality bar).

For each task, in one run on this machine:

1. the baselines on held-out streams, checking the budget makes FIFO <= 0.5x the oracle;
2. MaskablePPO trained from the task's config for at most ``--minutes`` of wall-clock time
   (evaluation time included), its held-out QA as a ratio of the oracle's (target >= 0.9),
   and the minutes until it first reached 0.9x the oracle;
3. length generalisation: the trained policy at 16x the training length, as a ratio of its
   score at the training length (target >= 0.9);
4. SB3 end-to-end fps: PPO on the memgym env next to PPO on CartPole-v1 with the same
   settings (n_envs, n_steps, batch size, network, 1 torch thread), target ratio >= 0.8.

Writes ``benchmarks/results/learning.json`` and ``learning.md``.

    python benchmarks/learning.py [--minutes 10] [--tasks kv_updates needle] [--fps-seconds 30]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"
CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def sb3_fps(env_id: str, seconds: float, n_envs: int = 8) -> float:
    """Environment steps per second of SB3 PPO training on ``env_id`` (fixed settings)."""
    import gymnasium as gym
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    import memgym  # noqa: F401

    torch.set_num_threads(1)
    venv = make_vec_env(lambda: gym.make(env_id), n_envs=n_envs, seed=0)
    policy = "MultiInputPolicy" if isinstance(venv.observation_space, gym.spaces.Dict) else "MlpPolicy"
    model = PPO(policy, venv, n_steps=128, batch_size=256, seed=0, device="cpu", verbose=0,
                policy_kwargs={"net_arch": [128, 128]})
    model.learn(2048)  # warm-up: imports, first rollout
    start, steps = time.perf_counter(), model.num_timesteps
    while time.perf_counter() - start < seconds:
        model.learn(4096, reset_num_timesteps=False)
    fps = (model.num_timesteps - steps) / (time.perf_counter() - start)
    venv.close()
    return fps


def run_task(task: str, minutes: float, out: Path, episodes: int, steps: int) -> dict[str, Any]:
    from memgym.training import load_config, train_from_config
    from memgym.training.run import RunFolder

    config = load_config(CONFIGS / f"{task}_medium.yaml", [
        f"output_dir={out}", f"name={task}-bench", f"max_minutes={minutes}",
        f"total_timesteps={steps}", f"eval.episodes={episodes}", "progress=false",
    ])
    started = time.perf_counter()
    report = train_from_config(config, overwrite=True)
    wall = time.perf_counter() - started
    run = RunFolder.for_config(config)
    summary = json.loads(run.summary.read_text())
    scores = summary["scores"]
    oracle, policy = scores["oracle"], scores[config.name]
    curve = run.read_curve()
    reached = next((p for p in curve if p["qa_score"] >= 0.9 * oracle), None)
    long_length = next(iter(summary.get("lengths", {})), None)
    long = summary["lengths"][long_length] if long_length else {}
    return {
        "task": task, "env_id": config.eval_id, "episodes": episodes,
        "scores": scores, "oracle_ratio": policy / oracle if oracle else None,
        "fifo_over_oracle": scores["fifo"] / oracle if oracle else None,
        "minutes_to_0.9_oracle": round(reached["seconds"] / 60, 2) if reached else None,
        "steps_to_0.9_oracle": reached["steps"] if reached else None,
        "trained_steps": curve[-1]["steps"] if curve else 0,
        "wall_minutes_incl_final_report": round(wall / 60, 2),
        "long_length": int(long_length) if long_length else None,
        "long_scores": long,
        "length_generalisation": (long.get(config.name, 0.0) / policy) if policy and long else None,
        "curve": curve,
        "report_agents": {k: v["qa_score"] for k, v in report["agents"].items()},
    }


def fmt(value: Any, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--tasks", nargs="*", default=["kv_updates", "needle"])
    parser.add_argument("--episodes", type=int, default=50)
    parser.add_argument("--steps", type=int, default=1_200_000,
                        help="total_timesteps (the lin_ learning-rate schedule spans it)")
    parser.add_argument("--fps-seconds", type=float, default=30.0)
    parser.add_argument("--out", type=Path, default=Path("runs/bench"))
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    rows = [run_task(task, args.minutes, args.out, args.episodes, args.steps)
            for task in args.tasks]
    fps_memgym = sb3_fps("memgym/KVUpdates-Medium-v0", args.fps_seconds)
    fps_cartpole = sb3_fps("CartPole-v1", args.fps_seconds)
    result = {
        "benchmark": "learning", "minutes_budget": args.minutes, "tasks": rows,
        "sb3_fps": {"memgym/KVUpdates-Medium-v0": fps_memgym, "CartPole-v1": fps_cartpole,
                    "ratio": fps_memgym / fps_cartpole, "target_ratio": 0.8},
        "targets": {"oracle_ratio": 0.9, "length_generalisation": 0.9},
    }
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "learning.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        f"# Learning benchmark (MaskablePPO, <= {args.minutes:g} min wall clock each)", "",
        "| task | policy QA | oracle | FIFO/oracle | policy/oracle (>= 0.9) | min to 0.9x | "
        "steps | 16x length / 1x (>= 0.9) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        policy = r["scores"][f"{r['task']}-bench"]
        lines.append(
            f"| {r['env_id']} | {policy:.3f} | {r['scores']['oracle']:.3f} | "
            f"{fmt(r['fifo_over_oracle'])} | {fmt(r['oracle_ratio'])} | "
            f"{fmt(r['minutes_to_0.9_oracle'])} | {r['trained_steps']:,} | "
            f"{fmt(r['length_generalisation'])} |")
    lines += ["", "| SB3 PPO fps | memgym KVUpdates-Medium | CartPole-v1 | ratio (>= 0.8) |",
              "|---|---|---|---|",
              f"| same settings | {fps_memgym:,.0f} | {fps_cartpole:,.0f} | "
              f"{fps_memgym / fps_cartpole:.2f} |"]
    (args.results / "learning.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
