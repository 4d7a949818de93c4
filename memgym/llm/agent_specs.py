"""LLM agents from a spec: ``llm:<model>[#mode]`` and ``endpoint:<model>[#mode]``
(``memgym eval --agent``, :func:`memgym.loading.load_agent`).

Modes: ``tools`` (default) and ``rewrite``: a per-chunk memory manager
(:class:`memgym.llm.chunked_agent.ChunkedLLMAgent`); ``conversation``: the whole stream as one
growing conversation (:class:`memgym.llm.agent.LLMAgent`, local models only); ``select``: a
memory selector for the selector envs (:class:`memgym.llm.selector_turns.SelectorLLMAgent`);
``joint``: one model as manager and selector (:class:`~memgym.llm.selector_turns.
JointLLMAgent`, ``ManageSelect`` envs). ``llm:<model>`` is ``smollm2``, ``tiny`` or a model
folder; ``endpoint:<model>`` a model served at ``$MEMGYM_ENDPOINT_URL`` (default
``http://127.0.0.1:8000/v1``). The one place that knows every agent kind (the agent modules
do not import each other).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from memgym.llm.chunked import WRITE_MODES
from memgym.llm.chunked_agent import ChunkedLLMAgent, EndpointCompleter, ModelCompleter
from memgym.llm.completing import Reply

DEFAULT_ENDPOINT_URL = "http://127.0.0.1:8000/v1"
#: Agent spec suffixes: the write modes, the whole-conversation agent, the memory selector.
AGENT_MODES = (*WRITE_MODES, "conversation", "select", "joint")


def split_mode(spec: str) -> tuple[str, str]:
    """``"<model>#<mode>"`` -> ``(model, mode)``; no suffix: ``tools``."""
    model, sep, mode = spec.rpartition("#")
    if not sep:
        return spec, "tools"
    if mode not in AGENT_MODES:
        raise ValueError(f"agent spec {spec!r}: unknown mode {mode!r}; expected "
                         f"{', '.join(AGENT_MODES)}")
    return model, mode


def load_chunked_agent(kind: str, spec: str, *, max_new_tokens: int = 64) -> Any:
    """The agent of ``llm:<spec>`` (``kind="llm"``) or ``endpoint:<spec>``."""
    model_spec, mode = split_mode(spec)
    if kind == "endpoint":
        from memgym.llm.endpoint import OpenAIEndpoint

        if mode == "conversation":
            raise ValueError("endpoint agents play per-chunk turns (tools, rewrite or select)")
        url = os.environ.get("MEMGYM_ENDPOINT_URL", DEFAULT_ENDPOINT_URL)
        endpoint = OpenAIEndpoint(url, model_spec)
        if mode in ("select", "joint"):  # a server closes every message: no prefill
            return reader_agent(mode, EndpointCompleter(endpoint, max_tokens=max_new_tokens),
                                 f"endpoint:{spec}", prefill="")
        complete = EndpointCompleter(endpoint,
                                     max_tokens=max(max_new_tokens, 128 if mode == "rewrite" else 64))
        return ChunkedLLMAgent(complete, name=f"endpoint:{spec}", write_mode=mode,
                               describe_tools=True)
    if mode == "conversation":
        from memgym.llm.agent import load_llm_agent

        agent = load_llm_agent(model_spec, max_new_tokens=max_new_tokens)
        agent.name = f"llm:{spec}"
        return agent
    from memgym.llm.models import TOOL_CALL_PREFILL, load_model

    forced = mode == "tools"
    model, tokenizer = load_model(model_spec, force_tool_calls=forced)
    if mode in ("select", "joint"):
        return reader_agent(mode, ModelCompleter(model, tokenizer, tools=False,
                                                  max_new_tokens=max_new_tokens), f"llm:{spec}")
    complete = ModelCompleter(model, tokenizer, tools=forced, max_new_tokens=max_new_tokens)
    return ChunkedLLMAgent(complete, name=f"llm:{spec}", write_mode=mode,
                           prefill=TOOL_CALL_PREFILL if forced else "")


def reader_agent(mode: str, complete: Callable[..., Reply], name: str,
                  prefill: str | None = None) -> Any:
    """A memory selector (``select``) or one model as manager and selector (``joint``);
    ``prefill``: the selection replies' opening (None: the default)."""
    from memgym.llm.selector_turns import SELECTION_PREFILL, JointLLMAgent, SelectorLLMAgent

    opening = SELECTION_PREFILL if prefill is None else prefill
    if mode == "select":
        return SelectorLLMAgent(complete, name=name, prefill=opening)
    return JointLLMAgent(complete, name=name, prefill=opening)
