"""The text memory environment as LLM tools: ``GRPOTrainer(environment_factory=MemoryToolEnv)``.

One :class:`MemoryToolEnv` instance plays one rollout. TRL calls ``reset(**row)`` with a dataset
row, appends the returned text (the memory listing and the first chunk) to the user prompt, lets
the model call the public methods below as tools (each call's return value is shown to the
model as the tool response) and finally scores the rollout with ``get_reward()``.

Everything runs on the same :class:`memgym.envs.core.MemoryCore` as the structured and text
environments: a tool call is turned into the text interface's JSON action and stepped through
:class:`memgym.envs.text.TextMemoryEnv`, so argument checks, error messages and the prompt
rendering (:mod:`memgym.envs.text_view`) are the text env's own. Nothing raises out of a tool:
an invalid call (unknown id, full tier, disabled op, bad argument, an argument the tool does
not have or a missing one, the stream already over) returns the environment's view with
``error (<code>): <message>`` under ``## Last result`` and counts against the tool-success
term. Calls after the stream has ended return
``error (episode_over)`` and are not counted (a model whose chat template forces a tool call
every turn cannot stop by itself; ``max_tool_calling_iterations`` ends its rollout).

Episode end. The stream moves on when the model calls ``next_chunk`` or has used the chunk's
``ops_per_chunk`` calls. If the model stops calling tools before the stream ends (it replies
without a tool call, its output cannot be parsed as one, or the rollout reaches
``max_completion_length`` / ``max_tool_calling_iterations``), ``get_reward`` skips the rest of
the stream (``next_chunk`` on every remaining chunk; questions in view are routed to the first
retrieval tier) and the questions are answered from whatever memory holds at that point.

Reward (Mem-alpha style; weights from the ``trl.rewards`` config block):
``get_reward() = qa * QA + tool_success * (valid calls / calls) + compression *
(1 - memory tokens / stream tokens)``; the ``format`` term needs the model's raw turns and
is computed by :func:`memgym.llm.format_term.make_format_reward` (a TRL reward function,
weight ``format``).
"""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Callable
from typing import Any

from memgym.envs.registration import structured_twin, text_twin  # noqa: F401  (re-exported)
from memgym.llm.teacher import DEMO_INTRO, SYSTEM_PROMPT, USER_INTRO, play_teacher

#: Default reward weights (``trl.rewards`` in a config file).
DEFAULT_WEIGHTS: dict[str, float] = {"qa": 1.0, "tool_success": 0.2, "compression": 0.1,
                                     "format": 0.2}
ENV_TERMS = ("qa", "tool_success", "compression")
STREAM_OVER = "The stream is over; reply done without calling a tool."
MAX_REJECT_CHARS = 200
"""Longest message for a call Python could not bind (it may quote a model-written name)."""


def initial_messages(observation: str) -> list[dict[str, Any]]:
    """The conversation an episode starts with (the dataset prompt + what ``reset`` returns).
    A demonstration, if any, is a chat-template variable (see
    :func:`memgym.llm.models.chat_template`), rendered between these two messages."""
    return [{"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": USER_INTRO + observation}]


#: Demonstration streams are ``train`` episodes from this seed on (far from training seeds).
DEMO_SEED = 1_000_000
_DEMOS: dict[tuple[str, str, int], list[dict[str, Any]]] = {}


def demonstration(env_id: str, env_kwargs: dict[str, Any] | None = None, turns: int = 3
                  ) -> list[dict[str, Any]]:
    """A short worked example for the prompt: the first ``turns`` tool calls of a simple
    label-free policy on a fixed ``train`` stream, with the environment's real responses.

    Small models copy the format of calls they have just seen far more reliably than they
    follow a tool schema (measured with SmolLM2-135M: 0 of 8 sampled first turns were
    parsable tool calls without an example, most were with one). The policy: a chunk that
    states an unhedged fact updates the entry holding the same fact (``update_memory``) or is
    stored (``add_memory``); anything else is skipped (``next_chunk``). Among the first 50
    demonstration seeds the one whose calls use the most distinct tools is shown. The result
    depends only on ``(env_id, env_kwargs, turns)`` and is cached.
    """
    if turns <= 0:
        return []
    kwargs = dict(env_kwargs or {})
    key = (text_twin(env_id), json.dumps(kwargs, sort_keys=True, default=str), turns)
    if key not in _DEMOS:
        best: list[dict[str, Any]] = []
        best_tools = -1
        for seed in range(DEMO_SEED, DEMO_SEED + 50):
            messages = _play_demo(key[0], kwargs, seed, turns)
            tools = len({m["tool_calls"][0]["function"]["name"] for m in messages
                         if m["role"] == "assistant"})
            if tools > best_tools:
                best, best_tools = messages, tools
            if tools >= 3:
                break
        _DEMOS[key] = best
    return [dict(m) for m in _DEMOS[key]]


