"""The ``format`` reward term of GRPO rollouts: the share of well-formed model turns.

It needs the model's own turns (TRL's completion messages), which an environment never sees,
so it is a TRL reward function beside the environments' ``get_reward``
(:mod:`memgym.llm.tool_env`); it also logs the environments' raw terms per step.
"""

from __future__ import annotations

import json
import re
from typing import Any

from memgym.llm.tool_env import ENV_TERMS

_CALL_LIKE = re.compile(r"<tool_call>|\"name\"\s*:|\"arguments\"\s*:")


def turn_format(messages: list[dict[str, Any]], forced: bool = False) -> float:
    """Share of well-formed model turns in one rollout (TRL's completion message list).

    A turn with tool calls is well formed unless TRL could not run a call (unknown tool or
    arguments: its tool message reads ``{'error': ...}``); a turn without tool calls is well
    formed unless it looks like a broken call (``<tool_call>`` or JSON ``"name":`` that did not
    parse, or a call cut off by ``max_completion_length``) or, with ``forced`` tool calls (the
    template opened one), always broken. No turns scores 0.
    """
    good = total = 0
    for i, message in enumerate(messages):
        if message.get("role") != "assistant":
            continue
        calls = message.get("tool_calls") or []
        if calls:
            responses = [m for m in messages[i + 1: i + 1 + len(calls)] if m.get("role") == "tool"]
            for j in range(len(calls)):
                total += 1
                content = responses[j].get("content") if j < len(responses) else None
                good += not (isinstance(content, str) and content.startswith("{'error'"))
        else:
            total += 1
            good += not forced and not _CALL_LIKE.search(str(message.get("content") or ""))
    return good / total if total else 0.0


def make_format_reward(forced: bool = False, log_path: str | None = None) -> Any:
    """The TRL reward function for the ``format`` term (``forced``: the chat template opens a
    tool call every turn, see :func:`memgym.llm.models.chat_template`). With ``log_path``,
    every rollout is appended there as one JSON line (step, episode seed, reward terms, the
    completion's messages)."""

    def format_reward(completions: list[Any], environments: list[Any] | None = None,
                      log_metric: Any = None, **kwargs: Any) -> list[float]:
        scores = _format_reward(completions, environments, log_metric, forced)
        if log_path is not None and environments:
            state = kwargs.get("trainer_state")
            seeds = kwargs.get("episode_seed") or [None] * len(completions)
            with open(log_path, "a", encoding="utf-8") as f:
                for completion, env, seed, score in zip(completions, environments, seeds, scores):
                    terms = env.episode_terms if getattr(env, "env", None) is not None else {}
                    f.write(json.dumps({"step": getattr(state, "global_step", None),
                                        "episode_seed": seed, "format": score, **terms,
                                        "completion": completion}, default=str) + "\n")
        return scores

    return format_reward


def format_reward(completions: list[Any], environments: list[Any] | None = None,
                  log_metric: Any = None, **_: Any) -> list[float]:
    """TRL reward function: the ``format`` term of each rollout (see :func:`turn_format`).

    It runs before the environments' ``get_reward`` and also logs the raw environment terms
    (``memgym/qa``, ``memgym/tool_success``, ``memgym/compression``, ``memgym/calls``) so each
    is reported separately in the trainer logs.
    """
    return _format_reward(completions, environments, log_metric, False)


def _format_reward(completions: list[Any], environments: list[Any] | None, log_metric: Any,
                   forced: bool) -> list[float]:
    scores = [turn_format(c, forced) if isinstance(c, list) else 0.0 for c in completions]
    if environments and log_metric is not None:
        terms = [e.episode_terms for e in environments if getattr(e, "env", None) is not None]
        for key in (*ENV_TERMS, "calls"):
            if terms:
                log_metric(f"memgym/{key}", sum(t[key] for t in terms) / len(terms))
        log_metric("memgym/format", sum(scores) / max(len(scores), 1))
    return scores
