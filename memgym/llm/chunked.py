"""Per-chunk (stateless) turns of an LLM memory manager: the prompt never grows with the stream.

MemAgent, MEM1, Mem-alpha and ReMemR1 keep an LLM manager's context constant: each chunk of
the stream is a fresh prompt (system + the current memory + the chunk), the model answers with
memory operations or a rewritten memory, and the rollout's final reward is shared by all of
its per-chunk turns. :class:`ChunkedEpisode` is one such rollout over a memgym text
environment; the GRPO trainer (:mod:`memgym.training.trl_chunked`), the evaluation agent
(:mod:`memgym.llm.chunked_agent`) and the warm start (:mod:`memgym.llm.chunked_sft`) all play
it.

A turn. The prompt is the system message of the write mode and one user message: the
environment's own view (:func:`memgym.envs.text_view.render_prompt`: memory with ids, the
chunk, ops left, the last op's result) in ``tools`` mode, the memory lines and the chunk in
``rewrite`` mode. It is bounded by the memory budget plus one chunk (chunks may group turns:
LoCoMo ``chunking=session``); :attr:`ChunkedEpisode.prompt_tokens` records each length.

Write modes:

- ``tools`` (Mem-alpha / Memory-R1): the reply holds tool calls (``<tool_call>{json}``
  blocks, or one bare JSON call). They are stepped in order while the view stays the same;
  a call that changes the view (the stream moved on, a chunk was recalled, a question came
  up) ends the turn, and the calls after it are dropped. If the view is unchanged after the
  last call, ``next_chunk`` moves the stream on, so every turn consumes its view.
- ``rewrite`` (MemAgent / MEM1): the reply is the complete new memory, one entry per line.
  Entries whose text is repeated verbatim stay; the others are overwritten by the new lines
  (``update``) or deleted, and the remaining new lines added, all through the environment's
  own ops (so capacity, evidence and rewards are the core's); a line that does not fit counts
  as a failed call. Needs the ``add`` op and ``update`` or ``delete``. Questions in view are
  routed to the first retrieval tier.

Reward: the rollout's terms are those of :class:`memgym.llm.tool_env.MemoryToolEnv` (``qa``,
``tool_success``, ``compression``) plus ``format``, the share of well-formed turns (tools: at
least one call and every block parsed as a known tool; rewrite: the reply ended, not cut off
at the token limit).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from memgym.envs.text_view import MAX_ACTION_CHARS, TOOLS, parse_action
from memgym.llm.tool_env import ENV_TERMS, MemoryToolEnv

#: The write modes: tool calls on the ops, or the whole memory rewritten.
WRITE_MODES = ("tools", "rewrite")

CHUNKED_SYSTEM_PROMPT = (
    "You manage a small memory while reading a long stream of text, one chunk at a time. Each "
    "turn shows you only your memory and one new chunk; earlier chunks are gone unless your "
    "memory kept them. When the stream ends, questions about it are answered only from your "
    "memory, so keep the facts that may be asked about, with their latest values, and skip "
    "chatter and unreliable claims. Reply with tool calls: add_memory() stores the chunk in view, "
    "update_memory(id, text) replaces an outdated entry, next_chunk() keeps nothing more."
)
REWRITE_SYSTEM_PROMPT = (
    "You manage a small memory while reading a long stream of text, one chunk at a time. Each "
    "turn shows you only your memory and one new chunk; earlier chunks are gone unless your "
    "memory kept them. When the stream ends, questions about it are answered only from your "
    "memory. Reply with the complete new memory, one entry per line, at most {entries} lines: "
    "copy the entries worth keeping, replace outdated values, add what the chunk states that may "
    "be asked about. Lines you leave out are forgotten."
)
CHUNK_INTRO = "A new chunk of the stream.\n\n"
TOOLS_INTRO = ("\n\nReply with one or more tool calls, each as "
               '<tool_call>{"name": TOOL, "arguments": {...}}</tool_call>. Tools:\n')
_BLOCK = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.S)
_BULLET = re.compile(r"^\s*(?:[-*\u2022]|\[\d+\])\s*")


#: ``ops_per_chunk`` in rewrite mode: one turn may delete and add the whole memory.
REWRITE_OPS_PER_CHUNK = 4096


def mode_env_kwargs(env_kwargs: dict[str, Any] | None, write_mode: str) -> dict[str, Any]:
    """Environment arguments for a write mode (rewrite: enough ops per chunk for a rewrite)."""
    kwargs = dict(env_kwargs or {})
    if write_mode == "rewrite":
        kwargs["ops_per_chunk"] = max(int(kwargs.get("ops_per_chunk", 1)), REWRITE_OPS_PER_CHUNK)
    return kwargs


def view_key(core: Any) -> tuple[Any, ...]:
    """What identifies the view in front of the manager: a turn ends when it changes."""
    view = core.view
    return (core.cursor, view.kind, view.source, view.question, len(core.records))


def parse_turn(text: str) -> tuple[list[dict[str, Any]], bool]:
    """The tool calls of one reply and whether the reply was well formed (at least one call,
    every ``<tool_call>`` block a JSON call of a known tool). Without any block the whole
    reply is tried as one bare JSON call."""
    blocks = _BLOCK.findall(text) or [text.strip()]
    calls: list[dict[str, Any]] = []
    for raw in blocks:
        parsed = parse_action(raw)
        if parsed.error is not None:
            return calls, False
        name = next(n for n, (op, _, _) in TOOLS.items() if op == parsed.op)
        calls.append({"name": name, "arguments": dict(parsed.kwargs)})
    return calls, bool(calls)


def memory_lines(text: str) -> list[str]:
    """The entries of a rewritten memory: non-empty lines, bullets stripped, repeats dropped."""
    lines: list[str] = []
    for line in text.splitlines():
        line = _BULLET.sub("", line).strip()
        if line and line not in lines:
            lines.append(line)
    return lines


NEXT_CHUNK: dict[str, Any] = {"name": "next_chunk", "arguments": {}}


def route_action(tier: str) -> dict[str, Any]:
    return {"name": "route_memory", "arguments": {"tier": tier}}


def tool_signatures(names: Sequence[str]) -> str:
    """One line per tool, its signature from :data:`memgym.envs.text_view.TOOLS`."""
    out = []
    for name in names:
        _, types, required = TOOLS[name]
        args = ", ".join(f"{k}: {t.__name__}" + ("" if k in required else " (optional)")
                         for k, t in types.items())
        out.append(f"- {name}({args})")
    return "\n".join(out)


def turn_messages(text_env: Any, write_mode: str, describe_tools: bool = False
                  ) -> list[dict[str, str]]:
    """A turn's prompt for the view of ``text_env`` (a :class:`memgym.envs.text.TextMemoryEnv`):
    the write mode's system message and one user message (see the module docstring). With
    ``describe_tools`` (tools mode) the system message lists the environment's tools, one
    line each, for a template without JSON tool schemas (an endpoint, or short prompts)."""
    core = text_env.core
    if write_mode == "tools":
        system = CHUNKED_SYSTEM_PROMPT
        if describe_tools:
            system += TOOLS_INTRO + tool_signatures(text_env.tools)
        return [{"role": "system", "content": system},
                {"role": "user", "content": CHUNK_INTRO + text_env.prompt()}]
    system = REWRITE_SYSTEM_PROMPT.format(entries=core.entry_capacity)
    memory = "\n".join(e.text for e in core.store.entries.values()) or "(empty)"
    view = core.view
    where = (f"Chunk {view.source} of {len(core.episode.chunks)}" if view.kind == "chunk"
             else "Recalled text" if view.kind == "recalled" else "Nothing new")
    user = f"## Memory\n{memory}\n## {where}\n{view.text}\n## Your new memory"
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def turn_actions(core: Any, reply: str, write_mode: str) -> tuple[list[Any], bool]:
    """The environment actions of one reply to the view in ``core``, and whether the reply
    was well formed. ``tools``: its calls in order (a reply without a runnable call is passed
    on as it is, so the environment charges it as malformed); ``rewrite``: the entries the new
    memory leaves out are overwritten by its new lines (``update``), the rest of them deleted
    (``delete``; without it they stay), and the remaining new lines added."""
    if write_mode == "tools":
        calls, well_formed = parse_turn(reply)
        return (calls or [reply[:MAX_ACTION_CHARS]]), well_formed
    lines = memory_lines(reply)
    keep = set(lines)
    present = {e.text for e in core.store.entries.values()}
    dropped = [e.id for e in core.store.entries.values() if e.text not in keep]
    new = [line for line in lines if line not in present]
    replaced = min(len(dropped), len(new)) if "update" in core.ops else 0
    actions: list[Any] = [{"name": "update_memory", "arguments": {"id": i, "text": line}}
                          for i, line in zip(dropped[:replaced], new[:replaced])]
    if "delete" in core.ops:
        actions += [{"name": "delete_memory", "arguments": {"id": i}} for i in dropped[replaced:]]
    actions += [{"name": "add_memory", "arguments": {"text": line}} for line in new[replaced:]]
    return actions, True


@dataclass
class TurnRecord:
    """One per-chunk turn: what the model saw and wrote, and what came of it."""

    prompt_tokens: int
    calls: int
    ok_calls: int
    well_formed: bool
    completion: str = ""


class ChunkedEpisode(MemoryToolEnv):
    """One per-chunk rollout of a memgym text environment (see the module docstring).

    Args:
        env_id, env_kwargs, weights, split: As :class:`memgym.llm.tool_env.MemoryToolEnv`.
        write_mode: ``tools`` or ``rewrite``.
        prefill: Text the chat template writes before the model's own reply (the forced
            tool-call opening, :data:`memgym.llm.models.TOOL_CALL_PREFILL`); it is prepended
            to each reply before parsing.
        max_turns: Turns after which the rest of the stream is skipped (None: the stream's
            own length bounds it; each turn consumes at least one view).
        describe_tools: List the tools in the system message (see :func:`turn_messages`).
    """

    def __init__(self, env_id: str | None = None, env_kwargs: dict[str, Any] | None = None,
                 weights: dict[str, float] | None = None, split: str = "train", *,
                 write_mode: str = "tools", prefill: str = "",
                 max_turns: int | None = None, describe_tools: bool = False) -> None:
        if write_mode not in WRITE_MODES:
            raise ValueError(f"write_mode: {write_mode!r}; expected one of {', '.join(WRITE_MODES)}")
        super().__init__(env_id, mode_env_kwargs(env_kwargs, write_mode), weights, split)
        self.write_mode, self.prefill, self.max_turns = write_mode, prefill, max_turns
        self.describe_tools = describe_tools
        self.turns: list[TurnRecord] = []

    def reset(self, **row: Any) -> str:  # type: ignore[override]
        obs = super().reset(**row)
        self.turns = []
        if self.write_mode == "rewrite":
            self._route_questions()
        return obs

    # -- one turn --------------------------------------------------------------------------
    @property
    def done(self) -> bool:
        if self.env is None:
            raise RuntimeError("ChunkedEpisode: reset() was not called")
        return bool(self.env.core.done) or (
            self.max_turns is not None and len(self.turns) >= self.max_turns)

    def messages(self) -> list[dict[str, str]]:
        """The prompt of the next turn: the mode's system message and the current view."""
        return turn_messages(self.env, self.write_mode, self.describe_tools)

    def apply(self, reply: str, *, prompt_tokens: int = 0, truncated: bool = False) -> TurnRecord:
        """Play the model's ``reply`` to the current view; returns the turn's record."""
        if self.done:
            raise RuntimeError("ChunkedEpisode.apply: the rollout is over")
        core = self.env.core
        key = view_key(core)
        actions, well_formed = turn_actions(core, self.prefill + reply, self.write_mode)
        ok = 0
        for action in actions:
            if core.done or view_key(core) != key:
                break  # the view changed: the rest of the reply was written for another one
            info = self.env.step(action)[4]
            ok += bool(info["ok"])
            self._calls += 1
        self._ok_calls += ok
        if not core.done and view_key(core) == key:
            self.env.step(NEXT_CHUNK)
        if self.write_mode == "rewrite":
            self._route_questions()
        record = TurnRecord(prompt_tokens, len(actions), ok, well_formed and not truncated, reply)
        self.turns.append(record)
        return record

    def _route_questions(self) -> None:
        core = self.env.core
        tier = next(iter(core.retrieval_tiers), None)
        while not core.done and core.view.kind == "question" and tier is not None:
            self.env.step(route_action(tier))

    # -- reward ----------------------------------------------------------------------------
    @property
    def format_share(self) -> float:
        return sum(t.well_formed for t in self.turns) / len(self.turns) if self.turns else 0.0

    @property
    def rollout_terms(self) -> dict[str, float]:
        """The episode's terms (finishing the stream first): ``qa``, ``tool_success``,
        ``compression``, ``format``, plus ``calls``, ``turns`` and ``max_prompt_tokens``."""
        terms = dict(self.episode_terms)
        terms.update(format=self.format_share, turns=float(len(self.turns)),
                     max_prompt_tokens=float(max((t.prompt_tokens for t in self.turns),
                                                 default=0)))
        return terms

    def env_reward(self) -> float:
        """The weighted environment terms (``get_reward`` of the tool environment)."""
        return self.get_reward()

    def reward(self) -> float:
        """The rollout's reward: the weighted environment terms plus ``format``."""
        return self.get_reward() + self._weights["format"] * self.format_share


