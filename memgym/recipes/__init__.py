"""Seed-paper recipes: the env classes, reward terms, baselines and measurements that turn
memgym's core into each paper's setting. Their ids are registered in one table,
:mod:`memgym.recipes.ids`; their streams are tasks of :mod:`memgym.tasks`; the configs live in
``configs/recipes/`` and the scripts that measure each paper's effect in
``benchmarks/recipes/``.
"""
