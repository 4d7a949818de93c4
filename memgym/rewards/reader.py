"""The default reader: answers questions from memory entries, deterministically and cheaply.

A reader sees only the entry texts: the ``always_shown`` entries (the ``core`` tier) plus the
``top_k`` entries a retriever ranks highest for each query. By default it never sees
timestamps, ids or entry order (ties are broken by text), so a memory that keeps both a stale
and a fresh value of a fact gets an ambiguous answer: the memory manager is rewarded for
overwriting. With ``time_aware=True`` (``reader_params``) the latest statement of a fact wins
instead (:class:`RankingReader`).

Answering (shared by every backend, see :class:`RankingReader`):

1. A possessive question (``What is Ann Lee's manager's city?``, see
   :func:`memgym.facts.parse_question`) is resolved hop by hop: for each attribute the reader
   retrieves with ``"<subject> <attribute>"``, extracts facts from what it read and keeps those
   about that subject and attribute. No value -> ``"unknown"`` (mode ``"abstain"``); one
   value -> the next subject (or the answer); several -> every branch is followed and the
   final values are joined with ``" or "`` in sorted order (EM fails, F1 is partial).
2. A ``When ...`` question: the first date in the best-ranked entry read that has one.
3. Anything else: the best-ranked entry's text (mode ``"context"``, scored with ``contains``).

Backends: :class:`BM25Reader` (BM25 as ``bm25s`` computes it, the default) and
:class:`memgym.rewards.embedding.EmbeddingReader` (all-MiniLM-L6-v2; imports torch lazily).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol, runtime_checkable

import numpy as np
from bm25s.stopwords import STOPWORDS_EN

from memgym.facts import (
    content_stems, extract_fact, fact_key, find_date, is_negated, is_yes_no, normalize,
    parse_question, tokenize,
)

ABSTAIN_TEXT = "unknown"
#: Share of a yes / no question's content words the best entry must hold for "yes".
YES_OVERLAP = 0.5
#: Candidate subjects followed per hop when an intermediate hop is ambiguous (bounds the work).
MAX_BRANCHES = 4
_WHEN = re.compile(r"\s*when\b", re.IGNORECASE)
_STOPWORDS = frozenset(STOPWORDS_EN)

#: A ranking function over a fixed entry list: queries -> entry indices per query, best first.
Ranker = Callable[[Sequence[str]], list[list[int]]]


@dataclass(frozen=True)
class ReaderAnswer:
    """One answer: its text, how it was produced and which entries the reader read."""

    text: str  #: the answer string (``"unknown"`` when nothing was found)
    mode: str  #: ``"extract"`` | ``"context"`` | ``"abstain"``
    used: tuple[int, ...] = ()  #: indices (into the entries list) of the entries read


ABSTAIN = ReaderAnswer(ABSTAIN_TEXT, "abstain", ())


@runtime_checkable
class Reader(Protocol):
    """Anything that answers a batch of questions from a list of memory entry texts."""

    def answer_all(
        self, questions: Sequence[str], entries: Sequence[str], always_shown: Sequence[int] = ()
    ) -> list[ReaderAnswer]: ...


def order_by_score(scores: np.ndarray, entries: Sequence[str], keep: np.ndarray) -> list[int]:
    """Indices with ``keep`` true, best score first; ties broken by text, never by position."""
    values = scores.tolist()  # Python floats: cheaper to compare than numpy scalars
    return sorted(np.flatnonzero(keep).tolist(), key=lambda i: (-values[i], entries[i], i))


@dataclass
class _Chain:
    """The state of a possessive question being resolved hop by hop."""

    attrs: tuple[str, ...]
    subjects: list[str]
    hop: int = 0


def _hop_queries(chains: dict[int, _Chain]) -> list[tuple[int, str]]:
    """(question, query) for the current hop of every chain, one per candidate subject."""
    return [(qi, f"{s} {c.attrs[c.hop]}") for qi, c in chains.items() for s in c.subjects]


class RankingReader:
    """Answering logic shared by the backends; subclasses implement :meth:`ranker`.

    ``time_aware=True`` reads the entries' stream times (``answer_all(..., times=)``: the
    env passes the time of the chunk each entry was written from): among the values an
    extraction finds for one subject and attribute, only those of the latest entry count, as
    mem0's time-aware retrieval and Zep's fact validity do. A memory that keeps both a stale
    and a fresh value then answers with the fresh one, so ADD-only managers are not scored as
    stale. Without ``times`` it reads as the default reader.
    """

    def __init__(self, top_k: int = 3, time_aware: bool = False) -> None:
        if top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {top_k}")
        self.top_k, self.time_aware = top_k, bool(time_aware)

    def ranker(self, entries: Sequence[str]) -> Ranker:
        """Index ``entries`` once; the result ranks any batch of queries against them."""
        raise NotImplementedError

    def rank(self, queries: Sequence[str], entries: Sequence[str]) -> list[list[int]]:
        """Entry indices per query, most relevant first (irrelevant ones may be left out)."""
        return self.ranker(entries)(queries) if entries else [[] for _ in queries]

    def answer_all(
        self, questions: Sequence[str], entries: Sequence[str], always_shown: Sequence[int] = (),
        times: Sequence[int] | None = None,
    ) -> list[ReaderAnswer]:
        """Answer every question from ``entries`` (see the module docstring); ``times``: the
        stream time of each entry, read by a ``time_aware`` reader."""
        entries = list(entries)
        if times is not None and len(times) != len(entries):
            raise ValueError(f"times: {len(times)} values for {len(entries)} entries")
        stamps = list(times) if self.time_aware and times is not None else None
        bad = [i for i in always_shown if not 0 <= i < len(entries)]
        if bad:
            raise ValueError(f"always_shown indices {bad} out of range for {len(entries)} entries")
        if not entries:
            return [ABSTAIN for _ in questions]
        rank = self.ranker(entries)
        shown = frozenset(always_shown)
        answers: list[ReaderAnswer | None] = [None] * len(questions)
        used: list[set[int]] = [set() for _ in questions]
        chains: dict[int, _Chain] = {}
        first: list[tuple[int, str]] = []  # (question, query) of non-chain questions
        for qi, q in enumerate(questions):
            parsed = None if is_yes_no(q) else parse_question(q)
            if parsed is not None:
                chains[qi] = _Chain(parsed[1], [parsed[0]])
            else:
                first.append((qi, q))

        # Round 0 ranks the non-chain questions together with every chain's first hop; later
        # rounds rank the pending hops of all chains in one batch (one index, batched queries).
        pending = _hop_queries(chains)
        rankings = rank([q for _, q in first] + [q for _, q in pending])
        for (qi, q), ranking in zip(first, rankings):
            read = self._read(ranking, shown)
            used[qi].update(read)
            answers[qi] = self._answer_plain(q, entries, ranking, read)
        while chains:
            by_q: dict[int, list[list[int]]] = {}
            for (qi, _), ranking in zip(pending, rankings[len(rankings) - len(pending):]):
                by_q.setdefault(qi, []).append(ranking)
            for qi, per_subject in by_q.items():
                chain = chains[qi]
                attr = chain.attrs[chain.hop]
                values: dict[str, str] = {}  # normalized value -> display text (min, stable)
                for subject, ranking in zip(chain.subjects, per_subject):
                    read = self._read(ranking, shown)
                    used[qi].update(read)
                    key = fact_key(subject, attr)
                    facts = [(i, norm, fact.value) for i in read
                             if (fact := extract_fact(entries[i])) is not None
                             and (norm := normalize(fact.value)) and fact.key == key]
                    if stamps is not None and facts:  # the latest statement of the fact wins
                        latest = max(stamps[i] for i, _, _ in facts)
                        facts = [f for f in facts if stamps[f[0]] == latest]
                    for _, norm, value in facts:
                        values[norm] = min(values.get(norm, value), value)
                found = [values[n] for n in sorted(values)]
                read_so_far = tuple(sorted(used[qi]))
                if not found:
                    answers[qi] = ReaderAnswer(ABSTAIN_TEXT, "abstain", read_so_far)
                    del chains[qi]
                elif chain.hop == len(chain.attrs) - 1:
                    answers[qi] = ReaderAnswer(" or ".join(found), "extract", read_so_far)
                    del chains[qi]
                else:
                    chain.hop += 1
                    chain.subjects = found[:MAX_BRANCHES]
            pending = _hop_queries(chains)
            rankings = rank([q for _, q in pending]) if pending else []
        return [a if a is not None else ABSTAIN for a in answers]

    def _read(self, ranking: list[int], shown: frozenset[int]) -> list[int]:
        """What the reader reads for one query: the top_k ranked entries plus the core ones.

        Ranked entries come first in rank order; core entries the ranker left out follow in
        index order (their relative order only matters for tie-free fact extraction).
        """
        top = ranking[: self.top_k]
        rest = sorted(shown.difference(top))
        return top + rest

    def _answer_plain(
        self, question: str, entries: list[str], ranking: list[int], read: list[int]
    ) -> ReaderAnswer:
        """Temporal and answer-in-context questions: only ranked (relevant) entries count."""
        read_set = set(read)
        relevant = [i for i in ranking if i in read_set]
        used = tuple(sorted(read_set))
        if is_yes_no(question):
            if not relevant:
                return ReaderAnswer(ABSTAIN_TEXT, "abstain", used)
            return ReaderAnswer(yes_or_no(question, entries[relevant[0]]), "extract", used)
        if _WHEN.match(question):
            for i in relevant:
                date = find_date(entries[i])
                if date is not None:
                    return ReaderAnswer(date, "extract", used)
            return ReaderAnswer(ABSTAIN_TEXT, "abstain", used)
        if relevant:
            return ReaderAnswer(entries[relevant[0]], "context", used)
        return ReaderAnswer(ABSTAIN_TEXT, "abstain", used)


def yes_or_no(question: str, entry: str) -> str:
    """``"yes"`` / ``"no"`` for a yes / no question from its best-ranked entry.

    If the entry states a fact (:func:`memgym.facts.extract_fact`) whose subject and
    attribute the question names, the answer is yes iff the question also names the fact's
    value (``Is Ann's city Oslo?`` against ``Ann's city is Paris.`` -> no). Otherwise yes iff
    the entry holds at least :data:`YES_OVERLAP` of the question's content words (stemmed)
    and both or neither are negated (``Did Mia stop the drug?`` / ``Mia never stopped the
    drug`` -> no). A closed-world rule: what the best entry does not say is "no".
    """
    asked = content_stems(question)
    fact = extract_fact(entry)
    if fact is not None:
        about = content_stems(fact.subject) | content_stems(fact.attribute)
        if about and about <= asked:
            return "yes" if content_stems(fact.value) <= asked else "no"
    if not asked:
        return "no"
    overlap = len(asked & content_stems(entry)) / len(asked)
    agrees = is_negated(question) == is_negated(entry)
    return "yes" if overlap >= YES_OVERLAP and agrees else "no"


@lru_cache(maxsize=65536)
def bm25_tokens(text: str) -> tuple[str, ...]:
    """BM25 terms: lower-case alphanumeric tokens of 2+ characters minus English stopwords.

    The 2-character floor matches ``bm25s.tokenize`` and drops the ``s`` of possessives.
    """
    return tuple(t for t in tokenize(text) if len(t) > 1 and t not in _STOPWORDS)


@lru_cache(maxsize=1024)
def _lucene_idf(n_docs: int) -> np.ndarray:
    """float32 idf of a term in df = 0 .. n_docs of n_docs documents (0 for df = 0), with
    ``math.log`` as bm25s's ``_score_idf_lucene`` (np.log may differ in the last bit)."""
    idf = np.array([0.0] + [math.log(1 + (n_docs - df + 0.5) / (df + 0.5))
                            for df in range(1, n_docs + 1)], dtype=np.float32)
    idf.flags.writeable = False  # shared by every call through the cache
    return idf


