"""Seed-paper recipes: the wrappers, reward terms and entry points that turn memgym's core into
each paper's setting (ids are registered by task files in :mod:`memgym.tasks`; the configs live
in ``configs/recipes/`` and the scripts that measure each paper's effect in ``benchmarks/recipes/``).
"""
