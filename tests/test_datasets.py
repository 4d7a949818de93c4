"""Dataset adapters on small synthetic files that mimic each benchmark's format exactly."""

from __future__ import annotations

import json
import re
from pathlib import Path

import gymnasium as gym
import pytest
from typer.testing import CliRunner

import memgym  # noqa: F401  (registers the environments)
from memgym.agents.evaluate import evaluate_agents
from memgym.data_cli import data_app
from memgym.episode import SPLITS
from memgym.tasks.datasets import DataError, detect_format, open_dataset, partition
from memgym.tasks.jsonl_stream import JSONLStreamTask
from memgym.tasks.locomo import LoCoMoTask
from memgym.tasks.longmemeval import LongMemEvalTask
from memgym.tasks.memoryagentbench import MemoryAgentBenchTask, split_text

runner = CliRunner()
PEOPLE = [("Ann", "Bob"), ("Cleo", "Dev"), ("Emil", "Fay"), ("Gus", "Hana")]
INSTRUMENTS = ["violin", "cello", "banjo", "tuba"]
CITIES = ["Lisbon", "Quito", "Hanoi", "Oslo"]


# -- synthetic files ------------------------------------------------------------------------------
def locomo_sample(i: int) -> dict:
    a, b = PEOPLE[i]
    inst, city = INSTRUMENTS[i], CITIES[i]
    conv = {
        "speaker_a": a, "speaker_b": b,
        "session_1_date_time": "1:56 pm on 8 May, 2023",
        "session_1": [
            {"speaker": a, "dia_id": "D1:1", "text": f"Hey {b}, I play the {inst} in a band now."},
            {"speaker": b, "dia_id": "D1:2", "text": "That sounds fun, how long have you played?"},
            {"speaker": a, "dia_id": "D1:3", "text": f"Since 2019, when I moved to {city}.",
             "img_url": ["https://example.org/x.jpg"], "blip_caption": f"a photo of {city}"},
        ],
        "session_2_date_time": "7:00 pm on 20 May, 2023",
        "session_2": [
            {"speaker": b, "dia_id": "D2:1", "text": "I adopted a puppy named Biscuit yesterday."},
            {"speaker": a, "dia_id": "D2:2", "text": "Congratulations! Send me pictures please."},
        ],
        # odd cases seen in the real file: an empty session and an image-only turn
        "session_3_date_time": "9:15 am on 2 June, 2023",
        "session_3": [],
        "session_4_date_time": "6:40 pm on 3 June, 2023",
        "session_4": [{"speaker": b, "dia_id": "D4:1", "text": "",
                       "img_url": ["https://example.org/p.jpg"],
                       "blip_caption": "a puppy on a sofa"}],
    }
    qa = [
        {"question": f"What instrument does {a} play?", "answer": inst, "evidence": ["D1:1"],
         "category": 4},
        {"question": f"When did {a} move?", "answer": 2019, "evidence": ["D1:3"], "category": 2},
        {"question": f"Which city does {a} live in and what does {b} own?",
         "answer": f"{city}, a puppy", "evidence": ["D1:3; D02:01"], "category": 1},
        {"question": f"What is the name of the puppy {b} adopted?", "answer": "Biscuit",
         "evidence": ["D2:1", "D9:9"], "category": 4},
        {"question": f"What pet did {a} adopt?", "adversarial_answer": "a puppy",
         "evidence": ["D2:1"], "category": 5},
        {"question": f"Would {a} enjoy a concert?", "answer": "yes", "evidence": [],
         "category": 3},
    ]
    return {"sample_id": f"conv-{i}", "conversation": conv, "qa": qa,
            "event_summary": {}, "session_summary": {}}


def lme_record(i: int, qtype: str, abstain: bool = False, flags: bool = True) -> dict:
    sessions = [
        [{"role": "user", "content": "I need a recipe for lentil soup."},
         {"role": "assistant", "content": "Sure: lentils, onion, carrots and cumin."}],
        [{"role": "user", "content": f"My sister Mira lives in {CITIES[i]}.", "has_answer": flags},
         {"role": "assistant", "content": "How nice, is it far from you?"},
         {"role": "user", "content": "About two hours by train."}],
        [{"role": "user", "content": "Any tips for sleeping better?"},
         {"role": "assistant", "content": "Keep a fixed schedule and avoid screens late."}],
    ]
    return {
        "question_id": f"q{i:04d}" + ("_abs" if abstain else ""), "question_type": qtype,
        "question": "Which city does my sister Mira live in?", "answer": CITIES[i],
        "question_date": "2023/06/01 (Thu) 10:00",
        "haystack_session_ids": [f"s{i}a", f"answer_s{i}", f"s{i}c"],
        "haystack_dates": ["2023/05/01 (Mon) 09:00", "2023/05/02 (Tue) 09:00",
                           "2023/05/03 (Wed) 09:00"],
        "haystack_sessions": sessions, "answer_session_ids": [f"answer_s{i}"],
    }


