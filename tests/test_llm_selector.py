"""An LLM memory selector (memgym.llm.selector_turns): a rollout scores what the structured
selector scores for the same picks, replies it cannot read cost format and strikes, the
evaluation agent plays the rollout's turns, the trl config refuses what it would not read, and
GRPO trains over per-question turns (tiny random model; SmolLM2 in the learned reader write-up)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import gymnasium as gym
import pytest

import memgym  # noqa: F401
from memgym.agents.baselines import BASELINES
from memgym.llm.chunked_agent import Reply
from memgym.llm.selector_turns import JointEpisode, SelectorEpisode, SelectorLLMAgent

ROOT = Path(__file__).resolve().parents[1]
SELECTOR = "memgym/Selector-Dialogue-v0"
CONFIG = ROOT / "configs" / "recipes" / "selector_llm.yaml"


def structured_return(seed: int, agent: Any) -> tuple[float, float]:
    env = gym.make(SELECTOR).unwrapped
    obs, info = env.reset(seed=seed, options={"split": "train", "episode_seed": seed})
    agent.reset(env, seed=seed)
    total, done = 0.0, False
    while not done:
        obs, reward, done, _, info = env.step(agent.act(obs, info, env))
        total += reward
    return total, info["qa_score"]


def test_a_rollout_replying_the_top_three_scores_what_select_top_k_scores() -> None:
    for seed in (1, 5):
        rollout = SelectorEpisode(SELECTOR)  # the structured id: its text twin is played
        rollout.reset(episode_seed=seed)
        assert rollout.messages()[1]["content"].startswith("## Question 1 of ")
        while not rollout.done:
            n = rollout.messages()[1]["content"].count("\n[")
            rollout.apply(", ".join(str(i + 1) for i in range(min(3, n))) or "none")
        expected, qa = structured_return(seed, BASELINES["select_top_k"]())
        assert rollout.env_reward() == pytest.approx(expected)
        terms = rollout.rollout_terms
        assert terms["qa"] == pytest.approx(qa) and terms["format"] == 1.0
        assert terms["tool_success"] == 1.0 and terms["turns"] == len(rollout.turns) > 0
        assert terms["compression"] == pytest.approx(1 - 3 / 4, abs=0.26)  # <= 3 of 4 read


def test_unreadable_replies_cost_format_and_three_answer_with_no_notes() -> None:
    rollout = SelectorEpisode(SELECTOR, format_weight=0.5)
    rollout.reset(episode_seed=2)
    first = rollout.messages()[1]["content"]
    for _ in range(2):
        record = rollout.apply("I think the answer is plumbing")
        assert not record.well_formed and record.ok_calls == 0
        assert rollout.messages()[1]["content"].startswith("## Question 1 of ")
    assert "error (malformed)" in rollout.messages()[1]["content"] and first
    rollout.apply("no idea")  # the third strike answers question 1 with no notes
    assert rollout.messages()[1]["content"].startswith("## Question 2 of ")
    assert rollout.env.log[0]["passed"] == 0
    format_weight = rollout.env.core.weights["format"]
    reward_so_far = rollout._return
    assert reward_so_far <= -3 * format_weight + 1e-9  # three penalties, a question scored 0
    rollout.max_turns = 4
    rollout.apply("1")
    assert rollout.done  # max_turns: the rest are answered with no notes
    terms = rollout.rollout_terms
    assert rollout.env.game.role is None and terms["format"] == pytest.approx(1 / 4)
    assert rollout.reward() == pytest.approx(rollout.env_reward() + 0.5 / 4)


def test_a_selector_rollout_refuses_a_memory_env() -> None:
    rollout = SelectorEpisode("memgym/KVUpdates-Easy-v0")
    with pytest.raises(ValueError, match="not a selector text environment"):
        rollout.reset(episode_seed=0)


class Scripted:
    """A completer replying from a list, recording the prompts it got."""

    def __init__(self, replies: list[str]) -> None:
        self.replies, self.prompts = replies, []

    def __call__(self, messages: list[dict[str, str]], tool_names: Any = None) -> Reply:
        self.prompts.append(messages[1]["content"])
        return Reply(self.replies[(len(self.prompts) - 1) % len(self.replies)], 100, False, 3)


def test_the_evaluation_agent_replying_1_scores_what_select_top_1_scores() -> None:
    from memgym.agents.evaluate import evaluate_agents

    agent = SelectorLLMAgent(Scripted(["1"]), name="scripted")
    report = evaluate_agents([agent, "select_top_1"], "memgym/Selector-Dialogue-Text-v0",
                             split="heldout", episodes=3, seed=0)
    llm, top_1 = report["agents"]["scripted"], report["agents"]["select_top_1"]
    assert llm["episode_scores"] == top_1["episode_scores"]  # same streams, same picks
    assert llm["return"] == pytest.approx(top_1["return"])
    assert llm["agent_stats"]["turns"] * 3 == len(agent.complete.prompts)  # a mean per episode
    assert all(p.startswith("## Question ") for p in agent.complete.prompts)


# -- the trl backend -------------------------------------------------------------------------
@pytest.mark.parametrize("env_id, trl, message", [
    ("memgym/KVUpdates-Easy-Text-v0", {"rollout": "chunked", "write_mode": "select"},
     "select needs a selector env"),
    ("memgym/Selector-Dialogue-Text-v0", {"rollout": "chunked", "write_mode": "tools"},
     "this env needs trl.rollout: chunked and trl.write_mode: select"),
    ("memgym/Selector-Dialogue-Text-v0",
     {"rollout": "chunked", "write_mode": "select", "rewards": {"qa": 1.0}},
     "trl.rewards.qa: not read"),
    ("memgym/Selector-Dialogue-Text-v0",
     {"rollout": "chunked", "write_mode": "select", "env_server": "http://x:1"},
     "trl.env_server: not read"),
])
def test_select_config_errors(env_id: str, trl: dict[str, Any], message: str) -> None:
    pytest.importorskip("trl")
    from memgym.training.config import ConfigError, validate_config
    from memgym.training.trl import validate

    config = validate_config({"name": "x", "backend": "trl", "total_timesteps": 1,
                              "env": {"id": env_id}, "eval": {"baselines": []},
                              "trl": {"model": "tiny", **trl}})
    with pytest.raises(ConfigError, match=message):
        validate(config)


@pytest.mark.parametrize("config_name", ["selector_llm", "manage_select_llm"])
def test_grpo_trains_over_per_question_and_per_chunk_turns(
        config_name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("trl")
    import torch

    from memgym.training import load_config
    from memgym.training.run import RunFolder
    from memgym.training.trl import build_trainer, trl_spec, validate

    monkeypatch.setenv("MEMGYM_CACHE", str(tmp_path / "cache"))
    torch.set_num_threads(1)
    config = load_config(ROOT / "configs" / "recipes" / f"{config_name}.yaml", [
        f"output_dir={tmp_path / 'runs'}", "trl.model=tiny", "trl.per_device_train_batch_size=2",
        "trl.gradient_accumulation_steps=2", "trl.max_completion_length=12"])
    validate(config)
    run = RunFolder.for_config(config)
    run.path.mkdir(parents=True)
    trainer, _ = build_trainer(config, run, trl_spec(config))
    batch = next(iter(trainer.get_train_dataloader()))
    trainer.model.train()
    out = trainer._generate_and_score_completions(batch)
    episodes = trainer._episodes[:len(batch)]
    kind = SelectorEpisode if config_name == "selector_llm" else JointEpisode
    assert all(isinstance(e, kind) and e.done for e in episodes)
    turns = sum(len(e.turns) for e in episodes)
    questions = sum(len(e.env.log) for e in episodes)
    chunks = sum(len(e.env.core.episode.chunks) for e in episodes) if kind is JointEpisode else 0
    assert turns >= questions + chunks > 0  # a turn per question (per chunk: joint), + retries
    assert out["completion_ids"].size(0) >= turns
    trainer.current_gradient_accumulation_steps = trainer.args.gradient_accumulation_steps
    loss = trainer._compute_loss(trainer.model, out)
    assert torch.isfinite(loss)
    log = [json.loads(line) for line in (run.path / "rollouts.jsonl").read_text().splitlines()]
    assert log[0]["turns"] == turns and log[0]["max_prompt_tokens"] <= 1024


@pytest.mark.slow
def test_memgym_train_runs_the_llm_selector_config(tmp_path: Path) -> None:
    pytest.importorskip("trl")
    env = {**os.environ, "MEMGYM_CACHE": str(tmp_path / "cache"), "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "memgym.cli", "train", str(CONFIG), "--set", f"output_dir={tmp_path}",
         "--set", "trl.model=tiny", "--set", "total_timesteps=2", "--set", "eval.episodes=2",
         "--set", "trl.episodes=4", "--no-progress"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    run = tmp_path / "selector-llm"
    report = json.loads((run / "eval" / "report.json").read_text())
    assert {"selector-llm", "select_top_k", "select_oracle"} <= set(report["agents"])
    assert report["agents"]["selector-llm"]["agent_stats"]["turns"] > 0
    assert (run / "final" / "memgym_model.json").is_file()


def test_llm_select_agent_spec_loads_a_selector() -> None:
    from memgym.llm.agent_specs import load_chunked_agent, split_mode

    assert split_mode("tiny#select") == ("tiny", "select")
    agent = load_chunked_agent("llm", "tiny#select", max_new_tokens=4)
    assert isinstance(agent, SelectorLLMAgent) and agent.name == "llm:tiny#select"
    from memgym.llm.selector_turns import JointLLMAgent

    joint = load_chunked_agent("llm", "tiny#joint", max_new_tokens=4)
    assert isinstance(joint, JointLLMAgent) and joint.name == "llm:tiny#joint"


# -- one model in both roles (trl.write_mode: joint) ------------------------------------------
JOINT = "memgym/ManageSelect-Dialogue-Text-v0"
ADD = json.dumps({"name": "add_memory", "arguments": {}})
NEXT = json.dumps({"name": "next_chunk", "arguments": {}})


def test_the_joint_env_alternates_roles_and_splits_its_return_per_role() -> None:
    from gymnasium.utils.env_checker import check_env

    check_env(gym.make(JOINT).unwrapped, skip_render_check=True)
    env = gym.make(JOINT).unwrapped
    obs, info = env.reset(seed=4, options={"split": "train", "episode_seed": 4})
    assert obs.startswith("## Your role now: memory manager") and "## Memory" in obs
    assert env.tools == ["add_memory", "update_memory", "delete_memory", "next_chunk"]
    # a bad call on a manager turn: penalised, memory unchanged, named in the next prompt
    obs, reward, _, _, info = env.step("add it please")
    assert reward < 0 and info["error"] == "invalid_call" and len(env.core.store.entries) == 0
    assert "error (" in obs
    total, roles, done, adds = reward, set(), False, 0
    while not done:
        role = env.game.role
        roles.add(role)
        if role == "manager":
            action = ADD if len(env.core.store.entries) < 16 and env.core.view.text.strip() \
                else NEXT
            adds += action == ADD
        else:
            assert obs.startswith("## Your role now: memory selector") and "[1] " in obs
            action = "1, 2"
        obs, reward, done, _, info = env.step(action)
        total += reward
    assert roles == {"manager", "selector"} and adds > 0
    per_role = sum(info["manager_terms"].values()) + sum(info["selector_terms"].values())
    assert total == pytest.approx(per_role)
    assert info["qa_score"] == pytest.approx(info["selector_terms"].get("qa", 0.0))
    assert info["entries_passed"] <= 2 and 0 <= info["selection_recall"] <= 1


class RoleScripted:
    """Replies by role: a tool call on manager turns, note numbers on selector turns."""

    def __init__(self) -> None:
        self.prompts: list[str] = []

    def __call__(self, messages: list[dict[str, str]], tool_names: Any = None) -> Reply:
        prompt = messages[1]["content"]  # the user message (a selector turn ends in a prefill)
        self.prompts.append(prompt)
        if "memory selector" in prompt:
            return Reply("2, 1", 50, False, 2)
        full = "16/16 entries" in prompt
        return Reply(NEXT if full else ADD, 50, False, 8)


def test_a_joint_rollout_and_the_joint_agent_play_the_same_turns() -> None:
    from memgym.agents.evaluate import evaluate_agents
    from memgym.llm.selector_turns import JointEpisode, JointLLMAgent

    rollout = JointEpisode(JOINT, weights={"qa": 1.0, "tool_success": 0.0, "compression": 0.0})
    rollout.reset(episode_seed=0, split="heldout")
    script = RoleScripted()
    system_prompts = set()
    while not rollout.done:
        messages = rollout.messages()
        system_prompts.add(messages[0]["content"][:40])
        rollout.apply(script(messages).text)
    assert len(system_prompts) == 2  # the manager's and the selector's system messages
    terms = rollout.rollout_terms
    assert terms["format"] == 1.0 and terms["tool_success"] > 0.5
    # the reward: qa plus the selection's note costs (0.02 / question per note passed)
    log = rollout.env.log
    cost = 0.02 * sum(r["passed"] for r in log) / len(log)
    assert rollout.get_reward() == pytest.approx(terms["qa"] - cost)
    agent = JointLLMAgent(RoleScripted(), name="scripted")
    report = evaluate_agents([agent], JOINT, split="heldout", episodes=1, seed=0)
    assert report["agents"]["scripted"]["qa_score"] == pytest.approx(terms["qa"])
    assert agent.selector.complete.prompts == script.prompts  # one completer, both roles


def test_a_joint_rollout_that_stops_early_finishes_through_the_env() -> None:
    from memgym.llm.selector_turns import JointEpisode

    rollout = JointEpisode(JOINT, max_turns=3)
    rollout.reset(episode_seed=1)
    for _ in range(3):
        rollout.apply(ADD)
    assert rollout.done and not rollout.env.core.done
    terms = rollout.rollout_terms  # the rest: no writes, no notes read
    assert rollout.env.core.done and rollout.env.game.role is None
    assert all(r["passed"] == 0 for r in rollout.env.log) and terms["turns"] == 3


@pytest.mark.parametrize("env_id, mode, message", [
    (SELECTOR, "joint", "needs trl.rollout: chunked and trl.write_mode: select"),
    (JOINT, "select", "needs trl.rollout: chunked and trl.write_mode: joint"),
    ("memgym/KVUpdates-Easy-Text-v0", "joint", "joint needs a manager \\+ selector env"),
])
def test_joint_config_errors(env_id: str, mode: str, message: str) -> None:
    test_select_config_errors(env_id, {"rollout": "chunked", "write_mode": mode}, message)


def test_a_selection_reply_is_the_prefill_and_the_first_line_of_the_completion() -> None:
    from memgym.llm.selector_turns import SELECTION_PREFILL, selection_reply

    assert selection_reply("Notes:", " 2, 5\nDepartment: Engineering") == "Notes: 2, 5"
    assert selection_reply("", "none") == "none"
    rollout = SelectorEpisode(SELECTOR)
    rollout.reset(episode_seed=1)
    assert rollout.messages()[-1] == {"role": "assistant", "content": SELECTION_PREFILL}
    record = rollout.apply(" 1\nand then some prose the model went on with", truncated=True)
    assert record.well_formed and record.ok_calls == 1  # a complete first line is not cut
    assert rollout.env.log[0]["passed"] == 1


def test_the_codec_leaves_a_prefilled_assistant_message_open() -> None:
    pytest.importorskip("transformers")
    from memgym.llm.chunked import TurnCodec
    from memgym.llm.models import load_model

    _, tokenizer = load_model("tiny")
    codec = TurnCodec(tokenizer)
    user = [{"role": "user", "content": "Pick notes."}]
    open_ids = codec.encode(user + [{"role": "assistant", "content": "Notes:"}])
    text = tokenizer.decode(open_ids)
    assert text.rstrip().endswith("Notes:")  # no end-of-turn after the opening
    assert open_ids[:len(codec.encode(user))] == codec.encode(user)  # the prompt, then the opening
