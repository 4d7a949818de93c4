"""The verifiers environment plays real memgym episodes; its rubric scores what memgym scores.

The "model" is an OpenAI-compatible chat server in a thread of this process that answers each
prompt with :func:`memgym.serve.client.scripted_reply` (a fixed reply per prompt), so the same
rollout can be replayed in process with :class:`memgym.llm.chunked.ChunkedEpisode` and the
two compared term by term. verifiers calls it through its own OpenAI client, as it calls vLLM.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

if os.environ.get("MEMGYM_REQUIRE_VERIFIERS"):
    # `make test` sets it: its venv installs verifiers, so a skip would hide a broken install.
    import verifiers as vf
    import verifiers.envs.multiturn_env  # noqa: F401
else:
    vf = pytest.importorskip("verifiers")
    pytest.importorskip("verifiers.envs.multiturn_env")  # the classic API (0.2.x, 0.3.1)
from openai import AsyncOpenAI  # noqa: E402

from memgym.adapters.episodes import REWARD_TERMS, EpisodeSpec  # noqa: E402
from memgym.adapters.verifiers_env import load_environment, reply_text  # noqa: E402
from memgym.llm.chunked import ChunkedEpisode  # noqa: E402
from memgym.serve.client import scripted_reply  # noqa: E402

ENV = "memgym/KVUpdates-Easy-Text-v0"
OPTIONS = {"length": 8}
ROOT = Path(__file__).resolve().parents[1]


class ChatStub:
    """``POST /v1/chat/completions`` -> ``scripted_reply(messages)``; records every prompt."""

    def __init__(self) -> None:
        self.prompts: list[list[dict[str, str]]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                messages = [{"role": m["role"], "content": m["content"]}
                            for m in body["messages"]]
                stub.prompts.append(messages)
                reply = scripted_reply(messages)
                out = json.dumps({
                    "id": f"stub-{len(stub.prompts)}", "object": "chat.completion",
                    "created": int(time.time()), "model": body["model"],
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": reply}}],
                    "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10},
                }).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def client(self) -> Any:
        return vf.OpenAIChatCompletionsClient(AsyncOpenAI(base_url=self.url, api_key="stub"))


@pytest.fixture()
def stub() -> Iterator[ChatStub]:
    s = ChatStub()
    yield s
    s.server.shutdown()
    s.server.server_close()


def in_process(seed: int, split: str = "val", turns: int | None = None, **kwargs: Any
               ) -> tuple[float, dict[str, float], list[list[dict[str, str]]]]:
    """The same episode played by memgym itself with the same scripted replies."""
    episode = ChunkedEpisode(None, kwargs.get("env_kwargs"), kwargs.get("weights"),
                             describe_tools=True)
    episode.reset(env_id=ENV, split=split, episode_seed=seed, options=OPTIONS)
    prompts = []
    while not episode.done and (turns is None or len(episode.turns) < turns):
        prompts.append(episode.messages())
        episode.apply(scripted_reply(prompts[-1]))
    return episode.reward(), episode.rollout_terms, prompts


def evaluate(env: Any, stub: ChatStub, n: int) -> list[dict[str, Any]]:
    result = asyncio.run(env.evaluate(client=stub.client(), model="stub", num_examples=n,
                                      rollouts_per_example=1, max_concurrent=2,
                                      state_columns=["trajectory"]))
    return sorted(result["outputs"], key=lambda o: o["example_id"])


def test_rubric_scores_equal_memgym_terms_for_the_same_seeds_and_replies(stub: ChatStub) -> None:
    weights = {"qa": 1.0, "tool_success": 0.5, "compression": 0.25, "format": 0.3}
    env = load_environment(env_ids=ENV, num_train=2, num_eval=3, eval_seed_start=5,
                           options=OPTIONS, weights=weights)
    outputs = evaluate(env, stub, 3)
    assert [o["info"]["seed"] for o in outputs] == [5, 6, 7]
    all_prompts: list[list[dict[str, str]]] = []
    for out in outputs:
        assert out["error"] is None and out["is_completed"], out.get("error")
        reward, terms, prompts = in_process(out["info"]["seed"], weights=weights)
        all_prompts += prompts
        for name in REWARD_TERMS:
            assert out["metrics"][name] == pytest.approx(terms[name], abs=1e-12), name
        assert out["metrics"]["turns"] == terms["turns"] == len(out["trajectory"])
        assert out["metrics"]["calls"] == terms["calls"]
        assert out["reward"] == pytest.approx(reward, abs=1e-12)
        # each trajectory step is one fresh per-chunk prompt (system + user), never a
        # conversation that grows with the stream
        assert all(len(step["prompt"]) == 2 for step in out["trajectory"])
    # the model saw exactly memgym's prompts, in the same order per rollout
    assert sorted(map(json.dumps, stub.prompts)) == sorted(map(json.dumps, all_prompts))
    # the scripted replies make rollouts that differ: the comparison is not of constants
    assert len({o["reward"] for o in outputs}) > 1
    assert any(o["metrics"]["format"] < 1.0 for o in outputs)


def test_a_rollout_cut_by_verifiers_max_turns_plays_its_last_reply_then_scores(
        stub: ChatStub) -> None:
    env = load_environment(env_ids=ENV, num_train=1, num_eval=1, options=OPTIONS, max_turns=2)
    (out,) = evaluate(env, stub, 1)
    reward, terms, _ = in_process(0, turns=2)  # memgym skips the rest of the stream
    assert out["stop_condition"] == "max_turns_reached" and len(out["trajectory"]) == 2
    assert terms["turns"] == 2.0
    assert {k: out["metrics"][k] for k in REWARD_TERMS} == pytest.approx(
        {k: terms[k] for k in REWARD_TERMS})
    assert out["reward"] == pytest.approx(reward)


def test_environment_package_loads_through_verifiers(monkeypatch: pytest.MonkeyPatch,
                                                    stub: ChatStub) -> None:
    monkeypatch.syspath_prepend(str(ROOT / "environments" / "memgym_memory"))
    env = vf.load_environment("memgym-memory", num_train=4, num_eval=1, options=OPTIONS)
    assert len(env.get_dataset()) == 4 and EpisodeSpec.from_row(
        env.get_dataset()[3]["info"]) == EpisodeSpec(ENV, "train", 3, OPTIONS)
    (out,) = evaluate(env, stub, 1)
    assert out["reward"] == pytest.approx(in_process(0)[0])


def test_rollouts_on_a_memgym_server_score_like_in_process_ones(stub: ChatStub) -> None:
    pytest.importorskip("openenv")
    from test_serve import Server

    with Server(describe_tools=True) as server:
        with pytest.raises(ValueError, match="weights"):
            load_environment(env_ids=ENV, server_url=server.url, weights={"qa": 2.0})
        env = load_environment(env_ids=ENV, num_train=1, num_eval=2, options=OPTIONS,
                               server_url=server.url)
        outputs = evaluate(env, stub, 2)
    for out in outputs:
        reward, terms, _ = in_process(out["info"]["seed"])
        assert {k: out["metrics"][k] for k in REWARD_TERMS} == pytest.approx(
            {k: terms[k] for k in REWARD_TERMS}, abs=1e-12)
        assert out["reward"] == pytest.approx(reward, abs=1e-12)


def test_reply_text_rebuilds_tool_calls_a_server_parsed_out() -> None:
    message = {"role": "assistant", "content": "ok",
               "tool_calls": [{"name": "add_memory", "arguments": '{"text": "k is 3"}'},
                              {"name": "next_chunk", "arguments": "not json"}]}
    assert reply_text([message]) == (
        'ok\n<tool_call>{"name": "add_memory", "arguments": {"text": "k is 3"}}</tool_call>\n'
        '<tool_call>{"name": "next_chunk", "arguments": "not json"}</tool_call>')
    assert reply_text([{"role": "tool", "content": "x"}]) == ""
