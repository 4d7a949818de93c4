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

from typing import Any

from openenv.core.client_types import StepResult
from openenv.core.env_client import EnvClient

from memgym.serve.models import TurnAction, TurnObservation, TurnState

__all__ = ["MemgymClient", "TurnAction", "TurnObservation", "TurnState"]


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
