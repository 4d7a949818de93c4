"""Request limits in front of the app: body / message size and a per-client request rate.

A pure ASGI middleware (Starlette's ``add_middleware`` takes it) because the WebSocket
messages must be checked one by one, which FastAPI dependencies cannot do. A refused HTTP
request gets 413 / 429 with a JSON ``detail``; a refused WebSocket message gets an OpenEnv
``error`` message and is dropped, so the session and the server go on.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class TokenBucket:
    """``rate`` requests per second sustained, bursts of ``burst``."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst = rate, burst
        self.tokens, self.stamp = burst, time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True


class RequestLimits:
    """Refuse bodies / messages over ``max_bytes`` and clients over ``rate`` requests/s."""

    def __init__(self, app: ASGIApp, max_bytes: int, rate: float, max_clients: int = 4096) -> None:
        self.app, self.max_bytes, self.rate = app, max_bytes, rate
        self.max_clients = max_clients
        self._http_buckets: dict[str, TokenBucket] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "websocket":
            await self.app(scope, self._ws_receive(receive, send), _quiet_close(send))
        else:
            await self.app(scope, receive, send)

    # -- HTTP ------------------------------------------------------------------------------------
    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = (scope.get("client") or ("?", 0))[0]
        bucket = self._http_buckets.get(client)
        if bucket is None:
            if len(self._http_buckets) >= self.max_clients:  # bounded table of addresses
                self._http_buckets.clear()
            bucket = self._http_buckets[client] = TokenBucket(self.rate, 2 * self.rate)
        if not bucket.take():
            await _reply(send, 429, f"more than {self.rate:g} requests/s from {client}; "
                                    "slow down")
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await _reply(send, 413, f"request body of {int(declared)} bytes; the limit is "
                                    f"{self.max_bytes}")
            return
        # read the (bounded) body here, then replay it: a chunked upload has no length header
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = message.get("more_body", False)
            if size > self.max_bytes:
                await _reply(send, 413, f"request body over the limit of {self.max_bytes} bytes")
                return
        body, replayed = b"".join(chunks), False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    # -- WebSocket ---------------------------------------------------------------------------
    def _ws_receive(self, receive: Receive, send: Send) -> Receive:
        bucket = TokenBucket(self.rate, 2 * self.rate)

        async def checked() -> Message:
            while True:
                message = await receive()
                if message["type"] != "websocket.receive":
                    return message
                size = len(message.get("text") or "") + len(message.get("bytes") or b"")
                if size > self.max_bytes:
                    await _ws_error(send, f"message of {size} bytes; the limit is "
                                          f"{self.max_bytes}", "MESSAGE_TOO_LARGE")
                elif not bucket.take():
                    await _ws_error(send, f"more than {self.rate:g} messages/s on this "
                                          "connection; slow down", "RATE_LIMITED")
                else:
                    return message

        return checked


def _quiet_close(send: Send) -> Send:
    """OpenEnv's handler closes the socket after the client has already closed it; uvicorn
    then raises ``ClientDisconnected`` (an ``OSError``) and every session end would log a
    traceback. Closing a closed socket is nothing to report."""

    async def send_or_skip(message: Message) -> None:
        try:
            await send(message)
        except OSError:
            if message["type"] != "websocket.close":
                raise

    return send_or_skip


async def _reply(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def _ws_error(send: Send, message: str, code: str) -> None:
    await send({"type": "websocket.send",
                "text": json.dumps({"type": "error", "data": {"message": message, "code": code}})})
