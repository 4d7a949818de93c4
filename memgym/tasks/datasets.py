"""Shared code of the dataset adapters: file reading with precise errors, splits, formats.

memgym never downloads a benchmark: users fetch the files themselves and pass their path
(``gym.make("memgym/LoCoMo-v0", data_path=...)`` or ``memgym eval --env-arg data_path=...``).
Each adapter (:mod:`memgym.tasks.locomo`, :mod:`memgym.tasks.longmemeval`,
:mod:`memgym.tasks.memoryagentbench`, :mod:`memgym.tasks.jsonl_stream`) subclasses
:class:`DatasetTask`, which reads and validates the whole file at construction — a malformed
file fails before any training with the file, the record and the field, e.g.
``locomo10.json: sample 3: qa[5]: missing field 'question'`` — and serves one record per
episode.

Split rule (:func:`partition`): every record has a stable id (LoCoMo ``sample_id``,
LongMemEval ``question_id``, MemoryAgentBench source + a hash of the context, JSONL
``labels.record_id``). ``sha1(id)`` mapped to [0, 1) puts the id in ``train`` below 0.6,
``val`` below 0.8 and ``heldout`` above (:data:`memgym.tasks.base.SPLIT_SHARES`), so adding
records never moves the others and records sharing an id (the same document) share a split.
If that leaves a split empty and there are at least 3 distinct ids, the ids are instead
ranked by their hash and cut by quota (``val`` and ``heldout`` get ``max(1, round(0.2 n))``
each, ``train`` the rest). A file with fewer than 3 distinct ids cannot be partitioned:
every split then holds every record. ``episode(seed, split)`` plays record
``seed % n_in_split`` of the split (records of a split in file order), so
``memgym eval --episodes N`` walks the split.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import json
import os
from collections.abc import Iterator, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar

from memgym.episode import SPLITS, Chunk, Episode, Question
from memgym.tasks.base import SPLIT_SHARES, check_split, resolve_params
from memgym.tasks.windows import check_window, cut_window, window_rng

#: Format name -> adapter class (``"module:Class"``), as ``memgym data --format`` names them.
FORMATS: dict[str, str] = {
    "locomo": "memgym.tasks.locomo:LoCoMoTask",
    "longmemeval": "memgym.tasks.longmemeval:LongMemEvalTask",
    "memoryagentbench": "memgym.tasks.memoryagentbench:MemoryAgentBenchTask",
    "jsonl": "memgym.tasks.jsonl_stream:JSONLStreamTask",
}
_TYPE_NAMES = {str: "a string", list: "a list", dict: "an object", int: "an integer",
               bool: "a boolean", float: "a number"}


class DataError(ValueError):
    """A malformed data file; the message names the file, the record and the field."""


# -- reading files ----------------------------------------------------------------------------
def data_file(data_path: str | os.PathLike | None, env_id: str, example: str) -> Path:
    """The data file of an adapter; a clear error when it is not given or does not exist."""
    if data_path is None or str(data_path) == "":
        raise ValueError(
            f"{env_id} reads a local data file, and none was given: pass data_path, e.g. "
            f'gym.make("{env_id}", data_path="/path/{example}") or '
            f"memgym eval --env {env_id} --env-arg data_path=/path/{example} "
            "(memgym never downloads benchmarks; fetch the file yourself)")
    path = Path(data_path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"{env_id}: data file not found: {path}")
    return path


def _stat_key(path: Path) -> tuple[str, int, int]:
    st = path.stat()
    return str(path.resolve()), st.st_mtime_ns, st.st_size


def read_json(path: Path) -> Any:
    """Parse a JSON file; invalid JSON names the file, line and column."""
    return _read_json(*_stat_key(path))


@lru_cache(maxsize=1)  # format detection and the adapter read the same file back to back
def _read_json(resolved: str, mtime_ns: int, size: int) -> Any:
    name = Path(resolved).name
    try:
        with open(resolved, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as exc:
        raise DataError(f"{name}: invalid JSON at line {exc.lineno}, column {exc.colno}: "
                        f"{exc.msg} (truncated or malformed file?)") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{name}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def read_json_lines(path: Path) -> list[tuple[str, Any]]:
    """``("line N", value)`` for each non-empty line of a JSON Lines file."""
    rows = []
    try:
        with open(path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    rows.append((f"line {lineno}", json.loads(line)))
                except json.JSONDecodeError as exc:
                    raise DataError(f"{path.name}: line {lineno}: invalid JSON at column "
                                    f"{exc.colno}: {exc.msg} (truncated or malformed line?)"
                                    ) from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{path.name}: not UTF-8 text ({exc.reason})") from None
    return rows


def read_parquet(path: Path) -> list[dict[str, Any]]:
    """Rows of a parquet file as plain dicts (needs ``pyarrow``, a dependency of ``datasets``)."""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise DataError(f"{path.name}: reading parquet needs pyarrow (pip install pyarrow), "
                        "or convert the file to JSON Lines") from None
    try:
        return pq.read_table(path).to_pylist()
    except Exception as exc:  # pyarrow raises its own error types for corrupt files
        raise DataError(f"{path.name}: not a readable parquet file ({exc})") from None


def load_rows(path: Path, noun: str) -> list[tuple[str, Any]]:
    """``(where, record)`` pairs of a ``.json`` (a list, or one record), ``.jsonl`` or
    ``.parquet`` file; ``where`` is ``"<file>: <noun> i"`` (or ``line N`` / ``row i``)."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        rows = [(f"row {i}", r) for i, r in enumerate(read_parquet(path))]
    elif suffix in (".jsonl", ".ndjson"):
        rows = read_json_lines(path)
    else:
        data = read_json(path)
        if isinstance(data, dict):
            data = [data]
        if not isinstance(data, list):
            raise DataError(f"{path.name}: expected a list of {noun}s or one {noun} object, "
                            f"got {type_name(data)}")
        rows = [(f"{noun} {i}", r) for i, r in enumerate(data)]
    if not rows:
        raise DataError(f"{path.name}: no {noun}s in the file")
    return [(f"{path.name}: {where}", rec) for where, rec in rows]