def _play_demo(env_id: str, kwargs: dict[str, Any], seed: int, turns: int) -> list[dict[str, Any]]:
    import gymnasium as gym

    import memgym  # noqa: F401

    env = gym.make(env_id, **kwargs).unwrapped
    messages, _ = play_teacher(env, DEMO_INTRO, split="train", seed=seed, turns=turns)
    return messages


def _tool(method: Callable[..., str]) -> Callable[..., str]:
    """Make a tool total: arguments Python cannot bind to it (unknown or missing keywords, too
    many positionals, one given twice) become a malformed call that the environment reports
    and counts against tool success, like any other bad argument. Without this a TypeError
    reaches TRL, which shows the model an error but never tells the environment, so such
    calls would cost nothing. ``functools.wraps`` keeps the name, hints and docstring that
    TRL builds the tool's JSON schema from (``inspect.signature`` follows ``__wrapped__``)."""
    signature = inspect.signature(method)

    @functools.wraps(method)
    def checked(self: MemoryToolEnv, *args: Any, **kwargs: Any) -> str:
        try:
            bound = signature.bind(self, *args, **kwargs)
        except TypeError as exc:  # Python quotes names with repr(): no lone surrogates here
            return self._reject(f"{method.__name__}: {exc}"[:MAX_REJECT_CHARS])
        return method(*bound.args, **bound.kwargs)

    return checked


