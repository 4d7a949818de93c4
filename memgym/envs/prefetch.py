"""Fresh episodes generated ahead of time in worker processes (``prefetch_workers=N``).

Without an ``episode_pool`` every reset generates a new stream in Python (and the caller
encodes it): work on the training loop's hot path. :class:`Prefetcher` moves it to N worker
processes (``concurrent.futures.ProcessPoolExecutor``) that generate the next episodes, and
what a caller derives from them (``prepare``), while the environment plays the current one.

Determinism is the contract, kept by speculation rather than by consuming ``np_random``
ahead: a reset still draws its episode seed from its generator exactly as without workers
(one ``integers`` call); the workers generate the seeds a *copy* of that generator predicts.
A reset plays a prefetched episode only when the seed it drew, its split, its options and its
``prepare`` equal those the episode was generated for; otherwise it generates synchronously
(as ``prefetch=0`` does) and the generator's queue is rebuilt. So ``prefetch=N`` plays the
same episodes as ``prefetch=0`` whatever else happens to the generator: ``reset(seed=...)``
(a new generator object), another draw from ``np_random`` between resets (e.g. a subclass
that draws a budget), explicit ``episode_seed`` / ``episode`` resets (they draw nothing and
bypass the queue) or changed options only cost wasted work. After :data:`MAX_MISSES`
mispredicted seeds in a row a generator stops prefetching (something draws from it between
resets, so predictions cannot hit). What it relies on: ``task.episode(seed, split, **options)``
is a function of its arguments and of the task's pickled state (a task mutated after the
first reset is not seen by the workers).

Resets that reseed every time (``reset(seed=k)`` per episode) gain nothing: each brings a new
generator, whose first episode is generated here. Workers start on the first reset (spawned:
0.3-0.7 s to import numpy and memgym on a 2-core machine; resets generate synchronously until
one is up), one pool per environment, and shut down on ``close()``, when the source is
garbage collected, or at interpreter exit.
As for any program using ``spawn``, a script must guard its entry point
(``if __name__ == "__main__":``), since each worker imports the main module.
"""

from __future__ import annotations

import copy
import functools
import multiprocessing
import pickle
import signal
import sys
import warnings
import weakref
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import numpy as np

from memgym.episode import Episode

#: Episodes per worker call: ProcessPoolExecutor's per-call overhead (~0.4 ms of the
#: parent's CPU for a 0.8 ms Medium stream, measured) falls to ~0.25 ms an episode in batches
#: of 4; a generator's queue holds 4 to 7 episodes ahead.
BATCH = 4
#: Mispredicted seeds in a row after which a generator stops prefetching.
MAX_MISSES = 3
#: Most generators followed at once (a vector env follows one per sub-env); beyond, the
#: least recently added is dropped (its resets then generate synchronously until re-added).
MAX_STREAMS = 4096
#: "spawn", not "fork": fork starts in ~10 ms (measured) but the child inherits the locks of
#: the parent's threads (torch, BLAS, the executor's own) in whatever state they were, and can
#: deadlock. "forkserver" starts no faster here (~0.65 s to the first result for both, the
#: workers' imports dominate) and adds a long-lived server process shared with the rest of
#: the program (and its global preload list).
START_METHOD = "spawn"

Prepare = Callable[[Episode], Any]

_TASK: Any = None  # the task, inside a worker process


