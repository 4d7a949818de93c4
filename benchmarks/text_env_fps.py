"""Text-feature env speed: the sim-to-real setup on single envs vs the batched env.

The env of ``configs/dialogue_free_sim2real.yaml`` (Dialogue-Free streams of 480 turns,
128 slots, MiniLM embedding features, evidence reward) with a pool of ``--pool`` streams
embedded before timing, measured three ways in one process:

- env steps/s: ``gym.make`` (one env) and the batched env (``n_envs`` of the config), random
  valid actions;
- training fps of the config itself (MaskablePPO, slot-pointer policy) with
  ``algo.vec_env: dummy`` (SB3's ``DummyVecEnv`` over single envs, the config's default) and
  ``vector_entry_point`` (the batched env).

Rates are per CPU second of this process (as ``memgym.envs.speed``). Writes
``<results>/text_env_fps.json`` and ``.md``.

    python benchmarks/text_env_fps.py [--seconds 20] [--pool 4]
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

import gymnasium as gym

import memgym

RESULTS = Path(__file__).parent / "results"
CONFIG = Path(__file__).parents[1] / "configs" / "dialogue_free_sim2real.yaml"


def load(mode: str, pool: int, overrides: list[str]) -> Any:
    from memgym.training.config import load_config

    return load_config(CONFIG, [*overrides, f"algo.vec_env={mode}",
                                f"env.kwargs.episode_pool={pool}"])


def fill(config: Any, venv: Any, pool: int) -> None:
    """Draw every pooled stream once (embedding it) before anything is timed."""
    from memgym.envs.speed import fill_pool

    options = dict(config.env.options)
    if hasattr(venv, "num_envs"):  # the batched env: its episode_options apply
        fill_pool(venv, pool)
        return
    for seed in range(pool):
        venv.reset(options={**options, "episode_seed": seed})


def env_rates(seconds: float, pool: int, overrides: list[str]) -> dict[str, float]:
    from memgym.envs.speed import env_steps_per_second, vector_steps_per_second

    config = load("dummy", pool, overrides)
    kwargs = {**config.env.kwargs}
    single = gym.make(config.env.id, **kwargs)
    fill(config, single, pool)
    rates = {"single": env_steps_per_second(single, seconds, options=config.env.options)}
    venv = gym.make_vec(config.env.id, num_envs=config.algo.n_envs,
                        vectorization_mode="vector_entry_point",
                        episode_options=config.env.options, **kwargs)
    fill(config, venv, pool)
    rates["batched"] = vector_steps_per_second(venv, seconds)
    return rates


def training_fps(mode: str, seconds: float, pool: int, warmup: int, overrides: list[str]
                 ) -> float:
    """Env steps per CPU second of MaskablePPO training on the config (rollouts + updates)."""
    import torch

    from memgym.envs.speed import learning_steps_per_second
    from memgym.training.sb3 import algo_kwargs, algo_class, build_vec_env, hyperparams
    from memgym.training.sb3 import policy_class, policy_kwargs

    config = load(mode, pool, overrides)
    torch.set_num_threads(config.torch_threads)
    venv = build_vec_env(config)
    # VecMonitor(adapter(batched env)), or DummyVecEnv: its envs share the process's pool
    fill(config, venv.venv.venv if mode == "vector_entry_point" else venv.envs[0], pool)
    model = algo_class(config.algo.name)(
        policy_class(config), venv, seed=0, verbose=0, device="cpu",
        policy_kwargs=policy_kwargs(config), **algo_kwargs(hyperparams(config)))
    rollout = config.algo.n_envs * config.algo.hyperparams["n_steps"]
    rate = learning_steps_per_second(model, rollout, seconds, warmup)
    venv.close()
    return rate


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--pool", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=2048)
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        help="a config override (KEY=VALUE), e.g. env.options.length=40")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sets = args.overrides
    env = env_rates(args.seconds / 4, args.pool, sets)
    dummy = training_fps("dummy", args.seconds, args.pool, args.warmup, sets)
    batched = training_fps("vector_entry_point", args.seconds, args.pool, args.warmup, sets)
    rows = [
        {"measure": "env steps/s, random valid actions", "single_envs": env["single"],
         "batched": env["batched"]},
        {"measure": "MaskablePPO training fps (the config)", "single_envs": dummy,
         "batched": batched},
    ]
    result = {"benchmark": "text_env_fps", "memgym_version": memgym.__version__,
              "config": str(CONFIG.name), "overrides": sets, "pool": args.pool, "rows": rows}
    lines = [f"Config `{CONFIG.name}` (128 slots, MiniLM embedding features), a pool of "
             f"{args.pool} streams embedded before timing; per CPU second of one process.",
             "", "| measure | single envs (`dummy`) | batched (`vector_entry_point`) | ratio |",
             "|---|---|---|---|"]
    for row in rows:
        ratio = row["batched"] / row["single_envs"]
        lines.append(f"| {row['measure']} | {row['single_envs']:,.0f} | {row['batched']:,.0f} "
                     f"| {ratio:.2f}x |")
        print(f"{row['measure']}: single {row['single_envs']:,.0f}, batched "
              f"{row['batched']:,.0f} ({ratio:.2f}x)")
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "text_env_fps.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.results / "text_env_fps.md").write_text("\n".join(lines) + "\n")
    return result


if __name__ == "__main__":
    main()
