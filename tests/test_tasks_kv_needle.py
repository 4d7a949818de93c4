"""The kv_updates and needle task generators: determinism, split hygiene, parseable facts."""

from __future__ import annotations

import dataclasses
import re
import time

import numpy as np
import pytest

from memgym.episode import SPLITS, Episode, Task, read_jsonl, write_jsonl
from memgym.envs.registration import REGISTRY
from memgym.facts import extract_fact, fact_key, normalize, parse_question
from memgym.tasks import fact_words, kv_updates, needle
from memgym.tasks.base import split_pool
from memgym.tasks.fact_words import HEDGE_MARKERS
from memgym.tasks.kv_updates import KVUpdatesTask
from memgym.tasks.needle import NeedleTask

TASKS = {"kv_updates": KVUpdatesTask, "needle": NeedleTask}
#: Params that exercise every question kind and mid-stream questions.
RICH = {"kv_updates": {"abstain_questions": 2, "mid_stream_questions": 2},
        "needle": {"abstain_questions": 2, "mid_stream_questions": 2}}
SEEDS = range(25)


def _episodes(name: str, **params):
    task = TASKS[name]()
    for split in SPLITS:
        for seed in SEEDS:
            yield task.episode(seed, split, **params)


def _key_of(text: str) -> str:
    fact = extract_fact(text)
    assert fact is not None, text
    return fact.key


# -- determinism and serialisation -----------------------------------------------------------
@pytest.mark.parametrize("name", TASKS)
def test_deterministic_and_seed_dependent(name: str) -> None:
    task = TASKS[name]()
    assert isinstance(task, Task) and task.name == name
    for split in SPLITS:
        assert task.episode(3, split).to_json() == TASKS[name]().episode(3, split).to_json()
        assert task.episode(3, split).to_json() != task.episode(4, split).to_json()
    assert task.episode(3, "train").chunks != task.episode(3, "heldout").chunks


@pytest.mark.parametrize("name", TASKS)
def test_jsonl_round_trip(name: str, tmp_path) -> None:
    eps = [TASKS[name]().episode(s, "val", **RICH[name]) for s in range(3)]
    for ep in eps:
        assert Episode.from_json(ep.to_json()) == ep
    write_jsonl(eps, tmp_path / "eps.jsonl")
    assert list(read_jsonl(tmp_path / "eps.jsonl")) == eps


@pytest.mark.parametrize("name", TASKS)
def test_metadata_and_labels(name: str) -> None:
    task = TASKS[name](length=50)
    ep = task.episode(7, "heldout", **RICH[name])
    assert (ep.task, ep.split, ep.seed) == (name, "heldout", 7)
    assert ep.params == {**dataclasses.asdict(task.params), **RICH[name]}
    assert ep.params["length"] == 50
    parts = [set(ep.labels[k]) for k in ("distractors", "filler", "facts")]
    assert sum(map(len, parts)) == len(ep.chunks) == 50
    assert set().union(*parts) == set(range(50))
    assert [q.id for q in ep.questions] == [f"q{i}" for i in range(len(ep.questions))]


# -- bad parameters ------------------------------------------------------------------------
@pytest.mark.parametrize("name", TASKS)
def test_bad_params_raise(name: str) -> None:
    with pytest.raises(ValueError, match="bogus"):
        TASKS[name](bogus=1)
    with pytest.raises(ValueError, match="bogus"):
        TASKS[name]().episode(0, "train", bogus=1)
    rate = "distractor_rate" if name == "kv_updates" else "decoy_rate"
    with pytest.raises(ValueError, match=rate):
        TASKS[name]().episode(0, "train", **{rate: 1.5})
    with pytest.raises(ValueError, match="length"):
        TASKS[name]().episode(0, "train", length=2)
    with pytest.raises(ValueError):
        TASKS[name]().episode(0, "test")


