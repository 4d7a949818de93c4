"""What every ``memgym`` command shares: the consoles, the one-line user error and
``KEY=VALUE`` parsing. Its own module so that the subcommand modules (``memgym data``) and
the main CLI both stand on it instead of importing each other."""

from __future__ import annotations

import sys
from typing import Any

import typer
import yaml
from rich.console import Console

# Outside a terminal (piped, CI logs) rich would wrap tables at 80 columns and cut cells.
console = Console(width=None if sys.stdout.isatty() else 200)
err_console = Console(stderr=True)


class UserError(Exception):
    """A mistake in the command's input: reported in one line, exit status 2."""


def fail(message: str) -> None:
    from rich.markup import escape

    err_console.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)  # one line
    raise typer.Exit(2)


def parse_pairs(pairs: list[str] | None, flag: str) -> dict[str, Any]:
    """``["length=640", "tiers={episodic: {entries: 4}}"]`` -> dict (values parsed as YAML)."""
    out: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UserError(f"{flag} {pair!r}: expected KEY=VALUE")
        try:
            out[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError as exc:
            raise UserError(f"{flag} {pair!r}: value is not valid YAML ({exc})") from exc
    return out


IMPORT_HELP = ("import this task module first (repeatable): a module of your own whose "
               "register_task(...) calls add env ids; it must be importable (on PYTHONPATH)")


def load_plugins(imports: list[str] | None) -> None:
    """Installed ``memgym.tasks`` entry points and ``--import`` modules; one line on error."""
    from memgym.plugins import PluginError, prepare

    try:
        prepare(imports or [])
    except PluginError as exc:
        fail(str(exc))
