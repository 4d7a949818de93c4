"""The LLM answerer over an OpenAI-compatible endpoint, against a real local server process.

``tests/openai_stub_server.py`` is started per test (127.0.0.1, a free port) and stopped in
the fixture's teardown. Its "model" is deterministic (the last word of the first note), so
answers, request counts and resumption from the cache can be checked exactly. No weights.
"""

from __future__ import annotations

import json
import select
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("openai")

from memgym.llm.answer_cache import AnswerCache  # noqa: E402
from memgym.llm.answerer import (  # noqa: E402
    LLMReader, clean_answer, endpoint_reader, parse_judgement,
)
from memgym.llm.endpoint import AnswererError  # noqa: E402
from memgym.rewards.metrics import locomo_f1, score_answer  # noqa: E402
from memgym.rewards.reader import ReaderAnswer, make_reader  # noqa: E402

SERVER = Path(__file__).resolve().parent / "openai_stub_server.py"
ENTRIES = ["Ann's city is Oslo.", "Bo likes tea.", "Cy's job is cook."]
NAMES = ["Ann", "Bob", "Cyd", "Dan", "Eve", "Fay"]
CITIES = ["Oslo", "Rome", "Lima", "Kyiv", "Bern", "Doha"]
QUESTIONS = [f"What is {n}'s city?" for n in NAMES]
NOTES = [f"{n}'s city is {c}." for n, c in zip(NAMES, CITIES)]


class Stub:
    """One running stub server: its base URL and request statistics."""

    def __init__(self, proc: subprocess.Popen[str], port: int) -> None:
        self.proc, self.port = proc, port
        self.base_url = f"http://127.0.0.1:{port}/v1"

    def stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/stats", timeout=5) as r:
            return json.loads(r.read())

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


@pytest.fixture
def stub() -> Iterator[Callable[..., Stub]]:
    """Start stub servers with CLI flags; every one is stopped at teardown."""
    started: list[Stub] = []

    def start(*flags: str) -> Stub:
        proc = subprocess.Popen([sys.executable, str(SERVER), "--port", "0", *flags],
                                stdout=subprocess.PIPE, text=True)
        server = Stub(proc, 0)
        started.append(server)
        ready, _, _ = select.select([proc.stdout], [], [], 15)
        line = proc.stdout.readline() if ready else ""
        if not line.startswith("PORT "):
            raise RuntimeError(f"stub server did not start (said {line!r})")
        server.port = int(line.split()[1])
        server.base_url = f"http://127.0.0.1:{server.port}/v1"
        return server

    yield start
    for server in started:
        server.stop()


def reader_for(server: Stub, **params: Any) -> LLMReader:
    params.setdefault("retry_backoff", 0.0)
    return endpoint_reader(server.base_url, "stub-model", **params)


def test_answers_read_the_top_k_entries_and_are_cached(stub: Callable[..., Stub]) -> None:
    server = stub()
    reader = reader_for(server, top_k=1)
    answers = reader.answer_all(["What is Ann's city?", "What does Bo like?"], ENTRIES, [2])
    assert [a.text for a in answers] == ["Oslo", "tea"]
    assert [a.mode for a in answers] == ["extract", "extract"]
    assert [a.used for a in answers] == [(0, 2), (1, 2)]  # ranked top-1 plus the core entry
    users = server.stats()["users"]
    assert "Ann's city is Oslo." in users[0] + users[1] and "Cy's job" in users[0]
    assert "Bo likes tea" not in min(users, key=lambda u: "Ann" not in u)
    again = reader.answer_all(["What is Ann's city?", "What does Bo like?"], ENTRIES, [2])
    assert again == answers and server.stats()["requests"] == 2
    assert (reader.generated, reader.cached) == (2, 2)
    # The same question over other retrieved texts is another key: asked again.
    reader.answer_all(["What is Ann's city?"], ["Ann's city is Rome."])
    assert server.stats()["requests"] == 3
    assert make_reader("llm", backend="openai", base_url=server.base_url,
                       model="stub-model").answer_all(["Q?"], [])[0].text == "unknown"


def test_a_batch_is_concurrent_bounded_and_deduplicated(stub: Callable[..., Stub]) -> None:
    server = stub("--delay", "0.1")
    reader = reader_for(server, top_k=1, max_workers=3)
    start = time.perf_counter()
    answers = reader.answer_all(QUESTIONS + QUESTIONS[:2], NOTES)
    elapsed = time.perf_counter() - start
    assert [a.text for a in answers] == CITIES + CITIES[:2]
    stats = server.stats()
    assert stats["requests"] == 6  # the two repeated questions were asked once
    assert stats["max_in_flight"] == 3
    assert elapsed < 6 * 0.1  # sequential would take 0.6 s; three at a time ~0.2 s


