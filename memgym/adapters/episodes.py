"""The rollout an engine adapter plays: one per-chunk memgym episode behind an async interface.

RL engines (verifiers / prime-rl, verl) run many rollouts concurrently on one asyncio event
loop and call the model through an inference server. An adapter needs, per rollout: reset
it from a dataset row, the next turn's prompt, play the model's reply, and at the end the
rollout's reward and its named terms. Two sources give the same numbers for the same
(``env_id``, ``split``, ``seed``, ``options``) and replies:

- :class:`LocalEpisode`: :class:`memgym.llm.chunked.ChunkedEpisode` in this process. Its
  steps run on one worker thread per :class:`EpisodeFactory` so the event loop never waits
  on them, and memgym's caches (readers, datasets) are only ever touched by one thread.
  Scale out with more engine environment workers (processes), not threads.
- :class:`RemoteEpisode`: a session on a ``memgym serve`` (OpenEnv WebSocket,
  :class:`memgym.serve.client.MemgymClient`), for environments on other machines. The
  server's environment arguments and weights rule; :meth:`EpisodeFactory.remote_weights`
  refuses a mismatch with what the run asked for.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from memgym.llm.chunked import ChunkedEpisode
from memgym.llm.tool_env import DEFAULT_WEIGHTS, ENV_TERMS

#: The weighted terms of a rollout's reward, in the order engines list them.
REWARD_TERMS: tuple[str, ...] = (*ENV_TERMS, "format")
#: Terms reported beside them with weight 0 (what a dashboard wants to see).
METRIC_TERMS: tuple[str, ...] = ("turns", "calls")


@dataclass(frozen=True)
class EpisodeSpec:
    """One dataset row: the episode is a pure function of it (and the replies)."""

    env_id: str
    split: str = "train"
    seed: int = 0
    options: dict[str, Any] = field(default_factory=dict)

    def as_row(self) -> dict[str, Any]:
        """Flat JSON-scalar columns (``options`` as JSON text), so every row of an Arrow /
        parquet dataset has one schema whatever its task parameters."""
        return {"env_id": self.env_id, "split": self.split, "seed": int(self.seed),
                "options": json.dumps(self.options, sort_keys=True)}

    @classmethod
    def from_row(cls, row: dict[str, Any] | str) -> EpisodeSpec:
        """The spec of a row written by :meth:`as_row` (a dict, or its JSON text)."""
        if isinstance(row, str):
            row = json.loads(row)
        options = row.get("options") or {}
        if isinstance(options, str):
            options = json.loads(options) if options.strip() else {}
        seed = row.get("seed", row.get("episode_seed", 0))
        return cls(str(row["env_id"]), str(row.get("split") or "train"), int(seed), dict(options))


def episode_specs(env_ids: str | Sequence[str], n: int, split: str = "train",
                  seed_start: int = 0, options: dict[str, Any] | None = None) -> list[EpisodeSpec]:
    """``n`` seeds (``seed_start``, ...) of every id in ``env_ids``, seed-major (a batch
    sees every environment)."""
    ids = [env_ids] if isinstance(env_ids, str) else list(env_ids)
    if not ids:
        raise ValueError("episode_specs: no env_ids")
    return [EpisodeSpec(env_id, split, seed, dict(options or {}))
            for seed in range(seed_start, seed_start + n) for env_id in ids]


@dataclass
class Finished:
    """A rollout's outcome: the weighted reward and the named terms it is made of.

    ``complete`` is False when a remote rollout was stopped before the server ended it (the
    server scores only finished rollouts); its terms are then all 0.
    """

    reward: float
    terms: dict[str, float]
    complete: bool = True


class LocalEpisode:
    """A :class:`ChunkedEpisode` stepped on the factory's worker thread."""

    def __init__(self, episode: ChunkedEpisode, run: Callable[..., Any]) -> None:
        self.episode, self._run = episode, run

    async def reset(self, spec: EpisodeSpec) -> list[dict[str, str]]:
        """Start the episode of ``spec``; returns the first turn's messages."""
        await self._run(self.episode.reset, env_id=spec.env_id, split=spec.split,
                        episode_seed=spec.seed, options=spec.options)
        return self.episode.messages()

    @property
    def done(self) -> bool:
        return self.episode.done

    @property
    def turns(self) -> int:
        return len(self.episode.turns)

    def messages(self) -> list[dict[str, str]]:
        """The next turn's prompt: system message + memory + the chunk in view."""
        return self.episode.messages()

    async def apply(self, reply: str, *, prompt_tokens: int = 0, truncated: bool = False) -> None:
        await self._run(self.episode.apply, reply, prompt_tokens=prompt_tokens,
                        truncated=truncated)

    async def finish(self) -> Finished:
        """The rollout's reward and terms (an unfinished stream is skipped to its end first,
        as :attr:`ChunkedEpisode.rollout_terms` does)."""
        def outcome() -> Finished:
            terms = self.episode.rollout_terms
            return Finished(self.episode.reward(), {k: float(v) for k, v in terms.items()})
        return await self._run(outcome)


