"""Adapters that plug memgym's per-chunk text rollouts into other RL engines.

Each engine has its own module, imported only by whoever uses that engine (the lower layers
of memgym never import this package):

- :mod:`memgym.adapters.episodes`: the async rollout both adapters play, in process
  (:class:`memgym.llm.chunked.ChunkedEpisode`) or on a ``memgym serve`` (OpenEnv WebSocket).
- :mod:`memgym.adapters.verifiers_env`: a ``verifiers`` multi-turn environment (prime-rl),
  rubric = memgym's named reward terms; the ``environments/memgym_memory`` package wraps it.
- :mod:`memgym.adapters.verl_turns`: the engine-free part of the verl agent loop (turn
  bookkeeping, token ids, response masks, the shared reward), testable without verl.
- :mod:`memgym.adapters.verl_agent_loop`: the verl ``AgentLoopBase`` itself (imports verl).

TRL needs no adapter: memgym's own TRL trainer plays its rollouts on a server with
``trl.env_server`` (see ``docs/serve.md``).
"""
