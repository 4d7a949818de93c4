"""Registering tasks as Gymnasium environments.

One call registers a task at every difficulty level, for both interfaces::

    register_task(
        "KVUpdates", "memgym.tasks.kv_updates:KVUpdatesTask",
        levels={"Easy": {"task": {...}, "env": {...}}, "Medium": ..., "Hard": ...},
        description="Entities whose attributes change; questions ask the latest value.",
    )

gives ``memgym/KVUpdates-Easy-v0`` (structured) and ``memgym/KVUpdates-Easy-Text-v0`` (text),
and so on. Tasks are passed by import path (``"module:Class"``) so environments pickle cleanly
for subprocess vector envs and Ray workers.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym

STRUCTURED_ENTRY = "memgym.envs.structured:MemoryEnv"
TEXT_ENTRY = "memgym.envs.text:TextMemoryEnv"
VECTOR_ENTRY = "memgym.envs.vector:MemoryVectorEnv"
#: Ops the batched env (:mod:`memgym.envs.vector`) applies in compiled code: every op of the
#: structured env; an id whose ops stay within these (and without ``retrieval_tiers``) gets a
#: ``vector_entry_point`` (``gym.make_vec`` then uses it).
VECTOR_OPS: tuple[str, ...] = ("noop", "add", "update", "delete", "evict", "route", "reread",
                               "invalidate")
DEFAULT_OPS: tuple[str, ...] = ("noop", "add", "update", "delete")


def vectorizable(env_kwargs: dict[str, Any]) -> bool:
    """Whether :class:`memgym.envs.vector.MemoryVectorEnv` supports these env arguments."""
    ops = env_kwargs.get("ops", DEFAULT_OPS)
    return set(ops) <= set(VECTOR_OPS) and not env_kwargs.get("retrieval_tiers")


@dataclass(frozen=True)
class RegisteredTask:
    """What ``memgym list`` shows for one registered id."""

    env_id: str
    task: str
    level: str
    interface: str
    description: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    needs_data: bool = False
    """True for dataset adapters: ``gym.make(id, data_path=...)`` is required."""


#: Every id registered through :func:`register_task`, in registration order.
REGISTRY: dict[str, RegisteredTask] = {}
_VERSION = re.compile(r"-v(\d+)$")


def task_path(task: str | type) -> str:
    """``"module:Class"`` for a task class or an already written path."""
    if isinstance(task, str):
        if ":" not in task:
            raise ValueError(f"task path {task!r} must look like 'package.module:ClassName'")
        return task
    return f"{task.__module__}:{task.__qualname__}"


def load_task(task: Any, params: dict[str, Any] | None = None) -> Any:
    """Instantiate a task from a ``"module:Class"`` path, a class, or pass an instance through."""
    if isinstance(task, str):
        module, _, name = task_path(task).partition(":")
        try:
            obj: Any = importlib.import_module(module)
            for part in name.split("."):
                obj = getattr(obj, part)
        except (ImportError, AttributeError) as exc:
            raise ValueError(f"cannot load task {task!r}: {exc}") from exc
        task = obj
    if isinstance(task, type):
        return task(**(params or {}))
    if params:
        raise ValueError("task_params given for a task instance; pass the class or its path")
    return task


def register_task(
    name: str,
    task: str | type,
    *,
    levels: dict[str, dict[str, dict[str, Any]]],
    description: str,
    namespace: str = "memgym",
    version: int = 0,
    text: bool = True,
    needs_data: bool = False,
) -> list[str]:
    """Register ``task`` at each level (``{"Easy": {"task": {...}, "env": {...}}}``).

    ``task`` params go to the task constructor; ``env`` params to the environment (tiers, ops,
    reader, rewards, ...). ``needs_data`` marks dataset adapters, made with
    ``gym.make(id, data_path=...)``. Returns the registered ids.
    """
    path = task_path(task)
    ids = []
    for level, spec in levels.items():
        unknown = set(spec) - {"task", "env"}
        if unknown:
            raise ValueError(f"level {level!r} of {name}: unknown keys {sorted(unknown)}")
        kwargs = {"task": path, "task_params": dict(spec.get("task", {})), **spec.get("env", {})}
        suffix = f"-{level}" if level else ""
        interfaces = [("structured", STRUCTURED_ENTRY, "")]
        if text:
            interfaces.append(("text", TEXT_ENTRY, "-Text"))
        for interface, entry, tag in interfaces:
            env_id = f"{namespace}/{name}{suffix}{tag}-v{version}"
            vector = VECTOR_ENTRY if interface == "structured" and vectorizable(kwargs) else None
            ids.append(register_env(env_id, entry, kwargs=kwargs, description=description,
                                    task=path, level=level, interface=interface,
                                    needs_data=needs_data, vector_entry_point=vector))
    return ids


def register_env(env_id: str, entry_point: str, *, kwargs: dict[str, Any], description: str,
                 task: str = "", level: str = "", interface: str = "recipe",
                 needs_data: bool = False, vector_entry_point: str | None = None) -> str:
    """The one registration every id goes through: Gymnasium's registry (``gym.make``) and
    memgym's listing (``memgym list``, :data:`REGISTRY`). ``entry_point`` is a
    ``"module:callable"`` string, so the env class loads on ``gym.make`` and ids pickle for
    subprocess / Ray workers. :func:`register_task` (a task at its levels, both interfaces)
    and :func:`register_recipe` (a recipe's own env class) are built on it."""
    gym.register(id=env_id, entry_point=entry_point, kwargs=kwargs, disable_env_checker=False,
                 vector_entry_point=vector_entry_point)
    REGISTRY[env_id] = RegisteredTask(env_id, task, level, interface, description, kwargs,
                                      needs_data)
    return env_id


def register_recipe(name: str, entry_point: str, *, levels: dict[str, dict[str, Any]],
                    description: str, task: str, interface: str = "recipe") -> list[str]:
    """Register a recipe env (an env class in :mod:`memgym.recipes`, made through a
    ``"module:function"`` entry point) at each level (``{"Medium": {"task": {...}, "env":
    {...}}}``; level ``""``: no level in the id), listed under ``interface`` (``"recipe"``: a
    structured env whose reward, and maybe action space, is the recipe's own, so the generic
    structured-env tests do not apply to it)."""
    ids = []
    for level, spec in levels.items():
        kwargs = {"task": task, "task_params": dict(spec.get("task", {})), **spec.get("env", {})}
        env_id = f"memgym/{name}-{level}-v0" if level else f"memgym/{name}-v0"
        ids.append(register_env(env_id, entry_point, kwargs=kwargs, description=description,
                                task=task, level=level, interface=interface))
    return ids


# -- the two interfaces of one task: the same episodes, ids that differ by '-Text' -----------
def is_text(env_id: str) -> bool:
    """A registered text-interface id: a tool-call env (interface ``text``) or a recipe's text
    twin (``-Text-v<n>``, e.g. a selector that replies with note numbers)."""
    info = REGISTRY.get(env_id)
    return info is not None and (info.interface == "text" or "-Text-v" in env_id)


def text_twin(env_id: str) -> str:
    """The text-interface id of a registered environment (itself if it is one)."""
    if is_text(env_id):
        return env_id
    twin = _VERSION.sub(r"-Text-v\1", env_id)
    if twin not in REGISTRY:
        raise ValueError(f"{env_id!r} has no text twin (expected {twin!r} to be registered)")
    return twin


def structured_twin(env_id: str) -> str:
    """The structured-interface id of a registered environment (itself if it is one)."""
    info = REGISTRY.get(env_id)
    if info is not None and info.interface == "structured":
        return env_id
    twin = env_id.replace("-Text-v", "-v")
    if twin not in REGISTRY:
        raise ValueError(f"{env_id!r} has no structured twin (expected {twin!r})")
    return twin
