"""A tiny OpenAI-compatible chat server for tests: stdlib only, deterministic, 127.0.0.1 only.

``python tests/openai_stub_server.py --port 0`` prints ``PORT <n>`` on its first stdout line
and serves until killed:

- ``POST /v1/chat/completions``: the "model" answers the last user message. An answer
  prompt (one with a ``Notes:`` block) gets the last word of the first note (``- Ann's city
  is Oslo.`` -> ``Oslo``), ``unknown`` without notes. A judge prompt (``Gold answer:`` and
  ``Generated answer:`` lines) gets ``CORRECT`` when the gold's words all occur in the
  generated answer, else ``WRONG`` (``--judge-style json`` wraps it as ``{"label": ...}``).
- Failure modes, per request by a marker anywhere in the user message, or for every request
  with ``--mode``: ``[[sleep]]`` (sleep ``--sleep`` s before answering), ``[[500]]``,
  ``[[400]]``, ``[[notjson]]`` (status 200, body not JSON), ``[[nochoices]]`` (valid JSON
  without ``choices``). ``--fail-after N`` answers N requests normally and then fails every
  later one with ``--mode`` (default 500); ``--die-after N`` exits the process (as if killed)
  on request N+1, before answering it.
- ``GET /stats``: ``{"requests": n, "users": [user messages in arrival order],
  "auth": [Authorization headers], "max_in_flight": m}``; ``--delay`` seconds per answer makes concurrency visible.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODES = ("ok", "sleep", "500", "400", "notjson", "nochoices")
_WORD = re.compile(r"[A-Za-z0-9]+")


def answer(user: str) -> str:
    """The deterministic "model": see the module docstring."""
    if "Gold answer:" in user and "Generated answer:" in user:
        gold = user.split("Gold answer:", 1)[1].split("\n", 1)[0].lower()
        generated = user.split("Generated answer:", 1)[1].split("\n", 1)[0].lower()
        words = set(_WORD.findall(generated))
        ok = bool(_WORD.findall(gold)) and all(w in words for w in _WORD.findall(gold))
        return "CORRECT" if ok else "WRONG"
    if "Notes:" not in user:
        return "unknown"
    notes = user.split("Notes:", 1)[1]
    for line in notes.splitlines():
        if line.startswith("- "):
            words = _WORD.findall(line)
            return words[-1] if words else "unknown"
    return "unknown"


class State:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.lock = threading.Lock()
        self.requests = 0
        self.users: list[str] = []
        self.auth: list[str] = []
        self.in_flight = 0
        self.max_in_flight = 0


def make_handler(state: State) -> type[BaseHTTPRequestHandler]:
    args = state.args

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms stall

        def log_message(self, format: str, *a: object) -> None:  # quiet
            pass

        def _send(self, status: int, body: bytes, ctype: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if self.path != "/stats":
                return self._send(404, b'{"error": "not found"}')
            with state.lock:
                body = {"requests": state.requests, "users": list(state.users),
                        "auth": list(state.auth), "max_in_flight": state.max_in_flight}
            self._send(200, json.dumps(body).encode())

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path != "/v1/chat/completions":
                return self._send(404, b'{"error": {"message": "not found"}}')
            try:
                request = json.loads(raw)
                user = [m["content"] for m in request["messages"] if m["role"] == "user"][-1]
            except (ValueError, KeyError, IndexError, TypeError):
                return self._send(400, b'{"error": {"message": "bad request"}}')
            with state.lock:
                n = state.requests
                if args.die_after is not None and n >= args.die_after:
                    os._exit(3)  # a crash: no reply, the connection drops
                state.requests += 1
                state.users.append(user)
                state.auth.append(self.headers.get("Authorization", ""))
                state.in_flight += 1
                state.max_in_flight = max(state.max_in_flight, state.in_flight)
            try:
                mode = args.mode if args.fail_after is None else "ok"
                if args.fail_after is not None and n >= args.fail_after:
                    mode = args.mode if args.mode != "ok" else "500"
                for m in MODES:
                    if f"[[{m}]]" in user:
                        mode = m
                time.sleep(args.delay)
                self._reply(mode, request, user)
            finally:
                with state.lock:
                    state.in_flight -= 1

        def _reply(self, mode: str, request: dict, user: str) -> None:
            if mode == "sleep":
                time.sleep(args.sleep)
            if mode == "500":
                return self._send(500, b'{"error": {"message": "stub internal error"}}')
            if mode == "400":
                return self._send(400, b'{"error": {"message": "stub bad request"}}')
            if mode == "notjson":
                return self._send(200, b"<html>this is not json")
            if mode == "nochoices":
                return self._send(200, b'{"id": "x", "object": "chat.completion"}')
            text = answer(user)
            if args.judge_style == "json" and text in ("CORRECT", "WRONG"):
                text = json.dumps({"label": text})
            body = {"id": "chatcmpl-stub", "object": "chat.completion", "created": 0,
                    "model": request.get("model", "stub"),
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": text}}],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}
            self._send(200, json.dumps(body).encode())

    return Handler


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--mode", choices=MODES, default="ok")
    parser.add_argument("--sleep", type=float, default=3.0)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--fail-after", type=int, default=None)
    parser.add_argument("--die-after", type=int, default=None)
    parser.add_argument("--judge-style", choices=("word", "json"), default="word")
    args = parser.parse_args(argv)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(State(args)))
    server.daemon_threads = True
    print(f"PORT {server.server_address[1]}", flush=True)
    try:
        server.serve_forever(poll_interval=0.1)
    finally:
        server.server_close()


if __name__ == "__main__":
    sys.exit(main())
