"""SB3 end-to-end training fps on memgym vs CartPole-v1, single envs vs the batched env.

PPO with the same settings everywhere (8 envs, n_steps 128, batch 256, net [128, 128],
1 torch thread): on CartPole-v1 (``DummyVecEnv``), on KVUpdates-Medium with SB3's
``DummyVecEnv`` over ``gym.make`` (the default ``algo.vec_env: dummy``) and with
:class:`memgym.training.sb3_vec.GymnasiumVecEnv` over the batched env
(``algo.vec_env: vector_entry_point``). Target: memgym / CartPole >= 0.8. fps = env steps
per second of CPU time of this process after a warm-up. Writes ``<results>/sb3_fps.json``
and ``.md``.

    python benchmarks/sb3_fps.py [--seconds 20] [--env memgym/KVUpdates-Medium-v0]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import gymnasium as gym

import memgym

RESULTS = Path(__file__).parent / "results"


def build(env_id: str, mode: str, n_envs: int):
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import VecMonitor

    from memgym.training.sb3_vec import GymnasiumVecEnv

    if mode == "vector_entry_point":
        venv = gym.make_vec(env_id, num_envs=n_envs, vectorization_mode="vector_entry_point")
        return VecMonitor(GymnasiumVecEnv(venv))
    return make_vec_env(lambda: gym.make(env_id), n_envs=n_envs, seed=0)


def fps(env_id: str, mode: str, seconds: float, n_envs: int = 8, warmup: int = 2048) -> float:
    """Env steps per CPU second of PPO training (rollouts + updates)."""
    import torch
    from stable_baselines3 import PPO

    torch.set_num_threads(1)
    venv = build(env_id, mode, n_envs)
    policy = "MultiInputPolicy" if isinstance(venv.observation_space, gym.spaces.Dict) else "MlpPolicy"
    model = PPO(policy, venv, n_steps=128, batch_size=256, seed=0, device="cpu", verbose=0,
                policy_kwargs={"net_arch": [128, 128]})
    model.learn(warmup)  # imports, first rollout
    start, steps = time.process_time(), model.num_timesteps
    while time.process_time() - start < seconds:
        model.learn(n_envs * 128, reset_num_timesteps=False)
    rate = (model.num_timesteps - steps) / (time.process_time() - start)
    venv.close()
    return rate


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--env", default="memgym/KVUpdates-Medium-v0")
    parser.add_argument("--warmup", type=int, default=2048)
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    cartpole = fps("CartPole-v1", "dummy", args.seconds, warmup=args.warmup)
    dummy = fps(args.env, "dummy", args.seconds, warmup=args.warmup)
    vector = fps(args.env, "vector_entry_point", args.seconds, warmup=args.warmup)
    rows = [{"vec_env": "dummy", "memgym_fps": dummy, "ratio": dummy / cartpole},
            {"vec_env": "vector_entry_point", "memgym_fps": vector, "ratio": vector / cartpole}]
    result = {"benchmark": "sb3_fps", "memgym_version": memgym.__version__, "env_id": args.env,
              "cartpole_fps": cartpole, "target_ratio": 0.8, "rows": rows}
    for row in rows:
        print(f"{args.env} ({row['vec_env']}): {row['memgym_fps']:,.0f} fps; CartPole-v1 "
              f"{cartpole:,.0f}; ratio {row['ratio']:.2f}")
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "sb3_fps.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = ["| SB3 PPO, 8 envs | memgym fps | CartPole-v1 fps | ratio (>= 0.8) |",
             "|---|---|---|---|"]
    lines += [f"| {args.env}, vec_env={r['vec_env']} | {r['memgym_fps']:,.0f} | {cartpole:,.0f} | "
              f"{r['ratio']:.2f} |" for r in rows]
    (args.results / "sb3_fps.md").write_text("\n".join(lines) + "\n")
    return result


if __name__ == "__main__":
    main()