#: ``generate(prompt_ids) -> (completion_ids, logprobs or None, truncated)`` for a batch.
Generate = Callable[[list[list[int]]], tuple[list[list[int]], list[list[float]] | None, list[bool]]]


@dataclass
class TurnSample:
    """The tokens of one turn, exactly as generated (trained on without re-tokenising)."""

    rollout: int
    prompt_ids: list[int]
    completion_ids: list[int]
    logprobs: list[float] | None


class TurnCodec:
    """Renders a turn's prompt to token ids with a tokenizer's chat template (tool schemas in
    ``tools`` mode) and decodes replies."""

    def __init__(self, tokenizer: Any, tools: list[Any] | None = None,
                 template_kwargs: dict[str, Any] | None = None) -> None:
        self.tokenizer, self.tools = tokenizer, tools
        self.template_kwargs = dict(template_kwargs or {})

    def encode(self, messages: list[dict[str, Any]]) -> list[int]:
        """The prompt's ids. A last ``assistant`` message is an opening the model continues
        (a prefill: the template leaves it open, ``continue_final_message``)."""
        prefilled = bool(messages) and messages[-1]["role"] == "assistant"
        out = self.tokenizer.apply_chat_template(messages, tools=self.tools,
                                                 add_generation_prompt=not prefilled,
                                                 continue_final_message=prefilled,
                                                 tokenize=True, return_dict=True,
                                                 **self.template_kwargs)
        return list(out["input_ids"])

    def decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode(list(ids), skip_special_tokens=True)


