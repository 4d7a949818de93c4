"""The time-aware reader option and the ADD-only manager it is made for (mem0's design)."""

from __future__ import annotations

import pytest

import memgym  # noqa: F401
from memgym.agents.evaluate import evaluate_agents
from memgym.rewards.reader import make_reader

from recipe_checks import run_benchmark_script

STALE_AND_FRESH = ["Ann's city is Oslo.", "Bob's job is pilot.", "Ann's city is Rome."]


def test_the_latest_statement_wins_only_for_a_time_aware_reader() -> None:
    question = ["What is Ann's city?"]
    plain = make_reader("bm25").answer_all(question, STALE_AND_FRESH, times=[0, 1, 5])[0]
    assert plain.text == "Oslo or Rome", "the default reader never reads time"
    timed = make_reader("bm25", time_aware=True)
    assert timed.answer_all(question, STALE_AND_FRESH, times=[0, 1, 5])[0].text == "Rome"
    assert timed.answer_all(question, STALE_AND_FRESH, times=[9, 1, 5])[0].text == "Oslo"
    assert timed.answer_all(question, STALE_AND_FRESH)[0].text == "Oslo or Rome", \
        "no times: read as the default reader"
    with pytest.raises(ValueError, match="times: 2 values for 3 entries"):
        timed.answer_all(question, STALE_AND_FRESH, times=[0, 1])


def test_latest_wins_per_subject_on_multi_hop_chains() -> None:
    entries = ["Ann's manager is Bob.", "Ann's manager is Cy.", "Bob's city is Oslo.",
               "Cy's city is Rome.", "Cy's city is Lima."]
    timed = make_reader("bm25", top_k=5, time_aware=True)
    answer = timed.answer_all(["What is Ann's manager's city?"], entries,
                              times=[0, 4, 1, 2, 3])[0]
    assert answer.text == "Lima", "Cy is Ann's latest manager; Lima Cy's latest city"


def test_the_env_passes_each_entrys_stream_time() -> None:
    """Same streams, same ADD-only manager: only the reader differs, and it helps."""
    kwargs = {"tiers": {"episodic": {"entries": 24, "tokens": None}}}
    plain = evaluate_agents(["add_only", "salience"], "memgym/KVUpdates-Medium-v0",
                            split="val", episodes=6, env_kwargs=kwargs)
    timed = evaluate_agents(["add_only", "salience"], "memgym/KVUpdates-Medium-v0",
                            split="val", episodes=6,
                            env_kwargs={**kwargs, "reader_params": {"time_aware": True}})
    assert timed["agents"]["add_only"]["qa_score"] > plain["agents"]["add_only"]["qa_score"]
    assert plain["agents"]["add_only"]["ops_per_episode"].get("update", 0) == \
        pytest.approx(0.0), "ADD-only never rewrites while memory has room"


def test_benchmark_script_runs(tmp_path) -> None:
    result = run_benchmark_script("time_aware", ["--episodes", "2", "--out", str(tmp_path)],
                                  tmp_path)
    assert len(result["rows"]) == 8 and {r["reader"] for r in result["rows"]} == {
        "default", "time-aware"}
    assert (tmp_path / "time_aware.md").read_text().startswith("# Time-aware memories")


def test_the_shaping_potential_reads_time_like_the_reader() -> None:
    """Both values kept: ambiguous for the default reader (potential halved), fine for a
    time-aware one; a later conflicting chunk still counts against it."""
    import gymnasium as gym

    from memgym.episode import Chunk, Episode, Question

    texts = ["Ann's city is Oslo.", "Ann's city is Rome.", "Ann's city is Lima, I heard.",
             "Bob likes tea."]  # the last chunk: the question is asked after it
    question = Question("What is Ann's city?", ("Rome",), evidence=(1,), conflicting=(0, 2))
    episode = Episode(chunks=tuple(Chunk(i, t) for i, t in enumerate(texts)),
                      questions=(question,), task="t", split="val", seed=0)

    def potentials(reader_params: dict) -> list[float]:
        env = gym.make("memgym/KVUpdates-Easy-v0", reader_params=reader_params,
                       tiers={"episodic": {"entries": 3, "tokens": None}})
        env.reset(seed=0, options={"episode": episode})
        core, out = env.unwrapped.core, []
        for _ in range(3):  # keep every chunk
            env.step(env.unwrapped.action_names.index("add->episodic"))
            out.append(core.potential())
        return out

    assert potentials({}) == [0.0, 0.5, pytest.approx(1 / 3)]
    assert potentials({"time_aware": True}) == [0.0, 1.0, 0.5], \
        "the older value no longer conflicts; the later rumour still does"
