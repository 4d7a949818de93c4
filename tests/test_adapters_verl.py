"""memgym's verl agent loop, the part without verl: turns, token ids, masks, shared reward.

verl (0.9.1 pins ``transformers<5.11``; memgym's venv has 5.24) is not installed in the venv;
the agent loop class is a thin wiring of verl's tokenizer and server into
:func:`memgym.adapters.verl_turns.run_rollout`, which these tests play on real memgym
episodes with a byte-level "tokenizer" (exactly invertible) and a scripted "LLM server".
The last two tests need verl importable (skipped otherwise); they were run with verl 0.9.1
and its light deps installed ``--no-deps --target`` a scratch directory on ``PYTHONPATH``.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from memgym.adapters.episodes import EpisodeFactory, EpisodeSpec, episode_specs
from memgym.adapters.verl_turns import (
    Generated,
    dataset_rows,
    is_truncated,
    loop_outputs,
    main,
    run_rollout,
    shared_factory,
)
from memgym.llm.chunked import ChunkedEpisode
from memgym.serve.client import scripted_reply

ENV = "memgym/KVUpdates-Easy-Text-v0"
OPTIONS = {"length": 8}
MAX_TOKENS = 80  # the longest scripted reply (update_memory, 89 bytes) is cut: "format" sees it
EOS = 0


def encode_sync(messages: list[dict[str, str]]) -> list[int]:
    return list(json.dumps(messages).encode())


async def encode(messages: list[dict[str, str]]) -> list[int]:
    return encode_sync(messages)


def decode(ids: list[int]) -> str:
    return bytes(i for i in ids if i != EOS).decode()


def reply_ids(prompt_ids: list[int]) -> tuple[list[int], bool]:
    """The scripted model: the reply's bytes + EOS, cut at MAX_TOKENS."""
    ids = list(scripted_reply(json.loads(bytes(prompt_ids))).encode()) + [EOS]
    return ids[:MAX_TOKENS], is_truncated(ids[:MAX_TOKENS], MAX_TOKENS, [EOS])


async def generate(prompt_ids: list[int]) -> Generated:
    ids, truncated = reply_ids(prompt_ids)
    return Generated(ids, [-0.5] * len(ids), truncated)


def in_process(seed: int) -> tuple[ChunkedEpisode, list[list[int]], list[list[int]]]:
    episode = ChunkedEpisode(None, None, None, "val", describe_tools=True)
    episode.reset(env_id=ENV, split="val", episode_seed=seed, options=OPTIONS)
    prompts, replies = [], []
    while not episode.done:
        prompts.append(encode_sync(episode.messages()))
        ids, truncated = reply_ids(prompts[-1])
        replies.append(ids)
        episode.apply(decode(ids), prompt_tokens=len(prompts[-1]), truncated=truncated)
    return episode, prompts, replies


def play(seed: int, layout: str, factory: EpisodeFactory | None = None,
         response_length: int | None = None) -> list[dict[str, Any]]:
    row = {**EpisodeSpec(ENV, "val", seed, OPTIONS).as_row(), "index": 7}
    return asyncio.run(run_rollout(factory or EpisodeFactory(), row, encode, generate, decode,
                                   layout=layout, response_length=response_length))


@pytest.mark.parametrize("seed", [0, 3])
def test_per_turn_outputs_are_the_generated_tokens_with_the_shared_final_reward(seed: int) -> None:
    episode, prompts, replies = in_process(seed)
    outputs = play(seed, "per_turn")
    assert len(outputs) == len(episode.turns) > 2
    assert [o["prompt_ids"] for o in outputs] == prompts  # token-exact prompts
    assert [o["response_ids"] for o in outputs] == replies
    assert all(o["response_mask"] == [1] * len(o["response_ids"]) for o in outputs)
    assert all(o["response_logprobs"] == [-0.5] * len(o["response_ids"]) for o in outputs)
    assert [o["reward_score"] for o in outputs] == pytest.approx(
        [episode.reward()] * len(outputs), abs=1e-12)
    assert outputs[-1]["extra_fields"]["memgym_terms"] == pytest.approx(episode.rollout_terms)
    assert [o["extra_fields"]["memgym_turn"] for o in outputs] == list(range(len(outputs)))
    # some replies were cut at the token limit, and memgym's format term counted them
    assert 0.0 < episode.format_share < 1.0


