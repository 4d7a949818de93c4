"""The served types: one turn's reply in, the next turn's prompt (or the rollout's reward) out.

They subclass OpenEnv's pydantic ``Action`` / ``Observation`` / ``State``, so the server's
``/schema`` route publishes them and a wrong type is a validation error naming the field.
"""

from __future__ import annotations

from typing import Any

from openenv.core.env_server.types import Action, Observation, State
from pydantic import BaseModel, ConfigDict, Field

#: A reply longer than this is refused by validation (a turn's reply is a few tool calls or
#: one rewritten memory; the server's message limit bounds the request anyway).
MAX_REPLY_CHARS = 65_536


class TurnAction(Action):
    """The model's reply to the current turn's prompt."""

    reply: str = Field(max_length=MAX_REPLY_CHARS,
                       description="tool calls (tools mode) or the whole new memory (rewrite mode)")
    truncated: bool = Field(False, description="the reply was cut at the token limit "
                                               "(the turn then counts as malformed for 'format')")
    prompt_tokens: int = Field(0, ge=0, description="the prompt's length in tokens, as the "
                                                    "trainer counted it (recorded only)")


class TurnObservation(Observation):
    """The next turn's prompt, the last turn's outcome, and at the end the rollout's terms.

    ``reward`` is 0 until ``done``; then it is the rollout's reward (the weighted ``qa``,
    ``tool_success``, ``compression`` and ``format`` terms, shared by every turn of the
    rollout as in :mod:`memgym.training.trl_chunked`) and ``reward_terms`` holds the terms.
    """

    messages: list[dict[str, str]] = Field(default_factory=list,
                                           description="chat messages of the next turn "
                                                       "(empty when done)")
    env_id: str = ""
    turn: int = Field(0, description="turns played so far")
    last_calls: int = Field(0, description="actions the last reply made")
    last_ok_calls: int = Field(0, description="of them, the ones the environment accepted")
    last_well_formed: bool = True
    reward_terms: dict[str, float] = Field(default_factory=dict)
    env_reward: float | None = Field(None, description="at the end: the weighted environment "
                                                       "terms (the reward without format)")


class TurnState(State):
    """What a session is playing (OpenEnv's ``state``; ``step_count`` counts turns)."""

    env_id: str | None = None
    split: str | None = None
    episode_seed: int | None = None
    write_mode: str = "tools"
    done: bool = False


class ServeSettings(BaseModel):
    """The server's fixed side: which environments a client may play and how.

    Clients choose ``env_id`` (one of ``env_ids``), ``split``, ``seed`` and task ``options``
    at reset; environment arguments (``env_kwargs``: tiers, data files, readers) and reward
    weights are the server's, so a client cannot make the server open files.
    """

    model_config = ConfigDict(extra="forbid")

    env_ids: list[str] = Field(min_length=1)
    env_kwargs: dict[str, Any] = Field(default_factory=dict)
    weights: dict[str, float] = Field(default_factory=dict)
    write_mode: str = "tools"
    describe_tools: bool = True
    max_turns: int = Field(4096, ge=1, description="turns after which a rollout ends")
    max_sessions: int = Field(64, ge=1, description="concurrent sessions per transport")
    idle_timeout_s: float = Field(600.0, gt=0, description="idle sessions are closed after it")
    max_message_bytes: int = Field(256 * 1024, ge=1024, description="largest request body or "
                                                                     "WebSocket message")
    requests_per_s: float = Field(500.0, gt=0, description="sustained requests per client "
                                                           "(HTTP: per address; WS: per "
                                                           "connection); bursts of twice it")
