"""Real-text signals: embedding features, evidence terms, session windows, text baselines,
and evidence credit for free text. Small LoCoMo-format fixtures; the MiniLM wheel."""

from __future__ import annotations

import json
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import memgym  # noqa: F401  (registers the environments)
from memgym.agents.baselines import BASELINES, informativeness
from memgym.agents.evaluate import evaluate_agents
from memgym.envs.credit import carries
from memgym.envs.text import TextMemoryEnv
from memgym.envs.text_features import SLOT_COLUMNS, VIEW_COLUMNS, stream_cues, surface_cues
from memgym.episode import Chunk, Episode, Question
from memgym.rewards.embedding import get_encoder
from memgym.tasks.locomo import LoCoMoTask
from memgym.tasks.windows import check_window, cut_window

TOPICS = ["pottery class", "marathon in Boston", "new job at the bakery", "trip to Kyoto",
          "guitar lessons", "adopted a cat named Miso", "sister's wedding", "camping at the lake"]
CHATTER = ["haha yes", "That's so cool!", "How are you doing?", "I know, right?",
           "Talk soon!", "Sounds great, tell me more."]


def conversation(i: int, n_sessions: int = 6) -> dict:
    """A LoCoMo-format sample: per session one fact turn (evidence) among chatter."""
    a, b = ("Ann", "Bob") if i % 2 == 0 else ("Cleo", "Dev")
    conv: dict = {"speaker_a": a, "speaker_b": b}
    qa = []
    for s in range(1, n_sessions + 1):
        topic = TOPICS[(i + s) % len(TOPICS)]
        conv[f"session_{s}_date_time"] = f"1:56 pm on {s * 3} May, 2023"
        turns = [{"speaker": a if t % 2 == 0 else b, "dia_id": f"D{s}:{t + 1}",
                  "text": CHATTER[(s + t) % len(CHATTER)]} for t in range(4)]
        turns[2]["text"] = f"Last week I finally started my {topic}, it was amazing."
        conv[f"session_{s}"] = turns
        qa.append({"question": f"What did {a} start in session {s}?", "answer": topic,
                   "evidence": [f"D{s}:3"], "category": 4})
    return {"sample_id": f"conv-{i}", "conversation": conv, "qa": qa}


@pytest.fixture
def data_path(tmp_path: Path) -> Path:
    path = tmp_path / "locomo-mini.json"
    path.write_text(json.dumps([conversation(i) for i in range(5)]))
    return path


# -- surface and stream cues -----------------------------------------------------------------
def test_surface_cues_read_numbers_times_names_questions() -> None:
    has_number, has_time, names, question, length = surface_cues(
        "Yesterday Melanie and Caroline ran 5 km in Boston?")
    assert (has_number, has_time, question) == (1.0, 1.0, 1.0)
    assert names == 0.75 and 0 < length < 1  # Melanie, Caroline, Boston (not "Yesterday")
    assert surface_cues("ok") == (0.0, 0.0, 0.0, 0.0, 1 / 64)


def test_stream_cues_speakers_sessions_and_time_gaps() -> None:
    chunks = tuple(Chunk(i, "hi", time, session, speaker) for i, (time, session, speaker) in
                   enumerate([("8 May, 2023", 1, "A"), ("8 May, 2023", 1, "B"),
                              ("18 May, 2023", 2, "A"), ("18 May, 2023", 2, "B")]))
    cues, speaker, session = stream_cues(Episode(chunks, ()))
    assert speaker.tolist() == [0, 1, 0, 1] and session.tolist() == [0, 0, 1, 1]
    assert cues[:, 2].tolist() == [1, 0, 1, 0]  # first turn of a session
    assert cues[0, 3] == 0 and cues[2, 3] == pytest.approx(np.log1p(10) / np.log1p(365))
    assert cues[3, 3] == cues[2, 3]  # the session's gap stays in view through the session


# -- windows of sessions -----------------------------------------------------------------------
def test_windows_keep_whole_sessions_and_their_questions(data_path: Path) -> None:
    task = LoCoMoTask(data_path, window_sessions=[2, 3])
    full = LoCoMoTask(data_path).episode(0, "train")
    seen = set()
    for seed in range(12):
        ep = task.episode(seed, "train")
        assert ep.to_json() == task.episode(seed, "train").to_json()  # deterministic
        sessions = sorted({c.session for c in ep.chunks})
        assert 2 <= len(sessions) <= 3 and sessions == list(range(sessions[0], sessions[-1] + 1))
        assert len(ep.questions) == len(sessions)  # one question per session, all inside
        for q in ep.questions:
            assert q.answers[0] in ep.chunks[q.evidence[0]].text
        seen.add((ep.labels["record_id"], sessions[0], len(sessions)))
    assert len(seen) >= 6 and len(full.chunks) == 24
    with pytest.raises(ValueError, match="window_sessions"):
        check_window([3, 2])


