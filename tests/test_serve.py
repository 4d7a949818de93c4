"""``memgym serve``: served rollouts equal in-process ones; bad requests get a clear 4xx."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("openenv")
import httpx  # noqa: E402
import uvicorn  # noqa: E402
import websockets  # noqa: E402

from memgym.serve.app import build_app  # noqa: E402
from memgym.serve.environment import served_rollout  # noqa: E402
from memgym.serve.client import MemgymClient, TurnAction, scripted_reply  # noqa: E402
from memgym.serve.models import ServeSettings  # noqa: E402

ENV = "memgym/KVUpdates-Easy-Text-v0"
OPTIONS = {"length": 8}
policy = scripted_reply  # a fixed reply per prompt: served rollouts replay in process


def in_process(seed: int, settings: ServeSettings) -> tuple[float, dict[str, float]]:
    rollout = served_rollout(settings, ENV, "val")
    rollout.reset(episode_seed=seed, options=OPTIONS)
    while not rollout.done:
        rollout.apply(policy(rollout.messages()))
    return rollout.reward(), rollout.rollout_terms


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, **settings: Any) -> None:
        self.settings = ServeSettings(**{"env_ids": [ENV], **settings})
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(build_app(self.settings), host="127.0.0.1", port=self.port,
                                log_level="warning",
                                ws_max_size=4 * self.settings.max_message_bytes)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with Server() as s:
        yield s


def test_websocket_rollouts_equal_in_process_ones_with_concurrent_sessions(server: Server) -> None:
    async def play(seed: int) -> tuple[float, dict[str, float], int]:
        async with MemgymClient(server.url) as env:
            result = await env.reset(env_id=ENV, seed=seed, split="val", options=OPTIONS)
            while not result.done:
                result = await env.step(TurnAction(reply=policy(result.observation.messages)))
                await asyncio.sleep(0)  # interleave the sessions
            state = await env.state()
            return result.reward, result.observation.reward_terms, state.episode_seed

    async def main() -> list[tuple[float, dict[str, float], int]]:
        return await asyncio.gather(*(play(seed) for seed in (0, 1, 2, 0)))

    played = asyncio.run(main())
    for seed, (reward, terms, seen_seed) in zip((0, 1, 2, 0), played):
        assert seen_seed == seed
        want_reward, want_terms = in_process(seed, server.settings)
        assert reward == pytest.approx(want_reward) and terms == pytest.approx(want_terms)
    assert played[0] == played[3]  # the same seed twice: the same rollout
    assert len({r for r, _, _ in played[:3]}) > 1 or len({json.dumps(t, sort_keys=True)
                                                         for _, t, _ in played[:3]}) > 1


def test_http_sessions_play_the_same_rollout(server: Server) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as http:
        sid = http.post("/sessions").json()["session_id"]
        out = http.post(f"/sessions/{sid}/reset",
                        json={"env_id": ENV, "seed": 1, "split": "val", "options": OPTIONS})
        assert out.status_code == 200, out.text
        body = out.json()
        while not body["done"]:
            reply = policy(body["observation"]["messages"])
            body = http.post(f"/sessions/{sid}/step", json={"action": {"reply": reply}}).json()
        reward, terms = in_process(1, server.settings)
        assert body["reward"] == pytest.approx(reward)
        assert body["observation"]["reward_terms"] == pytest.approx(terms)
        state = http.get(f"/sessions/{sid}/state").json()
        assert state["done"] and state["episode_seed"] == 1 and state["step_count"] > 0
        assert http.delete(f"/sessions/{sid}").status_code == 200
        assert http.get(f"/sessions/{sid}/state").status_code == 404


@pytest.mark.parametrize("method,path,payload,status,message", [
    ("post", "/sessions/nope/step", {"action": {"reply": "x"}}, 404, "no session 'nope'"),
    ("post", "/sessions/{sid}/step", "{not json", 422, "JSON"),
    ("post", "/sessions/{sid}/step", {"action": {"reply": 5}}, 422, "reply"),
    ("post", "/sessions/{sid}/step", {"action": {"reply": "x", "oops": 1}}, 422, "oops"),
    ("post", "/sessions/{sid}/step", {"action": {"reply": "x"}}, 400, "send reset first"),
    ("post", "/sessions/{sid}/reset", {"env_id": "memgym/KVUpdates-Easy-Txt-v0"}, 400,
     "did you mean 'memgym/KVUpdates-Easy-Text-v0'"),
    ("post", "/sessions/{sid}/reset", {"split": "test"}, 400, "split 'test'"),
    ("post", "/sessions/{sid}/reset", {"options": {"data_path": "/etc/passwd"}}, 400,
     "server's to set"),
    ("post", "/sessions/{sid}/step", {"action": {"reply": "x" * 300_000}}, 413, "limit"),
])
def test_malformed_http_requests_get_a_clear_4xx(server: Server, method: str, path: str,
                                                 payload: Any, status: int, message: str) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as http:
        sid = http.post("/sessions").json()["session_id"]
        kwargs = ({"content": payload, "headers": {"content-type": "application/json"}}
                  if isinstance(payload, str) else {"json": payload})
        out = getattr(http, method)(path.format(sid=sid), **kwargs)
        assert out.status_code == status, out.text
        assert message in out.text
        assert http.get("/health").status_code == 200  # the server lives on
        http.delete(f"/sessions/{sid}")


def test_malformed_websocket_messages_get_errors_and_the_session_goes_on(server: Server) -> None:
    async def main() -> list[dict[str, Any]]:
        ws_url = server.url.replace("http", "ws") + "/ws"
        async with websockets.connect(ws_url, max_size=2**22) as ws:
            replies = []
            for message in ["{not json", json.dumps({"type": "jump"}),
                            json.dumps({"type": "step", "data": {"reply": "x"}}),
                            json.dumps({"type": "step", "data": {"reply": "x" * 300_000}}),
                            json.dumps({"type": "reset", "data": {"seed": 0, "env_id": ENV,
                                                                  "options": OPTIONS}})]:
                await ws.send(message)
                replies.append(json.loads(await ws.recv()))
            return replies

    replies = asyncio.run(main())
    assert [r["type"] for r in replies] == ["error"] * 4 + ["observation"]
    assert "Invalid JSON" in replies[0]["data"]["message"]
    assert "Unknown message type" in replies[1]["data"]["message"]
    assert "send reset first" in replies[2]["data"]["message"]
    assert replies[3]["data"]["code"] == "MESSAGE_TOO_LARGE"
    assert replies[4]["data"]["observation"]["messages"]


def test_capacity_idle_reaping_and_rate_limits() -> None:
    with Server(max_sessions=1, idle_timeout_s=0.4, requests_per_s=20) as s, \
            httpx.Client(base_url=s.url, timeout=30) as http:
        sid = http.post("/sessions").json()["session_id"]
        full = http.post("/sessions")
        assert full.status_code == 503 and "all 1 HTTP sessions" in full.text
        time.sleep(1.2)  # idle past the timeout: reaped, the slot is free again
        assert http.get(f"/sessions/{sid}/state").status_code == 404
        assert http.post("/sessions").status_code == 200
        codes = [http.get("/health").status_code for _ in range(60)]
        assert 429 in codes and codes[0] == 200
        time.sleep(0.5)  # the bucket refills
        assert http.get("/health").status_code == 200


def test_bad_server_settings_fail_before_serving() -> None:
    with pytest.raises(ValueError, match="unknown reward weights"):
        build_app(ServeSettings(env_ids=[ENV], weights={"qaa": 1.0}))
    with pytest.raises(ValueError, match="write_mode"):
        build_app(ServeSettings(env_ids=[ENV], write_mode="poetry"))


def test_a_server_with_other_rewards_than_the_trainer_is_refused(server: Server) -> None:
    from memgym.serve.remote import RemoteChunkedEpisode

    common = {"env_id": ENV, "env_kwargs": {}, "write_mode": "tools", "describe_tools": True}
    RemoteChunkedEpisode.check_server(server.url, weights={}, **common)  # the same: accepted
    with pytest.raises(ValueError, match="weights is"):
        RemoteChunkedEpisode.check_server(server.url, weights={"qa": 2.0}, **common)
    with pytest.raises(ValueError, match="env_kwargs is"):
        RemoteChunkedEpisode.check_server(server.url, weights={},
                                          **{**common, "env_kwargs": {"ops_per_chunk": 2}})
    with pytest.raises(ValueError, match="does not serve"):
        RemoteChunkedEpisode.check_server(server.url, weights={},
                                          **{**common, "env_id": "memgym/Needle-Easy-Text-v0"})


@pytest.mark.slow  # ~2 min: two GRPO steps of the tiny model, 256 turns over the server
def test_trl_chunked_grpo_trains_through_the_server(tmp_path: Path) -> None:
    """configs/llm_chunked_tiny.yaml with trl.env_server: every training turn is played on
    the server (OpenEnv WebSocket sessions), generation and the loss stay in the trainer."""
    pytest.importorskip("trl")
    import yaml

    from memgym.serve.environment import ServedMemoryEnvironment

    root = Path(__file__).resolve().parents[1]
    config = yaml.safe_load((root / "configs" / "llm_chunked_tiny.yaml").read_text())
    with Server(env_kwargs=config["env"]["kwargs"], weights=config["trl"]["rewards"],
                describe_tools=False) as s:
        before = ServedMemoryEnvironment.turns_served
        env = {**os.environ, "MEMGYM_CACHE": str(tmp_path / "cache"), "HF_HUB_OFFLINE": "1"}
        result = subprocess.run(
            [sys.executable, "-m", "memgym.cli", "train", str(root / "configs" / "llm_chunked_tiny.yaml"),
             "--set", f"output_dir={tmp_path}", "--set", f"trl.env_server={s.url}",
             "--set", "eval.episodes=1", "--no-progress"],
            capture_output=True, text=True, env=env, cwd=tmp_path, timeout=900)
        assert result.returncode == 0, result.stderr[-3000:]
        served = ServedMemoryEnvironment.turns_served - before
    steps = [json.loads(line) for line in
             (tmp_path / "llm-chunked-tiny" / "rollouts.jsonl").read_text().splitlines()]
    assert len(steps) == 2 and all(step["turns"] == 128 for step in steps)
    assert served == sum(step["turns"] for step in steps)  # every training turn, on the server


def test_the_serve_command_answers_then_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    import signal

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "memgym.cli", "serve", "--env", ENV, "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stderr.read()
            try:
                info = httpx.get(f"http://127.0.0.1:{port}/memgym/envs", timeout=1).json()
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "memgym serve did not come up"
                time.sleep(0.2)
        assert info["env_ids"] == [ENV] and info["weights"]["qa"] == 1.0
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()


def test_the_serve_command_refuses_bad_input_in_one_line() -> None:
    from typer.testing import CliRunner

    from memgym.cli import app

    out = CliRunner().invoke(app, ["serve", "--env", "memgym/KVUpdate-Easy-v0"])
    assert out.exit_code == 2 and "did you mean 'memgym/KVUpdates-Easy-v0'" in out.output
    out = CliRunner().invoke(app, ["serve", "--env", ENV, "--weight", "qaa=1"])
    assert out.exit_code == 2 and "unknown reward weights" in out.output