MAB_CONTEXT = ("The lighthouse keeper on Vell Island is named Oren Tal. He paints the tower red "
               "every spring. \"Storms are frequent,\" he says. The ferry leaves at noon.\n"
               "The island's only bakery sells rye bread. Its owner, Pia, opens at six.")


def mab_rows() -> list[dict]:
    return [
        {"context": MAB_CONTEXT,
         "questions": ["Who keeps the lighthouse?", "When does the ferry leave?"],
         "answers": [["Oren Tal"], ["noon", "at noon"]],
         "metadata": {"source": "ruler_qa_tiny", "question_types": None}},
        {"context": "Room 12 holds the archive. " * 8 + "The archive key is blue.",
         "questions": ["What colour is the archive key?"], "answers": ["blue"],
         "metadata": json.dumps({"source": "eventqa_tiny", "question_types": ["color"]})},
    ]


def write_json(path: Path, data) -> Path:
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")
    return path


@pytest.fixture
def locomo_path(tmp_path: Path) -> Path:
    return write_json(tmp_path / "locomo10.json", [locomo_sample(i) for i in range(4)])


@pytest.fixture
def lme_path(tmp_path: Path) -> Path:
    records = [lme_record(0, "single-session-user"),
               lme_record(1, "knowledge-update", flags=False),
               lme_record(2, "single-session-user", abstain=True)]
    return write_json(tmp_path / "longmemeval_s.json", records)


@pytest.fixture
def mab_path(tmp_path: Path) -> Path:
    path = tmp_path / "mab.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in mab_rows()), encoding="utf-8")
    return path


def all_episodes(task, **params):
    return list(task.episodes("all", **params))


# -- LoCoMo ----------------------------------------------------------------------------------------
def test_locomo_chunking_evidence_kinds_and_answers(locomo_path: Path) -> None:
    task = LoCoMoTask(locomo_path)
    turn_eps = all_episodes(task)
    session_eps = all_episodes(task, chunking="session")
    assert len(turn_eps) == len(session_eps) == 4
    for ep, sess in zip(turn_eps, session_eps):
        assert len(ep.chunks) == 6 and len(sess.chunks) == 3  # session_3 is empty
        assert ep.chunks[0].speaker and ep.chunks[0].time == "1:56 pm on 8 May, 2023"
        assert ep.chunks[3].session == 2 and sess.chunks[1].session == 2
        assert sess.chunks[0].text.startswith(f"{ep.chunks[0].speaker}: Hey")
        assert "[shared an image: a photo of" in ep.chunks[2].text
        assert [q.kind for q in ep.questions] == [
            "single-hop", "temporal", "multi-hop", "single-hop", "open-domain"]
        assert ep.questions[1].answers == ("2019",)  # numbers become strings
        assert ep.questions[2].evidence == (2, 3)  # "D1:3; D02:01" names two turns
        assert sess.questions[2].evidence == (0, 1)
        assert ep.labels["unmapped_evidence"] == 1 and ep.labels["excluded_adversarial"] == 1
        for q in ep.questions:  # the evidence chunk holds the answer's turn
            if q.kind == "single-hop":
                assert all(q.answers[0] in ep.chunks[c].text for c in q.evidence)
        for q in sess.questions:
            if q.kind == "single-hop":
                assert all(q.answers[0] in sess.chunks[c].text for c in q.evidence)
    adv = all_episodes(task, include_adversarial=True)[0].questions
    assert [q.kind for q in adv].count("adversarial") == 1
    assert next(q for q in adv if q.kind == "adversarial").answers[0] == "unknown"
    no_caption = all_episodes(LoCoMoTask(locomo_path, image_captions=False))[0]
    assert "shared an image" not in no_caption.chunks[2].text