def lucene_bm25_matrix(docs: Sequence[Sequence[int]], n_vocab: int, k1: float = 1.5,
                       b: float = 0.75) -> np.ndarray:
    """Dense (docs x vocab) BM25 term scores, Lucene variant, equal bit for bit to the
    ``scores`` matrix ``bm25s.BM25(k1, b).index`` builds (``tests/test_reader_metrics.py``).

    Written out instead of calling bm25s because a memory is a corpus of 1-100 entries that
    is re-indexed for every batch of questions: bm25s's index build (progress bars, a
    Counter per document, the sparse layout) cost ~0.25 ms per call: 60% of the reader's time
    and ~40% of the pooled batched env's; this is a few array ops.
    The dtypes follow bm25s (float32 tf and idf, float64 length norm, float32 result).
    """
    n_docs = len(docs)
    lengths = np.fromiter((len(d) for d in docs), dtype=np.int64, count=n_docs)
    terms = np.fromiter((t for d in docs for t in d), dtype=np.int64, count=int(lengths.sum()))
    cells = np.repeat(np.arange(n_docs), lengths) * n_vocab + terms
    tf = np.bincount(cells, minlength=n_docs * n_vocab).reshape(n_docs, n_vocab)
    tf = tf.astype(np.float32)
    present = tf > 0
    idf = _lucene_idf(n_docs)[present.sum(axis=0)]
    with np.errstate(divide="ignore", invalid="ignore"):  # all-empty memories: no terms at all
        norm = k1 * ((1 - b) + b * lengths / lengths.mean())
        scores = (idf * (tf / (norm[:, None] + tf))).astype(np.float32)
    return np.where(present, scores, np.float32(0.0)).astype(np.float64)


