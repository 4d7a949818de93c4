"""An on-disk cache of sentence embeddings, keyed by model and text hash.

Embedding a 600-turn LoCoMo conversation with all-MiniLM-L6-v2 takes ~5 s on 2 cores
(~120 turns/s); a training run resets on the same conversations thousands of times and a
second run reads the same file again. The in-process LRU of
:class:`memgym.rewards.embedding.SentenceEncoder` covers the first; this store covers the
second: a run over a data file that was embedded before embeds nothing.

One SQLite file per model under ``$MEMGYM_CACHE_DIR/embeddings/`` (default
``~/.cache/memgym``): rows ``(sha1 of the text, float32 vector)``. SQLite (stdlib) because
SB3's subprocess envs and Ray workers read and write it concurrently; writes are one
transaction per batch, and a locked or unwritable file degrades to "not cached", never to an
error in the middle of training.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def cache_dir() -> Path:
    """``$MEMGYM_CACHE_DIR`` or ``~/.cache/memgym``."""
    root = os.environ.get("MEMGYM_CACHE_DIR")
    return Path(root).expanduser() if root else Path.home() / ".cache" / "memgym"


def model_key(model_path: str | Path) -> str:
    """A name for a model's cache file: its folder name + a hash of its config and weights'
    sizes (a different checkpoint under the same folder name gets another file)."""
    path = Path(model_path)
    digest = hashlib.sha1(str(path.name).encode())
    for name in ("config.json", "model.safetensors", "pytorch_model.bin"):
        file = path / name
        if file.is_file():
            digest.update(name.encode())
            digest.update(file.read_bytes() if name == "config.json"
                          else str(file.stat().st_size).encode())
    return f"{path.name}-{digest.hexdigest()[:12]}"


def text_key(text: str) -> bytes:
    return hashlib.sha1(text.encode("utf-8")).digest()


class EmbeddingStore:
    """``get`` / ``put`` float32 vectors by text in one SQLite file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._conn: sqlite3.Connection | None = None
        self._pid: int | None = None

    def _connect(self) -> sqlite3.Connection | None:
        if self._conn is not None and self._pid == os.getpid():
            return self._conn
        try:  # a forked worker must not reuse its parent's connection
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
            conn.execute("CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, vec BLOB)")
            conn.commit()
        except (OSError, sqlite3.Error):
            return None
        self._conn, self._pid = conn, os.getpid()
        return conn

    def get(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """The stored vectors of those ``texts`` that have one."""
        conn = self._connect()
        if conn is None or not texts:
            return {}
        by_key = {text_key(t): t for t in texts}
        found: dict[str, np.ndarray] = {}
        keys = list(by_key)
        try:
            for start in range(0, len(keys), 500):  # SQLite's bound-parameter limit
                part = keys[start:start + 500]
                rows = conn.execute(
                    f"SELECT key, vec FROM vectors WHERE key IN ({','.join('?' * len(part))})",
                    part).fetchall()
                for key, vec in rows:
                    found[by_key[bytes(key)]] = np.frombuffer(vec, dtype=np.float32).copy()
        except sqlite3.Error:
            return found
        return found

    def put(self, vectors: dict[str, np.ndarray]) -> None:
        """Store ``vectors`` (text -> vector); failures leave the store as it was."""
        conn = self._connect()
        if conn is None or not vectors:
            return
        rows = [(text_key(t), np.asarray(v, dtype=np.float32).tobytes())
                for t, v in vectors.items()]
        try:
            with conn:
                conn.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?)", rows)
        except sqlite3.Error:
            pass

    def __len__(self) -> int:
        conn = self._connect()
        return 0 if conn is None else int(conn.execute("SELECT COUNT(*) FROM vectors").fetchone()[0])