# -- checking fields --------------------------------------------------------------------------
def type_name(value: Any) -> str:
    return "null" if value is None else _TYPE_NAMES.get(type(value), type(value).__name__)


def expect(value: Any, kind: type | tuple[type, ...], where: str) -> Any:
    """``value`` if it has type ``kind`` (bool is not an integer), else a :class:`DataError`."""
    kinds = kind if isinstance(kind, tuple) else (kind,)
    ok = isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds)
    if not ok:
        want = " or ".join(_TYPE_NAMES.get(k, k.__name__) for k in kinds)
        raise DataError(f"{where} must be {want}, got {type_name(value)}")
    return value


def field(obj: Any, key: str, kind: type | tuple[type, ...], where: str, *,
          required: bool = True, default: Any = None) -> Any:
    """``obj[key]`` checked against ``kind``; ``where`` names the record (``"f.json: sample 3"``).

    A missing (or null) optional field gives ``default``.
    """
    expect(obj, dict, where)
    if key not in obj or (obj[key] is None and not required):
        if required:
            raise DataError(f"{where}: missing field {key!r}")
        return default
    return expect(obj[key], kind, f"{where}: field {key!r}")


def answer_text(value: Any, where: str) -> str:
    """A gold answer as text: numbers in the JSON (``2022``, ``3.5``) become strings."""
    expect(value, (str, int, float), where)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# -- splits -----------------------------------------------------------------------------------
def record_bucket(record_id: str) -> float:
    """A stable position of ``record_id`` in [0, 1) (sha1; never Python's salted hash)."""
    return int.from_bytes(hashlib.sha1(record_id.encode()).digest()[:8], "big") / 2**64


def partition(record_ids: Sequence[str]) -> dict[str, tuple[int, ...]]:
    """Record indices per split, in file order (see the module docstring for the rule)."""
    distinct = sorted(set(record_ids), key=lambda r: (record_bucket(r), r))
    n = len(distinct)
    if n < 3:
        return {s: tuple(range(len(record_ids))) for s in SPLITS}
    split_of: dict[str, str] = {}
    for rid in distinct:
        lo, bucket = 0.0, record_bucket(rid)
        for s in SPLITS:
            lo += SPLIT_SHARES[s]
            if bucket < lo or s == SPLITS[-1]:
                split_of[rid] = s
                break
    if len(set(split_of.values())) < len(SPLITS):  # tiny file: cut the hash order by quota
        n_val = max(1, round(SPLIT_SHARES["val"] * n))
        n_held = max(1, round(SPLIT_SHARES["heldout"] * n))
        n_train = n - n_val - n_held
        for rank, rid in enumerate(distinct):
            split_of[rid] = "train" if rank < n_train else "val" if rank < n - n_held else "heldout"
    return {s: tuple(i for i, r in enumerate(record_ids) if split_of[r] == s) for s in SPLITS}


# -- the adapter base class ---------------------------------------------------------------------
@lru_cache(maxsize=4)  # vector envs build one task per sub-env from the same file
def _parse_cached(cls: type, resolved: str, mtime_ns: int, size: int) -> tuple[tuple, tuple]:
    records, ids = cls.parse(Path(resolved))
    _read_json.cache_clear()  # the raw JSON is no longer needed once parsed
    return tuple(records), tuple(ids)


