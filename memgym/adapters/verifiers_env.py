"""memgym as a ``verifiers`` environment (prime-rl): per-chunk turns, rubric = memgym's terms.

::

    from memgym.adapters.verifiers_env import load_environment

    env = load_environment(env_ids="memgym/KVUpdates-Easy-Text-v0", num_train=64,
                           options={"length": 16})
    # prime-rl / vf-eval call env.rollout(...) / env.generate(...) with an OpenAI client

A rollout is one memgym episode (a dataset row names ``env_id``, ``split``, ``seed``,
``options``). Each turn's prompt is a fresh one, as in :mod:`memgym.llm.chunked`: the system
message + the memory + the chunk in view, bounded however long the stream. ``env_response``
plays the model's reply to the last chunk and returns the next chunk's prompt (which
replaces the conversation, it does not extend it); when the episode ends it sets verifiers'
``final_env_response`` and the rollout stops. Every turn is one trajectory step, so a
trainer that trains per step (prime-rl) trains on exactly the prompts the model saw.

Reward: the rubric has one function per memgym term (``qa``, ``tool_success``,
``compression``, ``format``) weighted as memgym weights them, so verifiers' reward equals
:meth:`memgym.llm.chunked.ChunkedEpisode.reward` for the same replies; ``turns`` and
``calls`` are reported with weight 0. verifiers gives every step of the rollout its reward,
memgym's shared final reward.

Tested with verifiers 0.3.1, whose classic (v0) API (``vf.MultiTurnEnv``, ``vf.Rubric``)
answers at ``verifiers.*``; 0.2.1 has the same API at the same names. 0.3.0 and 0.4 are the
"v1" stack (harness programs in a runtime) and are not supported.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

import verifiers as vf
from verifiers.utils.message_utils import normalize_messages

from memgym.adapters.episodes import (
    METRIC_TERMS,
    REWARD_TERMS,
    EpisodeFactory,
    EpisodeSpec,
    episode_specs,
)

logger = logging.getLogger(__name__)

#: Default environment: small, fast, with updates to track.
DEFAULT_ENV = "memgym/KVUpdates-Easy-Text-v0"


def reply_text(completion: Any) -> str:
    """The model's reply as memgym parses it: the text of the assistant message(s), plus
    ``<tool_call>`` blocks for tool calls the server parsed out of it (vLLM with a tool
    parser turns memgym's ``<tool_call>{json}`` text into structured calls)."""
    out: list[str] = []
    for message in completion or []:
        get = message.get if isinstance(message, dict) else lambda k, m=message: getattr(m, k, None)
        if get("role") not in (None, "assistant"):
            continue
        content = get("content")
        if isinstance(content, list):  # content parts: keep the text ones
            content = "".join(p.get("text", "") if isinstance(p, dict) else getattr(p, "text", "")
                              for p in content)
        if content:
            out.append(str(content))
        for call in get("tool_calls") or []:
            name = call.get("name") if isinstance(call, dict) else call.name
            args = call.get("arguments") if isinstance(call, dict) else call.arguments
            try:
                args = json.loads(args) if isinstance(args, str) else (args or {})
            except json.JSONDecodeError:
                pass  # kept as text: memgym charges it as a malformed call
            out.append("<tool_call>" + json.dumps({"name": name, "arguments": args})
                       + "</tool_call>")
    return "\n".join(out)


def _term(name: str) -> Any:
    async def term(state: vf.State) -> float:
        return float((state.get("memgym_terms") or {}).get(name, 0.0))

    term.__name__ = term.__qualname__ = name  # verifiers names the metric after the function
    term.__doc__ = f"memgym's ``{name}`` term of the finished rollout."
    return term


def memgym_rubric(weights: dict[str, float]) -> vf.Rubric:
    """A rubric whose functions are memgym's named terms, with memgym's weights (``turns``
    and ``calls`` as 0-weight metrics)."""
    names = [*REWARD_TERMS, *METRIC_TERMS]
    return vf.Rubric(funcs=[_term(n) for n in names],
                     weights=[float(weights.get(n, 0.0)) if n in REWARD_TERMS else 0.0
                              for n in names])


class MemgymEnv(vf.MultiTurnEnv):
    """Per-chunk memgym rollouts as a verifiers multi-turn environment (module docstring).

    Args:
        factory: Where episodes are played (:class:`EpisodeFactory`: in process or on a
            ``memgym serve``); its weights become the rubric's.
        dataset, eval_dataset: Rows with an ``info`` column of :meth:`EpisodeSpec.as_row`
            (see :func:`episode_dataset`).
        **kwargs: :class:`verifiers.MultiTurnEnv`'s (``max_turns``, ``sampling_args``, ...).
    """

    def __init__(self, factory: EpisodeFactory, dataset: Any = None, eval_dataset: Any = None,
                 **kwargs: Any) -> None:
        self.factory = factory
        super().__init__(dataset=dataset, eval_dataset=eval_dataset,
                         rubric=memgym_rubric(factory.weights), **kwargs)

    async def setup_state(self, state: vf.State) -> vf.State:
        episode = self.factory.make()
        state["memgym_episode"], state["memgym_applied"] = episode, 0
        state["memgym_spec"] = EpisodeSpec.from_row(state["info"]).as_row()
        messages = await episode.reset(EpisodeSpec.from_row(state["info"]))
        state["prompt"] = normalize_messages(messages, field_name="memgym prompt")
        return state

    @vf.stop
    async def episode_over(self, state: vf.State) -> bool:
        """The episode ended and every reply so far was played (e.g. over at reset)."""
        episode = state.get("memgym_episode")
        return episode is not None and episode.done and (
            state["memgym_applied"] == len(state["trajectory"]))

    async def env_response(self, messages: vf.Messages, state: vf.State,
                           **kwargs: Any) -> vf.Messages:
        """Play the model's reply to the last chunk; the next chunk's prompt (``[]`` and the
        rollout's end when the episode is over)."""
        episode = await self._apply_pending(state)
        if episode.done:
            state["final_env_response"] = []  # verifiers' end-of-rollout signal
            return []
        return normalize_messages(episode.messages(), field_name="memgym prompt")

    async def get_prompt_messages(self, state: vf.State) -> vf.Messages:
        # Per-chunk turns: the environment's prompt replaces the conversation so far.
        if not state["trajectory"]:
            return state["prompt"]
        return await self.env_response([], state)

    async def render_completion(self, state: vf.State) -> None:
        # There is no one conversation to cut the completion from: list the replies in order.
        state["completion"] = [m for step in state["trajectory"] for m in step["completion"]]

    async def _apply_pending(self, state: vf.State) -> Any:
        """Play every model reply of the trajectory the episode has not seen yet."""
        episode = state["memgym_episode"]
        for step in state["trajectory"][state["memgym_applied"]:]:
            if not episode.done:
                tokens = step.get("tokens") or {}
                usage = getattr(step.get("response"), "usage", None)
                prompt_tokens = len(tokens.get("prompt_ids") or []) or int(
                    getattr(usage, "prompt_tokens", 0) or 0)
                await episode.apply(reply_text(step["completion"]), prompt_tokens=prompt_tokens,
                                    truncated=bool(step.get("is_truncated")))
            state["memgym_applied"] += 1
        return episode

    @vf.cleanup
    async def finish_episode(self, state: vf.State) -> None:
        """Score the rollout (a reply the loop stopped after is played first) and give the
        episode back; the rubric reads ``state["memgym_terms"]``."""
        episode = state.get("memgym_episode")
        if episode is None:
            return
        try:
            await self._apply_pending(state)
            finished = await episode.finish()
            if not finished.complete:
                logger.warning("memgym rollout %s stopped before the server ended it: "
                               "its terms are 0", state.get("memgym_spec"))
            state["memgym_terms"], state["memgym_reward"] = finished.terms, finished.reward
        finally:
            state["memgym_episode"] = None  # the state goes out as results: no live handles
            await self.factory.release(episode)


def episode_dataset(specs: Sequence[EpisodeSpec]) -> Any:
    """A verifiers dataset of episodes: ``prompt`` is a placeholder (the first chunk's
    prompt replaces it at reset), ``info`` the episode's spec."""
    from datasets import Dataset

    return Dataset.from_list([
        {"prompt": [{"role": "user", "content": f"memgym episode {s.env_id} ({s.split}, seed "
                                                f"{s.seed}): the first chunk comes at reset"}],
         "info": s.as_row()} for s in specs])


def load_environment(env_ids: str | Sequence[str] = DEFAULT_ENV, num_train: int = 256,
                     num_eval: int = 32, train_split: str = "train", eval_split: str = "val",
                     seed_start: int = 0, eval_seed_start: int = 0,
                     options: dict[str, Any] | None = None,
                     env_kwargs: dict[str, Any] | None = None,
                     weights: dict[str, float] | None = None, write_mode: str | None = None,
                     describe_tools: bool | None = None, memgym_max_turns: int | None = None,
                     server_url: str | None = None, timeout_s: float = 120.0,
                     **kwargs: Any) -> MemgymEnv:
    """The verifiers entry point (``vf.load_environment("memgym-memory", ...)`` calls the
    environment package's copy of it).

    Args:
        env_ids: memgym text environment id(s); rows are ``num_train`` train seeds (from
            ``seed_start``) and ``num_eval`` eval seeds of each.
        options: Task parameters of every episode (``{"length": 64}``).
        env_kwargs, weights, write_mode, describe_tools, memgym_max_turns: The episode's
            (see :class:`EpisodeFactory`; with ``server_url`` they must match the server's).
        server_url: Play the episodes on a ``memgym serve`` instead of in process.
        **kwargs: Passed to :class:`verifiers.MultiTurnEnv` (``max_turns``, ...).
    """
    factory = EpisodeFactory(env_kwargs, weights, write_mode, describe_tools, memgym_max_turns,
                             server_url=server_url, timeout_s=timeout_s)
    train = episode_dataset(episode_specs(env_ids, num_train, train_split, seed_start, options))
    evals = (episode_dataset(episode_specs(env_ids, num_eval, eval_split, eval_seed_start,
                                           options)) if num_eval > 0 else None)
    return MemgymEnv(factory, dataset=train, eval_dataset=evals, **kwargs)
