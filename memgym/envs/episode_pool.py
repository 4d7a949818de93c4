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

Fresh streams are not cached; ``prefetch_workers=N`` generates them ahead of the resets in
worker processes instead (:mod:`memgym.envs.prefetch`).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from memgym.episode import Episode

#: Most entries (episodes + encodings) kept per process; least recently used go first.
CACHE_ENTRIES = 8192
#: Fresh (pool-less) episode seeds are drawn from ``range(SEED_BOUND)``.
SEED_BOUND = 2**31 - 1
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
    ``prefetch=N`` generates fresh episodes ahead in N worker processes
    (:mod:`memgym.envs.prefetch`), the same episodes as ``prefetch=0``; a pooled source never
    prefetches (its episodes are cached already) and explicit ``episode_seed`` / ``episode``
    resets are generated here.
    """

    def __init__(self, task: Any, *, episode_pool: int | None = None,
                 token: Hashable | None = None, prefetch: int = 0) -> None:
        self.task = task
        self.pool = check_pool(episode_pool)
        self.token = token if self.pool is not None else None
        if isinstance(prefetch, bool) or not isinstance(prefetch, int) or prefetch < 0:
            raise ValueError(f"prefetch must be an int >= 0, got {prefetch!r}")
        self.prefetcher = None
        if prefetch and self.pool is None:
            from memgym.envs.prefetch import Prefetcher  # multiprocessing only when asked

            self.prefetcher = Prefetcher(task, prefetch, bound=SEED_BOUND)

    def draw(self, np_random: Any, options: dict[str, Any] | None, split: str,
             prepare: Callable[[Episode], Any] | None = None
             ) -> tuple[Episode, Hashable | None, Any]:
        """The episode to play (``split`` unless the options name one), its cache key (``None``:
        not cached) and ``prepare(episode)`` (``None`` without ``prepare``; never cached here:
        callers cache by the key). When prefetching, ``prepare`` runs in a worker too, so it
        must pickle: a module-level function, or a ``functools.partial`` of one."""
        options = dict(options or {})
        episode = options.pop("episode", None)
        if episode is not None:
            if options:
                raise ValueError(
                    f"reset options {sorted(options)} cannot be combined with 'episode'")
            return episode, None, _prepared(episode, prepare)
        split = options.pop("split", split)
        seed = options.pop("episode_seed", None)
        drawn = seed is None
        if drawn:  # one draw from np_random either way, so seeding stays comparable
            seed = np_random.integers(self.pool if self.pool is not None else SEED_BOUND)
        seed = int(seed)
        if drawn and self.prefetcher is not None:
            episode, prepared = self.prefetcher.draw(np_random, seed, split, options, prepare)
            return episode, None, prepared
        params = _freeze(options)
        if self.token is None or (params is None and options):
            episode = self.task.episode(seed, split, **options)
            return episode, None, _prepared(episode, prepare)
        key = ("episode", self.token, split, seed, params)
        episode = cached(key, lambda: self.task.episode(seed, split, **options))
        return episode, key, _prepared(episode, prepare)

    def close(self) -> None:
        """Stop the prefetching workers, if any (a later draw starts them again)."""
        if self.prefetcher is not None:
            self.prefetcher.close()


def _prepared(episode: Episode, prepare: Callable[[Episode], Any] | None) -> Any:
    return None if prepare is None else prepare(episode)