class BM25Reader(RankingReader):
    """Ranks entries with BM25 (Lucene variant, as ``bm25s``); entries with score 0 are not
    read."""

    def __init__(self, top_k: int = 3, k1: float = 1.5, b: float = 0.75,
                 time_aware: bool = False) -> None:
        super().__init__(top_k, time_aware)
        self.k1, self.b = k1, b

    def scorer(self, entries: Sequence[str]) -> Callable[[Sequence[str]], np.ndarray]:
        """Index ``entries`` once; the result gives the (queries x entries) BM25 scores of any
        batch of queries (what :meth:`ranker` orders; selection features read them too)."""
        docs = [bm25_tokens(e) for e in entries]
        # A sorted vocabulary (not bm25s's set order) makes scores bit-identical whatever the
        # entry order or hash seed, so tie-breaking by text is really order-free.
        vocab = {t: j for j, t in enumerate(sorted({t for d in docs for t in d} | {""}))}
        # Dense doc x term score matrix: memories are small, and one matmul scores all queries.
        dense = lucene_bm25_matrix([[vocab[t] for t in d] for d in docs], len(vocab),
                                   self.k1, self.b)

        def score(queries: Sequence[str]) -> np.ndarray:
            counts = np.zeros((len(queries), len(vocab)), dtype=np.float64)
            for qi, q in enumerate(queries):
                for t in bm25_tokens(q):
                    j = vocab.get(t)
                    if j is not None:
                        counts[qi, j] += 1.0  # repeated query terms count again, as in bm25s
            # Summed term by term in vocabulary order, not by a matmul: BLAS may split a dot
            # product across SIMD lanes, and one defined order is what lets the compiled
            # reader (memgym.rewards.reader_kernel) give the same floats, hence the same ties.
            scores = np.zeros((len(queries), len(entries)))
            for j in np.flatnonzero(counts.any(axis=0)).tolist():
                scores += counts[:, j, None] * dense[:, j]
            return scores

        return score

    def ranker(self, entries: Sequence[str]) -> Ranker:
        score = self.scorer(entries)

        def rank(queries: Sequence[str]) -> list[list[int]]:
            return [order_by_score(s, entries, s > 0) for s in score(queries)]

        return rank


#: Reader backends by name; values are "module:Class" so heavy backends import lazily.
READERS: dict[str, str] = {
    "bm25": "memgym.rewards.reader:BM25Reader",
    "embedding": "memgym.rewards.embedding:EmbeddingReader",
    "llm": "memgym.llm.answerer:LLMReader",  # a local LM answering from memory (transformers)
    "llm_endpoint": "memgym.llm.answerer:endpoint_reader",  # an OpenAI-compatible server
}


def make_reader(name: str = "bm25", **params: Any) -> Reader:
    """Build the reader called ``name`` (see :data:`READERS`) with keyword ``params``."""
    if name not in READERS:
        raise ValueError(f"unknown reader {name!r}; expected one of {', '.join(sorted(READERS))}")
    import importlib

    module, cls = READERS[name].split(":")
    return getattr(importlib.import_module(module), cls)(**params)
