"""Helpers every task uses: per-split random streams and surface pools, parameter checks.

Splits never overlap: ``split_rng`` draws from a different seed sequence per split (so seed 3
of ``train`` and seed 3 of ``heldout`` share nothing), and ``split_pool`` gives each split its
own disjoint share of every surface pool (names, values, templates), chosen by a stable hash
of the item so adding an item to a pool never moves the others.
"""

from __future__ import annotations

import dataclasses
import hashlib
import zlib
from collections.abc import Sequence
from functools import lru_cache
from typing import Any, TypeVar

import numpy as np

from memgym.episode import SPLITS

T = TypeVar("T")
P = TypeVar("P")

#: Share of each pool given to train / val / heldout.
SPLIT_SHARES: dict[str, float] = {"train": 0.6, "val": 0.2, "heldout": 0.2}


def check_split(split: str) -> str:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    return split


def split_rng(task: str, split: str, seed: int) -> np.random.Generator:
    """The random stream of episode ``seed`` of ``split`` of ``task`` (disjoint per split)."""
    check_split(split)
    if seed < 0:
        raise ValueError(f"episode seed must be >= 0, got {seed}")
    return np.random.default_rng([zlib.crc32(task.encode()), SPLITS.index(split), seed])


@lru_cache(maxsize=1 << 16)
def _bucket(item: object) -> float:
    # sha1, not crc32: crc32 of near-identical strings clusters and would starve a split.
    return int.from_bytes(hashlib.sha1(repr(item).encode()).digest()[:8], "big") / 2**64


def split_pool(pool: Sequence[T], split: str, *, min_size: int = 1) -> list[T]:
    """The items of ``pool`` that belong to ``split`` (disjoint across splits, stable)."""
    check_split(split)
    try:
        key = tuple(pool)
        hash(key)
    except TypeError:  # unhashable items: no caching
        return _split(tuple(pool), split, min_size)
    return list(_split_cached(key, split, min_size))


def _split(pool: tuple, split: str, min_size: int) -> list:
    lo = 0.0
    for name in SPLITS:
        hi = lo + SPLIT_SHARES[name]
        if name == split:
            break
        lo = hi
    last = split == SPLITS[-1]
    items = [x for x in pool if lo <= _bucket(x) < hi or (last and _bucket(x) >= hi)]
    if len(items) < min_size:
        raise ValueError(
            f"pool of {len(pool)} items gives split {split!r} only {len(items)} (< {min_size}); "
            "add items to the pool"
        )
    return items


@lru_cache(maxsize=4096)
def _split_cached(pool: tuple, split: str, min_size: int) -> tuple:
    # Generators call split_pool on every episode; the split of a pool never changes.
    return tuple(_split(pool, split, min_size))


#: Op sets of the difficulty ladder. Easy / Medium: write, overwrite or skip (one decision per
#: chunk, as in the prototype: six extra destructive "delete slot k" actions made early
#: exploration wreck memory and slowed learning several-fold). Hard adds delete.
WRITE_OPS: tuple[str, ...] = ("noop", "add", "update")
WRITE_DELETE_OPS: tuple[str, ...] = ("noop", "add", "update", "delete")


# -- parameters and random draws every generator uses ------------------------------------
def resolve_params(params_cls: type[P], base: P | None, overrides: dict[str, Any]) -> P:
    """``base`` (or the defaults) with ``overrides``; an unknown name raises ``ValueError``."""
    names = {f.name for f in dataclasses.fields(params_cls)}  # type: ignore[arg-type]
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise ValueError(f"{params_cls.__name__}: unknown parameter(s) {', '.join(unknown)}; "
                         f"valid: {', '.join(sorted(names))}")
    if base is None:
        return params_cls(**overrides)
    return dataclasses.replace(base, **overrides)  # type: ignore[type-var]


def rate_count(rate: float, length: int) -> int:
    """Chunks of a stream of ``length`` given to a ``rate`` (rounded half up)."""
    return int(rate * length + 0.5)


def other_index(rng: np.random.Generator, n: int, exclude: set[int]) -> int:
    """A uniform index of ``range(n)`` outside ``exclude`` (needs ``len(exclude) < n``)."""
    while True:
        i = int(rng.integers(n))
        if i not in exclude:
            return i


def check_rate(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {value}")


def mid_stream_times(rng: np.random.Generator, evidence_at: list[int], count: int,
                     length: int) -> dict[int, int]:
    """``{question index: asked_after}`` for up to ``count`` questions whose evidence chunk comes
    before the last chunk (asked between it and the end, so the answer is already settled)."""
    eligible = [i for i, e in enumerate(evidence_at) if e < length - 1]
    chosen = rng.permutation(eligible)[:count] if eligible else []
    return {int(i): int(rng.integers(evidence_at[i], length - 1)) for i in chosen}
