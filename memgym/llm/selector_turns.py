"""An LLM memory selector (Memory-R1's answer agent, MemSifter's proxy): one turn per question.

A selector text environment (:class:`memgym.recipes.selector_text.SelectorTextEnv`, ids
``memgym/Selector-*-Text-v0``, ``MemoryR1-AnswerAgent``, ``MemSifter``, ``RMM`` through their
text twins) shows each question with the notes the retriever ranked highest for it; the model
replies with the numbers of the notes the answerer reads (``"2, 5"`` or ``"none"``). Each
question is one fresh prompt (system + the question and its numbered notes), so the prompt is
bounded by ``n_candidates`` notes however long the stream: the per-chunk machinery of
:mod:`memgym.llm.chunked` (GRPO over turns sharing the rollout's advantage,
:mod:`memgym.training.trl_chunked`; vLLM generation) trains it unchanged. The memory is
written by the env's manager partner (a baseline or a trained agent), fixed while the
selector learns.

- :class:`SelectorEpisode`: one training rollout (``trl.rollout: chunked``,
  ``trl.write_mode: select``), the same protocol as :class:`memgym.llm.chunked.ChunkedEpisode`.
- :class:`SelectorLLMAgent`: the evaluation agent (``memgym eval --agent llm:<model>#select``),
  playing exactly the turns a rollout plays.
- :class:`JointEpisode` / :class:`JointLLMAgent`: one model in both roles (``trl.write_mode:
  joint``, ``llm:<model>#joint``) of a manager + selector env
  (:class:`memgym.recipes.joint_text.JointTextEnv`, ``memgym/ManageSelect-*-Text-v0``): tool
  calls on chunk views, note numbers on question views.

Reward: the env's own terms (``qa`` of each answer, ``retrieval`` cost per note passed,
``invalid`` / ``format`` penalties, and the recipe's ``rank_credit`` / ``citation``), summed
over the episode: the reward the structured selector learns from, weighted by the env's
``rewards``. ``trl.rewards.format`` weighs the share of readable replies, as for managers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from memgym.llm.chunked import NEXT_CHUNK, ChunkedEpisode, TurnRecord
from memgym.llm.completing import CompletingAgent
from memgym.llm.tool_env import start_row_episode
from memgym.recipes.selector_text import parse_reply

SELECTOR_SYSTEM_PROMPT = (
    "You choose which notes from a memory an answerer reads before it answers a question. "
    "Each turn shows one question and the notes a search engine found for it, best ranked "
    "first. Pick the notes that state the answer: the latest value of the fact asked about, "
    "not hedged or unconfirmed claims, and nothing unrelated; every note read costs a little "
    "and distracts the answerer. Reply only with the note numbers, best first, e.g. \"2, 5\", "
    "or \"none\" when no note helps."
)


#: The opening of every reply (the template leaves it open and the model continues it): a
#: small model asked for numbers mostly writes prose; after "Notes:" it writes numbers far more
#: often (SmolLM2-135M, sampled: 1 of 10 replies readable without an opening, more with one).
SELECTION_PREFILL = "Notes:"


def selector_messages(text_env: Any, prefill: str = "") -> list[dict[str, str]]:
    """A turn's prompt: the system message and the env's view (the question in view, its
    numbered notes, the budget, the last reply's result); with ``prefill``, the opening of the
    reply as an assistant message the model continues."""
    messages = [{"role": "system", "content": SELECTOR_SYSTEM_PROMPT},
                {"role": "user", "content": text_env.prompt()}]
    return messages + ([{"role": "assistant", "content": prefill}] if prefill else [])


def selection_reply(prefill: str, completion: str) -> str:
    """The reply the env reads: the opening plus the completion's first line. A selection is
    one line; what a model writes after it (it rarely stops by itself) is not part of it, as
    a generation stopped at the first newline would cut it."""
    return (prefill + completion).strip().split("\n", 1)[0]


def read_selection(prefill: str, completion: str, truncated: bool) -> tuple[str, bool]:
    """The reply the env reads (:func:`selection_reply`) and whether it was cut off: only
    a completion that hit the token limit before finishing its first line was."""
    return selection_reply(prefill, completion), truncated and "\n" not in completion


def _check_selector_env(env: Any, env_id: str) -> None:
    if getattr(env, "action_layout", None) != "select_text":
        raise ValueError(f"{env_id}: not a selector text environment (expected a "
                         "SelectorTextEnv id such as memgym/Selector-Dialogue-Text-v0)")


class SelectorEpisode:
    """One rollout of an LLM selector (see the module docstring); the protocol of
    :class:`memgym.llm.chunked.ChunkedEpisode` (``reset(**row)``, ``done``, ``messages()``,
    ``apply(reply)``, ``turns``, ``format_share``, ``rollout_terms``, ``env_reward()``,
    ``reward()``), so :class:`memgym.training.trl_chunked.ChunkedGRPOTrainer` plays it.

    Args:
        env_id: A registered selector id (text or structured; the text twin is played). A
            dataset row's ``env_id`` overrides it.
        env_kwargs: Environment arguments over the registered ones (``manager``,
            ``n_candidates``, ``budget``, ``select_cost``, ``rewards``, ``reader``, ...).
        format_weight: Weight of the share of readable replies in :meth:`reward`.
        split: Default split when a row has none.
        max_turns: Turns after which the remaining questions are answered with no notes
            (None: one turn per question, three at most on a question with bad replies).
        prefill: The opening of each reply (:data:`SELECTION_PREFILL`; "" for none); the
            env reads the opening plus the completion's first line (:func:`selection_reply`).
    """

    def __init__(self, env_id: str | None = None, env_kwargs: dict[str, Any] | None = None,
                 format_weight: float = 0.2, split: str = "train", *,
                 max_turns: int | None = None, prefill: str = SELECTION_PREFILL) -> None:
        self._env_id, self._env_kwargs = env_id, dict(env_kwargs or {})
        self.prefill = prefill
        self.format_weight, self._split, self.max_turns = format_weight, split, max_turns
        self._envs: dict[tuple[str, str], Any] = {}
        self.env: Any = None
        self.turns: list[TurnRecord] = []
        self._return = 0.0
        self._final: dict[str, Any] = {}

    def reset(self, env_id: str | None = None, split: str | None = None,
              episode_seed: int = 0, options: dict[str, Any] | str | None = None,
              env_kwargs: dict[str, Any] | str | None = None, **row: Any) -> str:
        """Start the episode a dataset row names; returns the first prompt."""
        self.env, obs, info = start_row_episode(
            self._envs, "SelectorEpisode", env_id or self._env_id, self._env_kwargs,
            split or self._split, episode_seed, options, env_kwargs)
        _check_selector_env(self.env, self.env.spec.id if self.env.spec else "the env")
        self.turns, self._return = [], 0.0
        self._final = info if self.env.game.role is None else {}
        return obs

    @property
    def done(self) -> bool:
        if self.env is None:
            raise RuntimeError("SelectorEpisode: reset() was not called")
        return self.env.game.role is None or (
            self.max_turns is not None and len(self.turns) >= self.max_turns)

    def messages(self) -> list[dict[str, str]]:
        return selector_messages(self.env, self.prefill)

    def apply(self, reply: str, *, prompt_tokens: int = 0, truncated: bool = False) -> TurnRecord:
        """Play the model's ``reply`` (the completion after the prefill) to the question in
        view; returns the turn's record. A reply whose first line is complete is not
        truncated, whatever followed it."""
        if self.done:
            raise RuntimeError("SelectorEpisode.apply: the rollout is over")
        text, truncated = read_selection(self.prefill, reply, truncated)
        _, reward, done, _, info = self.env.step(text)
        self._return += reward
        if done:
            self._final = info
        record = TurnRecord(prompt_tokens, 1, int(info["ok"]),
                            info["error"] != "malformed" and not truncated, reply)
        self.turns.append(record)
        return record

    def _finish(self) -> None:
        """Questions left after ``max_turns`` are answered with no notes (and score so)."""
        while self.env.game.role is not None:
            _, reward, done, _, info = self.env.step("none")
            self._return += reward
            if done:
                self._final = info

    @property
    def format_share(self) -> float:
        return sum(t.well_formed for t in self.turns) / len(self.turns) if self.turns else 0.0

    @property
    def rollout_terms(self) -> dict[str, float]:
        """``qa`` (mean answer score), ``tool_success`` (accepted replies / replies),
        ``compression`` (1 - notes passed / budget, per question), ``format``, ``calls``,
        ``turns``, ``max_prompt_tokens``, ``selection_recall`` (evidence among the notes
        passed; 0 when no question has evidence)."""
        self._finish()
        final, budget = self._final, self.env.game.budget
        turns = len(self.turns)
        return {"qa": float(final.get("qa_score", 0.0)),
                "tool_success": sum(t.ok_calls for t in self.turns) / turns if turns else 0.0,
                "compression": 1.0 - float(final.get("entries_passed", 0.0)) / budget,
                "format": self.format_share, "calls": float(turns), "turns": float(turns),
                "max_prompt_tokens": float(max((t.prompt_tokens for t in self.turns),
                                               default=0)),
                "selection_recall": float(final.get("selection_recall") or 0.0)}

    def env_reward(self) -> float:
        """The episode's return under the env's own reward terms."""
        self._finish()
        return self._return

    def reward(self) -> float:
        return self.env_reward() + self.format_weight * self.format_share


class SelectorLLMAgent(CompletingAgent):
    """An LLM selector as a memgym agent for selector text environments.

    Args:
        complete: ``complete(messages, tool_names) -> Reply``
            (:class:`memgym.llm.chunked_agent.ModelCompleter` without tool schemas,
            :class:`~memgym.llm.chunked_agent.EndpointCompleter`, or any callable).
        name: Agent name in reports.
        prefill: The opening of each reply, as :class:`SelectorEpisode` (an endpoint, whose
            server closes every message, gets "").
    """

    def __init__(self, complete: Callable[..., Any], name: str = "llm-selector",
                 prefill: str = SELECTION_PREFILL) -> None:
        super().__init__(complete, name)
        self.prefill = prefill

    def reset(self, env: Any, seed: int | None = None) -> None:
        spec = getattr(env.unwrapped, "spec", None)
        _check_selector_env(env.unwrapped, spec.id if spec else type(env.unwrapped).__name__)
        super().reset(env, seed)

    def act(self, obs: Any, info: dict[str, Any], env: Any) -> str:
        reply = self._turn_reply(selector_messages(env.unwrapped, self.prefill), None)
        text, cut = read_selection(self.prefill, reply.text, reply.truncated)
        self.stats["well_formed"] += parse_reply(text).error is None and not cut
        return text


# -- one model, both roles (trl.write_mode: joint) --------------------------------------------
def _check_joint_env(env: Any, env_id: str) -> None:
    if getattr(env, "action_layout", None) != "joint_text":
        raise ValueError(f"{env_id}: not a manager + selector text environment (expected an id "
                         "such as memgym/ManageSelect-Dialogue-Text-v0)")


class JointEpisode(ChunkedEpisode):
    """One rollout of one model in both roles of a
    :class:`memgym.recipes.joint_text.JointTextEnv` (``trl.write_mode: joint``): manager turns
    are :class:`memgym.llm.chunked.ChunkedEpisode`'s tools turns (the tools listed in the
    system message), selector turns are :class:`SelectorEpisode`'s. The rollout's reward is the
    manager's (the weighted ``qa`` / ``tool_success`` / ``compression`` terms) plus the
    selection's own terms (``retrieval`` per note passed, penalties, ``rank_credit`` /
    ``citation`` when weighted), so one advantage credits both roles' turns (CoMAM's global
    reward; its per-role local rewards are in ``env.manager_terms`` / ``env.selector_terms``).
    """

    def __init__(self, env_id: str | None = None, env_kwargs: dict[str, Any] | None = None,
                 weights: dict[str, float] | None = None, split: str = "train", *,
                 max_turns: int | None = None) -> None:
        super().__init__(env_id, env_kwargs, weights, split, write_mode="tools",
                         max_turns=max_turns, describe_tools=True)
        self._selection_return = 0.0
        self._last_error: str | None = None

    def reset(self, **row: Any) -> str:  # type: ignore[override]
        obs = super().reset(**row)
        _check_joint_env(self.env, row.get("env_id") or self._env_id or "")
        self._selection_return = 0.0
        return obs

    @property
    def role(self) -> str | None:
        return self.env.game.role

    def messages(self) -> list[dict[str, str]]:
        if self.role == "selector":
            return selector_messages(self.env, SELECTION_PREFILL)
        return super().messages()

    def apply(self, reply: str, *, prompt_tokens: int = 0, truncated: bool = False) -> TurnRecord:
        if self.role != "selector":
            return super().apply(reply, prompt_tokens=prompt_tokens, truncated=truncated)
        if self.done:
            raise RuntimeError("JointEpisode.apply: the rollout is over")
        text, cut = read_selection(SELECTION_PREFILL, reply, truncated)
        ok = self._select(text)
        self._calls += 1
        self._ok_calls += ok
        record = TurnRecord(prompt_tokens, 1, int(ok), self._last_error != "malformed" and not cut,
                            reply)
        self.turns.append(record)
        return record

    def _select(self, reply: str) -> bool:
        info = self.env.step(reply)[4]
        self._selection_return += sum(v for k, v in info.get("reward_terms", {}).items()
                                      if k != "qa")  # qa: the manager's weighted term
        self._last_error = info.get("error")
        return bool(info["ok"])

    def _finish(self) -> None:
        """The rest of the stream as a model that stops would leave it: no more writes, no
        notes read (through the env, so the game's bookkeeping stays right)."""
        if self._finished or self.env is None:
            return
        while self.role is not None:
            if self.role == "selector":
                self._select("none")
            else:
                self.env.step(NEXT_CHUNK)
        self._finished = True

    def get_reward(self) -> float:
        return super().get_reward() + self._selection_return


class JointLLMAgent:
    """One model in both roles of a manager + selector text env, for evaluation: the manager's
    turns as :class:`memgym.llm.chunked_agent.ChunkedLLMAgent` (tools mode, tools listed in the
    system message), the selector's as :class:`SelectorLLMAgent`: the turns
    :class:`JointEpisode` plays."""

    def __init__(self, complete: Callable[..., Any], name: str = "llm-joint",
                 prefill: str = SELECTION_PREFILL) -> None:
        from memgym.llm.chunked_agent import ChunkedLLMAgent

        self.name = name
        self.manager = ChunkedLLMAgent(complete, name=name, describe_tools=True)
        self.selector = SelectorLLMAgent(complete, name=name, prefill=prefill)

    def reset(self, env: Any, seed: int | None = None) -> None:
        spec = getattr(env.unwrapped, "spec", None)
        _check_joint_env(env.unwrapped, spec.id if spec else type(env.unwrapped).__name__)
        self.manager.reset(env, seed=seed)
        CompletingAgent.reset(self.selector, env, seed)  # its own reset checks a selector env

    def act(self, obs: Any, info: dict[str, Any], env: Any) -> str:
        if env.unwrapped.game.role == "selector":
            return self.selector.act(obs, info, env)
        return self.manager.act(obs, info, env)

    def episode_stats(self) -> dict[str, float]:
        return {**{f"manager_{k}": v for k, v in self.manager.episode_stats().items()},
                **{f"selector_{k}": v for k, v in self.selector.episode_stats().items()}}
