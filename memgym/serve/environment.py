"""One served rollout: an OpenEnv ``Environment`` over :class:`memgym.llm.chunked.ChunkedEpisode`.

A session plays per-chunk turns: ``reset`` returns the first turn's chat messages, each
``step`` takes the model's reply to them and returns the next turn's, and the last step
carries the rollout's reward and its named terms. The episode is a pure function of
(``env_id``, ``split``, ``seed``, ``options``), so a served rollout scores exactly what the
in-process :class:`~memgym.llm.chunked.ChunkedEpisode` scores for the same replies.
"""

from __future__ import annotations

import difflib
import secrets
import uuid
from typing import Any

from openenv.core.env_server.interfaces import Environment
from openenv.core.env_server.types import EnvironmentMetadata

from memgym.episode import SPLITS
from memgym.llm.chunked import ChunkedEpisode
from memgym.serve.models import ServeSettings, TurnAction, TurnObservation, TurnState

#: Task options a client may send: JSON scalars only (no nested structures, no paths).
_OPTION_TYPES = (bool, int, float, str)


def served_rollout(settings: ServeSettings, env_id: str | None = None,
                   split: str = "train") -> ChunkedEpisode:
    """The in-process rollout a session of ``settings`` plays (reset it with a row): what the
    server steps, and what a served episode can be checked against."""
    return ChunkedEpisode(env_id or settings.env_ids[0], settings.env_kwargs,
                          settings.weights or None, split, write_mode=settings.write_mode,
                          max_turns=settings.max_turns, describe_tools=settings.describe_tools)


class ServedMemoryEnvironment(Environment[TurnAction, TurnObservation, TurnState]):
    """
    ## Description

    memgym's per-chunk text interface for a remote trainer: each turn's prompt is bounded by
    the memory budget plus one chunk, however long the stream.

    ## Action Space

    :class:`~memgym.serve.models.TurnAction`: ``reply`` (the model's text for this turn),
    ``truncated``, ``prompt_tokens``. A reply without a usable call is charged by the
    environment as a failed call, never an error.

    ## Observation Space

    :class:`~memgym.serve.models.TurnObservation`: ``messages`` (system + user message of the
    next turn), ``turn``, the last reply's ``last_calls`` / ``last_ok_calls`` /
    ``last_well_formed``, and at the end ``reward_terms``.

    ## Rewards

    0 per turn; at the end the rollout's reward (:meth:`ChunkedEpisode.reward`), the same for
    every turn of the rollout.

    ## Episode End

    When the stream and its questions are over, or after ``max_turns`` turns (the rest of the
    stream is then skipped and the questions answered from memory as it is).

    ## Arguments

    ``settings``: :class:`~memgym.serve.models.ServeSettings`. Reset takes ``env_id``
    (default: the first served id), ``split`` (``train`` / ``val`` / ``heldout``),
    ``seed`` (default: a random one, reported in ``state``), ``options`` (task parameters).

    ## Version History

    - v0: initial release.
    """

    SUPPORTS_CONCURRENT_SESSIONS = True  # one ChunkedEpisode per session, nothing shared
    turns_served = 0
    """Turns played by every session of this process (``/memgym/envs`` reports it)."""

    def __init__(self, settings: ServeSettings) -> None:
        super().__init__()
        self.settings = settings
        self.rollout: ChunkedEpisode | None = None
        self._state = TurnState(write_mode=settings.write_mode)

    def reset(self, seed: int | None = None, episode_id: str | None = None,
              env_id: str | None = None, split: str = "train",
              options: dict[str, Any] | None = None, **unknown: Any) -> TurnObservation:
        if unknown:
            raise ValueError(f"reset: unknown field(s) {sorted(unknown)}; expected seed, "
                             "episode_id, env_id, split, options")
        env_id = self._served_id(env_id)
        if split not in SPLITS:
            raise ValueError(f"reset: split {split!r}; expected one of {', '.join(SPLITS)}")
        options = _checked_options(options)
        seed = secrets.randbelow(2**31) if seed is None else int(seed)
        if seed < 0:
            raise ValueError(f"reset: seed {seed} must be >= 0")
        if self.rollout is None:  # one per session: it keeps its environments between episodes
            self.rollout = served_rollout(self.settings, env_id, split)
        self.rollout.reset(env_id=env_id, split=split, episode_seed=seed, options=options)
        self._state = TurnState(episode_id=episode_id or str(uuid.uuid4()), step_count=0,
                                env_id=env_id, split=split, episode_seed=seed,
                                write_mode=self.settings.write_mode)
        return self._observation(None)

    def step(self, action: TurnAction, timeout_s: float | None = None,
             **kwargs: Any) -> TurnObservation:
        if self.rollout is None:
            raise ValueError("step: no episode in this session; send reset first")
        if self.rollout.done:
            raise ValueError("step: the episode is over; send reset for a new one")
        record = self.rollout.apply(action.reply, prompt_tokens=action.prompt_tokens,
                                    truncated=action.truncated)
        self._state.step_count += 1
        ServedMemoryEnvironment.turns_served += 1  # a statistic: a lost increment is harmless
        return self._observation(record)

    @property
    def state(self) -> TurnState:
        self._state.done = self.rollout is not None and self.rollout.done
        return self._state

    def get_metadata(self) -> EnvironmentMetadata:
        return EnvironmentMetadata(
            name="memgym", version="0",
            description="memgym memory-management streams, one turn per chunk: "
                        + ", ".join(self.settings.env_ids))

    def close(self) -> None:
        self.rollout = None

    # -----------------------------------------------------------------------------------------
    def _served_id(self, env_id: str | None) -> str:
        served = self.settings.env_ids
        if env_id is None:
            return served[0]
        if env_id not in served:
            close = difflib.get_close_matches(env_id, served, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f" ({len(served)} are served)"
            raise ValueError(f"reset: env_id {env_id!r} is not served{hint}")
        return env_id

    def _observation(self, record: Any) -> TurnObservation:
        rollout = self.rollout
        assert rollout is not None
        done = rollout.done
        last = {} if record is None else {
            "last_calls": record.calls, "last_ok_calls": record.ok_calls,
            "last_well_formed": record.well_formed}
        return TurnObservation(
            messages=[] if done else rollout.messages(), env_id=self._state.env_id or "",
            turn=len(rollout.turns), done=done, reward=rollout.reward() if done else 0.0,
            reward_terms=rollout.rollout_terms if done else {},
            env_reward=rollout.env_reward() if done else None, **last)


def _checked_options(options: Any) -> dict[str, Any]:
    if options is None:
        return {}
    if not isinstance(options, dict):
        raise ValueError(f"reset: options must be an object of task parameters, got "
                         f"{type(options).__name__}")
    for key, value in options.items():
        if not isinstance(value, _OPTION_TYPES):
            raise ValueError(f"reset: options.{key} must be a number, string or boolean")
        if key in {"data_path", "path"}:
            raise ValueError(f"reset: options.{key} is the server's to set (ServeSettings)")
    return dict(options)
