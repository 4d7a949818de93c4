"""The text interface's two halves: rendering the core as a prompt, parsing tool calls.

A tool call is JSON: ``{"name": "add_memory", "arguments": {"text": "...", "tier": "..."}}``
(optionally inside ``<tool_call>...</tool_call>``, as Qwen-style chat templates emit it), or
the short form ``{"op": "add", "text": "..."}``. Parsing never raises: a bad call becomes a
:class:`ParsedAction` with an error message that the environment shows the agent next turn.
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

#: Tool name -> (core op, {argument: type}, required arguments).
TOOLS: dict[str, tuple[str, dict[str, type], tuple[str, ...]]] = {
    "add_memory": ("add", {"text": str, "tier": str}, ()),  # text defaults to the chunk
    "update_memory": ("update", {"id": int, "text": str}, ("id",)),
    "delete_memory": ("delete", {"id": int}, ("id",)),
    "evict_memory": ("evict", {"id": int}, ("id",)),
    "invalidate_memory": ("invalidate", {"id": int}, ("id",)),
    "route_memory": ("route", {"id": int, "tier": str}, ("tier",)),
    "reread_chunk": ("reread", {"chunk_id": int, "archive_id": int}, ()),
    "next_chunk": ("noop", {}, ()),
}
OP_TO_TOOL = {op: name for name, (op, _, _) in TOOLS.items()}
MAX_ACTION_CHARS = 8192
MAX_TEXT_CHARS = 2000
_TOOL_CALL = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.S)
_INT = re.compile(r"\s*-?[0-9]+\s*")  # ASCII digits only: "²".isdigit() is true, int("²") raises
_SURROGATE = re.compile("[\ud800-\udfff]")  # from JSON "\ud800" escapes; unencodable as UTF-8


@dataclass(frozen=True)
class ParsedAction:
    op: str | None
    kwargs: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


def parse_action(action: Any) -> ParsedAction:
    """Parse one tool call (string or dict); errors are returned, never raised."""
    if isinstance(action, str):
        if len(action) > MAX_ACTION_CHARS:
            return ParsedAction(None, error=f"action longer than {MAX_ACTION_CHARS} characters")
        try:  # plain JSON first: its text may itself mention "<tool_call>"
            action = json.loads(action.strip())
        except (ValueError, RecursionError) as exc:  # ValueError: JSONDecodeError, huge ints
            match = _TOOL_CALL.search(action)
            if match is None:
                return ParsedAction(None, error=f"not valid JSON: {exc}")
            try:
                action = json.loads(match.group(1))
            except (ValueError, RecursionError) as exc:
                return ParsedAction(None, error=f"not valid JSON: {exc}")
    if not isinstance(action, dict):
        return ParsedAction(None, error="a tool call must be a JSON object")
    if "op" in action:  # short form {"op": "add", ...}
        name = OP_TO_TOOL.get(action["op"]) if isinstance(action["op"], str) else None
        arguments = {k: v for k, v in action.items() if k != "op"}
        if name is None:
            return ParsedAction(None, error=f"unknown op {_short(action['op'])}")
    else:
        name, arguments = action.get("name"), action.get("arguments") or {}
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments)
            except (ValueError, RecursionError):
                return ParsedAction(None, error="'arguments' is not a JSON object")
    if not isinstance(name, str) or name not in TOOLS:
        return ParsedAction(None, error=f"unknown tool {_short(name)}; tools: {', '.join(TOOLS)}")
    if not isinstance(arguments, dict):
        return ParsedAction(None, error="'arguments' must be an object")
    op, types, required = TOOLS[name]
    kwargs: dict[str, Any] = {}
    for key, value in arguments.items():
        if key not in types:
            return ParsedAction(None, error=f"{name}: unknown argument {_short(key)}")
        expected = types[key]
        if expected is int and isinstance(value, str) and _INT.fullmatch(value):
            with contextlib.suppress(ValueError):  # more digits than int() converts
                value = int(value)
        if value is None and key not in required:
            continue
        if not isinstance(value, expected) or isinstance(value, bool):
            return ParsedAction(None, error=f"{name}: {key} must be {expected.__name__}")
        if expected is str and len(value) > MAX_TEXT_CHARS:
            return ParsedAction(None, error=f"{name}: {key} longer than {MAX_TEXT_CHARS} characters")
        if expected is str and _SURROGATE.search(value):
            return ParsedAction(None, error=f"{name}: {key} is not valid Unicode (lone surrogate)")
        kwargs[key] = value
    missing = [k for k in required if k not in kwargs]
    if missing:
        return ParsedAction(None, error=f"{name}: missing argument(s) {', '.join(missing)}")
    return ParsedAction(op, kwargs)


def _short(value: Any) -> str:
    """The first 40 characters of ``value`` for an error message; never raises (``str`` of a
    deeply nested list raises RecursionError, of a >4300-digit int ValueError)."""
    try:
        text = str(value)
    except (ValueError, RecursionError):
        text = f"<{type(value).__name__}>"
    return repr(text[:40])


def core_arguments(parsed: ParsedAction) -> dict[str, Any]:
    """Map tool arguments onto :meth:`MemoryCore.apply` keywords."""
    args = parsed.kwargs
    out: dict[str, Any] = {}
    if "id" in args:
        out["target"] = args["id"]
    if "archive_id" in args:
        out["target"] = args["archive_id"]
    if "chunk_id" in args:
        out["chunk"] = args["chunk_id"]
    if "text" in args:
        out["text"] = args["text"]
    if "tier" in args:
        out["tier"] = args["tier"]
    return out


def render_prompt(core: Any, last_result: str = "") -> str:
    """The memory listing with ids, the text in view, budget and the last op's result."""
    if core.episode is None:
        return "(no episode: call reset())"
    store, view = core.store, core.view
    lines = ["## Memory"]
    for tier in core.tiers:
        cap = f"{store.tier_entries[tier.name]}/{tier.entries} entries"
        if tier.tokens:
            cap += f", {store.tier_tokens[tier.name]}/{tier.tokens} tokens"
        shown = " (always shown to the reader)" if tier.always_shown else ""
        lines.append(f"### {tier.name}: {cap}{shown}")
        for entry in store.entries.values():
            if entry.tier == tier.name:
                invalid = "" if entry.invalidated is None else " (invalidated: not read)"
                lines.append(f"[{entry.id}] {entry.text}{invalid}")
    if store.archive:
        lines.append(f"## Archive: {len(store.archive)} entries, ids "
                     + ", ".join(str(i) for i in store.archive))
    n = len(core.episode.chunks)
    if view.kind == "chunk":
        lines.append(f"## Chunk {view.source} of {n} (ops left: "
                     f"{core.ops_per_chunk - core.ops_used})\n{view.text}")
    elif view.kind == "recalled":
        lines.append(f"## Recalled (from chunk {view.source}; one op, then back)\n{view.text}")
    elif view.kind == "question":
        tiers = ", ".join(f"{k} (cost {v.get('cost', 0)})" for k, v in core.retrieval_tiers.items())
        lines.append(f"## Question: route it to a retrieval tier: {tiers}\n{view.text}")
    else:
        lines.append("## The stream is over.")
    if last_result:
        lines.append(f"## Last result\n{last_result}")
    return "\n".join(lines)