def _init_worker(task_bytes: bytes) -> None:
    """Worker start: Ctrl-C is the parent's to handle (it shuts the pool down); load the task."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    global _TASK
    _TASK = pickle.loads(task_bytes)


def _ready() -> bool:
    return True


def generate(task: Any, seed: int, split: str, options: dict[str, Any],
             prepare: Prepare | None) -> tuple[Episode, Any]:
    """The episode of ``seed`` and ``prepare(episode)`` (``None`` without ``prepare``)."""
    episode = task.episode(seed, split, **options)
    return episode, (None if prepare is None else prepare(episode))


def _generate_batch(seeds: list[int], split: str, options: dict[str, Any],
                    prepare: Prepare | None) -> list[tuple[Episode, Any]]:
    return [generate(_TASK, seed, split, options, prepare) for seed in seeds]


def _shutdown(executor: ProcessPoolExecutor) -> None:
    # wait=True joins the workers (no zombies); at most the batch in flight delays it.
    executor.shutdown(wait=True, cancel_futures=True)


def _same_prepare(a: Prepare | None, b: Prepare | None) -> bool:
    """The same function, or partials of one function with equal arguments (a caller may
    build a new partial every reset)."""
    if a is b or a == b:
        return True
    if isinstance(a, functools.partial) and isinstance(b, functools.partial):
        return (_same_prepare(a.func, b.func) and a.args == b.args
                and a.keywords == b.keywords)
    return False


def _copy(rng: np.random.Generator) -> np.random.Generator:
    """A generator in ``rng``'s state (~20 us; predictions never touch ``rng`` itself)."""
    clone = np.random.Generator(type(rng.bit_generator)())
    clone.bit_generator.state = rng.bit_generator.state
    return clone


def _picklable(value: Any, what: str) -> bytes:
    try:
        return pickle.dumps(value)
    except Exception as exc:  # PicklingError, TypeError, AttributeError (local objects)
        raise ValueError(
            f"prefetch: {what} cannot be pickled for the worker processes ({exc}); use "
            f"prefetch_workers=0 (prefetch=0), or a module-level class / function") from exc