# -- facts, questions and their gold labels --------------------------------------------------
def _check_episode(ep: Episode, name: str) -> None:
    texts = [c.text for c in ep.chunks]
    facts, distractors = ep.labels["facts"], ep.labels["distractors"]
    for c in facts:
        assert extract_fact(texts[c]) is not None, texts[c]
        assert not any(m in texts[c] for m in HEDGE_MARKERS), texts[c]
    for c in distractors:
        assert extract_fact(texts[c]) is not None, texts[c]
        assert any(texts[c].startswith(m + " ") for m in HEDGE_MARKERS), texts[c]
    for c in ep.labels["filler"]:
        assert extract_fact(texts[c]) is None, texts[c]
    reliable_keys = {_key_of(texts[c]) for c in facts}
    queried = set()
    for q in ep.questions:
        parsed = parse_question(q.text)
        assert parsed is not None and len(parsed[1]) == 1, q.text
        key = fact_key(parsed[0], parsed[1][0])
        horizon = len(texts) - 1 if q.asked_after is None else q.asked_after
        same_key = [c for c in range(horizon + 1) if c in set(facts) | set(distractors)
                    and _key_of(texts[c]) == key]
        if q.kind == "abstain":
            assert q.answers == ("unknown",) and q.evidence == () and q.asked_after is None
            assert key not in reliable_keys
            assert set(q.conflicting) == set(same_key) <= set(distractors)
            continue
        queried.add(key)
        (evidence,) = q.evidence
        fact = extract_fact(texts[evidence])
        assert evidence in facts and fact.key == key, (q.text, texts[evidence])
        assert len(q.answers) == 1 and normalize(fact.value) == normalize(q.answers[0])
        later = [c for c in facts if c > evidence and _key_of(texts[c]) == key]
        assert not later, "the evidence must be the key's last reliable statement"
        assert evidence <= horizon
        wrong = {c for c in same_key if normalize(extract_fact(texts[c]).value)
                 != normalize(q.answers[0])}
        assert set(q.conflicting) == wrong and evidence not in q.conflicting
        changed = any(c in wrong for c in facts)
        assert q.kind == ("update" if changed else "lookup")
        rumoured = [extract_fact(texts[c]).value for c in distractors if _key_of(texts[c]) == key]
        assert normalize(q.answers[0]) not in map(normalize, rumoured), "rumours must be wrong"
    assert reliable_keys == queried, "every reliable fact is about a queried key"


@pytest.mark.parametrize("params", [{}, "rich", {"length": 120}])
@pytest.mark.parametrize("name", TASKS)
def test_facts_and_questions_parse(name: str, params) -> None:
    params = RICH[name] if params == "rich" else params
    for ep in _episodes(name, **params):
        _check_episode(ep, name)
        n_main = ep.params["n_keys" if name == "kv_updates" else "n_needles"]
        kinds = [q.kind for q in ep.questions]
        assert len(kinds) - kinds.count("abstain") == n_main
        assert kinds.count("abstain") == params.get("abstain_questions", 0)
        mid = [q for q in ep.questions if q.asked_after is not None]
        eligible = [q for q in ep.questions if q.evidence and q.evidence[0] < len(ep.chunks) - 1]
        assert len(mid) == min(params.get("mid_stream_questions", 0), len(eligible))
        assert all(q.evidence[0] <= q.asked_after < len(ep.chunks) - 1 for q in mid)


def test_kv_has_both_lookup_and_update_questions() -> None:
    kinds = [q.kind for ep in _episodes("kv_updates") for q in ep.questions]
    assert kinds.count("update") > kinds.count("lookup") > 0


# -- splits share no surface -----------------------------------------------------------------
def _template_regex(template: str, attrs, values) -> re.Pattern:
    slots = {"{s}": r"[A-Z][\w\-]*(?: [A-Z][\w\-]*)*",
             "{a}": "(?:" + "|".join(map(re.escape, attrs)) + ")",
             "{v}": "(?:" + "|".join(map(re.escape, sorted(values, key=len, reverse=True))) + ")"}
    parts = re.split(r"(\{[sav]\})", template)
    return re.compile("".join(slots.get(p, re.escape(p)) for p in parts))


