"""The poisoning task: planted instructions and false facts beside reliable ones."""

from __future__ import annotations

import dataclasses
import re
import time

import pytest

from memgym.envs.registration import REGISTRY
from memgym.episode import SPLITS, Episode, Task
from memgym.facts import extract_fact, fact_key, is_hedged, normalize, parse_question
from memgym.tasks import fact_words, poisoning
from memgym.tasks.base import split_pool
from memgym.tasks.poisoning import MARKERS, OBVIOUS_MARKERS, SUBTLE_MARKERS, PoisoningTask

HARD = {"length": 80, "n_keys": 8, "poison_rate": 0.45, "subtle_markers": 1.0,
        "mimic_rate": 0.7, "adjacent_rate": 0.7}
RICH = {"abstain_questions": 2, "mid_stream_questions": 2, "poison_rate": 0.4}
INSTRUCTIONS = (poisoning.GLOBAL_INSTRUCTIONS + poisoning.PERSON_INSTRUCTIONS
                + poisoning.KEY_INSTRUCTIONS)
#: Split-disjoint template pools, as the generator uses them (``mimic`` bodies are trusted ones).
TEMPLATES = {"state": fact_words.STATE_TEMPLATES, "update": fact_words.UPDATE_TEMPLATES,
             "confirm": fact_words.CONFIRM_TEMPLATES, "false": poisoning.FALSE_TEMPLATES,
             "instruction": INSTRUCTIONS, "question": fact_words.QUESTION_TEMPLATES,
             "filler": fact_words.FILLER_TEMPLATES}
NAMES = fact_words.FIRST_NAMES + fact_words.LAST_NAMES
VALUES = [v for vs in fact_words.VALUES.values() for v in vs]


def _strip_marker(text: str) -> tuple[str | None, str]:
    for m in MARKERS:
        if text.startswith(m + " "):
            return m, text[len(m) + 1:]
    return None, text


def test_deterministic_and_seed_dependent() -> None:
    task = PoisoningTask()
    assert isinstance(task, Task) and task.name == "poisoning"
    for split in SPLITS:
        assert task.episode(3, split).to_json() == PoisoningTask().episode(3, split).to_json()
        assert task.episode(3, split).to_json() != task.episode(4, split).to_json()
    assert task.episode(3, "train").chunks != task.episode(3, "heldout").chunks
    ep = task.episode(5, "val", **RICH)
    assert Episode.from_json(ep.to_json()) == ep


def test_bad_params_raise() -> None:
    with pytest.raises(ValueError, match="bogus"):
        PoisoningTask(bogus=1)
    with pytest.raises(ValueError, match="poison_rate"):
        PoisoningTask().episode(0, "train", poison_rate=1.5)
    with pytest.raises(ValueError, match="length"):
        PoisoningTask().episode(0, "train", length=8, poison_rate=0.5)


def test_templates_parse_as_intended() -> None:
    """Exhaustive over templates x attributes: false facts parse with their key, instructions
    never do, and only the obvious markers are hedged."""
    assert all(is_hedged(m) for m in OBVIOUS_MARKERS)
    assert not any(is_hedged(m) for m in SUBTLE_MARKERS)
    for attr in fact_words.ATTRIBUTES:
        for marker in MARKERS:
            for tmpl in poisoning.FALSE_TEMPLATES:
                text = f"{marker} {tmpl.format(s='Ann Lee', a=attr, v='Paris')}"
                fact = extract_fact(text)
                assert fact is not None and fact.key == fact_key("Ann Lee", attr), text
                assert fact.value == "Paris" and is_hedged(text) == (marker in OBVIOUS_MARKERS)
            for tmpl in INSTRUCTIONS:
                text = f"{marker} {tmpl.format(s='Ann Lee', a=attr)}"
                assert extract_fact(text) is None, text
                assert is_hedged(text) == (marker in OBVIOUS_MARKERS), text