class DatasetTask:
    """One record of a local benchmark file per episode (see the module docstring).

    Subclasses set the class attributes, :meth:`parse` the file into immutable records with
    their ids (raising :class:`DataError` on anything malformed) and :meth:`build` an
    episode's chunks, questions and labels from one record.
    """

    name: ClassVar[str] = ""
    env_id: ClassVar[str] = ""          #: the registered id, named in error messages
    example_file: ClassVar[str] = ""    #: the benchmark's usual file name
    params_cls: ClassVar[type]          #: frozen dataclass of the task parameters
    #: Real text: the structured env's default ``features`` (the fact parser reads ~1 turn in
    #: 370 of LoCoMo), with embeddings kept on disk (a file's texts recur across runs).
    default_features: ClassVar[str] = "embedding"
    cache_embeddings: ClassVar[bool] = True

    def __init__(self, data_path: str | os.PathLike | None = None, *,
                 window_sessions: Any = None, **params: Any) -> None:
        self.window = check_window(window_sessions)
        self.params = resolve_params(self.params_cls, None, params)
        self.path = data_file(data_path, self.env_id, self.example_file)
        self.records, self.record_ids = _parse_cached(type(self), *_stat_key(self.path))
        self.splits: dict[str, tuple[int, ...]] = self.partition()

    @classmethod
    def parse(cls, path: Path) -> tuple[list[Any], list[str]]:
        raise NotImplementedError

    def build(self, record: Any, params: Any) -> tuple[list[Chunk], list[Question], dict]:
        raise NotImplementedError

    def partition(self) -> dict[str, tuple[int, ...]]:
        return partition(self.record_ids)

    def __len__(self) -> int:
        return len(self.records)

    def index_of(self, seed: int, split: str) -> int:
        """The record played as episode ``seed`` of ``split``."""
        check_split(split)
        if seed < 0:
            raise ValueError(f"episode seed must be >= 0, got {seed}")
        indices = self.splits[split]
        if not indices:
            raise ValueError(f"{self.path.name}: split {split!r} holds no records")
        return indices[seed % len(indices)]

    def episode(self, seed: int, split: str = "train", **overrides: Any) -> Episode:
        """Record ``seed % n`` of the ``n`` records of ``split``; ``overrides`` are task
        parameters for this episode only (e.g. ``chunking="session"``). With
        ``window_sessions`` (here or at construction) the episode is a random window of
        whole sessions of that record, drawn from ``seed`` (:mod:`memgym.tasks.windows`)."""
        window = check_window(overrides.pop("window_sessions", self.window))
        params = resolve_params(self.params_cls, self.params, overrides)
        episode = self.make_episode(self.index_of(seed, split), int(seed), split, params)
        if window is None:
            return episode
        return cut_window(episode, window, window_rng(self.name, split, int(seed)))

    def make_episode(self, index: int, seed: int, split: str, params: Any) -> Episode:
        chunks, questions, labels = self.build(self.records[index], params)
        where = f"{self.path.name}: record {index} ({self.record_ids[index]})"
        if not chunks:
            raise DataError(f"{where}: no text to stream")
        return Episode(
            chunks=tuple(chunks), questions=tuple(questions), task=self.name, split=split,
            seed=seed, params={"data_file": self.path.name, **dataclasses.asdict(params)},
            labels={"record_id": self.record_ids[index], "record_index": index, **labels})

    def records_in_order(self, split: str = "all") -> Iterator[tuple[int, str, int]]:
        """``(record index, split, seed)`` of each record of ``split`` (``"all"``: every
        record once, in file order, with the split the partition gives it)."""
        if split != "all":
            check_split(split)
        seen: dict[int, tuple[str, int]] = {}
        for s in SPLITS:
            for seed, index in enumerate(self.splits[s]):
                if split == s or (split == "all" and index not in seen):
                    seen[index] = (s, seed)
        for index in sorted(seen):
            yield index, *seen[index]

    def episodes(self, split: str = "all", **overrides: Any) -> Iterator[Episode]:
        """Every episode of ``split`` (or of the whole file), each reproducible with
        ``episode(ep.seed, ep.split)``."""
        params = resolve_params(self.params_cls, self.params, overrides)
        for index, s, seed in self.records_in_order(split):
            yield self.make_episode(index, seed, s, params)


# -- formats ------------------------------------------------------------------------------------
def detect_format(path: str | os.PathLike) -> str:
    """The format of a data file, from its content (see :data:`FORMATS`)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"data file not found: {path}")
    if path.suffix.lower() == ".parquet":
        return "memoryagentbench"
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        rows = read_json_lines(path)
        first = rows[0][1] if rows else None
    else:
        data = read_json(path)
        first = data[0] if isinstance(data, list) and data else data
    keys = set(first) if isinstance(first, dict) else set()
    if {"chunks", "questions"} <= keys:
        return "jsonl"
    if "conversation" in keys or {"qa", "sample_id"} & keys:
        return "locomo"
    if {"haystack_sessions", "question_id"} & keys:
        return "longmemeval"
    if {"context", "questions"} <= keys:
        return "memoryagentbench"
    shown = ", ".join(sorted(keys)[:8]) or type_name(first)
    raise DataError(f"{path.name}: cannot tell the format from the first record (keys: "
                    f"{shown}); pass one of {', '.join(FORMATS)}")


def open_dataset(path: str | os.PathLike, fmt: str = "auto", **params: Any) -> DatasetTask:
    """The adapter for ``path`` in format ``fmt`` (``"auto"``: :func:`detect_format`)."""
    if fmt == "auto":
        fmt = detect_format(path)
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; expected auto or one of {', '.join(FORMATS)}")
    module, _, cls = FORMATS[fmt].partition(":")
    return getattr(importlib.import_module(module), cls)(data_path=path, **params)
