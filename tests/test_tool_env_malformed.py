"""Malformed tool calls through the TRL tool class (:class:`memgym.llm.tool_env.MemoryToolEnv`).

GRPO hands a model's tool call to the class as ``env.<tool>(**arguments)`` with whatever the
model wrote: wrong types, unknown ids, huge strings, unicode, prompt-like text, nested junk,
arguments that do not exist. Every such call must come back as an error string (the
environment's view with ``error (<code>): ...``), count against the tool-success term, never
raise, and leave memory exactly as it was. The inputs are the text environment's malformed
corpus (:mod:`malformed_corpus`) turned into tool calls, plus hand-written raw method calls.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from memgym.envs.text_view import OP_TO_TOOL, TOOLS
from memgym.llm.tool_env import STREAM_OVER, MemoryToolEnv

from malformed_corpus import malformed_corpus

ALL_OPS = ("noop", "add", "update", "delete", "evict", "route", "reread")
ENV_KWARGS = {"ops": ALL_OPS, "ops_per_chunk": 4, "archive_capacity": 4,
              "tiers": {"core": {"entries": 2}, "episodic": {"entries": 8}}}
ROW = {"env_id": "memgym/KVUpdates-Easy-Text-v0", "options": {"length": 60}}
Call = tuple[str, str, tuple[Any, ...], dict[str, Any]]  # (label, tool, args, kwargs)


def _value_calls(label: str, value: Any) -> list[Call]:
    """A junk value in the argument slots that take ids, chunk ids and tiers."""
    return [(f"{label} as id", "delete_memory", (), {"id": value}),
            (f"{label} as update id", "update_memory", (value,), {"text": "x"}),
            (f"{label} as chunk_id", "reread_chunk", (), {"chunk_id": value}),
            (f"{label} as tier", "route_memory", (), {"tier": value, "id": 0})]


def tool_calls(label: str, action: Any) -> list[Call]:
    """The tool call(s) a corpus entry stands for: a call naming a tool is made with its own
    arguments (as GRPO would pass them); anything else is passed as an argument value."""
    if isinstance(action, dict):
        name, arguments = action.get("name"), action.get("arguments")
        if "op" in action and isinstance(action["op"], str) and action["op"] in OP_TO_TOOL:
            name, arguments = OP_TO_TOOL[action["op"]], {k: v for k, v in action.items() if k != "op"}
        if isinstance(name, str) and name in TOOLS:
            if isinstance(arguments, dict) and all(isinstance(k, str) for k in arguments):
                return [(label, name, (), arguments)]
            return [(f"{label} (positional)", name, (arguments,), {})]
    return _value_calls(label, action)


RAW_CALLS: list[Call] = [
    # arguments that do not exist, missing ones, too many, twice
    ("unknown kwarg", "add_memory", (), {"text": "x", "priority": 1}),
    ("capitalised kwarg", "add_memory", (), {"Text": "x"}),
    ("injected kwarg", "add_memory", (), {"text": "x", "system": "delete everything"}),
    ("next_chunk kwarg", "next_chunk", (), {"force": True}),
    ("next_chunk positional", "next_chunk", ("now",), {}),
    ("delete no id", "delete_memory", (), {}),
    ("delete idx", "delete_memory", (), {"idx": 0}),
    ("evict target", "evict_memory", (), {"target": 0}),
    ("invalidate no id", "invalidate_memory", (), {}),
    ("invalidate text", "invalidate_memory", (), {"id": 0, "text": "x"}),
    ("update no id", "update_memory", (), {"text": "x"}),
    ("update three positionals", "update_memory", (0, "x", "extra"), {}),
    ("delete id twice", "delete_memory", (0,), {"id": 1}),
    ("route no tier", "route_memory", (), {"id": 0}),
    ("reread chunk", "reread_chunk", (), {"chunk": 0}),
    ("reread both ids as strings", "reread_chunk", (), {"chunk_id": "zero", "archive_id": "one"}),
    # well-typed but naming nothing that exists
    ("delete unknown id", "delete_memory", (99,), {}),
    ("delete negative id", "delete_memory", (), {"id": -1}),
    ("update unknown id", "update_memory", (), {"id": 1234, "text": "x"}),
    ("evict unknown id", "evict_memory", (), {"id": 10**30}),
    ("invalidate unknown id", "invalidate_memory", (), {"id": 10**30}),
    ("route unknown tier", "route_memory", (), {"id": 0, "tier": "nowhere"}),
    ("add unknown tier", "add_memory", (), {"text": "x", "tier": "nowhere"}),
    ("add empty text", "add_memory", (), {"text": "   "}),
    ("reread unknown archive id", "reread_chunk", (), {"archive_id": 7}),
    ("reread future chunk", "reread_chunk", (), {"chunk_id": 10**6}),
    # huge and odd strings
    ("huge text", "add_memory", (), {"text": "x" * 100_000}),
    ("huge update text", "update_memory", (), {"id": 0, "text": "é" * 5000}),
    ("huge tier", "add_memory", (), {"text": "x", "tier": "t" * 100_000}),
    ("lone surrogate text", "add_memory", (), {"text": "a\udfffb"}),
    ("digit string id, huge", "delete_memory", (), {"id": "9" * 5000}),
    ("json text id", "delete_memory", (), {"id": json.dumps({"id": 0})}),
    ("huge kwarg name", "add_memory", (), {"k" * 100_000: "x"}),
    ("surrogate kwarg name", "add_memory", (), {"a\udfffb": "x"}),
    ("nested junk kwarg", "next_chunk", (), {"junk": [[[[]]]]}),
]


def all_calls() -> list[Call]:
    calls = [c for label, action in malformed_corpus() for c in tool_calls(label, action)]
    return calls + RAW_CALLS


CALLS = all_calls()


def memory(env: MemoryToolEnv) -> dict[str, Any]:
    """What memory holds (the reader's hit counters left out: they change when a malformed
    call ends the chunk and questions fall due)."""
    store = env.env.core.store
    store.check_invariants()

    def view(e: Any) -> tuple:
        return (e.text, e.tier, e.source, e.created, e.updated, e.tokens)

    return {"entries": {k: view(e) for k, e in store.entries.items()},
            "archive": {k: view(e) for k, e in store.archive.items()}, "next_id": store.next_id}


def episodes(env: MemoryToolEnv) -> Iterator[int]:
    """Fresh episodes, each starting with two valid calls (an entry to corrupt, one archived)."""
    seed = 0
    while True:
        env.reset(**ROW, episode_seed=seed)
        assert "ok: added entry" in env.add_memory()
        assert env.env.core.store.entries, "the setup add worked"
        seed += 1
        yield seed


def test_corpus_turns_into_enough_tool_calls() -> None:
    assert len(malformed_corpus()) >= 200
    assert len(CALLS) >= 600
    assert {tool for _, tool, _, _ in CALLS} == set(TOOLS)


def test_malformed_tool_calls_are_errors_that_change_nothing() -> None:
    env = MemoryToolEnv(env_kwargs=ENV_KWARGS)
    fresh = episodes(env)
    next(fresh)
    calls = ok = 1  # the setup add
    failures: list[str] = []
    codes: dict[str, int] = {}
    for label, tool, args, kwargs in CALLS:
        before = memory(env)
        try:
            out = getattr(env, tool)(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - RecursionError, TypeError included
            failures.append(f"{label}: {tool} raised {type(exc).__name__}: {exc!s:.80}")
            continue
        if not isinstance(out, str):
            failures.append(f"{label}: returned {type(out).__name__}")
            continue
        out.encode("utf-8")  # a tokenizer must be able to encode every tool response
        last = out.split("## Last result\n", 1)[-1]
        code = last[len("error ("):].split(")", 1)[0] if last.startswith("error (") else None
        if code is None or code in ("episode_over", "no_episode"):
            failures.append(f"{label}: {tool} did not fail: {last[:120]!r}")
        else:
            codes[code] = codes.get(code, 0) + 1
        if memory(env) != before:
            failures.append(f"{label}: {tool} changed memory")
        calls += 1
        if out.endswith(STREAM_OVER):  # the malformed calls used up the stream: score it
            terms = env.episode_terms
            assert terms["calls"] == calls and terms["tool_success"] == pytest.approx(ok / calls)
            next(fresh)
            calls = ok = 1
    assert not failures, f"{len(failures)} of {len(CALLS)}:\n" + "\n".join(failures[:30])
    terms = env.episode_terms
    assert terms["calls"] == calls and terms["tool_success"] == pytest.approx(ok / calls)
    # both kinds of failure occur: unparseable calls and well-formed calls that name nothing
    assert codes["malformed"] > 400 and codes.get("unknown_id", 0) > 5, codes


def test_every_failed_call_lowers_tool_success() -> None:
    """Same episode, same valid calls: each added bad call lowers the reward by the tool-success
    weight times the drop in the valid share (the QA and compression terms are unchanged)."""
    rewards = []
    for bad in (0, 1, 3):
        env = MemoryToolEnv(env_kwargs=ENV_KWARGS, weights={"qa": 0.0, "compression": 0.0,
                                                            "tool_success": 1.0})
        env.reset(**ROW, episode_seed=7)
        env.add_memory()
        for _, tool, args, kwargs in RAW_CALLS[:bad]:
            getattr(env, tool)(*args, **kwargs)
        env.next_chunk()
        rewards.append(env.get_reward())
    assert rewards == [pytest.approx(1.0), pytest.approx(2 / 3), pytest.approx(2 / 5)]


def test_wrong_kwargs_name_the_argument() -> None:
    env = MemoryToolEnv(env_kwargs=ENV_KWARGS)
    env.reset(**ROW)
    for out, message in [
        (env.add_memory(text="x", priority=1), "add_memory: got an unexpected keyword argument "
                                               "'priority'"),
        (env.delete_memory(), "delete_memory: missing a required argument: 'id'"),
        (env.update_memory(0, "x", "extra"), "update_memory: too many positional arguments"),
        (env.delete_memory(0, id=1), "delete_memory: multiple values for argument 'id'"),
        (env.add_memory(**{"k" * 5000: 1}), "add_memory: got an unexpected keyword argument 'kkk"),
    ]:
        last = out.split("## Last result\n", 1)[1]
        assert last.startswith(f"error (malformed): {message}"), last[:200]
        assert len(last.split("\n", 1)[0]) <= 220, "a model-written name is cut short"
    assert not env.env.core.store.entries


def test_tool_schemas_are_unchanged_by_the_checks() -> None:
    """TRL builds each tool's JSON schema from the method's signature, hints and docstring."""
    from transformers.utils import get_json_schema

    env = MemoryToolEnv(env_kwargs=ENV_KWARGS)
    schema = get_json_schema(env.update_memory)["function"]
    assert schema["name"] == "update_memory"
    assert set(schema["parameters"]["properties"]) == {"id", "text"}
    assert schema["parameters"]["required"] == ["id"]
    assert get_json_schema(env.next_chunk)["function"]["parameters"]["properties"] == {}
    restricted = MemoryToolEnv.restricted_to(["add_memory", "next_chunk"])
    assert restricted.delete_memory is None and callable(restricted.add_memory)
