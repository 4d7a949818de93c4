"""memgym behind a server, for the engines LLM-RL users train with (OpenEnv / TRL, verifiers).

``memgym serve`` exposes the per-chunk text interface of every registered text environment
(:class:`memgym.llm.chunked.ChunkedEpisode`: one turn = the prompt for one chunk, the reply =
the model's tool calls or rewritten memory) in the OpenEnv wire format: a WebSocket ``/ws``
session per client (``reset`` / ``step`` / ``state`` / ``close`` messages, what OpenEnv's
``EnvClient`` speaks) and stateful HTTP sessions under ``/sessions``. Nothing here is imported
by ``import memgym``: the server's libraries (``openenv-core``, FastAPI, uvicorn) are the
optional ``serve`` extra.

- :mod:`memgym.serve.models`: the typed action, observation and state.
- :mod:`memgym.serve.environment`: the OpenEnv ``Environment`` over one rollout.
- :mod:`memgym.serve.app`: the FastAPI app (limits, HTTP sessions) and :func:`serve`.
- :mod:`memgym.serve.client`: :class:`MemgymClient`, an OpenEnv client for Python users.
"""
