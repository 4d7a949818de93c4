"""The server: OpenEnv's WebSocket sessions, memgym's HTTP sessions, limits, and ``serve``.

- ``/ws``: OpenEnv's own session handler (:class:`openenv.core.env_server.HTTPEnvServer`):
  one :class:`~memgym.serve.environment.ServedMemoryEnvironment` per connection, capacity
  and idle reaping from :class:`~memgym.serve.models.ServeSettings`. Any OpenEnv
  ``EnvClient`` (and :class:`memgym.serve.client.MemgymClient`) speaks it.
- ``/sessions``: the same sessions over plain HTTP for clients without WebSockets:
  ``POST /sessions`` -> ``{"session_id"}``; ``POST /sessions/{id}/reset`` and ``/step``
  answer as OpenEnv's ``/reset`` and ``/step`` (``{observation, reward, done}``);
  ``GET /sessions/{id}/state``; ``DELETE /sessions/{id}``. An unknown or reaped id is a 404.
  OpenEnv's stateless ``/reset`` and ``/step`` (a fresh environment per request) are not
  mounted: a memgym rollout is many turns long.
- ``/health``, ``/schema``, ``/metadata``, ``/memgym/envs``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Iterator
from typing import Any

import anyio
from fastapi import Body, FastAPI, HTTPException
from openenv.core.env_server.http_server import HTTPEnvServer
from openenv.core.env_server.serialization import serialize_observation
from openenv.core.env_server.types import ConcurrencyConfig, ServerMode
from pydantic import BaseModel, ConfigDict, ValidationError

from memgym.llm.tool_env import DEFAULT_WEIGHTS
from memgym.serve.environment import ServedMemoryEnvironment, served_rollout
from memgym.serve.limits import RequestLimits
from memgym.serve.models import ServeSettings, TurnAction, TurnObservation


class HTTPReset(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seed: int | None = None
    episode_id: str | None = None
    env_id: str | None = None
    split: str = "train"
    options: dict[str, Any] | None = None


class HTTPStep(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: TurnAction


class _Session:
    def __init__(self, env: ServedMemoryEnvironment) -> None:
        self.env, self.lock, self.seen = env, asyncio.Lock(), time.monotonic()


class HTTPSessions:
    """Sessions addressed by id, each played under its own lock in a worker thread."""

    def __init__(self, settings: ServeSettings) -> None:
        self.settings = settings
        self.sessions: dict[str, _Session] = {}

    def open(self) -> str:
        if len(self.sessions) >= self.settings.max_sessions:
            raise HTTPException(503, f"all {self.settings.max_sessions} HTTP sessions are in "
                                     "use; close one (DELETE /sessions/ID) or retry later")
        session_id = str(uuid.uuid4())
        self.sessions[session_id] = _Session(ServedMemoryEnvironment(self.settings))
        return session_id

    def get(self, session_id: str) -> _Session:
        session = self.sessions.get(session_id)
        if session is None:
            raise HTTPException(404, f"no session {session_id!r} (closed, reaped after "
                                     f"{self.settings.idle_timeout_s:g} s idle, or never "
                                     "opened: POST /sessions)")
        session.seen = time.monotonic()
        return session

    async def call(self, session_id: str, method: str, *args: Any, **kwargs: Any) -> Any:
        session = self.get(session_id)
        async with session.lock:
            try:
                return await anyio.to_thread.run_sync(
                    lambda: getattr(session.env, method)(*args, **kwargs))
            except (ValueError, TypeError) as exc:  # the client's input: say what is wrong
                raise HTTPException(400, str(exc)) from exc
            finally:
                session.seen = time.monotonic()

    def close(self, session_id: str) -> None:
        self.get(session_id)
        self.sessions.pop(session_id).env.close()

    def reap(self) -> int:
        limit = time.monotonic() - self.settings.idle_timeout_s
        idle = [sid for sid, s in self.sessions.items() if s.seen < limit and not s.lock.locked()]
        for sid in idle:
            self.sessions.pop(sid).env.close()
        return len(idle)


def build_app(settings: ServeSettings) -> FastAPI:
    """The ASGI app serving ``settings`` (run it with uvicorn, or :func:`serve`)."""
    served_rollout(settings)  # fail now on bad settings (weights, write mode), not in a session
    http = HTTPSessions(settings)

    app = FastAPI(title="memgym environment server",
                  description="memgym's per-chunk text environments in the OpenEnv wire format")
    reaper: list[asyncio.Task[None]] = []

    async def reap_forever() -> None:
        while True:
            await asyncio.sleep(min(settings.idle_timeout_s / 4, 30.0))
            http.reap()

    async def start() -> None:
        reaper.append(asyncio.create_task(reap_forever()))

    async def stop() -> None:  # graceful shutdown: end the reaper, close every HTTP session
        for task in reaper:
            task.cancel()
        for sid in list(http.sessions):
            http.sessions.pop(sid).env.close()

    # FastAPI's startup / shutdown handlers, the hook OpenEnv's own session reaper uses too
    # (a lifespan= argument would silence it)
    app.router.on_startup.append(start)
    app.router.on_shutdown.append(stop)
    server = HTTPEnvServer(
        lambda: ServedMemoryEnvironment(settings), TurnAction, TurnObservation,
        concurrency_config=ConcurrencyConfig(max_concurrent_envs=settings.max_sessions,
                                             session_timeout=settings.idle_timeout_s))
    server.register_routes(app, mode=ServerMode.PRODUCTION)  # no stateless /reset, /step

    @app.get("/memgym/envs", tags=["Environment Info"])
    def served_envs() -> dict[str, Any]:
        return {"env_ids": settings.env_ids, "env_kwargs": settings.env_kwargs,
                "weights": {**DEFAULT_WEIGHTS, **settings.weights},
                "write_mode": settings.write_mode, "describe_tools": settings.describe_tools,
                "max_turns": settings.max_turns, "max_sessions": settings.max_sessions,
                "http_sessions": len(http.sessions),
                "turns_served": ServedMemoryEnvironment.turns_served}

    @app.post("/sessions", tags=["Sessions"])
    def open_session() -> dict[str, str]:
        return {"session_id": http.open()}

    @app.post("/sessions/{session_id}/reset", tags=["Sessions"])
    async def reset(session_id: str, request: HTTPReset = Body(default_factory=HTTPReset)
                    ) -> dict[str, Any]:
        fields = request.model_dump(exclude_unset=True)
        return serialize_observation(await http.call(session_id, "reset", **fields))

    @app.post("/sessions/{session_id}/step", tags=["Sessions"])
    async def step(session_id: str, request: HTTPStep) -> dict[str, Any]:
        return serialize_observation(await http.call(session_id, "step", request.action))

    @app.get("/sessions/{session_id}/state", tags=["Sessions"])
    def state(session_id: str) -> dict[str, Any]:
        return http.get(session_id).env.state.model_dump()

    @app.delete("/sessions/{session_id}", tags=["Sessions"])
    def close(session_id: str) -> dict[str, bool]:
        http.close(session_id)
        return {"closed": True}

    app.add_middleware(RequestLimits, max_bytes=settings.max_message_bytes,
                       rate=settings.requests_per_s)
    return app


def serve(settings: ServeSettings, host: str = "127.0.0.1", port: int = 8000,
          graceful_s: float = 10.0) -> None:
    """Run the server until SIGINT / SIGTERM; in-flight requests get ``graceful_s`` to end,
    then sessions are closed and this returns."""
    import signal

    import uvicorn

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            # uvicorn re-raises the signal after its graceful shutdown, so the process would
            # end "killed by SIGTERM" (143) even when every session closed cleanly; a server
            # that shut down as asked returns, and the command exits 0
            handled = (signal.SIGINT, signal.SIGTERM)
            original = {sig: signal.signal(sig, self.handle_exit) for sig in handled}
            try:
                yield
            finally:
                for sig, handler in original.items():
                    signal.signal(sig, handler)

    try:
        app = build_app(settings)
    except ValidationError as exc:
        raise ValueError(f"server settings: {exc}") from exc
    # uvicorn's own WebSocket frame limit sits above the per-message check of RequestLimits,
    # so an oversized message gets the clear error, not a dropped connection.
    config = uvicorn.Config(app, host=host, port=port, ws_max_size=4 * settings.max_message_bytes,
                            timeout_graceful_shutdown=graceful_s, log_level="warning")
    Server(config).run()