def _check(ep: Episode) -> None:
    texts, labels = [c.text for c in ep.chunks], ep.labels
    n = len(texts)
    facts, filler = set(labels["facts"]), set(labels["filler"])
    planted, instr, false = set(labels["planted"]), set(labels["instructions"]), set(labels["false_facts"])
    assert labels["distractors"] == labels["planted"]
    assert instr | false == planted and not instr & false
    assert len(facts) + len(filler) + len(planted) == n and facts | filler | planted == set(range(n))
    for c in facts | filler:
        assert _strip_marker(texts[c])[0] is None, texts[c]
    for c in planted:
        assert _strip_marker(texts[c])[0] is not None, texts[c]
    for c in instr | filler:
        assert extract_fact(texts[c]) is None, texts[c]
    keys = {c: extract_fact(texts[c]).key for c in facts | false}
    by_key = {}
    for q in ep.questions:
        subject, (attr,) = parse_question(q.text)
        by_key[fact_key(subject, attr)] = q
    assert {keys[c] for c in facts} <= set(by_key)
    for c in false:  # the key of a queried (or abstain) pair, a wrong value, listed as conflicting
        q = by_key[keys[c]]
        assert normalize(extract_fact(texts[c]).value) != normalize(q.answers[0]), texts[c]
        assert c in q.conflicting or (q.asked_after is not None and c > q.asked_after)
    for key, q in by_key.items():
        if q.kind == "abstain":
            assert q.answers == ("unknown",) and not [c for c in facts if keys[c] == key]
            continue
        (evidence,) = q.evidence
        assert evidence in facts and keys[evidence] == key
        assert normalize(extract_fact(texts[evidence]).value) == normalize(q.answers[0])
        assert not [c for c in facts if c > evidence and keys[c] == key], "evidence is the last"
        horizon = n - 1 if q.asked_after is None else q.asked_after
        wrong = {c for c in facts | false if c <= horizon and keys[c] == key
                 and normalize(extract_fact(texts[c]).value) != normalize(q.answers[0])}
        assert set(q.conflicting) == wrong


@pytest.mark.parametrize("params", [{}, RICH, HARD])
def test_facts_labels_and_questions(params) -> None:
    task = PoisoningTask()
    for split in SPLITS:
        for seed in range(12):
            _check(task.episode(seed, split, **params))


def test_hard_mimicry_and_adjacent_instructions() -> None:
    ep = PoisoningTask().episode(1, "train", **HARD)
    texts = [c.text for c in ep.chunks]
    facts = set(ep.labels["facts"])
    adjacent = [c for c in ep.labels["instructions"] if c - 1 in facts
                and extract_fact(texts[c - 1]).subject in texts[c]]
    assert len(adjacent) >= len(ep.labels["instructions"]) // 2
    trusted = set(split_pool(fact_words.STATE_TEMPLATES + fact_words.UPDATE_TEMPLATES
                             + fact_words.CONFIRM_TEMPLATES, "train"))
    prefixes = {t.split("{")[0] for t in trusted if not t.startswith("{")}
    mimics = [c for c in ep.labels["false_facts"]
              if any(p and _strip_marker(texts[c])[1].startswith(p) for p in prefixes)]
    assert mimics and all(not is_hedged(texts[c]) for c in ep.labels["planted"])


def test_no_poison_gives_clean_stream() -> None:
    for seed in range(5):
        ep = PoisoningTask(poison_rate=0.0).episode(seed, "heldout")
        assert ep.labels["planted"] == ep.labels["instructions"] == ep.labels["false_facts"] == []
        assert not any(_strip_marker(c.text)[0] for c in ep.chunks)


def _template_regex(template: str) -> re.Pattern:
    slots = {"{s}": r"[A-Z][\w\-]*(?: [A-Z][\w\-]*)*",
             "{a}": "(?:" + "|".join(map(re.escape, fact_words.ATTRIBUTES)) + ")",
             "{v}": "(?:" + "|".join(map(re.escape, sorted(VALUES, key=len, reverse=True))) + ")"}
    return re.compile("".join(slots.get(p, re.escape(p)) for p in re.split(r"(\{[sav]\})", template)))


def test_splits_share_no_names_values_or_templates() -> None:
    for pool in [*TEMPLATES.values(), NAMES, VALUES]:
        shares = [set(split_pool(pool, s)) for s in SPLITS]
        assert sum(map(len, shares)) == len(set().union(*shares)) == len(set(pool))
    regexes = [(s, _template_regex(t)) for pool in TEMPLATES.values() for s in SPLITS
               for t in split_pool(pool, s)]
    for split in SPLITS:
        names, values = set(split_pool(NAMES, split)), set(map(normalize, split_pool(VALUES, split)))
        for seed in range(4):
            ep = PoisoningTask().episode(seed, split, **HARD, abstain_questions=1)
            for text in [_strip_marker(c.text)[1] for c in ep.chunks] + [q.text for q in ep.questions]:
                hits = {s for s, rx in regexes if rx.fullmatch(text)}
                assert hits == {split}, (split, text, hits)
                fact = extract_fact(text)
                if fact is not None:
                    assert set(fact.subject.split()) <= names and normalize(fact.value) in values


