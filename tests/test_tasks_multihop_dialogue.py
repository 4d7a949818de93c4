"""The multihop and dialogue task generators: determinism, split disjointness, parseability."""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Callable
from datetime import date

import pytest

from memgym.envs.registration import REGISTRY
from memgym.episode import SPLITS, Episode
from memgym.facts import Fact, extract_fact, fact_key, find_date, normalize, parse_question
from memgym.rewards.metrics import exact_match
from memgym.rewards.reader import BM25Reader, bm25_tokens
from memgym.tasks import dialogue, multihop
from memgym.tasks.dialogue import PERSONA_VALUES, DialogueParams, DialogueTask
from memgym.tasks.multihop import RELATIONS, RUMOUR_MARKERS, MultiHopParams, MultiHopTask

TASKS: dict[str, Callable[[], object]] = {"multihop": MultiHopTask, "dialogue": DialogueTask}
SEEDS = range(40)
_PERSON = re.compile(r"\b[A-Z][a-z\-]+ [A-Z][a-z\-]+\b")


def episodes(task: object, split: str, seeds=SEEDS, **params) -> list[Episode]:
    return [task.episode(seed, split, **params) for seed in seeds]


# -- shared behaviour ------------------------------------------------------------------------
@pytest.mark.parametrize("name", TASKS)
@pytest.mark.parametrize("split", SPLITS)
def test_deterministic_and_seed_dependent(name: str, split: str) -> None:
    task = TASKS[name]()
    assert task.episode(3, split).to_json() == TASKS[name]().episode(3, split).to_json()
    assert task.episode(3, split).to_json() != task.episode(4, split).to_json()


@pytest.mark.parametrize("name", TASKS)
def test_json_round_trip_and_metadata(name: str) -> None:
    task = TASKS[name](length=30)
    ep = task.episode(7, "val", abstain_questions=1, mid_stream_questions=1)
    assert Episode.from_json(ep.to_json()) == ep
    assert (ep.task, ep.split, ep.seed) == (name, "val", 7)
    defaults = dataclasses.asdict((MultiHopParams if name == "multihop" else DialogueParams)())
    overrides = {"length": 30, "abstain_questions": 1, "mid_stream_questions": 1}
    assert ep.params == {**defaults, **overrides}
    assert [q.id for q in ep.questions] == [f"q{i}" for i in range(len(ep.questions))]
    labelled = ep.labels["facts"] + ep.labels["distractors"] + ep.labels["filler"]
    assert sorted(labelled) == list(range(len(ep.chunks)))  # a partition of the stream


@pytest.mark.parametrize("name", TASKS)
def test_bad_params_raise(name: str) -> None:
    with pytest.raises(ValueError, match="lenght"):
        TASKS[name](lenght=10)
    with pytest.raises(ValueError, match="bogus"):
        TASKS[name]().episode(0, "train", bogus=1)
    with pytest.raises(ValueError):
        TASKS[name]().episode(0, "train", length=3)
    with pytest.raises(ValueError):
        TASKS[name]().episode(0, "train", distractor_rate=1.5)
    with pytest.raises(ValueError):
        TASKS[name]().episode(0, "test")


@pytest.mark.parametrize("name", TASKS)
def test_length_scales_with_fixed_questions_and_is_fast(name: str) -> None:
    task = TASKS[name]()
    short = task.episode(0, "heldout")
    task.episode(0, "heldout", length=640)  # warm the per-split pool cache
    start = time.perf_counter()
    long = [task.episode(seed, "heldout", length=640) for seed in range(10)]
    per_episode = (time.perf_counter() - start) / 10
    assert per_episode < 0.05, f"{per_episode * 1e3:.1f} ms per 640-chunk episode"
    assert len(short.chunks) == 40 and all(len(ep.chunks) == 640 for ep in long)
    assert all(len(ep.questions) == len(short.questions) for ep in long)
    assert len(long[0].labels["distractors"]) > 4 * len(short.labels["distractors"])


