"""An LLM memory manager as a memgym agent, for text environments (``memgym eval --agent llm:...``).

The agent plays a ``memgym/<Task>-<Level>-Text-v0`` environment exactly as a GRPO rollout
plays :class:`memgym.llm.tool_env.MemoryToolEnv`: the same system prompt, the same tool
schemas (only the tools the environment enables), the same chat template, one growing
conversation (assistant tool calls, then the environment's view as the tool response). Each
turn is decoded greedily (or sampled: ``temperature``) with at most ``max_new_tokens`` tokens;
every ``<tool_call>`` block of a turn is stepped in order (parsed by
:func:`memgym.envs.text_view.parse_action`). When a turn holds no tool call the model has
stopped, and, as in training, the rest of the stream is skipped (``next_chunk`` until the
end); a turn that looks like a broken call is first passed to the environment, which charges
the ``format`` penalty.

With ``force_tool_calls`` (on for ``llm:`` specs, as by default in ``trl:`` configs) the chat
template opens a tool call at every turn and the model writes only the tool name and
arguments; with ``demonstration`` turns (3 for ``llm:`` specs, as ``trl.demonstration``) a
worked example
(:func:`memgym.llm.tool_env.demonstration`) precedes the stream. A run folder's agent uses its
config's values, so evaluation renders exactly what training rendered.

Specs: ``llm:smollm2``, ``llm:tiny``, ``llm:<model folder>`` or ``llm:<run folder>`` (a
``backend: trl`` run: its best / final model).
"""

from __future__ import annotations

import json
import re
from typing import Any

from memgym.llm.tool_env import SYSTEM_PROMPT, MemoryToolEnv, demonstration, initial_messages

_BLOCK = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.S)
_CALL_LIKE = re.compile(r"<tool_call>|\"name\"\s*:")
NEXT = json.dumps({"name": "next_chunk", "arguments": {}})