def _surface(module):
    if module is kv_updates:  # its words live in the fact-stream tasks' shared pools
        names = fact_words.FIRST_NAMES + fact_words.LAST_NAMES
        pools = {k: getattr(fact_words, f"{k.upper()}_TEMPLATES")
                 for k in ("state", "update", "confirm", "rumour", "question", "filler")}
        values = [v for vs in fact_words.VALUES.values() for v in vs]
    else:
        names = module.CODENAMES
        pools = {k: getattr(module, f"{k.upper()}_TEMPLATES")
                 for k in ("needle", "rumour", "question", "filler")}
        values = [v for vs in module.VALUES.values() for v in vs]
    return names, values, pools


@pytest.mark.parametrize("module", [kv_updates, needle], ids=["kv_updates", "needle"])
def test_splits_are_disjoint(module) -> None:
    names, values, pools = _surface(module)
    attributes = (fact_words if module is kv_updates else module).VALUES
    task = TASKS[module.__name__.rsplit(".", 1)[1]]()
    markers = "(?:" + "|".join(map(re.escape, HEDGE_MARKERS)) + ") "
    regexes = []  # (split of the template, compiled full-text pattern)
    for kind, pool in pools.items():
        for split in SPLITS:
            for tmpl in split_pool(pool, split):
                rx = _template_regex(tmpl, attributes, values)
                if kind == "rumour":
                    rx = re.compile(markers + rx.pattern)
                regexes.append((split, rx))
    for pool in [names, values, *pools.values()]:
        shares = [set(split_pool(pool, split)) for split in SPLITS]
        assert sum(map(len, shares)) == len(set().union(*shares)) == len(set(pool))
    for split in SPLITS:
        own_names = set(split_pool(names, split))
        own_values = {normalize(v) for v in split_pool(values, split)}
        foreign = [n for n in names if n not in own_names]
        foreign_rx = re.compile(r"\b(?:" + "|".join(foreign) + r")\b")
        for seed in range(6):
            ep = task.episode(seed, split, length=80, abstain_questions=1)
            for text in [c.text for c in ep.chunks] + [q.text for q in ep.questions]:
                hits = {s for s, rx in regexes if rx.fullmatch(text)}
                assert hits == {split}, (split, text, hits)
                assert not foreign_rx.search(text), (split, text)
                fact = extract_fact(text)
                if fact is not None:
                    assert normalize(fact.value) in own_values, (split, text)
                    assert set(fact.subject.split()) & own_names, (split, text)


# -- length, speed and difficulty levels ------------------------------------------------------
@pytest.mark.parametrize("name", TASKS)
def test_long_streams_are_fast_and_keep_question_count(name: str) -> None:
    task = TASKS[name]()
    short, long = task.episode(1, "heldout"), task.episode(1, "heldout", length=640)
    assert len(long.chunks) == 640 and len(long.questions) == len(short.questions)
    _check_episode(long, name)
    best = min(_timed(lambda: task.episode(2, "heldout", length=640)) for _ in range(5))
    assert best < 0.020, f"{name}: {best * 1000:.1f} ms for a 640-chunk episode"


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


@pytest.mark.parametrize("task_name", ["KVUpdates", "Needle"])
def test_levels_registered_and_fifo_is_at_most_half_of_oracle(task_name: str) -> None:
    for level in ("Easy", "Medium", "Hard"):
        for tag in ("", "-Text"):
            assert f"memgym/{task_name}-{level}{tag}-v0" in REGISTRY
        kwargs = REGISTRY[f"memgym/{task_name}-{level}-v0"].kwargs
        task = TASKS["kv_updates" if task_name == "KVUpdates" else "needle"](
            **kwargs["task_params"])
        capacity = sum(t["entries"] for t in kwargs["tiers"].values())
        # FIFO keeps the last `capacity` chunks: it answers a question only if the evidence is
        # among them (and, to answer unambiguously, no conflicting chunk is); the oracle scores 1.
        scores = []
        for seed in range(40):
            ep = task.episode(seed)
            window = len(ep.chunks) - capacity
            scores += [q.evidence[0] >= window for q in ep.questions]
        assert np.mean(scores) <= 0.5, (task_name, level, np.mean(scores))
