"""A Python client for ``memgym serve``: OpenEnv's ``EnvClient`` over the served types.

::

    from memgym.serve.client import MemgymClient

    with MemgymClient("http://127.0.0.1:8000").sync() as env:
        result = env.reset(env_id="memgym/KVUpdates-Easy-Text-v0", seed=3, split="val")
        while not result.done:
            reply = my_model(result.observation.messages)        # the engine's generation
            result = env.step(TurnAction(reply=reply))
        print(result.reward, result.observation.reward_terms)

Each client is one WebSocket session (its own environment on the server); ``async with
MemgymClient(url) as env`` is the asyncio form, the one a rollout worker with many
concurrent episodes uses.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any

from openenv.core.client_types import StepResult
from openenv.core.env_client import EnvClient

from memgym.serve.models import TurnAction, TurnObservation, TurnState

__all__ = ["MemgymClient", "TurnAction", "TurnObservation", "TurnState", "scripted_reply"]

#: Replies of :func:`scripted_reply`: store, move on, overwrite entry 0, and a malformed one.
SCRIPTED_REPLIES = (
    '<tool_call>{"name": "add_memory", "arguments": {}}</tool_call>',
    '<tool_call>{"name": "next_chunk", "arguments": {}}</tool_call>',
    '<tool_call>{"name": "update_memory", "arguments": {"id": 0, "text": "k is 3"}}</tool_call>',
    "I am not sure what to do here.",
)


def scripted_reply(messages: Sequence[dict[str, str]],
                   replies: Sequence[str] = SCRIPTED_REPLIES) -> str:
    """A fixed reply per prompt (by a hash of its last message), for smoke and load tests:
    a rollout played with it is a pure function of the episode, so a served rollout can be
    checked against the in-process one."""
    return replies[zlib.crc32(messages[-1]["content"].encode()) % len(replies)]


class MemgymClient(EnvClient[TurnAction, TurnObservation, TurnState]):
    """One session on a memgym server (``base_url``: ``http://host:port`` or ``ws://``)."""

    def _step_payload(self, action: TurnAction) -> dict[str, Any]:
        return action.model_dump(exclude={"metadata"})

    def _parse_result(self, payload: dict[str, Any]) -> StepResult[TurnObservation]:
        observation = TurnObservation(**payload.get("observation", {}),
                                      reward=payload.get("reward"),
                                      done=bool(payload.get("done", False)))
        return StepResult(observation=observation, reward=payload.get("reward"),
                          done=observation.done)

    def _parse_state(self, payload: dict[str, Any]) -> TurnState:
        return TurnState(**payload)
