"""The compiled BM25 reader (memgym.rewards.reader_kernel) gives BM25Reader's answers."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from memgym.envs.registration import load_task
from memgym.rewards.evidence import evidence_shares
from memgym.rewards.reader import BM25Reader
from memgym.rewards.reader_kernel import answer_chunks, top_sources_of
from memgym.rewards.reader_tables import (
    CHAIN, CONTEXT, WHEN, YES_NO, ReaderTables, build_tables,
)

#: Generated tasks covering every question kind: possessive chains of 1-3 hops, yes / no,
#: "when" and answer-in-context questions, rumours (hedged duplicates of a fact), updates.
TASKS = [
    "memgym.tasks.kv_updates:KVUpdatesTask", "memgym.tasks.multihop:MultiHopTask",
    "memgym.tasks.hop_chains:HopChainsTask", "memgym.tasks.dialogue:DialogueTask",
    "memgym.tasks.dialogue_free:DialogueFreeTask", "memgym.tasks.mem_alpha_stream:MemAlphaTask",
    "memgym.tasks.poisoning:PoisoningTask", "memgym.tasks.needle:NeedleTask",
]


def episode_texts(task_path: str, seed: int) -> tuple[list[str], list[str], object]:
    episode = load_task(task_path, {}).episode(seed, "train")
    return [c.render() for c in episode.chunks], [q.text for q in episode.questions], episode


def random_memories(task_path: str, seeds: int, per_seed: int, rng: np.random.Generator
                    ) -> Iterator[tuple[int, object, ReaderTables, list[int]]]:
    """(seed, episode, its reader tables, a random memory as chunk ids) for ``per_seed``
    memories of each of the first ``seeds`` episodes; entries repeat chunks sometimes (an
    agent may add the same chunk twice)."""
    for seed in range(seeds):
        texts, questions, episode = episode_texts(task_path, seed)
        tables = build_tables(texts, questions)
        for _ in range(per_seed):
            n = int(rng.integers(0, 14))
            yield seed, episode, tables, rng.integers(0, len(texts), size=n).tolist()


@pytest.mark.parametrize("task_path", TASKS)
def test_same_answers_as_bm25_reader_on_random_memories(task_path: str) -> None:
    rng = np.random.default_rng(0)
    compared = 0
    for seed, _, tables, sources in random_memories(task_path, 6, 12, rng):
        texts, questions, n = tables.texts, tables.questions, len(sources)
        shown = (rng.random(n) < 0.2).tolist()
        times = rng.integers(0, 4, size=n).tolist()  # equal times: ties among the latest
        top_k, time_aware = int(rng.integers(1, 5)), bool(rng.random() < 0.5)
        expected = BM25Reader(top_k=top_k, time_aware=time_aware).answer_all(
            questions, [texts[c] for c in sources], [i for i in range(n) if shown[i]],
            times=times)
        got = answer_chunks(tables, sources, range(len(questions)), shown,
                            times if time_aware else None, top_k=top_k)
        assert got == expected, (seed, sources)
        compared += len(questions)
    assert compared >= 200


def test_every_question_kind_is_covered() -> None:
    kinds = set()
    for task_path in TASKS:
        texts, questions, _ = episode_texts(task_path, 1)
        kinds |= set(build_tables(texts, questions).q_kind.tolist())
    assert kinds == {CHAIN, YES_NO, WHEN, CONTEXT}


def test_ties_are_broken_by_text_then_position() -> None:
    texts = ["Bob's city is Rome.", "Ann's city is Paris.", "Ann's city is Oslo.",
             "Ann's city is Paris."]
    questions = ["What is Ann's city?", "Where does Ann live, city-wise?"]
    tables = build_tables(texts, questions)
    for sources in ([2, 1, 3, 0], [3, 2, 1], [1, 3], [0, 0, 2]):
        for top_k in (1, 2, 3):
            expected = BM25Reader(top_k=top_k).answer_all(questions, [texts[c] for c in sources])
            assert answer_chunks(tables, sources, [0, 1], top_k=top_k) == expected


def test_top_sources_match_the_evidence_recall_of_evidence_shares() -> None:
    rng = np.random.default_rng(3)
    texts, questions, episode = episode_texts("memgym.tasks.dialogue:DialogueTask", 2)
    tables = build_tables(texts, questions)
    reader = BM25Reader()
    for _ in range(30):
        sources = rng.choice(len(texts), size=int(rng.integers(1, 12)), replace=False)
        for k in (1, 3, 10):
            shares = evidence_shares([q.evidence for q in episode.questions], questions,
                                     [texts[c] for c in sources], sources.tolist(), reader, k)
            top = top_sources_of(tables, sources.astype(np.int64),
                                 np.arange(len(questions)), k)
            for j, q in enumerate(episode.questions):
                if q.evidence:
                    found = set(q.evidence) & set(top[j].tolist())
                    assert len(found) / len(set(q.evidence)) == shares[j][1]