def test_locomo_single_sample_dict_and_splits(tmp_path: Path, locomo_path: Path) -> None:
    one = LoCoMoTask(write_json(tmp_path / "one.json", locomo_sample(0)))
    assert len(one) == 1 and all(one.splits[s] == (0,) for s in SPLITS)  # too few to split
    task = LoCoMoTask(locomo_path)
    ids = {s: {task.episode(k, s).labels["record_id"] for k in range(8)} for s in SPLITS}
    assert all(ids.values())  # every split non-empty with >= 3 records
    assert sum(len(v) for v in ids.values()) == len(set().union(*ids.values()))  # disjoint
    assert set().union(*ids.values()) == {f"conv-{i}" for i in range(4)}
    split = task.splits["train"]
    wrapped, first = task.episode(len(split) + 1, "train"), task.episode(1, "train")  # seed % n
    assert (wrapped.chunks, wrapped.questions) == (first.chunks, first.questions)
    assert LoCoMoTask(locomo_path).splits == task.splits


def test_partition_rule_is_disjoint_covering_stable() -> None:
    for n in (3, 4, 5, 10, 200):
        ids = [f"rec-{i}" for i in range(n)]
        parts = partition(ids)
        assert parts == partition(list(ids))
        assert all(parts[s] for s in SPLITS)
        assert sorted(i for s in SPLITS for i in parts[s]) == list(range(n))
    big = partition([f"rec-{i}" for i in range(200)])
    assert 100 <= len(big["train"]) <= 140 and 25 <= len(big["heldout"]) <= 55
    # Adding records never moves the others (hash thresholds) once every split is populated.
    more = partition([f"rec-{i}" for i in range(300)])
    assert set(big["heldout"]) <= set(more["heldout"])
    dup = partition(["a", "b", "c", "d", "a"])  # the same id never crosses splits
    assert [s for s in SPLITS if 0 in dup[s]] == [s for s in SPLITS if 4 in dup[s]]
    assert partition(["x", "y"]) == {s: (0, 1) for s in SPLITS}


def test_gym_make_and_evaluate_on_locomo(locomo_path: Path) -> None:
    env = gym.make("memgym/LoCoMo-v0", data_path=str(locomo_path))
    env.reset(seed=0, options={"split": "heldout", "episode_seed": 0, "chunking": "session"})
    assert len(env.unwrapped.episode.chunks) == 3
    env.close()
    text_env = gym.make("memgym/LoCoMo-Text-v0", data_path=str(locomo_path))
    text_env.close()
    report = evaluate_agents(["oracle", "fifo"], "memgym/LoCoMo-v0",
                             env_kwargs={"data_path": str(locomo_path)}, episodes=2)
    oracle = report["agents"]["oracle"]
    assert oracle["per_kind"]["single-hop"] > 0
    assert set(oracle["questions_per_kind"]) == {
        "single-hop", "temporal", "multi-hop", "open-domain"}
    assert "fifo" in report["agents"]


def test_missing_data_path_says_how_to_pass_it() -> None:
    with pytest.raises(ValueError, match=re.escape('gym.make("memgym/LoCoMo-v0", data_path=')):
        gym.make("memgym/LoCoMo-v0")
    with pytest.raises(ValueError, match="--env-arg data_path="):
        LoCoMoTask()
    with pytest.raises(FileNotFoundError, match="data file not found"):
        LoCoMoTask("/nowhere/locomo10.json")