class LLMAgent:
    """Tool-calling LLM policy for a text environment (greedy, or sampled with a temperature).

    Args:
        model: A loaded causal LM (:func:`memgym.llm.models.load_model`).
        tokenizer: Its tokenizer, with the matching chat template (``force_tool_calls``).
        name: Agent name in reports.
        max_new_tokens: Tokens per turn.
        max_context_tokens: When the conversation grows past this, the oldest turns of the
            episode are dropped (system prompt, demonstration and first view stay).
        force_tool_calls: The tokenizer's template opens a tool call every turn (see
            :func:`memgym.llm.models.chat_template`); the agent then prepends that opening to
            what the model writes.
        demonstration: Worked-example turns shown before the stream (0: none).
        temperature: 0 decodes greedily; above 0 samples at that temperature (as GRPO's
            rollouts do), seeded by the episode seed and a count of the agent's episodes, so
            repeated episodes of one stream are different draws and a run is reproducible.
    """

    def __init__(self, model: Any, tokenizer: Any, name: str = "llm", max_new_tokens: int = 64,
                 max_context_tokens: int = 4096, force_tool_calls: bool = False,
                 demonstration: int = 0, temperature: float = 0.0) -> None:
        if temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {temperature}")
        self.model, self.tokenizer, self.name = model, tokenizer, name
        self.max_new_tokens = max_new_tokens
        self.max_context_tokens = max_context_tokens
        self.force_tool_calls = force_tool_calls
        self.demonstration = demonstration
        self.system_prompt = SYSTEM_PROMPT
        self.turns = 0
        self.temperature = temperature
        self.episodes = 0

    def reset(self, env: Any, seed: int | None = None) -> None:
        if self.temperature > 0:
            import torch

            torch.manual_seed(((seed or 0) * 1_000_003 + self.episodes) % 2**63)
        self.episodes += 1
        self.messages: list[dict[str, Any]] | None = None
        self.queue: list[str] = []
        self.pending: list[str] = []  # tool names whose responses are still to record
        self.skipping = False
        self.tools: list[Any] | None = None
        self.demo: list[dict[str, Any]] = []

    def act(self, obs: Any, info: dict[str, Any], env: Any) -> str:
        if not isinstance(obs, str):
            raise ValueError(f"agent {self.name!r} needs a text environment (an id ending in "
                             "-Text-v0, e.g. memgym/KVUpdates-Easy-Text-v0)")
        if self.messages is None:
            self.demo = self._demonstration(env) if self.demonstration else []
            self.messages = initial_messages(obs)
            self.keep = len(self.messages)  # never dropped when the context is full
            self.tools = self._tools(info.get("tools"))
        elif self.pending:
            self.messages.append({"role": "tool", "name": self.pending.pop(0), "content": obs})
        if self.queue:
            return self.queue.pop(0)
        if self.skipping:
            return NEXT
        text = self.generate()
        if self.force_tool_calls:  # the template wrote the opening of the call
            from memgym.llm.models import TOOL_CALL_PREFILL

            text = TOOL_CALL_PREFILL + text
        calls = _BLOCK.findall(text)
        parsed = []
        for raw in calls:
            try:
                call = json.loads(raw)
            except ValueError:
                call = None
            if not (isinstance(call, dict) and isinstance(call.get("name"), str)
                    and isinstance(call.get("arguments", {}), dict)):
                break  # TRL would not parse this turn either: the model has stopped
            parsed.append((raw, call))
        if not parsed or len(parsed) < len(calls):
            self.skipping = True
            if not parsed:
                # a reply without a call ends the episode; a broken call costs the format penalty
                return text if _CALL_LIKE.search(text) else NEXT
        self.messages.append({"role": "assistant", "content": "", "tool_calls": [
            {"type": "function", "function": {"name": c["name"],
                                              "arguments": c.get("arguments") or {}}}
            for _, c in parsed]})
        self.pending = [c["name"] for _, c in parsed]
        self.queue = [raw for raw, _ in parsed[1:]]
        return parsed[0][0]

    # -- model ---------------------------------------------------------------------------
    def _demonstration(self, env: Any) -> list[dict[str, Any]]:
        spec = env.unwrapped.spec
        if spec is None:
            raise ValueError("a demonstration needs an environment made with gym.make")
        return demonstration(spec.id, dict(spec.kwargs), self.demonstration)

    def _tools(self, names: list[str] | None) -> list[Any]:
        return tool_functions(names)

    def _encode(self) -> Any:
        extra = {"demonstration": self.demo} if self.demo else {}
        ids = self.tokenizer.apply_chat_template(self.messages, tools=self.tools,
                                                 add_generation_prompt=True, tokenize=True,
                                                 return_dict=True, return_tensors="pt", **extra)
        return ids

    def generate(self) -> str:
        import torch

        batch = self._encode()
        keep = self.keep
        while batch["input_ids"].shape[1] > self.max_context_tokens and len(self.messages) > keep + 1:
            del self.messages[keep]  # the episode's oldest assistant turn and its tool responses
            while len(self.messages) > keep and self.messages[keep]["role"] == "tool":
                del self.messages[keep]
            batch = self._encode()
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.no_grad():
                sampling = ({"do_sample": True, "temperature": self.temperature, "top_k": 0,
                             "top_p": 1.0} if self.temperature > 0 else {"do_sample": False})
                out = self.model.generate(**batch, max_new_tokens=self.max_new_tokens,
                                          **sampling,
                                          pad_token_id=self.tokenizer.pad_token_id,
                                          eos_token_id=self.tokenizer.eos_token_id)
        finally:
            if was_training:
                self.model.train()
        self.turns += 1
        return self.tokenizer.decode(out[0, batch["input_ids"].shape[1]:], skip_special_tokens=True)


def tool_functions(names: list[str] | None) -> list[Any]:
    """The tool methods (schemas for the chat template) of an env enabling tools ``names``,
    as GRPO's ``environment_factory`` class exposes them."""
    from memgym.envs.text_view import TOOLS

    cls = MemoryToolEnv.restricted_to(names or list(TOOLS))
    instance = cls()
    return [getattr(instance, n) for n in TOOLS if getattr(cls, n, None) is not None]


def load_llm_agent(spec: str, *, max_new_tokens: int = 64, force_tool_calls: bool = True,
                   demonstration: int = 3) -> Any:
    """``spec`` after ``llm:``: a model spec (``smollm2``, ``tiny`` or a model folder). A
    ``backend: trl`` run folder is loaded by :func:`memgym.loading.load_agent` (its config
    decides the prompt settings)."""
    from memgym.llm.models import load_model

    model, tokenizer = load_model(spec, force_tool_calls=force_tool_calls)
    return LLMAgent(model, tokenizer, name=f"llm:{spec}", max_new_tokens=max_new_tokens,
                    force_tool_calls=force_tool_calls, demonstration=demonstration)
