"""The text memory environment, for LLM policies: prompts in, JSON tool calls out."""

from __future__ import annotations

import string
from typing import Any

import gymnasium as gym
from gymnasium import spaces

from memgym.episode import Episode
from memgym.envs.core import MemoryCore
from memgym.envs.episode_pool import EpisodeSource, task_token
from memgym.envs.registration import load_task
from memgym.envs.text_view import MAX_ACTION_CHARS, TOOLS, core_arguments, parse_action, render_prompt

MAX_PROMPT_CHARS = 200_000
_CHARSET = string.printable + "’‘“”—–…éèêàáâäöüßçñ"


class UnicodeText(spaces.Text):
    """``Text`` whose ``contains`` accepts any string of an allowed length.

    The prompt shows chunk and memory texts verbatim, and those can hold any character (an
    agent may store emoji or Arabic through ``add_memory``), so a fixed charset would put
    observations, and valid tool calls carrying such text, outside the space. ``charset``
    only drives :meth:`sample`.
    """

    def contains(self, x: object) -> bool:
        return isinstance(x, str) and self.min_length <= len(x) <= self.max_length


class TextMemoryEnv(gym.Env):
    """
    ## Description

    The same core as :class:`memgym.envs.structured.MemoryEnv`, rendered for language
    models: the observation is a prompt (the memory listing with ids and tiers, the chunk in
    view, ops left, the last op's result or error) and the action is one tool call.

    ## Action Space

    ``Text``: one JSON tool call, ``{"name": TOOL, "arguments": {...}}`` (optionally inside
    ``<tool_call>`` tags) or ``{"op": OP, ...}``. Tools: ``add_memory(text, tier?)``,
    ``update_memory(id, text)``, ``delete_memory(id)``, ``evict_memory(id)``,
    ``invalidate_memory(id)`` (kept, marked no longer true, not read),
    ``route_memory(id?, tier)`` (no id: route the question in view to a retrieval tier),
    ``reread_chunk(chunk_id? | archive_id?)``, ``next_chunk()``. ``text`` defaults to the
    chunk in view. An unparsable call costs the ``format`` penalty, an invalid one the
    ``invalid`` penalty; both leave memory unchanged and the error is shown next turn.

    ## Observation Space

    ``Text``: the prompt from :func:`memgym.envs.text_view.render_prompt`.

    ## Rewards

    As in the structured environment, plus ``format``.

    ## Episode End

    As in the structured environment; each chunk allows ``ops_per_chunk`` calls (default 4)
    before the stream moves on by itself, so a model that never calls ``next_chunk`` still
    finishes.

    ## Arguments

    As :class:`memgym.envs.structured.MemoryEnv` (``task``, ``task_params``, ``data_path``, ``split``,
    ``tiers``, ``ops``, ``reader``, ``reader_params``, ``metric``, ``rewards``,
    ``ops_per_chunk``, ``max_rereads_per_chunk``, ``archive_capacity``, ``retrieval_tiers``,
    ``episode_pool``);
    structured-only arguments are accepted and ignored so one registration serves both.

    ## Version History

    - v0: initial release.
    """

    metadata = {"render_modes": ["ansi"]}

    def __init__(self, task: Any = "memgym.tasks.kv_updates:KVUpdatesTask",
                 task_params: dict[str, Any] | None = None, *, data_path: str | None = None,
                 split: str = "train",
                 ops: tuple[str, ...] | list[str] = ("noop", "add", "update", "delete"),
                 ops_per_chunk: int = 4, render_mode: str | None = None,
                 archive_view: int = 0, bow_dim: int = 0, slot_bow: bool = False,
                 episode_pool: int | None = None, features: str | None = None,
                 embedding_model: str | None = None, **core_kwargs: Any) -> None:
        # features / embedding_model shape the structured observation only; accepted here so
        # one registered kwargs set (and one config) serves both interfaces.
        del features, embedding_model
        if data_path is not None:  # dataset adapters: gym.make(id, data_path=...)
            task_params = {**(task_params or {}), "data_path": str(data_path)}
        self.task = load_task(task, task_params)
        self.split = split
        self.episodes = EpisodeSource(self.task, episode_pool=episode_pool,
                                      token=task_token(task, task_params))
        self.core = MemoryCore(ops=tuple(ops), ops_per_chunk=ops_per_chunk, **core_kwargs)
        self.render_mode = render_mode
        self.observation_space = UnicodeText(MAX_PROMPT_CHARS, charset=_CHARSET)
        self.action_space = UnicodeText(MAX_ACTION_CHARS, charset=_CHARSET)
        self.last_result = ""

    @property
    def tools(self) -> list[str]:
        """Tool names usable in this environment (``route_memory`` also routes questions)."""
        return tool_names(self.core)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[str, dict[str, Any]]:
        super().reset(seed=seed)
        self.start_episode(self.episodes.draw(self.np_random, options, self.split)[0])
        return self.prompt(), {"tools": self.tools}

    def start_episode(self, episode: Episode) -> None:
        self.episode = episode
        self.core.start(episode)
        self.last_result = ""

    def prompt(self) -> str:
        return render_prompt(self.core, self.last_result)[:MAX_PROMPT_CHARS]

    def step(self, action: Any) -> tuple[str, float, bool, bool, dict[str, Any]]:
        outcome, self.last_result = apply_text_action(self.core, action)
        result = outcome.result
        info = {"reward_terms": outcome.terms, "op": result.op, "ok": result.ok,
                "error": result.error, "answered": len(outcome.answered), "tools": self.tools}
        if outcome.done:
            records = self.core.records
            info["qa_score"] = sum(r.score for r in records) / max(len(records), 1)
        return self.prompt(), outcome.reward, outcome.done, False, info

    def render(self) -> str | None:
        return self.prompt() if self.render_mode == "ansi" else None


def tool_names(core: MemoryCore) -> list[str]:
    """The tools ``core``'s ops enable (``route_memory`` also routes questions)."""
    ops = set(core.ops) | ({"route"} if core.retrieval_tiers else set())
    return [name for name, (op, _, _) in TOOLS.items() if op in ops]


def apply_text_action(core: MemoryCore, action: Any) -> tuple[Any, str]:
    """One tool call on ``core`` (errors become malformed / invalid steps, never raise);
    returns the core's outcome and the result line the next prompt shows."""
    parsed = parse_action(action)
    if parsed.error is not None:
        outcome = core.apply("malformed", malformed=parsed.error)
    elif parsed.op not in core.ops and not (parsed.op == "route" and core.view.kind == "question"):
        outcome = core.apply(parsed.op)  # the core reports op_not_enabled
    else:
        outcome = core.apply(parsed.op, **core_arguments(parsed))
    result = outcome.result
    return outcome, ("ok: " if result.ok else f"error ({result.error}): ") + result.message