class MemoryToolEnv:
    """One rollout of a memgym text environment, exposed as tools.

    Args:
        env_id: A registered memgym id (text or structured; the text twin is played). A
            dataset row's ``env_id`` overrides it.
        env_kwargs: Environment arguments over the registered ones (tiers, reader, metric,
            ``ops_per_chunk``, ...). A row's ``env_kwargs`` (dict or JSON) are merged over them.
        weights: Reward weights (``qa``, ``tool_success``, ``compression``; ``format`` is used
            by :func:`memgym.llm.format_term.format_reward`), merged over :data:`DEFAULT_WEIGHTS`.
        split: Default split when a row has none.

    Rows (``reset(**row)``): ``env_id``, ``split``, ``episode_seed`` and ``options`` (task
    parameters as a dict or a JSON string, e.g. ``{"length": 8}``); other keys (TRL passes
    ``prompt``) are ignored. The episode is a pure function of the row, so every completion
    of a GRPO group plays the same stream.
    """

    def __init__(self, env_id: str | None = None, env_kwargs: dict[str, Any] | None = None,
                 weights: dict[str, float] | None = None, split: str = "train") -> None:
        self._env_id = env_id
        self._env_kwargs = dict(env_kwargs or {})
        unknown = set(weights or {}) - set(DEFAULT_WEIGHTS)
        if unknown:
            raise ValueError(f"unknown reward weights {sorted(unknown)}; "
                             f"expected {', '.join(DEFAULT_WEIGHTS)}")
        self._weights = {**DEFAULT_WEIGHTS, **(weights or {})}
        self._split = split
        self._envs: dict[tuple[str, str], Any] = {}
        self.env: Any = None
        self._calls = self._ok_calls = 0
        self._finished = False

    @classmethod
    def restricted_to(cls, tools: list[str] | tuple[str, ...]) -> type[MemoryToolEnv]:
        """A subclass exposing only ``tools`` (TRL lists a class's public methods as tools,
        and every schema costs prompt tokens: hide the ops an environment does not enable)."""
        from memgym.envs.text_view import TOOLS

        unknown = set(tools) - set(TOOLS)
        if unknown:
            raise ValueError(f"unknown tools {sorted(unknown)}; tools are {', '.join(TOOLS)}")
        hidden = {name: None for name in TOOLS if name not in tools}
        if not hidden:
            return cls
        name = f"{cls.__name__}_" + "_".join(t.split("_")[0] for t in TOOLS if t in tools)
        return type(name, (cls,), {**hidden, "__module__": cls.__module__,
                                   "__doc__": cls.__doc__})

    # -- TRL protocol --------------------------------------------------------------------
    def reset(self, env_id: str | None = None, split: str | None = None,
              episode_seed: int = 0, options: dict[str, Any] | str | None = None,
              env_kwargs: dict[str, Any] | str | None = None, **row: Any) -> str:
        """Start the episode a dataset row names; returns the first view (memory + chunk)."""
        self.env, obs, _ = start_row_episode(
            self._envs, "MemoryToolEnv", env_id or self._env_id, self._env_kwargs,
            split or self._split, episode_seed, options, env_kwargs)
        self._calls = self._ok_calls = 0
        self._finished = False
        return obs

    def get_reward(self) -> float:
        """The episode's reward: the weighted QA, tool-success and compression terms (the rest
        of the stream is skipped first if the model stopped early)."""
        terms = self.episode_terms
        return float(sum(self._weights[k] * terms[k] for k in ENV_TERMS))

    # -- tools (one per op; docstrings and type hints become the JSON schemas) -----------
    @_tool
    def add_memory(self, text: str | None = None, tier: str | None = None) -> str:
        """Store a new memory entry.

        Args:
            text: What to remember; leave it out to store the chunk in view.
            tier: Memory tier for the entry; leave it out for the default tier.

        Returns:
            The memory and the text in view after the call, with its result or error.
        """
        return self._call("add_memory", text=text, tier=tier)

    @_tool
    def update_memory(self, id: int, text: str | None = None) -> str:
        """Overwrite a memory entry, e.g. with a newer value of the same fact.

        Args:
            id: Id of the entry to overwrite.
            text: The new text; leave it out to use the chunk in view.

        Returns:
            The memory and the text in view after the call, with its result or error.
        """
        return self._call("update_memory", id=id, text=text)

    @_tool
    def delete_memory(self, id: int) -> str:
        """Delete a memory entry for good.

        Args:
            id: Id of the entry to delete.

        Returns:
            The memory and the text in view after the call, with its result or error.
        """
        return self._call("delete_memory", id=id)

    @_tool
    def evict_memory(self, id: int) -> str:
        """Move a memory entry to the archive, where reread_chunk can recall it.

        Args:
            id: Id of the entry to archive.

        Returns:
            The memory and the text in view after the call, with its result or error.
        """
        return self._call("evict_memory", id=id)

    @_tool
    def invalidate_memory(self, id: int) -> str:
        """Mark a memory entry as no longer true; it stays in memory but is not read.

        Args:
            id: Id of the entry that a newer fact contradicts.

        Returns:
            The memory and the text in view after the call, with its result or error.
        """
        return self._call("invalidate_memory", id=id)

    @_tool
    def route_memory(self, tier: str, id: int | None = None) -> str:
        """Move an entry to another tier, or (no id) send the question in view to a retrieval tier.

        Args:
            tier: Target tier.
            id: Id of the entry to move; leave it out to route the question in view.

        Returns:
            The memory and the text in view after the call, with its result or error.
        """
        return self._call("route_memory", id=id, tier=tier)

    @_tool
    def reread_chunk(self, chunk_id: int | None = None, archive_id: int | None = None) -> str:
        """Bring a past chunk or an archived entry back into view for one call.

        Args:
            chunk_id: Id of a past chunk of the stream.
            archive_id: Id of an archived entry.

        Returns:
            The memory and the recalled text, with the call's result or error.
        """
        return self._call("reread_chunk", chunk_id=chunk_id, archive_id=archive_id)

    @_tool
    def next_chunk(self) -> str:
        """Keep nothing more from the chunk in view and move on to the next one.

        Returns:
            The memory and the next chunk (or the end of the stream).
        """
        return self._call("next_chunk")

    # -- bookkeeping (private: TRL turns public methods into tools) ----------------------
    def _closed(self) -> str | None:
        """The error for a call with no stream to act on (not counted: with forced tool calls
        the model cannot stop by itself), else None."""
        if self.env is None:
            return "error (no_episode): the environment was not reset"
        if self.env.core.done:
            return f"error (episode_over): {STREAM_OVER}"
        return None

    def _call(self, tool: str, **arguments: Any) -> str:
        if (closed := self._closed()) is not None:
            return closed
        self._calls += 1
        action = {"name": tool, "arguments": {k: v for k, v in arguments.items() if v is not None}}
        obs, _, done, _, info = self.env.step(action)
        self._ok_calls += bool(info["ok"])
        return f"{obs}\n{STREAM_OVER}" if done else obs

    def _reject(self, message: str) -> str:
        """A call that could not be bound to its tool: a malformed step showing ``message``
        (what the text env does with an unparsable action), counted as a failed call."""
        if (closed := self._closed()) is not None:
            return closed
        self._calls += 1
        outcome = self.env.core.apply("malformed", malformed=message)
        self.env.last_result = f"error ({outcome.result.error}): {outcome.result.message}"
        obs = self.env.prompt()
        return f"{obs}\n{STREAM_OVER}" if outcome.done else obs

    def _finish(self) -> None:
        """Skip the rest of the stream: the questions are answered from memory as it is."""
        if self._finished or self.env is None:
            return
        core = self.env.core
        first_tier = next(iter(core.retrieval_tiers), None)
        limit = 4 * (len(core.episode.chunks) + len(core.episode.questions)) + 8
        while not core.done and limit > 0:
            if core.view.kind == "question" and first_tier is not None:
                core.apply("route", tier=first_tier)
            else:
                core.apply("noop")
            limit -= 1
        self._finished = True

    @property
    def episode_terms(self) -> dict[str, float]:
        """Raw reward terms of the episode (finishes it first): ``qa`` (mean QA score),
        ``tool_success`` (valid calls / calls; 0 without calls), ``compression``
        (1 - memory tokens / stream tokens, clipped to [0, 1]), plus ``calls``."""
        if self.env is None:
            raise RuntimeError("MemoryToolEnv: reset() was not called")
        self._finish()
        core = self.env.core
        n_questions = max(len(core.episode.questions), 1)
        qa = sum(r.score for r in core.records) / n_questions
        return {
            "qa": float(qa),
            "tool_success": self._ok_calls / self._calls if self._calls else 0.0,
            "compression": compression(core),
            "calls": float(self._calls),
        }

    @property
    def weights(self) -> dict[str, float]:
        return dict(self._weights)


