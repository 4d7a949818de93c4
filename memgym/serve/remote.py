"""A rollout played on a ``memgym serve``: the interface of :class:`memgym.llm.chunked.ChunkedEpisode`
(``reset`` / ``done`` / ``messages`` / ``apply`` / rewards) over one OpenEnv WebSocket session.

memgym's per-chunk GRPO trainer (:mod:`memgym.training.trl_chunked`) plays these instead of
in-process rollouts when a config sets ``trl.env_server``: generation stays on the trainer
(TRL, vLLM), the environments run behind the server (another process, or machines of their
own), and the rewards are the server's. :meth:`RemoteChunkedEpisode.check_server` refuses a
server whose environment arguments, reward weights or write mode differ from the trainer's,
so a run cannot silently train on other rewards than its config names.
"""

from __future__ import annotations

import json
from typing import Any

from memgym.llm.chunked import TurnRecord
from memgym.serve.client import MemgymClient
from memgym.serve.models import TurnAction, TurnObservation


def server_info(base_url: str, timeout: float = 10.0) -> dict[str, Any]:
    """The server's ``/memgym/envs`` (served ids, arguments, weights, write mode)."""
    import httpx

    try:
        out = httpx.get(base_url.rstrip("/") + "/memgym/envs", timeout=timeout)
        out.raise_for_status()
    except httpx.HTTPError as exc:
        raise ConnectionError(f"memgym server {base_url}: {exc}") from exc
    return out.json()


class RemoteChunkedEpisode:
    """One rollout on the server at ``base_url`` (``http://host:port``).

    Args:
        base_url: The server.
        env_id, split: Defaults for rows without them (as :class:`ChunkedEpisode`).
        prefill: Text the chat template writes before each reply; prepended before sending.
        timeout_s: Seconds to wait for each server answer.
    """

    def __init__(self, base_url: str, env_id: str | None = None, split: str = "train", *,
                 prefill: str = "", timeout_s: float = 120.0) -> None:
        self.base_url, self.env_id, self.split, self.prefill = base_url, env_id, split, prefill
        self._client = MemgymClient(base_url, message_timeout_s=timeout_s).sync()
        self._client.connect()
        self._last: TurnObservation | None = None
        self.turns: list[TurnRecord] = []

    @staticmethod
    def check_server(base_url: str, *, env_id: str, env_kwargs: dict[str, Any],
                     weights: dict[str, float], write_mode: str, describe_tools: bool) -> None:
        """Raise ``ValueError`` naming what differs between the trainer and the server."""
        info = server_info(base_url)
        want = {"env_kwargs": env_kwargs, "weights": {**info["weights"], **weights},
                "write_mode": write_mode, "describe_tools": describe_tools}
        if env_id not in info["env_ids"]:
            raise ValueError(f"memgym server {base_url} does not serve {env_id!r} "
                             f"(it serves {', '.join(info['env_ids'][:5])}...)")
        for key, value in want.items():
            if json.dumps(info[key], sort_keys=True) != json.dumps(value, sort_keys=True):
                raise ValueError(f"memgym server {base_url}: {key} is {info[key]!r}, the "
                                 f"trainer's is {value!r}; start the server with the run's "
                                 "env.kwargs (--env-arg), trl.rewards (--weight) and write mode")

    def reset(self, env_id: str | None = None, split: str | None = None, episode_seed: int = 0,
              options: dict[str, Any] | str | None = None, **row: Any) -> list[dict[str, str]]:
        if isinstance(options, str):  # a dataset column holds JSON
            options = json.loads(options) if options.strip() else None
        result = self._client.reset(env_id=env_id or self.env_id, split=split or self.split,
                                    seed=int(episode_seed), options=options or {})
        self._last, self.turns = result.observation, []
        return self._last.messages

    @property
    def done(self) -> bool:
        if self._last is None:
            raise RuntimeError("RemoteChunkedEpisode: reset() was not called")
        return self._last.done

    def messages(self) -> list[dict[str, str]]:
        return self._last.messages if self._last is not None else []

    def apply(self, reply: str, *, prompt_tokens: int = 0, truncated: bool = False) -> TurnRecord:
        if self.done:
            raise RuntimeError("RemoteChunkedEpisode.apply: the rollout is over")
        result = self._client.step(TurnAction(reply=self.prefill + reply, truncated=truncated,
                                              prompt_tokens=prompt_tokens))
        obs = self._last = result.observation
        record = TurnRecord(prompt_tokens, obs.last_calls, obs.last_ok_calls,
                            obs.last_well_formed, reply)
        self.turns.append(record)
        return record

    # -- rewards: the server's, at the end of the rollout ------------------------------------
    def _final(self) -> TurnObservation:
        if self._last is None or not self._last.done:
            raise RuntimeError("RemoteChunkedEpisode: the rollout's reward comes at its end")
        return self._last

    @property
    def rollout_terms(self) -> dict[str, float]:
        terms = dict(self._final().reward_terms)
        terms["max_prompt_tokens"] = float(max((t.prompt_tokens for t in self.turns), default=0))
        return terms

    @property
    def format_share(self) -> float:
        return float(self._final().reward_terms["format"])

    def env_reward(self) -> float:
        return float(self._final().env_reward or 0.0)

    def reward(self) -> float:
        return float(self._final().reward or 0.0)

    def close(self) -> None:
        self._client.close()
