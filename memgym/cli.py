"""The ``memgym`` command line: list environments, evaluate agents (and, with extras, train).

User errors (unknown ids, bad values, missing files) print one clear line and exit 2; only
bugs show a traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)
from rich.table import Table

from memgym.cli_common import (IMPORT_HELP, UserError, console, err_console, fail,  # noqa: F401
                               load_plugins, parse_pairs)

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="memgym: a gym for training memory-managing agents.")


def _mount_subcommands() -> None:
    from memgym.data_cli import data_app
    from memgym.serve.cli import serve_cmd  # light: the server's libraries load when it runs

    app.add_typer(data_app, name="data")
    app.command("serve")(serve_cmd)


@app.command("list")
def list_envs(
    interface: str = typer.Option("all", help="structured, text or all"),
    imports: list[str] = typer.Option(None, "--import", help=IMPORT_HELP),
) -> None:
    """List registered environment ids with one-line descriptions."""
    import memgym

    load_plugins(imports)
    table = Table(title="memgym environments")
    for column in ("id", "interface", "description"):
        table.add_column(column)
    for env_id, info in memgym.REGISTRY.items():
        if interface in ("all", info.interface):
            table.add_row(env_id, info.interface, info.description)
    console.print(table)


@app.command("eval")
def eval_cmd(
    agent: list[str] = typer.Option(["all"], "--agent", "-a",
                                    help="baseline name(s), comma-separated, or 'all'"),
    env: str = typer.Option("memgym/KVUpdates-Medium-v0", "--env", "-e", help="env id"),
    split: str = typer.Option("heldout", help="train, val or heldout"),
    episodes: int = typer.Option(50, min=1, help="episodes per agent"),
    seed: int = typer.Option(0, min=0, help="first episode seed"),
    length: int = typer.Option(None, min=1, help="stream length (chunks) for every episode"),
    option: list[str] = typer.Option(None, "--option", "-o",
                                     help="task parameter KEY=VALUE for every episode"),
    env_arg: list[str] = typer.Option(None, "--env-arg",
                                      help="environment argument KEY=VALUE (e.g. tiers=...)"),
    out: Path = typer.Option(None, help="folder for report.json / report.md / report.png"),
    workers: int = typer.Option(1, min=1, help="spread episodes over this many Ray workers "
                                "(joins RAY_ADDRESS if set); the report is the same"),
    imports: list[str] = typer.Option(None, "--import", help=IMPORT_HELP),
) -> None:
    """Evaluate agents on the same held-out streams; print a table and write a report."""
    import memgym  # noqa: F401  (registers the environments)
    from memgym.agents.evaluate import check_env_id, evaluate_agents, expand_agent_names
    from memgym.episode import SPLITS
    from memgym.loading import agent_imports, load_agent
    from memgym.report import write_report

    load_plugins(imports)
    try:
        if split not in SPLITS:
            raise UserError(f"--split {split!r}: expected one of {', '.join(SPLITS)}")
        options = parse_pairs(option, "--option")
        if length is not None:
            options["length"] = length
        env_kwargs = parse_pairs(env_arg, "--env-arg")
        names = expand_agent_names(agent)
        modules = agent_imports(names, list(imports or []))  # a run's own imports: too
        check_env_id(env, modules)  # before the progress bar starts
        # episodes done (fractions within a stream), elapsed, time left, and the current
        # chunk with the agent's rate (an LLM agent's tokens/s)
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), TimeRemainingColumn(),
                      TextColumn("{task.fields[note]}"), console=err_console,
                      transient=True) as bar:
            tasks = {name: bar.add_task(name, total=episodes, note="") for name in names}
            report = evaluate_agents(
                names, env, split=split, episodes=episodes, seed=seed, env_kwargs=env_kwargs,
                options=options, workers=workers, imports=modules, load=load_agent,
                progress=lambda name, done, note: bar.update(tasks[name], completed=done,
                                                             note=note))
    except (UserError, ValueError, TypeError, FileNotFoundError) as exc:
        fail(str(exc))
        return
    print_report(report)
    if out is not None:
        paths = write_report(report, out)
        console.print("wrote " + ", ".join(str(p) for p in paths.values()))


@app.command("train")
def train_cmd(
    config: Path = typer.Argument(None, help="YAML config (default: configs/default.yaml)"),
    set_: list[str] = typer.Option(None, "--set", help="override KEY.PATH=VALUE (YAML value)"),
    resume: Path = typer.Option(None, help="continue the run in this folder from its last checkpoint"),
    overwrite: bool = typer.Option(False, help="reuse the run folder of an existing run"),
    progress: bool = typer.Option(True, help="show the progress bar"),
    imports: list[str] = typer.Option(None, "--import", help=IMPORT_HELP + "; added to the "
                                      "config's imports: (the run folder keeps them)"),
) -> None:
    """Train a memory policy from a config file; writes runs/<name>/ (see README).

    Ctrl-C saves a checkpoint and prints the --resume command (exit status 130)."""
    from memgym.training import (ConfigError, TrainingInterrupted, load_config, resume_run,
                                 train_from_config)
    from memgym.training.config import DEFAULT_CONFIG

    load_plugins(None)  # installed plugins; --import goes through the config's imports:
    try:
        if resume is not None:
            if config is not None:
                raise UserError("--resume takes the run folder (its config.yaml is used), "
                                "not a config file; use --set to change it")
            report = resume_run(resume, list(set_ or []), list(imports or []))
        else:
            overrides = list(set_ or []) + ([] if progress else ["progress=false"])
            cfg = load_config(config or DEFAULT_CONFIG, overrides, list(imports or []))
            report = train_from_config(cfg, overwrite=overwrite)
    except TrainingInterrupted as exc:
        from rich.markup import escape

        err_console.print(f"[bold yellow]{escape(str(exc))}[/]", soft_wrap=True)
        raise typer.Exit(130) from None
    except (UserError, ConfigError, FileNotFoundError) as exc:
        fail(str(exc))
        return
    print_report(report)


def print_report(report: dict[str, Any]) -> None:
    from memgym.report import kinds_of

    kinds = kinds_of(report)
    table = Table(title=f"{report['env_id']} — {report['split']}, {report['episodes']} episodes, "
                        f"seed {report['seed']}")
    width = max((len(name) for name in report["agents"]), default=5)
    table.add_column("agent", justify="right", no_wrap=True, min_width=width)  # never cut
    for column in ("QA", "±95% CI", "/oracle", "evidence", "recall@k", *kinds,
                   "memory", "invalid/ep"):
        table.add_column(column, justify="right")
    for name, s in report["agents"].items():
        ratio = f"{s['oracle_ratio']:.2f}" if s.get("oracle_ratio") is not None else "-"
        evidence = ["-" if s.get(k) is None else f"{s[k]:.3f}"
                    for k in ("evidence_retention", "evidence_recall")]
        table.add_row(name, f"{s['qa_score']:.3f}", f"{s['qa_ci95']:.3f}", ratio, *evidence,
                      *[f"{s['per_kind'].get(k, float('nan')):.3f}" for k in kinds],
                      f"{s['memory_mean']:.1f}", f"{s['invalid_per_episode']:.2f}")
    console.print(table)
    others = {a: e for a, e in report.get("interfaces", {}).items() if e != report["env_id"]}
    if others:  # baselines on the structured twin of a text id: the same episodes
        console.print("same episodes, structured interface: " + ", ".join(
            f"{a} on {e}" for a, e in others.items()))


_mount_subcommands()


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
