"""One episode's reader work done ahead: the arrays the compiled BM25 reader answers from.

:class:`memgym.rewards.reader.BM25Reader` re-tokenises, re-indexes and re-parses the memory
for every batch of questions. When every memory entry is the text of a stream chunk (the
batched environment writes chunk texts only), all of that is a function of the episode, so
it is done once here (and cached with the episode in a pool): BM25 terms of every chunk and
every query, the fact the parser reads in every chunk, dates, the order of texts for
tie-breaking, and the queries of every possible hop of a possessive question. The kernel
(:mod:`memgym.rewards.reader_kernel`) then answers from chunk ids alone, with the same
answers as ``BM25Reader`` (``tests/test_reader_compiled.py`` compares them on thousands of
random memories).

Vocabularies are sorted, so ordering by id is ordering by string: term ids in the order the
Python reader's sorted vocabulary sums BM25 terms, normalised values in the order it sorts
found values, display values so that the smallest id is ``min`` of the strings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from memgym.facts import extract_fact, fact_key, find_date, is_yes_no, normalize, parse_question
from memgym.rewards.reader import (
    _WHEN, ABSTAIN, ReaderAnswer, bm25_tokens, yes_or_no,
)

#: Question kinds (``ReaderTables.q_kind``), the branches of ``RankingReader.answer_all``.
CHAIN, YES_NO, WHEN, CONTEXT = range(4)
#: Answer modes the kernel returns (``answer_memory``'s ``out_mode``).
MODE_ABSTAIN, MODE_VALUES, MODE_CONTEXT, MODE_WHEN, MODE_YES_NO = range(5)


def _csr(rows: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Row pointers and flat values of a list of int lists."""
    ptr = np.zeros(len(rows) + 1, dtype=np.int64)
    ptr[1:] = np.cumsum([len(r) for r in rows])
    flat = np.fromiter((v for r in rows for v in r), dtype=np.int64, count=int(ptr[-1]))
    return ptr, flat


def _sorted_ids(strings: set[str]) -> dict[str, int]:
    return {s: i for i, s in enumerate(sorted(strings))}