def play_lockstep(episodes: Sequence[ChunkedEpisode], codec: TurnCodec, generate: Generate,
                  max_prompt_tokens: int | None = None,
                  sync: Callable[[int], int] | None = None) -> list[TurnSample]:
    """Play ``episodes`` (already reset) turn by turn, all live ones in one generation batch
    per turn, until every one is done; returns every turn's tokens.

    A prompt longer than ``max_prompt_tokens`` raises: the bound is a property of the memory
    budget and the chunk size, and truncating it would train on a prompt the model never saw.
    ``sync(live)`` (several processes sharing one vLLM engine, whose generate calls are
    collective) returns the most live rollouts of any process: a process whose rollouts are
    over keeps calling ``generate`` with one throw-away prompt until all are over.
    """
    samples: list[TurnSample] = []
    idle_prompt: list[int] | None = None
    while True:
        live = [i for i, e in enumerate(episodes) if not e.done]
        if sync is not None and sync(len(live)) > 0 and not live:
            generate([idle_prompt or codec.encode([{"role": "user", "content": ""}])])
            continue
        if not live:
            return samples
        prompts = [codec.encode(episodes[i].messages()) for i in live]
        idle_prompt = prompts[0]
        if max_prompt_tokens is not None:
            for i, ids in zip(live, prompts):
                if len(ids) > max_prompt_tokens:
                    raise ValueError(
                        f"turn {len(episodes[i].turns)} of rollout {i}: the prompt has {len(ids)} "
                        f"tokens, over max_prompt_tokens={max_prompt_tokens}; lower the memory "
                        "budget or the chunk size, or raise the bound")
        completions, logprobs, truncated = generate(prompts)
        for j, i in enumerate(live):
            episodes[i].apply(codec.decode(completions[j]), prompt_tokens=len(prompts[j]),
                              truncated=truncated[j])
            samples.append(TurnSample(i, prompts[j], list(completions[j]),
                                      None if logprobs is None else list(logprobs[j])))


def mean_terms(episodes: Sequence[ChunkedEpisode]) -> dict[str, float]:
    """Mean rollout terms over episodes (``max_prompt_tokens``: the maximum)."""
    terms = [e.rollout_terms for e in episodes]
    if not terms:
        return {}
    out = {k: sum(t[k] for t in terms) / len(terms) for k in (*ENV_TERMS, "format", "calls",
                                                               "turns")}
    out["max_prompt_tokens"] = max(t["max_prompt_tokens"] for t in terms)
    return out
