"""The learned reader's text interface: reply parsing, bad replies, parity with SelectorEnv."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import memgym  # noqa: F401  (registers the ids)
from memgym.envs.registration import REGISTRY
from memgym.recipes.selection_game import MAX_INVALID
from memgym.recipes.selector import TopKSelector
from memgym.recipes.selector_text import SelectorTextEnv, parse_reply

TEXT_IDS = ("memgym/Selector-Dialogue-Text-v0", "memgym/Selector-MultiHop-Text-v0")
DIALOGUE = "memgym/Selector-Dialogue-Text-v0"


@pytest.mark.parametrize("reply, numbers", [
    ("2, 5", (2, 5)), ("[2] [5]", (2, 5)), ("[2][5]", (2, 5)), ("2 and 5", (2, 5)),
    ("Notes: 2,5", (2, 5)), ("[2, 5]", (2, 5)), ("  5 ;2 . ", (5, 2)), ("**3**", (3,)),
    ("none", ()), ("No notes.", ()), ("Answer: none", ()), ("7", (7,)), ("12, 0", (12, 0)),
])
def test_replies_parse(reply: str, numbers: tuple[int, ...]) -> None:
    parsed = parse_reply(reply)
    assert parsed.error is None and parsed.numbers == numbers


@pytest.mark.parametrize("reply", ["banana", "", "   ", "2, banana", "I pick 2", "1-2", "²",
                                   "x" * 5000, 3, None, ["2"]])
def test_unreadable_replies_have_errors(reply: object) -> None:
    parsed = parse_reply(reply)
    assert parsed.error and parsed.numbers == ()


def _state(env: SelectorTextEnv) -> tuple:
    game = env.game
    return (game.n_answered, list(game.candidates), game.question_text,
            sorted(env.core.store.snapshot()["entries"]), len(env.core.records))


def test_bad_replies_change_nothing_and_name_the_problem() -> None:
    env = gym.make(DIALOGUE).unwrapped
    prompt, _ = env.reset(seed=0)
    n = len(env.game.candidates)
    assert n >= 2 and f"[{n}] " in prompt and f"[{n + 1}] " not in prompt
    weights = env.core.weights
    cases = [("banana", "malformed", "format", "'banana'"),
             (str(n + 1), "invalid_selection", "invalid", f"no note {n + 1} (notes: 1 to {n})")]
    for reply, error, term, named in cases:
        before = _state(env)
        obs, reward, terminated, _, info = env.step(reply)
        assert _state(env) == before and not terminated and info["ok"] is False
        assert info["error"] == error and named in info["message"] and named in obs
        assert reward == -weights[term] == info["reward_terms"][term]
        env.game.invalid_here = 0  # one problem at a time (the third strike answers)
    for reply, named in [("1, 1", "note 1 named more than once"),
                         ("1, 2, 3, 4, 5", "5 notes named, at most 4")]:
        before = _state(env)
        _, reward, _, _, info = env.step(reply)
        assert _state(env) == before and named in info["message"]
        assert reward == -weights["invalid"]
        env.game.invalid_here = 0


def test_three_failed_replies_answer_with_no_notes() -> None:
    env = gym.make(DIALOGUE).unwrapped
    env.reset(seed=0)
    question = env.game.question_text
    replies = ["??", "99", "nope"]
    for k, reply in enumerate(replies):
        _, reward, _, _, info = env.step(reply)
        assert (env.game.n_answered == 1) == (k == MAX_INVALID - 1)
    assert env.game.last_sources == [] and "answered with no notes" in info["message"]
    assert info["reward_terms"]["format"] == -env.core.weights["format"]
    assert len(env.core.records) == 1 and env.game.question_text != question


def _structured_episode(seed: int, env_id: str) -> tuple[list[float], dict]:
    env = gym.make(env_id).unwrapped
    agent = TopKSelector()
    obs, info = env.reset(seed=seed)
    agent.reset(env, seed=seed)
    rewards, total = [], 0.0
    while True:
        answered = env.game.n_answered
        obs, reward, terminated, _, info = env.step(agent.act(obs, info, env))
        total += reward
        if env.game.n_answered > answered or terminated:
            rewards.append(total)  # the reward of one question: its picks and its answer
            total = 0.0
        if terminated:
            return rewards, info


def _text_episode(seed: int, env_id: str) -> tuple[list[float], dict, list[str]]:
    env = gym.make(env_id).unwrapped
    prompt, info = env.reset(seed=seed)
    rewards, prompts = [], [prompt]
    while True:
        k = min(TopKSelector.k, info["candidates"])
        reply = ", ".join(str(r + 1) for r in range(k)) or "none"  # "1, 2, 3"
        prompt, reward, terminated, _, info = env.step(reply)
        assert info["ok"], info["message"]
        rewards.append(reward)
        prompts.append(prompt)
        if terminated:
            return rewards, info, prompts


@pytest.mark.parametrize("env_id", TEXT_IDS)
def test_top_k_reply_matches_the_structured_baseline(env_id: str) -> None:
    structured_id = env_id.replace("-Text-v0", "-v0")
    for seed in (0, 1):
        expected, final = _structured_episode(seed, structured_id)
        rewards, info, _ = _text_episode(seed, env_id)
        assert rewards == expected  # exactly: the same selections, the same terms
        for key in ("qa_score", "entries_passed", "selection_recall", "manager_terms"):
            assert info[key] == final[key], key
    assert any(r != 0 for r in rewards)


def test_deterministic_and_seeds_differ() -> None:
    a = _text_episode(3, DIALOGUE)
    b = _text_episode(3, DIALOGUE)
    c = _text_episode(4, DIALOGUE)
    assert a[0] == b[0] and a[2] == b[2] and a[1]["qa_score"] == b[1]["qa_score"]
    assert a[2] != c[2]


def test_episode_end() -> None:
    env = gym.make(DIALOGUE).unwrapped
    prompt, _ = env.reset(seed=2)
    steps = 0
    while True:
        prompt, _, terminated, truncated, info = env.step("none")
        steps += 1
        assert not truncated and env.observation_space.contains(prompt)
        if terminated:
            break
    assert steps == env.core.n_questions and "The stream is over" in prompt
    assert info["entries_passed"] == 0.0 and info["selection_recall"] in (0.0, None)
    assert np.isfinite(info["qa_score"]) and "manager_terms" in info
    prompt, reward, terminated, _, info = env.step("1")
    assert reward == 0.0 and terminated and info["error"] == "episode_over"


def test_registered_like_the_structured_ids() -> None:
    for env_id in TEXT_IDS:
        structured = REGISTRY[env_id.replace("-Text-v0", "-v0")]
        assert REGISTRY[env_id].kwargs == structured.kwargs
        assert REGISTRY[env_id].interface == "recipe"  # not a tool-call ("text") env
    env = gym.make(TEXT_IDS[1]).unwrapped
    prompt, _ = env.reset(seed=0)
    assert isinstance(env, SelectorTextEnv) and env.observation_space.contains(prompt)
    assert 'at most 4, best first, e.g. "2, 5", or "none".' in prompt
