"""The label-free teacher policy and the prompts that LLM memory managers, their worked
example and their warm start share.

The teacher sees what the model sees: a chunk stating an unhedged fact updates the memory
entry holding the same fact (``update_memory``) or is stored (``add_memory``); anything else
is skipped (``next_chunk``). It plays the prompt's worked example
(:func:`memgym.llm.tool_env.demonstration`) and the supervised warm start's conversations
(:mod:`memgym.llm.sft`), so both show the model the same policy. Its own module, so that the
tool environment and the warm start both stand on it instead of on each other.
"""

from __future__ import annotations

from typing import Any

from memgym.facts import extract_fact, is_hedged

#: The system prompt every LLM memory manager sees (training and evaluation alike).
SYSTEM_PROMPT = (
    "You manage a small memory while reading a stream of text, one chunk at a time. When the "
    "stream ends, questions about it are answered only from your memory, so keep the facts that "
    "may be asked about, with their latest values, and skip chatter and unreliable claims. "
    "Call one tool per turn: add_memory() stores the chunk in view, update_memory(id, text) "
    "replaces an outdated entry, next_chunk() moves on. When the stream is over, reply done."
)
#: The user message; ``reset`` appends the memory listing and the first chunk to it.
USER_INTRO = "The stream starts now.\n\n"
#: The user message of the prompt's worked example.
DEMO_INTRO = "Example stream.\n\n"


def teacher_call(core: Any, tools: set[str], acted_on: int | None) -> tuple[str, dict[str, Any]]:
    """The teacher's next call for the view in ``core`` (see the module docstring)."""
    view = core.view
    fact = extract_fact(view.text) if view.kind == "chunk" else None
    if fact is not None and not is_hedged(view.text) and view.source != acted_on:
        same = [e.id for e in core.store.entries.values()
                if (f := extract_fact(e.text)) is not None and f.key == fact.key]
        if same and "update_memory" in tools:
            return "update_memory", {"id": same[0]}
        if "add_memory" in tools and core.check("add") is None:
            return "add_memory", {}
    return "next_chunk", {}


def play_teacher(env: Any, first_message: str, *, split: str, seed: int,
                 options: dict[str, Any] | None = None, turns: int | None = None
                 ) -> tuple[list[dict[str, Any]], float]:
    """Play one stream of a text env (``gym.make(...).unwrapped``) with the teacher.

    Returns the conversation (a user message ``first_message`` + the first view, then one
    assistant tool call and its tool response per turn; at most ``turns`` turns, the whole
    stream when ``None``) and the episode's QA score."""
    obs, info = env.reset(seed=seed, options={"split": split, "episode_seed": seed,
                                              **(options or {})})
    tools = set(info["tools"])
    messages: list[dict[str, Any]] = [{"role": "user", "content": first_message + obs}]
    acted_on: int | None = None
    done = False
    while not done and (turns is None or len(messages) < 1 + 2 * turns):
        core = env.core
        name, arguments = teacher_call(core, tools, acted_on)
        acted_on = core.view.source
        messages.append({"role": "assistant", "content": "", "tool_calls": [
            {"type": "function", "function": {"name": name, "arguments": arguments}}]})
        obs, _, done, _, _ = env.step({"name": name, "arguments": arguments})
        messages.append({"role": "tool", "name": name, "content": obs})
    core = env.core
    while not core.done:  # a truncated demonstration: finish the stream to score it
        core.apply("noop")
    qa = sum(r.score for r in core.records) / max(len(core.episode.questions), 1)
    return messages, float(qa)