def test_api_key_comes_from_the_named_env_var(stub: Callable[..., Stub],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    server = stub()
    monkeypatch.delenv("MEMGYM_TEST_KEY", raising=False)
    reader_for(server, api_key_env="MEMGYM_TEST_KEY").answer_all(["Q1?"], ENTRIES)
    monkeypatch.setenv("MEMGYM_TEST_KEY", "sk-test")
    reader_for(server, api_key_env="MEMGYM_TEST_KEY").answer_all(["Q2?"], ENTRIES)
    assert server.stats()["auth"] == ["Bearer EMPTY", "Bearer sk-test"]


@pytest.mark.parametrize("marker, retried, words", [
    ("[[sleep]]", True, "timeout"),
    ("[[500]]", True, "HTTP 500"),
    ("[[400]]", False, "HTTP 400"),
    ("[[notjson]]", True, "malformed reply"),
    ("[[nochoices]]", True, "malformed reply"),
])
def test_failures_raise_a_clear_error_after_retries(stub: Callable[..., Stub], marker: str,
                                                    retried: bool, words: str) -> None:
    server = stub("--sleep", "3")
    reader = reader_for(server, timeout=0.3, max_retries=1)
    with pytest.raises(AnswererError) as info:
        reader.answer_all([f"What is Ann's city? {marker}"], ENTRIES)
    message = str(info.value)
    assert server.base_url in message and "'stub-model'" in message and words in message
    assert info.value.base_url == server.base_url and info.value.model == "stub-model"
    assert server.stats()["requests"] == (2 if retried else 1)
    assert "httpx" not in message and info.value.__cause__ is None


def test_a_failure_midway_loses_nothing_and_the_rerun_asks_only_the_rest(
        stub: Callable[..., Stub], tmp_path: Path) -> None:
    cache_path = tmp_path / "answers.jsonl"
    failing = stub("--fail-after", "3", "--mode", "500")
    reader = reader_for(failing, top_k=1, max_workers=1, max_retries=1, cache_path=cache_path)
    with pytest.raises(AnswererError, match="HTTP 500"):
        reader.answer_all(QUESTIONS, NOTES)
    assert len(cache_path.read_text().splitlines()) == 3  # written as they arrived
    healthy = stub()
    rerun = reader_for(healthy, top_k=1, cache_path=cache_path)  # a new process, in effect
    answers = rerun.answer_all(QUESTIONS, NOTES)
    assert [a.text for a in answers] == CITIES
    users = healthy.stats()["users"]
    assert sorted(u.rsplit("Question: ", 1)[1] for u in users) == QUESTIONS[3:]
    assert (rerun.generated, rerun.cached) == (3, 3)


def test_a_killed_server_midway_then_a_rerun_with_concurrency(
        stub: Callable[..., Stub], tmp_path: Path) -> None:
    cache_path = tmp_path / "answers.jsonl"
    dying = stub("--die-after", "2", "--delay", "0.05")
    reader = reader_for(dying, top_k=1, max_workers=2, max_retries=1, timeout=2,
                        cache_path=cache_path)
    with pytest.raises(AnswererError, match="connection"):
        reader.answer_all(QUESTIONS, NOTES)
    assert dying.proc.wait(timeout=5) == 3
    kept = len(AnswerCache(cache_path))
    assert 1 <= kept <= 2  # 2 unless the death cut the second reply short (timing)
    healthy = stub()
    answers = reader_for(healthy, top_k=1, cache_path=cache_path).answer_all(QUESTIONS, NOTES)
    assert [a.text for a in answers] == CITIES
    assert healthy.stats()["requests"] == 6 - kept


def test_the_cache_file_survives_a_torn_last_line(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    cache = AnswerCache(path)
    cache.put("k1", "Oslo", kind="answer")
    with path.open("a") as f:
        f.write('{"key": "k2", "val')  # a write cut short by a crash
    reopened = AnswerCache(path)
    assert reopened.get("k1") == "Oslo" and "k2" not in reopened
    assert reopened.skipped_lines == 1
    reopened.put("k3", "Rome")
    assert AnswerCache(path).get("k3") == "Rome" and len(AnswerCache(path)) == 2


@pytest.mark.parametrize("style", ["word", "json"])
def test_judge_scores_are_recorded_and_cached(stub: Callable[..., Stub], style: str) -> None:
    server = stub("--judge-style", style)
    reader = reader_for(server, top_k=1, judge=True)
    questions = ["What is Ann's city?", "What does Bo like?"]
    records = reader.evaluate(questions, ENTRIES, [["Oslo"], ["coffee"]])
    assert [r.answer for r in records] == ["Oslo", "tea"]
    assert [r.judge for r in records] == [1.0, 0.0]
    assert [r.score for r in records] == [1.0, 0.0] and records[0].used == (0,)
    assert records[0].gold == ("Oslo",)
    assert server.stats()["requests"] == 4  # two answers, two judgements
    plain = reader.evaluate(questions, ENTRIES, [["Oslo"], ["coffee"]], judge=False)
    assert [r.judge for r in plain] == [None, None]
    assert reader.judge(questions, ["Oslo", "tea"], [["Oslo"], ["coffee"]]) == [1.0, 0.0]
    assert server.stats()["requests"] == 4


def test_judgement_parsing() -> None:
    assert parse_judgement("CORRECT") == parse_judgement("Yes.") == 1.0
    assert parse_judgement("WRONG") == parse_judgement("Incorrect") == 0.0
    assert parse_judgement("not correct") == parse_judgement("no idea") == 0.0
    assert parse_judgement('{"reasoning": "not the same words", "label": "CORRECT"}') == 1.0
    assert parse_judgement("") == parse_judgement("hmm") == 0.0


def test_answers_lose_a_copied_speaker_label_but_keep_times_and_phrases() -> None:
    assert clean_answer("Deborah: She is married.") == "She is married."
    assert clean_answer("Answer: Jolene: yoga\nmore") == "yoga"
    assert clean_answer("10:30 am") == "10:30 am"  # a time is not a label
    assert clean_answer("Deborah:") == "Deborah:"  # nothing after it: kept as said
    assert clean_answer("Jolene's mom: a pendant") == "Jolene's mom: a pendant"
    assert clean_answer(' "Oslo" ') == "Oslo"
    assert clean_answer("\n  \n") == ""


def test_locomo_f1_normalises_and_splits_multi_hop_answers() -> None:
    assert locomo_f1("The cat and the dog", ["cat dog"]) == 1.0
    assert locomo_f1("Ann's", ["anns"]) == 1.0  # punctuation deleted, not a token break
    assert locomo_f1("Paris, London", ["Paris, London"]) == 1.0
    assert locomo_f1("Paris", ["Paris, London"]) == 0.5  # gold parts averaged
    assert locomo_f1("Paris", ["Paris, London"], multi_hop=False) == pytest.approx(2 / 3)
    assert locomo_f1("hiking", ["hike"]) == 0.0  # no stemming (see the docstring)
    assert locomo_f1("x", []) == 0.0
    assert score_answer(ReaderAnswer("Paris", "extract"), ["Paris, London"], "locomo_f1") == 0.5


def test_configuration_errors_are_named() -> None:
    with pytest.raises(ValueError, match="base_url and model"):
        LLMReader(backend="openai", model="m")
    with pytest.raises(ValueError, match="unknown backend"):
        LLMReader(backend="vllm")
    with pytest.raises(ValueError, match="unknown retriever"):
        LLMReader(retriever="tfidf")
    with pytest.raises(ValueError, match="base_url is for backend='openai'"):
        LLMReader(base_url="http://127.0.0.1:1/v1")


def test_the_embedding_retriever_ranks_the_shown_entries(stub: Callable[..., Stub],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from memgym.rewards.embedding import EmbeddingReader

    server = stub()
    reader = reader_for(server, top_k=1, retriever="embedding")
    assert isinstance(reader._ranker, EmbeddingReader)
    # No weights in tests: a stand-in ranking (Cy first) shows the answerer follows it.
    monkeypatch.setattr(EmbeddingReader, "rank", lambda self, qs, es: [[2, 0, 1] for _ in qs])
    answer = reader.answer_all(["What is Ann's city?"], ENTRIES)[0]
    assert answer.used == (2,) and answer.text == "cook"


def test_an_env_scores_with_the_endpoint_reader(stub: Callable[..., Stub]) -> None:
    import gymnasium as gym

    import memgym  # noqa: F401

    server = stub()
    env = gym.make("memgym/KVUpdates-Easy-Text-v0", reader="llm_endpoint", reader_params={
        "base_url": server.base_url, "model": "stub-model", "top_k": 2, "retry_backoff": 0})
    env.reset(seed=0, options={"length": 8, "n_keys": 2})
    done = False
    while not done:
        _, _, done, _, info = env.step('{"name": "add_memory"}')
    assert 0.0 <= info["qa_score"] <= 1.0 and server.stats()["requests"] >= 1
    env.close()
