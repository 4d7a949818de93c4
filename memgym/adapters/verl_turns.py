"""The engine-free half of memgym's verl agent loop: turns, token ids, masks, the reward.

:class:`memgym.adapters.verl_agent_loop.MemgymAgentLoop` (which imports verl) only wires
verl's tokenizer and LLM server into :func:`play_episode` and turns :func:`loop_outputs`
into ``AgentLoopOutput`` objects; everything that decides what is trained on lives here and
is tested without verl (``tests/test_adapters_verl.py``).

A memgym rollout is many per-chunk turns, each a fresh prompt (system + memory + chunk), all
sharing the rollout's final reward. Two layouts (verl 0.9.1 read from its wheel):

- ``per_turn`` (default): one ``AgentLoopOutput`` per turn, ``prompt_ids`` = the turn's
  prompt exactly as generated from, ``response_ids`` = the generated tokens (mask all 1),
  every output carrying the rollout's reward. verl's v1 trainer (``trainer.use_v1=true``,
  the default in 0.9.1) accepts a list from ``run``, keys them ``{uid}_{session}_{i}`` and
  broadcasts the GRPO advantage of the final output to every turn
  (``compute_advantage_for_multi_trajectories``): memgym's chunked GRPO. Token-exact: the
  policy is trained on the very context it sampled from.
- ``concat``: one output (verl's classic one-sequence trainer): ``prompt_ids`` = the first
  turn's prompt, ``response_ids`` = reply 1, then turn 2's prompt (environment tokens,
  mask 0, logprob 0), reply 2, ... The replies are the generated tokens, but in training
  they are conditioned on the earlier turns, which the model did not see when sampling:
  an approximation that also grows with the stream (cut at ``response_length``). Use
  ``per_turn`` where the trainer allows it.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from memgym.adapters.episodes import (
    EpisodeFactory,
    EpisodeSpec,
    Finished,
    LocalEpisode,
    RemoteEpisode,
    episode_specs,
)

LAYOUTS = ("per_turn", "concat")
#: The agent loop's name in verl's registry (a dataset row's ``agent_name``).
AGENT_NAME = "memgym_chunked"


@dataclass
class Generated:
    """One generation: the sampled tokens, their logprobs, and whether it hit the limit."""

    token_ids: list[int]
    log_probs: list[float] | None = None
    truncated: bool = False


@dataclass
class TurnTokens:
    """One played turn, token for token."""

    prompt_ids: list[int]
    response_ids: list[int]
    log_probs: list[float] | None
    truncated: bool


def is_truncated(token_ids: Sequence[int], max_tokens: int, eos_ids: Sequence[int]) -> bool:
    """Whether a generation was cut at ``max_tokens`` (verl reports both a stop and the
    length limit as ``completed``): it used them all and did not end on an EOS token."""
    return len(token_ids) >= max_tokens and not (token_ids and token_ids[-1] in set(eos_ids))


async def play_episode(episode: LocalEpisode | RemoteEpisode,
                       encode: Callable[[list[dict[str, str]]], Awaitable[list[int]]],
                       generate: Callable[[list[int]], Awaitable[Generated]],
                       decode: Callable[[list[int]], str],
                       max_prompt_tokens: int | None = None) -> list[TurnTokens]:
    """Play an episode (already reset) turn by turn until it ends: encode the turn's
    messages, generate, play the decoded reply. Returns every turn's tokens.

    A prompt over ``max_prompt_tokens`` raises (as :func:`memgym.llm.chunked.play_lockstep`):
    it is bounded by the memory budget plus one chunk, and cutting it would lose the system
    message or the memory the reply depends on.
    """
    turns: list[TurnTokens] = []
    while not episode.done:
        prompt_ids = list(await encode(episode.messages()))
        if max_prompt_tokens is not None and len(prompt_ids) > max_prompt_tokens:
            raise ValueError(f"memgym turn {len(turns)}: the prompt has {len(prompt_ids)} tokens, "
                             f"over the rollout's prompt_length={max_prompt_tokens}; lower the "
                             "memory budget or chunk size, or raise data.max_prompt_length")
        out = await generate(prompt_ids)
        await episode.apply(decode(out.token_ids), prompt_tokens=len(prompt_ids),
                            truncated=out.truncated)
        turns.append(TurnTokens(prompt_ids, list(out.token_ids),
                                None if out.log_probs is None else list(out.log_probs),
                                out.truncated))
    return turns


def loop_outputs(turns: Sequence[TurnTokens], finished: Finished, layout: str = "per_turn",
                 response_length: int | None = None) -> list[dict[str, Any]]:
    """The fields of verl's ``AgentLoopOutput`` for a played rollout (module docstring):
    one dict per turn (``per_turn``) or one for the rollout (``concat``), each with the
    rollout's ``reward_score`` and its memgym terms under ``extra_fields``."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout {layout!r}; expected one of {', '.join(LAYOUTS)}")
    extra = {"memgym_terms": dict(finished.terms), "memgym_complete": finished.complete}
    cut = (lambda xs: xs) if response_length is None else (lambda xs: xs[:response_length])
    if layout == "per_turn":
        return [{"prompt_ids": list(t.prompt_ids), "response_ids": cut(list(t.response_ids)),
                 "response_mask": cut([1] * len(t.response_ids)),
                 "response_logprobs": None if t.log_probs is None else cut(list(t.log_probs)),
                 "reward_score": float(finished.reward), "num_turns": 2,
                 "extra_fields": {**extra, "memgym_turn": i}} for i, t in enumerate(turns)]
    if not turns:
        raise ValueError("loop_outputs: a concat rollout needs at least one turn")
    with_logprobs = all(t.log_probs is not None for t in turns)
    response: list[int] = []
    mask: list[int] = []
    logprobs: list[float] = []
    for i, t in enumerate(turns):
        if i:  # the next turn's prompt is the environment's: masked out of the loss
            response += t.prompt_ids
            mask += [0] * len(t.prompt_ids)
            logprobs += [0.0] * len(t.prompt_ids)
        response += t.response_ids
        mask += [1] * len(t.response_ids)
        logprobs += list(t.log_probs or [0.0] * len(t.response_ids))
    return [{"prompt_ids": list(turns[0].prompt_ids), "response_ids": cut(response),
             "response_mask": cut(mask), "response_logprobs": cut(logprobs) if with_logprobs
             else None, "reward_score": float(finished.reward), "num_turns": 2 * len(turns),
             "extra_fields": extra}]


