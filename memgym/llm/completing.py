"""What every LLM agent that prompts a completer once per turn shares: the :class:`Reply` of a
completer and :class:`CompletingAgent` (seeded sampling, per-episode turn statistics, the
generation rate). The per-chunk manager (:mod:`memgym.llm.chunked_agent`) and the memory
selector (:mod:`memgym.llm.selector_turns`) are built on it."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass
class Reply:
    text: str
    prompt_tokens: int
    truncated: bool
    completion_tokens: int = 0


class CompletingAgent:
    """What every agent that prompts a completer per turn shares: the seeded sampling, the
    per-episode turn statistics (``episode_stats()`` in the evaluation report) and the
    generation rate (``progress_note()`` for progress bars)."""

    def __init__(self, complete: Callable[..., Reply], name: str) -> None:
        self.complete, self.name = complete, name
        self.generated_tokens, self.generation_seconds = 0, 0.0  # over the agent's life
        self.stats: dict[str, int] = {}

    def reset(self, env: Any, seed: int | None = None) -> None:
        if getattr(self.complete, "temperature", 0) > 0:
            import torch

            torch.manual_seed((seed or 0) % 2**63)
        self.stats = {"turns": 0, "max_prompt_tokens": 0, "prompt_tokens": 0, "truncated": 0,
                      "well_formed": 0}

    def _turn_reply(self, messages: list[dict[str, Any]], tool_names: list[str] | None
                    ) -> Reply:
        """One completion, counted in the statistics."""
        started = time.perf_counter()
        reply = self.complete(messages, tool_names)
        self.generation_seconds += time.perf_counter() - started
        self.generated_tokens += reply.completion_tokens
        stats = self.stats
        stats["turns"] += 1
        stats["prompt_tokens"] += reply.prompt_tokens
        stats["max_prompt_tokens"] = max(stats["max_prompt_tokens"], reply.prompt_tokens)
        stats["truncated"] += reply.truncated
        return reply

    def progress_note(self) -> str:
        """The generation rate so far, for progress bars."""
        if not self.generation_seconds:
            return ""
        return f"{self.generated_tokens / self.generation_seconds:.1f} tok/s"

    def episode_stats(self) -> dict[str, float]:
        turns = max(self.stats["turns"], 1)
        return {"turns": float(self.stats["turns"]),
                "max_prompt_tokens": float(self.stats["max_prompt_tokens"]),
                "mean_prompt_tokens": self.stats["prompt_tokens"] / turns,
                "truncated_share": self.stats["truncated"] / turns,
                "format": self.stats["well_formed"] / turns}
