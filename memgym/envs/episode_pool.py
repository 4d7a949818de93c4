"""Episodes for resets: fresh draws, or a finite pool whose episodes are generated once.

``episode_pool=N`` (an environment argument) draws the episode seed of every reset from
``range(N)`` instead of ``range(2**31 - 1)``: the agent trains on a fixed set of N streams per
split, as Procgen's ``num_levels`` fixes a set of levels. Generating a stream and encoding it
(text features, evidence tables) is the Python work of a reset, so with a pool the episode
and whatever the environment derives from it are kept in a process-wide LRU cache keyed by
the task, its parameters, split, seed and reset options: after the first draw of each seed a
reset only copies arrays. Explicit ``episode_seed`` resets (evaluation) are cached too when
the env has a pool; without one nothing is cached (fresh seeds almost never repeat).

The cache is shared by every env of the process (``DummyVecEnv`` copies share one pool) and
bounded by :data:`CACHE_ENTRIES`; an encoded Medium episode is ~20-40 KB.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from memgym.episode import Episode

#: Most entries (episodes + encodings) kept per process; least recently used go first.
CACHE_ENTRIES = 8192
T = TypeVar("T")
_CACHE: OrderedDict[Hashable, Any] = OrderedDict()


def cached(key: Hashable, build: Callable[[], T]) -> T:
    """``build()``, or its result from an earlier call with the same ``key``."""
    try:
        value = _CACHE[key]
    except KeyError:
        value = _CACHE[key] = build()
        if len(_CACHE) > CACHE_ENTRIES:
            _CACHE.popitem(last=False)
        return value
    _CACHE.move_to_end(key)
    return value


def clear_cache() -> None:
    """Forget every cached episode and encoding (tests; after editing a task's code)."""
    _CACHE.clear()


def check_pool(episode_pool: int | None) -> int | None:
    """``episode_pool`` validated: ``None`` (fresh episodes) or a positive int."""
    if episode_pool is None:
        return None
    if isinstance(episode_pool, bool) or not isinstance(episode_pool, int) or episode_pool < 1:
        raise ValueError(f"episode_pool must be a positive int or None, got {episode_pool!r}")
    return episode_pool


def task_token(task: Any, task_params: dict[str, Any] | None) -> Hashable | None:
    """What identifies a task's episodes in cache keys: its path (or class) and parameters,
    or ``None`` (not cacheable) for a task instance or unhashable parameters."""
    if not isinstance(task, (str, type)):
        return None
    name = task if isinstance(task, str) else f"{task.__module__}:{task.__qualname__}"
    return _freeze((name, task_params or {}))


def _freeze(value: Any) -> Hashable | None:
    """A hashable copy of nested dicts / lists / scalars, or ``None`` when impossible."""
    if isinstance(value, dict):
        items = tuple((k, _freeze(v)) for k, v in sorted(value.items(), key=lambda kv: str(kv[0])))
        return None if any(v is None and value[k] is not None for k, v in items) else items
    if isinstance(value, (list, tuple)):
        frozen = tuple(_freeze(v) for v in value)
        return None if any(f is None and v is not None for f, v in zip(frozen, value)) else frozen
    try:
        hash(value)
    except TypeError:
        return None
    return value


class EpisodeSource:
    """The episodes an environment's resets play, drawn from a pool when one is set.

    ``reset(options=...)`` may give ``episode`` (played as is, never cached), or ``split`` /
    ``episode_seed`` (drawn from ``np_random`` when absent) and task parameters.
    """

    def __init__(self, task: Any, *, episode_pool: int | None = None,
                 token: Hashable | None = None) -> None:
        self.task = task
        self.pool = check_pool(episode_pool)
        self.token = token if self.pool is not None else None

    def draw(self, np_random: Any, options: dict[str, Any] | None, split: str
             ) -> tuple[Episode, Hashable | None]:
        """The episode to play (``split`` unless the options name one) and its cache key
        (``None``: not cached)."""
        options = dict(options or {})
        episode = options.pop("episode", None)
        if episode is not None:
            if options:
                raise ValueError(
                    f"reset options {sorted(options)} cannot be combined with 'episode'")
            return episode, None
        split = options.pop("split", split)
        seed = options.pop("episode_seed", None)
        if seed is None:  # one draw from np_random either way, so seeding stays comparable
            seed = np_random.integers(self.pool if self.pool is not None else 2**31 - 1)
        seed = int(seed)
        params = _freeze(options)
        if self.token is None or (params is None and options):
            return self.task.episode(seed, split, **options), None
        key = ("episode", self.token, split, seed, params)
        return cached(key, lambda: self.task.episode(seed, split, **options)), key
