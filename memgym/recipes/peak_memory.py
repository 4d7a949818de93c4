"""MEM1 / MemAgent recipe: peak-memory measurement for constant vs keep-everything memory.

The environments are registered by :mod:`memgym.tasks.mem1` (``memgym/MEM1-Const-v0``,
``memgym/MEM1-KeepAll-v0``). "Peak memory" is what MEM1 reports: the most memory held at any
point of the episode, here in entries and in tokens (the reader's context), measured after
every step by :class:`PeakMemory`.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from memgym.agents.evaluate import make_agent, run_episode


class PeakMemory(gym.Wrapper):
    """Records the peak number of memory entries and tokens held during each episode."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.peak_entries = self.peak_tokens = 0

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        out = self.env.reset(**kwargs)
        self.peak_entries = self.peak_tokens = 0
        self._measure()
        return out

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        out = self.env.step(action)
        self._measure()
        return out

    def _measure(self) -> None:
        store = self.env.unwrapped.core.store
        self.peak_entries = max(self.peak_entries, len(store.entries))
        self.peak_tokens = max(self.peak_tokens, store.total_tokens())

    def action_masks(self) -> np.ndarray:
        return self.env.unwrapped.action_masks()


def measure(env_id: str, agent_spec: Any, objectives: int, *, episodes: int, seed: int = 0,
            split: str = "heldout", env_kwargs: dict[str, Any] | None = None) -> dict[str, Any]:
    """QA accuracy and peak memory of one agent on ``episodes`` k-objective streams.

    Episode ``i`` is episode seed ``seed + i`` (the same streams for every agent and env).
    """
    env = PeakMemory(gym.make(env_id, **(env_kwargs or {})))
    agent = make_agent(agent_spec)
    rows = []
    try:
        for i in range(episodes):
            result = run_episode(env, agent, split=split, episode_seed=seed + i,
                                 options={"objectives": objectives})
            core = env.unwrapped.core
            rows.append({
                "qa": result["qa_score"],
                "all_correct": float(all(r["score"] > 0 for r in result["records"])),
                "peak_entries": env.peak_entries, "peak_tokens": env.peak_tokens,
                "stream_tokens": core.stream_tokens, "chunks": len(core.episode.chunks),
            })
    finally:
        env.close()
    return {key: float(np.mean([r[key] for r in rows])) for key in rows[0]} | {
        "objectives": objectives, "episodes": episodes,
        "qa_ci95": float(1.96 * np.std([r["qa"] for r in rows], ddof=1) / np.sqrt(len(rows)))
        if len(rows) > 1 else 0.0}
