"""A per-chunk LLM memory manager as a memgym agent: ``memgym eval --agent llm:<model>`` and
``--agent endpoint:<model>`` on streams of any length.

Each view of the stream gets one fresh prompt (:func:`memgym.llm.chunked.turn_messages`: the
write mode's system message, the memory, the chunk) and one reply, turned into environment
actions by :func:`memgym.llm.chunked.turn_actions` and played while the view stays the same,
then ``next_chunk``: exactly the turns a chunked GRPO rollout plays
(:class:`memgym.llm.chunked.ChunkedEpisode`), so evaluation sees what training saw.

Completers (``complete(messages, tool_names) -> Reply``):

- :class:`ModelCompleter`: a local causal LM (greedy, or sampled with a temperature); the
  prompt is rendered with its chat template (tool schemas in ``tools`` mode) and counted in
  tokens exactly.
- :class:`EndpointCompleter`: any OpenAI-compatible server (vLLM, llama.cpp, Ollama) through
  :class:`memgym.llm.endpoint.OpenAIEndpoint`. The server applies its own chat template, so
  the tools are listed in the system message and the reply is parsed from its text
  (``<tool_call>`` blocks or one JSON call); prompt length is the whitespace-token estimate
  of :func:`memgym.envs.memory.count_tokens`.

Specs (``llm:<model>``, ``endpoint:<model>``, ``#rewrite``, ...): :mod:`memgym.llm.agent_specs`.

The agent's ``episode_stats()`` (turns, generation calls, the longest prompt, truncated
replies, well-formed share) go into each episode of the evaluation report.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from memgym.llm.chunked import (REWRITE_OPS_PER_CHUNK, WRITE_MODES, route_action, turn_actions,
                                turn_messages, view_key)
from memgym.llm.completing import CompletingAgent, Reply  # noqa: F401  (Reply: re-exported)



class ModelCompleter:
    """Replies of a local model (see the module docstring)."""

    def __init__(self, model: Any, tokenizer: Any, tools: bool = True,
                 max_new_tokens: int = 64, temperature: float = 0.0) -> None:
        from memgym.llm.chunked import TurnCodec

        self.model, self.tokenizer = model, tokenizer
        self._schemas: dict[tuple[str, ...] | None, list[Any]] = {}
        self.codec = TurnCodec(tokenizer, self._tools(None) if tools else None)
        self.max_new_tokens, self.temperature = max_new_tokens, temperature

    def _tools(self, names: tuple[str, ...] | None) -> list[Any]:
        """The tool schemas of the tools an environment enables (all when ``None``)."""
        from memgym.llm.agent import tool_functions

        if names not in self._schemas:
            self._schemas[names] = tool_functions(list(names) if names else None)
        return self._schemas[names]

    def __call__(self, messages: list[dict[str, Any]], tool_names: list[str] | None = None
                 ) -> Reply:
        import torch

        if self.codec.tools is not None and tool_names is not None:
            self.codec.tools = self._tools(tuple(tool_names))
        ids = self.codec.encode(messages)
        sampling = ({"do_sample": True, "temperature": self.temperature, "top_k": 0,
                     "top_p": 1.0} if self.temperature > 0 else {"do_sample": False})
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.no_grad():
                device = self.model.device  # the model's own device (CPU, or the GPU)
                out = self.model.generate(
                    torch.tensor([ids], device=device),
                    attention_mask=torch.ones(1, len(ids), dtype=torch.long, device=device),
                    max_new_tokens=self.max_new_tokens, pad_token_id=self.tokenizer.pad_token_id,
                    eos_token_id=self.tokenizer.eos_token_id, **sampling)
        finally:
            if was_training:
                self.model.train()
        completion = out[0, len(ids):].tolist()
        truncated = self.tokenizer.eos_token_id not in completion
        return Reply(self.codec.decode(completion), len(ids), truncated, len(completion))


class EndpointCompleter:
    """Replies of an OpenAI-compatible server (see the module docstring)."""

    def __init__(self, endpoint: Any, max_tokens: int = 128) -> None:
        self.endpoint, self.max_tokens = endpoint, max_tokens

    def __call__(self, messages: list[dict[str, Any]], tool_names: list[str] | None = None
                 ) -> Reply:
        from memgym.envs.memory import count_tokens

        text = self.endpoint.complete(messages, max_tokens=self.max_tokens)
        return Reply(text, sum(count_tokens(m["content"]) for m in messages), False,
                     count_tokens(text))


class ChunkedLLMAgent(CompletingAgent):
    """Per-chunk LLM memory manager for a text environment (see the module docstring).

    Args:
        complete: ``complete(messages, tool_names) -> Reply`` (:class:`ModelCompleter`,
            :class:`EndpointCompleter`, or any callable).
        name: Agent name in reports.
        write_mode: ``tools`` or ``rewrite``.
        prefill: Text the chat template writes before each reply (the forced tool-call
            opening), prepended before parsing.
        describe_tools: List the tools in the system message instead of (or beside) the
            chat template's schemas (endpoints; ``trl.tool_schemas: false``).
    """

    def __init__(self, complete: Callable[..., Reply], name: str = "llm",
                 write_mode: str = "tools", prefill: str = "", describe_tools: bool = False
                 ) -> None:
        if write_mode not in WRITE_MODES:
            raise ValueError(f"write_mode: {write_mode!r}; expected one of {', '.join(WRITE_MODES)}")
        super().__init__(complete, name)
        self.write_mode, self.prefill, self.describe_tools = write_mode, prefill, describe_tools

    def reset(self, env: Any, seed: int | None = None) -> None:
        super().reset(env, seed)
        core = env.unwrapped.core
        needed = 2 * core.entry_capacity + 1
        if self.write_mode == "rewrite" and core.ops_per_chunk < needed:
            raise ValueError(
                f"agent {self.name!r} rewrites the whole memory each turn: the environment needs "
                f"ops_per_chunk >= {needed} (it has {core.ops_per_chunk}); pass "
                f"--env-arg ops_per_chunk={REWRITE_OPS_PER_CHUNK}")
        self.key: tuple[Any, ...] | None = None
        self.queue: list[Any] = []

    def act(self, obs: Any, info: dict[str, Any], env: Any) -> str:
        if not isinstance(obs, str):
            raise ValueError(f"agent {self.name!r} needs a text environment (an id ending in "
                             "-Text-v0, e.g. memgym/KVUpdates-Easy-Text-v0)")
        text_env = env.unwrapped
        core = text_env.core
        key = view_key(core)
        if key != self.key:
            self.key = key
            self.queue = self._turn(text_env)
        if self.queue:
            action = self.queue.pop(0)
            return action if isinstance(action, str) else json.dumps(action)
        return json.dumps({"name": "next_chunk", "arguments": {}})

    def _turn(self, text_env: Any) -> list[Any]:
        core = text_env.core
        if self.write_mode == "rewrite" and core.view.kind == "question":
            tier = next(iter(core.retrieval_tiers), None)
            return [route_action(tier)] if tier is not None else []
        reply = self._turn_reply(
            turn_messages(text_env, self.write_mode, self.describe_tools), text_env.tools)
        actions, well_formed = turn_actions(core, self.prefill + reply.text, self.write_mode)
        self.stats["well_formed"] += well_formed and not reply.truncated
        return actions