# -- multihop ---------------------------------------------------------------------------------
@pytest.mark.parametrize("split", SPLITS)
def test_multihop_facts_questions_and_rumours_parse(split: str) -> None:
    task = MultiHopTask(abstain_questions=2, mid_stream_questions=1)
    for ep in episodes(task, split):
        texts = [c.render() for c in ep.chunks]
        reliable = {}
        for i in ep.labels["facts"]:
            fact = extract_fact(texts[i])
            assert fact is not None and not any(m in texts[i] for m in RUMOUR_MARKERS), texts[i]
            assert fact.key not in reliable, "a key is stated reliably twice"
            reliable[fact.key] = (normalize(fact.value), fact.value, i)
        for i in ep.labels["filler"]:
            assert extract_fact(texts[i]) is None, texts[i]
        for i in ep.labels["distractors"]:
            fact = extract_fact(texts[i])
            assert fact is not None and any(texts[i].startswith(m) for m in RUMOUR_MARKERS)
            assert fact.key in reliable and normalize(fact.value) != reliable[fact.key][0]
        evidence_used = set()
        for q in ep.questions:
            subject, attrs = parse_question(q.text)
            if q.kind == "abstain":
                assert q.answers == ("unknown",) and q.evidence == () and len(attrs) == 2
                assert fact_key(subject, attrs[0]) not in reliable
                continue
            assert q.kind == "multi-hop" and len(attrs) == 2 and attrs[0] in RELATIONS
            # Resolve the chain hop by hop over the reliable facts only.
            _, middle, bridge = reliable[fact_key(subject, attrs[0])]
            answer_norm, _, target = reliable[fact_key(middle, attrs[1])]
            assert (bridge, target) == q.evidence and answer_norm == normalize(q.answers[0])
            evidence_used.update(q.evidence)
            keys = {fact_key(subject, attrs[0]), fact_key(middle, attrs[1])}
            for c in q.conflicting:
                fact = extract_fact(texts[c])
                assert fact.key in keys and normalize(fact.value) != reliable[fact.key][0]
            on_keys = {i for i in ep.labels["distractors"] if extract_fact(texts[i]).key in keys}
            assert set(q.conflicting) == on_keys
            if q.asked_after is not None:
                assert max(q.evidence) <= q.asked_after < len(ep.chunks)
        assert evidence_used == set(ep.labels["facts"])  # every reliable fact is needed
        assert sum(q.asked_after is not None for q in ep.questions) == 1


def test_multihop_target_can_precede_bridge() -> None:
    orders = {q.evidence[0] < q.evidence[1] for ep in episodes(MultiHopTask(), "train")
              for q in ep.questions}
    assert orders == {True, False}


