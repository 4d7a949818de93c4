"""Dialogue-Free: generated chat in free language, for training on text features."""

from __future__ import annotations

import gymnasium as gym
from gymnasium.utils.env_checker import check_env

import memgym  # noqa: F401  (registers the environments)
from memgym.facts import extract_fact
from memgym.tasks.dialogue_free import DialogueFreeTask


def test_free_language_needs_no_parser_and_evidence_states_the_answer() -> None:
    task = DialogueFreeTask(length=240)
    for split in ("train", "heldout"):
        ep = task.episode(3, split)
        assert ep.to_json() == task.episode(3, split).to_json()
        assert sum(extract_fact(c.render()) is not None for c in ep.chunks) == 0
        evidence = {e for q in ep.questions for e in q.evidence}
        assert 0 < len(evidence) < 0.3 * len(ep.chunks)  # most turns are chit-chat
        assert {c.session for c in ep.chunks} == set(range(1, max(2, 240 // 20) + 1))
        for q in ep.questions:
            text = " ".join(ep.chunks[e].text for e in q.evidence).lower()
            if q.kind in ("lookup", "multi-hop"):
                assert q.answers[0].lower() in text
            elif q.kind == "yes-no" and q.answers == ("yes",):
                assert q.text.split()[-1].rstrip("?").lower() in text


def test_splits_share_no_objects_and_the_env_checks() -> None:
    task = DialogueFreeTask(length=400)
    answers = {s: {a for seed in range(4) for q in task.episode(seed, s).questions
                   if q.kind == "lookup" for a in q.answers} for s in ("train", "heldout")}
    assert answers["train"] and answers["heldout"] and not answers["train"] & answers["heldout"]
    env = gym.make("memgym/Dialogue-Free-v0")
    assert env.unwrapped.features == "embedding"
    check_env(env.unwrapped, skip_render_check=True)
    gym.make("memgym/Dialogue-Free-Text-v0").reset(seed=0)
