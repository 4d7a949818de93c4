"""The compiled scores (memgym.rewards.score_kernel) are the Python metrics' scores."""

from __future__ import annotations

import itertools
import math

import gymnasium as gym
import numpy as np
import pytest

from memgym.envs import vector_episodes
from memgym.envs.vector import MemoryVectorEnv
from memgym.rewards.metrics import score_answer
from memgym.rewards.reader_kernel import run_answers
from memgym.rewards.reader_tables import (
    MODE_ABSTAIN, MODE_CONTEXT, MODE_VALUES, MODE_WHEN, MODE_YES_NO, build_tables,
)
from memgym.rewards.score_kernel import build_score_tables, score_of
from test_reader_compiled import TASKS, random_memories

METRICS = ("em", "f1", "contains")


def python_score(tables, golds, metric, q, mode, ref, values=()) -> float:
    return score_answer(tables.answer(q, mode, ref, list(values)), golds[q], metric)


def same(got: float, expected: float) -> bool:
    return got == expected  # the same float operations: the same bits


@pytest.mark.parametrize("task_path", TASKS)
def test_scores_of_the_compiled_readers_answers_on_random_memories(task_path: str) -> None:
    rng = np.random.default_rng(1)
    compared = 0
    for seed, episode, tables, sources in random_memories(task_path, 4, 10, rng):
        golds = [q.answers for q in episode.questions]
        score = build_score_tables(tables, golds)
        n = len(sources)
        mode, ref, values, n_values, _ = run_answers(
            tables, np.asarray(sources, dtype=np.int64), np.arange(len(golds)),
            np.zeros(n, bool), None, int(rng.integers(1, 4)), 1.5, 0.75)
        for q in range(len(golds)):
            vals = values[q, :n_values[q]].tolist() if n_values[q] > 1 else []
            for metric in METRICS:
                got = score_of(score, metric, q, int(mode[q]), int(ref[q]), vals)
                if mode[q] == MODE_YES_NO:
                    assert math.isnan(got)  # left to Python
                    continue
                expected = python_score(tables, golds, metric, q, int(mode[q]), int(ref[q]),
                                        vals)
                assert same(got, expected), (seed, q, metric, got, expected)
                compared += 1
    assert compared >= 60


def test_every_answer_code_against_tricky_gold_answers() -> None:
    """Every code an episode allows (each value, pairs and triples of values, each chunk as
    context or date, abstaining) against gold answers with articles, punctuation, "or",
    empty normalisations and repeated tokens."""
    texts = ["Ann's city is Paris.", "Ann's city is The Rome!", "Ann's city is New York.",
             "Bob's pet is a cat cat.", "On 3 May 2021 Ann moved.", "Ann's city is The."]
    questions = ["What is Ann's city?", "When did Ann move?", "What did Ann say about Rome?"]
    tables = build_tables(texts, questions)
    pool = ["Paris", "the Rome", "Rome!", "Paris or Rome", "New York or Paris", "", "The",
            "3 May 2021", "May 2021", "cat cat", "cat", "York", "unknown", "Ann moved",
            "paris or the rome or new york", "Ann's city is Paris"]
    rng = np.random.default_rng(0)
    n_display = len(tables.display)
    for trial in range(40):
        golds = [tuple(rng.choice(pool, size=int(rng.integers(0, 4))).tolist())
                 for _ in questions]
        score = build_score_tables(tables, golds)
        for q, metric in itertools.product(range(len(questions)), ("em", "f1", "contains")):
            codes = [(MODE_ABSTAIN, -1, ())]
            codes += [(MODE_VALUES, d, ()) for d in range(n_display)]
            codes += [(MODE_VALUES, -1, v) for k in (2, 3)
                      for v in itertools.permutations(range(n_display), k)]
            codes += [(MODE_CONTEXT, c, ()) for c in range(len(texts))]
            codes += [(MODE_WHEN, c, ()) for c in np.flatnonzero(tables.has_date).tolist()]
            for mode, ref, values in codes:
                got = score_of(score, metric, q, mode, ref, values)
                expected = python_score(tables, golds, metric, q, mode, ref, values)
                assert same(got, expected), (trial, golds[q], metric, mode, ref, values)


def test_locomo_f1_and_yes_no_are_left_to_python() -> None:
    tables = build_tables(["Ann's city is Paris."], ["What is Ann's city?"])
    score = build_score_tables(tables, [("Paris",)])
    assert math.isnan(score_of(score, "locomo_f1", 0, MODE_VALUES, 0))
    assert math.isnan(score_of(score, "em", 0, MODE_YES_NO, 0))
    # no context question: chunk texts are not tokenised, a context answer is Python's
    assert math.isnan(score_of(score, "em", 0, MODE_CONTEXT, 0))
    tables = build_tables(["Ann said Paris is lovely."], ["What did Ann say about Paris?"])
    score = build_score_tables(tables, [("Paris",)])
    # context answers are scored with `contains` whatever the metric, so here too
    assert score_of(score, "locomo_f1", 0, MODE_CONTEXT, 0) == 1.0


def test_the_batched_env_scores_its_answers_in_the_kernel(monkeypatch) -> None:
    """KVUpdates questions are chains (values or abstain): no answer goes to Python."""
    def refuse(*args, **kwargs):
        raise AssertionError("an answer was scored in Python")

    monkeypatch.setattr(vector_episodes.EpisodeRow, "score_code", refuse)
    venv = MemoryVectorEnv(4, **gym.spec("memgym/KVUpdates-Easy-v0").kwargs)
    _, info = venv.reset(seed=0)
    assert venv.compiled_reader
    rng, finished, qa = np.random.default_rng(0), 0, 0.0
    for _ in range(200):
        actions = [rng.choice(np.flatnonzero(row)) for row in info["action_mask"]]
        _, _, terminated, _, info = venv.step(actions)
        finished += int(terminated.sum())
        qa += float(info["reward_terms"]["qa"].sum())
    assert finished >= 4 and qa > 0  # answers were scored, some right