class RemoteEpisode:
    """One session on a ``memgym serve`` at ``base_url`` (the async OpenEnv client)."""

    def __init__(self, base_url: str, timeout_s: float = 120.0) -> None:
        from memgym.serve.client import MemgymClient

        self._client = MemgymClient(base_url, message_timeout_s=timeout_s)
        self._obs: Any = None
        self.turns = 0

    async def reset(self, spec: EpisodeSpec) -> list[dict[str, str]]:
        await self._client.connect()
        result = await self._client.reset(env_id=spec.env_id, split=spec.split, seed=spec.seed,
                                          options=spec.options)
        self._obs, self.turns = result.observation, 0
        return list(self._obs.messages)

    @property
    def done(self) -> bool:
        if self._obs is None:
            raise RuntimeError("RemoteEpisode: reset() was not called")
        return bool(self._obs.done)

    def messages(self) -> list[dict[str, str]]:
        return list(self._obs.messages) if self._obs is not None else []

    async def apply(self, reply: str, *, prompt_tokens: int = 0, truncated: bool = False) -> None:
        from memgym.serve.models import TurnAction

        result = await self._client.step(TurnAction(reply=reply, truncated=truncated,
                                                    prompt_tokens=prompt_tokens))
        self._obs, self.turns = result.observation, self.turns + 1

    async def finish(self) -> Finished:
        if self._obs is None or not self._obs.done:
            return Finished(0.0, {k: 0.0 for k in (*REWARD_TERMS, *METRIC_TERMS)}, False)
        return Finished(float(self._obs.reward or 0.0),
                        {k: float(v) for k, v in self._obs.reward_terms.items()})

    async def close(self) -> None:
        await self._client.close()


class EpisodeFactory:
    """Makes the episode of each rollout, in process or on a server.

    Args:
        env_kwargs, weights, write_mode, describe_tools, max_turns: As
            :class:`ChunkedEpisode` (in process). With ``server_url`` they are the server's:
            the ones given here (not None) must equal them, or :meth:`remote_weights` raises.
        server_url: A ``memgym serve`` (``http://host:port``); None plays in process.
        timeout_s: Seconds to wait for each server answer.
    """

    def __init__(self, env_kwargs: dict[str, Any] | None = None,
                 weights: dict[str, float] | None = None, write_mode: str | None = None,
                 describe_tools: bool | None = None, max_turns: int | None = None,
                 server_url: str | None = None, timeout_s: float = 120.0) -> None:
        self.server_url, self.timeout_s = server_url, timeout_s
        self._asked = {"env_kwargs": env_kwargs, "weights": weights, "write_mode": write_mode,
                       "describe_tools": describe_tools}
        self.env_kwargs = dict(env_kwargs or {})
        self.write_mode = write_mode or "tools"
        # Endpoints get no JSON tool schemas from memgym: list the tools in the system prompt.
        self.describe_tools = True if describe_tools is None else describe_tools
        self.max_turns = max_turns
        if server_url is None:
            ChunkedEpisode(None, self.env_kwargs, weights, write_mode=self.write_mode)  # checks
            self.weights = {**DEFAULT_WEIGHTS, **(weights or {})}
        else:
            self.weights = self.remote_weights()
        self._free: list[ChunkedEpisode] = []
        self._executor: ThreadPoolExecutor | None = None

    def remote_weights(self) -> dict[str, float]:
        """The server's reward weights, after checking that whatever this run set (env
        arguments, weights, write mode, tool listing) is what the server plays."""
        from memgym.serve.remote import server_info

        info = server_info(self.server_url)
        asked = dict(self._asked)
        if asked["weights"] is not None:
            asked["weights"] = {**info["weights"], **asked["weights"]}
        for key, value in asked.items():
            if value is not None and json.dumps(info[key], sort_keys=True) != json.dumps(
                    value, sort_keys=True):
                raise ValueError(f"memgym server {self.server_url}: {key} is {info[key]!r}, "
                                 f"this run asks for {value!r}; start the server with them "
                                 "(--env-arg, --weight, --write-mode) or leave them out here")
        return {k: float(v) for k, v in info["weights"].items()}

    async def _run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if self._executor is None:  # one thread: memgym's Python work is GIL-bound anyway
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="memgym-episodes")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, lambda: fn(*args, **kwargs))

    def make(self) -> LocalEpisode | RemoteEpisode:
        """A fresh rollout (reset it with a spec); give it back with :meth:`release`."""
        if self.server_url is not None:
            return RemoteEpisode(self.server_url, self.timeout_s)
        # Reuse finished episodes: each keeps its gym environments, which cost a make().
        episode = self._free.pop() if self._free else ChunkedEpisode(
            None, self.env_kwargs, self.weights, write_mode=self.write_mode,
            max_turns=self.max_turns, describe_tools=self.describe_tools)
        return LocalEpisode(episode, self._run)

    async def release(self, episode: LocalEpisode | RemoteEpisode) -> None:
        """Close a remote session, or keep a local episode for the next rollout."""
        if isinstance(episode, RemoteEpisode):
            await episode.close()
        else:
            self._free.append(episode.episode)
