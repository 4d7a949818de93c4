"""verifiers environment ``memgym-memory``: memgym's per-chunk memory management.

``vf.load_environment("memgym-memory", env_ids=..., num_train=..., options=...)`` (or
``vf-eval memgym-memory``, prime-rl's ``env.id = "memgym-memory"``) calls
:func:`load_environment` below, which is :func:`memgym.adapters.verifiers_env.load_environment`
(its arguments are documented there and in memgym's ``docs/engines/verifiers.md``).
"""

from __future__ import annotations

from typing import Any

from memgym.adapters.verifiers_env import MemgymEnv
from memgym.adapters.verifiers_env import load_environment as _load_environment

__all__ = ["load_environment"]


def load_environment(**kwargs: Any) -> MemgymEnv:
    """The memgym verifiers environment; every argument is passed on to memgym's
    :func:`memgym.adapters.verifiers_env.load_environment`."""
    return _load_environment(**kwargs)