@dataclass
class ReaderTables:
    """The arrays of one episode (C chunks, Q questions) for the compiled reader.

    Queries (the question texts, then every hop query) are rows of ``query_*``: unique term
    ids in ascending order and their counts. Chunks are rows of ``chunk_*`` likewise, with
    their token count ``chunk_len``.
    """

    chunk_ptr: np.ndarray
    chunk_terms: np.ndarray
    chunk_tf: np.ndarray
    chunk_len: np.ndarray
    text_rank: np.ndarray  # (C,) rank of the chunk's text among the episode's texts
    fact_key: np.ndarray  # (C,) id of the parsed fact's key, -1: no fact (or empty value)
    fact_norm: np.ndarray  # (C,) id of the normalised value (sorted: order = string order)
    fact_display: np.ndarray  # (C,) id of the value as written (sorted: min id = min string)
    has_date: np.ndarray  # (C,) bool
    query_ptr: np.ndarray
    query_terms: np.ndarray
    query_tf: np.ndarray
    q_kind: np.ndarray  # (Q,) CHAIN / YES_NO / WHEN / CONTEXT
    q_first_query: np.ndarray  # (Q,) query of round 0 (a chain: "<subject> <attr0>")
    q_first_key: np.ndarray  # (Q,) chain: key id of hop 0 (-1: no chunk states it)
    q_attr_ptr: np.ndarray  # chains: attribute ids of every hop
    q_attrs: np.ndarray
    hop_query: np.ndarray  # flat (display values x hop_stride attributes): "<value> <attr>"
    hop_key: np.ndarray  # flat, likewise: the key id of that hop, -1: no chunk states it
    hop_stride: int
    n_terms: int
    display: list[str]
    texts: list[str]
    questions: list[str]
    #: (question, mode, reference) -> ReaderAnswer, filled as answers are asked for.
    _answers: dict[tuple, ReaderAnswer] = field(default_factory=dict)

    #: The fields that are arrays, in the order the kernel takes them.
    ARRAYS = ("chunk_ptr", "chunk_terms", "chunk_tf", "chunk_len", "text_rank", "fact_key",
              "fact_norm", "fact_display", "has_date", "query_ptr", "query_terms", "query_tf",
              "q_kind", "q_first_query", "q_first_key", "q_attr_ptr", "q_attrs", "hop_query",
              "hop_key")

    def packed(self, *extra: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The :attr:`ARRAYS` (then ``extra`` arrays) as one flat int64 array and the offsets
        of each (``len + 1``): a batched env copies one array per reset, not twenty."""
        parts = [np.asarray(getattr(self, name), dtype=np.int64) for name in self.ARRAYS]
        parts += [np.asarray(a, dtype=np.int64) for a in extra]
        offsets = np.zeros(len(parts) + 1, dtype=np.int64)
        offsets[1:] = np.cumsum([len(p) for p in parts])
        return np.concatenate(parts), offsets

    def answer(self, question: int, mode: int, ref: int, values: Sequence[int] = ()
               ) -> ReaderAnswer:
        """The reader's answer text and mode from the kernel's codes (``used`` left empty:
        the caller has the entry indices)."""
        key = (question, mode, ref, tuple(values))
        cached = self._answers.get(key)
        if cached is not None:
            return cached
        if mode == MODE_ABSTAIN:
            answer = ABSTAIN
        elif mode == MODE_VALUES:  # one value: ``ref``; several: ``values``
            answer = ReaderAnswer(" or ".join(self.display[v] for v in values or [ref]),
                                  "extract")
        elif mode == MODE_CONTEXT:
            answer = ReaderAnswer(self.texts[ref], "context")
        elif mode == MODE_WHEN:
            answer = ReaderAnswer(find_date(self.texts[ref]), "extract")
        else:
            answer = ReaderAnswer(yes_or_no(self.questions[question], self.texts[ref]), "extract")
        self._answers[key] = answer
        return answer


def build_tables(texts: Sequence[str], questions: Sequence[str]) -> ReaderTables:
    """The reader tables of an episode whose chunks render to ``texts``."""
    texts, questions = list(texts), list(questions)
    facts = []
    for text in texts:
        fact = extract_fact(text)
        norm = normalize(fact.value) if fact is not None else ""
        facts.append((fact.key, norm, fact.value) if fact is not None and norm else None)
    parsed = [None if is_yes_no(q) else parse_question(q) for q in questions]
    chain_attrs = [p[1] for p in parsed if p is not None]
    displays = _sorted_ids({f[2] for f in facts if f is not None})
    norms = _sorted_ids({f[1] for f in facts if f is not None})
    keys = {k: i for i, k in enumerate(sorted({f[0] for f in facts if f is not None}))}
    later_attrs = _sorted_ids({a for attrs in chain_attrs for a in attrs[1:]})
    # Query strings: question texts, chains' first hops, then every (value, later attribute).
    first_queries = [f"{p[0]} {p[1][0]}" if p is not None else q
                     for q, p in zip(questions, parsed)]
    hop_strings = [f"{d} {a}" for d in displays for a in later_attrs]
    query_texts = questions + first_queries + hop_strings
    chunk_tokens = [bm25_tokens(t) for t in texts]
    query_tokens = [bm25_tokens(q) for q in query_texts]
    vocab = _sorted_ids({t for toks in chunk_tokens + query_tokens for t in toks})

    n_vocab = len(vocab)

    def counted(rows: list[tuple[str, ...]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Row pointers, ascending unique term ids and their counts, for all rows at once
        (one np.unique over row * n_vocab + term: per-row calls cost more than the work)."""
        lengths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
        ids = np.fromiter((vocab[t] for toks in rows for t in toks), dtype=np.int64,
                          count=int(lengths.sum()))
        cells, tf = np.unique(np.repeat(np.arange(len(rows)), lengths) * n_vocab + ids,
                              return_counts=True)
        ptr = np.zeros(len(rows) + 1, dtype=np.int64)
        ptr[1:] = np.cumsum(np.bincount(cells // n_vocab, minlength=len(rows)))
        return ptr, cells % n_vocab, tf.astype(np.int64)

    chunk_ptr, chunk_terms, chunk_tf = counted(chunk_tokens)
    query_ptr, query_terms, query_tf = counted(query_tokens)
    n_q = len(questions)
    kind = np.array([CHAIN if p is not None else YES_NO if is_yes_no(q) else
                     WHEN if _WHEN.match(q) else CONTEXT for q, p in zip(questions, parsed)],
                    dtype=np.int64)
    attr_ptr, attrs = _csr([[later_attrs[a] for a in p[1][1:]] if p is not None else []
                            for p in parsed])
    hop_query = 2 * n_q + np.arange(len(displays) * len(later_attrs), dtype=np.int64)
    hop_key = np.array([keys.get(fact_key(d, a), -1) for d in displays for a in later_attrs],
                       dtype=np.int64)
    texts_rank = _sorted_ids(set(texts))
    has_date = np.zeros(len(texts), dtype=np.bool_)
    if (kind == WHEN).any():  # only "When ..." questions read dates
        has_date[:] = [find_date(t) is not None for t in texts]
    return ReaderTables(
        chunk_ptr=chunk_ptr, chunk_terms=chunk_terms, chunk_tf=chunk_tf,
        chunk_len=np.array([len(t) for t in chunk_tokens], dtype=np.int64),
        text_rank=np.array([texts_rank[t] for t in texts], dtype=np.int64),
        fact_key=np.array([keys[f[0]] if f else -1 for f in facts], dtype=np.int64),
        fact_norm=np.array([norms[f[1]] if f else -1 for f in facts], dtype=np.int64),
        fact_display=np.array([displays[f[2]] if f else -1 for f in facts], dtype=np.int64),
        has_date=has_date,
        query_ptr=query_ptr, query_terms=query_terms, query_tf=query_tf,
        q_kind=kind, q_first_query=np.arange(n_q, 2 * n_q, dtype=np.int64),
        q_first_key=np.array([keys.get(fact_key(p[0], p[1][0]), -1) if p is not None else -1
                              for p in parsed], dtype=np.int64),
        q_attr_ptr=attr_ptr, q_attrs=attrs, hop_query=hop_query, hop_key=hop_key,
        hop_stride=len(later_attrs), n_terms=len(vocab), display=list(displays), texts=texts,
        questions=questions,
    )