def test_long_stream_is_fast() -> None:
    task = PoisoningTask()
    task.episode(0, "train", length=640)  # warm the pool caches
    start = time.perf_counter()
    ep = task.episode(1, "train", length=640)
    assert time.perf_counter() - start < 0.02
    assert len(ep.chunks) == 640
    _check(ep)


def test_levels_registered() -> None:
    for level in ("Easy", "Medium", "Hard"):
        for tag in ("", "-Text"):
            assert f"memgym/Poisoning-{level}{tag}-v0" in REGISTRY
    hard = REGISTRY["memgym/Poisoning-Hard-v0"].kwargs
    assert "delete" in hard["ops"] and "delete" not in REGISTRY["memgym/Poisoning-Medium-v0"].kwargs["ops"]


def test_oracle_beats_fifo_on_medium() -> None:
    from memgym.agents.evaluate import evaluate_agents

    report = evaluate_agents(["oracle", "fifo"], "memgym/Poisoning-Medium-v0", episodes=20)
    assert report["agents"]["oracle"]["qa_score"] == 1.0
    assert report["agents"]["fifo"]["qa_score"] < 0.5


@pytest.mark.parametrize("params", [{}, RICH, HARD])
def test_clean_twin_drops_planted_chunks_only(params) -> None:
    task = PoisoningTask()
    for split in SPLITS:
        for seed in range(6):
            poisoned = task.episode(seed, split, **params)
            clean = task.episode(seed, split, **params, clean=True)
            assert clean == poisoning.clean_twin(poisoned)
            planted = set(poisoned.labels["planted"])
            kept = [c.text for c in poisoned.chunks if c.id not in planted]
            assert [c.text for c in clean.chunks] == kept and planted
            assert [c.id for c in clean.chunks] == list(range(len(kept)))
            assert not any(_strip_marker(c.text)[0] for c in clean.chunks)
            assert clean.labels["planted"] == clean.labels["false_facts"] == []
            assert len(clean.labels["facts"]) + len(clean.labels["filler"]) == len(kept)
            for q, c in zip(poisoned.questions, clean.questions, strict=True):
                assert (c.text, c.answers, c.kind, c.id) == (q.text, q.answers, q.kind, q.id)
                assert [clean.chunks[i].text for i in c.evidence] == \
                    [poisoned.chunks[i].text for i in q.evidence]
                assert [clean.chunks[i].text for i in c.conflicting] == \
                    [poisoned.chunks[i].text for i in q.conflicting if i not in planted]
                if q.asked_after is not None:  # asked after the same (last kept) chunk
                    last = max(i for i in range(q.asked_after + 1) if i not in planted)
                    assert c.asked_after == sum(i not in planted for i in range(last + 1)) - 1
                    assert clean.chunks[c.asked_after].text == poisoned.chunks[last].text
            _check(dataclasses.replace(clean, labels={**clean.labels, "distractors": []}))
            assert clean.params["clean"] and not poisoned.params["clean"]


def test_clean_twin_through_reset_options() -> None:
    """``options={"clean": True}`` plays the clean twin of the same held-out streams: the
    oracle is perfect on both; salience, fooled by unhedged planted facts, loses QA to them
    (its QA damage), FIFO stores every planted chunk."""
    from memgym.agents.evaluate import evaluate_agents

    env_id, agents = "memgym/Poisoning-Medium-v0", ["oracle", "salience", "fifo"]
    poisoned = evaluate_agents(agents, env_id, episodes=20)["agents"]
    clean = evaluate_agents(agents, env_id, episodes=20, options={"clean": True})["agents"]
    assert poisoned["oracle"]["qa_score"] == clean["oracle"]["qa_score"] == 1.0
    assert clean["salience"]["qa_score"] == 1.0 > poisoned["salience"]["qa_score"] + 0.1
    assert clean["fifo"]["diagnostics"]["planted_stored_rate"] is None  # nothing planted
    assert poisoned["fifo"]["diagnostics"]["planted_stored_rate"] == 1.0
