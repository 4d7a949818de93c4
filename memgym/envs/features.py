"""Observation features of the structured environment, from visible text only.

Per chunk (computed once at reset): a hashed bag of words, token count and the fact the
rule-based extractor (:mod:`memgym.facts`) parses from the text, as integer ids of its key,
subject, attribute and value. Per memory slot the env keeps the same arrays for the text it
holds, so the relation of every slot to what is in view (same key / subject / attribute /
value, token Jaccard, similarity) is a handful of vectorised numpy ops per step — the
prototype showed such per-slot relation features are what lets a small policy learn
(DESIGN.md §4a), and computing them incrementally is what keeps the step fast.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from memgym.episode import Episode
from memgym.facts import (
    STOPWORDS, extract_fact, is_hedged, normalize, parse_question, tokenize,
)

#: bow_dim -> token -> bucket (-1: stopword), shared by every episode of the process.
_BUCKETS: dict[int, dict[str, int]] = {}

#: Names of the per-slot feature columns, before the tier one-hot.
SLOT_FEATURES: tuple[str, ...] = (
    "occupied", "age", "since_update", "hits", "tokens", "hedged",
    "same_key", "same_subject", "same_attribute", "same_value", "jaccard",
)
#: Names of the view feature columns after the bag of words.
VIEW_FEATURES: tuple[str, ...] = ("tokens", "has_fact", "hedged", "is_recalled", "is_question")
#: Names of the columns of each ``archive`` row (the most recently archived entries first).
ARCHIVE_FEATURES: tuple[str, ...] = ("present", "same_key", "jaccard", "age")
TOKEN_SCALE = 64.0  # token counts are divided by this and clipped to 1


class Vocabulary:
    """Integer ids for strings, per episode (ids mean nothing across episodes)."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}

    def __call__(self, value: str | None) -> int:
        if value is None:
            return -1
        return self.ids.setdefault(value, len(self.ids))


@dataclass
class TextFeatures:
    """Features of a batch of texts (rows)."""

    bow: np.ndarray  # (n, dim) float32, binary
    count: np.ndarray  # (n,) number of bow buckets set
    tokens: np.ndarray  # (n,) token counts
    hedged: np.ndarray  # (n,) 1.0 if the text uses a hedge word
    key: np.ndarray  # (n,) int: fact key id, -1 if no fact
    subject: np.ndarray
    attribute: np.ndarray
    value: np.ndarray


def no_text(dim: int) -> TextFeatures:
    """The features of one empty row: what an observation shows when nothing is in view."""
    zero = np.zeros(1, dtype=np.float32)
    none = np.full(1, -1, dtype=np.int64)
    return TextFeatures(np.zeros((1, dim), dtype=np.float32), zero, zero, zero, none, none,
                        none, none)


class EpisodeFeatures:
    """Per-chunk features of one episode plus on-demand features of other texts."""

    def __init__(self, episode: Episode, dim: int, parse: bool = True) -> None:
        self.dim, self.parse = dim, parse
        self.vocab = {name: Vocabulary() for name in ("key", "subject", "attribute", "value")}
        self.texts = [c.render() for c in episode.chunks]
        self.chunks = self.encode(self.texts)

    def features_of(self, text: str, source: int | None) -> TextFeatures:
        """Features of one text: the precomputed row when it is chunk ``source``'s text."""
        if source is not None and self.texts[source] == text:
            c, i = self.chunks, slice(source, source + 1)
            return TextFeatures(c.bow[i], c.count[i], c.tokens[i], c.hedged[i], c.key[i],
                                c.subject[i], c.attribute[i], c.value[i])
        return self.encode([text])

    def _buckets(self, text: str) -> set[int]:
        """``set(bow_buckets(text, dim))`` with a per-token table: texts rarely repeat across
        episodes but tokens do, so hashing each token once halves the cost of a reset."""
        table = _BUCKETS.setdefault(self.dim, {})
        out = set()
        for token in tokenize(text):
            bucket = table.get(token)
            if bucket is None:
                bucket = table[token] = -1 if token in STOPWORDS else zlib.crc32(token.encode()) % self.dim
            if bucket >= 0:
                out.add(bucket)
        return out

    def encode(self, texts: list[str]) -> TextFeatures:
        n = len(texts)
        bow = np.zeros((n, self.dim), dtype=np.float32)
        ids = np.full((4, n), -1, dtype=np.int64)
        tokens = np.zeros(n, dtype=np.float32)
        hedged = np.zeros(n, dtype=np.float32)
        rows: list[int] = []
        cols: list[int] = []
        for i, text in enumerate(texts):
            hedged[i] = is_hedged(text)
            buckets = self._buckets(text)
            rows.extend([i] * len(buckets))  # one fancy assignment for the batch, not per text
            cols.extend(buckets)
            tokens[i] = len(tokenize(text))
            if not self.parse:  # features="embedding": no parser columns
                continue
            fact = extract_fact(text)
            if fact is not None:
                subject = normalize(fact.subject)
                ids[:, i] = (
                    self.vocab["key"](f"{subject}|{fact.attribute}"),
                    self.vocab["subject"](subject),
                    self.vocab["attribute"](fact.attribute),
                    self.vocab["value"](normalize(fact.value)),
                )
            else:
                parsed = parse_question(text)  # a question in view: relate by its subject
                if parsed is not None:
                    subject = normalize(parsed[0])
                    ids[0, i] = self.vocab["key"](f"{subject}|{parsed[1][0]}")
                    ids[1, i] = self.vocab["subject"](subject)
                    ids[2, i] = self.vocab["attribute"](parsed[1][0])
        bow[rows, cols] = 1.0
        return TextFeatures(bow, bow.sum(axis=1), tokens, hedged, *ids)
