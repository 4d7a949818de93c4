"""``memgym serve``: the command. Light to import (the CLI mounts it); the server's libraries
load only when it runs, with a clear line if the ``serve`` extra is missing."""

from __future__ import annotations

import typer

from memgym.cli_common import (
    IMPORT_HELP,
    UserError,
    err_console,
    fail,
    load_plugins,
    parse_pairs,
)


def serve_cmd(
    env: list[str] = typer.Option(None, "--env", "-e",
                                  help="env id to serve (repeatable; default: every text env)"),
    env_arg: list[str] = typer.Option(None, "--env-arg",
                                      help="environment argument KEY=VALUE for every session"),
    weight: list[str] = typer.Option(None, "--weight",
                                     help="reward weight KEY=VALUE (qa, tool_success, "
                                          "compression, format)"),
    write_mode: str = typer.Option("tools", help="tools or rewrite"),
    describe_tools: bool = typer.Option(True, help="list the tools in the system message "
                                        "(off: the trainer's chat template renders schemas)"),
    host: str = typer.Option("127.0.0.1", help="address to listen on (0.0.0.0: every one)"),
    port: int = typer.Option(8000, min=1, max=65535),
    max_sessions: int = typer.Option(64, min=1, help="concurrent sessions per transport"),
    idle_timeout: float = typer.Option(600.0, help="seconds before an idle session is closed"),
    max_turns: int = typer.Option(4096, min=1, help="turns after which a rollout ends"),
    max_message_kb: int = typer.Option(256, min=1, help="largest request / message, KiB"),
    rate: float = typer.Option(500.0, help="requests per second per client"),
    imports: list[str] = typer.Option(None, "--import", help=IMPORT_HELP),
) -> None:
    """Serve text environments over HTTP + WebSocket in the OpenEnv format (one turn per chunk)."""
    import memgym
    from memgym.envs.registration import text_twin
    from memgym.plugins import unknown_env_id

    load_plugins(imports)
    try:
        from memgym.serve.app import serve
        from memgym.serve.models import ServeSettings
    except ImportError as exc:
        fail(f"memgym serve needs the serve extra ({exc.name} is missing): "
             "pip install 'memgym[serve]'")
        return
    try:
        text_ids = [i for i, info in memgym.REGISTRY.items() if info.interface == "text"]
        ids = list(env or text_ids)
        for env_id in ids:
            if env_id not in memgym.REGISTRY:
                raise UserError(unknown_env_id(env_id))
        ids = list(dict.fromkeys(text_twin(i) for i in ids))
        settings = ServeSettings(
            env_ids=ids, env_kwargs=parse_pairs(env_arg, "--env-arg"),
            weights=parse_pairs(weight, "--weight"), write_mode=write_mode,
            describe_tools=describe_tools,
            max_turns=max_turns, max_sessions=max_sessions, idle_timeout_s=idle_timeout,
            max_message_bytes=max_message_kb * 1024, requests_per_s=rate)
        err_console.print(f"memgym serve: {len(ids)} env id(s) on http://{host}:{port} "
                          f"(/ws, /sessions, /docs); Ctrl-C stops")
        serve(settings, host=host, port=port)
        err_console.print("memgym serve: stopped (sessions closed)")
    except (UserError, ValueError) as exc:
        fail(str(exc))