def test_concat_masks_out_the_environment_tokens_between_replies() -> None:
    episode, prompts, replies = in_process(1)
    (out,) = play(1, "concat")
    assert out["prompt_ids"] == prompts[0]
    expected_ids, expected_mask = list(replies[0]), [1] * len(replies[0])
    for p, r in zip(prompts[1:], replies[1:]):
        expected_ids += p + r
        expected_mask += [0] * len(p) + [1] * len(r)
    assert out["response_ids"] == expected_ids and out["response_mask"] == expected_mask
    logprobs = out["response_logprobs"]
    assert [lp for lp, m in zip(logprobs, expected_mask) if not m] == [0.0] * expected_mask.count(0)
    assert out["reward_score"] == pytest.approx(episode.reward())
    assert out["num_turns"] == 2 * len(episode.turns)
    (cut,) = play(1, "concat", response_length=100)
    assert cut["response_ids"] == expected_ids[:100] and cut["response_mask"] == expected_mask[:100]


def test_shared_factories_pool_episodes_across_agent_loop_objects() -> None:
    factory = shared_factory(env_kwargs={"ops_per_chunk": 1}, weights=None)
    assert shared_factory(weights=None, env_kwargs={"ops_per_chunk": 1}) is factory
    assert shared_factory(env_kwargs={"ops_per_chunk": 2}, weights=None) is not factory
    first = play(2, "per_turn", factory)
    second = play(2, "per_turn", factory)  # the pooled episode replays the same rollout
    assert len(factory._free) == 1 and first == second


def test_truncation_and_layout_checks() -> None:
    assert is_truncated([5, 6, 7], 3, [0]) and not is_truncated([5, 6, 0], 3, [0])
    assert not is_truncated([5, 6], 3, [0])
    with pytest.raises(ValueError, match="layout"):
        loop_outputs([], None, "both")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="prompt_length"):
        row = EpisodeSpec(ENV, "val", 0, OPTIONS).as_row()
        asyncio.run(run_rollout(EpisodeFactory(), row, encode, generate, decode,
                                max_prompt_tokens=10))


def test_dataset_rows_round_trip_through_parquet(tmp_path: Path) -> None:
    out = tmp_path / "train.parquet"
    main(["--env", ENV, "--n", "3", "--split", "train", "--seed-start", "4",
          "--options", json.dumps(OPTIONS), "--out", str(out)])
    from datasets import Dataset

    rows = Dataset.from_parquet(str(out)).to_list()
    assert [EpisodeSpec.from_row(r["extra_info"]) for r in rows] == episode_specs(
        ENV, 3, "train", 4, OPTIONS)
    assert {r["agent_name"] for r in rows} == {"memgym_chunked"}
    assert [r["extra_info"]["index"] for r in rows] == [0, 1, 2]
    assert dataset_rows([])[:1] == []


