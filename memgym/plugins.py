"""Tasks from outside memgym: modules named with ``--import`` / ``imports:`` and installed
packages' ``memgym.tasks`` entry points.

A task module registers its ids when imported (``register_task(...)`` at module level, see
README "Registering a new task"). memgym imports it

- from the command line: ``memgym eval --import my_tasks --env mine/Thing-v0`` (``list``,
  ``eval`` and ``train`` take ``--import MODULE``, repeatable);
- from a training config: ``imports: [my_tasks]``; the run folder's ``config.yaml`` keeps the
  list, so ``memgym eval --agent runs/<name>`` and ``--resume`` import them again;
- from an installed package that declares an entry point in the ``memgym.tasks`` group::

      [project.entry-points."memgym.tasks"]
      my_tasks = "my_tasks"                # a module whose import registers the tasks
      more = "my_tasks.extra:register"     # or a function, called with no arguments

A module is imported by name, so it must be importable in every process that builds the env:
SB3 ``subproc`` workers, Ray env runners and ``--workers`` evaluation import it again there.
Install it, or put its folder on ``PYTHONPATH``.
"""

from __future__ import annotations

import importlib
import importlib.util
import traceback
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from types import ModuleType

ENTRY_POINT_GROUP = "memgym.tasks"
IMPORTABLE = ("the module must be importable here and in subprocess workers: install it or "
              "put its folder on PYTHONPATH")

_entry_points_loaded = False


class PluginError(ValueError):
    """A task module or entry point that cannot be loaded; the message names it."""


def _where(exc: BaseException, module: str | None = None) -> str:
    """`` (file:line)`` where ``exc`` was raised: the innermost frame in ``module``'s own
    file if it has one (a ``register_task`` that memgym rejects), else the innermost frame
    outside the import machinery; ``""`` for a SyntaxError (its message says where)."""
    if isinstance(exc, SyntaxError):
        return ""
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if not f.filename.startswith("<frozen")]
    origin = None
    if module is not None:
        try:
            spec = importlib.util.find_spec(module)
            origin = spec.origin if spec is not None else None
        except (ImportError, ValueError):
            pass
    own = [f for f in frames if origin is not None and f.filename == origin]
    frame = (own or frames or [None])[-1]
    return f" ({frame.filename}:{frame.lineno})" if frame is not None else ""


def _not_found_hint(name: str) -> str:
    head = name.split(".")[0]
    here = Path.cwd()
    if (here / f"{head}.py").is_file() or (here / head / "__init__.py").is_file():
        return (f"; {head} is in the current folder, which is not on the import path: "
                "run with PYTHONPATH=. (workers need it too)")
    return ""


def import_module(name: str, label: str = "--import") -> ModuleType:
    """Import ``name``; any failure is a :class:`PluginError` that names the module (and,
    for an error inside it, the exception and where it was raised)."""
    name = name.strip()
    if not name:
        raise PluginError(f"{label}: empty module name")
    if name.endswith(".py") or "/" in name or "\\" in name:
        raise PluginError(f"{label} {name}: give a module name ({Path(name).stem}), not a "
                          f"file; {IMPORTABLE}")
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if missing and (name == missing or name.startswith(missing + ".")):
            raise PluginError(f"{label} {name}: no module named {missing!r}; {IMPORTABLE}"
                              f"{_not_found_hint(name)}") from exc
        raise PluginError(f"{label} {name}: importing it failed: {exc}"
                          f"{_where(exc, name)}") from exc
    except Exception as exc:  # the user's own module: report, do not show our traceback
        raise PluginError(f"{label} {name}: importing it failed: {type(exc).__name__}: "
                          f"{exc}{_where(exc, name)}") from exc


def import_modules(names: Iterable[str], label: str = "--import") -> list[ModuleType]:
    """Import each module of ``names`` (in order; already imported ones are not re-run)."""
    return [import_module(name, label) for name in names]


def load_entry_points(*, refresh: bool = False) -> list[str]:
    """Load every ``memgym.tasks`` entry point of the installed packages (once per process
    unless ``refresh``): a module is imported, a callable is called. Returns their names;
    a broken one is a :class:`PluginError` naming the entry point and its package."""
    global _entry_points_loaded
    if _entry_points_loaded and not refresh:
        return []
    import memgym  # noqa: F401  (built-in tasks first: plugins may build on them)

    names = []
    for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        dist = getattr(ep, "dist", None)
        package = f" of package {dist.name}" if dist is not None else ""
        where = f"entry point {ep.name!r} = {ep.value!r}{package} (group {ENTRY_POINT_GROUP})"
        try:
            obj = ep.load()
            if callable(obj) and not isinstance(obj, ModuleType):
                obj()
        except Exception as exc:
            raise PluginError(f"{where} failed to load: {type(exc).__name__}: {exc}"
                              f"{_where(exc)}; uninstall the package or fix it") from exc
        names.append(ep.name)
    _entry_points_loaded = True
    return names


def prepare(imports: Iterable[str] = (), label: str = "--import") -> None:
    """What a process does before it looks up an env id: built-in tasks, installed plugins'
    entry points, then the named modules. Idempotent; cheap after the first call."""
    load_entry_points()
    import_modules(imports, label)


def unknown_env_id(env_id: str, how: str = "add --import MODULE") -> str:
    """The message for an id that is not registered: the closest registered id, where to see
    them all, and how to make a task of one's own visible (``how``)."""
    import difflib

    import gymnasium as gym

    import memgym

    ids = list(dict.fromkeys([*memgym.REGISTRY, *gym.registry]))
    close = difflib.get_close_matches(env_id, ids, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return (f"unknown env id {env_id!r}{hint}; `memgym list` shows the registered ids; "
            f"for a task module of your own, {how}")