# -- dialogue ---------------------------------------------------------------------------------
@pytest.mark.parametrize("split", SPLITS)
def test_dialogue_turns_sessions_and_questions(split: str) -> None:
    task = DialogueTask(abstain_questions=1, mid_stream_questions=2, n_changes=2)
    for seed, ep in enumerate(episodes(task, split, length=60)):
        chunks = ep.chunks
        assert len({c.speaker for c in chunks}) == 2
        sessions = [c.session for c in chunks]
        assert sessions == sorted(sessions) and len(set(sessions)) == max(4, 60 // 10)
        dates = {c.session: c.time for c in chunks}
        assert all(dates[s] < dates[s + 1] for s in range(len(dates) - 1))
        texts = [c.render() for c in chunks]
        for i in ep.labels["filler"]:
            assert extract_fact(texts[i]) is None, texts[i]
        for i in ep.labels["distractors"]:  # hedged guesses about the OTHER speaker
            fact = extract_fact(texts[i])
            assert fact is not None and fact.subject != chunks[i].speaker, texts[i]
        kinds = [q.kind for q in ep.questions]
        assert kinds.count("update") == 2 and kinds.count("temporal") == 2
        assert kinds.count("lookup") == 2 and kinds.count("abstain") == 1
        stated = set()
        for q in ep.questions:
            if q.kind == "temporal":
                (ev,) = q.evidence
                assert re.match(r"When\b", q.text) and extract_fact(texts[ev]) is None
                assert q.answers == (find_date(texts[ev]),) == (chunks[ev].time,)
                assert chunks[ev].speaker in q.text
                continue
            subject, attrs = parse_question(q.text)
            assert len(attrs) == 1 and attrs[0] in PERSONA_VALUES
            key = fact_key(subject, attrs[0])
            if q.kind == "abstain":
                assert q.answers == ("unknown",) and q.evidence == ()
                continue
            (ev,) = q.evidence
            fact = extract_fact(texts[ev])
            assert fact.subject == chunks[ev].speaker == subject and fact.key == key
            assert normalize(fact.value) == normalize(q.answers[0])
            stated.add(key)
            for c in q.conflicting:
                other = extract_fact(texts[c])
                assert other.key == key and normalize(other.value) != normalize(fact.value)
            stale = [c for c in q.conflicting if chunks[c].speaker == subject]
            if q.kind == "update":  # the stale statement sits in an earlier session
                assert len(stale) == 1 and chunks[stale[0]].session < chunks[ev].session
            else:
                assert stale == []
            if q.asked_after is not None:
                assert q.kind == "lookup" and ev <= q.asked_after
        for q in ep.questions:
            if q.kind == "abstain":
                subject, (attr,) = parse_question(q.text)
                assert fact_key(subject, attr) not in stated
        conflicting = {c for q in ep.questions for c in q.conflicting}
        assert set(ep.labels["distractors"]) <= conflicting  # every guess hits a queried key
        for i in ep.labels["facts"]:  # persona facts and events are said about oneself
            fact = extract_fact(texts[i])
            assert fact is None or fact.subject == chunks[i].speaker


def test_dialogue_session_gaps_and_long_streams() -> None:
    ep = DialogueTask().episode(5, "heldout", length=640)
    assert len({c.session for c in ep.chunks}) == 64
    times = sorted({c.time for c in ep.chunks})
    gaps = [(date.fromisoformat(b) - date.fromisoformat(a)).days for a, b in zip(times, times[1:])]
    assert min(gaps) >= 3 and max(gaps) <= 21


def test_every_template_parses_with_every_value() -> None:
    """Exhaustive over the pools of all splits: facts parse exactly, filler parses as nothing."""
    s, other, prefix = "Ann Lee", "Bob Stone", "[2024-05-01] Ann Lee: "
    mh_keys = [(r, other) for r in RELATIONS]
    mh_keys += [(a, v) for a, values in multihop.TARGET_VALUES.items() for v in values]
    for a, v in mh_keys:
        for t in multihop.FACT_TEMPLATES:
            assert extract_fact(t.format(s=s, a=a, v=v)) == Fact(s, a, v), t
        for i, t in enumerate(multihop.RUMOUR_TEMPLATES):
            m = RUMOUR_MARKERS[(i + len(v)) % len(RUMOUR_MARKERS)]
            assert extract_fact(t.format(m=m, s=s, a=a, v=v)) == Fact(s, a, v), t
    for t in multihop.QUESTION_TEMPLATES:
        for r in RELATIONS:
            for a in multihop.TARGET_VALUES:
                assert parse_question(t.format(c=f"{s}'s {r}'s {a}")) == (s, (r, a)), t
    for t in multihop.MENTION_TEMPLATES + multihop.FILLER:
        assert extract_fact(t.format(p=s, q=other)) is None, t
    for a, values in PERSONA_VALUES.items():
        for v in values:
            for t in dialogue.PERSONA_TEMPLATES + dialogue.CHANGE_TEMPLATES:
                assert extract_fact(prefix + t.format(a=a, v=v)) == Fact(s, a, v), t
            for t in dialogue.GUESS_TEMPLATES:
                assert extract_fact(prefix + t.format(s=other, a=a, v=v)) == Fact(other, a, v)
        for t in dialogue.QUESTION_TEMPLATES:
            assert parse_question(t.format(c=f"{s}'s {a}")) == (s, (a,)), t
    for _, past in dialogue.EVENTS:
        for t in dialogue.EVENT_TEMPLATES:
            assert extract_fact(prefix + t.format(e=past)) is None, t
    for t in dialogue.CHITCHAT:
        assert extract_fact(prefix + t) is None, t


def test_temporal_question_words_point_only_at_the_event() -> None:
    """BM25 ranks the event turn first: besides names and the event phrase, a 'When' question
    shares no term with any turn template, and event phrases share none with other pools."""
    def terms(templates: list[str]) -> set[str]:
        return {t for x in templates for t in bm25_tokens(re.sub(r"\{\w\}", " ", x))}
    when = terms(dialogue.WHEN_TEMPLATES)
    turns = terms(dialogue.PERSONA_TEMPLATES + dialogue.CHANGE_TEMPLATES + dialogue.EVENT_TEMPLATES
                  + dialogue.GUESS_TEMPLATES + dialogue.CHITCHAT)
    assert not when & turns
    values = {t for vs in PERSONA_VALUES.values() for v in vs for t in bm25_tokens(v)}
    event_terms = {t for q, e in dialogue.EVENTS for t in bm25_tokens(f"{q} {e}")}
    assert not event_terms & (turns | values | when)


# -- splits -----------------------------------------------------------------------------------
def surface(ep: Episode) -> dict[str, set[str]]:
    """Names, values and template skeletons of an episode, read from its visible text."""
    names = {c.speaker for c in ep.chunks if c.speaker}
    values = set()
    for c in ep.chunks:
        names.update(_PERSON.findall(c.text))
        fact = extract_fact(c.render())
        if fact is not None:
            names.add(fact.subject)
            (names if fact.attribute in RELATIONS else values).add(fact.value)
    tokens = {t for n in names for t in n.split()}
    skeletons = set()
    for text in [c.text for c in ep.chunks] + [q.text for q in ep.questions]:
        for v in sorted(values | names | set(RUMOUR_MARKERS), key=len, reverse=True):
            text = re.sub(rf"(?<![\w{{]){re.escape(v)}(?![\w}}])", "{x}", text)
        skeletons.add(text)
    return {"name tokens": tokens, "values": {normalize(v) for v in values}, "templates": skeletons}


@pytest.mark.parametrize("name", TASKS)
def test_splits_share_no_names_values_or_templates(name: str) -> None:
    task = TASKS[name](abstain_questions=1)
    seen: dict[str, dict[str, set[str]]] = {}
    for split in SPLITS:
        seen[split] = {"name tokens": set(), "values": set(), "templates": set()}
        for ep in episodes(task, split, seeds=range(25), length=80):
            for kind, items in surface(ep).items():
                seen[split][kind] |= items
    for split in SPLITS:  # the check is not vacuous
        assert min(len(items) for items in seen[split].values()) >= 10, split
    for a, b in (("train", "heldout"), ("train", "val"), ("val", "heldout")):
        for kind in seen[a]:
            shared = seen[a][kind] & seen[b][kind]
            assert not shared, f"{a}/{b} share {kind}: {sorted(shared)[:5]}"


# -- levels and the reader -----------------------------------------------------------------
def qa_score(ep: Episode, kept: list[int]) -> float:
    reader = BM25Reader()
    entries = [ep.chunks[i].render() for i in sorted(kept)]
    answers = reader.answer_all([q.text for q in ep.questions], entries)
    return sum(exact_match(a.text, q.answers) for a, q in zip(answers, ep.questions)) / len(answers)


@pytest.mark.parametrize("env_name", ["MultiHop", "Dialogue"])
@pytest.mark.parametrize("level", ["Easy", "Medium", "Hard"])
def test_levels_reader_oracle_beats_fifo(env_name: str, level: str) -> None:
    spec = REGISTRY[f"memgym/{env_name}-{level}-v0"].kwargs
    assert f"memgym/{env_name}-{level}-Text-v0" in REGISTRY
    task = TASKS[env_name.lower()](**spec["task_params"])
    capacity = sum(t["entries"] for t in spec["tiers"].values())
    oracle, fifo = [], []
    for ep in episodes(task, "heldout", seeds=range(15)):
        evidence = sorted({c for q in ep.questions for c in q.evidence})
        assert capacity >= len(evidence) - 1  # Hard: at most one entry short
        oracle.append(qa_score(ep, evidence))
        fifo.append(qa_score(ep, list(range(len(ep.chunks)))[-capacity:]))
    assert min(oracle) == 1.0  # evidence alone answers every question through the reader
    assert sum(fifo) <= 0.5 * sum(oracle), (sum(fifo), sum(oracle))
