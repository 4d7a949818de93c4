"""Dialogue-Free: generated chat in free language, for training on text features."""

from __future__ import annotations

import hashlib

import gymnasium as gym
import numpy as np
from gymnasium.utils.env_checker import check_env

import memgym  # noqa: F401  (registers the environments)
from memgym.facts import extract_fact
from memgym.tasks.dialogue_free import DialogueFreeTask
from memgym.tasks.dialogue_free_words import (
    ELABORATIONS, EXTRA_HAPPENINGS, FOLLOW_UPS, HAPPENINGS, LONG_CHAT,
)


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


#: sha256 prefixes of default episodes' JSON, recorded before detail_rate / repeat_kinds /
#: more_kinds / long_turns existed: (length, split, seed) -> digest.
DEFAULT_DIGESTS = {
    (120, "train", 0): "c5d9cc3155a96892", (120, "train", 1): "c9af4b05ca87c502",
    (120, "val", 0): "8e353d88db5429f2", (120, "heldout", 0): "721e8511e78b565b",
    (480, "train", 4): "b319e5efe96a5ac2", (480, "heldout", 4): "ec821f6e5a3e22d1",
}
LOCOMO_LIKE = {"length": 480, "happening_rate": 0.3, "repeat_kinds": True, "more_kinds": True,
               "long_turns": True}


def test_default_parameters_keep_the_original_episodes() -> None:
    for (length, split, seed), digest in DEFAULT_DIGESTS.items():
        text = DialogueFreeTask(length=length).episode(seed, split).to_json()
        assert hashlib.sha256(text.encode()).hexdigest()[:16] == digest, (length, split, seed)
    ep = DialogueFreeTask(length=120).episode(0, "train")
    assert set(ep.params) == {"length", "n_sessions", "happening_rate"}
    assert DialogueFreeTask(length=120, detail_rate=0.5).episode(0).to_json() == ep.to_json()
    assert DialogueFreeTask(**LOCOMO_LIKE).episode(0).params["long_turns"] is True


def test_locomo_like_streams_have_dense_long_evidence_and_unambiguous_questions() -> None:
    task = DialogueFreeTask(**LOCOMO_LIKE)
    for split in ("train", "heldout"):
        ep = task.episode(1, split)
        assert ep.to_json() == task.episode(1, split).to_json()
        assert sum(extract_fact(c.render()) is not None for c in ep.chunks) == 0
        words = [len(c.text.split()) for c in ep.chunks]
        assert min(words) > 0
        evidence = {e for q in ep.questions for e in q.evidence}
        chat = [w for i, w in enumerate(words) if i not in evidence]
        ev_words = [words[e] for e in evidence]
        assert 0.15 < len(evidence) / len(ep.chunks) < 0.4, split  # LoCoMo: ~20-30%
        assert 16 < np.mean(words) < 28 and 16 < np.mean(chat) < 25  # LoCoMo: 20-26, 17-23
        assert np.mean(ev_words) > np.mean(chat) + 5
        assert np.mean(np.array(chat) > np.median(ev_words)) > 0.1  # length is no perfect cue
        if split == "train":
            assert len(evidence) > 100  # about what a 128-entry memory holds (mean ~127)
        texts = [q.text for q in ep.questions]
        assert len(texts) == len(set(texts))  # every question asked once
        by_speaker = {s: " ".join(c.text.lower() for c in ep.chunks if c.speaker == s)
                      for s in ep.labels["speakers"]}
        for q in ep.questions:
            text = " ".join(ep.chunks[e].text for e in q.evidence).lower()
            if q.kind in ("lookup", "multi-hop"):
                assert q.answers[0].lower() in text
            if q.kind == "lookup":  # "What pet did Ann adopt?": Ann told of one pet only
                who = q.text.split()[q.text.split().index("did") + 1]
                kind = next(k for k in HAPPENINGS + EXTRA_HAPPENINGS
                            if k["what"].format(who=who) == q.text)
                told = [o for o in kind["objects"]
                        if kind["did"].format(obj=o).lower() in by_speaker[who]]
                assert told == [q.answers[0]], (q.text, told)
            if q.kind == "yes-no":
                who = q.text.split()[1]
                kind, obj = next((k, o) for k in HAPPENINGS + EXTRA_HAPPENINGS
                                 for o in k["objects"]
                                 if q.text == f"Did {who} {k['base'].format(obj=o)}?")
                said = kind["did"].format(obj=obj).lower() in by_speaker[who]
                assert said == (q.answers == ("yes",)), q.text
                assert q.answers == ("no",) or kind["did"].format(obj=obj).lower() in text


def test_locomo_like_held_out_streams_share_no_objects_or_sentences_with_training() -> None:
    task = DialogueFreeTask(**LOCOMO_LIKE)
    eps = {s: [task.episode(seed, s) for seed in range(2)] for s in ("train", "heldout")}
    told = {s: {q.text for ep in eps[s] for q in ep.questions if q.kind == "temporal"}
            for s in eps}
    objects = {s: {o for k in HAPPENINGS + EXTRA_HAPPENINGS for o in k["objects"]
                   if any(t.endswith(f" {o}?") or f" {o} " in t for t in told[s])} for s in eps}
    assert objects["train"] and objects["heldout"] and not objects["train"] & objects["heldout"]
    pools = ELABORATIONS + LONG_CHAT + FOLLOW_UPS
    used = {s: {x for ep in eps[s] for c in ep.chunks for x in pools if x.lower().rstrip(".!?")
                in c.text.lower()} for s in eps}
    assert used["train"] and used["heldout"] and not used["train"] & used["heldout"]
    env = gym.make("memgym/Dialogue-Free-v0", episode_pool=2)
    env.reset(seed=0, options=LOCOMO_LIKE)