class _Stream:
    """The episodes queued for one generator: (predicted seed, batch future, index in batch),
    in draw order. ``clone`` is the generator advanced past every queued seed."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng  # held: identity is the key, and the refcount tells when it is dead
        self.queue: deque[tuple[int, Future, int]] = deque()
        self.clone: np.random.Generator | None = None
        self.split, self.options, self.prepare = "", {}, None
        self.misses = 0

    def matches(self, split: str, options: dict[str, Any], prepare: Prepare | None) -> bool:
        return (split == self.split and options == self.options
                and _same_prepare(prepare, self.prepare))

    def clear(self) -> None:
        for _, future, _ in self.queue:
            future.cancel()  # those not started yet; a running batch finishes, unread
        self.queue.clear()
        self.clone = None


class Prefetcher:
    """Worker processes generating the episodes a source's fresh resets will draw.

    ``task`` is pickled now (a :class:`ValueError` names it when it cannot be) and loaded once
    per worker; ``bound`` is the exclusive upper end of the seeds ``np_random`` draws.
    """

    def __init__(self, task: Any, workers: int, bound: int) -> None:
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ValueError(f"prefetch workers must be a positive int, got {workers!r}")
        name = f"task {type(task).__module__}.{type(task).__qualname__}"
        self.task_bytes = _picklable(task, name)
        self.task, self.workers, self.bound = task, workers, bound
        self.stats = {"prefetched": 0, "synchronous": 0}
        self._executor: ProcessPoolExecutor | None = None
        self._warm: Future | None = None
        self._finalizer: weakref.finalize | None = None
        self._streams: dict[int, _Stream] = {}
        self._inflight: set[Future] = set()  # batches not done (a done-callback removes them)
        self._checked_prepare: Prepare | None = None
        self._broken = False

    # copies (deepcopy, pickling) get their own pool, started on their first reset
    def __getstate__(self) -> dict[str, Any]:
        return {"task": self.task, "workers": self.workers, "bound": self.bound}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["task"], state["workers"], state["bound"])

    def start(self, wait: bool = False) -> None:
        """Start the workers (the first reset does); ``wait`` until one has loaded the task."""
        if self._executor is None and not self._broken:
            executor = ProcessPoolExecutor(
                self.workers, mp_context=multiprocessing.get_context(START_METHOD),
                initializer=_init_worker, initargs=(self.task_bytes,))
            self._executor = executor
            self._finalizer = weakref.finalize(self, _shutdown, executor)
            self._warm = executor.submit(_ready)
        if wait and self._warm is not None:
            self._warm.result()

    def close(self) -> None:
        """Stop the workers (and wait for them); a later reset starts new ones."""
        for stream in self._streams.values():
            stream.clear()
        self._streams.clear()
        self._inflight.clear()
        if self._finalizer is not None:
            self._finalizer()  # runs _shutdown once, and no more at exit / collection
        self._executor = self._warm = self._finalizer = None

    def draw(self, np_random: np.random.Generator, seed: int, split: str,
             options: dict[str, Any], prepare: Prepare | None) -> tuple[Episode, Any]:
        """The episode of ``seed`` (just drawn from ``np_random``) and its ``prepare``d form:
        prefetched when predicted, else generated here; then queue the next ones."""
        if prepare is not None and prepare is not self._checked_prepare:
            _picklable(prepare, f"prepare {prepare!r}")  # at once, not when workers are up
            self._checked_prepare = prepare
        stream = self._streams.get(id(np_random))
        result = None
        if stream is not None and stream.matches(split, options, prepare):
            result = self._take(stream, seed)
        elif stream is not None:  # other options: the queued episodes are not these
            stream.clear()
        if result is None:
            self.stats["synchronous"] += 1
            result = generate(self.task, seed, split, options, prepare)
        else:
            self.stats["prefetched"] += 1
        self._refill(np_random, stream, split, options, prepare)
        return result

    def _take(self, stream: _Stream, seed: int) -> tuple[Episode, Any] | None:
        """The head of the queue when it is ``seed``'s episode, else ``None`` (queue cleared)."""
        if not stream.queue:
            return None
        predicted, future, index = stream.queue[0]
        if predicted != seed:  # something else drew from np_random (or it was replaced)
            stream.misses += 1
            if stream.misses == MAX_MISSES:
                warnings.warn(f"prefetch: {MAX_MISSES} episode seeds in a row were not the "
                              "predicted ones (something draws from the env's np_random "
                              "between resets); this generator's resets no longer prefetch",
                              RuntimeWarning, stacklevel=4)
            stream.clear()
            return None
        stream.misses = 0
        if len(self._inflight) > self.workers + 1 and future.cancel():
            stream.clear()  # queued behind other batches: generating here beats waiting
            return None
        stream.queue.popleft()
        try:
            return future.result()[index]
        except BrokenProcessPool as exc:
            self._give_up(exc)
        except Exception:  # noqa: BLE001 - generated again here: raises with a local traceback
            stream.clear()
        return None

    def _refill(self, np_random: np.random.Generator, stream: _Stream | None, split: str,
                options: dict[str, Any], prepare: Prepare | None) -> None:
        """Queue batches of predicted seeds until :data:`BATCH` episodes are ahead."""
        if self._executor is None:
            self.start()
            return  # resets generate here until a worker is up, never wait for one
        if not self._warm.done():
            return
        if self._warm.exception() is not None:  # e.g. the task's class is not importable there
            self._give_up(self._warm.exception())
            return
        if stream is None:
            stream = self._follow(np_random)
        if stream.misses >= MAX_MISSES:
            return
        if stream.clone is None:  # a new or cleared queue: predict from the generator's state
            stream.clone = _copy(np_random)
            stream.split, stream.options, stream.prepare = split, copy.deepcopy(options), prepare
        while len(stream.queue) < BATCH:
            seeds = [int(stream.clone.integers(self.bound)) for _ in range(BATCH)]
            future = self._executor.submit(_generate_batch, seeds, split, stream.options,
                                           prepare)
            self._inflight.add(future)
            future.add_done_callback(self._inflight.discard)
            stream.queue.extend((seed, future, i) for i, seed in enumerate(seeds))

    def _give_up(self, exc: BaseException) -> None:
        warnings.warn(f"prefetch: the worker processes failed ({exc!r}); generating episodes "
                      "in this process from now on", RuntimeWarning, stacklevel=5)
        self.close()
        self._broken = True

    def _follow(self, np_random: np.random.Generator) -> _Stream:
        """A queue for a generator seen for the first time, after dropping those of generators
        nobody else holds any more (replaced by ``reset(seed=...)``: never drawn again)."""
        for key, stream in list(self._streams.items()):
            if sys.getrefcount(stream.rng) <= 2:  # the stream's reference and the argument
                stream.clear()
                del self._streams[key]
        if len(self._streams) >= MAX_STREAMS:
            self._streams.pop(next(iter(self._streams))).clear()
        stream = self._streams[id(np_random)] = _Stream(np_random)
        return stream
