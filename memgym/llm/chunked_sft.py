"""The warm start's teacher data for per-chunk turns (``trl.rollout: chunked``).

The label-free teacher of :mod:`memgym.llm.teacher` plays ``train`` streams; every view it
acts on becomes one training example of exactly the shape a chunked GRPO turn has: the turn's
prompt (:func:`memgym.llm.chunked.turn_messages`) and the teacher's reply, in ``tools`` mode
its call, in ``rewrite`` mode the memory its call leaves (one entry per line). Each example is
tokenised by :func:`memgym.llm.sft.tokenize_conversation` with the training chat template, so
only the reply's own tokens are trained (after the forced tool-call opening in ``tools``
mode).
"""

from __future__ import annotations

from typing import Any

from memgym.llm.chunked import NEXT_CHUNK, mode_env_kwargs, turn_messages, view_key
from memgym.llm.sft import SFTSpec, tokenize_conversation
from memgym.llm.teacher import teacher_call


def teacher_turns(env: Any, write_mode: str, *, split: str, seed: int,
                  options: dict[str, Any] | None = None, describe_tools: bool = False
                  ) -> tuple[list[list[dict[str, Any]]], float]:
    """The teacher's per-chunk turns on one stream of ``env`` (a text env, unwrapped): one
    ``[system, user, assistant]`` conversation per view; and the episode's QA score."""
    _, info = env.reset(seed=seed, options={"split": split, "episode_seed": seed,
                                            **(options or {})})
    tools = set(info["tools"])
    core = env.core
    examples: list[list[dict[str, Any]]] = []
    acted_on: int | None = None
    while not core.done:
        prompt = turn_messages(env, write_mode, describe_tools)
        key = view_key(core)
        name, arguments = teacher_call(core, tools, acted_on)
        acted_on = core.view.source
        if core.view.kind == "question" and core.retrieval_tiers:
            name, arguments = "route_memory", {"tier": next(iter(core.retrieval_tiers))}
        env.step({"name": name, "arguments": arguments})
        if write_mode == "tools":
            reply = {"role": "assistant", "content": "", "tool_calls": [
                {"type": "function", "function": {"name": name, "arguments": arguments}}]}
        else:
            lines = "\n".join(e.text.replace("\n", " ") for e in core.store.entries.values())
            reply = {"role": "assistant", "content": lines}
        examples.append([*prompt, reply])
        if not core.done and view_key(core) == key:
            env.step(NEXT_CHUNK)
    qa = sum(r.score for r in core.records) / max(len(core.episode.questions), 1)
    return examples, float(qa)


def chunked_teacher_dataset(env_id: str, env_kwargs: dict[str, Any], options: dict[str, Any],
                            tokenizer: Any, tools: list[Any] | None, write_mode: str,
                            spec: SFTSpec, *, describe_tools: bool = False
                            ) -> tuple[list[dict[str, list[int]]], dict[str, Any]]:
    """Tokenised teacher turns on ``spec.episodes`` ``train`` streams, and stats about them."""
    import gymnasium as gym

    import memgym  # noqa: F401

    env = gym.make(env_id, **mode_env_kwargs(env_kwargs, write_mode)).unwrapped
    rows, scores, skipped = [], [], 0
    for seed in range(spec.episode_seed, spec.episode_seed + spec.episodes):
        examples, qa = teacher_turns(env, write_mode, split="train", seed=seed, options=options,
                                     describe_tools=describe_tools)
        scores.append(qa)
        for messages in examples:
            row = tokenize_conversation(tokenizer, messages, tools or [], [])
            if row is None or len(row["input_ids"]) > spec.max_length:
                skipped += 1
                continue
            rows.append(row)
    if not rows:
        raise ValueError(f"trl.sft: no teacher turn fits in max_length={spec.max_length} tokens")
    lengths = [len(r["input_ids"]) for r in rows]
    stats = {"turns": len(rows), "episodes": spec.episodes, "skipped": skipped,
             "teacher_qa": sum(scores) / len(scores), "mean_tokens": sum(lengths) / len(lengths),
             "max_tokens": max(lengths),
             "trained_tokens": sum(sum(t != -100 for t in r["labels"]) for r in rows)}
    return rows, stats