def compression(core: Any) -> float:
    """The ``compression`` term of ``core``'s episode: 1 - memory tokens / stream tokens,
    clipped to [0, 1] (0 for an empty stream)."""
    stream = core.stream_tokens
    ratio = 1.0 - core.store.total_tokens() / stream if stream else 0.0
    return float(min(max(ratio, 0.0), 1.0))


def start_row_episode(envs: dict[tuple[str, str], Any], owner: str, env_id: str | None,
                      env_kwargs: dict[str, Any], split: str, episode_seed: int = 0,
                      options: dict[str, Any] | str | None = None,
                      row_env_kwargs: dict[str, Any] | str | None = None
                      ) -> tuple[Any, Any, dict[str, Any]]:
    """Reset the episode a dataset row names (a rollout's ``reset(**row)``): the text twin of
    ``env_id`` with ``env_kwargs`` and the row's own merged over them, built once per (id,
    kwargs) into ``envs`` and reused; returns the env, its first observation and info."""
    if not env_id:
        raise ValueError(f"{owner}.reset: no env_id (give it to the constructor or as a "
                         "dataset column)")
    options = _as_dict(options, "options")
    kwargs = {**env_kwargs, **_as_dict(row_env_kwargs, "env_kwargs")}
    env_id = text_twin(env_id)
    key = (env_id, json.dumps(kwargs, sort_keys=True, default=str))
    if key not in envs:
        import gymnasium as gym

        import memgym  # noqa: F401  (registers the ids)

        envs[key] = gym.make(env_id, **kwargs).unwrapped
    seed = int(episode_seed)
    obs, info = envs[key].reset(seed=seed, options={"split": split, "episode_seed": seed,
                                                    **options})
    return envs[key], obs, info


def _as_dict(value: dict[str, Any] | str | None, name: str) -> dict[str, Any]:
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        value = json.loads(value)
    if not isinstance(value, dict):
        raise ValueError(f"row column {name!r} must be a mapping or a JSON object")
    return dict(value)
