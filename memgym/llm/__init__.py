"""LLM memory managers: the tool interface for TRL, local models, an LLM answerer, an LLM agent.

- :mod:`memgym.llm.tool_env`: :class:`MemoryToolEnv` (``GRPOTrainer(environment_factory=...)``)
  and :func:`format_reward`.
- :mod:`memgym.llm.models`: ``load_model("smollm2" | "tiny" | path)``, offline.
- :mod:`memgym.llm.answerer`: :class:`LLMReader` (``reader="llm"``).
- :mod:`memgym.llm.agent`: :class:`LLMAgent` (``llm:<spec>#conversation``: the whole stream
  as one growing conversation).
- :mod:`memgym.llm.chunked`: :class:`ChunkedEpisode`, per-chunk (stateless) turns in the
  ``tools`` or ``rewrite`` write mode; :mod:`memgym.llm.chunked_agent`:
  :class:`ChunkedLLMAgent` (``memgym eval --agent llm:<spec>`` / ``endpoint:<model>``).

Importing this package imports neither torch nor transformers; the submodules that need them
import them inside their functions.
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    "MemoryToolEnv": "memgym.llm.tool_env",
    "format_reward": "memgym.llm.format_term",
    "load_model": "memgym.llm.models",
    "LLMReader": "memgym.llm.answerer",
    "LLMAgent": "memgym.llm.agent",
    "load_llm_agent": "memgym.llm.agent",
    "ChunkedEpisode": "memgym.llm.chunked",
    "ChunkedLLMAgent": "memgym.llm.chunked_agent",
    "load_chunked_agent": "memgym.llm.agent_specs",
}


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'memgym.llm' has no attribute {name!r}")


__all__ = list(_EXPORTS)
