"""LTS recipe: the admission env, reuse credit on hand-built episodes, baselines, config."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import memgym  # noqa: F401
from memgym.agents.baselines import BASELINES
from memgym.episode import Chunk, Episode, Question
from memgym.recipes.lts import ADMIT, SKIP, AdmissionEnv, AdmitAllAgent, supporting_entries
from memgym.recipes.ids import ADMISSION_COST
from memgym.recipes.ids import LTS_ENV_ID as ENV_ID

from recipe_checks import run_benchmark_script, validated_recipe_config

ANN = "Ann Lee's city is Oslo."
ANN_AGAIN = "Ann Lee's city is still Oslo."
RUMOUR = "Rumour has it Ann Lee's city is Lima."
BOB = "Bob Ray's job is baker."
FILLER = "It rained all afternoon."
Q_ANN = Question("What is Ann Lee's city?", ("Oslo",), evidence=(0,))


def _episode(texts: list[str], questions: list[Question]) -> Episode:
    return Episode(chunks=tuple(Chunk(i, t) for i, t in enumerate(texts)),
                   questions=tuple(questions), task="hand", split="train", seed=0)


def _play(actions: list[int], texts: list[str], questions: list[Question], entries: int = 4):
    env = AdmissionEnv(tiers={"memory": {"entries": entries, "tokens": None}},
                       rewards={"qa": 0.0, "op_costs": {"add": 0.01, "update": 0.01}})
    env.reset(seed=0, options={"episode": _episode(texts, questions)})
    steps = [env.step(a) for a in actions]
    return env, steps


def test_registered_env_passes_check_env_and_plays():
    env = gym.make(ENV_ID)
    check_env(env.unwrapped, skip_render_check=True)
    assert env.action_space == gym.spaces.Discrete(2)
    env.reset(seed=1)
    rng, done = np.random.default_rng(0), False
    while not done:
        mask = env.unwrapped.action_masks()
        assert mask.shape == (2,) and mask[SKIP]
        obs, reward, done, _, info = env.step(int(rng.choice(np.flatnonzero(mask))))
        assert env.observation_space.contains(obs)
        assert set(info["reward_terms"]) >= {"reuse", "op_cost", "qa"}
    assert 0.0 <= info["qa_score"] <= 1.0


def test_reuse_credit_pays_the_admitted_entry_behind_a_correct_answer():
    env, steps = _play([ADMIT, SKIP, SKIP], [ANN, RUMOUR, FILLER], [Q_ANN])
    rewards = [s[1] for s in steps]
    assert rewards[0] == pytest.approx(-0.01)  # the admission (sparsity) cost
    assert rewards[1] == pytest.approx(0.0)  # skipping is free
    assert steps[-1][2] and steps[-1][4]["qa_score"] == 1.0
    assert rewards[2] == pytest.approx(1.0)  # reuse credit, 1 question; qa weight is 0
    assert steps[-1][4]["reward_terms"]["qa"] == 0.0
    assert steps[-1][4]["reused"] == 1 and steps[-1][4]["admission_precision"] == 1.0


def test_no_credit_for_a_wrong_answer_and_shared_credit_for_duplicates():
    # Admitting the rumour beside the fact makes the answer ambiguous: no credit at all.
    _, steps = _play([ADMIT, ADMIT, SKIP], [ANN, RUMOUR, FILLER], [Q_ANN])
    assert steps[-1][4]["qa_score"] == 0.0 and steps[-1][4]["reward_terms"]["reuse"] == 0.0
    assert steps[-1][4]["admission_precision"] == 0.0
    # Two entries holding the same answer share one answer's credit instead of doubling it.
    env, steps = _play([ADMIT, ADMIT, SKIP], [ANN, ANN_AGAIN, FILLER], [Q_ANN])
    assert steps[-1][4]["reward_terms"]["reuse"] == pytest.approx(1.0)
    assert steps[-1][4]["reused"] == 2
    support = supporting_entries(env.core, env.core.records)
    assert [sorted(ids) for ids in support] == [sorted(env.core.store.entries)]


def test_full_memory_evicts_the_entry_written_longest_ago():
    q_bob = Question("What is Bob Ray's job?", ("baker",), evidence=(2,))
    env, steps = _play([ADMIT, ADMIT, ADMIT, SKIP], [RUMOUR, FILLER, BOB, ANN], [q_bob],
                       entries=2)
    texts = sorted(e.text for e in env.core.store.entries.values())
    assert texts == sorted([FILLER, BOB])  # the rumour (oldest write) went first
    assert steps[2][4]["op"] == "update"  # forced eviction = overwrite in place
    assert steps[-1][4]["qa_score"] == 1.0


def test_bad_actions_never_crash_and_change_nothing():
    env, _ = _play([], [ANN, BOB, FILLER, ANN_AGAIN], [Q_ANN])
    for action in (7, -1, "admit", None):
        before = env.core.store.snapshot()
        _, reward, _, _, info = env.step(action)
        assert info["ok"] is False and reward < 0
        assert env.core.store.snapshot()["entries"].keys() == before["entries"].keys()
    with pytest.raises(ValueError, match="ops"):
        AdmissionEnv(ops=("noop", "add"))


def test_admission_baselines_are_registered_and_ordered_as_expected():
    """Measured on a few held-out streams at the registered budget: admitting only facts
    beats admitting everything, which beats admitting nothing."""
    from memgym.agents.evaluate import evaluate_agents

    assert BASELINES["admit_all"] is AdmitAllAgent
    report = evaluate_agents(["admit_all", "admit_none", "admit_facts"], ENV_ID, episodes=8)
    qa = {k: v["qa_score"] for k, v in report["agents"].items()}
    assert qa["admit_facts"] > qa["admit_all"] > qa["admit_none"] == 0.0
    ops = report["agents"]["admit_all"]["ops_per_episode"]
    assert ops.get("noop", 0) == 0 and ADMISSION_COST > 0


def test_config_validates():
    config = validated_recipe_config("lts")
    assert config.env.id == ENV_ID and "admit_all" in config.eval.baselines


@pytest.mark.slow
def test_benchmark_script_runs(tmp_path):
    result = run_benchmark_script(
        "lts", ["--minutes", "0.3", "--steps", "4096", "--episodes", "2", "--out", str(tmp_path)],
        tmp_path)
    assert set(result["table"]) == {"learned", "admit_all", "admit_none", "admit_random",
                                    "admit_facts"}
    assert (tmp_path / "lts.md").read_text().startswith("# LTS")


def test_memory_op_baselines_refuse_the_admission_actions_with_a_clear_error():
    from memgym.agents.evaluate import evaluate_agents

    with pytest.raises(ValueError, match=r"baseline 'fifo' plays 'memory' actions; "
                                         r"memgym/LTS-Admission-v0 takes 'admission' actions"):
        evaluate_agents(["fifo"], ENV_ID, episodes=1)
    report = evaluate_agents(["admit_all"], ENV_ID, episodes=1)  # its own baselines play
    assert len(report["agents"]["admit_all"]["episode_scores"]) == 1