def test_cut_window_drops_questions_reaching_outside() -> None:
    chunks = tuple(Chunk(i, f"t{i}", session=i // 2) for i in range(6))
    questions = (Question("a?", ("x",), (0, 5)), Question("b?", ("y",), (2,)),
                 Question("c?", ("z",), ()))
    ep = Episode(chunks, questions)
    rng = np.random.default_rng(0)
    cut = cut_window(ep, (2, 2), rng)
    kept = [q.text for q in cut.questions]
    assert "a?" not in kept and "c?" not in kept and len(cut.chunks) == 4


# -- embedding features ------------------------------------------------------------------------
def test_embedding_features_pass_check_env_and_relate_slots(data_path: Path) -> None:
    env = gym.make("memgym/LoCoMo-v0", data_path=str(data_path),
                   tiers={"episodic": {"entries": 8, "tokens": None}})
    base = env.unwrapped
    assert base.features == "embedding"  # the default for data files
    check_env(base, skip_render_check=True)
    obs, info = env.reset(seed=0, options={"split": "train", "episode_seed": 0})
    assert obs["text_view"].shape == (384 + len(VIEW_COLUMNS),)
    assert obs["text_slots"].shape == (8, len(SLOT_COLUMNS))
    assert obs["text_view"][-2] == 1.0  # novelty of the first chunk against an empty memory
    obs, *_ = env.step(1)  # add chunk 0
    obs, *_ = env.step(1)  # add chunk 1
    sims = obs["text_slots"][:2, 0]
    view_vec = obs["text_view"][:384]
    ep = base.episode
    encoder = get_encoder()
    expected = encoder.encode([ep.chunks[0].text, ep.chunks[1].text]) @ view_vec
    np.testing.assert_allclose(sims, expected, atol=1e-5)
    assert obs["slots"][:, 6:10].sum() == 0  # no parser columns in "embedding" mode
    assert env.observation_space.contains(obs)


def test_feature_sets_and_a_clear_error(data_path: Path) -> None:
    both = gym.make("memgym/KVUpdates-Easy-v0", features="both")
    obs, _ = both.reset(seed=1)
    assert "text_view" in obs and both.observation_space.contains(obs)
    assert "text_view" not in gym.make("memgym/KVUpdates-Easy-v0").reset(seed=1)[0]
    with pytest.raises(ValueError, match="features must be one of"):
        gym.make("memgym/KVUpdates-Easy-v0", features="bert")
    venv = gym.make_vec("memgym/KVUpdates-Easy-v0", num_envs=2,
                        vectorization_mode="vector_entry_point", features="embedding")
    obs, _ = venv.reset(seed=1)  # the batched env computes the text columns too
    assert "text_view" in obs and venv.observation_space.contains(obs)


def test_data_file_embeddings_are_cached_on_disk(data_path: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMGYM_CACHE_DIR", str(tmp_path / "fresh-cache"))
    encoder = get_encoder()
    encoder._cache.clear()
    env = gym.make("memgym/LoCoMo-v0", data_path=str(data_path))
    before = encoder.encoded
    env.reset(seed=0, options={"split": "train", "episode_seed": 0})
    assert encoder.encoded > before  # the first run embeds the conversation
    assert len(encoder.store) == len({c.text for c in env.unwrapped.episode.chunks})
    encoder._cache.clear()  # a new process: nothing in memory
    after_first = encoder.encoded
    gym.make("memgym/LoCoMo-v0", data_path=str(data_path)).reset(
        seed=0, options={"split": "train", "episode_seed": 0})
    assert encoder.encoded == after_first  # the second run embeds nothing


# -- evidence terms ----------------------------------------------------------------------------
def test_evidence_terms_sum_to_retention_and_recall(data_path: Path) -> None:
    rewards = {"qa": 0.0, "evidence": 1.0, "evidence_recall": 1.0, "evidence_k": 2}
    report = evaluate_agents(["keep", "oracle"], "memgym/LoCoMo-v0", split="train", episodes=2,
                             env_kwargs={"data_path": str(data_path), "rewards": rewards,
                                         "tiers": {"episodic": {"entries": 8, "tokens": None}}})
    for name, summary in report["agents"].items():
        for detail in report["details"][name]:
            assert detail["terms"]["evidence"] >= 0
        terms = summary["reward_terms"]
        assert terms.get("evidence", 0.0) == pytest.approx(summary["evidence_retention"])
        assert terms.get("evidence_recall", 0.0) == pytest.approx(summary["evidence_recall"])
    oracle, keep = report["agents"]["oracle"], report["agents"]["keep"]
    assert oracle["evidence_retention"] == 1.0 > keep["evidence_retention"]


def test_evidence_terms_are_the_same_in_the_batched_env() -> None:
    from tests.test_vector import play_both

    kwargs = {"rewards": {"evidence": 1.0, "evidence_recall": 0.5, "evidence_k": 2}}
    assert play_both("memgym/MultiHop-Hard-v0", kwargs) >= 3


# -- baselines ---------------------------------------------------------------------------------
def test_longest_and_novelty_run_on_both_feature_sets(data_path: Path) -> None:
    assert {"longest", "novelty"} <= set(BASELINES)
    assert informativeness("Ann ran the Boston marathon on 8 May") > informativeness("haha")
    kwargs = {"data_path": str(data_path), "tiers": {"episodic": {"entries": 4, "tokens": None}}}
    real = evaluate_agents(["fifo", "longest", "novelty"], "memgym/LoCoMo-v0", split="train",
                           episodes=2, env_kwargs=kwargs)["agents"]
    # every fact turn is longer than the chatter: "longest" keeps exactly the evidence
    assert real["longest"]["evidence_retention"] > real["fifo"]["evidence_retention"]
    assert real["novelty"]["evidence_retention"] is not None
    generated = evaluate_agents(["novelty"], "memgym/KVUpdates-Easy-v0", episodes=1)
    assert generated["agents"]["novelty"]["invalid_per_episode"] == 0


# -- credit for free text ----------------------------------------------------------------------
def test_free_text_earns_evidence_credit_only_if_it_carries_the_chunk(data_path: Path) -> None:
    def play(text_of) -> float:
        env = TextMemoryEnv(task="memgym.tasks.locomo:LoCoMoTask",
                            task_params={"data_path": str(data_path)},
                            tiers={"episodic": {"entries": 32, "tokens": None}},
                            ops=("noop", "add"), ops_per_chunk=2,
                            rewards={"evidence": 1.0, "qa": 0.0})
        env.reset(seed=0, options={"split": "train", "episode_seed": 0})
        core, total = env.core, 0.0
        while not core.done:
            chunk = core.episode.chunks[core.cursor]
            text = text_of(chunk)
            action = {"op": "add", "text": text} if text else {"op": "noop"}
            cursor = core.cursor
            _, _, done, _, info = env.step(json.dumps(action))
            total += info["reward_terms"].get("evidence", 0.0)
            if not done and core.cursor == cursor:  # still on this chunk: move on
                _, _, done, _, info = env.step(json.dumps({"op": "noop"}))
                total += info["reward_terms"].get("evidence", 0.0)
        return total

    assert play(lambda c: c.text) == pytest.approx(1.0)  # verbatim: full credit
    assert play(lambda c: f"note: {c.text.upper()}!") == pytest.approx(1.0)  # case, punctuation
    assert play(lambda c: "remember this one") == 0.0  # anything at the right moment: none
    assert carries("Ann started pottery class", "Last week I finally started my pottery class",
                   ("pottery class",))
    assert not carries("Ann likes tea", "Last week I finally started my pottery class")


# -- the recipe -------------------------------------------------------------------------------
def test_locomo_recipe_validates_and_needs_a_data_path(data_path: Path) -> None:
    from memgym.training.config import ConfigError, check_env_kwargs, load_config

    recipe = Path(__file__).resolve().parents[1] / "configs" / "locomo_small.yaml"
    config = load_config(recipe, [f"env.kwargs.data_path={data_path}"])
    check_env_kwargs(config)  # builds the env with the recipe's kwargs
    from memgym.training.sb3 import policy_kwargs, validate

    validate(config)  # the slot-pointer policy finds one scorer kind: "update slot k"
    assert len(policy_kwargs(config)["slot_actions"]) == 1
    assert config.eval.select_split == "val" and config.eval.split == "heldout"
    assert config.env.options["window_sessions"] == [3, 32]
    with pytest.raises(ConfigError, match="data_path"):
        check_env_kwargs(load_config(recipe))
