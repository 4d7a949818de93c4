"""SB3 end-to-end training fps on memgym vs CartPole-v1, single envs vs the batched env.

PPO with the same settings everywhere (8 envs, n_steps 128, batch 256, net [128, 128],
1 torch thread): on CartPole-v1 (``DummyVecEnv``), on KVUpdates-Medium with SB3's
``DummyVecEnv`` over ``gym.make`` (the default ``algo.vec_env: dummy``) and with
:class:`memgym.training.sb3_vec.GymnasiumVecEnv` over the batched env
(``algo.vec_env: vector_entry_point``), the latter also with ``episode_pool`` (a fixed set
of training streams, filled before timing). A last row bounds what any env speed-up could
give: PPO on a zero-cost env with memgym's observation and action spaces (constant
observations, 40-step episodes). Target: memgym / CartPole >= 0.8. fps = env steps per
second of CPU time of this process after a warm-up. Writes ``<results>/sb3_fps.json`` and
``.md``.

    python benchmarks/sb3_fps.py [--seconds 20] [--env memgym/KVUpdates-Medium-v0] [--pool 256]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import gymnasium as gym

import memgym

RESULTS = Path(__file__).parent / "results"


class ZeroCostEnv(gym.Env):
    """``env_id``'s spaces, constant observations, 40-step episodes: SB3's own cost."""

    def __init__(self, env_id: str) -> None:
        template = gym.make(env_id).unwrapped
        self.observation_space, self.action_space = template.observation_space, template.action_space
        self._obs = self.observation_space.sample()
        self._t = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self._t = 0
        return {k: v.copy() for k, v in self._obs.items()}, {}

    def step(self, action):
        self._t += 1
        return {k: v.copy() for k, v in self._obs.items()}, 0.0, self._t >= 40, False, {}


def build(env_id: str, mode: str, n_envs: int, pool: int | None = None):
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import VecMonitor

    from memgym.envs.speed import fill_pool
    from memgym.training.sb3_vec import GymnasiumVecEnv

    if mode == "vector_entry_point":
        kwargs = {} if pool is None else {"episode_pool": pool}
        venv = gym.make_vec(env_id, num_envs=n_envs, vectorization_mode="vector_entry_point",
                            **kwargs)
        if pool:
            fill_pool(venv, pool)
        return VecMonitor(GymnasiumVecEnv(venv))
    if mode == "zero_cost":
        return make_vec_env(lambda: ZeroCostEnv(env_id), n_envs=n_envs, seed=0)
    return make_vec_env(lambda: gym.make(env_id), n_envs=n_envs, seed=0)


def fps(env_id: str, mode: str, seconds: float, n_envs: int = 8, warmup: int = 2048,
        pool: int | None = None) -> float:
    """Env steps per CPU second of PPO training (rollouts + updates)."""
    import torch
    from stable_baselines3 import PPO

    from memgym.envs.speed import learning_steps_per_second

    torch.set_num_threads(1)
    venv = build(env_id, mode, n_envs, pool)
    policy = "MultiInputPolicy" if isinstance(venv.observation_space, gym.spaces.Dict) else "MlpPolicy"
    model = PPO(policy, venv, n_steps=128, batch_size=256, seed=0, device="cpu", verbose=0,
                policy_kwargs={"net_arch": [128, 128]})
    rate = learning_steps_per_second(model, n_envs * 128, seconds, warmup)
    venv.close()
    return rate


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--env", default="memgym/KVUpdates-Medium-v0")
    parser.add_argument("--warmup", type=int, default=2048)
    parser.add_argument("--pool", type=int, default=256, help="episode_pool of the pooled row")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    cartpole = fps("CartPole-v1", "dummy", args.seconds, warmup=args.warmup)
    dummy = fps(args.env, "dummy", args.seconds, warmup=args.warmup)
    vector = fps(args.env, "vector_entry_point", args.seconds, warmup=args.warmup)
    pooled = fps(args.env, "vector_entry_point", args.seconds, warmup=args.warmup, pool=args.pool)
    zero = fps(args.env, "zero_cost", args.seconds, warmup=args.warmup)
    rows = [{"vec_env": "dummy", "memgym_fps": dummy, "ratio": dummy / cartpole},
            {"vec_env": "vector_entry_point", "memgym_fps": vector, "ratio": vector / cartpole},
            {"vec_env": f"vector_entry_point, episode_pool={args.pool}", "memgym_fps": pooled,
             "ratio": pooled / cartpole},
            {"vec_env": "bound: zero-cost env, same spaces", "memgym_fps": zero,
             "ratio": zero / cartpole, "reference": True}]
    result = {"benchmark": "sb3_fps", "memgym_version": memgym.__version__, "env_id": args.env,
              "cartpole_fps": cartpole, "target_ratio": 0.8, "rows": rows}
    for row in rows:
        print(f"{args.env} ({row['vec_env']}): {row['memgym_fps']:,.0f} fps; CartPole-v1 "
              f"{cartpole:,.0f}; ratio {row['ratio']:.2f}")
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "sb3_fps.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = ["| SB3 PPO, 8 envs | memgym fps | CartPole-v1 fps | ratio (>= 0.8) |",
             "|---|---|---|---|"]
    lines += [f"| {r['vec_env'] if r.get('reference') else f'{args.env}, vec_env=' + r['vec_env']} | "
              f"{r['memgym_fps']:,.0f} | {cartpole:,.0f} | "
              f"{r['ratio']:.2f} |" for r in rows]
    (args.results / "sb3_fps.md").write_text("\n".join(lines) + "\n")
    return result


if __name__ == "__main__":
    main()
