"""Memory rewriting recipe: the memoryless T-Maze, where only a recurrent policy can carry the cue.

The structured ``memgym/TMaze-{Fixed,Uniform}-v0`` envs give the agent an explicit memory: a
feed-forward (MLP) policy can solve them by writing the cue and rewriting it at each new
corridor, because memory is part of its observation. The paper's classic comparison (an LSTM
solves the T-Maze, an MLP cannot) needs the memory taken away. :func:`make_env` builds that
variant over the same core and the same streams:

- every memory op is removed (``ops=("noop",)``) and the observation is the ``view`` only
  (the current chunk's features; no slots, no memory fill, no progress clock);
- at each junction the question comes into view and the agent answers it itself with one of
  the task's ``answer_choices`` (``left`` / ``right``); the core scores that answer exactly
  like a reader's, so rewards, records and evaluation reports are the usual ones.

Action space: ``Discrete(1 + len(choices))``: 0 = move on (valid on a chunk), ``1 + i`` =
answer ``choices[i]`` (valid on a question; a task whose answers are named per split lists
the episode's own in ``Episode.labels["choices"]``, position by position). An invalid action
costs the ``invalid`` penalty and uses up the op (on a chunk: moves on; on a question: after 3
the junction counts as unanswered), as everywhere in memgym. Masks are in ``info["action_mask"]`` and
``action_masks()``, but the recipe trains unmasked PPO / RecurrentPPO on it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from memgym.envs.structured import MemoryEnv
from memgym.facts import extract_fact, fact_key, parse_question
from memgym.rewards.reader import ReaderAnswer

#: The single retrieval "tier" through which the agent's own answer reaches the core.
ANSWER_TIER = "junction"


class ChosenAnswer:
    """A reader that answers with whatever the agent chose (the memoryless variant's answers
    come from the policy, not from memory)."""

    def __init__(self) -> None:
        self.choice = "unknown"

    def answer_all(self, questions: Sequence[str], entries: Sequence[str],
                   always_shown: Sequence[int] = ()) -> list[ReaderAnswer]:
        return [ReaderAnswer(self.choice, "extract", ()) for _ in questions]


class JunctionAnswers(gym.Wrapper):
    """The agent answers each question in view itself; the observation is the view alone."""

    def __init__(self, env: MemoryEnv, choices: Sequence[str]) -> None:
        super().__init__(env)
        core = env.unwrapped.core
        if set(core.ops) != {"noop"} or list(core.retrieval_tiers) != [ANSWER_TIER]:
            raise ValueError("JunctionAnswers needs a MemoryEnv with ops=('noop',) and the "
                             f"single retrieval tier {ANSWER_TIER!r}")
        if not choices:
            raise ValueError("choices: at least one answer is needed")
        self.choices = tuple(choices)
        self.reader = ChosenAnswer()
        core.retrieval_readers = {ANSWER_TIER: self.reader}
        self.action_space = spaces.Discrete(1 + len(self.choices))
        self.observation_space = spaces.Dict({"view": env.observation_space["view"]})
        base = env.unwrapped
        self._noop = base.action_index[("noop", -1, -1)]
        self._answer = base.action_index[("answer", 0, -1)]
        self._invalid = base.action_space.n  # out of range: the core's invalid op

    def reset(self, **kwargs: Any) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        obs, info = self.env.reset(**kwargs)
        return self._obs(obs), self._info(info)

    def step(self, action: Any) -> tuple[dict[str, np.ndarray], float, bool, bool, dict]:
        try:
            a = int(action)
        except (TypeError, ValueError):
            a = -1
        kind = self.env.unwrapped.core.view.kind
        if kind == "chunk" and a == 0:
            inner = self._noop
        elif kind == "question" and 1 <= a <= len(self.choices):
            self.reader.choice = self.current_choices()[a - 1]
            inner = self._answer
        else:
            inner = self._invalid
        obs, reward, terminated, truncated, info = self.env.step(inner)
        return self._obs(obs), reward, terminated, truncated, self._info(info)

    def current_choices(self) -> tuple[str, ...]:
        """This episode's answers: ``labels["choices"]`` when the task names them per split
        (same length, position by position), else the fixed ``choices``."""
        labels = self.env.unwrapped.core.episode.labels
        choices = tuple(labels.get("choices", self.choices))
        if len(choices) != len(self.choices):
            raise ValueError(f"episode lists {len(choices)} answer choices, the action space "
                             f"has {len(self.choices)}")
        return choices

    def action_masks(self) -> np.ndarray:
        mask = np.zeros(self.action_space.n, dtype=bool)
        kind = self.env.unwrapped.core.view.kind
        if kind == "question":
            mask[1:] = True
        else:
            mask[0] = True  # a chunk, or the episode is over (never all-False)
        return mask

    @staticmethod
    def _obs(obs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {"view": obs["view"]}

    def _info(self, info: dict[str, Any]) -> dict[str, Any]:
        return {**info, "action_mask": self.action_masks()}


def make_env(task: str = "memgym.tasks.tmaze:TMazeTask", task_params: dict[str, Any] | None = None,
             *, split: str = "train", rewards: Any = None, bow_dim: int = 64,
             choices: Sequence[str] | None = None, render_mode: str | None = None) -> gym.Env:
    """The memoryless variant of a task whose questions have a fixed answer set (entry point
    of ``memgym/TMaze-{Fixed,Uniform}-Memoryless-v0`` and
    ``memgym/ColourCubes-{Easy,Medium}-Memoryless-v0``). ``choices`` defaults to the task's
    ``answer_choices``. The memory baselines (fifo, oracle, ...) act on the structured ids,
    not here: :class:`RandomAnswerAgent` and :class:`CueTrackingAgent` are this variant's."""
    env = MemoryEnv(task, task_params, split=split, tiers={"episodic": {"entries": 1}},
                    ops=("noop",), rewards=rewards, bow_dim=bow_dim,
                    retrieval_tiers={ANSWER_TIER: {"top_k": 1, "cost": 0.0}},
                    render_mode=render_mode)
    if choices is None:
        choices = getattr(env.task, "answer_choices", None)
        if choices is None:
            raise ValueError(f"task {type(env.task).__name__} has no answer_choices; pass choices")
    return JunctionAnswers(env, choices)