_FACTORIES: dict[str, EpisodeFactory] = {}


def shared_factory(**settings: Any) -> EpisodeFactory:
    """One :class:`EpisodeFactory` per distinct settings in this process: verl builds an
    agent loop object per sample, and the factory's worker thread and pooled environments
    should outlive it."""
    key = json.dumps(settings, sort_keys=True, default=str)
    if key not in _FACTORIES:
        _FACTORIES[key] = EpisodeFactory(**settings)
    return _FACTORIES[key]


async def run_rollout(factory: EpisodeFactory, row: dict[str, Any] | str,
                      encode: Callable[[list[dict[str, str]]], Awaitable[list[int]]],
                      generate: Callable[[list[int]], Awaitable[Generated]],
                      decode: Callable[[list[int]], str], *, layout: str = "per_turn",
                      max_prompt_tokens: int | None = None,
                      response_length: int | None = None) -> list[dict[str, Any]]:
    """One verl sample: the episode its ``extra_info`` row names, played and laid out."""
    episode = factory.make()
    try:
        await episode.reset(EpisodeSpec.from_row(row))
        turns = await play_episode(episode, encode, generate, decode, max_prompt_tokens)
        finished = await episode.finish()
    finally:
        await factory.release(episode)
    return loop_outputs(turns, finished, layout, response_length)


def dataset_rows(specs: Sequence[EpisodeSpec], agent_name: str = AGENT_NAME) -> list[dict[str, Any]]:
    """verl dataset rows (``RLHFDataset`` columns) for episodes: the prompt is a placeholder
    (each turn's prompt comes from the episode), ``extra_info`` the episode's spec."""
    return [{"data_source": "memgym", "agent_name": agent_name,
             "prompt": [{"role": "user", "content": f"memgym episode {s.env_id} ({s.split}, "
                                                     f"seed {s.seed})"}],
             "reward_model": {"style": "rule", "ground_truth": ""},
             "extra_info": {**s.as_row(), "index": i}} for i, s in enumerate(specs)]


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m memgym.adapters.verl_turns --out train.parquet ...``: a verl dataset."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--env", action="append", dest="env_ids",
                        help="memgym text env id (repeatable)")
    parser.add_argument("--n", type=int, default=256, help="seeds per env id")
    parser.add_argument("--split", default="train")
    parser.add_argument("--seed-start", type=int, default=0)
    parser.add_argument("--options", default="{}", help='task parameters, JSON: {"length": 64}')
    parser.add_argument("--out", required=True, help="parquet file to write")
    args = parser.parse_args(argv)
    from datasets import Dataset

    specs = episode_specs(args.env_ids or ["memgym/KVUpdates-Easy-Text-v0"], args.n,
                          args.split, args.seed_start, json.loads(args.options))
    Dataset.from_list(dataset_rows(specs)).to_parquet(args.out)
    print(f"{len(specs)} episodes -> {args.out}")


if __name__ == "__main__":
    main()
