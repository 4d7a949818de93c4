"""Environments: the memory store, the shared core, the structured and text interfaces.

Heavy imports stay out: ``memgym.envs.structured`` and ``memgym.envs.text`` are loaded by
Gymnasium from their entry points when an environment is made.
"""

from memgym.envs.registration import REGISTRY, register_task

__all__ = ["REGISTRY", "register_task"]
