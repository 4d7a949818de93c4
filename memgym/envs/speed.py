"""Steps per second of an environment, for ``python -m memgym.envs.<module>`` (PufferLib style).

Actions are drawn uniformly from the valid ones (the mask read as a policy would: from
``info["action_mask"]``), so the time includes what a masked policy pays to read it. A
vector env's rate counts env steps: ``num_envs`` per ``step`` call. Time is this process's
CPU time (``time.process_time``), not wall time: on a machine shared with other jobs the wall
clock also counts time spent waiting for a core, which would make ratios measured a few
seconds apart (memgym vs CartPole) depend on the neighbours' load. The benchmarks in
``benchmarks/`` use these functions too, so a module's printout and ``make bench`` agree.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import gymnasium as gym
import numpy as np

DEFAULT_ENV = "memgym/KVUpdates-Medium-v0"


def random_valid(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One uniformly drawn valid action per row of a ``(num_envs, n)`` mask, no Python loop."""
    return np.argmax(np.where(mask, rng.random(mask.shape), -1.0), axis=-1)


def env_steps_per_second(env: gym.Env, seconds: float = 3.0, masked: bool = True,
                         seed: int = 0, chunk: int = 1000,
                         options: dict[str, Any] | None = None, time_resets: bool = True
                         ) -> float:
    """Steps/s of a single env (reset with ``options`` on episode end), measured for at least
    ``seconds`` after the first reset; ``time_resets=False`` leaves the resets' time out."""
    rng = np.random.default_rng(seed)
    _, info = env.reset(seed=seed, options=options)
    n_actions = int(env.action_space.n)
    steps, untimed, start = 0, 0.0, time.process_time()
    while True:
        for _ in range(chunk):
            if masked:
                valid = np.flatnonzero(info["action_mask"])
                action = valid[rng.integers(len(valid))]
            else:
                action = rng.integers(n_actions)
            _, _, terminated, truncated, info = env.step(action)
            if terminated or truncated:
                reset_start = time.process_time()
                _, info = env.reset(options=options)
                if not time_resets:
                    untimed += time.process_time() - reset_start
        steps += chunk
        elapsed = time.process_time() - start - untimed
        if elapsed >= seconds:
            return steps / elapsed


def vector_steps_per_second(venv: gym.vector.VectorEnv, seconds: float = 3.0,
                            masked: bool = True, seed: int = 0, chunk: int = 100,
                            time_resets: bool = True) -> float:
    """Env steps/s of a vector env (``num_envs`` per call; it autoresets by itself).
    ``time_resets=False`` (memgym's batched env only) leaves out the steps that autoreset."""
    rng = np.random.default_rng(seed)
    _, info = venv.reset(seed=seed)
    n, n_actions = venv.num_envs, int(venv.single_action_space.n)
    state = venv.unwrapped
    for _ in range(chunk):  # warm-up: compiled kernels load (or compile) on their first call
        _, _, _, _, info = venv.step(random_valid(info["action_mask"], rng) if masked
                                     else rng.integers(n_actions, size=n))
    steps, elapsed = 0, 0.0
    while True:
        for _ in range(chunk):
            if masked:
                actions = random_valid(info["action_mask"], rng)
            else:
                actions = rng.integers(n_actions, size=n)
            resetting = not time_resets and bool(state.prev_done.any())
            start = time.process_time()
            _, _, _, _, info = venv.step(actions)
            if not resetting:
                elapsed += time.process_time() - start
                steps += n
        if elapsed >= seconds:
            return steps / elapsed


def learning_steps_per_second(model: Any, rollout: int, seconds: float, warmup: int) -> float:
    """Env steps per CPU second of ``model.learn`` (an SB3 model: rollouts + updates), in
    ``rollout``-step calls for at least ``seconds`` after ``warmup`` steps (imports, the
    first rollout)."""
    model.learn(warmup)
    start, steps = time.process_time(), model.num_timesteps
    while time.process_time() - start < seconds:
        model.learn(rollout, reset_num_timesteps=False)
    return (model.num_timesteps - steps) / (time.process_time() - start)


def fill_pool(env: Any, pool: int) -> None:
    """Generate and encode every episode of an env made with ``episode_pool=pool`` (seeds
    ``0 .. pool-1``), so a measurement times the steady state of a pooled run, not its first
    ``pool`` resets. Works on a single env or a memgym vector env (one env at a time)."""
    options: dict[str, Any] = {}
    if hasattr(env, "num_envs"):
        options["reset_mask"] = np.arange(env.num_envs) == 0
    for seed in range(pool):
        env.reset(options={**options, "episode_seed": seed})


def cartpole_reference(seconds: float, num_envs: int | None = None) -> float:
    """CartPole-v1 steps/s in this process: ``gym.make`` or ``CartPoleVectorEnv`` x n."""
    if num_envs is None:
        return env_steps_per_second(gym.make("CartPole-v1"), seconds, masked=False)
    venv = gym.make_vec("CartPole-v1", num_envs=num_envs, vectorization_mode="vector_entry_point")
    return vector_steps_per_second(venv, seconds, masked=False)


def main(vector: bool, argv: list[str] | None = None) -> dict[str, Any]:
    """Print the env's steps/s beside CartPole's (same mode) and return the numbers."""
    import memgym  # noqa: F401  (registers the ids)

    parser = argparse.ArgumentParser(description="Steps/s of a memgym environment vs CartPole.")
    parser.add_argument("env_id", nargs="?", default=DEFAULT_ENV)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--episode-pool", type=int, default=None,
                        help="train on a pool of N streams (filled before timing)")
    if vector:
        parser.add_argument("--num-envs", type=int, default=64)
    args = parser.parse_args(argv)
    kwargs = {} if args.episode_pool is None else {"episode_pool": args.episode_pool}
    if vector:
        venv = gym.make_vec(args.env_id, num_envs=args.num_envs,
                            vectorization_mode="vector_entry_point", **kwargs)
        if args.episode_pool:
            fill_pool(venv, args.episode_pool)
        ours = vector_steps_per_second(venv, args.seconds)
        reference = cartpole_reference(args.seconds, args.num_envs)
        label = f"vector x{args.num_envs}"
    else:
        env = gym.make(args.env_id, **kwargs)
        if args.episode_pool:
            fill_pool(env, args.episode_pool)
        ours = env_steps_per_second(env, args.seconds)
        reference = cartpole_reference(args.seconds)
        label = "single env"
    print(f"{args.env_id} ({label}): {ours:,.0f} steps/s; CartPole-v1 {reference:,.0f} "
          f"steps/s; ratio {ours / reference:.2f}")
    return {"env_id": args.env_id, "steps_per_s": ours, "cartpole_steps_per_s": reference}