def test_the_engine_free_half_never_imports_verl() -> None:
    code = ("import sys, memgym.adapters.verl_turns, memgym.adapters.episodes; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('verl', 'omegaconf', 'verifiers', 'torch')))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True).stdout.strip()
    assert loaded == "[]"


def test_the_agent_loop_registers_with_verl() -> None:
    pytest.importorskip("verl")
    from verl.experimental.agent_loop.agent_loop import _agent_loop_registry

    import memgym.adapters.verl_agent_loop  # noqa: F401

    assert _agent_loop_registry["memgym_chunked"]["_target_"] == (
        "memgym.adapters.verl_agent_loop.MemgymAgentLoop")


def test_the_agent_loop_plays_a_rollout_through_verls_own_classes() -> None:
    """verl's ``AgentLoopBase`` with its Continuous Token builder over SmolLM2's tokenizer, a
    scripted ``server_manager``; runs wherever verl imports (a CPU is enough)."""
    pytest.importorskip("verl")
    from omegaconf import OmegaConf
    from verl.experimental.agent_loop.agent_loop import AgentLoopOutput, DictConfigWrap
    from verl.workers.rollout.replica import TokenOutput

    from memgym.adapters.verl_agent_loop import MemgymAgentLoop
    from memgym.llm.models import load_tokenizer, tokenizer_path

    tokenizer = load_tokenizer(tokenizer_path())
    replies = [tokenizer.encode(r, add_special_tokens=False) + [tokenizer.eos_token_id]
               for r in ('<tool_call>{"name": "add_memory", "arguments": {}}</tool_call>',
                         '<tool_call>{"name": "next_chunk", "arguments": {}}</tool_call>',
                         "not a call",  # and a good call whose tail is cut at 64 tokens:
                         '<tool_call>{"name": "next_chunk", "arguments": {}}</tool_call>'
                         + " and so on" * 40)]

    def reply_for(turn: int) -> list[int]:  # one rollout: the replies cycle by turn
        return replies[turn % len(replies)]

    class Server:
        requests: list[tuple[str, list[int], dict[str, Any]]] = []

        async def generate(self, request_id: str, *, prompt_ids: list[int],
                           sampling_params: dict[str, Any], **kwargs: Any) -> TokenOutput:
            ids = reply_for(len(self.requests))[:sampling_params["max_tokens"]]
            self.requests.append((request_id, list(prompt_ids), dict(sampling_params)))
            return TokenOutput(token_ids=ids, log_probs=[-0.25] * len(ids), stop_reason="completed")

    config = OmegaConf.create({"actor_rollout_ref": {"rollout": {"prompt_length": 4096,
                                                                 "response_length": 64}},
                               "data": {}})
    server = Server()

    async def main() -> tuple[Any, list[AgentLoopOutput]]:
        loop = MemgymAgentLoop(DictConfigWrap(config), server, tokenizer, None, None,
                               DictConfigWrap(config.data), layout="per_turn",
                               env_kwargs=OmegaConf.create({"ops_per_chunk": 2}))
        loop.loop = asyncio.get_running_loop()
        row = EpisodeSpec(ENV, "val", 4, OPTIONS).as_row()
        return loop, await loop.run({"temperature": 1.0}, extra_info=row, raw_prompt=[])

    agent, outputs = asyncio.run(main())
    episode = ChunkedEpisode(None, {"ops_per_chunk": 2}, None, "val", describe_tools=True)
    episode.reset(env_id=ENV, split="val", episode_seed=4, options=OPTIONS)
    prompts = []
    while not episode.done:
        prompts.append(agent.continuous_token_builder.build_initial_tokens(episode.messages()))
        ids = reply_for(len(prompts) - 1)
        episode.apply(tokenizer.decode(ids[:64], skip_special_tokens=True),
                      prompt_tokens=len(prompts[-1]), truncated=len(ids) > 64)
    assert [o.prompt_ids for o in outputs] == prompts
    assert [o.response_ids for o in outputs] == [reply_for(i)[:64] for i in range(len(prompts))]
    assert len({rid for rid, _, _ in server.requests}) == 1  # one sticky id per rollout
    assert all(params["max_tokens"] == 64 for _, _, params in server.requests)
    assert [o.reward_score for o in outputs] == pytest.approx([episode.reward()] * len(prompts))
    assert len(prompts) > 4  # every scripted reply was played, the cut one as cut
    assert 0 < episode.format_share < 1 and len(outputs) > 2
    assert outputs[0].as_dict()["rm_scores"][-1].item() == pytest.approx(episode.reward())