# -- malformed files ------------------------------------------------------------------------------
def test_locomo_errors_name_file_record_and_field(tmp_path: Path) -> None:
    samples = [locomo_sample(i) for i in range(4)]
    del samples[3]["qa"][5]["question"]
    path = write_json(tmp_path / "locomo10.json", samples)
    with pytest.raises(DataError) as err:
        LoCoMoTask(path)
    assert str(err.value) == "locomo10.json: sample 3: qa[5]: missing field 'question'"

    samples = [locomo_sample(i) for i in range(4)]
    samples[1]["conversation"]["session_2"][0]["text"] = 7
    samples[0]["qa"] = {"question": "?"}
    path = write_json(tmp_path / "locomo10.json", samples)
    with pytest.raises(DataError, match=re.escape(
            "locomo10.json: sample 0: field 'qa' must be a list, got an object")):
        LoCoMoTask(path)
    samples[0]["qa"] = []
    path = write_json(tmp_path / "locomo10.json", samples)
    with pytest.raises(DataError) as err:
        LoCoMoTask(path)
    assert str(err.value) == ("locomo10.json: sample 1: conversation.session_2[0]: "
                              "field 'text' must be a string, got an integer")

    text = json.dumps([locomo_sample(0)], indent=1)
    (tmp_path / "cut.json").write_text(text[: len(text) // 2], encoding="utf-8")
    try:
        json.loads(text[: len(text) // 2])
    except json.JSONDecodeError as exc:
        expected = f"cut.json: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
    with pytest.raises(DataError) as err:
        LoCoMoTask(tmp_path / "cut.json")
    assert str(err.value).startswith(expected)


def test_other_formats_report_malformed_records(tmp_path: Path) -> None:
    records = [lme_record(0, "multi-session"), lme_record(1, "multi-session")]
    del records[1]["answer"]
    with pytest.raises(DataError) as err:
        LongMemEvalTask(write_json(tmp_path / "longmemeval_s.json", records))
    assert str(err.value) == "longmemeval_s.json: record 1: missing field 'answer'"
    rows = mab_rows()
    rows[1]["answers"] = []
    with pytest.raises(DataError, match=re.escape(
            "mab.json: row 1: field 'answers' has 0 items for 1 questions")):
        MemoryAgentBenchTask(write_json(tmp_path / "mab.json", rows))
    eps = tmp_path / "eps.jsonl"
    eps.write_text('{"chunks": [{"id": 0, "text": "a"}], "questions": []}\n{"chunks": [\n')
    with pytest.raises(DataError, match=re.escape("eps.jsonl: line 2: invalid JSON at column")):
        JSONLStreamTask(eps)
    eps.write_text('{"chunks": [{"id": 0, "text": "a"}, {"id": 1}], "questions": []}\n')
    with pytest.raises(DataError) as err:
        JSONLStreamTask(eps)
    assert str(err.value) == "eps.jsonl: line 1: chunks[1]: missing field 'text'"


# -- LongMemEval, MemoryAgentBench, JSONL ---------------------------------------------------------
def test_longmemeval_turn_and_session_chunking(lme_path: Path) -> None:
    task = LongMemEvalTask(lme_path)
    eps = {ep.labels["record_id"]: ep for ep in all_episodes(task)}
    sess = {ep.labels["record_id"]: ep for ep in all_episodes(task, chunking="session")}
    assert all(len(ep.chunks) == 7 for ep in eps.values())
    assert all(len(ep.chunks) == 3 for ep in sess.values())
    normal = eps["q0000"]
    (q,) = normal.questions
    assert q.kind == "single-session-user" and q.evidence == (2,)
    assert "Lisbon" in normal.chunks[2].text and normal.chunks[2].speaker == "user"
    assert normal.chunks[2].time == "2023/05/02 (Tue) 09:00" and normal.chunks[2].session == 1
    assert sess["q0000"].questions[0].evidence == (1,)
    assert "Lisbon" in sess["q0000"].chunks[1].text
    # No has_answer flags: every turn of the answer session is evidence.
    assert eps["q0001"].questions[0].evidence == (2, 3, 4)
    abstain = eps["q0002_abs"].questions[0]
    assert abstain.kind == "abstain" and abstain.answers == ("unknown",)
    assert abstain.evidence == () and abstain.conflicting == (2,)
    assert eps["q0002_abs"].labels["reference_answer"] == "Hanoi"


def test_memoryagentbench_chunks_and_kinds(tmp_path: Path, mab_path: Path) -> None:
    task = MemoryAgentBenchTask(mab_path, chunk_chars=80)
    eps = all_episodes(task)
    assert len(eps) == 2
    first = next(ep for ep in eps if ep.labels["source"] == "ruler_qa_tiny")
    assert all(len(c.text) <= 80 for ep in eps for c in ep.chunks)
    assert " ".join(c.text for c in first.chunks).split() == MAB_CONTEXT.split()
    assert first.chunks[0].text.endswith("Oren Tal.")
    assert [q.kind for q in first.questions] == ["ruler_qa_tiny"] * 2
    assert first.questions[1].answers == ("noon", "at noon")
    assert all(q.evidence == () and q.asked_after is None for q in first.questions)
    second = next(ep for ep in eps if ep.labels["source"] == "eventqa_tiny")
    assert second.questions[0].kind == "color" and second.questions[0].answers == ("blue",)
    by_tokens = task.episode(0, "train", chunk_tokens=6)
    assert len(by_tokens.chunks) > 1
    assert split_text("x" * 25, 10) == ["x" * 10, "x" * 10, "x" * 5]
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    rows = mab_rows()
    rows[1]["metadata"] = json.loads(rows[1]["metadata"])
    rows[1]["answers"] = [["blue"]]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "Accurate_Retrieval.parquet")
    parquet = MemoryAgentBenchTask(tmp_path / "Accurate_Retrieval.parquet", chunk_chars=80)
    assert [(ep.chunks, ep.questions) for ep in all_episodes(parquet)] == [
        (ep.chunks, ep.questions) for ep in eps]


def test_detect_format(locomo_path: Path, lme_path: Path, mab_path: Path, tmp_path: Path) -> None:
    assert detect_format(locomo_path) == "locomo"
    assert detect_format(lme_path) == "longmemeval"
    assert detect_format(mab_path) == "memoryagentbench"
    with pytest.raises(DataError, match="cannot tell the format"):
        detect_format(write_json(tmp_path / "x.json", [{"foo": 1}]))
    assert isinstance(open_dataset(lme_path), LongMemEvalTask)


def test_jsonl_round_trip_via_convert(tmp_path: Path, locomo_path: Path) -> None:
    out = tmp_path / "streams.jsonl"
    result = runner.invoke(data_app, ["convert", str(locomo_path), str(out)])
    assert result.exit_code == 0, result.output
    assert "wrote 4 episodes" in result.output and detect_format(out) == "jsonl"
    src, conv = LoCoMoTask(locomo_path), JSONLStreamTask(out)
    assert conv.splits == src.splits
    for split in SPLITS:
        for seed in range(3):
            assert conv.episode(seed, split) == src.episode(seed, split)
    env = gym.make("memgym/JSONLStream-v0", data_path=str(out))
    env.reset(seed=0, options={"split": "val", "episode_seed": 0})
    env.close()
    held = tmp_path / "held.jsonl"
    result = runner.invoke(data_app, ["convert", str(locomo_path), str(held), "--split", "heldout",
                                      "--chunking", "session"])
    assert result.exit_code == 0, result.output
    by_field = JSONLStreamTask(held, split_by="field")
    assert len(by_field.splits["heldout"]) == len(src.splits["heldout"])
    assert by_field.episode(0, "heldout") == src.episode(0, "heldout", chunking="session")


def test_cli_validate_ok_and_bad(tmp_path: Path, locomo_path: Path, mab_path: Path) -> None:
    result = runner.invoke(data_app, ["validate", str(locomo_path)])
    assert result.exit_code == 0, result.output
    assert "format locomo, 4 records" in result.output
    assert "chunks: 24 (6.0 per record)" in result.output
    assert "single-hop" in result.output and "adversarial" not in result.output
    result = runner.invoke(data_app, ["validate", str(locomo_path), "--chunking", "session",
                                      "-p", "include_adversarial=true"])
    assert result.exit_code == 0 and "adversarial" in result.output
    assert "chunks: 12" in result.output
    result = runner.invoke(data_app, ["validate", str(mab_path), "--format", "memoryagentbench",
                                      "-p", "chunk_chars=80"])
    assert result.exit_code == 0 and "ruler_qa_tiny" in result.output
    bad = json.loads(locomo_path.read_text())
    del bad[3]["qa"][5]["question"]
    for args in (["validate", str(write_json(tmp_path / "bad.json", bad))],
                 ["validate", str(tmp_path / "missing.json")],
                 ["validate", str(locomo_path), "--format", "longmemeval"],
                 ["validate", str(locomo_path), "--chunking", "paragraph"],
                 ["convert", str(locomo_path), str(tmp_path / "o.jsonl"), "--split", "test"]):
        result = runner.invoke(data_app, args)
        assert result.exit_code == 2, (args, result.output)
        assert "error:" in result.output and "Traceback" not in result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)
    result = runner.invoke(data_app, ["validate", str(tmp_path / "bad.json")])
    assert "bad.json: sample 3: qa[5]: missing field 'question'" in result.output


def test_documented_example_line_parses(tmp_path: Path) -> None:
    doc = (Path(__file__).resolve().parents[1] / "docs" / "DATA.md").read_text()
    line = doc.split("<!-- example-line -->")[1].split("```json\n")[1].split("\n```")[0]
    path = tmp_path / "episodes.jsonl"
    path.write_text(line + "\n")
    ep = JSONLStreamTask(path).episode(0, "heldout")  # one record: every split holds it
    assert ep.questions[0].evidence == (0,) and ep.chunks[1].speaker == "Bob"
    assert json.loads(line) == json.loads(ep.to_json()) | {"split": "train"}


def test_locomo_empty_sessions_and_image_only_turns(tmp_path: Path) -> None:
    path = tmp_path / "locomo10.json"
    path.write_text(json.dumps([locomo_sample(i) for i in range(3)]))
    episode = all_episodes(LoCoMoTask(path))[0]
    image_only = [c for c in episode.chunks if "a puppy on a sofa" in c.text]
    assert len(image_only) == 1 and image_only[0].time and "3 June" in image_only[0].time
    sessions = {c.session for c in episode.chunks}
    by_session = all_episodes(LoCoMoTask(path, chunking="session"))[0]
    assert len(by_session.chunks) == len(sessions)  # the empty session yields no chunk