class RandomAnswerAgent:
    """Moves on at chunks and answers each junction uniformly at random: the chance level a
    memoryless policy cannot beat."""

    name = "random-answer"

    def reset(self, env: Any, seed: int | None = None) -> None:
        self.rng = np.random.default_rng(seed)

    def act(self, obs: Any, info: dict[str, Any], env: Any) -> int:
        return int(self.rng.choice(np.flatnonzero(info["action_mask"])))


class CueTrackingAgent:
    """Keeps the latest value of every fact in its own state (parsed from the visible text)
    and answers the question's subject from it: what a perfect recurrent policy would do (the
    upper bound of the memoryless variant)."""

    name = "cue-tracker"

    def reset(self, env: Any, seed: int | None = None) -> None:
        self.latest: dict[str, str] = {}  # fact key -> latest value

    def act(self, obs: Any, info: dict[str, Any], env: Any) -> int:
        view = env.unwrapped.core.view
        choices = _find_wrapper(env).current_choices()
        if view.kind == "question":
            parsed = parse_question(view.text)
            key = fact_key(parsed[0], parsed[1][-1]) if parsed else None
            value = self.latest.get(key, choices[0])
            return 1 + (choices.index(value) if value in choices else 0)
        fact = extract_fact(view.text)
        if fact is not None:
            self.latest[fact.key] = fact.value
        return 0


def _find_wrapper(env: Any) -> JunctionAnswers:
    while not isinstance(env, JunctionAnswers):
        if not hasattr(env, "env"):
            raise ValueError("not a memoryless env (no JunctionAnswers wrapper)")
        env = env.env
    return env
